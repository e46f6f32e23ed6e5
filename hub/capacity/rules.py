"""The policy's soft rules applied to one target: freshness, headroom, N+1, eligibility and
launchers already stuck Pending there. Each rule returns findings; none decides alone."""

from collections.abc import Mapping
from datetime import datetime

from hub.capacity import scoring
from hub.capacity.constraints import requirement_holds
from hub.capacity.index import ClusterIndex
from hub.models import quantity
from hub.models.check import Code, Finding, Severity
from hub.models.ocm import AVAILABLE_LABEL, NOT_AVAILABLE, placement_label
from hub.models.policy import LabelSelector, Policy, TargetSelector


def age_seconds(index: ClusterIndex, now: datetime) -> float:
    return max((now - index.received_at).total_seconds(), 0.0)


def freshness(index: ClusterIndex, policy: Policy, now: datetime) -> list[Finding]:
    age = age_seconds(index, now)
    limits = policy.staleness
    if age <= limits.soft_seconds:
        return []
    hard = age > limits.hard_seconds
    return [
        Finding(
            code=Code.REPORT_STALE,
            severity=Severity.BLOCKER if hard else Severity.WARNING,
            message=(
                f"{index.name} last reported {age:.0f}s ago (limit {limits.soft_seconds}s soft, "
                f"{limits.hard_seconds}s hard); "
                + ("its capacity is unknown" if hard else "figures may be out of date")
            ),
            details={"age_seconds": round(age, 1), **limits.model_dump()},
        )
    ]


def selects(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    return (
        _placed(selector, labels)
        and all(labels.get(k) == v for k, v in selector.match_labels.items())
        and all(requirement_holds(req, labels) for req in selector.match_expressions)
    )


def _placed(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    """A selector naming a Placement admits only the clusters its decisions name, which the
    hub mirrors as a label (`hub.models.ocm.placement_label`)."""
    placement = selector.placement if isinstance(selector, TargetSelector) else None
    if placement is None:
        return True
    return labels.get(placement_label(placement.namespace, placement.name)) == "true"


def available(labels: Mapping[str, str]) -> bool:
    """Not marked unavailable: a cluster the hub does not mirror from OCM always is."""
    return labels.get(AVAILABLE_LABEL) not in NOT_AVAILABLE


def availability(index: ClusterIndex) -> list[Finding]:
    if available(index.labels):
        return []
    state = index.labels[AVAILABLE_LABEL]
    return [
        Finding(
            code=Code.CLUSTER_UNAVAILABLE,
            severity=Severity.CRITICAL,
            message=f"{index.name}'s ManagedCluster is not Available on the hub cluster "
            f"(ManagedClusterConditionAvailable is {state}): its agents may not be running, "
            "and a migration there may never start",
            details={"available": state},
        )
    ]


def eligibility(index: ClusterIndex, policy: Policy) -> list[Finding]:
    chosen = policy.eligible_targets
    if selects(chosen, index.labels):
        return []
    message = f"{index.name} is not selected by the policy's eligible_targets"
    if chosen.placement is not None and not _placed(chosen, index.labels):
        where = f"{chosen.placement.namespace}/{chosen.placement.name}"
        message += (
            f": Placement {where} has not chosen it (the hub reads its decisions with "
            "--managed-clusters; without it no cluster is chosen)"
        )
    return [
        Finding(
            code=Code.TARGET_NOT_ELIGIBLE,
            severity=Severity.WARNING,
            message=message,
            details={"labels": dict(index.labels)},
        )
    ]


def kubevirt(index: ClusterIndex) -> list[Finding]:
    if index.kubevirt.installed:
        return []
    return [
        Finding(
            code=Code.KUBEVIRT_ABSENT,
            severity=Severity.BLOCKER,
            message=f"{index.name} does not run KubeVirt; it cannot host VMs",
        )
    ]


def rules_used(index: ClusterIndex) -> list[Finding]:
    """Sizes come from the rules of the release the target runs; say when they cannot."""
    note = index.target.note
    if note is None:
        return []
    return [
        Finding(
            code=Code.KUBEVIRT_RULES_APPROXIMATE,
            severity=Severity.INFO,
            message=f"{index.name}: {note}",
            details={"version": index.kubevirt.version, "rules": str(index.target.release)},
        )
    ]


def headroom(
    index: ClusterIndex, aggregates: scoring.Aggregates, needed: Mapping[str, int], policy: Policy
) -> list[Finding]:
    keep = policy.headroom_percent
    findings = []
    for resource, fraction, percent in (
        ("cpu", float(scoring.cpu_free_fraction(aggregates)), keep.cpu),
        ("memory", float(scoring.memory_free_fraction(aggregates)), keep.memory),
        *_storage_fractions(index, needed, keep.storage),
    ):
        if fraction * 100 < percent:
            findings.append(
                Finding(
                    code=Code.HEADROOM_BELOW_POLICY,
                    severity=Severity.WARNING,
                    resource=resource,
                    message=(
                        f"{index.name} would keep {fraction:.1%} of its {resource} free; "
                        f"policy asks for {percent:g}%"
                    ),
                    details={"free_percent": round(fraction * 100, 2), "policy_percent": percent},
                )
            )
    return findings


def storage_free_fraction(index: ClusterIndex, needed: Mapping[str, int]) -> float:
    fractions = [f for _, f, _ in _storage_fractions(index, needed, 0)]
    return min(fractions, default=1.0)


def _storage_fractions(
    index: ClusterIndex, needed: Mapping[str, int], percent: float
) -> list[tuple[str, float, float]]:
    out = []
    for name, size in sorted(needed.items()):
        sc = index.storage_classes[name]
        if sc.available_bytes is None or not sc.capacity_bytes:
            continue
        left = sc.available_bytes - index.storage_claimed.get(name, 0) - size
        out.append((f"storage class {name}", min(max(left / sc.capacity_bytes, 0.0), 1.0), percent))
    return out


def node_loss(index: ClusterIndex, aggregates: scoring.Aggregates, policy: Policy) -> list[Finding]:
    if not policy.survive_largest_node_loss or bool(scoring.survives_node_loss(aggregates)):
        return []
    totals = index.totals
    return [
        Finding(
            code=Code.NODE_FAILURE_NOT_SURVIVABLE,
            severity=Severity.WARNING,
            message=(
                f"after this migration {index.name} could not re-home its workloads if its largest "
                f"node failed: it would use {quantity.cores(int(aggregates.cpu_used_after))} of "
                f"{quantity.cores(totals.cpu_allocatable - totals.largest_cpu)} cores and "
                f"{quantity.gib(int(aggregates.memory_used_after))} of "
                f"{quantity.gib(totals.memory_allocatable - totals.largest_memory)} left without it"
            ),
        )
    ]


def pending_launchers(index: ClusterIndex) -> list[Finding]:
    if not index.pending_launchers:
        return []
    first = index.pending_launchers[0]
    return [
        Finding(
            code=Code.PENDING_LAUNCHERS,
            severity=Severity.WARNING,
            message=(
                f"{index.name} already has {len(index.pending_launchers)} virt-launcher pod(s) "
                f"Pending; e.g. {first.namespace}/{first.name}: {first.message or 'no message'}"
            ),
            details={"count": len(index.pending_launchers)},
        )
    ]
