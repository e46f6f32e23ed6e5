"""What the executor works with: the job, what a cluster shows of it, and the steps it takes.

Everything here is plain frozen data. A cluster driver fills a `ClusterState` from the real
objects (or the simulation) and carries out `Action`s; the decision logic reads the one and
returns the other, so it can be tested without a cluster or a clock.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# The wire's own Mode (a task's VM says how it moves): one enum, not two.
from hub.models.wire import Mode as Mode


class Phase(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class Side(StrEnum):
    SOURCE = "source"
    TARGET = "target"


@dataclass(frozen=True, slots=True)
class Job:
    """An accepted migration as the source spoke receives it. `id` is the idempotency key:
    a job delivered twice is one job."""

    id: str
    vms: tuple[str, ...]
    """namespace/name of each VM, in the order the migration listed them"""
    target: str
    delete_source: bool = False
    storage_class_map: Mapping[str, str] = field(default_factory=dict)
    unschedulable_timeout: int | None = None
    """Seconds KubeVirt lets the receiving pod stay unschedulable; None: KubeVirt's own."""
    pending_timeout: int | None = None
    """Seconds KubeVirt lets the receiving pod stay Pending for any reason; None: its own."""


@dataclass(frozen=True, slots=True)
class Stamp:
    """What KubeVirt changes in a VM's object whenever the VM starts, so that two equal
    stamps of a stopped VM prove it did not run in between. A start through the run strategy
    (`virtctl start`, a patch of `spec.runStrategy` or `spec.running`) raises
    `metadata.generation`; one through a state change request (runStrategy Manual) writes
    `status.stateChangeRequests`, and virt-controller then writes `status.created`,
    `status.desiredGeneration` and `status.printableStatus`: every one of them a new
    `metadata.resourceVersion`. A VM deleted and made again has a new `metadata.uid`. Any
    other write to the object changes the stamp too: a copy is then redone rather than
    trusted, never the other way round."""

    uid: str = ""
    generation: int = 0
    version: str = ""
    """`metadata.resourceVersion`: opaque, compared for equality only."""

    def change(self, earlier: "Stamp") -> str:
        """What differs from `earlier`, in KubeVirt's terms; "" when nothing does."""
        if self.uid != earlier.uid:
            return "the VM was deleted and made again"
        if self.generation != earlier.generation:
            return (
                f"its spec changed (generation {earlier.generation} -> {self.generation}), "
                "as a start or a stop does"
            )
        if self.version != earlier.version:
            return (
                f"its object was written (resourceVersion {earlier.version} -> {self.version}), "
                "as a start by state change request does"
            )
        return ""


@dataclass(frozen=True, slots=True)
class Pod:
    name: str
    phase: Phase
    deleting: bool = False
    message: str = ""
    """The scheduler's reason while Pending (from the PodScheduled condition)."""
    bytes_copied: int = 0
    """rsync clients only: how much of the VM's data has been sent so far."""

    @property
    def running(self) -> bool:
        return self.phase == Phase.RUNNING and not self.deleting


@dataclass(frozen=True, slots=True)
class Definition:
    """The VirtualMachine object of one VM in one cluster."""

    running: bool
    """The run strategy asks for the VM to run (what a power change flips)."""
    receiver: bool = False
    """Target only: waiting as the receiver of a live migration (runStrategy WaitAsReceiver)."""
    migrated_by: str | None = None
    migrated_running: bool = field(default=False, compare=False)
    """Source only, with `migrated_by`: the VM runs on the target (it was migrated live), as
    the mark says, so that a journal lost later still knows how to make its target again."""
    """Source only: the job that finalized this definition as migrated (start is refused)."""
    manifest: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """The object itself, which the target's definition is made from."""
    stamp: Stamp = field(default=Stamp(), compare=False)


@dataclass(frozen=True, slots=True)
class Transfer:
    """A live migration object (VirtualMachineInstanceMigration) of one attempt."""

    attempt: int
    phase: Phase
    message: str = ""


@dataclass(frozen=True, slots=True)
class VmObjects:
    """What one cluster holds of one VM of the job."""

    definition: Definition | None = None
    launchers: tuple[Pod, ...] = ()
    """virt-launcher pods: on the source the VM's own, on the target the receiving one."""
    transfer: Transfer | None = None
    volumes_ready: bool = False
    client: tuple[int, Pod] | None = None
    """Source only: the rsync client pod of this VM and the round it belongs to."""
    client_stamp: Stamp | None = None
    """Source only: the VM's stamp the client pod was made for (kept on the pod, so that a
    copy can be judged even when the journal was lost); None when the pod does not say."""

    @property
    def launcher_running(self) -> bool:
        return any(p.running for p in self.launchers)


