"""Fixtures shared across the test folders."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.clock import FakeClock
from tests.support.hub_env import LENIENT, Env


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Env]:
    """A hub over real HTTP on a SQLite file, with a clock the test moves."""
    environment = Env(tmp_path / "hub.db", FakeClock(), LENIENT)
    await environment.start()
    yield environment
    await environment.stop()
