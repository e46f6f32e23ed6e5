"""Stalls: a receiving pod that waits too long marks its task `stalled` and raises one alert
per stall, found both from the agent's reports and by the hub's own timer."""

from datetime import datetime

from hub.migration import transitions
from hub.models.api import (
    Alert,
    AlertKind,
    Condition,
    Migration,
    State,
)
from hub.service import Hub


def stall_alert(migration: Migration, condition: Condition, now: datetime) -> Alert:
    """One alert per stall: its id is made of what identifies the stall, so the reports that
    follow while it lasts do not repeat it."""
    stamp = condition.since.strftime("%Y%m%dT%H%M%S%f")
    return Alert(
        id=f"alert-stalled-{migration.id}-{condition.vm.replace('/', '.')}-{stamp}",
        kind=AlertKind.STALLED,
        severity="warning",
        message=f"migration {migration.id} to {migration.target_cluster} is stalled: "
        f"{condition.message}",
        cluster=migration.target_cluster,
        migration_id=migration.id,
        created_at=now,
    )


async def watch_stalls(hub: Hub) -> int:
    """Raise `stalled` on running tasks whose receiving pod has waited too long, without
    waiting for the agent's next report; answers how many tasks changed."""
    now = hub.clock()
    after = hub.settings.stall_after
    changed = 0
    for task in await hub.store.tasks(State.RUNNING, None, hub.settings.list_limit):
        if transitions.restalled(task, now, after) is None:
            continue
        updated = await hub.store.update_migration(
            task.migration_id, transitions.Restall(now, after), now
        )
        if updated is None:
            continue
        changed += 1
        for condition in updated[1].conditions:
            await hub.store.add_alert(stall_alert(updated[0], condition, now))
    return changed
