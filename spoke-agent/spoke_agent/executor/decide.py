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
from spoke_agent.executor.model import (
    Action,
    CreateClient,
    CreateReceiver,
    CreateServer,
    DeleteClient,
    DeleteServer,
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
    VmObjects,
    receiver_ran,
)

MAX_FAILURES = 3
"""Live attempts, or offline copies, that may fail for one VM before the job fails."""
MAX_RESTARTS = 10
"""Restarts of one VM during its live attempts before the job fails: a user's restart is
no failure, but a VM whose pod keeps going away (crashing, and cleaned up before a pass
saw it fail) would otherwise be retried for ever."""
MAX_STALE = 3
"""Finished copies of one VM that may be distrusted (the VM's object changed during each)
before the job fails: something that keeps writing the VM would otherwise keep it copying
for ever."""


@dataclass(frozen=True, slots=True)
class Decision:
    records: tuple[r.Record, ...] = ()
    actions: tuple[Action, ...] = ()


@dataclass(frozen=True, slots=True)
class _Vm:
    """One VM as both clusters and the ledger show it."""

    name: str
    ledger: r.VmLedger
    source: VmObjects
    target: VmObjects

    @property
    def wants_running(self) -> bool:
        return self.source.definition is not None and self.source.definition.running

    @property
    def launchers(self) -> bool:
        """Any virt-launcher pod of it, on either side, but a completed one (it holds no
        volume): a stopping VM still counts."""
        return self.on_source or any(p.phase != Phase.SUCCEEDED for p in self.target.launchers)

    @property
    def on_source(self) -> bool:
        """A virt-launcher pod of it on the source that is not completed: it runs, or is
        starting or stopping."""
        return any(p.phase != Phase.SUCCEEDED for p in self.source.launchers)

    @property
    def receiving(self) -> bool:
        """The target holds a receiver definition or a receiving migration object."""
        receiver = self.target.definition is not None and self.target.definition.receiver
        return self.target.transfer is not None or receiver

    @property
    def transfer_objects(self) -> bool:
        return self.source.transfer is not None or self.receiving

    @property
    def quiet(self) -> bool:
        """Nothing of the VM runs or is being sent: its disks may be mounted by rsync pods."""
        return not self.launchers and not self.transfer_objects

    @property
    def stamp(self) -> Stamp | None:
        definition = self.source.definition
        return definition.stamp if definition is not None else None

    @property
    def runs_on_target(self) -> bool:
        definition = self.target.definition
        return (
            definition is not None
            and not definition.receiver
            and definition.running
            and self.target.launcher_running
        )


def decide(job: Job, ledger: r.Ledger, observed: Observed) -> Decision:
    if ledger.ended is not None:
        return Decision()
    vms = [
        _Vm(name, ledger.vms[name], observed.source.vm(name), observed.target.vm(name))
        for name in job.vms
    ]
    facts = tuple(_facts(job, ledger, vms, observed))
    if facts:
        return Decision(records=facts)
    if ledger.failing is not None and ledger.failing.touch_nothing:
        return Decision()
    return Decision(actions=tuple(_actions(job, ledger, vms, observed)))


# Facts


def _facts(job: Job, ledger: r.Ledger, vms: list[_Vm], observed: Observed) -> Iterator[r.Record]:
    for vm in vms:
        if vm.ledger.manifest is None and vm.source.definition is not None:
            yield r.Captured(vm.name, vm.source.definition.manifest)
    if ledger.failing is None:
        yield from _hazards(vms)
    gone = [r.VmGone(vm.name) for vm in vms if _gone(vm)]
    found = tuple(_found_rounds(ledger, vms, observed))
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
    yield from _round_facts(ledger, vms, observed, failing)
    yield from _end(ledger, vms, observed)


def _each_vm(job: Job, ledger: r.Ledger, vms: list[_Vm], failing: bool) -> Iterator[r.Record]:
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


def _let_through(ledger: r.Ledger, vm: _Vm) -> bool:
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


def _hazards(vms: list[_Vm]) -> Iterator[r.Record]:
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


