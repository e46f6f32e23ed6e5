"""Alerts open and resolve with their conditions; lists filter and page; the event stream
(Server-Sent Events) carries every change in order and resumes from `Last-Event-ID` without
loss or repeats, on every replica."""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.feeds.evaluate import evaluate
from hub.feeds.webhook import Alertmanagers
from tests.api.fleet import east
from tests.api.test_grants import undo_feeds
from tests.support import ports
from tests.support.hub_env import Env


async def open_alerts(env: Env, **params: str) -> list[dict[str, Any]]:
    answer = await env.api.call("GET", "/api/v1/alerts", env.admin, params=params)
    assert answer.status == 200, answer.body
    return list(answer.body["items"])


class Stream:
    """An SSE client reading frames as a browser's EventSource would."""

    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self.response = response
        self.opened: dict[str, str] = {}
        """The `open` frame that starts every stream: where it begins."""

    async def frames(self, count: int, timeout: float = 10) -> list[dict[str, str]]:
        found: list[dict[str, str]] = []
        current: dict[str, str] = {}

        async def read() -> None:
            while len(found) < count:
                line = (await self.response.content.readline()).decode()
                assert line, "the stream ended"
                line = line.rstrip("\n")
                if not line:
                    if current.get("event") == "open":
                        self.opened = dict(current)
                    elif "event" in current:
                        found.append(dict(current))
                    current.clear()
                elif not line.startswith(":"):
                    name, _, value = line.partition(": ")
                    current[name] = value

        await asyncio.wait_for(read(), timeout)
        return found


async def stream(env: Env, last: str | None = None, **params: str) -> AsyncIterator[Stream]:
    headers = {"Authorization": f"Bearer {env.admin}"}
    if last is not None:
        headers["Last-Event-ID"] = last
    response = await env.api.client.get("/api/v1/events", headers=headers, params=params)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"] == "text/event-stream"
    try:
        yield Stream(response)
    finally:
        response.close()


def following(env: Env, last: str | None = None, **params: str) -> Any:
    return _Context(stream(env, last, **params))


class _Context:
    def __init__(self, gen: AsyncIterator[Stream]) -> None:
        self.gen = gen

    async def __aenter__(self) -> Stream:
        return await self.gen.__anext__()

    async def __aexit__(self, *_: object) -> None:
        await self.gen.aclose()  # type: ignore[attr-defined]


async def test_a_late_cluster_raises_an_alert_that_resolves_when_it_reports_again(
    env: Env, spokes: dict[str, str]
) -> None:
    assert await evaluate(env.hub) == 0
    assert await open_alerts(env, state="open") == []
    env.clock.advance(130)  # past the default soft staleness of 120 s
    await evaluate(env.hub)
    raised = await open_alerts(env, state="open")
    assert sorted(a["fingerprint"] for a in raised) == ["spoke-stale:east", "spoke-stale:west"]
    [late] = [a for a in raised if a["cluster"] == "east"]
    assert (late["kind"], late["severity"]) == ("spoke-stale", "warning")
    assert late["links"] == {"cluster": "/api/v1/clusters/east"}
    assert late["resolved_at"] is None
    assert (await env.report(spokes["east"], east(sequence=2))).status == 202
    await evaluate(env.hub)
    [still] = await open_alerts(env, state="open")
    assert still["cluster"] == "west"
    [resolved] = await open_alerts(env, state="resolved")
    assert (resolved["id"], resolved["resolved_at"] is not None) == (late["id"], True)
    one = await env.api.call("GET", f"/api/v1/alerts/{late['id']}", env.admin)
    assert one.body["resolved_at"] == resolved["resolved_at"]


