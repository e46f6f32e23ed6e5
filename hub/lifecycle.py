"""How a migration and its task change state: pure transitions the store applies inside the
transaction that reads them, so a change is never computed from a stale copy."""

from dataclasses import dataclass
from datetime import datetime

from hub.models.api import Migration, Progress, State, Task


def _ended(
    migration: Migration, task: Task, state: State, message: str, at: datetime
) -> tuple[Migration, Task]:
    return (
        migration.model_copy(update={"state": state, "updated_at": at}),
        task.model_copy(
            update={"state": state, "message": message, "updated_at": at, "finished_at": at}
        ),
    )


@dataclass(frozen=True, slots=True)
class Cancel:
    """An operator's cancel; a migration that already ended is left as it is."""

    who: str
    at: datetime

    def __call__(self, migration: Migration, task: Task) -> tuple[Migration, Task] | None:
        if not migration.state.active:
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
class Report:
    """The executor's progress: the first report starts the task; a final one ends it. A
    migration that already ended (cancelled, expired) is left as it is."""

    progress: Progress
    at: datetime

    def __call__(self, migration: Migration, task: Task) -> tuple[Migration, Task] | None:
        if not migration.state.active:
            return None
        state = State(self.progress.state.value)
        done = state == State.FINISHED
        given = {vm.vm: vm for vm in self.progress.vms}
        vms = tuple(given.get(vm.vm, vm) for vm in task.vms)
        changes: dict[str, object] = {
            "state": state,
            "message": self.progress.message or task.message,
            "progress": 100 if done else self.progress.progress,
            "vms": vms,
            "updated_at": self.at,
            "started_at": task.started_at or self.at,
        }
        if not state.active:
            changes["finished_at"] = self.at
        return (
            migration.model_copy(update={"state": state, "updated_at": self.at}),
            task.model_copy(update=changes),
        )
