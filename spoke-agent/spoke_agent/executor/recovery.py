"""What the executor recognises without a record of it: a VM deleted on its source, one
already running on the target, a live attempt or a finalized VM found in the clusters after
the journal was lost. Each rule prefers keeping data to guessing."""

from spoke_agent.executor.model import (
    Job,
    Mode,
    Phase,
)
from spoke_agent.executor.view import VmView, final_on_target, marked, unknown


def left_the_job(vm: VmView) -> bool:
    """Deleted on the source before its source was finalized, and not already living on
    the target (migrated live, or found running there): it leaves the job."""
    led = vm.ledger
    adoptable = unknown(vm) and final_on_target(vm)
    return not (
        led.gone
        or vm.source.definition is not None
        or led.source_final
        or led.finalizing_source
        or led.copied == Mode.LIVE
        or vm.runs_on_target
        or adoptable
    )


def landed(vm: VmView) -> bool:
    """Running on the target and not on the source, with no migration other than a finished
    one: it got there before a crash took the record with it."""
    transfers = [t for t in (vm.source.transfer, vm.target.transfer) if t is not None]
    return (
        vm.runs_on_target
        and not vm.source.launcher_running
        and all(t.phase == Phase.SUCCEEDED for t in transfers)
    )


def found_attempt(vm: VmView) -> int:
    """A live attempt in flight that the ledger does not know (the journal was lost): it is
    carried on rather than cancelled; 0 when there is none."""
    transfers = [t for t in (vm.source.transfer, vm.target.transfer) if t is not None]
    attempt = max((t.attempt for t in transfers), default=0)
    going = all(t.phase in (Phase.PENDING, Phase.RUNNING) for t in transfers)
    runs = vm.wants_running and vm.source.launcher_running
    return attempt if attempt > vm.ledger.attempt and going and runs else 0


def finalized(job: Job, vm: VmView) -> bool:
    """Finalized with no record of it (the journal was lost): the source carries this job's
    mark, which it gets only after a trusted copy was finalized on the target (and which no
    record undoes), or, with nothing known of the VM, the source is gone while the target
    holds the VM with its disks. Never a guess that loses data:
    without the journal, a source deleted by its owner after the copy counts as this."""
    if vm.ledger.copied is not None or not vm.target.volumes_ready:
        return False
    return marked(job, vm) or (unknown(vm) and vm.source.definition is None and final_on_target(vm))