async def test_the_stream_carries_each_change_and_resumes_without_loss_or_repeats(
    env: Env, spokes: dict[str, str]
) -> None:
    async with following(env) as live:
        env.clock.advance(130)
        await evaluate(env.hub)
        first = await live.frames(2)
    assert live.opened["id"] == "0", "a new stream says where it starts: after the newest"
    assert {f["event"] for f in first} == {"alert"}
    assert [json.loads(f["data"])["type"] for f in first] == ["raised", "raised"]
    ids = [int(f["id"]) for f in first]
    assert ids == sorted(ids)
    await env.report(spokes["east"], east(sequence=2))
    await evaluate(env.hub)  # east resolves while nobody listens
    async with following(env, last=str(ids[-1])) as resumed:
        [missed] = await resumed.frames(1)
        assert resumed.opened["id"] == str(ids[-1])
    event = json.loads(missed["data"])
    assert (event["type"], event["alert"]["cluster"]) == ("resolved", "east")
    assert int(missed["id"]) == ids[-1] + 1, "the next one, not one seen before"
    async with following(env, after="0") as replay:
        everything = await replay.frames(3)
    assert [int(f["id"]) for f in everything] == [*ids, ids[-1] + 1]


@pytest.mark.usefixtures("spokes")
async def test_a_stream_resuming_from_before_what_is_kept_is_told_to_list_again(env: Env) -> None:
    env.clock.advance(130)
    await evaluate(env.hub)
    await env.hub.store.feeds.prune_events(env.clock() + env.hub.settings.event_retention)
    async with following(env, last="1") as resumed:
        [reset] = await resumed.frames(1)
    assert reset["event"] == "reset"
    assert json.loads(reset["data"])["asked"] == 1


@pytest.mark.usefixtures("spokes")
async def test_a_stream_can_ask_for_one_topic_and_refuses_what_it_cannot_read(env: Env) -> None:
    headers = {"Authorization": f"Bearer {env.admin}", "Last-Event-ID": "soon"}
    refused = await env.api.client.get("/api/v1/events", headers=headers)
    assert refused.status == 400
    assert (
        "header Last-Event-ID='soon' must be an event id"
        in (await refused.json())["error"]["message"]
    )
    answer = await env.api.call("GET", "/api/v1/events", env.admin, params={"topics": "news"})
    assert (answer.status, answer.code) == (400, "invalid_parameter")
    async with following(env, topics="recommendation") as only:
        env.clock.advance(130)
        await evaluate(env.hub)
        with pytest.raises(TimeoutError):
            await only.frames(1, timeout=0.5)


async def test_alerts_filter_and_page_without_repeats(env: Env) -> None:
    for n in range(5):
        await env.register(f"c{n}")  # registered, never reported: silent
    await evaluate(env.hub)
    seen, token = [], None
    while True:
        params = {"limit": "2", **({"continue": token} if token else {})}
        page = await env.api.call("GET", "/api/v1/alerts", env.admin, params=params)
        seen += [a["id"] for a in page.body["items"]]
        token = page.body["next"]
        if token is None:
            break
    assert len(seen) == len(set(seen)) == 5
    [one] = await open_alerts(env, kind="spoke-silent", cluster="c3", severity="critical")
    assert "has never reported" in one["message"]
    for params, named in (
        ({"continue": "not-a-token"}, "continue"),
        ({"state": "firing"}, "state"),
        ({"kind": "fire"}, "kind"),
    ):
        bad = await env.api.call("GET", "/api/v1/alerts", env.admin, params=params)
        assert (bad.status, bad.code) == (400, "invalid_parameter"), params
        assert named in bad.message
    missing = await env.api.call("GET", "/api/v1/alerts/nope", env.admin)
    assert (missing.status, missing.code) == (404, "unknown_alert")


@pytest.mark.usefixtures("spokes")
async def test_another_replica_streams_what_one_replica_raised(env: Env) -> None:
    other = Env(env.db, env.clock, env.policy)
    other.admin, other.maintain_every = env.admin, 0.2
    await other.start()
    try:
        async with following(other) as there:
            env.clock.advance(130)
            await evaluate(env.hub)
            frames = await there.frames(2, timeout=5)
        assert sorted(json.loads(f["data"])["alert"]["cluster"] for f in frames) == [
            "east",
            "west",
        ]
    finally:
        await other.stop()


