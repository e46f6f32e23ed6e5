"""A cluster's capacity as the console shows it: per resource and per storage class, what is
allocatable, requested by running pods, reserved by live claims, and left free.

Only nodes that can host VMs (Ready, not cordoned, `kubevirt.io/schedulable=true`) count,
and free is summed per node, never as total minus total, so an over-committed node does not
hide another node's room. Lists are computed from the fit index, so they need no report
parsed; only a cluster's node-by-node detail does.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

import numpy as np

from hub.capacity import constraints
from hub.capacity.claims import per_node
from hub.capacity.index import BoolArray, ClusterIndex, IntArray
from hub.fleet.inventory import Entry, Facts
from hub.models.api import (
    ClusterDetail,
    ClusterSummary,
    Freshness,
    NodeSummary,
    ResourceSummary,
    StorageSummary,
)
from hub.models.claim import Claim
from hub.models.policy import Policy
from hub.models.report import CapacityReport, Node, Resources


def freshness(age: float | None, policy: Policy) -> Freshness:
    if age is None:
        return Freshness.MISSING
    if age > policy.staleness.hard_seconds:
        return Freshness.EXPIRED
    if age > policy.staleness.soft_seconds:
        return Freshness.STALE
    return Freshness.FRESH


def age_seconds(entry: Entry, now: datetime) -> float | None:
    if entry.received_at is None:
        return None
    return max((now - entry.received_at).total_seconds(), 0.0)


def _hosts_vms(node: Node) -> bool:
    return (
        node.ready
        and not node.unschedulable
        and node.labels.get(constraints.SCHEDULABLE_LABEL) == "true"
    )


def _by_node(held: Iterable[Claim]) -> dict[str, Resources]:
    return per_node(pair for claim in held for pair in claim.nodes.items())


def _column(
    allocatable: IntArray, used: IntArray, reserved: IntArray, usable: BoolArray
) -> ResourceSummary:
    """`used` already includes what claims hold (that is how the index is built)."""
    return ResourceSummary(
        allocatable=int(allocatable[usable].sum()),
        requested=int((used - reserved)[usable].sum()),
        reserved=int(reserved[usable].sum()),
        free=int(np.maximum(allocatable - used, 0)[usable].sum()),
    )


def _resources(built: ClusterIndex, claims: Iterable[Claim]) -> dict[str, ResourceSummary]:
    position = {name: i for i, name in enumerate(built.node_names)}
    count = len(built.node_names)
    held: dict[str, IntArray] = defaultdict(lambda: np.zeros(count, dtype=np.int64))
    for node, resources in _by_node(claims).items():
        at = position.get(node)
        if at is None:
            continue
        held["cpu_millis"][at] += resources.cpu_millis
        held["memory_bytes"][at] += resources.memory_bytes
        for name, amount in resources.scalar.items():
            held[name][at] += amount
    usable = built.usable
    out = {
        "cpu_millis": _column(built.cpu_allocatable, built.cpu_used, held["cpu_millis"], usable),
        "memory_bytes": _column(
            built.memory_allocatable, built.memory_used, held["memory_bytes"], usable
        ),
    }
    for name, column in built.scalar.items():
        out[name] = _column(column.allocatable, column.used, held[name], usable)
    return out


def _storage(built: ClusterIndex) -> tuple[StorageSummary, ...]:
    return tuple(
        StorageSummary(
            name=sc.name,
            provisioner=sc.provisioner,
            is_default=sc.is_default,
            capacity_source=sc.capacity_source.value,
            capacity_bytes=sc.capacity_bytes,
            available_bytes=sc.available_bytes,
            reserved_bytes=built.storage_claimed.get(sc.name, 0),
            free_bytes=None
            if sc.available_bytes is None
            else max(sc.available_bytes - built.storage_claimed.get(sc.name, 0), 0),
        )
        for sc in built.storage_classes.values()
    )


def summary(
    entry: Entry, built: ClusterIndex | None, facts: Facts | None, policy: Policy, now: datetime
) -> ClusterSummary:
    return ClusterSummary.model_validate(_fields(entry, built, facts, policy, now))


def detail(
    entry: Entry,
    built: ClusterIndex | None,
    facts: Facts | None,
    report: CapacityReport | None,
    policy: Policy,
    now: datetime,
) -> ClusterDetail:
    fields = _fields(entry, built, facts, policy, now)
    if report is not None:
        reserved = _by_node(entry.held_claims)
        fields["node_detail"] = tuple(
            NodeSummary(
                name=node.name,
                ready=node.ready,
                schedulable=_hosts_vms(node),
                allocatable=node.allocatable,
                requested=node.requested,
                reserved=reserved.get(node.name, Resources()),
            )
            for node in report.nodes
        )
        fields["kubevirt"] = report.kubevirt
        fields["cdi"] = report.cdi
    if built is not None:
        fields["sizing_rules"] = str(built.target.release)
    if facts is not None:
        fields["pending_launchers"] = facts.pending_launchers
    return ClusterDetail.model_validate(fields)


def _fields(
    entry: Entry, built: ClusterIndex | None, facts: Facts | None, policy: Policy, now: datetime
) -> dict[str, object]:
    age = age_seconds(entry, now)
    fields: dict[str, object] = {
        "name": entry.name,
        "labels": dict(entry.labels),
        "registered_at": entry.registered_at,
        "freshness": freshness(age, policy),
        "live_claims": len(entry.claims),
    }
    if built is None or facts is None:
        return fields
    fields.update(
        report_sequence=built.sequence,
        report_generated_at=facts.generated_at,
        report_received_at=entry.received_at,
        report_age_seconds=None if age is None else round(age, 1),
        kubevirt_installed=built.kubevirt.installed,
        kubevirt_version=built.kubevirt.version,
        nodes=len(built.node_names),
        nodes_usable=int(built.usable.sum()),
        vms=facts.vms,
        **_capacity(built, entry),
    )
    return fields


def _capacity(built: ClusterIndex, entry: Entry) -> dict[str, object]:
    """Kept with the index: every list, scrape and feeds pass asks for it, and it changes
    only with the index (a new report, or new claims, make a new one)."""
    kept = built.memo.get("capacity")
    if isinstance(kept, dict):
        return kept
    found: dict[str, object] = {
        "resources": _resources(built, entry.held_claims),
        "storage": _storage(built),
    }
    built.memo["capacity"] = found
    return found
