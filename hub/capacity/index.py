"""One cluster's newest report in a form built for fitting: numbers in numpy arrays, node
labels and taints interned as shared profiles, live claims already subtracted.

Nodes of one pool usually share every label but their hostname, so the hostname is kept
apart from the interned profile; that is what keeps the index near 200 bytes per node.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from hub.capacity import constraints
from hub.capacity.kubevirt import render
from hub.models.claim import Claim
from hub.models.report import (
    CapacityReport,
    CdiSettings,
    KubeVirtSettings,
    Node,
    PendingLauncher,
    ResourceQuota,
    StorageClass,
    Taint,
)

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class Profile:
    """What the scheduler's node filters look at, shared by every node that has the same."""

    labels: Mapping[str, str]
    taints: tuple[Taint, ...]
    ready: bool
    unschedulable: bool


@dataclass(frozen=True, slots=True)
class ScalarColumn:
    allocatable: IntArray
    used: IntArray


@dataclass(frozen=True, slots=True)
class Totals:
    """Aggregates over the nodes that can host VMs at all (Ready, not cordoned, KubeVirt on)."""

    cpu_allocatable: int
    memory_allocatable: int
    cpu_used: int
    memory_used: int
    cpu_free_positive: int
    memory_free_positive: int
    largest_cpu: int
    largest_memory: int


@dataclass(frozen=True, slots=True)
class ClusterIndex:
    name: str
    labels: Mapping[str, str]
    received_at: datetime
    sequence: int
    kubevirt: KubeVirtSettings
    target: render.Target
    """How this cluster's KubeVirt sizes a pod: its release's rules and its configuration."""
    cdi: CdiSettings
    network_attachments: Mapping[str, str]
    node_names: tuple[str, ...]
    hostnames: tuple[str | None, ...]
    profile_of: npt.NDArray[np.int32]
    profiles: tuple[Profile, ...]
    cpu_allocatable: IntArray
    cpu_used: IntArray
    memory_allocatable: IntArray
    memory_used: IntArray
    pods_free: IntArray
    """Pods each node still takes (allocatable.pods less its pods and claimed VMs); a very
    large number where the report does not say."""
    scalar: Mapping[str, ScalarColumn]
    usable: BoolArray
    ready: BoolArray
    """Ready with KubeVirt on, cordoned or not."""
    plain: BoolArray
    totals: Totals
    storage_classes: Mapping[str, StorageClass]
    default_storage_class: str | None
    storage_claimed: Mapping[str, int]
    quotas: Mapping[str, tuple[ResourceQuota, ...]]
    quota_claimed: Mapping[str, Mapping[str, int]]
    pending_launchers: tuple[PendingLauncher, ...]
    claim_count: int
    _profile_rejections: dict[object, tuple[str | None, ...]] = field(default_factory=dict)
    memo: dict[str, object] = field(default_factory=dict, compare=False)
    """What readers derive from this index alone (the console's capacity summary), kept
    with it: an index never changes, and a changed cluster gets a new one."""

    @property
    def cpu_free(self) -> IntArray:
        return self.cpu_allocatable - self.cpu_used

    @property
    def memory_free(self) -> IntArray:
        return self.memory_allocatable - self.memory_used

    def labels_of(self, node: int) -> Mapping[str, str]:
        labels = self.profiles[int(self.profile_of[node])].labels
        hostname = self.hostnames[node]
        if hostname is None:
            return labels
        return {**labels, constraints.HOSTNAME_LABEL: hostname}

    def rejections(self, wanted: constraints.Constraints) -> list[str | None]:
        """Per node, why it is not a candidate for these constraints (None: it is)."""
        if constraints.HOSTNAME_LABEL in wanted.keys:
            return [self._reject(wanted, i) for i in range(len(self.node_names))]
        per_profile = self._profile_rejections.get(wanted)
        if per_profile is None:
            per_profile = tuple(
                constraints.rejection(wanted, p.labels, p.taints, p.ready, p.unschedulable)
                for p in self.profiles
            )
            if len(self._profile_rejections) < 64:
                self._profile_rejections[wanted] = per_profile
        found = [per_profile[p] for p in self.profile_of.tolist()]
        if wanted.excluded_hosts:
            for i, host in enumerate(self.hostnames):
                if found[i] is None and host in wanted.excluded_hosts:
                    found[i] = "the migration's source node (same hostname)"
        return found

    def _reject(self, wanted: constraints.Constraints, node: int) -> str | None:
        profile = self.profiles[int(self.profile_of[node])]
        return constraints.rejection(
            wanted, self.labels_of(node), profile.taints, profile.ready, profile.unschedulable
        )


