"""The API tests' fixtures: the shared hub (tests/support/hub_env.py) under the name the API
tests use, and two clusters registered and reported."""

import pytest

from tests.api.fleet import east, west
from tests.support.hub_env import Env


@pytest.fixture
def env(hub: Env) -> Env:
    """The API tests' name for the shared `hub` fixture (tests/conftest.py)."""
    return hub


@pytest.fixture
async def spokes(env: Env) -> dict[str, str]:
    """East and west registered and reported; their spoke tokens by name."""
    tokens = {}
    for name, built in (("east", east()), ("west", west())):
        tokens[name] = await env.register(name)
        assert (await env.report(tokens[name], built)).status == 202
    return tokens
