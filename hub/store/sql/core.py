"""The store's statements and transactions, once for every SQL adapter."""

import asyncio
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, TypeVar

from hub.migration import effects
from hub.models.api import Alert, ClaimStatus, Migration, Role, State, Task
from hub.models.claim import Claim
from hub.models.feeds import Announcement, EventTopic, EventType
from hub.store import (
    Accepted,
    AcceptOutcome,
    AlertFor,
    ClusterRecord,
    StoredReport,
    Tallies,
    TokenRecord,
    Transition,
    with_reservation,
)
from hub.store.sql import feeds, grants
from hub.store.sql.db import Db

T = TypeVar("T")


GRANT_STATES = """
    SELECT CASE WHEN closed_at IS NOT NULL THEN 'closed'
        WHEN failure IS NOT NULL THEN 'failed'
        WHEN minted_at IS NOT NULL THEN 'minted'
        ELSE 'waiting' END, count(*)
    FROM grants GROUP BY 1
"""
"""A grant is waiting for the target's agent, minted (sealed and held), failed (the target
said why it could not), or closed with its migration."""


def announced(alert: Alert) -> tuple[Alert, Announcement]:
    return alert, Announcement(
        topic=EventTopic.ALERT, type=EventType.RAISED, at=alert.first_seen, alert=alert
    )


def _ts(value: datetime) -> float:
    return value.timestamp()


def _bump(db: Db, cluster: str, expected: int | None = None) -> bool:
    """Move `cluster`'s generation, the version every accept checks it evaluated against;
    with `expected`, only if it is still that (False: another writer got there first)."""
    if expected is None:
        query = "UPDATE clusters SET generation = generation + 1 WHERE name = ?"
        return db.execute(query, (cluster,)).rowcount == 1
    query = "UPDATE clusters SET generation = generation + 1 WHERE name = ? AND generation = ?"
    return db.execute(query, (cluster, expected)).rowcount == 1


