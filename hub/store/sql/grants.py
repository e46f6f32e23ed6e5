"""The tables of target access grants and the agents' sealing keys.

`opened` and `ended` run inside the migration transactions of `SqlStore`, so a migration
never exists without its grant and a grant learns at once that its migration ended.
"""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from hub.models.api import Migration
from hub.store import GrantRecord, SealedBox, Stored
from hub.store.sql.db import Db

Run = Callable[[Callable[[Db], Any]], Awaitable[Any]]

_SELECT = (
    "SELECT m.body, c.sealing_key, g.sealed, g.expires_at, g.minted_at, g.closed_at, g.failure "
    "FROM grants g JOIN migrations m ON m.id = g.migration_id "
    "LEFT JOIN clusters c ON c.name = g.source_cluster "
)


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def _record(row: tuple[Any, ...]) -> GrantRecord:
    return GrantRecord(
        Migration.model_validate_json(row[0]),
        row[1],
        row[2],
        _dt(row[3]),
        _dt(row[4]),
        _dt(row[5]),
        row[6],
    )


def opened(db: Db, migration: Migration) -> None:
    db.execute(
        "INSERT INTO grants (migration_id, source_cluster, target_cluster) VALUES (?, ?, ?)",
        (migration.id, migration.source_cluster, migration.target_cluster),
    )


def ended(db: Db, migration_id: str, at: datetime) -> None:
    db.execute(
        "UPDATE grants SET ended_at = ? WHERE migration_id = ? AND ended_at IS NULL",
        (at.timestamp(), migration_id),
    )


class SqlGrants:
    """The `GrantStore` half of `SqliteStore`, on the same connection and worker thread."""

    def __init__(self, txn: Run, query: Run) -> None:
        self._txn = txn
        self._query = query

    async def set_sealing_key(self, cluster: str, public_key: str) -> bool | None:
        def write(db: Db) -> bool | None:
            row = db.execute("SELECT sealing_key FROM clusters WHERE name = ?", (cluster,))
            found = row.fetchone()
            if found is None:
                return None
            if found[0] == public_key:
                return False
            db.execute("UPDATE clusters SET sealing_key = ? WHERE name = ?", (public_key, cluster))
            db.execute(
                "UPDATE grants SET sealed = NULL, expires_at = NULL, minted_at = NULL "
                "WHERE source_cluster = ? AND closed_at IS NULL",
                (cluster,),
            )
            return True

        result: bool | None = await self._txn(write)
        return result

    async def open_grants(self, target_cluster: str) -> list[GrantRecord]:
        return await self._open("g.target_cluster", target_cluster)

    async def sourced_grants(self, source_cluster: str) -> list[GrantRecord]:
        return await self._open("g.source_cluster", source_cluster)

    async def _open(self, column: str, cluster: str) -> list[GrantRecord]:
        def read(db: Db) -> list[GrantRecord]:
            rows = db.execute(
                _SELECT + f"WHERE {column} = ? AND g.closed_at IS NULL ORDER BY m.created_at",
                (cluster,),
            ).fetchall()
            return [_record(r) for r in rows]

        result: list[GrantRecord] = await self._query(read)
        return result

    async def grant(self, migration_id: str) -> GrantRecord | None:
        def read(db: Db) -> GrantRecord | None:
            row = db.execute(_SELECT + "WHERE g.migration_id = ?", (migration_id,)).fetchone()
            return None if row is None else _record(row)

        result: GrantRecord | None = await self._query(read)
        return result

    async def put_grant(self, migration_id: str, grant: SealedBox, at: datetime) -> Stored:
        def write(db: Db) -> Stored:
            row = db.execute(
                "SELECT c.sealing_key, g.closed_at FROM grants g "
                "JOIN clusters c ON c.name = g.source_cluster WHERE g.migration_id = ?",
                (migration_id,),
            ).fetchone()
            if row is None or row[1] is not None:
                return Stored.CLOSED
            if row[0] != grant.recipient_key:
                return Stored.STALE_KEY
            db.execute(
                "UPDATE grants SET sealed = ?, expires_at = ?, minted_at = ?, failure = NULL "
                "WHERE migration_id = ?",
                (grant.sealed, grant.expires_at.timestamp(), at.timestamp(), migration_id),
            )
            return Stored.STORED

        result: Stored = await self._txn(write)
        return result

    async def grant_failed(self, migration_id: str, failure: str) -> bool:
        def write(db: Db) -> bool:
            return bool(
                db.execute(
                    "UPDATE grants SET failure = ? WHERE migration_id = ? AND closed_at IS NULL",
                    (failure, migration_id),
                ).rowcount
            )

        result: bool = await self._txn(write)
        return result

    async def close_grant(self, migration_id: str, at: datetime) -> bool:
        def write(db: Db) -> bool:
            return bool(
                db.execute(
                    "UPDATE grants SET closed_at = ?, sealed = NULL "
                    "WHERE migration_id = ? AND closed_at IS NULL",
                    (at.timestamp(), migration_id),
                ).rowcount
            )

        result: bool = await self._txn(write)
        return result

    async def close_lingering_grants(self, ended_before: datetime, at: datetime) -> list[str]:
        def write(db: Db) -> list[str]:
            rows = db.execute(
                "UPDATE grants SET closed_at = ?, sealed = NULL WHERE closed_at IS NULL "
                "AND ended_at IS NOT NULL AND ended_at < ? RETURNING migration_id",
                (at.timestamp(), ended_before.timestamp()),
            ).fetchall()
            return sorted(r[0] for r in rows)

        result: list[str] = await self._txn(write)
        return result
