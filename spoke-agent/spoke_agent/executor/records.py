"""The journal's records and what they add up to.

The journal holds what cannot be observed again after a crash: which round a VM was put in,
which live attempt is current, that a copy completed, which finalize steps are done. Every
record is a fact decided before the actions that depend on it; `fold` replays them into a
`Ledger`, so an executor that restarts knows exactly what its predecessor knew.
"""

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from spoke_agent.executor.model import Action, FinalizeSource, Mode, Stamp


@dataclass(frozen=True, slots=True)
class Captured:
    """The source definition, kept so a lost target definition can be made again."""

    vm: str
    manifest: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class LiveStarted:
    vm: str
    attempt: int
    sender: str = ""
    """The source virt-launcher pod that runs the VM as the attempt begins: should it go
    away while the VM is still meant to run, the user restarted the VM."""


@dataclass(frozen=True, slots=True)
class LiveEnded:
    vm: str
    attempt: int
    reason: str
    """"succeeded", "stopped" (the VM was stopped) or what made it fail"""


@dataclass(frozen=True, slots=True)
class RoundOpened:
    round: int
    vms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RoundFound:
    """A round the clusters hold that the ledger does not know: the journal was lost. Its
    members are the VMs its pods name; it is carried on, never opened a second time."""

    round: int
    vms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CopyBegun:
    """The VM's stamp just before its client is made. The copy holds only if the VM still
    has this stamp when the client has finished, and still when its source is finalized."""

    round: int
    vm: str
    stamp: Stamp


@dataclass(frozen=True, slots=True)
class RoundJoined:
    """A VM that became ready for an offline copy while its round's server was not yet
    Running: the server is made again with this VM's volumes too."""

    round: int
    vm: str


@dataclass(frozen=True, slots=True)
class ClientEnded:
    round: int
    vm: str
    reason: str
    """"succeeded", "started" (the VM was started) or what made it fail"""


@dataclass(frozen=True, slots=True)
class RoundClosed:
    round: int


@dataclass(frozen=True, slots=True)
class Copied:
    """The VM's data is complete on the target."""

    vm: str
    mode: Mode
    adopted: bool = False
    """Found already running on the target after a restart, with no record of how."""
    stamp: Stamp | None = None
    """Offline: the VM's stamp throughout the copy."""
    finalized: bool = False
    """Adopted from a source this job had already finalized (marked, or deleted)."""


@dataclass(frozen=True, slots=True)
class CopyVoided:
    """An offline copy that no longer holds: the VM was started on the source before it
    was finalized there, or its object changed (`reason`, then counted as distrusted)."""

    vm: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class VmGone:
    """The VM was deleted on its source mid-flight: it leaves the job, which carries on
    with the others. A complete offline copy keeps its disks on the target; nothing else
    of it is left there."""

    vm: str


@dataclass(frozen=True, slots=True)
class TargetLost:
    """The target definition vanished before the VM was done; it is made again from the
    captured manifest."""

    vm: str


@dataclass(frozen=True, slots=True)
class TargetFinalized:
    vm: str


@dataclass(frozen=True, slots=True)
class SourceFinalized:
    vm: str


@dataclass(frozen=True, slots=True)
class Failing:
    """The job stops migrating; VMs already copied are still finalized, the rest is removed."""

    reason: str
    touch_nothing: bool = False
    """Set when acting could do harm (a VM running on both clusters)."""
    cancelled: bool = False
    """Asked for on the hub: a VM whose cutover has begun is let through, the rest undone."""


@dataclass(frozen=True, slots=True)
class Ended:
    """The job is over: `failed` carries the reason when it did not finish."""

    failed: str | None = None


@dataclass(frozen=True, slots=True)
class Intent:
    action: Action


@dataclass(frozen=True, slots=True)
class Applied:
    action: Action


LATE = "late: the round's server was already running"
"""A member that joined a round whose server started before it was made again: it waits
for the next round."""

