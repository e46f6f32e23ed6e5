"""The executor's state logic: (job, ledger, observed clusters) -> the next steps. Pure.

A pass first notes new facts (records: a copy completed, the VM was stopped, a round is
over); only when there is nothing new to note does it return actions, each idempotent, that
move the observed state towards the ledger's. The reconcile loop writes the records, then
asks again, so every action is chosen from a ledger that has caught up with what it sees.

The rules, in the words of `scenarios/vm-state-changes.yaml`: a running VM migrates live, a
stopped one is copied offline in rounds; a round takes every VM stopped before its server is
Running (a server not yet Running is made again with the new member's volumes; it is made
once every member's virt-launcher pods are gone, and clients start once it runs); a VM whose
client was in a round waits for that round to be over before it migrates live; rsync pods
for a VM come only after its virt-launcher pods are gone; a change to one VM touches only
that VM.

A copy is trusted only if the VM's stamp (`model.Stamp`) is the same just before its client
was made, when the client has finished, and when the source is finalized, which the driver
enforces with the stamp's resourceVersion as a precondition: nothing starts a VM without
changing its stamp, so a copy of a VM that ran meanwhile is never finalized.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from spoke_agent.executor import records as r
from spoke_agent.executor.budget import MAX_FAILURES, MAX_RESTARTS
from spoke_agent.executor.model import (
    Action,
    CreateReceiver,
    DeleteClient,
    FinalizeSource,
    FinalizeTarget,
    Job,
    Mode,
    Observed,
    Phase,
    PrepareVolumes,
    RemoveFromTarget,
    Stamp,
    StartSending,
    StopReceiving,
    StopSending,
    receiver_ran,
)
from spoke_agent.executor.recovery import finalized, found_attempt, landed, left_the_job
from spoke_agent.executor.rounds import found_rounds, round_actions, round_facts
from spoke_agent.executor.view import VmView, marked, unknown


@dataclass(frozen=True, slots=True)
class Decision:
    records: tuple[r.Record, ...] = ()
    actions: tuple[Action, ...] = ()


def decide(job: Job, ledger: r.Ledger, observed: Observed) -> Decision:
    if ledger.ended is not None:
        return Decision()
    vms = [
        VmView(name, ledger.vms[name], observed.source.vm(name), observed.target.vm(name))
        for name in job.vms
    ]
    facts = tuple(_facts(job, ledger, vms, observed))
    if facts:
        return Decision(records=facts)
    if ledger.failing is not None and ledger.failing.touch_nothing:
        return Decision()
    return Decision(actions=tuple(_actions(job, ledger, vms, observed)))


def _facts(job: Job, ledger: r.Ledger, vms: list[VmView], observed: Observed) -> Iterator[r.Record]:
    for vm in vms:
        if vm.ledger.manifest is None and vm.source.definition is not None:
            yield r.Captured(vm.name, vm.source.definition.manifest)
    if ledger.failing is None:
        yield from _hazards(vms)
    gone = [r.VmGone(vm.name) for vm in vms if left_the_job(vm)]
    found = tuple(found_rounds(ledger, vms, observed))
    if gone or found:
        # Every later fact is judged knowing these: rounds in flight above all (I2).
        yield from (*gone, *found)
        return
    failing = ledger.failing is not None
    noted = tuple(_each_vm(job, ledger, vms, failing))
    if noted:
        # Rounds are judged on a ledger that has these: a VM just copied is due for none.
        yield from noted
        return
    yield from round_facts(ledger, vms, observed, failing)
    yield from _end(ledger, vms, observed)


def _each_vm(job: Job, ledger: r.Ledger, vms: list[VmView], failing: bool) -> Iterator[r.Record]:
    for vm in vms:
        if vm.ledger.gone:
            continue
        if vm.ledger.done:
            if vm.target.definition is None and not vm.target.volumes_ready:
                if not failing:
                    yield r.Failing(
                        f"{vm.name}: its definition and disks on the target were deleted after "
                        "it was migrated; its source is kept, stopped and marked as migrated: "
                        "remove the mark (cclm.io/migrated-by) to start it there, or migrate it "
                        "again"
                    )
            elif vm.target.definition is None:
                yield r.TargetLost(vm.name)
            continue
        yield from _vm_facts(job, ledger, vm, failing and not _let_through(ledger, vm))


def _let_through(ledger: r.Ledger, vm: VmView) -> bool:
    """A failing job (a cancel among others) stops what has not begun its cutover; a VM
    already being sent finishes: aborting it could race its landing."""
    failing = ledger.failing
    transfer = vm.source.transfer
    return (
        failing is not None
        and vm.ledger.live_open
        and transfer is not None
        and transfer.attempt == vm.ledger.attempt
        and receiver_ran(vm.source, vm.target, vm.ledger.attempt)
    )


def _hazards(vms: list[VmView]) -> Iterator[r.Record]:
    for vm in vms:
        if vm.ledger.done:
            continue
        # During and just after a cutover both pods run for a moment; only a VM the job is
        # not moving (found so after a restart, or started by someone) is a hazard.
        moving = vm.ledger.live_open or vm.ledger.copied is not None
        if vm.runs_on_target and vm.source.launcher_running and not moving:
            yield r.Failing(
                f"{vm.name} is running on both clusters; nothing was changed, decide which "
                "copy to keep and stop the other",
                touch_nothing=True,
            )
            return


def _vm_facts(job: Job, ledger: r.Ledger, vm: VmView, failing: bool) -> Iterator[r.Record]:
    led = vm.ledger
    if led.live_open:
        yield from _live_facts(vm, failing)
    elif led.copied is None:
        yield from _copy_facts(job, ledger, vm, failing)
    elif led.target_final and not led.source_final and _source_final(job, vm):
        yield r.SourceFinalized(vm.name)
    elif led.copied == Mode.OFFLINE and not led.source_final and not marked(job, vm) and _ran(vm):
        started = vm.wants_running or vm.on_source
        why = _distrust(vm, vm.ledger.stamp)
        yield r.CopyVoided(vm.name, "" if started or not why else f"{r.STALE}: {why}")
    elif not led.target_final and _target_final(vm):
        yield r.TargetFinalized(vm.name)
    elif led.target_final and vm.target.definition is None:
        yield r.TargetLost(vm.name)


def _ran(vm: VmView) -> bool:
    """The VM may have run since its copy began: it runs or wants to, or its stamp moved.
    A VM deleted on the source did not (what becomes of it is `gone`'s to say)."""
    stamp, copied = vm.stamp, vm.ledger.stamp
    if stamp is None:
        return False
    return vm.wants_running or vm.on_source or copied is None or bool(stamp.change(copied))


def _restarted(vm: VmView) -> bool:
    """The pod that was sending the VM went away while the VM is still meant to run, and
    not by failing: the user stopped and started it between two passes."""
    sender = vm.ledger.sender
    if not sender:
        return False
    pod = next((p for p in vm.source.launchers if p.name == sender), None)
    return pod is None or (pod.deleting and pod.phase != Phase.FAILED)


def _live_facts(vm: VmView, failing: bool) -> Iterator[r.Record]:
    attempt = vm.ledger.attempt
    transfers = [t for t in (vm.source.transfer, vm.target.transfer) if t and t.attempt == attempt]
    if any(t.phase == Phase.SUCCEEDED for t in transfers):
        yield r.LiveEnded(vm.name, attempt, "succeeded")
        yield r.Copied(vm.name, Mode.LIVE)
    elif not vm.wants_running:
        yield r.LiveEnded(vm.name, attempt, "stopped")
    elif _restarted(vm) and vm.ledger.restarts + 1 >= MAX_RESTARTS:
        yield r.LiveEnded(vm.name, attempt, r.RESTARTED)
        yield r.Failing(
            f"{vm.name}: its virt-launcher pod went away during each of {MAX_RESTARTS} live "
            "attempts; it is being restarted, or is crashing, faster than it can migrate"
        )
    elif _restarted(vm):
        yield r.LiveEnded(vm.name, attempt, r.RESTARTED)
    elif (failed := [t for t in transfers if t.phase == Phase.FAILED]) and _unscheduled(vm):
        reason = f"its receiving virt-launcher pod never ran: {failed[0].message}"
        yield r.LiveEnded(vm.name, attempt, reason)
        yield r.Failing(
            f"{vm.name}: {reason}; KubeVirt gave up waiting for a node for it, so the target "
            "has no room for it now: free capacity there or check again, then migrate again"
        )
    elif failed:
        yield r.LiveEnded(vm.name, attempt, f"live migration failed: {failed[0].message}")
    elif any(p.phase == Phase.FAILED for p in vm.target.launchers):
        yield r.LiveEnded(vm.name, attempt, "the receiving virt-launcher pod failed")
    elif failing:
        yield r.LiveEnded(vm.name, attempt, "abandoned")


def _unscheduled(vm: VmView) -> bool:
    """The receiving pod is left unschedulable (the scheduler's reason on it), or gone with
    the migration saying why: what virt-controller leaves once it gave up on an
    unschedulable target pod. A failure with no such evidence is the migration's own."""
    pods = vm.target.launchers
    pending = bool(pods) and all(p.phase == Phase.PENDING and p.message for p in pods)
    said = any("unschedulable" in t.message for t in (vm.source.transfer, vm.target.transfer) if t)
    return pending or (not pods and said)


def _copy_facts(job: Job, ledger: r.Ledger, vm: VmView, failing: bool) -> Iterator[r.Record]:
    led = vm.ledger
    current = ledger.open_round
    member = current is not None and vm.name in current.active
    client = vm.source.client[1] if vm.source.client else None
    if landed(vm):
        yield r.Copied(vm.name, Mode.LIVE, adopted=True)
    elif finalized(job, vm):
        target, source = vm.target.definition, vm.source.definition
        running = source.migrated_running if source is not None else False
        live = running or (target is not None and target.running)
        yield r.Copied(vm.name, Mode.LIVE if live else Mode.OFFLINE, adopted=True, finalized=True)
    elif attempt := found_attempt(vm):
        yield r.LiveStarted(
            vm.name, attempt, next(p.name for p in vm.source.launchers if p.running)
        )
    elif member and current is not None:
        expected = current.stamps.get(vm.name) or vm.source.client_stamp
        # A member may join while its pods are still going away; once its client exists
        # (made only when they were gone), a virt-launcher pod means it was started.
        if vm.wants_running or (client is not None and vm.on_source):
            yield r.ClientEnded(current.id, vm.name, "started")
        elif client is not None and (why := _distrust(vm, expected)):
            yield r.ClientEnded(current.id, vm.name, f"{r.STALE}: {why}")
        elif client is not None and client.phase == Phase.SUCCEEDED:
            yield r.ClientEnded(current.id, vm.name, "succeeded")
            yield r.Copied(vm.name, Mode.OFFLINE, stamp=expected)
        elif client is not None and client.phase == Phase.FAILED:
            yield r.ClientEnded(current.id, vm.name, f"rsync client failed: {client.message}")
        elif failing:
            yield r.ClientEnded(current.id, vm.name, "abandoned")
    elif not failing and _ready_for_live(ledger, vm):
        if led.live_failures >= MAX_FAILURES:
            yield r.Failing(
                f"{vm.name}: {led.live_failures} live attempts failed: {led.last_failure}"
            )
        else:
            sender = next(p.name for p in vm.source.launchers if p.running)
            yield r.LiveStarted(vm.name, led.attempt + 1, sender)


def _distrust(vm: VmView, expected: Stamp | None) -> str:
    """Why the copy being made cannot be trusted: the VM may have run since it began."""
    stamp = vm.stamp
    if expected is None or stamp is None:
        return "the VM's stamp before its copy is not known, so the copy cannot be trusted"
    change = stamp.change(expected)
    return f"{change} during its copy; it may have run, so the copy is redone" if change else ""


def _ready_for_live(ledger: r.Ledger, vm: VmView) -> bool:
    """Running on the source, and nothing of an earlier attempt or round is left (I1, I2)."""
    last = ledger.round(vm.ledger.round)
    found = ledger.open_round is not None and ledger.open_round.found
    return (
        not found
        and vm.wants_running
        and vm.source.launcher_running
        and vm.source.client is None
        and (last is None or last.closed)
        and not vm.transfer_objects
        and not vm.target.launchers
    )


def _target_final(vm: VmView) -> bool:
    definition = vm.target.definition
    return (
        definition is not None
        and not definition.receiver
        and definition.running == (vm.ledger.copied == Mode.LIVE)
        and vm.target.volumes_ready
        and vm.target.transfer is None
    )


def _source_final(job: Job, vm: VmView) -> bool:
    definition = vm.source.definition
    # Every pod gone, a completed one too: the mark halts the VM, and KubeVirt then takes
    # the final instance and its pod away.
    settled = vm.source.transfer is None and vm.source.client is None and not vm.source.launchers
    if definition is None:
        return settled
    return settled and not job.delete_source and marked(job, vm)


def _end(ledger: r.Ledger, vms: list[VmView], observed: Observed) -> Iterator[r.Record]:
    failing = ledger.failing
    if failing is not None and failing.touch_nothing:
        yield r.Ended(failed=failing.reason)
        return
    if ledger.open_round is not None or observed.target.servers:
        return
    if not all(_untouched(vm) for vm in vms if vm.ledger.gone):
        return
    if failing is None and all(vm.ledger.done for vm in vms):
        yield r.Ended()
    elif failing is not None and all(vm.ledger.done or _untouched(vm) for vm in vms):
        yield r.Ended(failed=failing.reason)


def _keeps_volumes(vm: VmView) -> bool:
    """A complete offline copy of a VM deleted on its source keeps its disks on the target,
    and so does one the ledger knows nothing of (its journal was lost): they may be the
    only copy left."""
    return vm.ledger.gone and (vm.ledger.copied == Mode.OFFLINE or unknown(vm))


def _untouched(vm: VmView) -> bool:
    """Nothing of the job left for a VM it did not migrate."""
    return (
        (vm.ledger.gone or (vm.ledger.copied is None and not vm.ledger.live_open))
        and not vm.transfer_objects
        and not vm.target.launchers
        and vm.target.definition is None
        and (_keeps_volumes(vm) or not vm.target.volumes_ready)
        and vm.source.client is None
    )


def _actions(job: Job, ledger: r.Ledger, vms: list[VmView], observed: Observed) -> Iterator[Action]:
    for vm in vms:
        if vm.ledger.gone:
            yield from _undo(job, ledger, vm)
        elif not vm.ledger.done:
            yield from _vm_actions(job, ledger, vm)
    current = ledger.open_round
    if current is not None:
        yield from round_actions(current, vms, observed)


def _vm_actions(job: Job, ledger: r.Ledger, vm: VmView) -> Iterator[Action]:
    led = vm.ledger
    if led.copied is not None:
        if not led.target_final:
            yield FinalizeTarget(vm.name, led.copied == Mode.LIVE, led.manifest or {})
        else:
            stamp = vm.stamp
            version = stamp.version if stamp is not None else ""
            running = led.copied == Mode.LIVE
            yield FinalizeSource(vm.name, job.id, job.delete_source, version, running)
        return
    if led.live_open:
        yield from _live_actions(vm)
        return
    yield from _undo(job, ledger, vm)


def _undo(job: Job, ledger: r.Ledger, vm: VmView) -> Iterator[Action]:
    """Take away what the job made for a VM that is not (or no longer) being moved: objects
    of an attempt or a round it is out of, and, once the job fails or the VM left it, what
    is left on the target."""
    if vm.source.transfer is not None:
        yield StopSending(vm.name)
    if vm.receiving:
        yield StopReceiving(vm.name)
    current = ledger.open_round
    client = vm.source.client
    if client is not None and not client[1].deleting:
        member = current is not None and current.id == client[0] and vm.name in current.active
        if not member:
            yield DeleteClient(client[0], vm.name)
    keep = _keeps_volumes(vm)
    leftovers = vm.target.definition is not None or (vm.target.volumes_ready and not keep)
    quiet = not vm.transfer_objects and not vm.target.launchers
    # Never a VM whose source carries this job's mark: its only runnable copy is there.
    undo = (ledger.failing is not None or vm.ledger.gone) and not marked(job, vm)
    if undo and quiet and leftovers:
        yield RemoveFromTarget(vm.name, keep_volumes=keep)


def _live_actions(vm: VmView) -> Iterator[Action]:
    attempt = vm.ledger.attempt
    definition = vm.target.definition
    if not vm.target.volumes_ready:
        yield PrepareVolumes(vm.name)
    elif (
        definition is None
        or not definition.receiver
        or vm.target.transfer is None
        or vm.target.transfer.attempt != attempt
    ):
        yield CreateReceiver(vm.name, attempt, vm.ledger.manifest or {})
    elif (
        vm.source.transfer is None or vm.source.transfer.attempt != attempt
    ) and _receiver_scheduled(vm):
        yield StartSending(vm.name, attempt)


def _receiver_scheduled(vm: VmView) -> bool:
    """The receiving pod got a node. Until then the cutover does not begin, so a receiver
    the target has no room for can still be cancelled: nothing has left the source."""
    return any(
        not p.deleting and not (p.phase == Phase.PENDING and p.message) for p in vm.target.launchers
    )
