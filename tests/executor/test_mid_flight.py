"""What users and clusters do to a job mid-flight that the nine scenario rows leave out:
restarts during a cutover, a cancel while the receiver has no node, a receiver KubeVirt
gives up on, target definitions lost at any phase, a second VM stopping while its round's
server starts, a journal lost with the agent's disk, and VMs deleted on the source."""

from collections.abc import Callable

import pytest
from spoke_agent.drivers.simulated import Timing, World
from spoke_agent.executor import records as r
from spoke_agent.executor.decide import decide
from spoke_agent.executor.journal import Journal
from spoke_agent.executor.model import (
    ClusterState,
    Definition,
    Job,
    Mode,
    Observed,
    Phase,
    Pod,
    Side,
    Transfer,
    VmObjects,
)
from spoke_agent.executor.reconcile import Executor

from tests.executor import harness, invariants
from tests.executor.harness import full

A, B = full("a"), full("b")
UNSCHEDULABLE = "0/3 nodes are available: 3 Insufficient memory."


def _sending(world: World) -> bool:
    return world.live_started(A)


def test_user_restarts_during_a_cutover_never_fail_the_job() -> None:
    """Stopped and started between two passes, again and again: each is a power change
    (the pod that was sending is gone), never a failed attempt."""
    restarts: list[int] = []

    def restart(world: World, _: Executor) -> None:
        if len(restarts) < 4 and _sending(world) and world.vms[A].transfers:
            restarts.append(world.now)
            world.power(A, False)
            world.power(A, True)

    result = harness.run({"a": True}, every_tick=restart, timing=Timing(transfer=6), limit=600)
    invariants.check(result.world, result.ledger)
    assert len(restarts) == 4
    assert result.ledger.ended == r.Ended()
    assert result.ledger.vms[A].live_failures == 0
    assert result.ledger.vms[A].copied == Mode.LIVE


def test_a_failing_source_pod_still_counts_as_a_failure() -> None:
    """Only restarts are forgiven: a sending pod that fails uses up the retry budget."""

    def crash(world: World, _: Executor) -> None:
        if world.vms[A].transfers.get(Side.SOURCE):
            for pod in world.pods_of("launcher", A):
                world.fail(pod.name, "OOMKilled")

    result = harness.run({"a": True}, every_tick=crash, limit=600)
    assert result.ledger.ended is not None
    assert result.ledger.ended.failed is not None
    assert "3 live attempts failed" in result.ledger.ended.failed


def _stick_receiver_after_sending(world: World, _: Executor) -> None:
    if _sending(world):
        for pod in world.pods_of("receiver", A):
            if pod.phase == Phase.PENDING:
                world.stick(pod.name, UNSCHEDULABLE)


@pytest.mark.parametrize("crash_every", [None, 3], ids=["", "crashing"])
def test_a_cancel_while_the_receiver_has_no_node_ends_the_job(crash_every: int | None) -> None:
    """The sending object exists, but the receiving pod never got a node: nothing has moved,
    so the cancel abandons the VM, which stays running on the source."""
    cancelled: list[int] = []

    def inject(world: World, executor: Executor) -> None:
        _stick_receiver_after_sending(world, executor)
        stuck = [p for p in world.pods_of("receiver", A) if p.stuck]
        if stuck and world.now >= stuck[0].stuck_since + 2 and not cancelled:
            cancelled.append(world.now)
            executor.cancel("cancelled on the hub")

    timing = Timing(start=3, receiver_timeout=10**6)
    result = harness.run(
        {"a": True}, every_tick=inject, timing=timing, crash_every=crash_every, limit=600
    )
    invariants.check(result.world, result.ledger)
    assert cancelled
    assert result.ledger.ended == r.Ended(failed="cancelled on the hub")
    vm = result.world.vms[A]
    assert vm.source is not None
    assert vm.source.running
    assert (vm.target, vm.volumes) == (None, False)


def test_a_receiver_kubevirt_gives_up_on_ends_the_job_with_the_reason() -> None:
    """virt-controller deletes a target pod left unschedulable past its timeout and the
    migration fails: the job ends, saying the target has no room, instead of waiting."""
    result = harness.run(
        {"a": True, "b": False},
        every_tick=_stick_receiver_after_sending,
        timing=Timing(start=3, receiver_timeout=20),
        limit=600,
    )
    invariants.check(result.world, result.ledger)
    assert result.ledger.ended is not None
    failed = result.ledger.ended.failed or ""
    assert failed.startswith("apps/a: its receiving virt-launcher pod never ran")
    assert "timeout period exceeded" in failed
    assert "no room" in failed
    assert result.world.vms[A].source is not None
    assert result.world.vms[A].source.running, "the VM never left the source"


