"""What the fleet's registrations should be, given the hub cluster's ManagedClusters: pure
functions over the objects as the API returns them (open-cluster-management-io/api v1.3.0,
cluster/v1 and cluster/v1beta2)."""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hub.capacity.rules import selects
from hub.models.ocm import (
    AVAILABLE_LABEL,
    SOURCE,
    SOURCE_LABEL,
    clusterset_label,
)
from hub.models.policy import LabelSelector

AVAILABLE = "ManagedClusterConditionAvailable"
"""The condition type (cluster/v1/types.go), the constant's name and value alike."""
EXCLUSIVE_LABEL = "cluster.open-cluster-management.io/clusterset"
"""ExclusiveClusterSetLabel sets take the clusters labelled with their name
(cluster/v1beta2/types_managedclusterset.go, ClusterSetLabel)."""
_STATES = {"True": "true", "False": "false"}


@dataclass(frozen=True, slots=True)
class Managed:
    name: str
    labels: Mapping[str, str]
    available: str
    """`true`, `false` or `unknown` (the condition Unknown, or not there yet)."""
    deleting: bool


@dataclass(frozen=True, slots=True)
class ClusterSet:
    name: str
    selector: LabelSelector
    """The clusters it holds, as a selector over their labels."""


@dataclass(frozen=True, slots=True)
class Plan:
    register: tuple[tuple[str, Mapping[str, str]], ...]
    relabel: tuple[tuple[str, Mapping[str, str]], ...]
    retire: tuple[str, ...]
    keep: tuple[str, ...]
    """Every cluster that stays or arrives: its token Secret is checked."""


def managed(obj: Mapping[str, Any]) -> Managed:
    metadata = obj.get("metadata") or {}
    conditions = (obj.get("status") or {}).get("conditions") or []
    state = next((c.get("status") for c in conditions if c.get("type") == AVAILABLE), None)
    return Managed(
        name=str(metadata.get("name", "")),
        labels={str(k): str(v) for k, v in (metadata.get("labels") or {}).items()},
        available=_STATES.get(str(state), "unknown"),
        deleting=metadata.get("deletionTimestamp") is not None,
    )


def cluster_set(obj: Mapping[str, Any]) -> ClusterSet:
    name = str((obj.get("metadata") or {}).get("name", ""))
    chosen = (obj.get("spec") or {}).get("clusterSelector") or {}
    if chosen.get("selectorType", "ExclusiveClusterSetLabel") == "LabelSelector":
        given = chosen.get("labelSelector") or {}
        selector = LabelSelector.model_validate(
            {
                "match_labels": given.get("matchLabels") or {},
                "match_expressions": given.get("matchExpressions") or [],
            }
        )
    else:
        selector = LabelSelector(match_labels={EXCLUSIVE_LABEL: name})
    return ClusterSet(name, selector)


def decided(decisions: Sequence[Mapping[str, Any]], placement: str) -> frozenset[str]:
    """The clusters a Placement's PlacementDecisions name (there may be several objects,
    each labelled with the Placement's name, at most 100 decisions each)."""
    label = "cluster.open-cluster-management.io/placement"
    return frozenset(
        str(d["clusterName"])
        for obj in decisions
        if ((obj.get("metadata") or {}).get("labels") or {}).get(label) == placement
        for d in (obj.get("status") or {}).get("decisions") or []
        if d.get("clusterName")
    )


def labels_of(
    cluster: Managed, sets: Sequence[ClusterSet], placements: Mapping[str, Collection[str]]
) -> dict[str, str]:
    """The cluster's labels on the hub: the ManagedCluster's own, plus what is mirrored."""
    mirrored = {SOURCE_LABEL: SOURCE, AVAILABLE_LABEL: cluster.available}
    for found in sets:
        if selects(found.selector, cluster.labels):
            mirrored[clusterset_label(found.name)] = "true"
    for label, names in placements.items():
        if cluster.name in names:
            mirrored[label] = "true"
    return {**cluster.labels, **mirrored}


def plan(
    clusters: Sequence[Managed],
    registered: Mapping[str, Mapping[str, str]],
    sets: Sequence[ClusterSet] = (),
    placements: Mapping[str, Collection[str]] = {},
) -> Plan:
    """Register the new, relabel the changed (a cluster registered by hand under a
    ManagedCluster's name is taken over), retire those the hub registered from a
    ManagedCluster that is gone or being deleted; never touch another registration."""
    present = {c.name: c for c in clusters if not c.deleting}
    register, relabel = [], []
    for name, cluster in sorted(present.items()):
        wanted = labels_of(cluster, sets, placements)
        if name not in registered:
            register.append((name, wanted))
        elif dict(registered[name]) != wanted:
            relabel.append((name, wanted))
    retire = sorted(
        name
        for name, labels in registered.items()
        if labels.get(SOURCE_LABEL) == SOURCE and name not in present
    )
    return Plan(tuple(register), tuple(relabel), tuple(retire), tuple(sorted(present)))
