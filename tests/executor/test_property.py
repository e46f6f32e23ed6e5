"""Beyond the nine cases: random fleets of 1-6 VMs, random power flips at random moments
(one VM flipped again and again included), restarts between two passes, starts and stops
while the agent is down, writes to a VM's object, pods that fail, pods stuck Pending for a
while or until KubeVirt gives up on them, target definitions lost, VMs deleted on the
source, and the journal lost with the agent's disk. A cancel from the hub may come at any
moment too. Every history keeps I1-I5; a finalized offline copy holds every write the VM
made (it did not run during the copy); no client ran while its VM did; and every job ends:
each VM migrated exactly once or left the job, or the job failed (or was cancelled) with a
reason and left nothing half-done."""

from collections import defaultdict
from dataclasses import dataclass

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from spoke_agent.drivers.simulated import Timing, World
from spoke_agent.executor.reconcile import Executor

from tests.executor import harness, invariants
from tests.executor.harness import full


@dataclass(frozen=True)
class Disturbance:
    tick: int
    kind: str
    """flip: power; restart: stop and start at once; fail: one of the VM's migration pods
    fails; stick: its pending pods stay Pending for `ticks`; away: the agent is down for
    `ticks`; touch: a write to the VM's object; lose: its target definition is deleted;
    delete: the VM is deleted on the source; forget: the journal is lost"""
    vm: int
    ticks: int = 0


KINDS = ["flip", "flip", "restart", "fail", "stick", "away", "touch", "lose", "delete", "forget"]
disturbances = st.builds(
    Disturbance,
    tick=st.integers(0, 24),
    kind=st.sampled_from(KINDS),
    vm=st.integers(0, 5),
    ticks=st.integers(1, 30),
)
timings = st.builds(
    Timing,
    start=st.integers(1, 3),
    stop=st.integers(1, 3),
    transfer=st.integers(1, 5),
    copy_bytes_per_tick=st.sampled_from([2**30, 4 * 2**30, 20 * 2**30]),
    receiver_timeout=st.integers(8, 30),
)
MIGRATION_PODS = ("receiver", "client", "server")


@dataclass
class Plan:
    """The disturbances of one history, by tick, as the harness's hooks."""

    plan: list[Disturbance]
    names: list[str]
    cancel_at: int | None = None

    def __post_init__(self) -> None:
        self.by_tick: dict[int, list[Disturbance]] = defaultdict(list)
        for d in self.plan:
            self.by_tick[d.tick].append(d)
        self.unstick: dict[int, list[str]] = defaultdict(list)
        self.away = {
            tick for d in self.plan if d.kind == "away" for tick in range(d.tick, d.tick + d.ticks)
        }
        self.forget_at = {d.tick for d in self.plan if d.kind == "forget"}

    def asleep(self, world: World) -> bool:
        return world.now in self.away

    def forget(self, world: World, _: Executor) -> bool:
        if world.now in self.forget_at:
            self.forget_at.discard(world.now)
            return True
        return False

    def inject(self, world: World, executor: Executor) -> None:
        if executor.ended:
            return  # what happens to a VM after its job is no longer the job's
        if self.cancel_at is not None and world.now >= self.cancel_at:
            # Every receipt from the hub says so again, so a journal lost after it still
            # learns of it.
            executor.cancel("cancelled on the hub")
        for pod in self.unstick.pop(world.now, []):
            world.unstick(pod)
        for d in self.by_tick.get(world.now, []):
            self._one(world, d, full(self.names[d.vm % len(self.names)]))

    def _one(self, world: World, d: Disturbance, name: str) -> None:
        pods = [p for k in MIGRATION_PODS for p in world.pods_of(k, name)]
        source = world.vms[name].source
        if d.kind == "flip":
            world.power(name, not (source and source.running))
        elif d.kind == "restart" and source and source.running:
            world.power(name, False)
            world.power(name, True)
        elif d.kind == "fail" and pods:
            world.fail(pods[0].name)
        elif d.kind == "stick":
            for pod in pods:
                world.stick(pod.name, "0/3 nodes are available: 3 Insufficient memory.")
                self.unstick[world.now + d.ticks].append(pod.name)
        elif d.kind == "touch":
            world.touch(name)
        elif d.kind == "lose":
            world.lose_target(name)
        elif d.kind == "delete":
            world.delete_source(name)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    running=st.lists(st.booleans(), min_size=1, max_size=6),
    plan=st.lists(disturbances, min_size=1, max_size=12),
    timing=timings,
    cancel_at=st.none() | st.integers(0, 30),
    shared=st.booleans(),
)
def test_random_power_flips_and_failures_keep_every_invariant(
    running: list[bool],
    plan: list[Disturbance],
    timing: Timing,
    cancel_at: int | None,
    shared: bool,
) -> None:
    """`shared`: ReadWriteMany disks, where only the stamp keeps a copy of a VM that ran
    during it from being finalized."""
    names = [f"vm{i}" for i in range(len(running))]
    hooks = Plan(plan, names, cancel_at)
    result = harness.run(
        dict(zip(names, running, strict=True)),
        timing=timing,
        every_tick=hooks.inject,
        asleep=hooks.asleep,
        forget=hooks.forget,
        shared_volumes=shared,
        limit=2000,
    )
    invariants.check(result.world, result.ledger)
    ended = result.ledger.ended
    modes = sorted({str(vm.data) for vm in result.world.vms.values()})
    event(
        f"failed: {([*ended.failed.split(':'), ''])[1][:30] or ended.failed}"
        if ended and ended.failed
        else f"modes {modes}"
    )
    history = result.world.history
    event(f"power changes: {min(sum(e.what == 'power' for e in history), 5)}")
    event(f"pods failed: {min(sum(e.detail == 'Failed' for e in history), 3)}")
    event(f"copies distrusted: {min(sum(v.stale_copies for v in result.ledger.vms.values()), 2)}")
    event(f"VMs gone: {sum(v.gone for v in result.ledger.vms.values())}")
    assert ended is not None
    if ended.failed is not None:
        reasons = ("failed", "both clusters", "cancelled on the hub", "never ran", "changed during")
        assert any(reason in ended.failed for reason in reasons), ended.failed
    else:
        assert all(v.done for v in result.ledger.vms.values())