def _gone(vm: _Vm) -> bool:
    """Deleted on the source before its source was finalized, and not already living on
    the target (migrated live, or found running there): it leaves the job."""
    led = vm.ledger
    adoptable = _unknown(vm) and _final_on_target(vm)
    return not (
        led.gone
        or vm.source.definition is not None
        or led.source_final
        or led.finalizing_source
        or led.copied == Mode.LIVE
        or vm.runs_on_target
        or adoptable
    )


def _vm_facts(job: Job, ledger: r.Ledger, vm: _Vm, failing: bool) -> Iterator[r.Record]:
    led = vm.ledger
    if led.live_open:
        yield from _live_facts(vm, failing)
    elif led.copied is None:
        yield from _copy_facts(job, ledger, vm, failing)
    elif led.target_final and not led.source_final and _source_final(job, vm):
        yield r.SourceFinalized(vm.name)
    elif led.copied == Mode.OFFLINE and not led.source_final and not _marked(job, vm) and _ran(vm):
        started = vm.wants_running or vm.on_source
        why = _distrust(vm, vm.ledger.stamp)
        yield r.CopyVoided(vm.name, "" if started or not why else f"{r.STALE}: {why}")
    elif not led.target_final and _target_final(vm):
        yield r.TargetFinalized(vm.name)
    elif led.target_final and vm.target.definition is None:
        yield r.TargetLost(vm.name)


def _marked(job: Job, vm: _Vm) -> bool:
    """The source carries this job's mark: finalizing it moved the stamp, and succeeded only
    because the stamp still held (its precondition)."""
    definition = vm.source.definition
    return definition is not None and definition.migrated_by == job.id


def _ran(vm: _Vm) -> bool:
    """The VM may have run since its copy began: it runs or wants to, or its stamp moved.
    A VM deleted on the source did not (what becomes of it is `_gone`'s to say)."""
    stamp, copied = vm.stamp, vm.ledger.stamp
    if stamp is None:
        return False
    return vm.wants_running or vm.on_source or copied is None or bool(stamp.change(copied))


def _restarted(vm: _Vm) -> bool:
    """The pod that was sending the VM went away while the VM is still meant to run, and
    not by failing: the user stopped and started it between two passes."""
    sender = vm.ledger.sender
    if not sender:
        return False
    pod = next((p for p in vm.source.launchers if p.name == sender), None)
    return pod is None or (pod.deleting and pod.phase != Phase.FAILED)


def _live_facts(vm: _Vm, failing: bool) -> Iterator[r.Record]:
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


def _unscheduled(vm: _Vm) -> bool:
    """The receiving pod is left unschedulable (the scheduler's reason on it), or gone with
    the migration saying why: what virt-controller leaves once it gave up on an
    unschedulable target pod. A failure with no such evidence is the migration's own."""
    pods = vm.target.launchers
    pending = bool(pods) and all(p.phase == Phase.PENDING and p.message for p in pods)
    said = any("unschedulable" in t.message for t in (vm.source.transfer, vm.target.transfer) if t)
    return pending or (not pods and said)


def _found_attempt(vm: _Vm) -> int:
    """A live attempt in flight that the ledger does not know (the journal was lost): it is
    carried on rather than cancelled; 0 when there is none."""
    transfers = [t for t in (vm.source.transfer, vm.target.transfer) if t is not None]
    attempt = max((t.attempt for t in transfers), default=0)
    going = all(t.phase in (Phase.PENDING, Phase.RUNNING) for t in transfers)
    runs = vm.wants_running and vm.source.launcher_running
    return attempt if attempt > vm.ledger.attempt and going and runs else 0


def _final_on_target(vm: _Vm) -> bool:
    """The target holds the VM, no longer a receiver, with its disks: as finalizing does."""
    target = vm.target.definition
    return target is not None and not target.receiver and vm.target.volumes_ready