PHASES: dict[str, Callable[[World, Executor], bool]] = {
    "receiving": lambda w, _: w.vms[A].target is not None and w.vms[A].target.receiver,
    "target final": lambda _, e: e.ledger.vms[A].target_final,
    "source final": lambda _, e: e.ledger.vms[A].source_final,
}
LOSSES = [("live", "receiving"), *((m, p) for m in ("live", "offline") for p in list(PHASES)[1:])]


@pytest.mark.parametrize(("mode", "phase"), LOSSES, ids=[f"{m}-{p}" for m, p in LOSSES])
def test_a_lost_target_definition_is_made_again_before_the_job_ends(mode: str, phase: str) -> None:
    """b keeps the job going after a is done: a's target definition, deleted then, is made
    again from the journal, so the job never ends with a runnable nowhere."""
    lost: list[int] = []

    def lose(world: World, executor: Executor) -> None:
        if not lost and PHASES[phase](world, executor):
            lost.append(world.now)
            world.lose_target(A)

    live = mode == "live"
    slow = Timing(copy_bytes_per_tick=2**29) if live else Timing(transfer=40)
    result = harness.run({"a": live, "b": not live}, every_tick=lose, timing=slow, limit=600)
    invariants.check(result.world, result.ledger)
    assert lost, f"{phase} never came"
    assert result.ledger.ended == r.Ended()
    target = result.world.vms[A].target
    assert target is not None, "a runs nowhere"
    assert target.running == live


def test_a_second_vm_stopped_before_the_server_runs_joins_the_round() -> None:
    """a and b stop one after the other during their live migrations; b stops after a's
    round opened but before its server runs, while b's pods take long to go away: one round
    copies both (`two-on-both-stopped`)."""

    def stop(world: World, _: Executor) -> None:
        if _sending(world) and world.live_started(B):
            world.power(A, False)
        if any(p.kind == "server" for p in world.pods.values()) or _round_opened(world):
            world.power(B, False)

    result = harness.run(
        {"a": True, "b": True}, every_tick=stop, timing=Timing(stop=4, transfer=30), limit=600
    )
    invariants.check(result.world, result.ledger)
    assert {vm.data for vm in result.world.vms.values()} == {Mode.OFFLINE}
    assert [x.id for x in result.ledger.rounds] == [1], "one round where one would do"


def _round_opened(world: World) -> bool:
    return any(e.what == "pod" and e.kind == "server" for e in world.history)


def test_a_lost_journal_never_reuses_a_round_or_runs_two_at_once() -> None:
    """The journal is lost while the second round copies b: a fresh executor carries that
    round on from the pods' labels, deletes no healthy client and opens no other round."""
    world = World({A: False, B: True}, Timing(copy_bytes_per_tick=2**30, transfer=60))
    job = Job("job-1", (A, B), "target")
    first = _executor(world, job, Journal(":memory:"))
    for _ in range(100):
        first.step()
        if world.now == 8:
            world.power(B, False)
        if any(p.phase == Phase.RUNNING for p in world.pods_of("client", B)):
            break
        world.tick()
    assert first.ledger.open_round is not None
    assert first.ledger.open_round.id == 2, "b is copied in a second round"
    second = _executor(world, job, Journal(":memory:"))
    for _ in range(300):
        second.step()
        if second.ended:
            break
        world.tick()
    invariants.check(world, second.ledger)
    assert second.ledger.ended == r.Ended()
    clients = [e for e in world.history if e.what == "pod" and e.kind == "client"]
    assert [e.round for e in clients if e.detail == "created"] == [1, 2], "no round id reused"
    healthy = {e.subject for e in clients if e.detail == "Succeeded"}
    deleted = {e.subject for e in clients if e.detail == "deleting"}
    assert deleted <= healthy, "a client was deleted before it finished"
    servers = [
        (c, g) for c, g in invariants.pod_lives(world.history).values() if c.kind == "server"
    ]
    for one, gone in servers:
        for other, other_gone in servers:
            if one.round != other.round:
                assert not (one.tick < other_gone and other.tick < gone), "two rounds at once"


def _executor(world: World, job: Job, journal: Journal) -> Executor:
    return Executor(job, journal, world.driver(Side.SOURCE), world.driver(Side.TARGET))


def test_a_vm_deleted_on_the_source_leaves_the_job_and_the_others_carry_on() -> None:
    def delete(world: World, _: Executor) -> None:
        if _sending(world) and world.vms[A].source is not None:
            world.delete_source(A)

    result = harness.run({"a": True, "b": False}, every_tick=delete)
    invariants.check(result.world, result.ledger)
    assert result.ledger.ended == r.Ended()
    assert result.ledger.vms[A].gone
    assert result.ledger.vms[B].done
    assert result.world.vms[B].data == Mode.OFFLINE