RESTARTED = "restarted"
"""The user restarted the VM during its live attempt: a power change, not a failure."""
STALE = "stale"
"""Prefix of the reason a finished copy is not trusted: the VM may have run meanwhile."""

GONE = "deleted on the source"

NOT_FAILURES = ("succeeded", "stopped", "started", "abandoned", RESTARTED, LATE, GONE)
"""Reasons an attempt or a client ends that do not count towards the job failing: what
the user did to the VM, or what the executor chose. Only pods and migrations failing do."""

Record = (
    Captured
    | LiveStarted
    | LiveEnded
    | RoundOpened
    | RoundFound
    | CopyBegun
    | RoundJoined
    | ClientEnded
    | RoundClosed
    | Copied
    | CopyVoided
    | VmGone
    | TargetLost
    | TargetFinalized
    | SourceFinalized
    | Failing
    | Ended
    | Intent
    | Applied
)


@dataclass(frozen=True, slots=True)
class VmLedger:
    manifest: Mapping[str, Any] | None = None
    attempt: int = 0
    """Live attempts started."""
    live_open: bool = False
    """The current live attempt has neither succeeded nor been given up."""
    sender: str = ""
    """The source virt-launcher pod of the current live attempt."""
    live_failures: int = 0
    restarts: int = 0
    """Live attempts ended because the VM was restarted (not failures, but bounded)."""
    last_failure: str = ""
    round: int | None = None
    """The last round the VM was put in."""
    copy_failures: int = 0
    stale_copies: int = 0
    """Finished copies not trusted, since the VM may have run meanwhile."""
    copied: Mode | None = None
    stamp: Stamp | None = None
    """Offline: the VM's stamp throughout its copy, which must still hold at finalizing."""
    target_final: bool = False
    finalizing_source: bool = False
    """Its source's finalization was decided (an Intent is written): from then on a source
    definition gone, or changed by the mark, is this job's doing."""
    source_final: bool = False
    gone: bool = False
    """Deleted on the source mid-flight: no longer part of the job."""

    @property
    def done(self) -> bool:
        """Finalized on both sides (a target definition lost later makes it not done), or
        out of the job."""
        return self.gone or (self.source_final and self.target_final)


@dataclass(frozen=True, slots=True)
class RoundLedger:
    id: int
    vms: tuple[str, ...]
    ended: Mapping[str, str] = field(default_factory=dict)
    """Members whose client is over, and why."""
    stamps: Mapping[str, Stamp] = field(default_factory=dict)
    """Members whose client was decided on, with their stamp at that moment."""
    found: bool = False
    """Carried on from the clusters after the journal was lost: who else had a client in it
    is not known, so no VM goes live while it runs (I2)."""
    closed: bool = False

    @property
    def active(self) -> tuple[str, ...]:
        """Members whose client is still to run."""
        return tuple(vm for vm in self.vms if vm not in self.ended)


@dataclass(frozen=True, slots=True)
class Ledger:
    vms: Mapping[str, VmLedger]
    rounds: tuple[RoundLedger, ...] = ()
    failing: Failing | None = None
    ended: Ended | None = None

    @classmethod
    def start(cls, vms: Iterable[str]) -> "Ledger":
        return cls(vms={vm: VmLedger() for vm in vms})

    @property
    def open_round(self) -> RoundLedger | None:
        return next((r for r in self.rounds if not r.closed), None)

    def round(self, round_id: int | None) -> RoundLedger | None:
        return next((r for r in self.rounds if r.id == round_id), None)


def fold(ledger: Ledger, records: Iterable[Record]) -> Ledger:
    for record in records:
        ledger = _apply(ledger, record)
    return ledger


def _vm(ledger: Ledger, vm: str, **changes: Any) -> Ledger:
    vms = dict(ledger.vms)
    vms[vm] = dataclasses.replace(vms.get(vm, VmLedger()), **changes)
    return dataclasses.replace(ledger, vms=vms)


