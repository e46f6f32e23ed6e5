"""What a hub process sets up about itself before it serves: as many open files as the
system lets it have, and a loop that reports a repeated failure once per interval rather
than thousands of times a second (out of descriptors, asyncio reports every failed
accept: 28,000 tracebacks in 15 s were seen with 1,100 idle connections)."""

import asyncio
import logging
import resource
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("cclm.hub")
NO_CEILING = 1 << 16
"""The open files to ask for when the hard limit is unlimited."""


def raise_open_files() -> tuple[int, int]:
    """Raise the soft limit of open files to the hard one; answers (before, after)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(soft, NO_CEILING) if hard == resource.RLIM_INFINITY else hard
    if target <= soft:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft, soft
    return soft, target


class Quieted:
    """An event loop exception handler that lets each kind of failure through at most once
    per `every` seconds, saying how many like it it held back."""

    def __init__(self, every: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._clock = clock
        self._seen: dict[str, tuple[float, int]] = {}

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        kind = str(context.get("message", ""))
        now = self._clock()
        last, held = self._seen.get(kind, (None, 0))
        if last is not None and now - last < self._every:
            self._seen[kind] = (last, held + 1)
            return
        self._seen[kind] = (now, 0)
        if held:
            said = f"{kind} (and {held} more like it in the last {self._every:.0f} s)"
            context = {**context, "message": said}
        loop.default_exception_handler(context)
