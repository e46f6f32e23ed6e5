"""The executor's state logic: (job, ledger, observed clusters) -> the next steps. Pure.

A pass first notes new facts (records: a copy completed, the VM was stopped, a round is
over); only when there is nothing new to note does it return actions, each idempotent, that
move the observed state towards the ledger's. The reconcile loop writes the records, then
asks again, so every action is chosen from a ledger that has caught up with what it sees.

The rules, in the words of `scenarios/vm-state-changes.yaml`: a running VM migrates live, a
stopped one is copied offline in rounds; a round takes a new member only until its server is
Running (a server not yet Running is made again with the new member's volumes, and clients
start once it runs); a VM whose client was in a round waits for that round to be over before
it migrates live; rsync pods for a VM come only after its virt-launcher pods are gone; a
change to one VM touches only that VM.
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
    StartSending,
    StopReceiving,
    StopSending,
    VmObjects,
)

MAX_FAILURES = 3
"""Live attempts, or offline copies, that may fail for one VM before the job fails."""


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
        """Any virt-launcher pod of it, on either side: a stopping VM still counts."""
        return bool(self.source.launchers or self.target.launchers)

    @property
    def receiving(self) -> bool:
        """The target holds a receiver definition or a receiving migration object."""
        receiver = self.target.definition is not None and self.target.definition.receiver
        return self.target.transfer is not None or receiver

    @property
    def transfer_objects(self) -> bool:
        return self.source.transfer is not None or self.receiving

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
    failing = ledger.failing is not None
    for vm in vms:
        if not vm.ledger.done:
            yield from _vm_facts(job, ledger, vm, failing and not _let_through(ledger, vm))
    yield from _round_facts(ledger, vms, observed, failing)
    yield from _end(ledger, vms, observed)


def _let_through(ledger: r.Ledger, vm: _Vm) -> bool:
    """A cancel stops what has not begun its cutover; a VM already being sent finishes."""
    failing = ledger.failing
    transfer = vm.source.transfer
    return (
        failing is not None
        and failing.cancelled
        and vm.ledger.live_open
        and transfer is not None
        and transfer.attempt == vm.ledger.attempt
    )


def _hazards(vms: list[_Vm]) -> Iterator[r.Record]:
    for vm in vms:
        if vm.ledger.done:
            continue
        if vm.runs_on_target and vm.source.launcher_running:
            yield r.Failing(
                f"{vm.name} is running on both clusters; nothing was changed, decide which "
                "copy to keep and stop the other",
                touch_nothing=True,
            )
            return
        if vm.source.definition is None and vm.ledger.copied is None:
            yield r.Failing(f"{vm.name} is not on the source cluster (deleted mid-flight?)")
            return


def _vm_facts(job: Job, ledger: r.Ledger, vm: _Vm, failing: bool) -> Iterator[r.Record]:
    led = vm.ledger
    if led.live_open:
        yield from _live_facts(vm, failing)
    elif led.copied is None:
        yield from _copy_facts(ledger, vm, failing)
    elif (
        led.copied == Mode.OFFLINE
        and not led.source_final
        and (vm.wants_running or vm.source.launchers)
    ):
        yield r.CopyVoided(vm.name)
    elif not led.target_final and _target_final(vm):
        yield r.TargetFinalized(vm.name)
    elif led.target_final and vm.target.definition is None:
        yield r.TargetLost(vm.name)
    elif led.target_final and not led.source_final and _source_final(job, vm):
        yield r.SourceFinalized(vm.name)


def _live_facts(vm: _Vm, failing: bool) -> Iterator[r.Record]:
    attempt = vm.ledger.attempt
    transfers = [t for t in (vm.source.transfer, vm.target.transfer) if t and t.attempt == attempt]
    if any(t.phase == Phase.SUCCEEDED for t in transfers):
        yield r.LiveEnded(vm.name, attempt, "succeeded")
        yield r.Copied(vm.name, Mode.LIVE)
    elif not vm.wants_running:
        yield r.LiveEnded(vm.name, attempt, "stopped")
    elif failed := [t for t in transfers if t.phase == Phase.FAILED]:
        yield r.LiveEnded(vm.name, attempt, f"live migration failed: {failed[0].message}")
    elif any(p.phase == Phase.FAILED for p in vm.target.launchers):
        yield r.LiveEnded(vm.name, attempt, "the receiving virt-launcher pod failed")
    elif failing:
        yield r.LiveEnded(vm.name, attempt, "abandoned")


def _copy_facts(ledger: r.Ledger, vm: _Vm, failing: bool) -> Iterator[r.Record]:
    led = vm.ledger
    current = ledger.open_round
    member = current is not None and vm.name in current.active
    client = vm.source.client[1] if vm.source.client else None
    if _landed(vm):
        yield r.Copied(vm.name, Mode.LIVE, adopted=True)
    elif member and current is not None:
        if vm.wants_running or vm.source.launchers:
            yield r.ClientEnded(current.id, vm.name, "started")
        elif client is not None and client.phase == Phase.SUCCEEDED:
            yield r.ClientEnded(current.id, vm.name, "succeeded")
            yield r.Copied(vm.name, Mode.OFFLINE)
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
            yield r.LiveStarted(vm.name, led.attempt + 1)


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
    return (
        vm.wants_running
        and vm.source.launcher_running
        and vm.source.client is None
        and (last is None or last.closed)
        and not vm.transfer_objects
        and not vm.target.launchers
    )


def _ready_for_offline(vm: _Vm) -> bool:
    """Stopped, with both virt-launcher pods gone and nothing of a live attempt left (I3)."""
    led = vm.ledger
    return (
        led.copied is None
        and not led.live_open
        and not vm.wants_running
        and not vm.launchers
        and not vm.transfer_objects
        and vm.source.client is None
    )


def _round_facts(
    ledger: r.Ledger, vms: list[_Vm], observed: Observed, failing: bool
) -> Iterator[r.Record]:
    current = ledger.open_round
    if current is not None:
        server = observed.target.servers.get(current.id)
        if server is not None and server.phase == Phase.FAILED:
            for name in current.active:
                yield r.ClientEnded(current.id, name, f"rsync server failed: {server.message}")
        if not current.active and not _round_leftovers(current.id, observed):
            yield r.RoundClosed(current.id)
        elif current.active and not failing:
            yield from _membership(current, vms, observed)
        return
    if failing:
        return
    ready = [vm for vm in vms if not vm.ledger.done and _ready_for_offline(vm)]
    for vm in ready:
        if vm.ledger.copy_failures >= MAX_FAILURES:
            yield r.Failing(
                f"{vm.name}: {vm.ledger.copy_failures} offline copies failed: "
                f"{vm.ledger.last_failure}"
            )
            return
    if ready:
        next_id = max((x.id for x in ledger.rounds), default=0) + 1
        yield r.RoundOpened(next_id, tuple(vm.name for vm in ready))


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
        if (
            vm.name not in current.vms
            and not vm.ledger.done
            and vm.ledger.copy_failures < MAX_FAILURES
            and _ready_for_offline(vm)
        ):
            yield r.RoundJoined(current.id, vm.name)


def _round_leftovers(round_id: int, observed: Observed) -> bool:
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
    settled = vm.source.transfer is None and vm.source.client is None and not vm.source.launchers
    if definition is None:
        return settled
    return settled and not job.delete_source and definition.migrated_by == job.id


def _end(ledger: r.Ledger, vms: list[_Vm], observed: Observed) -> Iterator[r.Record]:
    failing = ledger.failing
    if failing is not None and failing.touch_nothing:
        yield r.Ended(failed=failing.reason)
        return
    if ledger.open_round is not None or observed.target.servers:
        return
    if failing is None and all(vm.ledger.done for vm in vms):
        yield r.Ended()
    elif failing is not None and all(vm.ledger.done or _untouched(vm) for vm in vms):
        yield r.Ended(failed=failing.reason)


def _untouched(vm: _Vm) -> bool:
    """Nothing of the job left for a VM it did not migrate."""
    return (
        vm.ledger.copied is None
        and not vm.ledger.live_open
        and not vm.transfer_objects
        and not vm.target.launchers
        and vm.target.definition is None
        and not vm.target.volumes_ready
        and vm.source.client is None
    )


# Actions


def _actions(job: Job, ledger: r.Ledger, vms: list[_Vm], observed: Observed) -> Iterator[Action]:
    for vm in vms:
        if not vm.ledger.done:
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
            yield FinalizeSource(vm.name, job.id, job.delete_source)
        return
    if led.live_open:
        yield from _live_actions(vm)
        return
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
    leftovers = vm.target.definition is not None or vm.target.volumes_ready
    quiet = not vm.transfer_objects and not vm.target.launchers
    if ledger.failing is not None and quiet and leftovers:
        yield RemoveFromTarget(vm.name)


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
    server = observed.target.servers.get(current.id)
    by_name = {vm.name: vm for vm in vms}
    if current.active:
        if server is None:
            yield CreateServer(current.id, current.vms)
            return
        serving = observed.target.serving.get(current.id)
        if serving is not None and serving != frozenset(current.vms) and not server.running:
            if not server.deleting:
                yield DeleteServer(current.id)
            return
        if not server.running:
            return
        for name in current.active:
            vm = by_name[name]
            if vm.source.client is not None or vm.launchers or vm.transfer_objects:
                continue
            yield (
                PrepareVolumes(name)
                if not vm.target.volumes_ready
                else CreateClient(current.id, name)
            )
        return
    for vm in vms:
        client = vm.source.client
        if client is not None and client[0] == current.id and not client[1].deleting:
            yield DeleteClient(current.id, vm.name)
    if server is not None and not server.deleting:
        yield DeleteServer(current.id)
