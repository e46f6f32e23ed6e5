"""An offline copy is finalized only if the VM provably did not run from just before its
client was made until its source is finalized: the VM's stamp (uid, generation,
resourceVersion) is recorded before the client, compared when the client has finished, and
enforced as a precondition when the source is finalized. Starts stay allowed all along."""

from collections.abc import Callable

from spoke_agent.drivers.simulated import World
from spoke_agent.executor import records as r
from spoke_agent.executor.journal import Journal
from spoke_agent.executor.model import Job, Mode, Side
from spoke_agent.executor.reconcile import Executor

from tests.executor import harness, invariants
from tests.executor.harness import full

A = full("a")


def _client_running(world: World) -> bool:
    return any(p.phase.value == "Running" for p in world.pods_of("client", A))


def _away_while(moment: Callable[[World], bool], ticks: int) -> harness.Asleep:
    """The agent is down for `ticks` ticks from the first tick `moment` holds."""
    since: list[int] = []

    def asleep(world: World) -> bool:
        if not since and moment(world):
            since.append(world.now)
        return bool(since) and world.now < since[0] + ticks

    return asleep


def _flip_while_away(start_at: int, stop_at: int, by_request: bool = False) -> harness.Inject:
    """Starts the VM `start_at` ticks into its copy and stops it `stop_at` ticks in."""
    began: list[int] = []

    def inject(world: World, _: Executor) -> None:
        if not began and _client_running(world):
            began.append(world.now)
        if began and world.now == began[0] + start_at:
            world.power(A, True, by_request=by_request)
        if began and world.now == began[0] + stop_at:
            world.power(A, False, by_request=by_request)

    return inject


def _stale(result: harness.Run) -> list[str]:
    ledger = result.ledger
    return [
        reason
        for round_ in ledger.rounds
        for vm, reason in round_.ended.items()
        if vm == A and reason.startswith(r.STALE)
    ]


def test_a_vm_started_and_stopped_while_the_agent_is_down_gets_its_copy_redone() -> None:
    """ReadWriteMany disks: nothing keeps the VM from writing while its client reads. The
    agent sees neither the start nor the stop, only the client that finished."""
    result = harness.run(
        {"a": False},
        every_tick=_flip_while_away(1, 5),
        asleep=_away_while(_client_running, 12),
        shared_volumes=True,
        limit=600,
    )
    invariants.check(result.world, result.ledger)
    vm = result.world.vms[A]
    assert vm.writes > 0, "the VM ran and wrote while the agent was away"
    assert _stale(result), "the finished copy was not trusted"
    assert "generation" in _stale(result)[0]
    assert vm.target_writes == vm.writes, "the copy finalized holds every write"
    assert result.ledger.ended == r.Ended()
    assert result.ledger.vms[A].copied == Mode.OFFLINE


def test_a_start_by_state_change_request_also_voids_the_copy() -> None:
    """runStrategy Manual starts through `status.stateChangeRequests`: no new generation,
    but a new resourceVersion."""
    result = harness.run(
        {"a": False},
        every_tick=_flip_while_away(1, 5, by_request=True),
        asleep=_away_while(_client_running, 12),
        shared_volumes=True,
        limit=600,
    )
    invariants.check(result.world, result.ledger)
    assert "resourceVersion" in _stale(result)[0]
    vm = result.world.vms[A]
    assert vm.target_writes == vm.writes


def test_with_readwriteonce_disks_a_vm_started_mid_copy_waits_for_the_client() -> None:
    """The virt-launcher pod of a VM started during its copy cannot attach the disks the
    client has: it stays Pending (Multi-Attach) until the client is gone, then the VM runs
    and migrates live (`invariants` proves the two never ran at once)."""

    def start(world: World, _: Executor) -> None:
        if _client_running(world):
            world.power(A, True)

    result = harness.run({"a": False}, every_tick=start)
    invariants.check(result.world, result.ledger)
    launchers = result.world.pods_of("launcher", A)
    assert result.ledger.vms[A].copied == Mode.LIVE
    blocked = [
        e
        for e in result.world.history
        if e.what == "pod" and e.kind == "client" and e.detail in ("deleting", "gone")
    ]
    assert blocked, "the client was stopped for the start"
    assert not launchers or all(p.phase.value != "Pending" or not p.blocked for p in launchers)


