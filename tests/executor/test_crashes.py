"""I6: the executor killed between any two consecutive steps of any scenario, then started
again from its journal, ends exactly where the uninterrupted run ends."""

import pytest

from tests.executor import harness, invariants, scenarios
from tests.executor.test_scenarios import MOMENTS

CASES = scenarios.load()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_a_crash_at_any_step_changes_nothing(case: scenarios.Case) -> None:
    clean = harness.run(case.vms, MOMENTS[case.when], case.change)
    expected = harness.outcome(clean)
    assert clean.checkpoints > 10
    for crash_at in range(clean.checkpoints):
        crashed = harness.run(case.vms, MOMENTS[case.when], case.change, crash_at=crash_at)
        assert crashed.crashes == 1, f"no crash at step {crash_at}"
        invariants.check(crashed.world, crashed.ledger)
        assert harness.outcome(crashed) == expected, f"crash at step {crash_at}"


def test_a_crash_loop_still_ends_the_job() -> None:
    """Crashing at every tenth step, again and again, only slows the job down."""
    clean = harness.run({"a": True, "b": False}, None, None)
    result = harness.run({"a": True, "b": False}, None, None, crash_every=10)
    assert result.crashes > 3
    invariants.check(result.world, result.ledger)
    assert harness.outcome(result) == harness.outcome(clean)