def build(
    report: CapacityReport,
    labels: Mapping[str, str],
    received_at: datetime,
    claims: Iterable[Claim] = (),
) -> ClusterIndex:
    """Index a report with the given live claims subtracted; the report is not kept."""
    return with_claims(unclaimed(report, labels, received_at), claims)


def unclaimed(
    report: CapacityReport, labels: Mapping[str, str], received_at: datetime
) -> ClusterIndex:
    """The report's index before any claim: what `hub.capacity.index_form` keeps."""
    nodes = report.nodes
    profiles, profile_of, hostnames = _intern_profiles(nodes)
    cpu_used = np.array([n.requested.cpu_millis for n in nodes], dtype=np.int64)
    memory_used = np.array([n.requested.memory_bytes for n in nodes], dtype=np.int64)
    cpu_allocatable = np.array([n.allocatable.cpu_millis for n in nodes], dtype=np.int64)
    memory_allocatable = np.array([n.allocatable.memory_bytes for n in nodes], dtype=np.int64)
    usable = np.array([_usable(n) for n in nodes], dtype=np.bool_)
    classes = {sc.name: sc for sc in report.storage_classes}
    quotas: dict[str, list[ResourceQuota]] = {}
    for quota in report.quotas:
        quotas.setdefault(quota.namespace, []).append(quota)
    return ClusterIndex(
        name=report.cluster,
        labels=MappingProxyType(dict(labels)),
        received_at=received_at,
        sequence=report.sequence,
        kubevirt=report.kubevirt,
        target=target_of(report.kubevirt),
        cdi=report.cdi,
        network_attachments=MappingProxyType(dict(report.network_attachments)),
        node_names=tuple(n.name for n in nodes),
        hostnames=hostnames,
        profile_of=np.array(profile_of, dtype=np.int32),
        profiles=tuple(profiles),
        cpu_allocatable=cpu_allocatable,
        cpu_used=cpu_used,
        memory_allocatable=memory_allocatable,
        memory_used=memory_used,
        pods_free=np.array([_pods_free(n) for n in nodes], dtype=np.int64),
        scalar=_scalar_columns(nodes),
        usable=usable,
        ready=np.array([_ready(n) for n in nodes], dtype=np.bool_),
        plain=plain_nodes(profiles, profile_of),
        totals=totals(cpu_allocatable, cpu_used, memory_allocatable, memory_used, usable),
        storage_classes=MappingProxyType(classes),
        default_storage_class=next(
            (sc.name for sc in report.storage_classes if sc.is_default), None
        ),
        storage_claimed=MappingProxyType({}),
        quotas=MappingProxyType({ns: tuple(qs) for ns, qs in quotas.items()}),
        quota_claimed=MappingProxyType({}),
        pending_launchers=report.pending_launchers,
        claim_count=0,
    )


def with_claims(base: ClusterIndex, claims: Iterable[Claim]) -> ClusterIndex:
    """`base` (an unclaimed index) with the live claims on its cluster subtracted."""
    held = [c.held(base.received_at) for c in claims if c.cluster == base.name]
    if not held:
        return base
    position = {name: i for i, name in enumerate(base.node_names)}
    cpu_used, memory_used = base.cpu_used.copy(), base.memory_used.copy()
    pods_free = base.pods_free.copy()
    scalar = {name: ScalarColumn(c.allocatable, c.used.copy()) for name, c in base.scalar.items()}
    for claim in held:
        for node_name, resources in claim.nodes.items():
            at = position.get(node_name)
            if at is None:
                continue
            cpu_used[at] += resources.cpu_millis
            memory_used[at] += resources.memory_bytes
            for name, column in scalar.items():
                column.used[at] += resources.scalar.get(name, 0)
        for share in claim.shares.values():
            if share.node in position:
                pods_free[position[share.node]] -= 1
    return replace(
        base,
        cpu_used=cpu_used,
        memory_used=memory_used,
        pods_free=pods_free,
        scalar=MappingProxyType(scalar),
        totals=totals(
            base.cpu_allocatable, cpu_used, base.memory_allocatable, memory_used, base.usable
        ),
        storage_claimed=MappingProxyType(_sum_storage(held)),
        quota_claimed=MappingProxyType(_sum_quota(held)),
        claim_count=len(held),
        memo={},
    )