def test_a_vm_deleted_after_its_copy_is_not_made_on_the_target_but_keeps_its_disks() -> None:
    def delete(world: World, _: Executor) -> None:
        if world.vms[A].data == Mode.OFFLINE and world.vms[A].source is not None:
            world.delete_source(A)

    result = harness.run({"a": False}, every_tick=delete)
    invariants.check(result.world, result.ledger)
    assert result.ledger.vms[A].gone
    vm = result.world.vms[A]
    assert vm.target is None, "not made on the target: its owner deleted it"
    assert vm.volumes, "the complete copy of its disks is kept"


def test_a_vm_crashing_during_each_attempt_ends_the_job() -> None:
    """Its pod fails and is gone before a pass sees it fail: each looks like a restart, which
    is no failure, but they are bounded, so the job still ends."""

    def crash(world: World, _: Executor) -> None:
        if world.vms[A].transfers.get(Side.SOURCE):
            for pod in world.pods_of("launcher", A):
                world.fail(pod.name, "OOMKilled")
                del world.pods[pod.name]

    result = harness.run({"a": True}, every_tick=crash, limit=2000)
    assert result.ledger.ended is not None
    assert "went away during each of 10 live attempts" in (result.ledger.ended.failed or "")


def test_writes_that_void_each_copy_at_finalizing_end_the_job() -> None:
    """Something writes the VM every time its source is about to be finalized: each copy is
    distrusted at the last moment, and after three the job fails saying what changed."""
    world = World({A: False})

    def checkpoint(step: str) -> None:
        if step == "apply FinalizeSource":
            world.touch(A)

    job = Job("job-1", (A,), "target")
    executor = Executor(
        job, Journal(":memory:"), world.driver(Side.SOURCE), world.driver(Side.TARGET), checkpoint
    )
    for _ in range(2000):
        executor.step()
        if executor.ended:
            break
        world.tick()
    assert executor.ledger.ended is not None
    assert "its object changed during each of 3 offline copies" in (
        executor.ledger.ended.failed or ""
    )
    invariants.check(world, executor.ledger)


def test_a_migrated_vm_whose_target_disks_were_deleted_fails_the_job_clearly() -> None:
    def delete(world: World, executor: Executor) -> None:
        if executor.ledger.vms[A].done and world.vms[A].target is not None:
            world.lose_target(A)
            world.vms[A].volumes = False

    result = harness.run(
        {"a": False, "b": True}, every_tick=delete, timing=Timing(transfer=40), limit=600
    )
    assert result.ledger.ended is not None
    assert "definition and disks on the target were deleted" in (result.ledger.ended.failed or "")


def _live_ledger() -> r.Ledger:
    start = (r.Captured(A, {"kind": "VirtualMachine"}), r.LiveStarted(A, 1, "virt-launcher-a"))
    return r.fold(r.Ledger.start((A,)), start)


SENDER = Pod("virt-launcher-a", Phase.RUNNING)


def test_a_migration_failing_with_no_receiver_in_sight_is_an_ordinary_failure() -> None:
    """No pod left Pending-unschedulable and no word of it from KubeVirt: the attempt failed,
    and is retried, rather than the job ending as if the target had no room."""
    failed = Transfer(1, Phase.FAILED, "connection refused")
    source = VmObjects(Definition(running=True), (SENDER,), failed)
    target = VmObjects(Definition(running=False, receiver=True), (), failed, volumes_ready=True)
    decision = decide(
        Job("job-1", (A,), "target"),
        _live_ledger(),
        Observed(ClusterState({A: source}), ClusterState({A: target})),
    )
    assert decision.records == (r.LiveEnded(A, 1, "live migration failed: connection refused"),)


def test_both_pods_running_at_the_handoff_is_no_hazard() -> None:
    """One pass can read the source just before the handoff and the target just after."""
    done = Transfer(1, Phase.SUCCEEDED)
    source = VmObjects(Definition(running=True), (SENDER,), done)
    landed = (Pod("virt-launcher-a-dst", Phase.RUNNING),)
    target = VmObjects(Definition(running=True), landed, done, volumes_ready=True)
    decision = decide(
        Job("job-1", (A,), "target"),
        _live_ledger(),
        Observed(ClusterState({A: source}), ClusterState({A: target})),
    )
    assert decision.records == (r.LiveEnded(A, 1, "succeeded"), r.Copied(A, Mode.LIVE))
