"""Target access grants: how a source agent gets a short-lived token for the target cluster
of one migration without the hub ever holding a cluster credential.

1. Every agent registers a public sealing key (`register_key`).
2. Accepting a migration opens its grant. The target's agent pulls the grants it is to mint
   (`listing`): new ones and those whose token has a third of its life left.
3. The target agent mints a token for a service account bound to the migration's
   namespaces, seals it with the API URL and CA bundle to the source agent's key, and hands
   the ciphertext in (`put`).
4. The source agent fetches it (`access`), opens it, and says when it is done (`release`);
   the target agent then deletes the service account, which revokes every token it had.
"""

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Literal

from hub.errors import Conflict, Forbidden, Invalid, NotFound
from hub.models.api import VmReference
from hub.models.grants import (
    GrantFailure,
    GrantList,
    GrantReceipt,
    GrantRequest,
    SealedGrant,
    SealingKey,
    SealingKeyReceipt,
)
from hub.models.wire.codes import ErrorCode
from hub.service import Hub
from hub.store import GrantRecord, SealedBox, Stored

log = logging.getLogger("cclm.hub.grants")


def namespaces(vms: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({parsed.namespace for vm in vms if (parsed := VmReference.parse(vm))}))


MIN_RENEWAL = timedelta(minutes=1)
SLACK = timedelta(minutes=5)
"""Clock skew allowed between a target cluster's API server and the hub."""


def due(record: GrantRecord, now: datetime) -> bool:
    """A grant needs minting when it holds no token yet, or a third of the life its token
    was minted with is left; never twice within a minute, so a token the API server keeps
    short, or a skewed clock, cannot make the target agent mint in a loop."""
    if record.expires_at is None or record.minted_at is None:
        return True
    life = record.expires_at - record.minted_at
    return now - record.minted_at >= MIN_RENEWAL and record.expires_at - now <= life / 3


def listing(
    cluster: str, records: Iterable[GrantRecord], now: datetime, ttl: timedelta
) -> GrantList:
    """Grants wait for their recipient's key: there is nothing to seal to before it."""
    records = list(records)
    requests = [
        GrantRequest(
            migration_id=r.migration.id,
            source_cluster=r.migration.source_cluster,
            namespaces=namespaces(r.migration.vms),
            recipient_key=r.recipient_key,
            ttl_seconds=int(ttl.total_seconds()),
        )
        for r in records
        if r.recipient_key is not None and due(r, now)
    ]
    return GrantList(
        cluster=cluster,
        requests=tuple(requests),
        open=tuple(r.migration.id for r in records),
    )


async def register_key(hub: Hub, cluster: str, key: SealingKey) -> SealingKeyReceipt:
    changed = await hub.store.grants.set_sealing_key(cluster, key.public_key)
    if changed is None:
        raise NotFound(f"no cluster {cluster!r}", code=ErrorCode.UNKNOWN_CLUSTER)
    if changed:
        log.info("cluster %s registered a new sealing key", cluster)
        for record in await hub.store.grants.sourced_grants(cluster):
            hub.announce_jobs(record.migration.target_cluster)
    return SealingKeyReceipt(cluster=cluster, public_key=key.public_key, changed=changed)


async def pending(hub: Hub, cluster: str) -> GrantList:
    records = await hub.store.grants.open_grants(cluster)
    return listing(cluster, records, hub.clock(), hub.settings.grant_ttl)


async def _record(hub: Hub, migration_id: str) -> GrantRecord:
    record = await hub.store.grants.grant(migration_id)
    if record is None:
        raise NotFound(f"no migration {migration_id!r}", code=ErrorCode.UNKNOWN_MIGRATION)
    return record


def _closed(migration_id: str) -> Conflict:
    return Conflict(
        f"access to the target of migration {migration_id} has been closed: the migration "
        "ended and its source agent said it was done, or it ended too long ago",
        code=ErrorCode.GRANT_CLOSED,
    )


