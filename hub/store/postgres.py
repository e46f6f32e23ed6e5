"""PostgreSQL adapter: the production store, for several hub replicas on the database the
operators already run.

The statements are those of `hub.store.sql`, run on psycopg 3's connection pool from worker
threads: the same transaction functions SQLite runs, so every statement and rule exists
once. Transactions are SERIALIZABLE and retried on a serialization failure, which gives
what SQLite's single writer gives: an accept that read the target's generation and its VMs'
state commits only if nobody changed them meanwhile. Replicas starting at once upgrade the
schema one after the other, under an advisory lock.
"""

import functools
import random
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
from psycopg import errors
from psycopg_pool import ConnectionPool

from hub.store import Change, StoreError, postgres_notices
from hub.store.location import redacted
from hub.store.sql import schema
from hub.store.sql.core import SqlStore
from hub.store.sql.db import Cursor, Db

T = TypeVar("T")
RETRIES = 30
"""Serialization failures retried before the caller sees one; each waits a little longer."""
UPGRADE_LOCK = 0x63636C6D
"""The advisory lock replicas take to upgrade the schema one at a time ('cclm')."""
_TYPES = ((r"\bREAL\b", "DOUBLE PRECISION"), (r"\bBLOB\b", "BYTEA"), (r"\bINTEGER\b", "BIGINT"))


def ddl(statement: str) -> str:
    """A schema step in PostgreSQL's names for the three types SQLite spells its own way."""
    for pattern, name in _TYPES:
        statement = re.sub(pattern, name, statement)
    return statement


@functools.lru_cache(maxsize=512)
def _placeholders(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class _Connection:
    """A psycopg connection that takes the shared statements' `?` placeholders."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self._connection = connection

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        return self._connection.execute(_placeholders(sql), tuple(parameters))

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor:
        cursor = self._connection.cursor()
        cursor.executemany(_placeholders(sql), [tuple(p) for p in parameters])
        return cursor


def _serializable(connection: psycopg.Connection[Any]) -> None:
    connection.isolation_level = psycopg.IsolationLevel.SERIALIZABLE


class PostgresStore(SqlStore):
    """The store on a PostgreSQL server: several hubs share it, each with its own pool."""

    def __init__(self, url: str, pool_size: int = 8) -> None:
        super().__init__(ThreadPoolExecutor(max_workers=pool_size, thread_name_prefix="pg-store"))
        self._url = url
        self._size = pool_size
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._channel: str | None = None

    async def open(self) -> None:
        await self._run(self._open)

    def _open(self) -> None:
        try:
            self._upgrade_schema()
        except psycopg.OperationalError as error:
            raise StoreError(f"cannot reach the database {redacted(self._url)}: {error}") from error
        self._pool = ConnectionPool(
            self._url,
            min_size=1,
            max_size=self._size,
            kwargs={"autocommit": True},
            configure=_serializable,
            open=True,
        )

    def _upgrade_schema(self) -> None:
        """On a connection of its own at READ COMMITTED, so that a replica that waited for the
        lock sees the schema the one before it wrote."""
        connected = psycopg.connect(self._url, autocommit=True)
        with connected as connection, connection.transaction():
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (UPGRADE_LOCK,))
            schema.upgrade(_Connection(connection), redacted(self._url), ddl)
            postgres_notices.install(connection)
            row = connection.execute("SELECT current_schema()").fetchone()
            self._channel = postgres_notices.channel(str(row[0]) if row else "public")

    def _disconnect(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    @property
    def pool(self) -> ConnectionPool[psycopg.Connection[Any]]:
        if self._pool is None:
            raise StoreError("the store is not open")
        return self._pool

    def _transaction(self, fn: Callable[[Db], T]) -> T:
        attempt = 0
        while True:
            try:
                with self.pool.connection() as connection, connection.transaction():
                    return fn(_Connection(connection))
            except (errors.SerializationFailure, errors.DeadlockDetected):
                attempt += 1
                if attempt == RETRIES:
                    raise
                # A worker thread's pause, off the event loop: contending writers spread out.
                time.sleep(random.uniform(0, 0.002 * attempt))

    async def _txn(self, fn: Callable[[Db], T]) -> T:
        return await self._run(self._transaction, fn)

    async def _query(self, fn: Callable[[Db], T]) -> T:
        return await self._run(self._transaction, fn)

    def changes(self) -> AsyncIterator[Change]:
        if self._channel is None:
            raise StoreError("the store is not open")
        return postgres_notices.listen(self._url, self._channel)
