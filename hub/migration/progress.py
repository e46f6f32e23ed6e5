"""A source agent's progress on its job: the task follows it, the reservation is renewed while
the job runs, shrinks as VMs land and is released once the job ends."""

from dataclasses import dataclass

from hub.errors import Forbidden, Invalid, NotFound
from hub.migration import transitions
from hub.migration.stalls import raise_stalls
from hub.models.api import (
    Migration,
    Progress,
    ProgressReceipt,
    ProgressState,
    Task,
)
from hub.models.wire.codes import ErrorCode
from hub.service import Hub


def _landed(migration: Migration) -> set[str]:
    reservation = migration.reservation
    if reservation is None:
        return set()
    return {vm for vm, s in reservation.claim.shares.items() if s.landed_at is not None}


@dataclass(frozen=True, slots=True)
class Recorded:
    receipt: ProgressReceipt
    before: Task | None
    """The task as it was, for what the report moved (the metrics)."""
    after: Task
    migration: Migration


async def record(hub: Hub, cluster: str, migration_id: str, progress: Progress) -> Recorded:
    """A source spoke's progress on one of its jobs: updates the task, renews the
    reservation while the job runs, releases it once the job ends."""
    current = await hub.store.migration(migration_id)
    if current is None:
        raise NotFound(f"no migration {migration_id!r}", code=ErrorCode.UNKNOWN_MIGRATION)
    if current.source_cluster != cluster:
        raise Forbidden(
            f"migration {migration_id} runs from {current.source_cluster!r}, not {cluster!r}",
            code=ErrorCode.WRONG_CLUSTER,
        )
    unknown = sorted({vm.vm for vm in progress.vms} - set(current.vms))
    if unknown:
        raise Invalid(
            f"not part of migration {migration_id}: {', '.join(unknown)}",
            details={"vms": unknown, "migration_vms": list(current.vms)},
            code=ErrorCode.UNKNOWN_VM,
        )
    before = await hub.store.task(current.task_id)
    now = hub.clock()
    change = transitions.Report(progress, now, hub.settings.stall_after)
    updated = await hub.store.update_migration(
        migration_id, change, now, renew_until=now + hub.settings.claim_ttl
    )
    if updated is None:
        raise NotFound(f"no migration {migration_id!r}", code=ErrorCode.UNKNOWN_MIGRATION)
    migration, task = updated
    await raise_stalls(hub, migration, task, now)
    ended = current.state.active and not migration.state.active
    if ended or _landed(current) != _landed(migration):
        await hub.resync(migration.target_cluster)
    reservation = migration.reservation
    live = reservation is not None and reservation.released_at is None
    receipt = ProgressReceipt(
        migration_id=migration.id,
        state=migration.state,
        cancel=not migration.state.active and progress.state == ProgressState.RUNNING,
        reservation_expires_at=reservation.claim.expires_at if reservation and live else None,
    )
    return Recorded(receipt, before, task, migration)