def _finalized(job: Job, vm: _Vm) -> bool:
    """Finalized with no record of it (the journal was lost): the source carries this job's
    mark, which it gets only after a trusted copy was finalized on the target (and which no
    record undoes), or, with nothing known of the VM, the source is gone while the target
    holds the VM with its disks. Never a guess that loses data:
    without the journal, a source deleted by its owner after the copy counts as this."""
    if vm.ledger.copied is not None or not vm.target.volumes_ready:
        return False
    return _marked(job, vm) or (
        _unknown(vm) and vm.source.definition is None and _final_on_target(vm)
    )


def _unknown(vm: _Vm) -> bool:
    """The ledger holds nothing of what the job did to the VM: its journal was lost."""
    led = vm.ledger
    return led.copied is None and led.attempt == 0 and led.round is None


def _copy_facts(job: Job, ledger: r.Ledger, vm: _Vm, failing: bool) -> Iterator[r.Record]:
    led = vm.ledger
    current = ledger.open_round
    member = current is not None and vm.name in current.active
    client = vm.source.client[1] if vm.source.client else None
    if _landed(vm):
        yield r.Copied(vm.name, Mode.LIVE, adopted=True)
    elif _finalized(job, vm):
        target, source = vm.target.definition, vm.source.definition
        running = source.migrated_running if source is not None else False
        live = running or (target is not None and target.running)
        yield r.Copied(vm.name, Mode.LIVE if live else Mode.OFFLINE, adopted=True, finalized=True)
    elif attempt := _found_attempt(vm):
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


def _distrust(vm: _Vm, expected: Stamp | None) -> str:
    """Why the copy being made cannot be trusted: the VM may have run since it began."""
    stamp = vm.stamp
    if expected is None or stamp is None:
        return "the VM's stamp before its copy is not known, so the copy cannot be trusted"
    change = stamp.change(expected)
    return f"{change} during its copy; it may have run, so the copy is redone" if change else ""


def _landed(vm: _Vm) -> bool:
    """Running on the target and not on the source, with no migration other than a finished
    one: it got there before a crash took the record with it."""
    transfers = [t for t in (vm.source.transfer, vm.target.transfer) if t is not None]
    return (
        vm.runs_on_target
        and not vm.source.launcher_running
        and all(t.phase == Phase.SUCCEEDED for t in transfers)
    )


def _ready_for_live(ledger: r.Ledger, vm: _Vm) -> bool:
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


def _bound_for_offline(vm: _Vm, round_id: int | None = None) -> bool:
    """Stopped, with no live attempt open and no copy: it belongs in a round, even while its
    virt-launcher pods are still going away (the round's pods wait for them, I3). A client
    of another round it still has must be gone first."""
    led = vm.ledger
    client = vm.source.client
    return (
        not led.done
        and led.copied is None
        and not led.live_open
        and not vm.wants_running
        and not vm.runs_on_target
        and (client is None or client[0] == round_id)
        and led.copy_failures < MAX_FAILURES
        and led.stale_copies < MAX_STALE
    )


def _round_facts(
    ledger: r.Ledger, vms: list[_Vm], observed: Observed, failing: bool
) -> Iterator[r.Record]:
    current = ledger.open_round
    if current is not None:
        left = tuple(_out_of_round(ledger, current))
        if left:
            yield from left
            return
        server = observed.target.servers.get(current.id)
        if server is not None and server.phase == Phase.FAILED:
            for name in current.active:
                yield r.ClientEnded(current.id, name, f"rsync server failed: {server.message}")
        if not current.active and not _round_leftovers(current.id, observed):
            yield r.RoundClosed(current.id)
        elif current.active and not failing:
            yield from _membership(current, vms, observed)
            yield from _stamps(current, vms, observed)
        return
    if failing:
        return
    yield from _too_many(vms)
    bound = [vm for vm in vms if _bound_for_offline(vm)]
    if bound:
        yield r.RoundOpened(_next_round(ledger, observed), tuple(vm.name for vm in bound))


