"""How a migration and its task change state: pure transitions the store applies inside the
transaction that reads them, so a change is never computed from a stale copy."""

from dataclasses import dataclass
from datetime import datetime

from hub.models.api import Migration, State, Task


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
