"""Capacity policy v1: the soft rules a fleet's operators set for what "fits" means.

The JSON Schema that policy files are validated against is exported from this model into
`policies/policy.v1.schema.json`; a test keeps the two identical.
"""

from typing import Literal

from pydantic import Field, model_validator

from hub.models.names import Label, Subdomain
from hub.models.vm import SelectorRequirement, Wire


class Headroom(Wire):
    """Percent of allocatable to keep free after the migration lands, per resource."""

    cpu: float = Field(10, ge=0, le=100)
    memory: float = Field(10, ge=0, le=100)
    storage: float = Field(10, ge=0, le=100)


class Staleness(Wire):
    """Past `soft_seconds` a verdict carries a warning; past `hard_seconds` it is unknown."""

    soft_seconds: int = Field(120, ge=1)
    hard_seconds: int = Field(900, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> "Staleness":
        if self.hard_seconds <= self.soft_seconds:
            raise ValueError("staleness.hard_seconds must be greater than staleness.soft_seconds")
        return self


class LabelSelector(Wire):
    """Kubernetes label selector over cluster labels; empty selects every cluster."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: tuple[SelectorRequirement, ...] = ()


class PlacementRef(Wire):
    """An Open Cluster Management Placement on the hub cluster."""

    namespace: Label
    name: Subdomain


class TargetSelector(LabelSelector):
    """The clusters that may be targets: those the labels select and, when a Placement is
    named, that its PlacementDecisions name too (the hub reads them with
    `--managed-clusters`; without it no cluster is selected by a Placement)."""

    placement: PlacementRef | None = None


class Weights(Wire):
    headroom: float = Field(0.4, ge=0)
    n_plus_one: float = Field(0.2, ge=0)
    locality: float = Field(0.2, ge=0)
    balance: float = Field(0.2, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> "Weights":
        if self.headroom + self.n_plus_one + self.locality + self.balance <= 0:
            raise ValueError("scoring.weights must not all be zero")
        return self


class Scoring(Wire):
    weights: Weights = Weights()
    locality_labels: tuple[str, ...] = Field(
        ("topology.kubernetes.io/region",),
        description="Cluster labels whose equal value on source and target counts as locality",
    )


class ReceiverTimeouts(Wire):
    """How long KubeVirt lets a migration's receiving pod wait before it deletes the pod and
    fails the migration, counted from the pod's creation: `unschedulable_seconds` while the
    scheduler finds no node (KubeVirt's default 300), `pending_seconds` while Pending for any
    reason (default 900). The executor sets them, when given, on the migration objects it
    creates (annotations `kubevirt.io/migrationUnschedulablePodTimeoutSeconds` and
    `kubevirt.io/migrationPendingPodTimeoutSeconds`, KubeVirt's `types.go`), so that someone
    alerted of a stall has time to make room."""

    unschedulable_seconds: int | None = Field(None, ge=1, le=86_400)
    pending_seconds: int | None = Field(None, ge=1, le=86_400)


class Policy(Wire):
    version: Literal[1] = 1
    headroom_percent: Headroom = Headroom()
    survive_largest_node_loss: bool = Field(
        True, description="Warn when the target could not absorb the loss of its largest node"
    )
    staleness: Staleness = Staleness()
    eligible_targets: TargetSelector = TargetSelector()
    scoring: Scoring = Scoring()
    max_suggestions: int = Field(5, ge=0, le=100)
    receiver_timeouts: ReceiverTimeouts = ReceiverTimeouts()