def _out_of_round(ledger: r.Ledger, current: r.RoundLedger) -> Iterator[r.Record]:
    """Members no longer due for this round's copy: deleted on the source, or (in a round
    carried on after the journal was lost) copied, migrated or being migrated live."""
    for name in current.active:
        led = ledger.vms[name]
        if led.gone:
            yield r.ClientEnded(current.id, name, r.GONE)
        elif led.done or led.copied is not None or led.live_open:
            yield r.ClientEnded(current.id, name, "abandoned")


def _too_many(vms: list[_Vm]) -> Iterator[r.Record]:
    """A VM due for a copy after too many failed or distrusted ones fails the job."""
    for vm in vms:
        led = vm.ledger
        due = not led.done and led.copied is None and not led.live_open and not vm.wants_running
        if due and led.copy_failures >= MAX_FAILURES:
            yield r.Failing(
                f"{vm.name}: {led.copy_failures} offline copies failed: {led.last_failure}"
            )
            return
        if due and led.stale_copies >= MAX_STALE:
            yield r.Failing(
                f"{vm.name}: its object changed during each of {led.stale_copies} offline "
                f"copies ({led.last_failure}); stop whatever keeps writing it, or start it and "
                "migrate it live"
            )
            return


def _observed_rounds(observed: Observed) -> set[int]:
    clients = {o.client[0] for o in observed.source.vms.values() if o.client}
    return clients | set(observed.target.servers)


def _next_round(ledger: r.Ledger, observed: Observed) -> int:
    """Never an id the clusters already hold pods of, journal or not."""
    known = {x.id for x in ledger.rounds} | _observed_rounds(observed)
    return max(known, default=0) + 1


def _found_rounds(ledger: r.Ledger, vms: list[_Vm], observed: Observed) -> Iterator[r.Record]:
    """Rounds whose pods the clusters hold and the ledger does not know (the journal was
    lost): carried on with the members their pods name, so nothing healthy is deleted and
    no second round runs beside them."""
    known = {x.id for x in ledger.rounds}
    for round_id in sorted(_observed_rounds(observed) - known):
        serving = observed.target.serving.get(round_id, frozenset())
        members = tuple(
            vm.name
            for vm in vms
            if vm.name in serving or (vm.source.client and vm.source.client[0] == round_id)
        )
        yield r.RoundFound(round_id, members)


def _stamps(current: r.RoundLedger, vms: list[_Vm], observed: Observed) -> Iterator[r.Record]:
    """Once the server runs, each member about to get its client has its stamp recorded,
    then and not before; a member whose client is not made yet is stamped again if its
    object changed meanwhile (no copy has begun)."""
    server = observed.target.servers.get(current.id)
    if server is None or not server.running:
        return
    by_name = {vm.name: vm for vm in vms}
    serving = observed.target.serving.get(current.id)
    for name in current.active:
        if serving is not None and name not in serving:
            continue  # late: it waits for the next round
        vm = by_name[name]
        stamp = vm.stamp
        ready = vm.quiet and vm.target.volumes_ready and vm.source.client is None
        fresh = stamp is not None and current.stamps.get(name) != stamp
        if fresh and stamp is not None and ready and not vm.wants_running:
            yield r.CopyBegun(current.id, name, stamp)


def _membership(current: r.RoundLedger, vms: list[_Vm], observed: Observed) -> Iterator[r.Record]:
    """Until its server runs, a round takes every VM that becomes ready for a copy; once it
    runs, a member its server was not made for waits for the next round."""
    server = observed.target.servers.get(current.id)
    serving = observed.target.serving.get(current.id)
    if server is not None and server.running:
        for name in current.active:
            if serving is not None and name not in serving:
                yield r.ClientEnded(current.id, name, r.LATE)
        return
    if server is not None and server.phase != Phase.PENDING:
        return
    for vm in vms:
        if vm.name not in current.vms and _bound_for_offline(vm, current.id):
            yield r.RoundJoined(current.id, vm.name)


def _round_leftovers(round_id: int, observed: Observed) -> bool:
    """Pods of the round still there, in either cluster."""
    clients = [o.client for o in observed.source.vms.values() if o.client]
    return round_id in observed.target.servers or any(c[0] == round_id for c in clients)


