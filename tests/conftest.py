"""Fixtures shared across the test folders."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support import databases
from tests.support.clock import FakeClock
from tests.support.hub_env import LENIENT, Env


@pytest.fixture(params=databases.STORES)
async def hub(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    """A hub over real HTTP with a clock the test moves, once on a SQLite file and once on
    a PostgreSQL schema of its own: every test of the hub runs on both stores."""
    with databases.database(request.param, tmp_path) as location:
        environment = Env(location, FakeClock(), LENIENT)
        await environment.start()
        yield environment
        await environment.stop()
