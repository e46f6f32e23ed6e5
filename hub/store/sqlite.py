"""SQLite adapter: the embedded default store, one file in WAL mode.

All statements run on one worker thread that owns the connection, so the event loop never
blocks on disk.
"""

import os
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from hub.store import Change, StoreError
from hub.store.sql import schema
from hub.store.sql.core import SqlStore
from hub.store.sql.db import Db

T = TypeVar("T")


def _wal(db: sqlite3.Connection, attempts: int = 100) -> None:
    """Switch to WAL. Replicas opening a new file at the same moment contend for the lock
    the switch takes, and SQLite refuses the loser at once rather than through the busy
    timeout: try again, briefly (the store's own thread, never the event loop)."""
    for attempt in range(1, attempts + 1):
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == attempts:
                raise
            time.sleep(0.01 * min(attempt, 10))


def _private(path: Path) -> None:
    """The file holds token hashes and sealed boxes: only the hub's user may read it (its
    -wal and -shm files take the same mode from SQLite) and its folder is the user's."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(path, 0o600)


class SqliteStore(SqlStore):
    """The embedded store: one file, so a hub runs with nothing else installed. Several
    hub processes may share the file (WAL, `BEGIN IMMEDIATE`), which is how replicas are
    tested before a server database is used."""

    def __init__(self, path: Path | str) -> None:
        self._path = str(path)
        super().__init__(ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store"))
        self._db: sqlite3.Connection | None = None

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the store is not open")
        return self._db

    async def open(self) -> None:
        await self._run(self._open)

    def _open(self) -> None:
        if self._path != ":memory:":
            _private(Path(self._path))
        db = sqlite3.connect(
            self._path, timeout=10.0, isolation_level=None, check_same_thread=False
        )
        db.execute("PRAGMA busy_timeout=10000")
        _wal(db)
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        self._db = db
        self._upgrade_schema()

    def _upgrade_schema(self) -> None:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            schema.upgrade(db, self._path)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _disconnect(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _transaction(self, fn: Callable[[Db], T], write: bool = True) -> T:
        """One transaction; writers take the lock up front so they never deadlock on upgrade."""
        db = self.db
        db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            result = fn(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    async def _txn(self, fn: Callable[[Db], T]) -> T:
        return await self._run(self._transaction, fn)

    async def _query(self, fn: Callable[[Db], T]) -> T:
        return await self._run(self._transaction, fn, False)

    async def changes(self) -> AsyncIterator[Change]:
        """None: SQLite has no way to tell another process what it wrote."""
        return
        yield
