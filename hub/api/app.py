"""The aiohttp application: routes from the table, middlewares, lifecycle, metrics."""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from hub.access.kube_review import KubeReviewer
from hub.api import (
    admin,
    checks,
    clusters,
    console,
    feeds,
    grants,
    jobs,
    middleware,
    migrations,
    openapi,
)
from hub.api.fleet_metrics import Scraped
from hub.api.metrics import METRICS_KEY, Metrics
from hub.api.routing import Call, Reply, Route
from hub.errors import Unavailable
from hub.feeds.evaluate import evaluate
from hub.feeds.webhook import Alertmanagers
from hub.fleet import summaries
from hub.migration import queries
from hub.migration.stalls import watch_stalls
from hub.models.wire.codes import ErrorCode
from hub.ocm.sync import ManagedClusters
from hub.service import Hub

log = logging.getLogger("cclm.api")
SERVER_OPTIONS: dict[str, Any] = {"auto_decompress": False}
"""How the server must run: bodies are inflated by the hub itself (`hub.payloads`), bounded."""


def routes() -> tuple[Route, ...]:
    return (
        admin.ROUTES
        + clusters.ROUTES
        + checks.ROUTES
        + migrations.ROUTES
        + jobs.ROUTES
        + grants.ROUTES
        + feeds.ROUTES
    )


def _respond(reply: Reply) -> web.StreamResponse:
    if reply.streamed is not None:
        return reply.streamed
    if reply.body is None:
        return web.Response(status=reply.status, headers=dict(reply.headers))
    text = reply.body.model_dump_json(by_alias=True, exclude_none=reply.omit_none)
    return web.Response(
        status=reply.status,
        text=text,
        content_type="application/json",
        headers=dict(reply.headers),
    )


