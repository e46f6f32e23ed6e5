"""Every cluster's index side by side, in flat arrays, so one VM can be tested against every
node of the fleet in a few vectorized passes instead of a Python loop over 350,000 nodes.

Nothing here decides a verdict: it only answers necessary conditions (no node anywhere in a
cluster could hold this VM; the cluster lacks the batch's total) and upper bounds of scores,
so the exact per-cluster check runs only where it can matter.

Nodes are laid out by KubeVirt setting (sizing), then by cluster: a VM's pod has one size
per setting, so each setting's nodes are tested against one figure in one contiguous
slice, with no per-node gather of the size that applies.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from hub.capacity import constraints, rules, scoring
from hub.capacity.index import BoolArray, ClusterIndex, IntArray, Totals
from hub.capacity.kubevirt.render import Target
from hub.models.policy import LabelSelector

FloatArray = npt.NDArray[np.float64]
TOTALS = tuple(f.name for f in fields(Totals))
"""Per-cluster columns, one per `Totals` field."""
NODE_COLUMNS = (
    "node_cpu_free",
    "node_memory_free",
    "node_usable",
    "node_plain",
    "node_ready",
    "node_labels",
)


@dataclass(frozen=True, slots=True)
class NodeBlock:
    """The nodes of the clusters of one setting: `[start, end)` of the node columns, and
    each of its clusters that has nodes with where its nodes begin in the block."""

    start: int
    end: int
    clusters: npt.NDArray[np.int64]
    offsets: npt.NDArray[np.int64]


def sizing_key(cluster: ClusterIndex) -> tuple[object, ...]:
    """Clusters whose KubeVirt release and configuration agree size every pod alike."""
    return cluster.target.key


_AVAILABLE = "available"
"""The key of the availability mask among the memoized selectors' (JSON, never this)."""


@dataclass(frozen=True, slots=True)
class FleetIndex:
    clusters: tuple[ClusterIndex, ...]
    position: Mapping[str, int]
    sizings: tuple[Target, ...]
    sizing_of: npt.NDArray[np.int32]
    installed: BoolArray
    received_at: FloatArray
    cpu_allocatable: IntArray
    memory_allocatable: IntArray
    cpu_used: IntArray
    memory_used: IntArray
    cpu_free_positive: IntArray
    memory_free_positive: IntArray
    largest_cpu: IntArray
    largest_memory: IntArray
    node_start: IntArray
    """Per cluster, where its nodes begin in the node columns."""
    blocks: tuple[NodeBlock, ...]
    """Per setting (as `sizings`), its nodes."""
    node_cpu_free: IntArray
    node_memory_free: IntArray
    node_usable: BoolArray
    node_plain: BoolArray
    node_ready: BoolArray
    """Ready with KubeVirt on, cordoned or not: where a VM that tolerates cordons may go."""
    node_labels: npt.NDArray[np.int32]
    """Per node, its labels (but its hostname) as an index of `label_sets`."""
    label_sets: tuple[Mapping[str, str], ...]
    _eligible: dict[str, BoolArray] = field(default_factory=dict)
    _locality: dict[tuple[object, ...], FloatArray] = field(default_factory=dict)
    _labelled: dict[tuple[tuple[str, str], ...], BoolArray] = field(default_factory=dict)

    def get(self, name: str) -> ClusterIndex | None:
        at = self.position.get(name)
        return None if at is None else self.clusters[at]

    def eligible(self, selector: LabelSelector) -> BoolArray:
        """Clusters the policy's selector admits, memoized per selector for this fleet."""
        key = selector.model_dump_json()
        mask = self._eligible.get(key)
        if mask is None:
            mask = np.array(
                [rules.selects(selector, c.labels) for c in self.clusters], dtype=np.bool_
            )
            if len(self._eligible) < 16:
                self._eligible[key] = mask
        return mask

    def available(self) -> BoolArray:
        """Clusters not marked unavailable (their ManagedCluster), memoized for this fleet."""
        mask = self._eligible.get(_AVAILABLE)
        if mask is None:
            mask = np.array([rules.available(c.labels) for c in self.clusters], dtype=np.bool_)
            self._eligible[_AVAILABLE] = mask
        return mask

    def locality(self, source: Mapping[str, str], keys: tuple[str, ...]) -> FloatArray:
        """Per cluster, the share of `keys` whose value it shares with `source`, memoized
        per source's values: every check from one cluster asks the same."""
        wanted = (keys, tuple(source.get(k) for k in keys))
        found = self._locality.get(wanted)
        if found is None:
            found = np.array(
                [scoring.locality(source, c.labels, keys) for c in self.clusters],
                dtype=np.float64,
            )
            if len(self._locality) < 64:
                self._locality[wanted] = found
        return found

    def with_room(
        self,
        mask: BoolArray,
        cpu: IntArray,
        memory: IntArray,
        labels: Sequence[tuple[tuple[str, str], ...]],
    ) -> BoolArray:
        """Per cluster: a node of `mask` (each holds only nodes with a pod slot) with the
        `labels[i]`, `cpu[i]` and `memory[i]` free, where `i` is the cluster's setting (the
        pod differs by setting)."""
        found = np.zeros(len(self.clusters), dtype=np.bool_)
        for i, block in enumerate(self.blocks):
            if not len(block.clusters):
                continue
            part = slice(block.start, block.end)
            room = (
                mask[part]
                & (self.node_cpu_free[part] >= cpu[i])
                & (self.node_memory_free[part] >= memory[i])
            )
            labelled = self._label_sets_with(labels[i])
            if not labelled.all():
                hit = np.flatnonzero(room)
                room[hit] = labelled[self.node_labels[part][hit]]
            found[block.clusters] = np.logical_or.reduceat(room, block.offsets)
        return found

    def _label_sets_with(self, labels: tuple[tuple[str, str], ...]) -> BoolArray:
        """Which label sets hold every one of `labels` (a hostname is not among them: a
        necessary condition only), memoized per labels for this fleet."""
        found = self._labelled.get(labels)
        if found is None:
            wanted = [(k, v) for k, v in labels if k != constraints.HOSTNAME_LABEL]
            found = np.array(
                [all(s.get(k) == v for k, v in wanted) for s in self.label_sets], dtype=np.bool_
            )
            if len(self._labelled) < 256:
                self._labelled[labels] = found
        return found

    def ages(self, now: datetime) -> FloatArray:
        return np.maximum(now.timestamp() - self.received_at, 0.0)


