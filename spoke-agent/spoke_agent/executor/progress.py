"""What the hub is told of a job: its state, a percentage, and per VM the mode, the phase,
the bytes copied and the receiving pod with the scheduler's reason. Pure: read off the
ledger and the last observation, so the same pass that acts also reports."""

from hub.models.wire import MAX_MESSAGE, PodStatus, Progress, ProgressState, TaskVm, VmPhase
from spoke_agent.executor.model import Job, Mode, Observed, VmObjects, receiver_ran
from spoke_agent.executor.records import Ledger, VmLedger

WEIGHTS = {
    VmPhase.PENDING: 0,
    VmPhase.ABANDONED: 0,
    VmPhase.PREPARING: 10,
    VmPhase.RECEIVING: 25,
    VmPhase.COPYING: 40,
    VmPhase.CUTOVER: 60,
    VmPhase.FINALIZING: 90,
    VmPhase.MIGRATED: 100,
}
"""How far along each phase is, for the job's percentage: rough, but it only moves forward
while nothing fails."""


def summarize(
    job: Job, ledger: Ledger, observed: Observed | None, previous: Progress | None = None
) -> Progress:
    """`previous` keeps the bytes a finished copy sent once its client pod is gone."""
    sent = {vm.vm: vm.bytes_copied for vm in previous.vms} if previous else {}
    vms = tuple(_vm(name, ledger, observed, sent.get(name, 0)) for name in job.vms)
    done = sum(vm.phase == VmPhase.MIGRATED for vm in vms)
    if ledger.ended is not None:
        failed = ledger.ended.failed
        state = ProgressState.FAILED if failed else ProgressState.FINISHED
        message = f"failed: {failed}" if failed else f"finished: {done} of {len(vms)} VMs migrated"
        message += _gone(ledger)
    else:
        state = ProgressState.RUNNING
        message = _running_message(ledger, vms, done)
    percent = sum(WEIGHTS[vm.phase] for vm in vms) // max(1, len(vms))
    return Progress(state=state, message=message[:MAX_MESSAGE], progress=percent, vms=vms)


def _gone(ledger: Ledger) -> str:
    gone = [name for name, vm in ledger.vms.items() if vm.gone]
    if not gone:
        return ""
    return (
        f"; deleted on the source mid-flight, so not migrated: {', '.join(gone)} (a complete "
        "offline copy keeps its disks on the target, labelled with the migration)"
    )


def _running_message(ledger: Ledger, vms: tuple[TaskVm, ...], done: int) -> str:
    if ledger.failing is not None:
        return f"stopping: {ledger.failing.reason}; cleaning up what was not migrated"
    moving = ", ".join(f"{vm.vm} {vm.phase.value}" for vm in vms if vm.phase != VmPhase.MIGRATED)
    return f"{done} of {len(vms)} VMs migrated" + (f"; {moving}" if moving else "")


def _vm(name: str, ledger: Ledger, observed: Observed | None, sent: int) -> TaskVm:
    led = ledger.vms[name]
    source = observed.source.vm(name) if observed else VmObjects()
    target = observed.target.vm(name) if observed else VmObjects()
    phase = _phase(ledger, name, led, source, target)
    client = source.client[1] if source.client else None
    receiver = target.launchers[0] if led.live_open and target.launchers else None
    return TaskVm(
        vm=name,
        mode=_mode(ledger, name, led, source),
        phase=phase,
        bytes_copied=max(sent, client.bytes_copied if client else 0),
        message=f"last failure: {led.last_failure}" if led.last_failure else "",
        receiving_pod=(
            PodStatus(name=receiver.name, phase=receiver.phase.value, message=receiver.message)
            if receiver
            else None
        ),
    )


def _phase(
    ledger: Ledger, name: str, led: VmLedger, source: VmObjects, target: VmObjects
) -> VmPhase:
    current = ledger.open_round
    if led.gone:
        return VmPhase.ABANDONED
    if led.done:
        return VmPhase.MIGRATED
    if led.copied is not None:
        return VmPhase.FINALIZING
    if led.live_open:
        sending = source.transfer is not None and source.transfer.attempt == led.attempt
        if sending and receiver_ran(source, target, led.attempt):
            return VmPhase.CUTOVER
        return VmPhase.RECEIVING if target.volumes_ready else VmPhase.PREPARING
    if current is not None and name in current.active:
        return VmPhase.COPYING if source.client is not None else VmPhase.PREPARING
    return VmPhase.ABANDONED if ledger.failing is not None else VmPhase.PENDING


def _mode(ledger: Ledger, name: str, led: VmLedger, source: VmObjects) -> Mode:
    if led.copied is not None:
        return led.copied
    if led.live_open:
        return Mode.LIVE
    current = ledger.open_round
    if current is not None and name in current.active:
        return Mode.OFFLINE
    running = source.definition is not None and source.definition.running
    return Mode.LIVE if running else Mode.OFFLINE