def _endpoint(
    hub: Hub, route: Route, metrics: Metrics
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        status = 500
        # A stream lasts as long as its client: it must not hold off background indexing,
        # nor count in the request latency.
        handling = contextlib.nullcontext() if route.streams else hub.handling()
        try:
            with handling:
                if route.role is not None and not hub.ready:
                    raise Unavailable(
                        "the hub is starting; retry in a moment", code=ErrorCode.STARTING
                    )
                middleware.refuse_credentials_in_url(request)
                middleware.refuse_control_characters(request)
                who = await middleware.principal(hub, request, route.role) if route.role else None
                response = _respond(await route.handler(Call(request, hub, who, route)))
            status = response.status
            return response
        except asyncio.CancelledError:
            # The client left: the normal end of a stream; for anything else, nginx's 499.
            status = 200 if route.streams else 499
            raise
        except Exception as error:
            status = getattr(error, "status", 500)
            raise
        finally:
            metrics.requests.labels(route.method, route.path, str(status)).inc()
            if not route.streams:
                spent = time.perf_counter() - started
                metrics.latency.labels(route.method, route.path).observe(spent)

    return handle


def _scrape(hub: Hub, metrics: Metrics) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handle(_request: web.Request) -> web.Response:
        now = hub.clock()
        counts: dict[str, int] = {}
        claims = 0
        for entry in hub.inventory.entries():
            state = summaries.freshness(summaries.age_seconds(entry, now), hub.policy).value
            counts[state] = counts.get(state, 0) + 1
            claims += len(entry.claims)
        for state in ("fresh", "stale", "expired", "missing"):
            metrics.clusters.labels(state).set(counts.get(state, 0))
        metrics.claims.set(claims)
        tallies = await queries.tallies(hub)
        metrics.fleet.scraped = Scraped(hub.inventory, hub.policy, tallies, hub.clock())
        return web.Response(
            body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )

    return handle


async def _maintain(
    hub: Hub,
    metrics: Metrics,
    every: float,
    pushing: Alertmanagers | None,
    ocm: ManagedClusters | None = None,
) -> None:
    """Sweep expired claims and stalls, evaluate the feeds, push the alerts and follow the
    ManagedClusters: one replica at a time, under a lease that lapses after three rounds
    without renewal."""
    term = timedelta(seconds=3 * every)
    loop = asyncio.get_running_loop()
    evaluated = pushed = synced = float("-inf")
    push: asyncio.Task[None] | None = None
    syncing: asyncio.Task[None] | None = None
    try:
        while True:
            await asyncio.sleep(every)
            try:
                if not await hub.leading(term):
                    continue
                idle = syncing is None or syncing.done()
                if ocm is not None and idle and loop.time() - synced >= ocm.every:
                    synced = loop.time()
                    syncing = loop.create_task(_follow_managed(hub, ocm))
                metrics.expired.inc(await hub.sweep())
                await watch_stalls(hub)
                changed = 0
                if loop.time() - evaluated >= hub.settings.feeds_every:
                    evaluated = loop.time()
                    changed = await evaluate(hub)
                due = pushing is not None and (
                    changed or loop.time() - pushed >= pushing.resend.total_seconds()
                )
                if pushing is not None and due and (push is None or push.done()):
                    pushed = loop.time()
                    push = loop.create_task(pushing.push(hub))  # it logs its own failures
            except Exception:
                log.exception("sweeping or evaluating the feeds failed; retrying in %.0f s", every)
    finally:
        for running in (push, syncing):
            if running is not None:
                running.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await running


async def _follow_managed(hub: Hub, ocm: ManagedClusters) -> None:
    try:
        await ocm.reconcile(hub)
    except Exception:
        log.exception("following the ManagedClusters failed; retrying in %.0f s", ocm.every)


async def _follow(hub: Hub) -> None:
    """Every replica follows what the others change: told by the store, or on a timer."""
    while True:
        try:
            await hub.catch_up()
        except Exception:
            log.exception("following the store failed; retrying in %.0f s", hub.settings.reread)
            await asyncio.sleep(hub.settings.reread)


LAG_EVERY = 0.05
"""Seconds between the loop-lag probe's timers."""


async def _watch_loop(metrics: Metrics) -> None:
    loop = asyncio.get_running_loop()
    while True:
        began = loop.time()
        await asyncio.sleep(LAG_EVERY)
        metrics.loop_lag.observe(max(0.0, loop.time() - began - LAG_EVERY))


async def _listen(hub: Hub) -> None:
    try:
        await hub.listen()
    except Exception:
        log.exception("the store's feed of changes failed; following it on a timer only")


def build(
    hub: Hub,
    maintain_every: float | None = 2.0,
    pushing: Alertmanagers | None = None,
    ocm: ManagedClusters | None = None,
    reviewer: KubeReviewer | None = None,
) -> web.Application:
    """The app; `maintain_every=None` leaves sweeping and following the store to the
    caller (tests drive them); `pushing` sends the alerts to Alertmanagers, `ocm` keeps
    the fleet as the hub cluster's ManagedClusters, `reviewer` checks its users' tokens."""
    metrics = Metrics()
    app = web.Application(middlewares=[middleware.errors])
    app[METRICS_KEY] = metrics
    if reviewer is not None:
        app[middleware.REVIEWER_KEY] = reviewer
    table = routes()
    for route in table:
        app.router.add_route(route.method, route.path, _endpoint(hub, route, metrics))
    spec = openapi.document(table)

    async def openapi_json(_request: web.Request) -> web.Response:
        return web.json_response(spec)

    app.router.add_get("/api/v1/openapi.json", openapi_json)
    app.router.add_get("/metrics", _scrape(hub, metrics))
    console.add_routes(app)

    async def lifecycle(_app: web.Application) -> AsyncIterator[None]:
        await hub.start()
        loop, tasks = asyncio.get_running_loop(), []
        if maintain_every is not None:
            maintaining = _maintain(hub, metrics, maintain_every, pushing, ocm)
            tasks.append(loop.create_task(maintaining))
            tasks += [loop.create_task(_follow(hub)), loop.create_task(_listen(hub))]
            tasks.append(loop.create_task(_watch_loop(metrics)))
        yield
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await hub.stop()

    app.cleanup_ctx.append(lifecycle)
    return app


def spec() -> dict[str, Any]:
    return openapi.document(routes())