def build(clusters: Iterable[ClusterIndex]) -> FleetIndex:
    ordered = tuple(sorted(clusters, key=lambda c: c.name))
    sizing_ids: dict[tuple[object, ...], int] = {}
    sizings: list[Target] = []
    sizing_of = []
    for cluster in ordered:
        key = sizing_key(cluster)
        if key not in sizing_ids:
            sizing_ids[key] = len(sizings)
            sizings.append(cluster.target)
        sizing_of.append(sizing_ids[key])
    layout, node_start, blocks = _layout(ordered, sizing_of, len(sizings))
    in_layout = [ordered[at] for at in layout]
    interned = _LabelSets()

    def per_cluster(values: Sequence[int]) -> IntArray:
        return np.array(values, dtype=np.int64)

    def joined(arrays: list[npt.NDArray[Any]], dtype: type) -> npt.NDArray[Any]:
        return np.concatenate(arrays).astype(dtype) if arrays else np.zeros(0, dtype=dtype)

    totals = [c.totals for c in ordered]
    columns: dict[str, Any] = {
        name: per_cluster([getattr(t, name) for t in totals]) for name in TOTALS
    }
    return FleetIndex(
        clusters=ordered,
        position={c.name: i for i, c in enumerate(ordered)},
        sizings=tuple(sizings),
        sizing_of=np.array(sizing_of, dtype=np.int32),
        installed=np.array([c.kubevirt.installed for c in ordered], dtype=np.bool_),
        received_at=np.array([c.received_at.timestamp() for c in ordered], dtype=np.float64),
        **columns,
        node_start=node_start,
        blocks=tuple(blocks),
        node_cpu_free=joined([c.cpu_free for c in in_layout], np.int64),
        node_memory_free=joined([c.memory_free for c in in_layout], np.int64),
        node_usable=joined([c.usable & _slot(c) for c in in_layout], np.bool_),
        node_plain=joined([c.plain & c.usable & _slot(c) for c in in_layout], np.bool_),
        node_ready=joined([c.ready & _slot(c) for c in in_layout], np.bool_),
        node_labels=joined([interned.of(c) for c in in_layout], np.int32),
        label_sets=tuple(interned.sets),
    )


