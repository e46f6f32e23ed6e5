"""Rank the clusters where the whole batch fits, best first, and plan a split when none can
take it alone.

Ranking is exact but does not evaluate the whole fleet: the score depends only on cluster
aggregates, so it is computed for every cluster at once with storage assumed free (an upper
bound); clusters are then checked exactly in that order, and the walk stops once the best
`limit` exact scores are at least the next cluster's upper bound.
"""

import heapq
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hub.capacity import check, constraints, requirements, scoring
from hub.capacity.fleet import FleetIndex
from hub.capacity.index import ClusterIndex
from hub.models.check import Excluded, Severity, SplitPart, SplitPlan, Suggestion, TargetResult
from hub.models.vm import VirtualMachine

PREFILTER_VMS = 4
SPLIT_CLUSTERS = 50
EXACT_EXCLUSION_REASONS = 25
_TOTAL_SHORT = "not enough free CPU and memory in total for the batch"
_NO_NODE = "no node could hold "
_REFUSED = "refused: "


@dataclass(frozen=True, slots=True)
class Ranking:
    suggestions: tuple[Suggestion, ...]
    excluded: tuple[Excluded, ...]
    reasons: Mapping[str, int]
    evaluated: int


_PLAIN = ((constraints.ARCH_LABEL, "amd64"), (constraints.SCHEDULABLE_LABEL, "true"))


def _is_plain(sized: Sequence[requirements.Sized]) -> bool:
    """Every node this VM could use is a plain one (amd64, KubeVirt on, no taint it must
    tolerate), whatever target setting sizes it."""
    return all(
        s.wanted is not None
        and not s.wanted.tolerations
        and all(label in s.wanted.labels for label in _PLAIN)
        for s in sized
    )


def _tolerates_cordon(sized: Sequence[requirements.Sized]) -> bool:
    return any(s.wanted is not None and s.wanted.tolerates_cordon for s in sized)


def _sizes(
    fleet: FleetIndex, vms: Sequence[VirtualMachine], ctx: check.Context
) -> list[list[requirements.Sized]]:
    """Per distinct target setting, per VM."""
    return [[ctx.size(vm, target) for vm in vms] for target in fleet.sizings]


def _cpu(sized: requirements.Sized) -> int:
    return sized.request.cpu_millis if sized.request else 0


def _memory(sized: requirements.Sized) -> int:
    return sized.request.memory_bytes if sized.request else 0


