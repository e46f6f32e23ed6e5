"""The spoke agent's loop: report when something changed (debounced) and at least every
heartbeat, and keep going through API and hub failures.

Watches only say *that* something changed; every report is built from a fresh full read, so
a missed or duplicated event can never leave the report wrong (level-triggered).
"""

import asyncio
import contextlib
import gzip
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, Protocol

from hub.models.wire import CapacityReport
from spoke_agent.metrics import Metrics
from spoke_agent.report.collector import Config, Memo, collect
from spoke_agent.report.sequence import Sequence
from spoke_agent.report.snapshot import Snapshot, Source

log = logging.getLogger("cclm.spoke")
Clock = Callable[[], datetime]


class Sender(Protocol):
    async def send(self, cluster: str, body: bytes) -> dict[str, Any]:
        """Send a report already encoded (gzip-compressed JSON); answers the hub's receipt."""
        ...


def encode(report: CapacityReport) -> tuple[bytes, int]:
    """The report as sent, and its size as JSON."""
    raw = report.model_dump_json().encode()
    return gzip.compress(raw, 6), len(raw)


@dataclass
class Agent:
    source: Source
    cluster: str
    hub: Sender
    sequence: Sequence
    clock: Clock
    config: Config = field(default_factory=Config)
    debounce: float = 1.0
    heartbeat: float = 30.0
    metrics: Metrics = field(default_factory=Metrics)
    memo: Memo = field(default_factory=Memo)
    last_sent: datetime | None = None
    last_error: str = ""
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _loop: asyncio.AbstractEventLoop | None = None

    def notify(self) -> None:
        """Something changed in the cluster; safe to call from watch threads."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._changed.set)

    async def report_once(self) -> dict[str, Any]:
        """Read, collect and send one report; raises when any stage fails."""
        self._loop = asyncio.get_running_loop()
        metrics = self.metrics
        with self._stage("read"):
            snapshot: Snapshot = await asyncio.to_thread(self.source.snapshot)
        for kind, items in vars_of(snapshot).items():
            metrics.objects.labels(kind).set(len(items))
        now = self.clock()
        with self._stage("collect"):
            collected = collect(
                snapshot, self.cluster, self.sequence.next(now), now, self.config, self.memo
            )
            body, size = await asyncio.to_thread(encode, collected.report)
        metrics.skipped.set(len(collected.skipped))
        metrics.report_bytes.labels("json").set(size)
        metrics.report_bytes.labels("gzip").set(len(body))
        with self._stage("send"):
            receipt = await self.hub.send(self.cluster, body)
        self.last_sent = now
        log.info(
            "report #%d sent (%s)",
            collected.report.sequence,
            "applied" if receipt.get("applied") else "the hub holds a newer one",
        )
        metrics.reports.inc()
        metrics.last_report.set(now.timestamp())
        return receipt

    @contextlib.contextmanager
    def _stage(self, stage: str) -> Iterator[None]:
        """Times the stage; counts it as failed when it raises."""
        began = time.perf_counter()
        try:
            yield
        except Exception:
            self.metrics.errors.labels(stage).inc()
            raise
        finally:
            self.metrics.stage_seconds.labels(stage).observe(time.perf_counter() - began)

    async def run(self, stop: asyncio.Event) -> None:
        self._loop = asyncio.get_running_loop()
        backoff = 1.0
        while not stop.is_set():
            self._changed.clear()
            try:
                await self.report_once()
                self.last_error = ""
                backoff = 1.0
                wait = self.heartbeat
            except Exception as error:
                self.last_error = str(error)
                log.warning("report failed: %s; retrying in %.0f s", error, backoff)
                wait = backoff
                backoff = min(backoff * 2, self.heartbeat)
            if await self._wait(stop, wait):
                await self._wait_quiet(stop)

    async def _wait(self, stop: asyncio.Event, seconds: float) -> bool:
        """Wait for a change, `stop` or the timeout; True when a change woke us."""
        changed = asyncio.ensure_future(self._changed.wait())
        stopped = asyncio.ensure_future(stop.wait())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.wait({changed, stopped}, return_when=asyncio.FIRST_COMPLETED), seconds
            )
        for waiter in (changed, stopped):
            waiter.cancel()
        return self._changed.is_set() and not stop.is_set()

    async def _wait_quiet(self, stop: asyncio.Event) -> None:
        """Debounce: let a burst of events settle into one report."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), self.debounce)


def vars_of(snapshot: Snapshot) -> dict[str, Any]:
    return {item.name: getattr(snapshot, item.name) for item in fields(snapshot)}
