"""One VM as a decision sees it: its ledger and what each cluster holds of it, and the
questions about that one VM that both the per-VM rules and the rounds ask."""

from dataclasses import dataclass

from spoke_agent.executor import records as r
from spoke_agent.executor.budget import MAX_FAILURES, MAX_STALE
from spoke_agent.executor.model import (
    Job,
    Phase,
    Stamp,
    VmObjects,
)


@dataclass(frozen=True, slots=True)
class VmView:
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


def marked(job: Job, vm: VmView) -> bool:
    """The source carries this job's mark: finalizing it moved the stamp, and succeeded only
    because the stamp still held (its precondition)."""
    definition = vm.source.definition
    return definition is not None and definition.migrated_by == job.id


def unknown(vm: VmView) -> bool:
    """The ledger holds nothing of what the job did to the VM: its journal was lost."""
    led = vm.ledger
    return led.copied is None and led.attempt == 0 and led.round is None


def final_on_target(vm: VmView) -> bool:
    """The target holds the VM, no longer a receiver, with its disks: as finalizing does."""
    target = vm.target.definition
    return target is not None and not target.receiver and vm.target.volumes_ready


def bound_for_offline(vm: VmView, round_id: int | None = None) -> bool:
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
