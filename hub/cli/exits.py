"""The command line's exit statuses, one scheme for every command (as `kubectl diff` gives
its status a meaning), so a script can tell "does not fit" from "could not ask":

| status | meaning |
|---|---|
| 0 | done; a check: the VMs fit (with or without warnings) |
| 1 | something failed: the hub could not be reached, answered 5xx, or refused the token |
| 2 | the command was wrong: a flag or file locally, or a request the hub refused (4xx) |
| 3 | a check: the VMs do not fit (`short`), or no cluster would take them |
| 4 | a check: blocked (a hard rule), or unknown (no fresh report to check against) |
"""

from hub.models.check import CheckResult, Verdict

OK = 0
FAILED = 1
USAGE = 2
SHORT = 3
BLOCKED = 4
_VERDICTS = {
    Verdict.FITS: OK,
    Verdict.FITS_WITH_WARNINGS: OK,
    Verdict.SHORT: SHORT,
    Verdict.BLOCKED: BLOCKED,
    Verdict.UNKNOWN: BLOCKED,
}


def of_check(result: CheckResult) -> int:
    """A check with a target answers for it; one without, for the fleet: 0 when some
    cluster would take the VMs."""
    if result.target is not None:
        return _VERDICTS[result.target.verdict]
    return OK if result.suggestions else SHORT


def of_refusal(status: int | None) -> int:
    """The hub said no: the request was wrong (4xx but for the token), else it failed."""
    if status is not None and 400 <= status < 500 and status not in (401, 403):
        return USAGE
    return FAILED