def _dt(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


class SqlStore(ABC):
    """Every statement and transaction of the store, over any `Db`. An adapter supplies the
    transactions (`_txn` for writes, `_query` for reads: a function run in one transaction,
    off the event loop), `open` and `close`. Reports are written with group commit: those
    that arrive while a write is in progress are committed together in the next
    transaction, which is what lets one hub ingest thousands of reports per second."""

    def __init__(self, executor: ThreadPoolExecutor) -> None:
        self._executor = executor
        """The threads the transactions run on, off the event loop."""
        self._pending: list[tuple[StoredReport, asyncio.Future[tuple[bool, int, int]]]] = []
        self._flushing = False
        self.grants = grants.SqlGrants(self._txn, self._query)
        self.feeds = feeds.SqlFeeds(self._txn, self._query)

    @abstractmethod
    async def open(self) -> None: ...

    async def close(self) -> None:
        await self._drain()
        await self._run(self._disconnect)
        self._executor.shutdown(wait=True)

    @abstractmethod
    def _disconnect(self) -> None: ...

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    @abstractmethod
    async def _txn(self, fn: Callable[[Db], T]) -> T: ...

    @abstractmethod
    async def _query(self, fn: Callable[[Db], T]) -> T: ...

    async def _drain(self) -> None:
        """Wait for reports being written, before the connections close."""
        while self._flushing:
            await asyncio.sleep(0.01)

    # tokens

    async def tokens(self) -> list[TokenRecord]:
        def read(db: Db) -> list[TokenRecord]:
            rows = db.execute(
                "SELECT id, name, role, secret_hash, created_at, cluster FROM tokens ORDER BY "
                "created_at"
            ).fetchall()
            return [TokenRecord(r[0], r[1], Role(r[2]), r[3], _dt(r[4]), r[5]) for r in rows]

        return await self._query(read)

    @staticmethod
    def _insert_token(db: Db, token: TokenRecord) -> None:
        db.execute(
            "INSERT INTO tokens (id, name, role, cluster, secret_hash, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                token.id,
                token.name,
                token.role.value,
                token.cluster,
                token.secret_hash,
                _ts(token.created_at),
            ),
        )

    async def add_token(self, token: TokenRecord) -> None:
        await self._txn(lambda db: self._insert_token(db, token))

    async def revoke_token(self, token_id: str) -> bool:
        return await self._txn(
            lambda db: db.execute("DELETE FROM tokens WHERE id = ?", (token_id,)).rowcount > 0
        )

    # clusters and reports

    async def register_cluster(self, cluster: ClusterRecord, token: TokenRecord) -> bool:
        def write(db: Db) -> bool:
            if db.execute("SELECT 1 FROM clusters WHERE name = ?", (cluster.name,)).fetchone():
                return False
            db.execute(
                "INSERT INTO clusters (name, labels, registered_at) VALUES (?, ?, ?)",
                (cluster.name, json.dumps(dict(cluster.labels)), _ts(cluster.registered_at)),
            )
            self._insert_token(db, token)
            return True

        return await self._txn(write)

    async def replace_cluster_token(self, cluster: str, token: TokenRecord) -> bool:
        def write(db: Db) -> bool:
            if not db.execute("SELECT 1 FROM clusters WHERE name = ?", (cluster,)).fetchone():
                return False
            db.execute("DELETE FROM tokens WHERE cluster = ?", (cluster,))
            self._insert_token(db, token)
            return True

        return await self._txn(write)

    async def relabel_cluster(self, cluster: str, labels: Mapping[str, str]) -> bool:
        def write(db: Db) -> bool:
            query = "UPDATE clusters SET labels = ?, generation = generation + 1 WHERE name = ?"
            return db.execute(query, (json.dumps(dict(labels)), cluster)).rowcount == 1

        return await self._txn(write)

    async def retire_cluster(
        self, cluster: str, at: datetime, audit: Alert, change: Transition
    ) -> list[Migration] | None:
        def write(db: Db) -> list[Migration] | None:
            if not db.execute("SELECT 1 FROM clusters WHERE name = ?", (cluster,)).fetchone():
                return None
            active = [s.value for s in State if s.active]
            rows = db.execute(
                "SELECT id FROM migrations WHERE (source_cluster = ? OR target_cluster = ?) "
                f"AND state IN ({', '.join('?' * len(active))}) ORDER BY created_at",
                (cluster, cluster, *active),
            ).fetchall()
            changed = [found[0] for row in rows if (found := self._change(db, row[0], change, at))]
            db.execute(
                "UPDATE claims SET released_at = ?, release_reason = 'retired' "
                "WHERE cluster = ? AND released_at IS NULL",
                (_ts(at), cluster),
            )
            db.execute("DELETE FROM tokens WHERE cluster = ?", (cluster,))
            db.execute("DELETE FROM clusters WHERE name = ?", (cluster,))
            feeds.raise_alert(db, *announced(audit))
            return changed

        return await self._txn(write)

    async def clusters(self) -> list[ClusterRecord]:
        def read(db: Db) -> list[ClusterRecord]:
            rows = db.execute(
                "SELECT name, labels, registered_at, generation, report_sequence FROM clusters "
                "ORDER BY name"
            ).fetchall()
            return [ClusterRecord(r[0], json.loads(r[1]), _dt(r[2]), r[3], r[4]) for r in rows]

        return await self._query(read)

    async def cluster(self, name: str) -> ClusterRecord | None:
        def read(db: Db) -> ClusterRecord | None:
            r = db.execute(
                "SELECT name, labels, registered_at, generation, report_sequence FROM clusters "
                "WHERE name = ?",
                (name,),
            ).fetchone()
            return (
                None if r is None else ClusterRecord(r[0], json.loads(r[1]), _dt(r[2]), r[3], r[4])
            )

        return await self._query(read)

    async def save_report(self, report: StoredReport) -> tuple[bool, int, int]:
        future: asyncio.Future[tuple[bool, int, int]] = asyncio.get_running_loop().create_future()
        self._pending.append((report, future))
        if not self._flushing:
            self._flushing = True
            asyncio.get_running_loop().create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results = await self._txn(
                        lambda db, b=batch: [self._write_report(db, r) for r, _ in b]  # type: ignore[misc]
                    )
                except Exception as error:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._flushing = False

    @staticmethod
    def _write_report(db: Db, report: StoredReport) -> tuple[bool, int, int]:
        applied = db.execute(
            "UPDATE clusters SET report_sequence = ?, report_received_at = ?, report_body = ?, "
            "report_index = ?, generation = generation + 1 "
            "WHERE name = ? AND (report_sequence IS NULL OR report_sequence < ?)",
            (
                report.sequence,
                _ts(report.received_at),
                report.body,
                report.form,
                report.cluster,
                report.sequence,
            ),
        ).rowcount
        row = db.execute(
            "SELECT report_sequence, generation FROM clusters WHERE name = ?", (report.cluster,)
        ).fetchone()
        if row is None:
            return False, -1, -1
        return bool(applied), -1 if row[0] is None else row[0], row[1]

    async def reset_sequence(self, cluster: str, audit: Alert) -> int | None:
        def write(db: Db) -> int | None:
            row = db.execute(
                "SELECT report_sequence FROM clusters WHERE name = ?", (cluster,)
            ).fetchone()
            if row is None:
                raise KeyError(cluster)
            if row[0] is not None:
                db.execute(
                    "UPDATE clusters SET report_sequence = -1, generation = generation + 1 "
                    "WHERE name = ?",
                    (cluster,),
                )
            feeds.raise_alert(db, *announced(audit))
            return None if row[0] is None else int(row[0])

        return await self._txn(write)

    async def reports(self, clusters: Sequence[str] | None = None) -> list[StoredReport]:
        def read(db: Db) -> list[StoredReport]:
            query = (
                "SELECT name, report_sequence, report_received_at, report_body, report_index "
                "FROM clusters WHERE report_body IS NOT NULL"
            )
            names = list(clusters or ())
            if clusters is not None:
                query += f" AND name IN ({', '.join('?' * len(names))})" if names else " AND 0"
            rows = db.execute(query, names).fetchall()
            return [
                StoredReport(
                    r[0], r[1], _dt(r[2]), bytes(r[3]), None if r[4] is None else bytes(r[4])
                )
                for r in rows
            ]

        return await self._query(read)

    # claims, migrations, tasks

    async def live_claims(self, cluster: str | None = None) -> list[Claim]:
        def read(db: Db) -> list[Claim]:
            if cluster is None:
                rows = db.execute("SELECT body FROM claims WHERE released_at IS NULL").fetchall()
            else:
                rows = db.execute(
                    "SELECT body FROM claims WHERE released_at IS NULL AND cluster = ?",
                    (cluster,),
                ).fetchall()
            return [Claim.model_validate_json(r[0]) for r in rows]

        return await self._query(read)

    async def accept(
        self,
        migration: Migration,
        task: Task,
        claim: Claim,
        expected_generation: int,
        idempotency_key: str | None,
    ) -> AcceptOutcome:
        """Every refusal is decided before the first write, so a refused accept commits an
        unchanged database."""
        return await self._txn(
            lambda db: self._accept_in(
                db, migration, task, claim, expected_generation, idempotency_key
            )
        )

    def _accept_in(
        self,
        db: Db,
        migration: Migration,
        task: Task,
        claim: Claim,
        expected_generation: int,
        idempotency_key: str | None,
    ) -> AcceptOutcome:
        if idempotency_key is not None:
            row = db.execute(
                "SELECT id FROM migrations WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
            if row:
                return AcceptOutcome(Accepted.DUPLICATE_KEY, existing_migration=row[0])
        for vm in migration.vms:
            row = db.execute(
                "SELECT migration_id FROM migration_vms WHERE source_cluster = ? AND vm = ? "
                "AND active = 1",
                (migration.source_cluster, vm),
            ).fetchone()
            if row:
                return AcceptOutcome(Accepted.VM_BUSY, existing_migration=row[0], busy_vm=vm)
        if not _bump(db, migration.target_cluster, expected_generation):
            exists = db.execute(
                "SELECT 1 FROM clusters WHERE name = ?", (migration.target_cluster,)
            ).fetchone()
            return AcceptOutcome(Accepted.CONFLICT if exists else Accepted.UNKNOWN_CLUSTER)
        db.execute(
            "INSERT INTO migrations (id, idempotency_key, source_cluster, target_cluster, state, "
            "created_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                migration.id,
                idempotency_key,
                migration.source_cluster,
                migration.target_cluster,
                migration.state.value,
                _ts(migration.created_at),
                migration.model_copy(update={"reservation": None}).model_dump_json(),
            ),
        )
        grants.opened(db, migration)
        db.executemany(
            "INSERT INTO migration_vms (migration_id, source_cluster, vm, active) "
            "VALUES (?, ?, ?, 1)",
            [(migration.id, migration.source_cluster, vm) for vm in migration.vms],
        )
        self._write_task(db, task, insert=True)
        db.execute(
            "INSERT INTO claims (id, cluster, migration_id, expires_at, body) "
            "VALUES (?, ?, ?, ?, ?)",
            (claim.id, claim.cluster, migration.id, _ts(claim.expires_at), claim.model_dump_json()),
        )
        return AcceptOutcome(Accepted.ACCEPTED)

    @staticmethod
    def _write_task(db: Db, task: Task, insert: bool) -> None:
        if insert:
            db.execute(
                "INSERT INTO tasks (id, migration_id, state, source_cluster, target_cluster, "
                "created_at, body) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    task.id,
                    task.migration_id,
                    task.state.value,
                    task.source_cluster,
                    task.target_cluster,
                    _ts(task.created_at),
                    task.model_dump_json(),
                ),
            )
        else:
            db.execute(
                "UPDATE tasks SET state = ?, body = ? WHERE id = ?",
                (task.state.value, task.model_dump_json(), task.id),
            )

    @staticmethod
    def _reservation(db: Db, migration_id: str) -> ClaimStatus | None:
        row = db.execute(
            "SELECT body, released_at, release_reason FROM claims WHERE migration_id = ?",
            (migration_id,),
        ).fetchone()
        if row is None:
            return None
        return ClaimStatus(
            claim=Claim.model_validate_json(row[0]),
            released_at=None if row[1] is None else _dt(row[1]),
            release_reason=row[2],
        )

    def _load_migration(self, db: Db, where: str, arg: str) -> Migration | None:
        row = db.execute(f"SELECT id, body FROM migrations WHERE {where} = ?", (arg,)).fetchone()
        if row is None:
            return None
        return with_reservation(
            Migration.model_validate_json(row[1]), self._reservation(db, row[0])
        )

    async def migration(self, migration_id: str) -> Migration | None:
        return await self._query(lambda db: self._load_migration(db, "id", migration_id))

    async def migration_by_key(self, idempotency_key: str) -> Migration | None:
        return await self._query(
            lambda db: self._load_migration(db, "idempotency_key", idempotency_key)
        )

    async def active_migration_of(self, source_cluster: str, vm: str) -> str | None:
        def read(db: Db) -> str | None:
            row = db.execute(
                "SELECT migration_id FROM migration_vms WHERE source_cluster = ? AND vm = ? "
                "AND active = 1",
                (source_cluster, vm),
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._query(read)

    @staticmethod
    def _filtered(
        table: str, state: State | None, cluster: str | None, limit: int
    ) -> tuple[str, list[object]]:
        clauses, args = [], []
        if state is not None:
            clauses.append("state = ?")
            args.append(state.value)
        if cluster is not None:
            clauses.append("(source_cluster = ? OR target_cluster = ?)")
            args += [cluster, cluster]
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        return f"SELECT id, body FROM {table} {where}ORDER BY created_at DESC LIMIT ?", [
            *args,
            limit,
        ]

    async def migrations(
        self, state: State | None, cluster: str | None, limit: int
    ) -> list[Migration]:
        def read(db: Db) -> list[Migration]:
            query, args = self._filtered("migrations", state, cluster, limit)
            return [
                with_reservation(Migration.model_validate_json(body), self._reservation(db, id_))
                for id_, body in db.execute(query, args).fetchall()
            ]

        return await self._query(read)

    async def task(self, task_id: str) -> Task | None:
        def read(db: Db) -> Task | None:
            row = db.execute("SELECT body FROM tasks WHERE id = ?", (task_id,)).fetchone()
            return None if row is None else Task.model_validate_json(row[0])

        return await self._query(read)

    async def tasks(self, state: State | None, cluster: str | None, limit: int) -> list[Task]:
        def read(db: Db) -> list[Task]:
            query, args = self._filtered("tasks", state, cluster, limit)
            return [
                Task.model_validate_json(body) for _, body in db.execute(query, args).fetchall()
            ]

        return await self._query(read)

    async def update_migration(
        self,
        migration_id: str,
        change: Transition,
        at: datetime,
        renew_until: datetime | None = None,
    ) -> tuple[Migration, Task] | None:
        return await self._txn(lambda db: self._change(db, migration_id, change, at, renew_until))

    async def jobs(self, source_cluster: str) -> list[Migration]:
        def read(db: Db) -> list[Migration]:
            rows = db.execute(
                "SELECT id, body FROM migrations WHERE source_cluster = ? "
                "AND state IN ('queued', 'running') ORDER BY created_at",
                (source_cluster,),
            ).fetchall()
            return [
                with_reservation(Migration.model_validate_json(body), self._reservation(db, id_))
                for id_, body in rows
            ]

        return await self._query(read)

    def _change(
        self,
        db: Db,
        migration_id: str,
        change: Transition,
        at: datetime,
        renew_until: datetime | None = None,
    ) -> tuple[Migration, Task] | None:
        migration = self._load_migration(db, "id", migration_id)
        if migration is None:
            return None
        row = db.execute("SELECT body FROM tasks WHERE id = ?", (migration.task_id,)).fetchone()
        task = Task.model_validate_json(row[0])
        changed = change(migration, task)
        if changed is None:
            return migration, task
        live = db.execute(
            "SELECT body FROM claims WHERE migration_id = ? AND released_at IS NULL",
            (migration_id,),
        ).fetchone()
        claim = Claim.model_validate_json(live[0]) if live else None
        self._apply(db, effects.of(*changed, claim, at, renew_until), at)
        migration, task = changed
        return with_reservation(migration, self._reservation(db, migration.id)), task

    def _apply(self, db: Db, done: effects.Effects, at: datetime) -> None:
        """Write what `hub.migration.effects` decided; decide nothing."""
        migration = done.migration
        if done.claim is not None:
            db.execute(
                "UPDATE claims SET expires_at = ?, body = ? WHERE id = ?",
                (_ts(done.claim.expires_at), done.claim.model_dump_json(), done.claim.id),
            )
        if done.release is not None:
            db.execute(
                "UPDATE claims SET released_at = ?, release_reason = ? "
                "WHERE migration_id = ? AND released_at IS NULL",
                (_ts(at), done.release, migration.id),
            )
        if done.bump is not None:
            _bump(db, done.bump)
        db.execute(
            "UPDATE migrations SET state = ?, body = ? WHERE id = ?",
            (
                migration.state.value,
                migration.model_copy(update={"reservation": None}).model_dump_json(),
                migration.id,
            ),
        )
        self._write_task(db, done.task, insert=False)
        if done.ended:
            db.execute(
                "UPDATE migration_vms SET active = 0 WHERE migration_id = ?", (migration.id,)
            )
            grants.ended(db, migration.id, at)

    async def expire_claims(
        self, now: datetime, alert_for: AlertFor, change: Transition
    ) -> list[Claim]:
        def write(db: Db) -> list[Claim]:
            rows = db.execute(
                "SELECT body, migration_id FROM claims WHERE released_at IS NULL "
                "AND expires_at <= ?",
                (_ts(now),),
            ).fetchall()
            expired = []
            for body, migration_id in rows:
                claim = Claim.model_validate_json(body)
                db.execute(
                    "UPDATE claims SET released_at = ?, release_reason = 'expired' WHERE id = ?",
                    (_ts(now), claim.id),
                )
                _bump(db, claim.cluster)
                if migration_id is not None:
                    self._change(db, migration_id, change, now)
                feeds.raise_alert(db, *announced(alert_for(claim, migration_id)))
                expired.append(claim)
            return expired

        return await self._txn(write)

    async def tallies(self) -> Tallies:
        def read(db: Db) -> Tallies:
            def counts(query: str) -> dict[str, int]:
                return {str(key): int(n) for key, n in db.execute(query).fetchall()}

            active = db.execute(
                "SELECT body FROM tasks WHERE state IN ('queued', 'running') ORDER BY created_at"
            ).fetchall()
            return Tallies(
                migrations=counts("SELECT state, count(*) FROM migrations GROUP BY state"),
                claims=counts(
                    "SELECT COALESCE(release_reason, 'live'), count(*) FROM claims GROUP BY 1"
                ),
                grants=counts(GRANT_STATES),
                alerts=counts(
                    "SELECT kind, count(*) FROM alerts WHERE resolved_at IS NULL "
                    "AND kind IS NOT NULL GROUP BY kind"
                ),
                active=tuple(Task.model_validate_json(row[0]) for row in active),
            )

        return await self._query(read)

    async def setting(self, key: str) -> str | None:
        def read(db: Db) -> str | None:
            row = db.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
            return None if row is None else str(row[0])

        return await self._query(read)

    async def put_setting(self, key: str, value: str) -> None:
        await self._txn(
            lambda db: db.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
        )

    async def hold_lease(self, name: str, holder: str, until: datetime, now: datetime) -> bool:
        def write(db: Db) -> bool:
            taken = db.execute(
                "INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, "
                "expires_at = excluded.expires_at "
                "WHERE leases.holder = excluded.holder OR leases.expires_at <= ?",
                (name, holder, _ts(until), _ts(now)),
            )
            return taken.rowcount == 1

        return await self._txn(write)
