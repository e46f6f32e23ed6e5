"""Target access grants through the hub: the source agent's key, the target agent's pull
of grants to mint, the sealed hand-in, the source's fetch, renewal, release and revocation.
The hub relays ciphertext only; these tests seal real boxes and check the hub's database
never holds what is inside."""

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from spoke_agent.access.sealing import KeyPair, seal
from spoke_agent.access.source_connection import TargetAccess

from tests.api.test_migrations import migrate
from tests.support.hub_env import Env

TOKEN = "eyJhbGciOiJSUzI1NiJ9.minted-for-this-migration-only"


@pytest.fixture
def keys() -> KeyPair:
    return KeyPair.generate()


async def register_key(env: Env, token: str, key: str, cluster: str = "east") -> Any:
    path = f"/api/v1/clusters/{cluster}/sealing-key"
    return await env.api.call("PUT", path, token, {"public_key": key})


async def pending(env: Env, token: str, cluster: str = "west") -> Any:
    return await env.api.call("GET", f"/api/v1/clusters/{cluster}/grants", token)


def sealed_for(keys: KeyPair, migration: str, env: Env, ttl: int = 3600) -> dict[str, str]:
    expires = env.clock.now + timedelta(seconds=ttl)
    access = TargetAccess(server="https://west.example:6443", token=TOKEN, expires_at=expires)
    box = seal(keys.public, migration, access.seal_text())
    return {"sealed": box, "expires_at": expires.isoformat(), "recipient_key": keys.public}


async def hand_in(env: Env, token: str, migration: str, body: dict[str, Any]) -> Any:
    path = f"/api/v1/clusters/west/grants/{migration}"
    return await env.api.call("PUT", path, token, body)


async def access(env: Env, token: str, migration: str, method: str = "GET") -> Any:
    path = f"/api/v1/clusters/east/jobs/{migration}/access"
    return await env.api.call(method, path, token)


async def accepted(env: Env) -> str:
    answer = await migrate(env, vms=["shop/db", "shop/web"])
    assert answer.status == 201, answer.body
    return str(answer.body["id"])


async def test_a_grant_goes_from_target_to_source_sealed(
    env: Env, spokes: dict[str, str], keys: KeyPair
) -> None:
    assert (await register_key(env, spokes["east"], keys.public)).body["changed"] is True
    migration = await accepted(env)
    listed = (await pending(env, spokes["west"])).body
    (request,) = listed["requests"]
    assert request["migration_id"] == migration
    assert request["recipient_key"] == keys.public
    assert request["namespaces"] == ["shop"]
    assert request["ttl_seconds"] == 3600
    assert listed["open"] == [migration]
    waiting = await access(env, spokes["east"], migration)
    assert (waiting.status, waiting.code) == (409, "access_pending")
    assert "target cluster 'west'" in waiting.message
    body = sealed_for(keys, migration, env)
    assert (await hand_in(env, spokes["west"], migration, body)).status == 200
    fetched = await access(env, spokes["east"], migration)
    assert fetched.status == 200
    opened = TargetAccess.from_text(keys.open(fetched.body["sealed"], migration))
    assert opened.token == TOKEN
    assert (await pending(env, spokes["west"])).body["requests"] == [], "minted, not yet due"
    dump = env.dump()
    assert TOKEN not in dump
    assert body["sealed"] in dump, "the hub keeps the box it cannot open"


async def test_no_grant_is_asked_for_before_the_source_has_a_key(
    env: Env, spokes: dict[str, str], keys: KeyPair
) -> None:
    migration = await accepted(env)
    listed = (await pending(env, spokes["west"])).body
    assert (listed["requests"], listed["open"]) == ([], [migration])
    answer = await access(env, spokes["east"], migration)
    assert (answer.status, answer.code) == (409, "no_sealing_key")
    await register_key(env, spokes["east"], keys.public)
    assert len((await pending(env, spokes["west"])).body["requests"]) == 1


async def test_a_grant_is_asked_for_again_with_a_third_of_its_life_left(
    env: Env, spokes: dict[str, str], keys: KeyPair
) -> None:
    await register_key(env, spokes["east"], keys.public)
    migration = await accepted(env)
    await hand_in(env, spokes["west"], migration, sealed_for(keys, migration, env))
    env.clock.advance(2399)
    assert (await pending(env, spokes["west"])).body["requests"] == []
    env.clock.advance(1)
    assert len((await pending(env, spokes["west"])).body["requests"]) == 1
    assert (await access(env, spokes["east"], migration)).status == 200, "still valid meanwhile"
    env.clock.advance(1200)
    expired = await access(env, spokes["east"], migration)
    assert (expired.status, expired.code) == (409, "access_pending")


