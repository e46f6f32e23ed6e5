"""A round takes a new member only until its server runs: a VM that becomes ready for an
offline copy while the server is Pending joins the round and the server is made again with
its volumes; once the server runs, a member it was not made for waits for the next round."""

from spoke_agent.executor import records as r
from spoke_agent.executor.decide import decide
from spoke_agent.executor.model import (
    ClusterState,
    CreateClient,
    CreateServer,
    Definition,
    DeleteServer,
    Job,
    Observed,
    Phase,
    Pod,
    Stamp,
    VmObjects,
)

A, B = "apps/a", "apps/b"
JOB = Job("job-1", (A, B), "target")
STAMP = Stamp("4c1d", 2, "310")
STOPPED = VmObjects(definition=Definition(running=False, stamp=STAMP))
READY = VmObjects(volumes_ready=True)


def _ledger(*batch: r.Record) -> r.Ledger:
    captured = [r.Captured(vm, {"kind": "VirtualMachine"}) for vm in JOB.vms]
    return r.fold(r.Ledger.start(JOB.vms), (*captured, *batch))


def _observed(server: Phase | None, serving: frozenset[str] = frozenset({A})) -> Observed:
    servers = {} if server is None else {1: Pod("server", server)}
    return Observed(
        ClusterState({A: STOPPED, B: STOPPED}),
        ClusterState({A: READY, B: READY}, servers, {1: serving} if server else {}),
    )


def test_a_vm_ready_while_the_server_is_pending_joins_the_round() -> None:
    decision = decide(JOB, _ledger(r.RoundOpened(1, (A,))), _observed(Phase.PENDING))
    assert decision.records == (r.RoundJoined(1, B),)


def test_a_vm_ready_before_the_server_exists_joins_and_the_server_serves_both() -> None:
    ledger = _ledger(r.RoundOpened(1, (A,)))
    assert decide(JOB, ledger, _observed(None)).records == (r.RoundJoined(1, B),)
    joined = r.fold(ledger, (r.RoundJoined(1, B),))
    assert joined.round(1) == r.RoundLedger(1, (A, B))
    assert joined.vms[B].round == 1
    assert decide(JOB, joined, _observed(None)).actions == (CreateServer(1, (A, B)),)


def test_a_pending_server_made_without_the_new_member_is_made_again() -> None:
    ledger = _ledger(r.RoundOpened(1, (A,)), r.RoundJoined(1, B))
    decision = decide(JOB, ledger, _observed(Phase.PENDING))
    assert decision == type(decision)(actions=(DeleteServer(1),))


def test_no_client_starts_before_its_server_runs() -> None:
    ledger = _ledger(r.RoundOpened(1, (A, B)))
    pending = decide(JOB, ledger, _observed(Phase.PENDING, frozenset({A, B})))
    assert pending.actions == ()
    running = _observed(Phase.RUNNING, frozenset({A, B}))
    stamped = decide(JOB, ledger, running)
    assert stamped.records == (r.CopyBegun(1, A, STAMP), r.CopyBegun(1, B, STAMP))
    ledger = r.fold(ledger, stamped.records)
    assert decide(JOB, ledger, running).actions == (
        CreateClient(1, A, STAMP),
        CreateClient(1, B, STAMP),
    )


def test_once_the_server_runs_a_vm_waits_for_the_next_round() -> None:
    ledger = _ledger(r.RoundOpened(1, (A,)))
    decision = decide(JOB, ledger, _observed(Phase.RUNNING))
    assert decision.records == (r.CopyBegun(1, A, STAMP),), "B does not join"
    stamped = r.fold(ledger, decision.records)
    assert decide(JOB, stamped, _observed(Phase.RUNNING)).actions == (CreateClient(1, A, STAMP),)


def test_a_member_the_running_server_was_not_made_for_is_late_not_failed() -> None:
    ledger = _ledger(r.RoundOpened(1, (A,)), r.RoundJoined(1, B))
    decision = decide(JOB, ledger, _observed(Phase.RUNNING))
    assert decision.records == (r.ClientEnded(1, B, r.LATE), r.CopyBegun(1, A, STAMP))
    ended = r.fold(ledger, decision.records)
    assert ended.vms[B].copy_failures == 0
    round_one = ended.round(1)
    assert round_one is not None
    assert round_one.active == (A,)
