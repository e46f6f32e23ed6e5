"""Beyond the nine cases: random fleets of 1-6 VMs, random power flips at random moments
(one VM flipped again and again included), pods that fail, pods stuck Pending for a while.
A cancel from the hub may come at any moment too. Every history keeps I1-I5, and every VM
ends migrated exactly once, or the job ends failed (or cancelled) with a reason and leaves
nothing half-done."""

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
    """flip: power; fail: one of the VM's migration pods fails; stick: its pending pods stay
    Pending for `ticks`"""
    vm: int
    ticks: int = 0


disturbances = st.builds(
    Disturbance,
    tick=st.integers(0, 16),
    kind=st.sampled_from(["flip", "flip", "fail", "stick"]),
    vm=st.integers(0, 5),
    ticks=st.integers(1, 15),
)
timings = st.builds(
    Timing,
    start=st.integers(1, 3),
    stop=st.integers(1, 3),
    transfer=st.integers(1, 5),
    copy_bytes_per_tick=st.sampled_from([2**30, 4 * 2**30, 20 * 2**30]),
)
MIGRATION_PODS = ("receiver", "client", "server")


def _disturb(
    plan: list[Disturbance], names: list[str], cancel_at: int | None = None
) -> harness.Inject:
    by_tick: dict[int, list[Disturbance]] = defaultdict(list)
    for d in plan:
        by_tick[d.tick].append(d)
    unstick: dict[int, list[str]] = defaultdict(list)

    def inject(world: World, executor: Executor) -> None:
        if world.now == cancel_at:
            executor.cancel("cancelled on the hub")
        for pod in unstick.pop(world.now, []):
            world.unstick(pod)
        for d in by_tick.get(world.now, []):
            name = full(names[d.vm % len(names)])
            pods = [p for k in MIGRATION_PODS for p in world.pods_of(k, name)]
            if d.kind == "flip":
                source = world.vms[name].source
                world.power(name, not (source and source.running))
            elif d.kind == "fail" and pods:
                world.fail(pods[0].name)
            elif d.kind == "stick":
                for pod in pods:
                    world.stick(pod.name, "0/3 nodes are available: 3 Insufficient memory.")
                    unstick[world.now + d.ticks].append(pod.name)

    return inject


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    running=st.lists(st.booleans(), min_size=1, max_size=6),
    plan=st.lists(disturbances, min_size=1, max_size=12),
    timing=timings,
    cancel_at=st.none() | st.integers(0, 30),
)
def test_random_power_flips_and_failures_keep_every_invariant(
    running: list[bool], plan: list[Disturbance], timing: Timing, cancel_at: int | None
) -> None:
    names = [f"vm{i}" for i in range(len(running))]
    result = harness.run(
        dict(zip(names, running, strict=True)),
        timing=timing,
        every_tick=_disturb(plan, names, cancel_at),
        limit=1000,
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
    assert ended is not None
    if ended.failed is not None:
        reasons = ("failed", "both clusters", "cancelled on the hub")
        assert any(reason in ended.failed for reason in reasons), ended.failed
    else:
        assert all(v.done for v in result.ledger.vms.values())
