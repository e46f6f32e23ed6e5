"""The check as callers see it: a batch of VMs, an optional target, the fleet; a verdict for
the target, ranked suggestions, and a split plan when no single cluster can take the batch."""

from collections.abc import Mapping
from datetime import datetime

from hub.capacity import check, suggestions
from hub.capacity.fleet import FleetIndex
from hub.models.check import (
    CheckRequest,
    CheckResult,
    Code,
    Finding,
    Severity,
    TargetResult,
    Verdict,
)
from hub.models.policy import Policy


def _missing(name: str) -> TargetResult:
    return TargetResult(
        cluster=name,
        verdict=Verdict.UNKNOWN,
        findings=(
            Finding(
                code=Code.REPORT_MISSING,
                severity=Severity.BLOCKER,
                message=f"no capacity report from cluster {name!r}; its capacity is unknown",
            ),
        ),
    )


def run(
    fleet: FleetIndex,
    request: CheckRequest,
    policy: Policy,
    now: datetime,
    list_excluded: bool = False,
) -> CheckResult:
    source = fleet.get(request.source_cluster) if request.source_cluster else None
    source_labels: Mapping[str, str] | None = source.labels if source else None
    ctx = check.Context(
        policy,
        now,
        source_labels,
        request.storage_class_map,
        source=source.target if source else None,
        source_name=source.name if source else None,
    )
    target: TargetResult | None = None
    if request.target:
        index = fleet.get(request.target)
        target = (
            check.evaluate(index, request.vms, ctx).result if index else _missing(request.target)
        )
    skip = {
        role: name
        for role, name in (("source", request.source_cluster), ("requested target", request.target))
        if name
    }
    limit = policy.max_suggestions if request.max_suggestions is None else request.max_suggestions
    ranking = suggestions.rank(fleet, request.vms, ctx, skip, limit, list_excluded)
    split = None
    if not ranking.suggestions and limit and len(request.vms) > 1 and not (target and target.fits):
        split = suggestions.split(fleet, request.vms, ctx, skip)
    return CheckResult(
        target=target,
        suggestions=ranking.suggestions,
        split=split,
        excluded=ranking.excluded,
        excluded_counts=dict(ranking.reasons),
        clusters_evaluated=ranking.evaluated
        + (1 if target and request.target in fleet.position else 0),
    )
