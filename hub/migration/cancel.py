"""Cancelling a migration: refused once a cutover has begun, since the VM may already run on
the target; otherwise the claim is released and the source agent told."""

from hub.errors import Conflict, NotFound
from hub.migration import transitions
from hub.models.api import (
    Migration,
    State,
)
from hub.models.wire.codes import ErrorCode
from hub.service import Hub


async def cancel(hub: Hub, migration_id: str, who: str) -> Migration:
    current = await hub.store.migration(migration_id)
    if current is None:
        raise NotFound(f"no migration {migration_id!r}", code=ErrorCode.UNKNOWN_MIGRATION)
    if current.state in (State.FINISHED, State.FAILED):
        raise Conflict(
            f"migration {migration_id} already {current.state.value}; there is nothing to cancel",
            code=ErrorCode.ALREADY_ENDED,
        )
    now = hub.clock()
    updated = await hub.store.update_migration(migration_id, transitions.Cancel(who, now), now)
    if updated is None:
        raise NotFound(f"no migration {migration_id!r}", code=ErrorCode.UNKNOWN_MIGRATION)
    past = transitions.past_cutover(updated[1])
    if updated[0].state.active and past:
        raise Conflict(
            f"migration {migration_id} can no longer be stopped: the cutover of "
            f"{', '.join(past)} has begun; let it finish, then migrate back if needed",
            details={"vms": past},
            code=ErrorCode.CUTOVER_STARTED,
        )
    hub.announce_jobs(current.source_cluster)
    await hub.resync(current.target_cluster)
    return updated[0]
