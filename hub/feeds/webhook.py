"""The outgoing webhook: the hub's alerts pushed to one or more Alertmanagers, by the
replica that holds the sweep lease, whenever alerts change and every `resend` seconds.
Retried with backoff; a restart or a change of replica sends the same alerts with the same
labels and start times, which Alertmanager takes as the same alerts: no duplicate
notifications."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta

import aiohttp

from hub.feeds import alertmanager
from hub.service import Hub
from hub.store import AlertQuery
from hub.store.location import redacted

log = logging.getLogger("cclm.feeds")
RESOLVED_FOR = timedelta(minutes=15)
"""How long a resolved alert is sent again, so one lost send does not leave it firing."""


class Alertmanagers:
    def __init__(
        self,
        urls: Sequence[str],
        resend: timedelta = timedelta(seconds=30),
        hub_url: str | None = None,
        attempts: int = 3,
        pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.urls = tuple(u.rstrip("/") for u in urls)
        self.resend, self.hub_url, self.attempts, self.pause = resend, hub_url, attempts, pause
        self.sent = 0
        """Alerts delivered (per Alertmanager), for the metrics."""
        self.failed = 0

    async def push(self, hub: Hub) -> None:
        """Never raises: a failed push is logged, and the next round sends the alerts again."""
        try:
            await self._push(hub)
        except Exception:
            log.exception("pushing the alerts to Alertmanager failed; the next round retries")

    async def _push(self, hub: Hub) -> None:
        now = hub.clock()
        feeds = hub.store.feeds
        firing = await feeds.open_alerts()
        open_prints = {a.fingerprint for a in firing}
        # A resolved occurrence of a condition that fired again has the same labels: sent
        # with the new one, it would resolve it in Alertmanager.
        lately = AlertQuery(open=False, limit=1000, resolved_since=now - RESOLVED_FOR)
        resolved = [a for a in await feeds.alerts(lately) if a.fingerprint not in open_prints]
        body = alertmanager.batch([*firing, *resolved], now, self.resend, self.hub_url)
        if not body:
            return
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(*(self._send(session, url, body) for url in self.urls))

    async def _send(self, session: aiohttp.ClientSession, url: str, body: Sequence[object]) -> None:
        delay = 1.0
        for attempt in range(1, self.attempts + 1):
            try:
                async with session.post(f"{url}/api/v2/alerts", json=body) as answer:
                    if answer.status < 300:
                        self.sent += len(body)
                        return
                    problem = f"answered {answer.status}: {(await answer.text())[:200]}"
                    if answer.status < 500:
                        break  # refused as sent: sending it again changes nothing
            except (aiohttp.ClientError, TimeoutError) as error:
                problem = f"unreachable: {error or type(error).__name__}"
            if attempt < self.attempts:
                await self.pause(delay)
                delay *= 2
        self.failed += 1
        log.warning(
            "Alertmanager %s %s; the next round sends the alerts again", redacted(url), problem
        )
