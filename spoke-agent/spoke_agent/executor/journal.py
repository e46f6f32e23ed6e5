"""The executor's durable journal: one SQLite file on the agent's volume.

Records are appended in one transaction per batch with `synchronous=FULL`, so a record the
executor acted on is on disk before the action, and a crash never leaves half a batch. Each
record is stored as JSON tagged with its type, and read back into the same dataclass.
"""

import contextlib
import dataclasses
import functools
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from spoke_agent.executor import model, records
from spoke_agent.executor.records import Record

_KINDS: dict[str, type[Any]] = {
    cls.__name__: cls
    for cls in (
        *records.Record.__args__,
        *model.Action.__args__,
    )
}
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    job TEXT NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (job, seq)
);
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    ended INTEGER NOT NULL DEFAULT 0
);
"""


class Journal:
    def __init__(self, path: Path | str) -> None:
        """`path` may be ":memory:" for a journal that lives as long as this object."""
        self._path = None if str(path) == ":memory:" else Path(path)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        """One connection serves the executors of every job, each on its own thread."""

    def size(self) -> int:
        """Bytes on disk, with the write-ahead log: what the agent's volume must hold."""
        if self._path is None:
            return 0
        files = (self._path, self._path.with_name(self._path.name + "-wal"))
        return sum(f.stat().st_size for f in files if f.exists())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def remember(self, job: model.Job) -> None:
        """Keep the job itself, so a restarted agent finishes it even if the hub no longer
        lists it (cancelled meanwhile, say). Remembering it again changes nothing."""
        body = json.dumps(encode(job), sort_keys=True)
        with self._lock, self._transaction():
            self._db.execute("INSERT OR IGNORE INTO jobs (id, body) VALUES (?, ?)", (job.id, body))

    def unfinished(self) -> list[model.Job]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM jobs WHERE ended = 0 ORDER BY rowid")
            return [_job(json.loads(body)) for (body,) in rows]

    def ended(self, job: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT ended FROM jobs WHERE id = ?", (job,)).fetchone()
            return bool(row and row[0])

    def load(self, job: str) -> list[Record]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM records WHERE job = ? ORDER BY seq", (job,))
            return [decode(json.loads(body)) for (body,) in rows]

    def append(self, job: str, batch: Iterable[Record]) -> None:
        batch = list(batch)
        bodies = [json.dumps(encode(record), sort_keys=True) for record in batch]
        with self._lock, self._transaction():
            (last,) = self._db.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM records WHERE job = ?", (job,)
            ).fetchone()
            self._db.executemany(
                "INSERT INTO records (job, seq, body) VALUES (?, ?, ?)",
                [(job, last + i + 1, body) for i, body in enumerate(bodies)],
            )
            if any(isinstance(record, records.Ended) for record in batch):
                self._db.execute("UPDATE jobs SET ended = 1 WHERE id = ?", (job,))

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def _job(data: dict[str, Any]) -> model.Job:
    return model.Job(
        id=data["id"],
        vms=tuple(data["vms"]),
        target=data["target"],
        delete_source=data["delete_source"],
        storage_class_map=dict(data["storage_class_map"]),
        unschedulable_timeout=data.get("unschedulable_timeout"),
        pending_timeout=data.get("pending_timeout"),
    )


def encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"type": type(value).__name__, **fields}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple | list):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {k: encode(v) for k, v in value.items()}
    return value


def decode(data: dict[str, Any]) -> Any:
    kind = _KINDS.get(data.get("type", ""))
    if kind is None:
        raise ValueError(f"the journal holds an unknown record type {data.get('type')!r}")
    if kind in (records.Intent, records.Applied):
        return kind(decode(data["action"]))
    return _adapter(data["type"]).validate_python({k: v for k, v in data.items() if k != "type"})


@functools.cache
def _adapter(kind: str) -> TypeAdapter[Any]:
    """Building an adapter costs milliseconds; reading a journal back needs one per type."""
    return TypeAdapter(_KINDS[kind])
