"""Talks to the hub: sends reports gzipped, pulls jobs (long-poll) and reports their
progress, registers the agent's sealing key and passes sealed target grants both ways, all
with the cluster's token, over HTTPS with a CA bundle when given, retrying
with exponential backoff and jitter. A 4xx other than 429 is not retried: the same request
would be refused again, so the error is surfaced instead."""

import asyncio
import json
import logging
import random
import ssl
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from hub.models.wire import (
    MAX_MESSAGE,
    GrantFailure,
    GrantList,
    GrantReceipt,
    JobList,
    Progress,
    ProgressReceipt,
    SealedGrant,
    SealingKey,
)

log = logging.getLogger("cclm.spoke")


class RefusedError(Exception):
    """The hub refused the request (4xx); retrying would not help."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"the hub refused the request ({status}): {body}")
        self.status = status
        self.body = body


class RetryableStatusError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


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

    def _path(self, cluster: str, rest: str) -> str:
        return f"{self.url.rstrip('/')}/api/v1/clusters/{cluster}/{rest}"

    async def send(self, cluster: str, body: bytes) -> dict[str, Any]:
        path = self._path(cluster, "reports")
        return await self._retrying("sending the report", "POST", path, body, gzipped=True)

    async def jobs(self, cluster: str, wait: int, known: Collection[str] = ()) -> JobList:
        """The cluster's jobs, waiting up to `wait` seconds for one not in `known`."""
        path = self._path(cluster, "jobs")
        params = {"wait": str(wait), "known": ",".join(sorted(known))}
        data = await self._retrying(
            "pulling jobs", "GET", path, None, params=params, extra_time=wait
        )
        return JobList.model_validate(data)

    async def progress(self, cluster: str, job: str, progress: Progress) -> ProgressReceipt:
        path = self._path(cluster, f"jobs/{job}/progress")
        body = progress.model_dump_json().encode()
        data = await self._retrying("reporting progress", "POST", path, body)
        return ProgressReceipt.model_validate(data)

    async def register_key(self, cluster: str, public_key: str) -> None:
        body = SealingKey(public_key=public_key).model_dump_json().encode()
        await self._retrying(
            "registering the sealing key", "PUT", self._path(cluster, "sealing-key"), body
        )

    async def grants(self, cluster: str, wait: int, held: Collection[str] = ()) -> GrantList:
        """The grants this cluster is to mint as a target, waiting up to `wait` seconds for
        one, or for a grant in `held` to close."""
        data = await self._retrying(
            "pulling grants",
            "GET",
            self._path(cluster, "grants"),
            None,
            params={"wait": str(wait), "held": ",".join(sorted(held))},
            extra_time=wait,
        )
        return GrantList.model_validate(data)

    async def hand_in(self, cluster: str, migration: str, grant: SealedGrant) -> GrantReceipt:
        path = self._path(cluster, f"grants/{migration}")
        body = grant.model_dump_json().encode()
        return GrantReceipt.model_validate(
            await self._retrying("handing in a grant", "PUT", path, body)
        )

    async def grant_failed(self, cluster: str, migration: str, message: str) -> None:
        path = self._path(cluster, f"grants/{migration}/failure")
        body = GrantFailure(message=message[:MAX_MESSAGE]).model_dump_json().encode()
        await self._retrying("reporting a failed grant", "POST", path, body)

    async def access(self, cluster: str, job: str) -> SealedGrant:
        """The job's sealed target access; RefusedError (409) while it is not granted yet."""
        path = self._path(cluster, f"jobs/{job}/access")
        return SealedGrant.model_validate(
            await self._retrying("fetching target access", "GET", path, None)
        )

    async def release(self, cluster: str, job: str) -> None:
        path = self._path(cluster, f"jobs/{job}/access")
        await self._retrying("releasing target access", "DELETE", path, None)

    async def _retrying(
        self,
        what: str,
        method: str,
        path: str,
        body: bytes | None,
        gzipped: bool = False,
        params: Mapping[str, str] | None = None,
        extra_time: float = 0.0,
    ) -> dict[str, Any]:
        delay = self.first_delay
        for attempt in range(1, self.attempts + 1):
            try:
                return await self._call(method, path, body, gzipped, params, extra_time)
            except RefusedError:
                raise
            except (aiohttp.ClientError, TimeoutError, RetryableStatusError) as error:
                if attempt == self.attempts:
                    raise
                pause = random.uniform(delay / 2, delay)
                log.warning("%s failed (%s); retry %d in %.1f s", what, error, attempt, pause)
                await asyncio.sleep(pause)
                delay = min(delay * 2, self.max_delay)
        raise AssertionError("unreachable")

    async def _call(
        self,
        method: str,
        path: str,
        body: bytes | None,
        gzipped: bool,
        params: Mapping[str, str] | None,
        extra_time: float,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._token()}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        if gzipped:
            headers["Content-Encoding"] = "gzip"
        timeout = aiohttp.ClientTimeout(total=self.timeout + extra_time)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(
                method, path, data=body, headers=headers, params=params, ssl=self._ssl()
            ) as response,
        ):
            text = await response.text()
            data = json.loads(text) if text else {}
            if response.status in (200, 202, 204):
                return dict(data)
            if response.status == 429 or response.status >= 500:
                raise RetryableStatusError(response.status)
            raise RefusedError(response.status, data)
