"""The schema on both stores: replicas that start at once upgrade it once, one after the
other; a store written by a newer hub is refused with a message that says what to do; and
a location's password never reaches a message."""

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.assemble import open_store
from hub.cli import main
from hub.settings import HubSettings
from hub.store import StoreError
from hub.store.location import redacted
from hub.store.sql.schema import SCHEMA_VERSIONS
from tests.support import databases


@pytest.fixture(params=databases.STORES)
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path | str]:
    with databases.database(request.param, tmp_path) as where:
        yield where


async def test_three_replicas_starting_at_once_upgrade_the_schema_once(
    location: Path | str,
) -> None:
    stores = [open_store(HubSettings(location)) for _ in range(3)]
    await asyncio.gather(*(store.open() for store in stores))
    try:
        versions = databases.sql(location, "SELECT version FROM schema_version ORDER BY version")
        assert [v for (v,) in versions] == list(range(1, len(SCHEMA_VERSIONS) + 1))
        assert await stores[2].clusters() == []
    finally:
        for store in stores:
            await store.close()


async def test_a_store_written_by_a_newer_hub_is_refused_saying_so(location: Path | str) -> None:
    store = open_store(HubSettings(location))
    await store.open()
    await store.close()
    databases.sql(location, "INSERT INTO schema_version (version) VALUES (?)", (99,))
    newer = open_store(HubSettings(location))
    with pytest.raises(StoreError, match=r"schema version 99 was written by a newer hub"):
        await newer.open()
    with contextlib.suppress(StoreError):
        await newer.close()


def test_a_password_in_the_location_never_reaches_a_message() -> None:
    url = "postgresql://cclm:s3cret@db.example:5433/hub?sslmode=require"
    assert redacted(url) == "postgresql://cclm:***@db.example:5433/hub?sslmode=require"
    assert redacted("/var/lib/cclm/hub.db") == "/var/lib/cclm/hub.db"


def test_serve_refuses_a_database_it_cannot_speak_naming_the_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["hub", "serve", "--db", "mysql://hub@db/hub"]) == 2
    said = capsys.readouterr().err
    assert "cclm: --db must be a SQLite file or a postgresql:// URL, not a mysql:// URL" in said


def test_serve_says_in_one_line_when_postgresql_cannot_be_reached(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "postgresql://cclm:s3cret@127.0.0.1:1/hub?connect_timeout=2"
    token = tmp_path / "admin.token"
    assert main(["hub", "serve", "--db", url, "--port", "0", "--admin-token-file", str(token)]) == 1
    said = capsys.readouterr()
    assert "cclm: the store cannot be used: cannot reach the database" in said.err
    assert "s3cret" not in said.err + said.out
    assert "Traceback" not in said.err
