"""Talks to the hub: sends reports gzipped with the cluster's token, over HTTPS with a CA
bundle when given, retrying with exponential backoff and jitter. A 4xx other than 429 is not
retried: the same report would be refused again, so the error is surfaced instead."""

import asyncio
import gzip
import json
import logging
import random
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from hub.models.report import CapacityReport

log = logging.getLogger("cclm.spoke")


class RefusedError(Exception):
    """The hub refused the report (4xx); retrying would not help."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"the hub refused the report ({status}): {body}")
        self.status = status
        self.body = body


@dataclass(frozen=True, slots=True)
class HubClient:
    url: str
    token_file: Path
    ca_file: str | None = None
    attempts: int = 6
    first_delay: float = 0.5
    max_delay: float = 30.0
    timeout: float = 30.0

    def _token(self) -> str:
        """Read on every send, so a rotated token is picked up without a restart."""
        return self.token_file.read_text().strip()

    def _ssl(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=self.ca_file) if self.ca_file else True

    async def send(self, report: CapacityReport) -> dict[str, Any]:
        body = gzip.compress(report.model_dump_json().encode(), 6)
        path = f"{self.url.rstrip('/')}/api/v1/clusters/{report.cluster}/reports"
        delay = self.first_delay
        for attempt in range(1, self.attempts + 1):
            try:
                return await self._post(path, body)
            except RefusedError:
                raise
            except (aiohttp.ClientError, TimeoutError, RetryableStatusError) as error:
                if attempt == self.attempts:
                    raise
                pause = random.uniform(delay / 2, delay)
                log.warning(
                    "sending the report failed (%s); retry %d in %.1f s", error, attempt, pause
                )
                await asyncio.sleep(pause)
                delay = min(delay * 2, self.max_delay)
        raise AssertionError("unreachable")

    async def _post(self, path: str, body: bytes) -> dict[str, Any]:
        headers = {
            "Authorization": f"Bearer {self._token()}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.post(path, data=body, headers=headers, ssl=self._ssl()) as response,
        ):
            text = await response.text()
            data = json.loads(text) if text else {}
            if response.status in (200, 202):
                return dict(data)
            if response.status == 429 or response.status >= 500:
                raise RetryableStatusError(response.status)
            raise RefusedError(response.status, data)


class RetryableStatusError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