def _slot(cluster: ClusterIndex) -> BoolArray:
    """Nodes that take one more pod."""
    return cluster.pods_free >= 1


class _LabelSets:
    """Node label sets interned across the fleet: a fleet of thousands of clusters has few
    kinds of node."""

    def __init__(self, sets: Sequence[Mapping[str, str]] = ()) -> None:
        self.sets = list(sets)
        self._ids = {frozenset(s.items()): i for i, s in enumerate(self.sets)}

    def of(self, cluster: ClusterIndex) -> npt.NDArray[np.int32]:
        ids = []
        for profile in cluster.profiles:
            key = frozenset(profile.labels.items())
            if key not in self._ids:
                self._ids[key] = len(self.sets)
                self.sets.append(profile.labels)
            ids.append(self._ids[key])
        return np.array(ids, dtype=np.int32)[cluster.profile_of]


def _layout(
    ordered: Sequence[ClusterIndex], sizing_of: Sequence[int], count: int
) -> tuple[list[int], IntArray, list[NodeBlock]]:
    """The clusters in node order (by setting, then as `ordered`), where each cluster's
    nodes begin, and each setting's block."""
    groups: list[list[int]] = [[] for _ in range(count)]
    for at, sizing in enumerate(sizing_of):
        groups[sizing].append(at)
    node_start = np.zeros(len(ordered), dtype=np.int64)
    blocks, offset = [], 0
    for group in groups:
        start, members, offsets = offset, [], []
        for at in group:
            node_start[at] = offset
            if len(ordered[at].node_names):
                members.append(at)
                offsets.append(offset - start)
            offset += len(ordered[at].node_names)
        blocks.append(
            NodeBlock(start, offset, np.array(members, np.int64), np.array(offsets, np.int64))
        )
    return [at for group in groups for at in group], node_start, blocks


def patch(old: FleetIndex, changed: Sequence[ClusterIndex]) -> FleetIndex | None:
    """The fleet with some clusters' indexes replaced, reusing the rest of the arrays.

    A heartbeat changes a cluster's numbers, rarely its shape, so rewriting its slices costs
    far less than concatenating the whole fleet again. None when a shape or sizing differs,
    or a cluster is new: then `build` is needed.
    """
    sizing_ids = {s.key: i for i, s in enumerate(old.sizings)}
    plan = []
    for cluster in changed:
        at = old.position.get(cluster.name)
        if at is None or sizing_ids.get(sizing_key(cluster)) != old.sizing_of[at]:
            return None
        previous = old.clusters[at]
        if len(previous.node_names) != len(cluster.node_names):
            return None
        start = int(old.node_start[at])
        plan.append((at, start, start + len(cluster.node_names), cluster))
    arrays = {
        name: getattr(old, name).copy()
        for name in ("sizing_of", "installed", "received_at", *TOTALS, *NODE_COLUMNS)
    }
    interned = _LabelSets(old.label_sets)
    clusters = list(old.clusters)
    for at, start, end, cluster in plan:
        clusters[at] = cluster
        totals = cluster.totals
        arrays["sizing_of"][at] = sizing_ids[sizing_key(cluster)]
        arrays["installed"][at] = cluster.kubevirt.installed
        arrays["received_at"][at] = cluster.received_at.timestamp()
        for name in TOTALS:
            arrays[name][at] = getattr(totals, name)
        arrays["node_cpu_free"][start:end] = cluster.cpu_free
        arrays["node_memory_free"][start:end] = cluster.memory_free
        arrays["node_usable"][start:end] = cluster.usable & _slot(cluster)
        arrays["node_plain"][start:end] = cluster.plain & cluster.usable & _slot(cluster)
        arrays["node_ready"][start:end] = cluster.ready & _slot(cluster)
        arrays["node_labels"][start:end] = interned.of(cluster)
    return FleetIndex(
        clusters=tuple(clusters),
        position=old.position,
        sizings=old.sizings,
        node_start=old.node_start,
        blocks=old.blocks,
        label_sets=tuple(interned.sets),
        **arrays,
    )
