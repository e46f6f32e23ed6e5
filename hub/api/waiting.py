"""Long-polls for spoke agents, which only ever connect out: a request waits at the hub
until there is something for the agent or its `wait` runs out."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TypeVar

from hub.api.routing import Call, Param
from hub.errors import Invalid
from hub.models.wire.codes import ErrorCode

T = TypeVar("T")
MAX_WAIT = 60


def wait_param(what: str) -> Param:
    return Param(
        "wait",
        f"Seconds to wait for {what} when there is none (0 to {MAX_WAIT}; default 0)",
        integer=True,
        minimum=0,
        maximum=MAX_WAIT,
    )


MAX_IDS = 1000


def ids(call: Call, name: str) -> set[str]:
    """A comma-separated list of ids the agent already has, so the wait ends only for news."""
    value = call.query(name, blank=True)
    found = {k.strip() for k in (value or "").split(",") if k.strip()}
    if len(found) > MAX_IDS:
        raise Invalid(
            f"query parameter {name} lists {len(found)} ids; at most {MAX_IDS}",
            details={"parameter": name},
            code=ErrorCode.INVALID_PARAMETER,
        )
    return found


def own(call: Call) -> str:
    cluster = call.path("cluster")
    call.hub.require_own(call.principal, cluster, "act for")
    return cluster


def seconds(call: Call) -> int:
    value = call.query("wait")
    if value is None:
        return 0
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_WAIT:
        raise Invalid(
            f"query parameter wait={value!r} must be a whole number of seconds from 0 to "
            f"{MAX_WAIT}",
            details={"parameter": "wait"},
            code=ErrorCode.INVALID_PARAMETER,
        )
    return int(value)


async def long_poll(
    call: Call, cluster: str, read: Callable[[], Awaitable[T]], ready: Callable[[T], bool]
) -> T:
    """`read()` as soon as it is `ready`, or as it is when the wait runs out. The cluster's
    announcement (from this replica or, by the store's notices, another) wakes the wait
    early; so does each periodic re-read."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds(call)
    while True:
        changed = call.hub.jobs_changed(cluster)
        found = await read()
        left = deadline - loop.time()
        if ready(found) or left <= 0:
            return found
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout=min(left, call.hub.settings.reread))
