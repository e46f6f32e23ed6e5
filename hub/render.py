"""A check result as a person reads it in a terminal."""

from hub.models import quantity
from hub.models.check import CheckResult, Finding, Placement, Severity, TargetResult

_MARK = {Severity.INFO: "i", Severity.WARNING: "!", Severity.CRITICAL: "x", Severity.BLOCKER: "X"}


def _finding(f: Finding) -> str:
    return f"    {_MARK[f.severity]} {f.code.value}: {f.message}"


def _placement(p: Placement) -> str:
    where = p.node or "(no node)"
    disks = ", ".join(
        f"{v.disk} {quantity.human_bytes(v.size_bytes)} on {v.storage_class}" for v in p.volumes
    )
    return (
        f"    {p.vm} [{p.mode.value}] -> {where}: {quantity.cores(p.cpu_millis)} cores, "
        f"{quantity.gib(p.memory_bytes)}" + (f"; {disks}" if disks else "")
    )


def _target(t: TargetResult) -> list[str]:
    score = f"  score {t.score.total:.1f}" if t.score else ""
    lines = [f"{t.cluster}: {t.verdict.value.upper()}{score}"]
    lines += [_finding(f) for f in t.findings]
    if t.placements:
        lines.append("  placement:")
        lines += [_placement(p) for p in t.placements]
    return lines


def text(result: CheckResult) -> str:
    lines: list[str] = []
    if result.target:
        lines += ["Target", *["  " + line for line in _target(result.target)], ""]
    if result.suggestions:
        lines.append("Suggestions (clusters where the whole batch fits, best first)")
        for s in result.suggestions:
            lines.append(f"  {s.rank}. {s.cluster}  score {s.score.total:.1f}  {s.verdict.value}")
            lines += [f"       - {reason}" for reason in s.reasons]
            lines += ["  " + _placement(p) for p in s.placements]
    else:
        lines.append("Suggestions: no other cluster can take the whole batch")
    if result.split:
        lines += ["", "Split plan (no single cluster takes it all)"]
        lines += [f"  {part.cluster}: {', '.join(part.vms)}" for part in result.split.parts]
        if result.split.unplaced:
            lines.append(f"  nowhere: {', '.join(result.split.unplaced)}")
    if result.excluded:
        lines += ["", "Not suggested"]
        lines += [f"  {e.cluster}: {e.reason}" for e in result.excluded]
    elif result.excluded_counts:
        lines += ["", "Not suggested"]
        lines += [
            f"  {n} cluster(s): {reason}" for reason, n in sorted(result.excluded_counts.items())
        ]
    return "\n".join(lines)
