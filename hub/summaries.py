"""A cluster's capacity as the console shows it: per resource and per storage class, what is
allocatable, requested by running pods, reserved by live claims, and left free.

Only nodes that can host VMs (Ready, not cordoned, `kubevirt.io/schedulable=true`) count,
and free is summed per node, never as total minus total, so an over-committed node does not
hide another node's room.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from hub.capacity import constraints
from hub.inventory import Entry
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


def _reserved_by_node(claims: Iterable[Claim]) -> dict[str, Resources]:
    cpu: defaultdict[str, int] = defaultdict(int)
    memory: defaultdict[str, int] = defaultdict(int)
    scalar: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    for claim in claims:
        for node, resources in claim.nodes.items():
            cpu[node] += resources.cpu_millis
            memory[node] += resources.memory_bytes
            for name, amount in resources.scalar.items():
                scalar[node][name] += amount
    return {
        node: Resources(cpu_millis=cpu[node], memory_bytes=memory[node], scalar=dict(scalar[node]))
        for node in cpu
    }


def _resources(
    report: CapacityReport, reserved: dict[str, Resources]
) -> dict[str, ResourceSummary]:
    sums: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for node in report.nodes:
        if not _hosts_vms(node):
            continue
        held = reserved.get(node.name, Resources())
        rows = [
            ("cpu_millis", node.allocatable.cpu_millis, node.requested.cpu_millis, held.cpu_millis),
            (
                "memory_bytes",
                node.allocatable.memory_bytes,
                node.requested.memory_bytes,
                held.memory_bytes,
            ),
        ] + [
            (name, amount, node.requested.scalar.get(name, 0), held.scalar.get(name, 0))
            for name, amount in node.allocatable.scalar.items()
        ]
        for name, allocatable, requested, held_amount in rows:
            total = sums[name]
            total[0] += allocatable
            total[1] += requested
            total[2] += held_amount
            total[3] += max(allocatable - requested - held_amount, 0)
    return {
        name: ResourceSummary(allocatable=a, requested=r, reserved=h, free=f)
        for name, (a, r, h, f) in sums.items()
    }


def _storage(report: CapacityReport, claims: Iterable[Claim]) -> tuple[StorageSummary, ...]:
    reserved: defaultdict[str, int] = defaultdict(int)
    for claim in claims:
        for name, size in claim.storage_bytes.items():
            reserved[name] += size
    return tuple(
        StorageSummary(
            name=sc.name,
            provisioner=sc.provisioner,
            is_default=sc.is_default,
            capacity_source=sc.capacity_source.value,
            capacity_bytes=sc.capacity_bytes,
            available_bytes=sc.available_bytes,
            reserved_bytes=reserved[sc.name],
            free_bytes=None
            if sc.available_bytes is None
            else max(sc.available_bytes - reserved[sc.name], 0),
        )
        for sc in report.storage_classes
    )


def summary(entry: Entry, policy: Policy, now: datetime) -> ClusterSummary:
    return ClusterSummary.model_validate(_fields(entry, policy, now))


def detail(entry: Entry, policy: Policy, now: datetime) -> ClusterDetail:
    fields = _fields(entry, policy, now)
    report = entry.report
    if report is not None:
        reserved = _reserved_by_node(entry.claims)
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
        fields["pending_launchers"] = len(report.pending_launchers)
    return ClusterDetail.model_validate(fields)


def _fields(entry: Entry, policy: Policy, now: datetime) -> dict[str, object]:
    age = age_seconds(entry, now)
    fields: dict[str, object] = {
        "name": entry.name,
        "labels": dict(entry.labels),
        "registered_at": entry.registered_at,
        "freshness": freshness(age, policy),
        "live_claims": len(entry.claims),
    }
    report = entry.report
    if report is None:
        return fields
    fields.update(
        report_sequence=report.sequence,
        report_generated_at=report.generated_at,
        report_received_at=entry.received_at,
        report_age_seconds=None if age is None else round(age, 1),
        kubevirt_installed=report.kubevirt.installed,
        kubevirt_version=report.kubevirt.version,
        nodes=len(report.nodes),
        nodes_usable=sum(1 for n in report.nodes if _hosts_vms(n)),
        vms=len(report.vms),
        resources=_resources(report, _reserved_by_node(entry.claims)),
        storage=_storage(report, entry.claims),
    )
    return fields
