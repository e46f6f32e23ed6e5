"""Recommendations, each backed by a check run now: where a stalled migration would fit,
which VMs to move off a cluster below its headroom and where, which reservations idle; they
come and go with their conditions, and the stream announces each."""

from typing import Any

import pytest

from hub.feeds.evaluate import evaluate
from hub.migration.stalls import watch_stalls
from tests.api.fleet import _node
from tests.api.test_jobs import _receiving, report
from tests.api.test_migrations import migrate
from tests.support.builders import report as built_report
from tests.support.hub_env import Env


async def recommendations(env: Env, **params: str) -> list[dict[str, Any]]:
    answer = await env.api.call("GET", "/api/v1/recommendations", env.admin, params=params)
    assert answer.status == 200, answer.body
    return list(answer.body["items"])


async def north(env: Env) -> None:
    """A third cluster with room for shop/db."""
    token = await env.register("north")
    nodes = [_node(f"north-{i}").cpu("32").memory("128Gi").build() for i in (1, 2)]
    assert (await env.report(token, built_report("north", nodes))).status == 202


async def test_a_stalled_migration_is_told_where_its_vms_fit_now(
    env: Env, spokes: dict[str, str]
) -> None:
    await north(env)
    migration = (await migrate(env)).body
    pending = {"state": "running", "vms": [_receiving("Pending", message="0/2 nodes")]}
    await report(env, spokes["east"], migration["id"], pending)
    env.clock.advance(50)
    assert await watch_stalls(env.hub) == 1
    await evaluate(env.hub)
    [advice] = await recommendations(env, kind="fits-elsewhere")
    assert advice["id"] == f"fits-elsewhere:{migration['id']}"
    assert advice["migration_id"] == migration["id"]
    assert [t["cluster"] for t in advice["targets"]] == ["north"], "not its own target, west"
    assert advice["targets"][0]["verdict"] == "fits"
    assert advice["targets"][0]["reasons"], "explained like a suggestion"
    assert "is stalled; its VMs fit now on north" in advice["message"]
    running = {"state": "running", "vms": [_receiving("Running")]}
    await report(env, spokes["east"], migration["id"], running)
    await evaluate(env.hub)
    assert await recommendations(env, kind="fits-elsewhere") == []


@pytest.mark.usefixtures("spokes")
async def test_a_cluster_below_headroom_is_told_which_vms_to_move_and_where(env: Env) -> None:
    # east: 64 cores, 16 requested, 48 free (75 %); a policy keeping 80 % free puts it short
    policy = {"headroom_percent": {"cpu": 80, "memory": 0, "storage": 0}}
    assert (await env.api.call("PUT", "/api/v1/policy", env.admin, policy)).status == 200
    await evaluate(env.hub)
    [advice] = await recommendations(env, kind="restore-headroom", cluster="east")
    moves = advice["moves"]
    # the VM asking for the most CPU first: shop/db (4 vCPUs) before cache (2) and web (1)
    assert moves[0]["vm"] == "east/shop/db"
    assert moves[0]["to"]["cluster"] == "west"
    assert moves[0]["frees"]["cpu_millis"] > 0
    assert (
        "east keeps less cpu free than the policy's headroom: moving east/shop/db to west"
        in (advice["message"])
    )
    alerts = await env.api.call(
        "GET", "/api/v1/alerts", env.admin, params={"kind": "below-headroom", "state": "open"}
    )
    assert [a["fingerprint"] for a in alerts.body["items"]] == ["below-headroom:east:cpu"]


@pytest.mark.usefixtures("spokes")
async def test_a_reservation_nobody_picks_up_is_recommended_for_release(env: Env) -> None:
    migration = (await migrate(env)).body
    env.clock.advance(200)
    await evaluate(env.hub)
    assert await recommendations(env, kind="idle-reservation") == []
    env.clock.advance(150)  # queued 350 s: the source's agent never pulled it
    await evaluate(env.hub)
    [advice] = await recommendations(env, kind="idle-reservation")
    claim = migration["reservation"]["claim"]["id"]
    assert f"reservation {claim} holds" in advice["message"]
    assert "which has not moved for 350 s" in advice["message"]
    await env.api.call("POST", f"/api/v1/migrations/{migration['id']}/cancel", env.admin)
    await evaluate(env.hub)
    assert await recommendations(env, kind="idle-reservation") == []
    events = await env.hub.store.feeds.events(0, 100)
    kinds = [(e.topic.value, e.type.value) for e in events if e.topic.value == "recommendation"]
    assert kinds == [("recommendation", "added"), ("recommendation", "removed")]