async def test_a_new_key_drops_boxes_sealed_to_the_old_one(
    env: Env, spokes: dict[str, str], keys: KeyPair
) -> None:
    await register_key(env, spokes["east"], keys.public)
    migration = await accepted(env)
    await hand_in(env, spokes["west"], migration, sealed_for(keys, migration, env))
    assert (await register_key(env, spokes["east"], keys.public)).body["changed"] is False
    assert (await access(env, spokes["east"], migration)).status == 200
    fresh = KeyPair.generate()
    assert (await register_key(env, spokes["east"], fresh.public)).body["changed"] is True
    assert (await access(env, spokes["east"], migration)).code == "access_pending"
    (request,) = (await pending(env, spokes["west"])).body["requests"]
    assert request["recipient_key"] == fresh.public


async def test_access_is_released_once_the_migration_ended_and_then_revoked(
    env: Env, spokes: dict[str, str], keys: KeyPair
) -> None:
    await register_key(env, spokes["east"], keys.public)
    migration = await accepted(env)
    await hand_in(env, spokes["west"], migration, sealed_for(keys, migration, env))
    early = await access(env, spokes["east"], migration, "DELETE")
    assert (early.status, early.code) == (409, "migration_active")
    cancel = await env.api.call("POST", f"/api/v1/migrations/{migration}/cancel", env.admin)
    assert cancel.status == 200, cancel.body
    assert (await access(env, spokes["east"], migration)).status == 200, "to undo the job"
    assert (await access(env, spokes["east"], migration, "DELETE")).status == 204
    assert (await access(env, spokes["east"], migration, "DELETE")).status == 204, "repeatable"
    closed = await access(env, spokes["east"], migration)
    assert (closed.status, closed.code) == (409, "grant_closed")
    assert (await pending(env, spokes["west"])).body["open"] == [], "the target revokes it"
    late = await hand_in(env, spokes["west"], migration, sealed_for(keys, migration, env))
    assert (late.status, late.code) == (409, "grant_closed")
    ((sealed,),) = env.sql("SELECT sealed FROM grants")
    assert sealed is None, "a closed grant keeps no box"


async def test_a_grant_nobody_released_closes_after_it_lingered(
    env: Env, spokes: dict[str, str], keys: KeyPair
) -> None:
    await register_key(env, spokes["east"], keys.public)
    migration = await accepted(env)
    await env.api.call("POST", f"/api/v1/migrations/{migration}/cancel", env.admin)
    env.clock.advance(3600)
    await env.hub.sweep()
    assert (await pending(env, spokes["west"])).body["open"] == [migration]
    env.clock.advance(3601)
    await env.hub.sweep()
    assert (await pending(env, spokes["west"])).body["open"] == []


async def test_each_agent_acts_only_for_its_own_side(
    env: Env, spokes: dict[str, str], keys: KeyPair
) -> None:
    await register_key(env, spokes["east"], keys.public)
    migration = await accepted(env)
    body = sealed_for(keys, migration, env)
    by_source = await env.api.call(
        "PUT", f"/api/v1/clusters/east/grants/{migration}", spokes["east"], body
    )
    assert (by_source.status, by_source.code) == (403, "wrong_cluster")
    by_target = await env.api.call(
        "GET", f"/api/v1/clusters/west/jobs/{migration}/access", spokes["west"]
    )
    assert (by_target.status, by_target.code) == (403, "wrong_cluster")
    other = await register_key(env, spokes["west"], keys.public, cluster="east")
    assert other.status == 403
    unknown = await hand_in(env, spokes["west"], "mig-nope", body)
    assert (unknown.status, unknown.code) == (404, "unknown_migration")
    viewer = await env.token("viewer")
    assert (await pending(env, viewer)).status == 403


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"public_key": "not base64 at all!"}, "base64"),
        ({"public_key": "AAAA"}, "32 bytes"),
        ({}, "public_key"),
    ],
)
async def test_a_bad_key_is_refused_with_a_reason(
    env: Env, spokes: dict[str, str], body: dict[str, Any], fragment: str
) -> None:
    answer = await env.api.call("PUT", "/api/v1/clusters/east/sealing-key", spokes["east"], body)
    assert answer.status == 400
    assert fragment in answer.message


async def test_a_bad_or_stale_grant_is_refused_with_a_reason(
    env: Env, spokes: dict[str, str], keys: KeyPair
) -> None:
    await register_key(env, spokes["east"], keys.public)
    migration = await accepted(env)
    garbled = {**sealed_for(keys, migration, env), "sealed": "%%%"}
    answer = await hand_in(env, spokes["west"], migration, garbled)
    assert (answer.status, "base64" in answer.message) == (400, True)
    stale = sealed_for(keys, migration, env, ttl=-1)
    answer = await hand_in(env, spokes["west"], migration, stale)
    assert (answer.status, answer.code) == (409, "grant_expired")
    naive = {**sealed_for(keys, migration, env), "expires_at": "2026-11-24T10:00:00"}
    assert (await hand_in(env, spokes["west"], migration, naive)).status == 400


def undo_feeds(env: Env) -> None:
    """What schema step 5 (feeds) adds, taken away."""
    for table in ("events", "counters", "recommendations"):
        env.sql(f"DROP TABLE {table}")
    env.sql("DROP INDEX alerts_newest")
    env.sql("DROP INDEX alerts_open")
    for column in ("fingerprint", "kind", "cluster", "severity", "resolved_at"):
        env.sql(f"ALTER TABLE alerts DROP COLUMN {column}")


