"""An event stream from any point: the events numbered after it, then each new one as it
is written, here or on another replica. Events are numbered in commit order (see
`hub.store.sql.feeds`), so following by number loses none and repeats none."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from dataclasses import dataclass

from hub.models.feeds import Event, EventTopic
from hub.service import Hub

BATCH = 200


@dataclass(frozen=True, slots=True)
class Gap:
    """Events after the point asked for are gone (pruned), or it was never this hub's:
    re-list, then go on from `resumed`."""

    asked: int
    resumed: int


@dataclass(frozen=True, slots=True)
class Quiet:
    """Nothing new for a while: a stream says it is alive, so proxies keep it open."""

    after: int


Item = Event | Gap | Quiet


async def start(hub: Hub, after: int | None) -> tuple[int, Gap | None]:
    """Where a stream begins: after `after`, or after the newest event for a new one."""
    first, last = await hub.store.feeds.event_bounds()
    if after is None:
        return last, None
    if after < first:
        return first, Gap(after, first)
    if after > last:  # an id this hub never sent (another hub's, or its store was replaced)
        return last, Gap(after, last)
    return after, None


async def follow(
    hub: Hub,
    after: int,
    topics: Collection[EventTopic],
    heartbeat: float,
    allowed: Callable[[], Awaitable[bool]] | None = None,
) -> AsyncIterator[Item]:
    """Until cancelled, or `allowed()` turns false (the token was revoked): the events of
    `topics` numbered above `after`, then new ones as they come; a `Quiet` after
    `heartbeat` seconds without any."""
    loop = asyncio.get_running_loop()
    quiet_since = loop.time()
    while allowed is None or await allowed():
        changed = hub.events_changed()
        batch = await hub.store.feeds.events(after, BATCH)
        for event in batch:
            after = event.id
            if event.topic in topics:
                quiet_since = loop.time()
                yield event
        if len(batch) == BATCH:
            continue
        if loop.time() - quiet_since >= heartbeat:
            quiet_since = loop.time()
            yield Quiet(after)
        left = heartbeat - (loop.time() - quiet_since)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout=min(left, hub.settings.reread))
