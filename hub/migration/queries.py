"""What the console and the agents read about migrations: one place that turns a missing
record into the error a caller can act on, so no handler reads the store itself."""

from hub.errors import NotFound
from hub.models.api import Migration, State, Task
from hub.models.wire.codes import ErrorCode
from hub.service import Hub
from hub.store import Tallies


async def migration(hub: Hub, migration_id: str) -> Migration:
    found = await hub.store.migration(migration_id)
    if found is None:
        raise NotFound(f"no migration {migration_id!r}", code=ErrorCode.UNKNOWN_MIGRATION)
    return found


async def migrations(
    hub: Hub, state: State | None, cluster: str | None, limit: int
) -> list[Migration]:
    return await hub.store.migrations(state, cluster, limit)


async def task(hub: Hub, task_id: str) -> Task:
    found = await hub.store.task(task_id)
    if found is None:
        raise NotFound(f"no task {task_id!r}", code=ErrorCode.UNKNOWN_TASK)
    return found


async def task_of(hub: Hub, accepted: Migration) -> Task:
    """The task of a migration just accepted (written in the same transaction)."""
    found = await hub.store.task(accepted.task_id)
    if found is None:
        raise NotFound(f"migration {accepted.id} has no task", code=ErrorCode.UNKNOWN_TASK)
    return found


async def tasks(hub: Hub, state: State | None, cluster: str | None, limit: int) -> list[Task]:
    return await hub.store.tasks(state, cluster, limit)


async def jobs(hub: Hub, source_cluster: str) -> list[Migration]:
    """The active migrations `source_cluster`'s agent is to carry out, oldest first."""
    return await hub.store.jobs(source_cluster)


async def tallies(hub: Hub) -> Tallies:
    """What the metrics count of migrations, claims and grants."""
    return await hub.store.tallies()
