"""What a capacity check answers: a verdict per target, findings with stable codes, the
placement found, and ranked suggestions. These models are the engine's output and the
API's response body, so every field is meant to be read by a person or a program."""

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.models.vm import VirtualMachine, Wire


class Verdict(StrEnum):
    FITS = "fits"
    FITS_WITH_WARNINGS = "fits-with-warnings"
    SHORT = "short"
    BLOCKED = "blocked"
    UNKNOWN = "unknown"


class Severity(StrEnum):
    """`warning` and `critical` are soft (acknowledge to proceed); `blocker` is hard."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"
    BLOCKER = "blocker"


class Code(StrEnum):
    CPU_SHORT = "CPU_SHORT"
    MEMORY_SHORT = "MEMORY_SHORT"
    HUGEPAGES_SHORT = "HUGEPAGES_SHORT"
    DEVICE_SHORT = "DEVICE_SHORT"
    NO_SINGLE_NODE_FITS = "NO_SINGLE_NODE_FITS"
    NO_NODE_MATCHES_CONSTRAINTS = "NO_NODE_MATCHES_CONSTRAINTS"
    STORAGE_SHORT = "STORAGE_SHORT"
    STORAGE_CAPACITY_UNKNOWN = "STORAGE_CAPACITY_UNKNOWN"
    STORAGE_CLASS_MISSING = "STORAGE_CLASS_MISSING"
    QUOTA_EXCEEDED = "QUOTA_EXCEEDED"
    HEADROOM_BELOW_POLICY = "HEADROOM_BELOW_POLICY"
    NODE_FAILURE_NOT_SURVIVABLE = "NODE_FAILURE_NOT_SURVIVABLE"
    PENDING_LAUNCHERS = "PENDING_LAUNCHERS"
    REPORT_STALE = "REPORT_STALE"
    REPORT_MISSING = "REPORT_MISSING"
    KUBEVIRT_ABSENT = "KUBEVIRT_ABSENT"
    NO_MIGRATION_PATH = "NO_MIGRATION_PATH"
    NOT_LIVE_MIGRATABLE = "NOT_LIVE_MIGRATABLE"
    TARGET_NOT_ELIGIBLE = "TARGET_NOT_ELIGIBLE"
    CLUSTER_UNAVAILABLE = "CLUSTER_UNAVAILABLE"
    VM_NOT_ADMITTED = "VM_NOT_ADMITTED"
    TARGET_POD_NOT_CREATED = "TARGET_POD_NOT_CREATED"
    DEVICE_CLAIMS_UNCHECKED = "DEVICE_CLAIMS_UNCHECKED"
    OVERHEAD_BELOW_MEASURED = "OVERHEAD_BELOW_MEASURED"
    KUBEVIRT_RULES_APPROXIMATE = "KUBEVIRT_RULES_APPROXIMATE"
    TOO_MANY_PODS = "TOO_MANY_PODS"
    SOURCE_NODE_UNKNOWN = "SOURCE_NODE_UNKNOWN"


class Finding(Wire):
    code: Code
    severity: Severity
    message: str
    vm: str | None = Field(None, description="namespace/name of the VM the finding is about")
    resource: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class Mode(StrEnum):
    LIVE = "live"
    OFFLINE = "offline"


class VolumePlan(Wire):
    disk: str
    storage_class: str
    size_bytes: int


class Placement(Wire):
    """Where one VM would land and what it would ask for there."""

    vm: str
    mode: Mode
    node: str | None
    cpu_millis: int
    memory_bytes: int
    scalar: dict[str, int] = Field(default_factory=dict)
    volumes: tuple[VolumePlan, ...] = ()
    arithmetic: tuple[str, ...] = Field(
        (), description="How KubeVirt's rules on the target give these requests, term by term"
    )


class ScoreComponent(Wire):
    name: str
    value: float = Field(description="0..1 before weighting")
    weight: float
    reason: str


class Score(Wire):
    total: float = Field(description="0..100, weighted mean of the components")
    components: tuple[ScoreComponent, ...]


class TargetResult(Wire):
    cluster: str
    verdict: Verdict
    findings: tuple[Finding, ...] = ()
    placements: tuple[Placement, ...] = ()
    score: Score | None = None
    report_age_seconds: float | None = None

    @property
    def fits(self) -> bool:
        return self.verdict in (Verdict.FITS, Verdict.FITS_WITH_WARNINGS)


class Suggestion(Wire):
    rank: int
    cluster: str
    verdict: Verdict
    score: Score
    reasons: tuple[str, ...]
    placements: tuple[Placement, ...] = ()


class SplitPart(Wire):
    cluster: str
    vms: tuple[str, ...]


class SplitPlan(Wire):
    """When no single cluster takes the batch: which part could go where."""

    parts: tuple[SplitPart, ...]
    unplaced: tuple[str, ...] = ()


class Excluded(Wire):
    cluster: str
    reason: str
    """The worst problem, for a one-line answer."""
    reasons: tuple[str, ...] = ()
    """Every problem found, worst first (one, for a cluster ruled out before it was checked)."""


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    vms: tuple[VirtualMachine, ...] = Field(min_length=1, max_length=1000)
    source_cluster: str | None = None
    target: str | None = None
    storage_class_map: dict[str, str] = Field(default_factory=dict)
    max_suggestions: int | None = Field(None, ge=0, le=100)


class CheckResult(Wire):
    target: TargetResult | None = None
    suggestions: tuple[Suggestion, ...] = ()
    split: SplitPlan | None = None
    excluded: tuple[Excluded, ...] = Field(
        (), description="Per cluster, why it is not suggested (only when asked for: it can be long)"
    )
    excluded_counts: dict[str, int] = Field(
        default_factory=dict, description="How many clusters each reason removed"
    )
    clusters_evaluated: int = Field(0, description="Clusters checked node by node")
