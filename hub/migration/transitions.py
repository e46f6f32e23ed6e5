"""How a migration and its task change state: pure transitions the store applies inside the
transaction that reads them, so a change is never computed from a stale copy."""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.models.api import Condition, Migration, Progress, ProgressState, State, Task, TaskVm

KEPT_SOURCE = (
    "once a VM has migrated, its source VM is kept, stopped and marked as migrated: starting "
    "it again would run a second copy beside the migrated one, so the agent refuses to start "
    "it; delete it once the migrated VM is confirmed, or ask for delete_source"
)
"""A finished migration's warning; one that ended before any cutover leaves the source VM
as it was, and must not say otherwise."""


def _ended(
    migration: Migration, task: Task, state: State, message: str, at: datetime
) -> tuple[Migration, Task]:
    warnings = task.warnings
    if state != State.FINISHED and not past_cutover(task):
        warnings = tuple(w for w in warnings if w != KEPT_SOURCE)
    return (
        migration.model_copy(update={"state": state, "updated_at": at}),
        task.model_copy(
            update={
                "state": state,
                "message": message,
                "updated_at": at,
                "finished_at": at,
                "warnings": warnings,
            }
        ),
    )


def past_cutover(task: Task) -> list[str]:
    return [vm.vm for vm in task.vms if vm.phase.past_cutover]


@dataclass(frozen=True, slots=True)
class Cancel:
    """An operator's cancel; a migration that already ended, or one with a VM whose cutover
    has begun, is left as it is. Decided inside the store's transaction, so a progress
    report announcing a cutover and a cancel cannot both win."""

    who: str
    at: datetime

    def __call__(self, migration: Migration, task: Task) -> tuple[Migration, Task] | None:
        if not migration.state.active or past_cutover(task):
            return None
        message = f"cancelled by {self.who}; reservation released"
        return _ended(migration, task, State.CANCELLED, message, self.at)


@dataclass(frozen=True, slots=True)
class Expire:
    """A reservation that lapsed without progress fails its migration: the capacity is no
    longer held, so carrying on could land VMs where they no longer fit."""

    at: datetime

    def __call__(self, migration: Migration, task: Task) -> tuple[Migration, Task] | None:
        if not migration.state.active:
            return None
        message = (
            "failed: the reservation expired without progress from the source cluster's agent, "
            "so its capacity was released; check again and start a new migration"
        )
        return _ended(migration, task, State.FAILED, message, self.at)


@dataclass(frozen=True, slots=True)
class Retire:
    """A migration to or from a cluster that is gone fails, past its cutover or not: nothing
    can carry it on there, and its reservations would be held for a cluster the hub no
    longer knows (nor expire: a released claim has nothing left to lapse)."""

    cluster: str
    at: datetime

    def __call__(self, migration: Migration, task: Task) -> tuple[Migration, Task] | None:
        if not migration.state.active:
            return None
        message = (
            f"failed: cluster {self.cluster} was retired (its ManagedCluster is gone), so this "
            "migration cannot go on; its reservation was released"
        )
        return _ended(migration, task, State.FAILED, message, self.at)


@dataclass(frozen=True, slots=True)
class Report:
    """The executor's progress: the first report starts the task; a final one ends it. A
    migration that already ended (cancelled, expired) is left as it is. A receiving pod seen
    Pending for longer than `stall_after` puts a `stalled` condition on the task."""

    progress: Progress
    at: datetime
    stall_after: timedelta = timedelta(minutes=5)

    def __call__(self, migration: Migration, task: Task) -> tuple[Migration, Task] | None:
        if not migration.state.active:
            return self._after_end(migration, task)
        state = State(self.progress.state.value)
        done = state == State.FINISHED
        given = {vm.vm: vm for vm in self.progress.vms}
        vms = tuple(_merge(vm, given.get(vm.vm), self.at) for vm in task.vms)
        changes: dict[str, object] = {
            "state": state,
            "message": self.progress.message or task.message,
            "progress": 100 if done else self.progress.progress,
            "vms": vms,
            "conditions": tuple(stalled(vms, self.at, self.stall_after)) if state.active else (),
            "updated_at": self.at,
            "reported_at": self.at,
            "started_at": task.started_at or self.at,
        }
        if not state.active:
            changes["finished_at"] = self.at
        return (
            migration.model_copy(update={"state": state, "updated_at": self.at}),
            task.model_copy(update=changes),
        )

    def _after_end(self, migration: Migration, task: Task) -> tuple[Migration, Task] | None:
        """The hub ended the migration while the agent still ran it: the agent undoes it,
        and what it says goes to `cleanup`, so the task shows when the target is clean.
        The migration's state stays as the hub decided."""
        agents_own_end = self.progress.message == task.message
        if task.cleaned_up_at is not None or migration.state == State.FINISHED or agents_own_end:
            return None
        given = {vm.vm: vm for vm in self.progress.vms}
        changes: dict[str, object] = {
            "vms": tuple(_merge(vm, given.get(vm.vm), self.at) for vm in task.vms),
            "cleanup": self.progress.message,
            "updated_at": self.at,
        }
        if self.progress.state != ProgressState.RUNNING:
            changes["cleaned_up_at"] = self.at
        return migration, task.model_copy(update=changes)


@dataclass(frozen=True, slots=True)
class Restall:
    """The `stalled` conditions as of `at`, between progress reports: the hub's clock runs
    on while an agent is quiet. Leaves the task alone when they are the same."""

    at: datetime
    after: timedelta

    def __call__(self, migration: Migration, task: Task) -> tuple[Migration, Task] | None:
        conditions = restalled(task, self.at, self.after)
        if not migration.state.active or conditions is None:
            return None
        return migration, task.model_copy(update={"conditions": conditions, "updated_at": self.at})


def restalled(task: Task, at: datetime, after: timedelta) -> tuple[Condition, ...] | None:
    """The task's `stalled` conditions as of `at`, or None when the same VMs stall."""
    conditions = tuple(stalled(task.vms, at, after))
    return None if [c.vm for c in conditions] == [c.vm for c in task.conditions] else conditions


def _merge(old: TaskVm, new: TaskVm | None, at: datetime) -> TaskVm:
    """A VM as reported replaces the hub's copy, but keeps the node the check planned (the
    agent does not know it). The hub's own clock dates a Pending receiving pod, from the
    first report showing it: an agent's clock may be off, and a new pod starts a new wait.
    The same clock dates the VM's phase, for how long each phase lasts."""
    if new is None:
        return old
    kept = old.phase_since if new.phase == old.phase and old.phase_since is not None else at
    new = new.model_copy(update={"node": new.node or old.node, "phase_since": kept})
    pod = new.receiving_pod
    if pod is None or pod.phase != "Pending":
        return new.model_copy(update={"pending_since": None})
    same = old.receiving_pod is not None and old.receiving_pod.name == pod.name
    since = old.pending_since if same and old.pending_since is not None else at
    return new.model_copy(update={"pending_since": since})


def stalled(vms: Iterable[TaskVm], at: datetime, after: timedelta) -> Iterator[Condition]:
    for vm in vms:
        pod = vm.receiving_pod
        if vm.pending_since is None or pod is None or at - vm.pending_since < after:
            continue
        waited = int((at - vm.pending_since).total_seconds())
        reason = pod.message or "the scheduler gave no reason"
        yield Condition(
            type="stalled",
            vm=vm.vm,
            message=f"{vm.vm}: receiving pod {pod.name} has been Pending for {waited} s: {reason}",
            since=vm.pending_since,
        )
