"""A cancel from the hub: whatever has not begun its cutover is undone and left as it was;
a VM already being sent finishes and is finalized; either way nothing is left behind."""

import contextlib
from collections.abc import Callable

import pytest
from spoke_agent.drivers.simulated import World
from spoke_agent.executor.reconcile import Executor

from tests.executor import harness, invariants
from tests.executor.harness import full

Moment = Callable[[World], bool]


def _cancel_when(moment: Moment, sending: set[str] | None = None) -> harness.Inject:
    """Cancel at `moment`; `sending` gets the VMs whose cutover had begun (or was over) by
    then."""

    def inject(world: World, executor: Executor) -> None:
        if moment(world) and executor.ledger.failing is None:
            if sending is not None:  # as of this attempt: a crashed one is made again
                sending.clear()
                sending.update(
                    vm
                    for vm in world.vms
                    if world.live_started(vm) or executor.ledger.vms[vm].copied is not None
                )
            with contextlib.suppress(harness.CrashError):
                executor.cancel("cancelled on the hub")  # a crash here writes nothing: retried

    return inject


def _exists(world: World, kind: str, vm: str) -> bool:
    return any(p.deleted_at is None for p in world.pods_of(kind, full(vm)))


MOMENTS: dict[str, Moment] = {
    "before anything was made": lambda _: True,
    "once the receiver waits on the target": lambda w: _exists(w, "receiver", "a"),
    "once b's rsync client exists": lambda w: _exists(w, "client", "b"),
}


@pytest.mark.parametrize("crash_every", [None, 4, 7], ids=["", "crashing", "crashing less"])
@pytest.mark.parametrize("moment", MOMENTS, ids=list(MOMENTS))
def test_a_cancel_leaves_every_vm_not_yet_sent_where_it_was(
    moment: str, crash_every: int | None
) -> None:
    """The cancel is a journal record, so an executor that crashes and restarts goes on
    undoing the job just the same."""
    sending: set[str] = set()
    result = harness.run(
        {"a": True, "b": False},
        every_tick=_cancel_when(MOMENTS[moment], sending),
        crash_every=crash_every,
    )
    assert (result.crashes > 0) == (crash_every is not None)
    invariants.check(result.world, result.ledger)
    assert result.ledger.ended is not None
    assert result.ledger.ended.failed == "cancelled on the hub"
    landed = {name for name, vm in result.ledger.vms.items() if vm.done}
    assert landed == sending, "exactly the VMs whose cutover had begun are migrated"
    for name in set(result.world.vms) - sending:
        vm = result.world.vms[name]
        assert vm.source is not None
        assert vm.source.running == (name == full("a")), f"{name} keeps its power state"
        assert (vm.target, vm.volumes) == (None, False), f"{name}: nothing left on the target"


def test_a_vm_whose_cutover_began_finishes_and_the_rest_is_undone() -> None:
    def sending(world: World) -> bool:
        return world.live_started(full("a"))

    result = harness.run({"a": True, "b": False}, every_tick=_cancel_when(sending))
    invariants.check(result.world, result.ledger)
    assert result.ledger.vms[full("a")].done, "a was already being sent: it lands"
    assert not result.ledger.vms[full("b")].done
    assert result.world.vms[full("b")].target is None


def test_cancelling_twice_or_after_the_end_changes_nothing() -> None:
    calls: list[int] = []

    def twice(world: World, executor: Executor) -> None:
        if world.now in (3, 4) or executor.ended:
            calls.append(world.now)
            executor.cancel("cancelled on the hub")

    result = harness.run({"a": True}, every_tick=twice)
    assert result.ledger.ended is not None
    assert result.ledger.ended.failed == "cancelled on the hub"
    assert len(calls) >= 2