async def _as(
    hub: Hub, side: Literal["source", "target"], cluster: str, migration_id: str
) -> GrantRecord:
    """The grant, for the agent of the migration's `side` only."""
    record = await _record(hub, migration_id)
    migration = record.migration
    expected = migration.source_cluster if side == "source" else migration.target_cluster
    if expected != cluster:
        raise Forbidden(
            f"the {side} of migration {migration_id} is {expected!r}, not {cluster!r}: only "
            f"its {side}'s agent may do this",
            code=ErrorCode.WRONG_CLUSTER,
        )
    return record


async def failed(hub: Hub, cluster: str, migration_id: str, failure: GrantFailure) -> None:
    record = await _as(hub, "target", cluster, migration_id)
    if not await hub.store.grants.grant_failed(migration_id, failure.message):
        raise _closed(migration_id)
    log.warning(
        "cluster %s could not grant access for %s: %s", cluster, migration_id, failure.message
    )
    hub.announce_jobs(record.migration.source_cluster)


async def put(hub: Hub, cluster: str, migration_id: str, grant: SealedGrant) -> GrantReceipt:
    record = await _as(hub, "target", cluster, migration_id)
    now = hub.clock()
    if grant.expires_at <= now:
        raise Conflict(
            f"the grant for {migration_id} expired at {grant.expires_at.isoformat()}, before "
            "it arrived; check the target cluster's clock",
            code=ErrorCode.GRANT_EXPIRED,
        )
    longest = now + hub.settings.grant_ttl + SLACK
    if grant.expires_at > longest:
        raise Invalid(
            f"expires_at {grant.expires_at.isoformat()} is later than the {hub.settings.grant_ttl} "
            f"a grant may live (latest {longest.isoformat()}); check the target cluster's clock",
            details={"field": "expires_at"},
            code=ErrorCode.GRANT_TOO_LONG,
        )
    box = SealedBox(grant.sealed, grant.expires_at, grant.recipient_key)
    stored = await hub.store.grants.put_grant(migration_id, box, now)
    if stored == Stored.CLOSED:
        raise _closed(migration_id)
    if stored == Stored.STALE_KEY:
        raise Conflict(
            f"the grant for {migration_id} is sealed to a key cluster "
            f"{record.migration.source_cluster!r} has replaced; mint it again for the new one",
            code=ErrorCode.STALE_KEY,
        )
    hub.announce_jobs(record.migration.source_cluster)
    return GrantReceipt(migration_id=migration_id, expires_at=grant.expires_at)


async def access(hub: Hub, cluster: str, migration_id: str) -> SealedGrant:
    """The sealed connection to the target, or 409 saying what is still missing."""
    record = await _as(hub, "source", cluster, migration_id)
    if record.closed_at is not None:
        raise _closed(migration_id)
    target = record.migration.target_cluster
    if record.recipient_key is None:
        raise Conflict(
            f"cluster {cluster!r} has registered no sealing key, so nothing can be sealed to "
            "it; its agent registers one when it starts",
            code=ErrorCode.NO_SEALING_KEY,
        )
    now = hub.clock()
    if record.sealed is None or record.expires_at is None or record.expires_at <= now:
        raise Conflict(_pending(record), details={"target": target}, code=ErrorCode.ACCESS_PENDING)
    return SealedGrant(
        sealed=record.sealed, expires_at=record.expires_at, recipient_key=record.recipient_key
    )


def _pending(record: GrantRecord) -> str:
    target, migration_id = record.migration.target_cluster, record.migration.id
    if record.failure:
        return (
            f"the agent of target cluster {target!r} could not grant access for "
            f"{migration_id}: {record.failure}"
        )
    return (
        f"the agent of target cluster {target!r} has not granted access for {migration_id} "
        "yet; is it running with --api-url?"
    )


async def release(hub: Hub, cluster: str, migration_id: str) -> None:
    record = await _as(hub, "source", cluster, migration_id)
    if record.migration.state.active:
        raise Conflict(
            f"migration {migration_id} is still {record.migration.state.value}; access is "
            "released once it has ended",
            code=ErrorCode.MIGRATION_ACTIVE,
        )
    if await hub.store.grants.close_grant(migration_id, hub.clock()):
        hub.announce_jobs(record.migration.target_cluster)
