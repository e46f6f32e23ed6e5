"""The hub's API bodies: requests callers send and the records the hub keeps and returns.

Requests are strict (unknown fields are errors, names may not be blank) because a typo in an
acknowledgement or a storage class map must never be silently ignored.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AwareDatetime,
    ConfigDict,
    Discriminator,
    Field,
    StringConstraints,
    Tag,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from hub.models.check import CheckResult, Code, Mode, TargetResult
from hub.models.claim import Claim
from hub.models.policy import ReceiverTimeouts
from hub.models.report import CdiSettings, KubeVirtSettings, Resources
from hub.models.vm import MAX_MESSAGE, VirtualMachine, VmSpec, Wire

NAME_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
ClusterName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=253, pattern=NAME_PATTERN),
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=253)]
VmRef = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        pattern=r"^([a-z0-9][-a-z0-9.]*/)?[a-z0-9][-a-z0-9.]*/[a-z0-9][-a-z0-9.]*$",
    ),
]
"""`namespace/name` in the source cluster, or `cluster/namespace/name`."""


@dataclass(frozen=True, slots=True)
class VmReference:
    """A VM reference taken apart once, here, instead of by each caller's own `split`."""

    cluster: str | None
    namespace: str
    name: str

    @classmethod
    def parse(cls, ref: str) -> "VmReference | None":
        """`[cluster/]namespace/name`; None for anything else (empty parts included)."""
        parts = ref.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            return None
        return cls(parts[0] if len(parts) == 3 else None, parts[-2], parts[-1])

    @property
    def key(self) -> str:
        """`namespace/name`, as the VM is known inside its cluster."""
        return f"{self.namespace}/{self.name}"


def _vm_form(value: object) -> str:
    """A reference, a VM as reports and `GET .../vms` carry it (a KubeVirt template), or
    the flat spec; told apart up front so an error speaks of the form that was meant."""
    if isinstance(value, str):
        return "reference"
    if isinstance(value, dict) and "template" in value:
        return "template"
    if isinstance(value, VirtualMachine):
        return "template"
    return "spec"


CheckVm = Annotated[
    Annotated[VmRef, Tag("reference")]
    | Annotated[VirtualMachine, Tag("template")]
    | Annotated[VmSpec, Tag("spec")],
    Discriminator(_vm_form),
]


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"
    ADMIN = "admin"
    SPOKE = "spoke"


MINTABLE = Annotated[
    Role,
    WithJsonSchema(
        {"type": "string", "enum": [r.value for r in Role if r != Role.SPOKE]},
        mode="validation",
    ),
]
"""The roles a token is minted for; a spoke's comes with its cluster's registration."""


class TokenRequest(Wire):
    name: Text
    role: MINTABLE

    @field_validator("role")
    @classmethod
    def _not_spoke(cls, role: Role) -> Role:
        if role == Role.SPOKE:
            raise ValueError("spoke tokens are minted by registering a cluster")
        return role


class TokenInfo(Wire):
    """A token as listed: never its secret, which is shown once when it is minted."""

    id: str
    name: str
    role: Role
    cluster: str | None = None
    created_at: AwareDatetime


class MintedToken(Wire):
    token: str = Field(description="Shown once; the hub keeps only its hash")
    info: TokenInfo


class ClusterRegistration(Wire):
    name: ClusterName
    labels: dict[Text, Annotated[str, StringConstraints(max_length=63)]] = Field(
        default_factory=dict
    )


class Registered(Wire):
    cluster: str
    token: str = Field(description="The spoke's report token; shown once")


class SequenceReset(Wire):
    cluster: str
    previous_sequence: int | None = Field(
        description="The sequence the hub held; the next report is taken whatever its own"
    )


class Freshness(StrEnum):
    FRESH = "fresh"
    STALE = "stale"
    EXPIRED = "expired"
    MISSING = "missing"


class ResourceSummary(Wire):
    """One resource across the nodes that can host VMs: what is there, used, held, left."""

    allocatable: int
    requested: int
    reserved: int
    free: int


class StorageSummary(Wire):
    name: str
    provisioner: str
    is_default: bool
    capacity_source: str
    capacity_bytes: int | None
    available_bytes: int | None
    reserved_bytes: int
    free_bytes: int | None