def plain_nodes(profiles: Sequence[Profile], profile_of: Sequence[int]) -> BoolArray:
    """Nodes a VM with no placement constraints of its own may land on."""
    rule = constraints.Constraints(
        ((constraints.ARCH_LABEL, "amd64"), (constraints.SCHEDULABLE_LABEL, "true")), (), ()
    )
    by_profile = [
        constraints.rejection(rule, p.labels, p.taints, p.ready, p.unschedulable) is None
        for p in profiles
    ]
    return np.array([by_profile[p] for p in profile_of], dtype=np.bool_)


UNLIMITED_PODS = 2**31


def _pods_free(node: Node) -> int:
    if node.pods_allocatable is None:
        return UNLIMITED_PODS
    return node.pods_allocatable - node.pods


def target_of(settings: KubeVirtSettings) -> render.Target:
    return render.target(
        settings.version, settings.configuration, settings.annotations, settings.runtime_classes
    )


def _ready(node: Node) -> bool:
    return node.ready and node.labels.get(constraints.SCHEDULABLE_LABEL) == "true"


def _usable(node: Node) -> bool:
    return _ready(node) and not node.unschedulable


def _intern_profiles(
    nodes: Sequence[Node],
) -> tuple[list[Profile], list[int], tuple[str | None, ...]]:
    profiles: list[Profile] = []
    seen: dict[tuple[object, ...], int] = {}
    profile_of: list[int] = []
    hostnames: list[str | None] = []
    for node in nodes:
        labels = dict(node.labels)
        hostname = labels.pop(constraints.HOSTNAME_LABEL, None)
        hostnames.append(node.name if hostname == node.name else hostname)
        key = (tuple(sorted(labels.items())), node.taints, node.ready, node.unschedulable)
        if key not in seen:
            seen[key] = len(profiles)
            profiles.append(
                Profile(MappingProxyType(labels), node.taints, node.ready, node.unschedulable)
            )
        profile_of.append(seen[key])
    return profiles, profile_of, tuple(hostnames)


def _scalar_columns(nodes: Sequence[Node]) -> Mapping[str, ScalarColumn]:
    names = sorted({name for n in nodes for name in n.allocatable.scalar})
    return MappingProxyType(
        {
            name: ScalarColumn(
                np.array([n.allocatable.scalar.get(name, 0) for n in nodes], dtype=np.int64),
                np.array([n.requested.scalar.get(name, 0) for n in nodes], dtype=np.int64),
            )
            for name in names
        }
    )


def totals(
    cpu_allocatable: IntArray,
    cpu_used: IntArray,
    memory_allocatable: IntArray,
    memory_used: IntArray,
    usable: BoolArray,
) -> Totals:
    def total(values: IntArray) -> int:
        return int(values[usable].sum())

    def largest(values: IntArray) -> int:
        return int(values[usable].max()) if usable.any() else 0

    return Totals(
        cpu_allocatable=total(cpu_allocatable),
        memory_allocatable=total(memory_allocatable),
        cpu_used=total(cpu_used),
        memory_used=total(memory_used),
        cpu_free_positive=total(np.maximum(cpu_allocatable - cpu_used, 0)),
        memory_free_positive=total(np.maximum(memory_allocatable - memory_used, 0)),
        largest_cpu=largest(cpu_allocatable),
        largest_memory=largest(memory_allocatable),
    )


def _sum_storage(claims: Iterable[Claim]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for claim in claims:
        for name, size in claim.storage_bytes.items():
            totals[name] = totals.get(name, 0) + size
    return totals


def _sum_quota(claims: Iterable[Claim]) -> dict[str, Mapping[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for claim in claims:
        for namespace, resources in claim.quota.items():
            bucket = totals.setdefault(namespace, {})
            for name, amount in resources.items():
                bucket[name] = bucket.get(name, 0) + amount
    return {ns: MappingProxyType(r) for ns, r in totals.items()}
