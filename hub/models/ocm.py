"""What the hub mirrors from Open Cluster Management onto a cluster's labels, so the engine
and the policy see it as labels, with no OCM client: whether the ManagedCluster is
Available, the cluster sets it belongs to, and the Placements that selected it."""

import hashlib
import re

SOURCE_LABEL = "cluster.cclm.io/source"
SOURCE = "open-cluster-management"
"""On the clusters the hub registered from ManagedClusters: only these does it relabel or
retire, never a cluster registered by hand."""
AVAILABLE_LABEL = "cluster.cclm.io/available"
"""`true`, `false` or `unknown`: the ManagedCluster's ManagedClusterConditionAvailable
(open-cluster-management-io/api cluster/v1/types.go), missing counting as unknown."""
NOT_AVAILABLE = ("false", "unknown")
CLUSTERSET_PREFIX = "clusterset.cclm.io/"
"""`clusterset.cclm.io/<set>: "true"` for every ManagedClusterSet that selects the cluster,
by its exclusive label or by its label selector."""
PLACEMENT_PREFIX = "placement.cclm.io/"
RESERVED_PREFIXES = ("cluster.cclm.io/", CLUSTERSET_PREFIX, PLACEMENT_PREFIX)
"""Only the hub writes these: a label that says a cluster is Available, in a set or chosen
by a Placement must come from OCM's own answer, never from whoever can label a cluster."""
_NAME = re.compile(r"^[a-z0-9A-Z]([-a-z0-9A-Z_.]*[a-z0-9A-Z])?$")


def placement_label(namespace: str, name: str) -> str:
    """`placement.cclm.io/<namespace>.<name>: "true"` on the clusters a Placement's
    decisions name; a hash of both when that is longer than a label's name may be."""
    joined = f"{namespace}.{name}"
    if len(joined) <= 63 and _NAME.match(joined):
        return PLACEMENT_PREFIX + joined
    return PLACEMENT_PREFIX + hashlib.sha256(joined.encode()).hexdigest()[:40]


def clusterset_label(name: str) -> str:
    return CLUSTERSET_PREFIX + name