def _round(ledger: Ledger, round_id: int, **changes: Any) -> Ledger:
    rounds = tuple(
        dataclasses.replace(r, **changes) if r.id == round_id else r for r in ledger.rounds
    )
    return dataclasses.replace(ledger, rounds=rounds)


def _apply(ledger: Ledger, record: Record) -> Ledger:
    vm = ledger.vms.get(getattr(record, "vm", ""), VmLedger())
    match record:
        case Captured():
            return _vm(ledger, record.vm, manifest=record.manifest)
        case LiveStarted():
            return _vm(
                ledger, record.vm, attempt=record.attempt, live_open=True, sender=record.sender
            )
        case LiveEnded() if record.reason == RESTARTED:
            return _vm(ledger, record.vm, live_open=False, restarts=vm.restarts + 1)
        case LiveEnded() if record.reason in NOT_FAILURES:
            return _vm(ledger, record.vm, live_open=False)
        case LiveEnded():
            return _vm(
                ledger,
                record.vm,
                live_open=False,
                live_failures=vm.live_failures + 1,
                last_failure=record.reason,
            )
        case RoundOpened():
            ledger = dataclasses.replace(
                ledger, rounds=(*ledger.rounds, RoundLedger(record.round, record.vms))
            )
            for member in record.vms:
                ledger = _vm(ledger, member, round=record.round)
            return ledger
        case RoundFound():
            found = RoundLedger(record.round, record.vms, found=True)
            ledger = dataclasses.replace(
                ledger, rounds=tuple(sorted((*ledger.rounds, found), key=lambda x: x.id))
            )
            for member in record.vms:
                ledger = _vm(ledger, member, round=record.round)
            return ledger
        case CopyBegun():
            current = ledger.round(record.round)
            stamps = {**(current.stamps if current else {}), record.vm: record.stamp}
            return _round(ledger, record.round, stamps=stamps)
        case RoundJoined():
            current = ledger.round(record.round)
            members = (*(current.vms if current else ()), record.vm)
            ledger = _round(ledger, record.round, vms=members)
            return _vm(ledger, record.vm, round=record.round)
        case ClientEnded():
            current = ledger.round(record.round)
            ended = {**(current.ended if current else {}), record.vm: record.reason}
            ledger = _round(ledger, record.round, ended=ended)
            if record.reason in NOT_FAILURES:
                return ledger
            if record.reason.startswith(STALE):
                return _vm(
                    ledger, record.vm, stale_copies=vm.stale_copies + 1, last_failure=record.reason
                )
            return _vm(
                ledger, record.vm, copy_failures=vm.copy_failures + 1, last_failure=record.reason
            )
        case RoundClosed():
            return _round(ledger, record.round, closed=True)
        case Copied():
            return _vm(
                ledger,
                record.vm,
                copied=record.mode,
                stamp=record.stamp,
                finalizing_source=vm.finalizing_source or record.finalized,
            )
        case CopyVoided():
            if record.reason.startswith(STALE):
                ledger = _vm(
                    ledger, record.vm, stale_copies=vm.stale_copies + 1, last_failure=record.reason
                )
            return _vm(
                ledger,
                record.vm,
                copied=None,
                stamp=None,
                target_final=False,
                finalizing_source=False,
            )
        case VmGone():
            return _vm(ledger, record.vm, gone=True)
        case TargetLost():
            return _vm(ledger, record.vm, target_final=False)
        case TargetFinalized():
            return _vm(ledger, record.vm, target_final=True)
        case SourceFinalized():
            return _vm(ledger, record.vm, source_final=True)
        case Failing():
            return dataclasses.replace(ledger, failing=record)
        case Ended():
            return dataclasses.replace(ledger, ended=record)
        case Intent(action=FinalizeSource(vm=name)):
            return _vm(ledger, name, finalizing_source=True)
        case Intent() | Applied():
            return ledger
