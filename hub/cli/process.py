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

from aiohttp.http_exceptions import HttpProcessingError

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


class MalformedRequests(logging.Filter):
    """For aiohttp's server log, which says each request it cannot parse (a NUL in a
    header, a broken request line) with a traceback: a client could fill the log. One line
    instead, and then at most one per `every` seconds, saying how many it held back."""

    def __init__(self, every: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self._every, self._clock = every, clock
        self._said: float | None = None
        self._held = 0

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, HttpProcessingError):
            return True
        now = self._clock()
        if self._said is not None and now - self._said < self._every:
            self._held += 1
            return False
        more = f" (and {self._held} more in the last {self._every:.0f} s)" if self._held else ""
        client = record.args[0] if isinstance(record.args, tuple) and record.args else "?"
        record.msg, record.args = (
            "refused a malformed request from %s: %s%s",
            (
                client,
                error.message,
                more,
            ),
        )
        record.exc_info, record.exc_text = None, None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        self._said, self._held = now, 0
        return True
