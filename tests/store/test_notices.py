"""Replicas on one PostgreSQL database learn what the others changed from the store's
notices (LISTEN/NOTIFY), not from their periodic re-read: here the re-read is an hour
apart, so whatever a replica learns within the test, a notice told it."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import psycopg
import pytest

from hub.changes import MAX_NAMED, Pending
from hub.settings import Limits
from hub.store import Change, Topic, postgres_notices
from tests.api.fleet import east, west
from tests.support import databases
from tests.support.clock import FakeClock
from tests.support.hub_env import LENIENT, Env

HOUR = 3600.0
WITHIN = 10.0
"""Seconds a test gives a notice; the re-read it would otherwise wait for is an hour."""


async def _eventually(condition: Callable[[], Awaitable[bool]]) -> None:
    deadline = time.monotonic() + WITHIN
    while not await condition():
        assert time.monotonic() < deadline, "no replica was told within the wait"
        await asyncio.sleep(0.02)


def _replica(url: str, clock: FakeClock) -> Env:
    replica = Env(url, clock, LENIENT)
    replica.settings = Limits(reread=HOUR)
    replica.maintain_every = HOUR
    return replica


@pytest.fixture
async def pair() -> AsyncIterator[tuple[Env, Env]]:
    with databases.postgres_schema() as url:
        clock = FakeClock()
        first, second = _replica(url, clock), _replica(url, clock)
        await first.start()
        second.admin = first.admin
        await second.start()
        yield first, second
        await second.stop()
        await first.stop()


async def test_a_token_revoked_on_one_replica_is_refused_by_the_other(
    pair: tuple[Env, Env],
) -> None:
    first, second = pair
    minted = await first.api.call(
        "POST", "/api/v1/tokens", first.admin, {"name": "ci", "role": "viewer"}
    )

    async def refused_by_second() -> bool:
        answer = await second.api.call("GET", "/api/v1/clusters", minted.body["token"])
        return answer.status == 401

    async def known_to_second() -> bool:
        return not await refused_by_second()

    await _eventually(known_to_second)
    path = f"/api/v1/tokens/{minted.body['info']['id']}"
    assert (await first.api.call("DELETE", path, first.admin)).status == 204
    await _eventually(refused_by_second)


async def test_a_waiting_agent_hears_of_a_job_another_replica_accepted(
    pair: tuple[Env, Env],
) -> None:
    first, second = pair
    spoke = await first.register("east")
    assert (await first.report(spoke, east())).status == 202
    target = await first.register("west")
    assert (await first.report(target, west())).status == 202
    path = "/api/v1/clusters/east/jobs"

    async def agent_known_to_second() -> bool:
        return (await second.api.call("GET", path, spoke)).status == 200

    await _eventually(agent_known_to_second)
    waiting = asyncio.create_task(second.api.call("GET", path, spoke, params={"wait": "60"}))
    await asyncio.sleep(0.3)  # the wait has begun on the second replica
    body = {"source_cluster": "east", "target": "west", "vms": ["shop/web"]}
    started = time.monotonic()
    accepted = await first.api.call("POST", "/api/v1/migrations", first.admin, body)
    assert accepted.status == 201, accepted.body
    answer = await asyncio.wait_for(waiting, 60)
    assert answer.status == 200, answer.body
    assert [job["id"] for job in answer.body["items"]] == [accepted.body["id"]]
    assert time.monotonic() - started < WITHIN, "woken by the notice, not the wait's end"


async def test_a_policy_and_a_report_reach_the_other_replica(pair: tuple[Env, Env]) -> None:
    first, second = pair
    spoke = await first.register("east", {"tier": "gold"})
    policy = {"max_suggestions": 2}
    assert (await first.api.call("PUT", "/api/v1/policy", first.admin, policy)).status == 200

    async def policy_followed() -> bool:
        return second.hub.policy.max_suggestions == 2

    await _eventually(policy_followed)
    assert (await first.report(spoke, east(sequence=7))).status == 202

    async def report_followed() -> bool:
        answer = await second.api.call("GET", "/api/v1/clusters/east", first.admin)
        return answer.status == 200 and answer.body["report_sequence"] == 7

    await _eventually(report_followed)


async def test_listening_begins_with_a_full_catch_up() -> None:
    """What committed before the LISTEN sent no notice the listener hears."""
    with databases.postgres_schema() as url:
        heard = postgres_notices.listen(url, postgres_notices.channel("cclm_first"))
        assert await asyncio.wait_for(anext(heard), WITHIN) == Change(Topic.EVERYTHING)
        await heard.aclose()


async def test_a_listener_that_lost_its_connection_asks_for_a_full_catch_up() -> None:
    with databases.postgres_schema() as url:
        channel = postgres_notices.channel("cclm_lost_" + str(time.monotonic_ns()))
        heard = postgres_notices.listen(url, channel)
        assert await asyncio.wait_for(anext(heard), WITHIN) == Change(Topic.EVERYTHING)
        first = asyncio.ensure_future(anext(heard))
        await _notified(url, channel, first, "tokens")
        assert first.result() == Change(Topic.TOKENS)
        with psycopg.connect(url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = %s",
                (f'LISTEN "{channel}"',),
            )
        assert await asyncio.wait_for(anext(heard), WITHIN) == Change(Topic.EVERYTHING)
        await heard.aclose()


async def _notified(
    url: str, channel: str, listening: asyncio.Future[Change], payload: str
) -> None:
    """Notify `channel` until the listener, which may not be listening yet, hears it."""
    deadline = time.monotonic() + WITHIN
    while not listening.done():
        assert time.monotonic() < deadline, "the listener never heard"
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("SELECT pg_notify(%s, %s)", (channel, payload))
        await asyncio.wait([listening], timeout=0.1)


def test_notices_name_what_changed_and_unknown_ones_ask_for_everything() -> None:
    assert postgres_notices.parse("tokens") == Change(Topic.TOKENS)
    assert postgres_notices.parse("settings") == Change(Topic.SETTINGS)
    assert postgres_notices.parse("cluster:prod-east") == Change(Topic.CLUSTER, "prod-east")
    assert postgres_notices.parse("jobs:prod-east") == Change(Topic.JOBS, "prod-east")
    assert postgres_notices.parse("quotas:x") == Change(Topic.EVERYTHING)


def test_a_burst_naming_many_clusters_becomes_one_catch_up_with_everything() -> None:
    pending = Pending()
    for i in range(MAX_NAMED):
        pending.add(Change(Topic.CLUSTER, f"c-{i}"))
    assert not pending.everything
    assert len(pending.clusters) == MAX_NAMED
    pending.add(Change(Topic.CLUSTER, "one-more"))
    assert pending.everything
