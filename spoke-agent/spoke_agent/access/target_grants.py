"""The target side of target access: this agent mints a token for each migration coming to
its cluster, seals it with the API URL and CA bundle to the source agent's key, and hands
the sealed box to the hub; it revokes the access of migrations whose grant has closed.

The loop is level-triggered: each pass compares the hub's open grants with the service
accounts in the cluster, so a restart, a lost answer or a missed wake-up only delays it.
"""

import asyncio
import contextlib
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from hub.models.wire import GrantList, GrantReceipt, GrantRequest, SealedGrant
from spoke_agent.access.sealing import seal
from spoke_agent.access.source_connection import TargetAccess

log = logging.getLogger("cclm.spoke.granting")


class Minted(Protocol):
    @property
    def token(self) -> str: ...
    @property
    def expires_at(self) -> datetime: ...


class Minter(Protocol):
    def mint(self, migration_id: str, namespaces: Sequence[str], ttl_seconds: int) -> Minted: ...
    def granted(self) -> set[str]: ...
    def revoke(self, migration_id: str, namespaces: Sequence[str] = ()) -> None: ...


class GrantHub(Protocol):
    async def grants(self, cluster: str, wait: int, held: Collection[str] = ()) -> GrantList: ...
    async def hand_in(self, cluster: str, migration: str, grant: SealedGrant) -> GrantReceipt: ...
    async def grant_failed(self, cluster: str, migration: str, message: str) -> None: ...


@dataclass(frozen=True, slots=True)
class AccessPoint:
    """How other clusters reach this one's API: what the operator says, since an agent
    inside the cluster only knows its in-cluster address."""

    server: str
    ca_pem: str = ""


def revocable(listing: GrantList, granted: set[str]) -> list[str]:
    return sorted(granted - set(listing.open))


@dataclass
class Granter:
    cluster: str
    hub: GrantHub
    minter: Minter
    point: AccessPoint
    poll_wait: int = 30
    poll_pause: float = 5.0
    failed: dict[str, str] = field(default_factory=dict)
    """The last minting error per migration, for /healthz and the logs."""

    async def run(self, stop: asyncio.Event) -> None:
        stopped = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                passing = asyncio.ensure_future(self.pass_once())
                try:
                    await asyncio.wait({passing, stopped}, return_when=asyncio.FIRST_COMPLETED)
                finally:  # also when the agent itself is cancelled: no pull outlives it
                    passing.cancel()
                if self.failed and not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.poll_pause)
        finally:
            stopped.cancel()

    async def pass_once(self) -> None:
        try:
            granted = await asyncio.to_thread(self.minter.granted)
            listing = await self.hub.grants(self.cluster, self.poll_wait, granted)
        except Exception as error:
            log.warning("pulling grants failed: %s", error)
            self.failed["(pull)"] = str(error)
            return
        self.failed.pop("(pull)", None)
        for request in listing.requests:
            await self._grant(request)
        await self._revoke(listing, granted)

    async def _grant(self, request: GrantRequest) -> None:
        try:
            minted = await asyncio.to_thread(
                self.minter.mint, request.migration_id, request.namespaces, request.ttl_seconds
            )
            access = TargetAccess(
                server=self.point.server,
                ca_pem=self.point.ca_pem,
                token=minted.token,
                expires_at=minted.expires_at,
            )
            sealed = seal(request.recipient_key, request.migration_id, access.seal_text())
            await self.hub.hand_in(
                self.cluster,
                request.migration_id,
                SealedGrant(
                    sealed=sealed,
                    expires_at=minted.expires_at,
                    recipient_key=request.recipient_key,
                ),
            )
        except Exception as error:
            log.warning("granting access for %s failed: %s", request.migration_id, error)
            await self._tell(request.migration_id, str(error))
            return
        self.failed.pop(request.migration_id, None)
        log.info(
            "granted %s access to namespaces %s until %s",
            request.migration_id,
            ", ".join(request.namespaces),
            minted.expires_at.isoformat(),
        )

    async def _tell(self, migration_id: str, reason: str) -> None:
        """The source's task shows the reason, so its operator need not read this log.
        Told once per distinct reason."""
        if self.failed.get(migration_id) == reason:
            return
        self.failed[migration_id] = reason
        with contextlib.suppress(Exception):
            await self.hub.grant_failed(self.cluster, migration_id, reason)

    async def _revoke(self, listing: GrantList, granted: set[str]) -> None:
        for migration_id in revocable(listing, granted):
            try:
                await asyncio.to_thread(self.minter.revoke, migration_id)
            except Exception as error:
                log.warning("revoking access of %s failed: %s", migration_id, error)
                continue
            log.info("revoked the access granted for %s", migration_id)