def candidates(
    fleet: FleetIndex, vms: Sequence[VirtualMachine], ctx: check.Context, skip: Mapping[str, str]
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Clusters that pass every fleet-wide necessary condition, their score upper bounds, and
    for the others the first condition that removed them."""
    n = len(fleet.clusters)
    reasons: dict[str, np.ndarray] = {}
    alive = np.ones(n, dtype=np.bool_)

    def drop(reason: str, keep: np.ndarray) -> None:
        nonlocal alive
        reasons[reason] = reasons.get(reason, np.zeros(n, dtype=np.bool_)) | (alive & ~keep)
        alive = alive & keep

    for role, name in skip.items():
        keep = np.ones(n, dtype=np.bool_)
        if name in fleet.position:
            keep[fleet.position[name]] = False
        drop(f"the {role} of this check", keep)
    drop("KubeVirt absent", fleet.installed)
    drop(
        "report older than the hard staleness limit",
        fleet.ages(ctx.now) <= ctx.policy.staleness.hard_seconds,
    )
    drop(
        "not selected by the policy's eligible_targets", fleet.eligible(ctx.policy.eligible_targets)
    )
    drop("its ManagedCluster is not Available", fleet.available())
    sized = _sizes(fleet, vms, ctx)
    for sizing, per_vm in enumerate(sized):
        refused = [f for s in per_vm if s.request is None for f in s.findings]
        if refused:
            drop(_REFUSED + refused[0].message, fleet.sizing_of != sizing)
    batch_cpu = np.array([sum(_cpu(r) for r in rs) for rs in sized], dtype=np.int64)[
        fleet.sizing_of
    ]
    batch_memory = np.array([sum(_memory(r) for r in rs) for rs in sized], dtype=np.int64)[
        fleet.sizing_of
    ]
    if not any(_tolerates_cordon(rs) for rs in zip(*sized, strict=True)):
        # The totals count uncordoned nodes only: a VM that tolerates cordons may use more.
        drop(
            _TOTAL_SHORT,
            (fleet.cpu_free_positive >= batch_cpu) & (fleet.memory_free_positive >= batch_memory),
        )
    for position in _largest(sized[0] if sized else [], limit=PREFILTER_VMS):
        if not alive.any():
            break
        vm = vms[position]
        per_sizing = [rs[position] for rs in sized]
        cpu = np.array([_cpu(r) for r in per_sizing], dtype=np.int64)
        memory = np.array([_memory(r) for r in per_sizing], dtype=np.int64)
        if _is_plain(per_sizing):
            mask = fleet.node_plain
        elif _tolerates_cordon(per_sizing):
            mask = fleet.node_ready
        else:
            mask = fleet.node_usable
        labels = [r.wanted.labels if r.wanted else () for r in per_sizing]
        has_node = fleet.with_room(mask, cpu, memory, labels)
        drop(f"{_NO_NODE}{vm.key}", has_node)
    bounds = scoring.total(
        scoring.components(
            scoring.Aggregates(
                cpu_allocatable=fleet.cpu_allocatable,
                memory_allocatable=fleet.memory_allocatable,
                cpu_used_after=fleet.cpu_used + batch_cpu,
                memory_used_after=fleet.memory_used + batch_memory,
                largest_cpu=fleet.largest_cpu,
                largest_memory=fleet.largest_memory,
                storage_free_fraction=1.0,
                locality=_locality(fleet, ctx),
            )
        ),
        ctx.policy.scoring.weights,
    )
    return alive, bounds, reasons


def _largest(sized: Sequence[requirements.Sized], limit: int) -> list[int]:
    by_memory = sorted(range(len(sized)), key=lambda i: -_memory(sized[i]))[:limit]
    by_cpu = sorted(range(len(sized)), key=lambda i: -_cpu(sized[i]))[:limit]
    return list(dict.fromkeys(by_memory + by_cpu))


def _locality(fleet: FleetIndex, ctx: check.Context) -> np.ndarray:
    keys = ctx.policy.scoring.locality_labels
    if not ctx.source_labels or not keys:
        return np.zeros(len(fleet.clusters))
    return fleet.locality(ctx.source_labels, keys)


def rank(
    fleet: FleetIndex,
    vms: Sequence[VirtualMachine],
    ctx: check.Context,
    skip: Mapping[str, str],
    limit: int,
    list_excluded: bool = False,
) -> Ranking:
    alive, bounds, dropped = candidates(fleet, vms, ctx, skip)
    ranked_all = np.argsort(-bounds, kind="stable")
    order = ranked_all[alive[ranked_all]].tolist()
    best: list[tuple[float, int, TargetResult]] = []
    failed: list[TargetResult] = []
    evaluated = 0
    for i in order:
        if limit == 0 or (len(best) >= limit and best[0][0] >= bounds[i] - 1e-9):
            break
        result = check.evaluate(fleet.clusters[i], vms, ctx).result
        evaluated += 1
        if not result.fits or result.score is None:
            failed.append(result)
            continue
        heapq.heappush(best, (result.score.total, -i, result))
        if len(best) > limit:
            heapq.heappop(best)
    ranked = sorted(best, key=lambda item: (-item[0], item[2].cluster))
    counts = Counter({reason: int(mask.sum()) for reason, mask in dropped.items() if mask.any()})
    counts.update(f"evaluated: {r.verdict.value}" for r in failed)
    excluded: list[Excluded] = []
    if list_excluded:
        excluded = _excluded(fleet, vms, ctx, dropped, failed)
    return Ranking(
        suggestions=tuple(
            _suggestion(rank, result) for rank, (_, _, result) in enumerate(ranked, 1)
        ),
        excluded=tuple(excluded),
        reasons=dict(counts),
        evaluated=evaluated,
    )


def _excluded(
    fleet: FleetIndex,
    vms: Sequence[VirtualMachine],
    ctx: check.Context,
    dropped: Mapping[str, np.ndarray],
    failed: Sequence[TargetResult],
) -> list[Excluded]:
    """Why each cluster is not suggested. Clusters a capacity prefilter removed are checked
    exactly, up to a bound, so their reason carries the figures instead of a summary."""
    out = [_exclusion(r.cluster, _problems(r)) for r in failed]
    budget = EXACT_EXCLUSION_REASONS
    for reason, mask in dropped.items():
        for i in np.flatnonzero(mask):
            index = fleet.clusters[int(i)]
            capacity = reason == _TOTAL_SHORT or reason.startswith((_NO_NODE, _REFUSED))
            if capacity and budget > 0:
                budget -= 1
                problems = _problems(check.evaluate(index, vms, ctx).result)
            else:
                problems = (reason,)
            out.append(_exclusion(index.name, problems))
    return sorted(out, key=lambda e: e.cluster)


def _exclusion(cluster: str, problems: tuple[str, ...]) -> Excluded:
    return Excluded(cluster=cluster, reason=problems[0], reasons=problems)


def _problems(result: TargetResult) -> tuple[str, ...]:
    """What keeps the cluster out, worst first; information is no reason."""
    rank = list(Severity).index
    found = sorted(
        (f for f in result.findings if f.severity != Severity.INFO),
        key=lambda f: rank(f.severity),
        reverse=True,
    )
    return tuple(f.message for f in found) or (result.verdict.value,)


def _suggestion(rank: int, result: TargetResult) -> Suggestion:
    assert result.score is not None
    reasons = [
        c.reason for c in sorted(result.score.components, key=lambda c: -c.weight) if c.weight
    ]
    reasons += [
        f"warning {f.code}: {f.message}" for f in result.findings if f.severity == Severity.WARNING
    ]
    return Suggestion(
        rank=rank,
        cluster=result.cluster,
        verdict=result.verdict,
        score=result.score,
        reasons=tuple(reasons),
        placements=result.placements,
    )


def split(
    fleet: FleetIndex, vms: Sequence[VirtualMachine], ctx: check.Context, skip: Mapping[str, str]
) -> SplitPlan:
    """Greedy: the clusters with the most free memory first, each taking what fits of the rest."""
    alive, _, _ = candidates(fleet, [], ctx, skip)
    order = sorted(np.flatnonzero(alive), key=lambda i: -int(fleet.memory_free_positive[i]))
    remaining = list(vms)
    parts: list[SplitPart] = []
    for i in order[:SPLIT_CLUSTERS]:
        if not remaining:
            break
        taken = _take(fleet.clusters[int(i)], remaining, ctx)
        if taken:
            parts.append(
                SplitPart(cluster=fleet.clusters[int(i)].name, vms=tuple(v.key for v in taken))
            )
            remaining = [v for v in remaining if v not in taken]
    return SplitPlan(parts=tuple(parts), unplaced=tuple(v.key for v in remaining))


def _take(
    index: ClusterIndex, vms: list[VirtualMachine], ctx: check.Context
) -> list[VirtualMachine]:
    """The largest subset (greedily) of `vms` that fits this cluster with no critical finding."""
    evaluation = check.evaluate(index, vms, ctx)
    chosen = [v for v in vms if evaluation.node_of.get(v.key) is not None]
    while chosen:
        result = check.evaluate(index, chosen, ctx).result
        if result.fits:
            return chosen
        chosen.remove(max(chosen, key=lambda v: sum(d.size_bytes for d in v.disks)))
    return []
