"""Drive the executor against a simulated cluster pair, tick by tick, with a power change
injected at a named moment and, optionally, a crash at a named step."""

import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from spoke_agent.drivers.simulated import Event, Timing, World
from spoke_agent.executor.journal import Journal
from spoke_agent.executor.model import Job, Side
from spoke_agent.executor.reconcile import Executor
from spoke_agent.executor.records import Ledger

NAMESPACE = "apps"
Moment = Callable[[World], bool]
Inject = Callable[[World, Executor], None]
Asleep = Callable[[World], bool]
"""True while the agent is down: the clusters go on, the executor takes no pass."""
Forget = Callable[[World, Executor], bool]
"""True when the agent's disk is lost: the executor starts again with an empty journal."""


def full(short: str) -> str:
    return f"{NAMESPACE}/{short}"


def short(vm: str) -> str:
    return vm.removeprefix(f"{NAMESPACE}/")


class CrashError(Exception):
    """The executor dies here: everything in memory is lost, the journal and clusters stay."""


@dataclass
class Run:
    world: World
    ledger: Ledger
    changed_at: int | None
    checkpoints: int
    crashes: int


def run(
    vms: Mapping[str, bool],
    when: Moment | None = None,
    change: Mapping[str, bool] | None = None,
    crash_at: int | None = None,
    crash_every: int | None = None,
    timing: Timing | None = None,
    every_tick: Inject | None = None,
    limit: int = 400,
    delete_source: bool = False,
    asleep: Asleep | None = None,
    forget: Forget | None = None,
    shared_volumes: bool = False,
) -> Run:
    world = World(
        {full(k): v for k, v in vms.items()}, timing or Timing(), shared_volumes=shared_volumes
    )
    job = Job("job-1", tuple(world.vms), "target", delete_source=delete_source)
    journal = Journal(":memory:")
    counter = itertools.count()
    crashes = 0

    def checkpoint(_: str) -> None:
        step = next(counter)
        if step == crash_at or (crash_every and step and step % crash_every == 0):
            raise CrashError

    def start() -> Executor:
        return Executor(
            job, journal, world.driver(Side.SOURCE), world.driver(Side.TARGET), checkpoint
        )

    executor, changed_at = start(), None
    for _ in range(limit):
        if asleep is not None and asleep(world):
            if every_tick is not None:
                every_tick(world, executor)
            world.tick()
            continue
        if forget is not None and forget(world, executor):
            world.history.append(
                Event(world.now, "agent", "journal", "lost", seq=len(world.history))
            )
            journal = Journal(":memory:")
            executor = start()
        try:
            executor.step()
        except CrashError:
            crashes += 1
            executor = start()
            if crash_every:
                # Crashing again and again, a restart takes time: the clusters go on
                # meanwhile, or a pass longer than the period would never get through.
                world.tick()
            continue
        if changed_at is None and when is not None and when(world):
            for vm, running in (change or {}).items():
                world.power(full(vm), running)
            changed_at = world.now
        if every_tick is not None:
            every_tick(world, executor)
        if executor.ended:
            break
        world.tick()
    else:
        raise AssertionError(f"the job did not end in {limit} ticks: {executor.ledger}")
    return Run(world, executor.ledger, changed_at, next(counter), crashes)


def outcome(result: Run) -> tuple[object, ...]:
    """What a user can see once the job is over: how it ended, where each VM is and how it
    got there, what is left in either cluster."""
    world = result.world
    vms = tuple(
        (name, vm.data, vm.source, vm.target, vm.volumes, tuple(sorted(vm.transfers)))
        for name, vm in sorted(world.vms.items())
    )
    pods = tuple(sorted((p.side, p.kind, p.vm, p.phase) for p in world.pods.values()))
    finals = tuple(sorted((e.vm, e.detail) for e in world.history if e.what == "finalize"))
    return (result.ledger.ended, vms, pods, finals)
