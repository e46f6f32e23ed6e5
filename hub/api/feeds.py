"""Alerts and recommendations (viewer): lists, one alert, and a Server-Sent Events stream of
both that resumes from `Last-Event-ID` (or `after`) without loss or repeats."""

from aiohttp import web

from hub.api import middleware
from hub.api.routing import Call, Param, Reply, Route
from hub.errors import HubError, Invalid
from hub.feeds import queries, stream
from hub.models.api import Alert, AlertKind, AlertList, AlertSeverity, Role
from hub.models.feeds import Event, EventTopic, RecommendationKind, RecommendationList
from hub.models.wire.codes import ErrorCode
from hub.store import AlertQuery

HEARTBEAT = 15.0
"""Seconds between keep-alive comments on a quiet stream (proxies close idle ones)."""
RETRY_MS = 2000
STATES = {"open": True, "resolved": False}


async def list_alerts(call: Call) -> Reply:
    state = call.query("state")
    if state is not None and state not in STATES:
        raise Invalid(
            f"query parameter state={state!r} is not one of: open, resolved",
            details={"parameter": "state", "allowed": sorted(STATES)},
            code=ErrorCode.INVALID_PARAMETER,
        )
    kind, severity = call.choice("kind", AlertKind), call.choice("severity", AlertSeverity)
    query = AlertQuery(
        open=None if state is None else STATES[state],
        kind=kind.value if kind else None,
        cluster=call.query("cluster"),
        severity=severity.value if severity else None,
        limit=call.limit(),
        before=queries.page_start(call.query("continue")),
    )
    return Reply(200, await queries.alerts(call.hub, query))


async def get_alert(call: Call) -> Reply:
    return Reply(200, await queries.alert(call.hub, call.path("id")))


async def list_recommendations(call: Call) -> Reply:
    kind = call.choice("kind", RecommendationKind)
    found = await queries.recommendations(
        call.hub, kind.value if kind else None, call.query("cluster")
    )
    return Reply(200, found)


def _resume(call: Call) -> int | None:
    """`Last-Event-ID` (what a browser's EventSource sends when it reconnects), else `after`."""
    given = call.request.headers.get("Last-Event-ID")
    where = "header Last-Event-ID"
    if given is None:
        given, where = call.query("after"), "query parameter after"
    if given is None:
        return None
    value = given.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 18:
        raise Invalid(
            f"{where}={given!r} must be an event id this hub sent (a whole number)",
            details={"parameter": "after"},
            code=ErrorCode.INVALID_PARAMETER,
        )
    return int(value)


def _topics(call: Call) -> set[EventTopic]:
    given = call.query("topics", blank=True)
    if given is None:
        return set(EventTopic)
    names = {t.strip() for t in given.split(",") if t.strip()}
    known = {t.value for t in EventTopic}
    if not names or names - known:
        raise Invalid(
            f"query parameter topics={given!r} names none or an unknown topic; "
            f"give some of: {', '.join(sorted(known))}",
            details={"parameter": "topics", "allowed": sorted(known)},
            code=ErrorCode.INVALID_PARAMETER,
        )
    return {EventTopic(n) for n in names}


def _frame(event: str, data: str, ident: int | None = None) -> bytes:
    head = f"id: {ident}\n" if ident is not None else ""
    return f"{head}event: {event}\ndata: {data}\n\n".encode()


async def _allowed(call: Call) -> bool:
    """The stream's token still valid: a revoked one ends the stream."""
    try:
        await middleware.principal(call.hub, call.request, Role.VIEWER)
    except HubError:
        return False
    return True


async def stream_events(call: Call) -> Reply:
    after, topics = _resume(call), _topics(call)
    begun, gap = await stream.start(call.hub, after)
    response = web.StreamResponse(
        status=200,
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        },
    )
    await response.prepare(call.request)
    try:
        await response.write(f"retry: {RETRY_MS}\n\n".encode())
        await response.write(_frame("open", f'{{"after": {begun}}}', begun))
        if gap is not None:
            data = f'{{"asked": {gap.asked}, "resumed": {gap.resumed}}}'
            await response.write(_frame("reset", data, gap.resumed))
        followed = stream.follow(call.hub, begun, topics, HEARTBEAT, lambda: _allowed(call))
        async for item in followed:
            if isinstance(item, stream.Quiet):
                await response.write(b": still here\n\n")
            elif isinstance(item, Event):
                await response.write(_frame(item.topic.value, item.model_dump_json(), item.id))
    except ConnectionError:
        pass  # the client went away: that is how a stream ends
    return Reply(200, None, streamed=response)


ROUTES = (
    Route(
        "GET",
        "/api/v1/alerts",
        list_alerts,
        "Alerts, newest first (open and resolved unless `state` says)",
        Role.VIEWER,
        "feeds",
        answers={200: AlertList},
        params=(
            Param("state", "Only open or only resolved alerts", choices=tuple(STATES)),
            Param("kind", "Only this kind", choices=tuple(k.value for k in AlertKind)),
            Param("cluster", "Only alerts about this cluster"),
            Param("severity", "Only this severity", choices=tuple(s.value for s in AlertSeverity)),
            Param("limit", "At most this many", integer=True, minimum=1, maximum=500),
            Param("continue", "The `next` of the previous page"),
        ),
    ),
    Route(
        "GET",
        "/api/v1/alerts/{id}",
        get_alert,
        "One alert",
        Role.VIEWER,
        "feeds",
        answers={200: Alert},
    ),
    Route(
        "GET",
        "/api/v1/recommendations",
        list_recommendations,
        "Recommendations, each explained like a suggestion",
        Role.VIEWER,
        "feeds",
        answers={200: RecommendationList},
        params=(
            Param("kind", "Only this kind", choices=tuple(k.value for k in RecommendationKind)),
            Param("cluster", "Only recommendations about this cluster"),
        ),
    ),
    Route(
        "GET",
        "/api/v1/events",
        stream_events,
        "Server-Sent Events: every alert and recommendation change as it happens",
        Role.VIEWER,
        "feeds",
        answers={200: None},
        streams="text/event-stream",
        description=(
            "Each event's `id` increases across the hub's replicas; reconnect with the "
            "`Last-Event-ID` header (EventSource does) or `after` to resume with the next "
            "one, without loss or repeats. Without either the stream starts with the next "
            "event. It opens with `event: open`, whose id is where it starts (list first, "
            "then follow, and nothing falls between). An `event: reset` says events after "
            "the point asked for are gone: list again, then go on. Event names are the "
            "topics: `alert`, `recommendation`."
        ),
        params=(
            Param(
                "topics",
                "Comma-separated topics to receive (default both)",
                listing=True,
            ),
            Param("after", "Resume after this event id", integer=True, minimum=0),
        ),
    ),
)