def receiver_ran(source: VmObjects, target: VmObjects, attempt: int) -> bool:
    """The receiving virt-launcher pod of `attempt` got a node and ran: from then on data
    may be moving. A cutover whose receiver never ran has moved nothing, so it can still be
    cancelled whatever objects exist."""
    ran = (Phase.RUNNING, Phase.SUCCEEDED)
    transfers = (source.transfer, target.transfer)
    return any(p.phase in ran for p in target.launchers) or any(
        t is not None and t.attempt == attempt and t.phase == Phase.RUNNING for t in transfers
    )


@dataclass(frozen=True, slots=True)
class ClusterState:
    vms: Mapping[str, VmObjects]
    servers: Mapping[int, Pod] = field(default_factory=dict)
    """Target only: rsync server pods by round."""
    serving: Mapping[int, frozenset[str]] = field(default_factory=dict)
    """Target only: per round, the VMs whose volumes its server pods were made with."""

    def vm(self, name: str) -> VmObjects:
        return self.vms.get(name) or VmObjects()


@dataclass(frozen=True, slots=True)
class Observed:
    source: ClusterState
    target: ClusterState


class SupersededError(Exception):
    """An action's precondition failed: the object changed after the pass observed it (a
    user's start, say). Nothing was applied; the next pass sees the change and decides on
    it, as on any other change."""


# Actions: each one idempotent, so repeating it after a crash does no harm.


@dataclass(frozen=True, slots=True)
class PrepareVolumes:
    """Target: the VM's volumes, empty, in the mapped storage classes."""

    vm: str
    side: Side = Side.TARGET


@dataclass(frozen=True, slots=True)
class CreateReceiver:
    """Target: the VM's definition waiting as receiver and the receiving migration object."""

    vm: str
    attempt: int
    manifest: Mapping[str, Any]
    side: Side = Side.TARGET


@dataclass(frozen=True, slots=True)
class StartSending:
    """Source: the migration object that sends the running VM to the receiver."""

    vm: str
    attempt: int
    side: Side = Side.SOURCE


@dataclass(frozen=True, slots=True)
class StopSending:
    vm: str
    side: Side = Side.SOURCE


@dataclass(frozen=True, slots=True)
class StopReceiving:
    """Target: the receiving migration object and the receiver definition (which takes its
    virt-launcher pod with it); a definition that already runs the VM is left alone."""

    vm: str
    side: Side = Side.TARGET


@dataclass(frozen=True, slots=True)
class CreateServer:
    round: int
    vms: tuple[str, ...]
    side: Side = Side.TARGET


@dataclass(frozen=True, slots=True)
class DeleteServer:
    round: int
    side: Side = Side.TARGET


@dataclass(frozen=True, slots=True)
class CreateClient:
    """Made only while the VM still has `stamp` (it did not run since the executor looked),
    and keeps `stamp`, so the copy can be judged when it ends."""

    round: int
    vm: str
    stamp: Stamp
    side: Side = Side.SOURCE


@dataclass(frozen=True, slots=True)
class DeleteClient:
    round: int
    vm: str
    side: Side = Side.SOURCE


@dataclass(frozen=True, slots=True)
class FinalizeTarget:
    """Target: the definition present, no longer a receiver, in the run state the VM has."""

    vm: str
    running: bool
    manifest: Mapping[str, Any]
    side: Side = Side.TARGET


@dataclass(frozen=True, slots=True)
class FinalizeSource:
    """Source: kept stopped and marked as migrated by this job, or deleted; only while the
    object is still at `version`, the resourceVersion the decision saw. A start that landed
    meanwhile makes the driver raise `SupersededError` and is then handled like any power change,
    never overwritten."""

    vm: str
    job: str
    delete: bool
    version: str
    running: bool = False
    """The VM runs on the target: kept in the mark."""
    side: Side = Side.SOURCE


@dataclass(frozen=True, slots=True)
class RemoveFromTarget:
    """Target: what a job that failed or was cancelled left of a VM it did not migrate.
    With `keep_volumes`, the disks stay: a complete copy of a VM deleted on its source."""

    vm: str
    keep_volumes: bool = False
    side: Side = Side.TARGET


Action = (
    PrepareVolumes
    | CreateReceiver
    | StartSending
    | StopSending
    | StopReceiving
    | CreateServer
    | DeleteServer
    | CreateClient
    | DeleteClient
    | FinalizeTarget
    | FinalizeSource
    | RemoveFromTarget
)
