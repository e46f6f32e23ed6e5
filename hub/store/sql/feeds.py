"""The tables of alerts, recommendations and the events that announce their changes.

Events are numbered from one counter row, taken in the writing transaction: a writer holds
the row until it commits, so on PostgreSQL as on SQLite events commit in the order of their
numbers, and a stream that has read up to N never later finds an event below N appear."""

import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from hub.models.api import Alert
from hub.models.feeds import Announcement, Event, Recommendation
from hub.store import AlertQuery
from hub.store.sql.db import Db

Run = Callable[[Callable[[Db], Any]], Awaitable[Any]]


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def announce(db: Db, announced: Sequence[Announcement]) -> None:
    for item in announced:
        row = db.execute(
            "UPDATE counters SET value = value + 1 WHERE name = 'events' RETURNING value"
        ).fetchone()
        db.execute(
            "INSERT INTO events (id, at, topic, body) VALUES (?, ?, ?, ?)",
            (int(row[0]), _ts(item.at), item.topic.value, item.model_dump_json()),
        )


def write_alert(db: Db, alert: Alert) -> bool:
    """Update the alert, or insert it when new; False when it is new but another alert of its
    fingerprint is open (another replica raised the same condition first)."""
    updated = db.execute(
        "UPDATE alerts SET body = ?, severity = ?, resolved_at = ? WHERE id = ?",
        (alert.model_dump_json(), alert.severity.value, _ts(alert.resolved_at), alert.id),
    ).rowcount
    return bool(updated) or _insert(db, alert)


def _insert(db: Db, alert: Alert) -> bool:
    inserted = db.execute(
        "INSERT INTO alerts (id, created_at, body, fingerprint, kind, cluster, severity, "
        "resolved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (
            alert.id,
            _ts(alert.first_seen),
            alert.model_dump_json(),
            alert.fingerprint,
            alert.kind.value,
            alert.cluster,
            alert.severity.value,
            _ts(alert.resolved_at),
        ),
    ).rowcount
    return bool(inserted)


def raise_alert(db: Db, alert: Alert, announced: Announcement) -> bool:
    """Record `alert` unless one with its id, or an open one of its fingerprint, exists; and
    announce it when it is new."""
    inserted = _insert(db, alert)
    if inserted:
        announce(db, (announced,))
    return inserted


def _alert(body: str, resolved_at: float | None) -> Alert:
    """An alert recorded before alerts resolved (an event) was resolved when it was raised."""
    alert = Alert.model_validate_json(body)
    if alert.resolved_at is None and resolved_at is not None:
        return alert.model_copy(update={"resolved_at": datetime.fromtimestamp(resolved_at, UTC)})
    return alert


def _where(query: AlertQuery) -> tuple[str, list[object]]:
    clauses: list[str] = []
    args: list[object] = []
    if query.open is True:
        clauses.append("resolved_at IS NULL")
    elif query.open is False:
        clauses.append("resolved_at IS NOT NULL")
    for column, value in (
        ("kind", query.kind),
        ("cluster", query.cluster),
        ("severity", query.severity),
    ):
        if value is not None:
            clauses.append(f"{column} = ?")
            args.append(value)
    if query.resolved_since is not None:
        clauses.append("resolved_at >= ?")
        args.append(_ts(query.resolved_since))
    if query.before is not None:
        clauses.append("(created_at < ? OR (created_at = ? AND id < ?))")
        args += [query.before[0], query.before[0], query.before[1]]
    return (f"WHERE {' AND '.join(clauses)} " if clauses else ""), args


class SqlFeeds:
    """The `FeedStore` half of the SQL stores, on their connections and worker threads."""

    def __init__(self, txn: Run, query: Run) -> None:
        self._txn = txn
        self._query = query

    async def alerts(self, query: AlertQuery) -> list[Alert]:
        def read(db: Db) -> list[Alert]:
            where, args = _where(query)
            rows = db.execute(
                f"SELECT body, resolved_at FROM alerts {where}"
                "ORDER BY created_at DESC, id DESC LIMIT ?",
                (*args, query.limit),
            ).fetchall()
            return [_alert(*row) for row in rows]

        result: list[Alert] = await self._query(read)
        return result

    async def alert(self, alert_id: str) -> Alert | None:
        def read(db: Db) -> Alert | None:
            row = db.execute(
                "SELECT body, resolved_at FROM alerts WHERE id = ?", (alert_id,)
            ).fetchone()
            return None if row is None else _alert(*row)

        found: Alert | None = await self._query(read)
        return found

    async def open_alerts(self) -> list[Alert]:
        return await self.alerts(AlertQuery(open=True, limit=1_000_000))

    async def write_alerts(
        self, written: Sequence[Alert], announced: Sequence[Announcement]
    ) -> None:
        def write(db: Db) -> None:
            refused = {alert.id for alert in written if not write_alert(db, alert)}
            announce(db, [a for a in announced if a.alert is None or a.alert.id not in refused])

        await self._txn(write)

    async def raise_alert(self, alert: Alert, announced: Announcement) -> bool:
        raised: bool = await self._txn(lambda db: raise_alert(db, alert, announced))
        return raised

    async def recommendations(self) -> list[Recommendation]:
        def read(db: Db) -> list[Recommendation]:
            rows = db.execute(
                "SELECT body FROM recommendations ORDER BY created_at DESC, id"
            ).fetchall()
            return [Recommendation.model_validate_json(r[0]) for r in rows]

        result: list[Recommendation] = await self._query(read)
        return result

    async def write_recommendations(
        self,
        written: Sequence[Recommendation],
        removed: Sequence[str],
        announced: Sequence[Announcement],
    ) -> None:
        def write(db: Db) -> None:
            for item in written:
                db.execute(
                    "INSERT INTO recommendations (id, created_at, body) VALUES (?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET body = excluded.body",
                    (item.id, _ts(item.created_at), item.model_dump_json()),
                )
            for gone in removed:
                db.execute("DELETE FROM recommendations WHERE id = ?", (gone,))
            announce(db, announced)

        await self._txn(write)

    async def events(self, after: int, limit: int) -> list[Event]:
        def read(db: Db) -> list[Event]:
            rows = db.execute(
                "SELECT id, body FROM events WHERE id > ? ORDER BY id LIMIT ?", (after, limit)
            ).fetchall()
            return [Event.model_validate({**json.loads(body), "id": n}) for n, body in rows]

        result: list[Event] = await self._query(read)
        return result

    async def event_bounds(self) -> tuple[int, int]:
        """The oldest event kept less one, and the newest: a stream resuming below the first
        has missed events that are gone."""

        def read(db: Db) -> tuple[int, int]:
            row = db.execute("SELECT min(id), max(id) FROM events").fetchone()
            newest = db.execute("SELECT value FROM counters WHERE name = 'events'").fetchone()
            last = int(newest[0]) if newest else 0
            first = int(row[0]) - 1 if row and row[0] is not None else last
            return first, last

        bounds: tuple[int, int] = await self._query(read)
        return bounds

    async def prune_events(self, before: datetime) -> int:
        def write(db: Db) -> int:
            return int(db.execute("DELETE FROM events WHERE at < ?", (_ts(before),)).rowcount)

        pruned: int = await self._txn(write)
        return pruned
