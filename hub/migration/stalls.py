"""Stalls: a receiving pod that waits too long marks its task `stalled` and raises one alert
per stall, found both from the agent's reports and by the hub's own timer."""

from datetime import datetime

from hub.feeds import alerts, conditions
from hub.migration import transitions
from hub.models.api import Alert, Condition, Migration, State, Task
from hub.models.feeds import EventType
from hub.service import Hub


def stall_alert(migration: Migration, condition: Condition, now: datetime) -> Alert:
    """The alert the feeds' evaluation would raise for this stall, raised at once: its id
    is made of what identifies the stall, so the passes that follow keep it, not repeat it."""
    return alerts.raised(conditions.stall(migration, condition), now)


async def raise_stalls(hub: Hub, migration: Migration, task: Task, now: datetime) -> None:
    for condition in task.conditions:
        alert = stall_alert(migration, condition, now)
        await hub.store.feeds.raise_alert(alert, alerts.announcement(EventType.RAISED, alert, now))


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
        await raise_stalls(hub, *updated, now)
    return changed
