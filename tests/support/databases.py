"""The databases a hub test runs on: a SQLite file of its own, or a schema of its own in a
PostgreSQL database on this machine (127.0.0.1:5432, trust auth; `CCLM_TEST_POSTGRES`
names another server). A PostgreSQL that cannot be reached fails the test; it is never
skipped. And a way to read either store as the test sees fit, to prove what it holds."""

import contextlib
import os
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from hub.store.location import is_postgres

SERVER = os.environ.get("CCLM_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = "cclm_tests"
STORES = ("sqlite", "postgresql")


def _database_url() -> str:
    return urlunsplit(urlsplit(SERVER)._replace(path=f"/{DATABASE}"))


def _ensure_database() -> None:
    with psycopg.connect(SERVER, autocommit=True) as server:
        found = server.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
        if found.fetchone() is None:
            with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                server.execute(f"CREATE DATABASE {DATABASE}")


@contextlib.contextmanager
def postgres_schema() -> Iterator[str]:
    """A URL whose connections work in a schema made for this test, dropped after it."""
    _ensure_database()
    name = f"t_{secrets.token_hex(6)}"
    base = _database_url()
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {name}")
    try:
        yield f"{base}?options=-csearch_path%3D{name}"
    finally:
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {name} CASCADE")


@contextlib.contextmanager
def database(kind: str, directory: Path) -> Iterator[Path | str]:
    if kind == "sqlite":
        yield directory / "hub.db"
        return
    with postgres_schema() as url:
        yield url


def sql(location: Path | str, statement: str, parameters: Sequence[Any] = ()) -> list[Any]:
    """Run one statement on the store's database directly (`?` placeholders); its rows."""
    if isinstance(location, str) and is_postgres(location):
        with psycopg.connect(location, autocommit=True) as connection:
            cursor = connection.execute(statement.replace("?", "%s"), tuple(parameters))
            return list(cursor.fetchall()) if cursor.description else []
    with sqlite3.connect(location) as connection:
        return list(connection.execute(statement, tuple(parameters)).fetchall())


def dump(location: Path | str) -> str:
    """Everything the store holds, as text: what a test searches for a secret."""
    if isinstance(location, str) and is_postgres(location):
        tables = sql(
            location, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
        return "\n".join(
            repr(row) for (table,) in tables for row in sql(location, f"SELECT * FROM {table}")
        )
    with sqlite3.connect(location) as connection:
        return "\n".join(connection.iterdump())
