"""How the source agent reaches a job's target cluster: with the access the target's agent
granted for that migration, fetched from the hub as a sealed box that only this agent's key
opens (`hub.access.grants` describes the exchange)."""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from hub.models.wire import ErrorCode, SealedGrant
from spoke_agent.access.sealing import KeyPair, SealingError
from spoke_agent.access.source_connection import Credentials, TargetAccess
from spoke_agent.client import RefusedError
from spoke_agent.drivers import ClusterDriver
from spoke_agent.executor.jobs import AccessPendingError, NoConnectionError
from spoke_agent.executor.model import Job

log = logging.getLogger("cclm.spoke.targets")

Build = Callable[[Job, Credentials], tuple[ClusterDriver, ClusterDriver]]
WAITING = frozenset({ErrorCode.ACCESS_PENDING, ErrorCode.NO_SEALING_KEY})


class AccessHub(Protocol):
    async def access(self, cluster: str, job: str) -> SealedGrant: ...
    async def release(self, cluster: str, job: str) -> None: ...


def _code(refused: RefusedError) -> str:
    body: Any = refused.body
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def _message(refused: RefusedError) -> str:
    body: Any = refused.body
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("message", refused)) if isinstance(error, dict) else str(refused)


@dataclass(frozen=True, slots=True)
class GrantedConnector:
    cluster: str
    hub: AccessHub
    keys: KeyPair
    build: Build
    clock: Callable[[], datetime]
    fetch_timeout: float = 60.0

    async def connect(self, job: Job) -> tuple[ClusterDriver, ClusterDriver]:
        access = await self._fetch(job)
        loop = asyncio.get_running_loop()

        def fetch() -> TargetAccess:
            asked = asyncio.run_coroutine_threadsafe(self._fetch(job), loop)
            try:
                return asked.result(self.fetch_timeout)
            finally:
                asked.cancel()

        return self.build(job, Credentials(access, fetch, self.clock))

    async def _fetch(self, job: Job) -> TargetAccess:
        try:
            sealed = await self.hub.access(self.cluster, job.id)
        except RefusedError as refused:
            if refused.status == 409 and _code(refused) in WAITING:
                raise AccessPendingError(_message(refused)) from None
            raise NoConnectionError(
                f"the hub gives no access to target {job.target}: {_message(refused)}"
            ) from None
        except Exception as error:
            raise AccessPendingError(f"the hub is out of reach ({error})") from None
        try:
            opened = self.keys.open(sealed.sealed, job.id)
        except SealingError as error:
            raise AccessPendingError(f"{error}; waiting for a new grant") from None
        try:
            return TargetAccess.from_text(opened)
        except ValueError:
            # The parser's message could quote the token: say only what is wrong.
            raise NoConnectionError(
                f"the grant for {job.id} opens but holds no valid target connection"
            ) from None

    async def release(self, job: Job) -> None:
        try:
            await self.hub.release(self.cluster, job.id)
        except Exception as error:
            log.warning("job %s: releasing target access failed: %s", job.id, error)