def test_an_object_written_during_the_copy_costs_a_copy_not_the_data() -> None:
    """A label added to the VM mid-copy moves its resourceVersion: the copy cannot be told
    from one the VM ran through, so it is redone, and the job still finishes."""
    touched: list[int] = []

    def touch(world: World, _: Executor) -> None:
        if not touched and _client_running(world):
            touched.append(world.now)
            world.touch(A)

    result = harness.run({"a": False}, every_tick=touch)
    invariants.check(result.world, result.ledger)
    assert len(_stale(result)) == 1
    assert result.ledger.ended == r.Ended()


def test_a_start_after_the_copy_and_before_finalizing_voids_it() -> None:
    """Started and stopped while the agent is down after the copy was recorded and the
    target finalized: the stamp, not a running VM, shows it, and the copy is voided."""

    def finished(world: World) -> bool:
        """The copy was recorded and the target finalized; the source is next."""
        return world.vms[A].target is not None

    flipped: list[int] = []

    def flip(world: World, _: Executor) -> None:
        if finished(world) and not flipped:
            flipped.append(world.now)
            world.power(A, True)
        elif flipped and world.now == flipped[0] + 6:
            world.power(A, False)

    result = harness.run({"a": False}, every_tick=flip, asleep=_away_while(finished, 10), limit=600)
    invariants.check(result.world, result.ledger)
    vm = result.world.vms[A]
    assert vm.writes > 0
    assert vm.target_writes == vm.writes
    voids = [e for e in result.world.history if e.what == "pod" and e.kind == "client"]
    assert len({e.subject for e in voids}) == 2, "copied a second time"


def test_the_stamp_on_the_client_judges_a_copy_whose_journal_was_lost() -> None:
    """The journal goes with the agent's disk while the client runs; the VM runs and stops
    meanwhile. The stamp the client pod carries still shows the copy is stale."""
    result = harness.run(
        {"a": False},
        every_tick=_flip_while_away(1, 5),
        asleep=_away_while(_client_running, 12),
        forget=_once(lambda world: world.vms[A].writes > 0),  # as the agent comes back
        shared_volumes=True,
        limit=600,
    )
    invariants.check(result.world, result.ledger)
    vm = result.world.vms[A]
    assert vm.target_writes == vm.writes
    assert _stale(result)


def _once(moment: Callable[[World], bool]) -> harness.Forget:
    done: list[bool] = []

    def forget(world: World, _: Executor) -> bool:
        if not done and moment(world):
            done.append(True)
            return True
        return False

    return forget


def test_a_start_racing_source_finalization_is_kept_not_overwritten() -> None:
    """The user starts the VM after the executor decided to finalize its source and before
    the patch lands: the patch's resourceVersion precondition refuses it, the start stands,
    and the VM, now running, migrates live."""
    world = World({A: False})
    journal = Journal(":memory:")
    started: list[str] = []

    def checkpoint(step: str) -> None:
        if step == "apply FinalizeSource" and not started:
            started.append(step)
            world.power(A, True)

    job = Job("job-1", (A,), "target")
    source, target = world.driver(Side.SOURCE), world.driver(Side.TARGET)
    executor = Executor(job, journal, source, target, checkpoint)
    for _ in range(300):
        executor.step()
        if executor.ended:
            break
        world.tick()
    assert started, "the start raced the finalization"
    assert executor.ledger.ended == r.Ended()
    assert world.vms[A].data == Mode.LIVE, "the VM the user started migrated live"
    assert world.vms[A].target is not None
    assert world.vms[A].target.running, "and runs on the target, as the user asked"
    invariants.check(world, executor.ledger)
    voided = [x for x in journal.load("job-1") if isinstance(x, r.CopyVoided)]
    assert voided, "the offline copy was voided, not finalized over the start"
