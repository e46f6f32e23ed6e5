"""Recovery rules: adopt what already landed, stop without touching anything when a VM runs
on both clusters, make a lost target definition again, give up cleanly after repeated
failures; and the journal itself."""

from pathlib import Path

import pytest
from spoke_agent.drivers.simulated import World
from spoke_agent.executor import records
from spoke_agent.executor.journal import Journal, decode, encode
from spoke_agent.executor.model import (
    CreateServer,
    Definition,
    FinalizeTarget,
    Job,
    Mode,
    Side,
)
from spoke_agent.executor.reconcile import Executor

from tests.executor import harness, invariants
from tests.executor.harness import full


def _executor(world: World, journal: Journal, delete_source: bool = False) -> Executor:
    job = Job("job-1", tuple(world.vms), "target", delete_source=delete_source)
    return Executor(job, journal, world.driver(Side.SOURCE), world.driver(Side.TARGET))


def _until_ended(world: World, executor: Executor, limit: int = 200) -> None:
    for _ in range(limit):
        executor.step()
        if executor.ended:
            return
        world.tick()
    raise AssertionError("the job did not end")


def test_a_vm_found_running_on_the_target_is_adopted_not_migrated_again() -> None:
    world = World({full("a"): True})
    first = _executor(world, Journal(":memory:"))
    while not world.vms[full("a")].data:
        first.step()
        world.tick()
    # The journal is lost (a new volume): a fresh executor finds the VM already moved.
    second = _executor(world, Journal(":memory:"))
    _until_ended(world, second)
    assert second.ledger.ended == records.Ended()
    starts = [e for e in world.history if e.what == "live" and e.detail.startswith("started")]
    assert len(starts) == 1
    invariants.check(world, second.ledger)


def test_a_vm_running_on_both_clusters_stops_the_job_and_nothing_is_touched() -> None:
    world = World({full("a"): True})
    world.vms[full("a")].target = Definition(running=True)
    world.vms[full("a")].volumes = True
    world._create_pod(Side.TARGET, "launcher", full("a"), None, ready=True)
    before = list(world.history)
    executor = _executor(world, Journal(":memory:"))
    executor.step()
    assert executor.ended
    assert executor.ledger.ended is not None
    assert "running on both clusters" in (executor.ledger.ended.failed or "")
    assert world.history == before, "the executor changed something"


def test_a_lost_target_definition_is_made_again_from_the_journal() -> None:
    world = World({full("a"): False})
    journal = Journal(":memory:")
    executor = _executor(world, journal)
    while not executor.ledger.vms[full("a")].target_final:
        world.tick()
        executor.step()
    world.lose_target(full("a"))
    world.tick()
    _until_ended(world, executor)
    remade = [e for e in world.history if e.what == "finalize" and e.detail == "target stopped"]
    assert len(remade) == 2
    assert world.vms[full("a")].target == Definition(running=False)
    applied = [r.action for r in journal.load("job-1") if isinstance(r, records.Applied)]
    manifests = [a.manifest for a in applied if isinstance(a, FinalizeTarget)]
    assert manifests[-1]["metadata"] == {"namespace": "apps", "name": "a"}


def test_repeated_failures_end_the_job_failed_with_nothing_left_behind() -> None:
    def fail_receivers(world: World, _: Executor) -> None:
        for pod in world.pods_of("receiver", full("a")):
            world.fail(pod.name, "OOMKilled")

    result = harness.run({"a": True, "b": False}, every_tick=fail_receivers)
    assert result.ledger.ended is not None
    assert result.ledger.ended.failed == (
        "apps/a: 3 live attempts failed: the receiving virt-launcher pod failed"
    )
    invariants.check(result.world, result.ledger)
    assert result.world.vms[full("a")].target is None
    assert result.world.vms[full("a")].source == Definition(running=True)
    assert result.ledger.vms[full("b")].done, "b was copied; it is still finalized"


def test_delete_source_removes_the_source_definition_once_the_target_is_final() -> None:
    result = harness.run({"a": True, "b": False}, delete_source=True)
    invariants.check(result.world, result.ledger)
    assert all(vm.source is None for vm in result.world.vms.values())
    assert {vm.data for vm in result.world.vms.values()} == {Mode.LIVE, Mode.OFFLINE}


ALL_RECORDS = [
    records.Captured("a/b", {"metadata": {"name": "b"}}),
    records.LiveStarted("a/b", 2),
    records.LiveEnded("a/b", 2, "stopped"),
    records.RoundOpened(3, ("a/b", "a/c")),
    records.ClientEnded(3, "a/b", "succeeded"),
    records.RoundClosed(3),
    records.Copied("a/b", Mode.OFFLINE, adopted=True),
    records.CopyVoided("a/b"),
    records.TargetLost("a/b"),
    records.TargetFinalized("a/b"),
    records.SourceFinalized("a/b"),
    records.Failing("why", touch_nothing=True),
    records.Ended(failed="why"),
    records.Intent(CreateServer(3, ("a/b",))),
    records.Applied(FinalizeTarget("a/b", True, {"kind": "VirtualMachine"})),
]


@pytest.mark.parametrize("record", ALL_RECORDS, ids=[type(r).__name__ for r in ALL_RECORDS])
def test_every_record_reads_back_as_written(record: records.Record) -> None:
    assert decode(encode(record)) == record


def test_the_journal_survives_closing_and_keeps_jobs_apart(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = Journal(path)
    journal.append("one", ALL_RECORDS[:3])
    journal.append("two", ALL_RECORDS[3:4])
    journal.append("one", ALL_RECORDS[4:])
    journal.close()
    reopened = Journal(path)
    assert reopened.load("one") == ALL_RECORDS[:3] + ALL_RECORDS[4:]
    assert reopened.load("two") == ALL_RECORDS[3:4]


def test_an_unknown_record_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="'Mystery'"):
        decode({"type": "Mystery"})
