"""How many connections the hub holds, per client and in all, so a client that opens
connections and sends nothing cannot use up the process's descriptors and lock everyone
else out. Past a cap a new connection is closed at once (its descriptor freed), and the
refusals are said once per interval."""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web

log = logging.getLogger("cclm.api")
RESERVE = 128
"""Descriptors kept back from the total for the store, the workers and the log."""


def total_for(open_files: int) -> int:
    """Connections in all for an open-files limit: all but the reserve, and never less
    than half of a small limit (a reserve larger than the limit would refuse everyone)."""
    return max(open_files - RESERVE, open_files // 2)


class Admission:
    """The counting, apart from the sockets: who holds how many connections."""

    def __init__(self, per_client: int, total: int) -> None:
        self.per_client = per_client
        self.total = total
        self._held: Counter[str] = Counter()
        self._count = 0

    def admit(self, client: str) -> bool:
        if self._count >= self.total or self._held[client] >= self.per_client:
            return False
        self._held[client] += 1
        self._count += 1
        return True

    def release(self, client: str) -> None:
        self._held[client] -= 1
        if self._held[client] <= 0:
            del self._held[client]
        self._count -= 1


class _Refusals:
    """Said at the first refusal, then at most once per `every` seconds with a count."""

    def __init__(self, every: float, clock: Callable[[], float]) -> None:
        self._every, self._clock = every, clock
        self._said: float | None = None
        self._count = 0

    def add(self, admission: Admission) -> None:
        self._count += 1
        now = self._clock()
        if self._said is not None and now - self._said < self._every:
            return
        since = "" if self._said is None else f" in the last {now - self._said:.0f} s"
        log.warning(
            "closed %d new connection(s)%s: past %d per client or %d in all",
            self._count,
            since,
            admission.per_client,
            admission.total,
        )
        self._said, self._count = now, 0


def _client(transport: asyncio.BaseTransport) -> str:
    peer: Any = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else "?"


def install(
    server: web.Server, admission: Admission, clock: Callable[[], float] = time.monotonic
) -> None:
    """Count the server's connections through `admission`, closing those it refuses."""
    made, lost = server.connection_made, server.connection_lost
    admitted: dict[object, str] = {}
    refusals = _Refusals(10.0, clock)

    def connection_made(handler: Any, transport: asyncio.Transport) -> None:
        client = _client(transport)
        made(handler, transport)
        if admission.admit(client):
            admitted[handler] = client
            return
        refusals.add(admission)
        transport.abort()

    def connection_lost(handler: Any, exc: BaseException | None) -> None:
        client = admitted.pop(handler, None)
        if client is not None:
            admission.release(client)
        lost(handler, exc)

    setattr(server, "connection_made", connection_made)  # noqa: B010 - an instance's own
    setattr(server, "connection_lost", connection_lost)  # noqa: B010