class NodeSummary(Wire):
    name: str
    ready: bool
    schedulable: bool
    allocatable: Resources
    requested: Resources
    reserved: Resources


class ClusterSummary(Wire):
    name: str
    labels: dict[str, str]
    registered_at: AwareDatetime
    freshness: Freshness
    report_sequence: int | None = None
    report_generated_at: datetime | None = None
    report_received_at: datetime | None = None
    report_age_seconds: float | None = None
    kubevirt_installed: bool | None = None
    kubevirt_version: str | None = None
    nodes: int = 0
    nodes_usable: int = 0
    vms: int = 0
    live_claims: int = 0
    resources: dict[str, ResourceSummary] = Field(
        default_factory=dict, description="cpu_millis, memory_bytes, and scalar resources"
    )
    storage: tuple[StorageSummary, ...] = ()


class ClusterDetail(ClusterSummary):
    node_detail: tuple[NodeSummary, ...] = ()
    pending_launchers: int = 0
    kubevirt: KubeVirtSettings | None = Field(
        None, description="The KubeVirt CR as the cluster reported it, which sizing follows"
    )
    cdi: CdiSettings | None = None
    sizing_rules: str | None = Field(
        None, description="The KubeVirt release whose rules size VMs on this cluster"
    )


def _some_vm(schema: dict[str, Any]) -> None:
    schema["anyOf"] = [
        {"required": [field], "properties": {field: {"minItems": 1}}}
        for field in ("vms", "manifests")
    ]


class CheckBody(Wire):
    """A check: VMs as full specs (flat, or as a cluster reports them), as references
    resolved from a cluster's inventory, or as KubeVirt manifests (VirtualMachines with the
    instancetypes, preferences and claims they name)."""

    model_config = ConfigDict(json_schema_extra=_some_vm)

    vms: tuple[CheckVm, ...] = Field((), max_length=1000)
    manifests: tuple[dict[str, Any], ...] = Field(
        (),
        max_length=2000,
        description="kubevirt.io/v1 VirtualMachines, instancetype.kubevirt.io instancetypes "
        "and preferences, PersistentVolumeClaims and DataVolumes, as kubectl shows them",
    )
    source_cluster: ClusterName | None = None
    target: ClusterName | None = None
    storage_class_map: dict[Text, Text] = Field(default_factory=dict)
    max_suggestions: int | None = Field(None, ge=0, le=100)
    list_excluded: bool = False

    @model_validator(mode="after")
    def _some_vm(self) -> "CheckBody":
        if not self.vms and not self.manifests:
            raise PydanticCustomError(
                "missing", "name at least one VM: in vms, or as a VirtualMachine in manifests"
            )
        return self


class MigrationRequest(Wire):
    source_cluster: ClusterName
    target: ClusterName
    vms: tuple[VmRef, ...] = Field(min_length=1, max_length=1000)
    storage_class_map: dict[Text, Text] = Field(default_factory=dict)
    delete_source: bool = Field(
        False, description="Delete the source VM after success; by default it is kept stopped"
    )
    acknowledge: tuple[Code, ...] = Field(
        (), description="Codes of soft findings the caller accepts proceeding with"
    )

    @model_validator(mode="after")
    def _distinct(self) -> "MigrationRequest":
        if self.target == self.source_cluster:
            raise ValueError(f"target {self.target!r} is the source cluster; name another cluster")
        return self


def _target_required(schema: dict[str, Any]) -> None:
    schema["required"] = ["target"]
    schema["properties"]["target"] = {
        "type": "string",
        "pattern": r"\S",
        "description": "The cluster to move the VM to",
    }


class VmMigrationRequest(Wire):
    """Migrate one VM, the console's action on a VM's page. `target` is checked by hand so
    that a missing or blank one reads as what it is; the document says it is required."""

    model_config = ConfigDict(json_schema_extra=_target_required)

    target: str | None = Field(None, description="The cluster to move the VM to (required)")
    storage_class_map: dict[Text, Text] = Field(default_factory=dict)
    delete_source: bool = Field(
        False,
        description="Delete the source VM after success; by default it is kept stopped, "
        "marked as migrated and protected against being started",
    )
    acknowledge: tuple[Code, ...] = Field(
        (), description="Codes of soft findings the caller accepts proceeding with"
    )


