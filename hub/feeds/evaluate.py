"""One pass of the feeds, run by the replica that holds the sweep lease: gather a view of the
fleet and the migrations in flight, let the pure core say which alerts open, change and
resolve (and which recommendations hold), and write that with its events in one
transaction each."""

from datetime import datetime, timedelta

from hub.capacity import check, scoring
from hub.feeds import advise, alerts, conditions, recommend
from hub.fleet import summaries
from hub.fleet.inventory import Entry
from hub.models.api import Migration, State, Task
from hub.service import Hub

RECENT = 50
"""Failed and finished migrations looked at per pass, newest first."""
EVERY_ACTIVE = 1_000_000
"""Every migration in flight is looked at: one left out would have its alerts resolved."""
TWICE_WINDOW = timedelta(days=1)
"""How long after it finished a migration's VMs are watched for running on both sides."""


def _cluster(hub: Hub, entry: Entry, now: datetime) -> conditions.ClusterView:
    built = hub.inventory.index(entry.name)
    summary = summaries.summary(entry, built, hub.inventory.facts(entry.name), hub.policy, now)
    survives = None
    if built is not None:
        as_it_is = check.batch_aggregates(built, (), {}, check.Context(hub.policy, now))
        survives = bool(scoring.survives_node_loss(as_it_is))
    return conditions.ClusterView(
        entry.name,
        summary.freshness,
        summary.report_age_seconds,
        summary.resources,
        summary.storage,
        survives,
    )


async def _with_tasks(
    hub: Hub, migrations: list[Migration], state: State | None, limit: int
) -> list[tuple[Migration, Task]]:
    """Each migration with its task, the tasks read in one query."""
    tasks = {t.migration_id: t for t in await hub.store.tasks(state, None, limit)}
    return [(m, tasks[m.id]) for m in migrations if m.id in tasks]


def _running(hub: Hub, cluster: str, vm: str) -> bool:
    report = hub.inventory.report(cluster)
    if report is None:
        return False
    namespace, _, name = vm.partition("/")
    return any(v.namespace == namespace and v.name == name and v.running for v in report.vms)


def _twice(hub: Hub, migrations: list[Migration]) -> list[conditions.TwiceRunning]:
    """VMs of migrations in flight or lately finished found running on both sides."""
    found = []
    for m in migrations:
        for vm in m.vms:
            if _running(hub, m.source_cluster, vm) and _running(hub, m.target_cluster, vm):
                found.append(conditions.TwiceRunning(m.id, vm, m.source_cluster, m.target_cluster))
    return found


def _drift(hub: Hub) -> list[conditions.Drift]:
    out = []
    for entry in hub.inventory.entries():
        facts = hub.inventory.facts(entry.name)
        for vm, measured, computed in facts.drift if facts else ():
            out.append(conditions.Drift(entry.name, vm, measured, computed))
    return out


async def view(hub: Hub) -> conditions.View:
    now = hub.clock()
    running = await hub.store.migrations(State.RUNNING, None, EVERY_ACTIVE)
    queued = await hub.store.migrations(State.QUEUED, None, EVERY_ACTIVE)
    failed = [
        m
        for m in await hub.store.migrations(State.FAILED, None, RECENT)
        if now - m.updated_at < hub.settings.failed_alert_for
    ]
    finished = [
        m
        for m in await hub.store.migrations(State.FINISHED, None, RECENT)
        if now - m.updated_at < TWICE_WINDOW
    ]
    active = await _with_tasks(hub, running, State.RUNNING, EVERY_ACTIVE)
    active += await _with_tasks(hub, queued, State.QUEUED, EVERY_ACTIVE)
    return conditions.View(
        clusters=[_cluster(hub, e, now) for e in hub.inventory.entries()],
        active=active,
        failed=await _with_tasks(hub, failed, State.FAILED, RECENT),
        twice=_twice(hub, running + queued + finished),
        drift=_drift(hub),
        policy=hub.policy,
        now=now,
        progress_silence=hub.settings.progress_silence,
    )


async def evaluate(hub: Hub) -> int:
    """One pass; answers how many events it wrote."""
    seen = await view(hub)
    changes = alerts.reconcile(
        await hub.store.feeds.open_alerts(),
        conditions.observe(seen),
        conditions.OWNED,
        seen.now,
        hub.settings.event_alert_for,
    )
    if changes.written:
        await hub.store.feeds.write_alerts(changes.written, changes.announced)
    kept = await hub.store.feeds.recommendations()
    advised = recommend.reconcile(kept, await advise.advise(hub, seen), seen.now)
    if advised.written or advised.removed:
        await hub.store.feeds.write_recommendations(
            advised.written, advised.removed, advised.announced
        )
    written = len(changes.announced) + len(advised.announced)
    if written:
        hub.announce_events()
    await hub.store.feeds.prune_events(seen.now - hub.settings.event_retention)
    return written