def _target_final(vm: _Vm) -> bool:
    definition = vm.target.definition
    return (
        definition is not None
        and not definition.receiver
        and definition.running == (vm.ledger.copied == Mode.LIVE)
        and vm.target.volumes_ready
        and vm.target.transfer is None
    )


def _source_final(job: Job, vm: _Vm) -> bool:
    definition = vm.source.definition
    # Every pod gone, a completed one too: the mark halts the VM, and KubeVirt then takes
    # the final instance and its pod away.
    settled = vm.source.transfer is None and vm.source.client is None and not vm.source.launchers
    if definition is None:
        return settled
    return settled and not job.delete_source and _marked(job, vm)


def _end(ledger: r.Ledger, vms: list[_Vm], observed: Observed) -> Iterator[r.Record]:
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


def _keeps_volumes(vm: _Vm) -> bool:
    """A complete offline copy of a VM deleted on its source keeps its disks on the target,
    and so does one the ledger knows nothing of (its journal was lost): they may be the
    only copy left."""
    return vm.ledger.gone and (vm.ledger.copied == Mode.OFFLINE or _unknown(vm))


def _untouched(vm: _Vm) -> bool:
    """Nothing of the job left for a VM it did not migrate."""
    return (
        (vm.ledger.gone or (vm.ledger.copied is None and not vm.ledger.live_open))
        and not vm.transfer_objects
        and not vm.target.launchers
        and vm.target.definition is None
        and (_keeps_volumes(vm) or not vm.target.volumes_ready)
        and vm.source.client is None
    )


# Actions


def _actions(job: Job, ledger: r.Ledger, vms: list[_Vm], observed: Observed) -> Iterator[Action]:
    for vm in vms:
        if vm.ledger.gone:
            yield from _undo(job, ledger, vm)
        elif not vm.ledger.done:
            yield from _vm_actions(job, ledger, vm)
    current = ledger.open_round
    if current is not None:
        yield from _round_actions(current, vms, observed)


def _vm_actions(job: Job, ledger: r.Ledger, vm: _Vm) -> Iterator[Action]:
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


def _undo(job: Job, ledger: r.Ledger, vm: _Vm) -> Iterator[Action]:
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
    undo = (ledger.failing is not None or vm.ledger.gone) and not _marked(job, vm)
    if undo and quiet and leftovers:
        yield RemoveFromTarget(vm.name, keep_volumes=keep)


def _live_actions(vm: _Vm) -> Iterator[Action]:
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


def _receiver_scheduled(vm: _Vm) -> bool:
    """The receiving pod got a node. Until then the cutover does not begin, so a receiver
    the target has no room for can still be cancelled: nothing has left the source."""
    return any(
        not p.deleting and not (p.phase == Phase.PENDING and p.message) for p in vm.target.launchers
    )


def _round_actions(current: r.RoundLedger, vms: list[_Vm], observed: Observed) -> Iterator[Action]:
    """Volumes first (the server mounts them), the server once every member is quiet, the
    clients once it runs, each with the stamp recorded for it."""
    server = observed.target.servers.get(current.id)
    by_name = {vm.name: vm for vm in vms}
    members = [by_name[name] for name in current.active]
    if members:
        for vm in members:
            if not vm.target.volumes_ready:
                yield PrepareVolumes(vm.name)
        settled = all(vm.quiet and vm.target.volumes_ready for vm in members)
        if server is None:
            if settled:
                yield CreateServer(current.id, current.active)
            return
        serving = observed.target.serving.get(current.id)
        if serving is not None and not set(current.active) <= serving and not server.running:
            if not server.deleting:
                yield DeleteServer(current.id)
            return
        if not server.running:
            return
        for vm in members:
            stamp = current.stamps.get(vm.name)
            if vm.source.client is None and vm.quiet and stamp is not None:
                yield CreateClient(current.id, vm.name, stamp)
        return
    for vm in vms:
        client = vm.source.client
        if client is not None and client[0] == current.id and not client[1].deleting:
            yield DeleteClient(current.id, vm.name)
    if server is not None and not server.deleting:
        yield DeleteServer(current.id)