async def test_an_alert_from_before_feeds_reads_as_resolved_when_it_was_raised(env: Env) -> None:
    """Alerts were one-time records before they opened and resolved."""
    await env.stop()
    undo_feeds(env)
    env.sql("DELETE FROM schema_version WHERE version > 4")
    body = {
        "id": "alert-0123",
        "kind": "reservation-expired",
        "severity": "warning",
        "message": "reservation claim-1 on west expired",
        "cluster": "west",
        "created_at": "2026-11-30T10:00:00Z",
    }
    stamp = 1_796_032_800.0  # 2026-11-30T10:00:00Z
    env.sql(
        "INSERT INTO alerts (id, created_at, body) VALUES (?, ?, ?)",
        ("alert-0123", stamp, json.dumps(body)),
    )
    await env.start()
    [old] = await open_alerts(env, state="resolved")
    assert (old["id"], old["fingerprint"]) == ("alert-0123", "alert-0123")
    assert old["first_seen"] == old["resolved_at"] == "2026-11-30T10:00:00Z"
    assert await open_alerts(env, state="open") == []


@pytest.mark.usefixtures("spokes")
async def test_a_stream_ends_when_its_token_is_revoked_and_a_leaving_client_is_no_error(
    env: Env,
) -> None:
    minted = await env.api.call(
        "POST", "/api/v1/tokens", env.admin, {"name": "console", "role": "viewer"}
    )
    token, token_id = minted.body["token"], minted.body["info"]["id"]
    headers = {"Authorization": f"Bearer {token}"}
    response = await env.api.client.get("/api/v1/events", headers=headers)
    assert response.status == 200
    assert (await env.api.call("DELETE", f"/api/v1/tokens/{token_id}", env.admin)).status == 204

    async def ended() -> None:
        while await response.content.readline():
            pass

    await asyncio.wait_for(ended(), timeout=10)  # within one re-read (2 s), not never
    async with following(env):
        pass  # a client that leaves mid-stream
    await asyncio.sleep(0.1)
    metrics = await (await env.api.client.get("/metrics")).text()
    assert 'route="/api/v1/events",status="500"' not in metrics
    assert 'route="/api/v1/events",status="200"' in metrics


@pytest.mark.usefixtures("spokes")
async def test_two_replicas_evaluating_at_once_open_one_alert_per_condition(env: Env) -> None:
    other = Env(env.db, env.clock, env.policy)
    other.admin = env.admin
    await other.start()
    try:
        env.clock.advance(130)
        await asyncio.gather(evaluate(env.hub), evaluate(other.hub), return_exceptions=True)
        await evaluate(env.hub)
        prints = [a["fingerprint"] for a in await open_alerts(env, state="open")]
        assert sorted(prints) == ["spoke-stale:east", "spoke-stale:west"]
    finally:
        await other.stop()


async def test_alertmanager_gets_a_recurring_condition_once_firing(
    env: Env, spokes: dict[str, str]
) -> None:
    """A resolved occurrence has the labels of the new one: sent beside it, it would resolve it."""
    received: list[Any] = []

    async def alerts(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/api/v2/alerts", alerts)
    runner = web.AppRunner(app)
    await runner.setup()
    port = ports.free()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        env.clock.advance(130)
        await evaluate(env.hub)  # east and west stale
        await env.report(spokes["east"], east(sequence=2))
        await evaluate(env.hub)  # east resolved
        env.clock.advance(130)
        await evaluate(env.hub)  # east stale again: a new occurrence
        await Alertmanagers([f"http://127.0.0.1:{port}"]).push(env.hub)
    finally:
        await runner.cleanup()
    [sent] = received
    east_alerts = [a for a in sent if a["labels"]["fingerprint"] == "spoke-stale:east"]
    assert len(east_alerts) == 1
    assert east_alerts[0]["labels"]["alertname"] == "CclmSpokeStale"
    assert east_alerts[0]["endsAt"] > env.clock().isoformat()[:19], "firing: ends ahead"