class State(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def active(self) -> bool:
        return self in (State.QUEUED, State.RUNNING)


class VmPhase(StrEnum):
    """Where one VM of a migration stands, in the order it passes through them."""

    PENDING = "pending"
    """Not started: waiting for the agent, for a round, or for its pods to settle."""
    PREPARING = "preparing"
    """Target volumes being made."""
    RECEIVING = "receiving"
    """Live: the receiver waits on the target for its virt-launcher pod."""
    CUTOVER = "cutover"
    """Live: the VM is being sent; from here a cancel no longer stops it."""
    COPYING = "copying"
    """Offline: its rsync client copies the disks."""
    FINALIZING = "finalizing"
    MIGRATED = "migrated"
    ABANDONED = "abandoned"
    """The migration failed or was cancelled before this VM was moved; it stays on the source."""

    @property
    def past_cutover(self) -> bool:
        return self in (VmPhase.CUTOVER, VmPhase.FINALIZING, VmPhase.MIGRATED)


class PodStatus(Wire):
    name: str
    phase: str
    message: str = Field(
        "", max_length=MAX_MESSAGE, description="The scheduler's reason while Pending"
    )


class TaskVm(Wire):
    vm: str
    mode: Mode
    phase: VmPhase = VmPhase.PENDING
    node: str | None = None
    bytes_copied: int = Field(0, ge=0)
    message: str = Field("", max_length=MAX_MESSAGE)
    receiving_pod: PodStatus | None = Field(
        None, description="Live: the receiving virt-launcher pod on the target"
    )
    pending_since: AwareDatetime | None = Field(
        None,
        description="Set by the hub: when it first saw the receiving pod Pending (the agent's "
        "value is ignored)",
    )
    phase_since: AwareDatetime | None = Field(
        None,
        description="Set by the hub: when it first saw the VM in its phase (the agent's value "
        "is ignored)",
    )


class Condition(Wire):
    """Something about a running task that needs a person's attention."""

    type: str = Field(description="`stalled`: a receiving pod has been Pending too long")
    vm: str
    message: str
    since: AwareDatetime


class ProgressState(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"


class Progress(Wire):
    """What the source cluster's executor reports of a job. The first report acknowledges it
    (the task starts running); each one renews the job's reservation."""

    state: ProgressState
    message: str = Field("", max_length=MAX_MESSAGE)
    progress: int = Field(0, ge=0, le=100, description="Percent of the job done")
    vms: tuple[TaskVm, ...] = Field((), description="Per VM; VMs left out keep their last state")


class ProgressReceipt(Wire):
    migration_id: str
    state: State
    cancel: bool = Field(description="The migration was cancelled on the hub: stop and clean up")
    reservation_expires_at: AwareDatetime | None = None


class Task(Wire):
    id: str
    migration_id: str
    source_cluster: str
    target_cluster: str
    state: State
    message: str
    progress: int = Field(ge=0, le=100)
    vms: tuple[TaskVm, ...]
    conditions: tuple[Condition, ...] = ()
    created_at: AwareDatetime
    updated_at: AwareDatetime
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    reported_at: AwareDatetime | None = Field(
        None, description="When the source's agent last reported progress (the hub's clock)"
    )
    warnings: tuple[str, ...] = ()
    cleanup: str = Field(
        "",
        description="What the source's agent reports after the hub ended the migration "
        "(cancelled, or its reservation expired): undoing the job, then the outcome",
    )
    cleaned_up_at: AwareDatetime | None = Field(
        None, description="When the source's agent reported the ended job undone"
    )


class ClaimStatus(Wire):
    claim: Claim
    released_at: AwareDatetime | None = None
    release_reason: str | None = None


class Migration(Wire):
    id: str
    source_cluster: str
    target_cluster: str
    vms: tuple[str, ...]
    storage_class_map: dict[str, str]
    delete_source: bool
    acknowledged: tuple[Code, ...]
    state: State
    task_id: str
    created_by: str
    created_at: AwareDatetime
    updated_at: AwareDatetime
    check: TargetResult = Field(description="The check the migration was accepted on")
    reservation: ClaimStatus | None = None
    receiver_timeouts: ReceiverTimeouts = Field(
        default_factory=ReceiverTimeouts,
        description="The policy's limits on the receiving pod's wait, as accepted",
    )


class AlertKind(StrEnum):
    SPOKE_STALE = "spoke-stale"
    """The cluster's newest report is past the policy's soft staleness."""
    SPOKE_SILENT = "spoke-silent"
    """No report within the hard staleness, or none ever: checks against it are unknown."""
    STALLED = "stalled"
    """A receiving pod Pending past the hub's stall threshold."""
    PROGRESS_SILENT = "progress-silent"
    """A source agent stopped reporting progress on a running job."""
    MIGRATION_FAILED = "migration-failed"
    RESERVATION_EXPIRED = "reservation-expired"
    BELOW_HEADROOM = "below-headroom"
    """Free CPU, memory or a storage class below the policy's headroom."""
    NODE_LOSS = "node-loss-not-survivable"
    """N+1 lost: the cluster could not re-home its workloads if its largest node failed."""
    RUNNING_TWICE = "running-on-both"
    """A migrated VM runs on its source and on its target."""
    MODEL_DRIFT = "overhead-above-model"
    """KubeVirt measured a launcher overhead above what its rules give."""
    SEQUENCE_RESET = "sequence-reset"
    CLUSTER_RETIRED = "cluster-retired"
    """The cluster was retired (its ManagedCluster was removed): its reservations released."""


class AlertSeverity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class Alert(Wire):
    """One condition that needs a person, from when it was first seen until it cleared.
    Its id names what it is about (kind and objects), so it stays the same while the
    condition lasts and a feed or a receiver can tell a new alert from an old one."""

    id: str
    fingerprint: str = Field(
        description="What the alert is about (kind and objects): the same for every time the "
        "condition recurs, unlike the id"
    )
    kind: AlertKind
    severity: AlertSeverity
    message: str
    cluster: str | None = None
    migration_id: str | None = None
    vm: str | None = Field(None, description="namespace/name of the VM it concerns")
    details: dict[str, Any] = Field(default_factory=dict)
    links: dict[str, str] = Field(
        default_factory=dict, description="API paths of the objects it concerns, by kind"
    )
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    resolved_at: AwareDatetime | None = Field(
        None, description="When the condition cleared; None while the alert is open"
    )

    @model_validator(mode="before")
    @classmethod
    def _stored_before_feeds(cls, data: Any) -> Any:
        """An alert stored by an earlier hub had only `created_at`."""
        if isinstance(data, dict) and "created_at" in data and "first_seen" not in data:
            data = dict(data)
            data["first_seen"] = data["last_seen"] = data.pop("created_at")
            data.setdefault("fingerprint", data.get("id"))
            if data.get("severity") not in {s.value for s in AlertSeverity}:
                data["severity"] = AlertSeverity.WARNING.value
        return data


class CheckAnswer(CheckResult):
    """The engine's result plus what the hub resolved to run it."""

    source_cluster: str | None = None
    vms: tuple[str, ...] = ()


class ErrorBody(Wire):
    code: str
    message: str
    details: Any = None


class ErrorResponse(Wire):
    error: ErrorBody


class MigrationList(Wire):
    items: tuple[Migration, ...]


class TaskList(Wire):
    items: tuple[Task, ...]


class JobList(Wire):
    cluster: str
    items: tuple[Migration, ...] = Field(
        description="Active migrations whose source is this cluster, oldest first. A job is "
        "listed until it ends, so it is delivered at least once; its id is the idempotency key"
    )


class ClusterList(Wire):
    items: tuple[ClusterSummary, ...]


class TokenList(Wire):
    items: tuple[TokenInfo, ...]


class AlertList(Wire):
    items: tuple[Alert, ...]
    next: str | None = Field(
        None, description="More match: pass this as the `continue` parameter for the next page"
    )


class VmList(Wire):
    cluster: str
    items: tuple[VirtualMachine, ...]


class ReportReceipt(Wire):
    cluster: str
    sequence: int
    applied: bool = Field(description="False when the hub already holds this or a newer report")
    stored_sequence: int
