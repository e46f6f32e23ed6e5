"""What the fleet's registrations should be, given the hub cluster's ManagedClusters: pure
functions over the objects as the API returns them (open-cluster-management-io/api v1.3.0,
cluster/v1 and cluster/v1beta2)."""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hub.capacity.rules import selects
from hub.models.ocm import (
    AVAILABLE_LABEL,
    RESERVED_PREFIXES,
    SOURCE,
    SOURCE_LABEL,
    clusterset_label,
)
from hub.models.policy import LabelSelector

AVAILABLE = "ManagedClusterConditionAvailable"
"""The condition type (cluster/v1/types.go), the constant's name and value alike."""
ACCEPTED = "HubAcceptedManagedCluster"
"""Until the hub accepts a cluster it has no namespace there to hold its token Secret, and
no agent of it can be trusted (cluster/v1/types.go, ManagedClusterConditionHubAccepted)."""
PLACEMENT_LABEL = "cluster.open-cluster-management.io/placement"
"""On each PlacementDecision, its Placement's name (cluster/v1beta1/types_placementdecision.go)."""
VOLATILE_PREFIXES = ("feature.open-cluster-management.io/",)
"""OCM rewrites these as its addons' health changes: mirrored, each flip would relabel the
cluster and move its generation under every check in flight."""
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
    accepted: bool = True


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
    adopt: tuple[str, ...] = ()
    """Among `relabel`, clusters registered by hand that a ManagedCluster now names: the
    hub takes them over, and their agents' tokens with them."""
    absent: tuple[str, ...] = ()
    """Clusters the hub registered from a ManagedCluster that is not there this pass; the
    ones also absent the pass before are in `retire`."""


def managed(obj: Mapping[str, Any]) -> Managed:
    metadata = obj.get("metadata") or {}
    conditions = (obj.get("status") or {}).get("conditions") or []
    states = {c.get("type"): c.get("status") for c in conditions}
    labels = {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()}
    return Managed(
        name=str(metadata.get("name", "")),
        labels={
            k: v
            for k, v in labels.items()
            if not k.startswith(RESERVED_PREFIXES + VOLATILE_PREFIXES)
        },
        available=_STATES.get(str(states.get(AVAILABLE)), "unknown"),
        deleting=metadata.get("deletionTimestamp") is not None,
        accepted=states.get(ACCEPTED) == "True",
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
    return frozenset(
        str(d["clusterName"])
        for obj in decisions
        if ((obj.get("metadata") or {}).get("labels") or {}).get(PLACEMENT_LABEL) == placement
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
    absent_before: Collection[str] = (),
) -> Plan:
    """Register the new, relabel the changed (a cluster registered by hand under a
    ManagedCluster's name is taken over), retire those the hub registered from a
    ManagedCluster gone or being deleted two passes running; never touch another
    registration, and retire nothing on a pass that lists no ManagedCluster at all (a
    wrong kubeconfig or an emptied cache is no reason to drop the fleet)."""
    present = {c.name: c for c in clusters if c.accepted and not c.deleting}
    register, relabel, adopt = [], [], []
    for name, cluster in sorted(present.items()):
        wanted = labels_of(cluster, sets, placements)
        if name not in registered:
            register.append((name, wanted))
        elif dict(registered[name]) != wanted:
            relabel.append((name, wanted))
            if registered[name].get(SOURCE_LABEL) != SOURCE:
                adopt.append(name)
    ours = [n for n, labels in registered.items() if labels.get(SOURCE_LABEL) == SOURCE]
    absent = sorted(n for n in ours if n not in present) if clusters else []
    retire = tuple(n for n in absent if n in absent_before)
    return Plan(
        tuple(register), tuple(relabel), retire, tuple(sorted(present)), tuple(adopt), tuple(absent)
    )