async def test_a_hub_upgraded_from_before_grants_opens_one_for_each_active_migration(
    env: Env, spokes: dict[str, str], keys: KeyPair
) -> None:
    ended = (await migrate(env)).body["id"]
    await env.api.call("POST", f"/api/v1/migrations/{ended}/cancel", env.admin)
    running = await accepted(env)
    await env.stop()
    env.sql("DROP TABLE leases")  # what later versions add is not there either
    env.sql("DROP TABLE grants")
    env.sql("ALTER TABLE clusters DROP COLUMN sealing_key")
    env.sql("ALTER TABLE clusters DROP COLUMN report_index")
    undo_feeds(env)
    env.sql("DELETE FROM schema_version WHERE version > 1")
    await env.start()
    await register_key(env, spokes["east"], keys.public)
    listed = (await pending(env, spokes["west"])).body
    assert listed["open"] == [running]
    assert [r["migration_id"] for r in listed["requests"]] == [running]


async def test_a_target_that_cannot_mint_says_why_and_the_source_sees_it(
    env: Env, spokes: dict[str, str], keys: KeyPair
) -> None:
    await register_key(env, spokes["east"], keys.public)
    migration = await accepted(env)
    path = f"/api/v1/clusters/west/grants/{migration}/failure"
    reason = "POST /api/v1/namespaces/cclm-system/serviceaccounts: 403 forbidden"
    told = await env.api.call("POST", path, spokes["west"], {"message": reason})
    assert told.status == 204
    waiting = await access(env, spokes["east"], migration)
    assert (waiting.status, waiting.code) == (409, "access_pending")
    assert f"could not grant access for {migration}: {reason}" in waiting.message
    assert (await env.api.call("POST", path, spokes["east"], {"message": "x"})).status == 403
    assert (await env.api.call("POST", path, spokes["west"], {"message": ""})).status == 400
    await hand_in(env, spokes["west"], migration, sealed_for(keys, migration, env))
    assert (await access(env, spokes["east"], migration)).status == 200
    env.clock.advance(3600)
    assert "could not grant" not in (await access(env, spokes["east"], migration)).message


async def test_the_target_agent_waits_until_there_is_a_grant_to_mint_or_revoke(
    env: Env, spokes: dict[str, str], keys: KeyPair
) -> None:
    await register_key(env, spokes["east"], keys.public)
    migration = await accepted(env)
    await hand_in(env, spokes["west"], migration, sealed_for(keys, migration, env))
    path = "/api/v1/clusters/west/grants"
    params = {"wait": "10", "held": migration}
    waiting = asyncio.create_task(env.api.call("GET", path, spokes["west"], params=params))
    await asyncio.sleep(0.2)
    assert not waiting.done(), "nothing to mint, nothing to revoke: the wait goes on"
    await env.api.call("POST", f"/api/v1/migrations/{migration}/cancel", env.admin)
    await access(env, spokes["east"], migration, "DELETE")
    answer = await asyncio.wait_for(waiting, timeout=10)
    assert answer.body["open"] == [], "released: the held account is to be revoked"


async def test_a_grant_longer_than_allowed_or_for_a_replaced_key_is_refused(
    env: Env, spokes: dict[str, str], keys: KeyPair
) -> None:
    await register_key(env, spokes["east"], keys.public)
    migration = await accepted(env)
    forever = {**sealed_for(keys, migration, env), "expires_at": "9999-12-31T23:59:59-12:00"}
    answer = await hand_in(env, spokes["west"], migration, forever)
    assert (answer.status, answer.code) == (400, "grant_too_long")
    assert (await pending(env, spokes["west"])).status == 200, "nothing unreadable was stored"
    in_flight = sealed_for(keys, migration, env)
    await register_key(env, spokes["east"], KeyPair.generate().public)
    stale = await hand_in(env, spokes["west"], migration, in_flight)
    assert (stale.status, stale.code) == (409, "stale_key")
    assert (await access(env, spokes["east"], migration)).code == "access_pending"
    assert len((await pending(env, spokes["west"])).body["requests"]) == 1, "asked for again"


async def test_a_short_lived_token_is_renewed_by_its_own_life_but_not_in_a_loop(
    env: Env, spokes: dict[str, str], keys: KeyPair
) -> None:
    await register_key(env, spokes["east"], keys.public)
    migration = await accepted(env)
    await hand_in(env, spokes["west"], migration, sealed_for(keys, migration, env, ttl=600))
    env.clock.advance(399)
    assert (await pending(env, spokes["west"])).body["requests"] == []
    env.clock.advance(1)
    assert len((await pending(env, spokes["west"])).body["requests"]) == 1
    await hand_in(env, spokes["west"], migration, sealed_for(keys, migration, env, ttl=30))
    env.clock.advance(59)
    assert (await pending(env, spokes["west"])).body["requests"] == [], "not within a minute"
