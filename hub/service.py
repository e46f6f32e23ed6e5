"""The hub as one object: store, inventory, policy, tokens and clock held together.

`hub.assemble` builds it; the use cases of `hub.fleet`, `hub.migration` and `hub.access`
work through it. It owns the in-memory view and keeps
it in step with the store: fully at start (so a restart serves checks at once from persisted
reports), and incrementally by `refresh`, which also picks up what other hub replicas wrote.
"""

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar

import yaml

from hub import policy_files
from hub.access import tokens
from hub.changes import Pending
from hub.errors import Conflict, Forbidden, Invalid, NotFound, refused_body
from hub.fleet import intake
from hub.fleet.inventory import Entry, Inventory
from hub.migration import reservations, transitions
from hub.models.api import (
    Alert,
    AlertKind,
    AlertSeverity,
    ClusterRegistration,
    Migration,
    MintedToken,
    Registered,
    ReportReceipt,
    Role,
    SequenceReset,
    TokenInfo,
)
from hub.models.claim import Claim
from hub.models.policy import Policy
from hub.models.wire.codes import ErrorCode
from hub.settings import Limits
from hub.store import Change, ClusterRecord, Store, StoredReport, TokenRecord, Topic

Clock = Callable[[], datetime]
T = TypeVar("T")
log = logging.getLogger("cclm.hub")
POLICY_KEY = "policy"


@dataclass(frozen=True, slots=True)
class Principal:
    token_id: str
    name: str
    role: Role
    cluster: str | None = None


def event_alert(
    kind: AlertKind,
    severity: AlertSeverity,
    cluster: str,
    message: str,
    now: datetime,
    links: dict[str, str] | None = None,
) -> Alert:
    """A one-time event's alert (an audit): its own id and fingerprint per occurrence, so a
    repeat within the hour is recorded too; it resolves an hour on by itself."""
    stamp = f"{kind.value}:{cluster}@{secrets.token_hex(8)}"
    return Alert(
        id=stamp,
        fingerprint=stamp,
        kind=kind,
        severity=severity,
        message=message,
        cluster=cluster,
        links=links or {},
        first_seen=now,
        last_seen=now,
    )


def info(record: TokenRecord) -> TokenInfo:
    return TokenInfo(
        id=record.id,
        name=record.name,
        role=record.role,
        cluster=record.cluster,
        created_at=record.created_at,
    )


def _was_reset(record: ClusterRecord, entry: Entry) -> bool:
    """An admin reset the sequence (on any replica): the store's is below ours."""
    held, stored = entry.sequence, record.report_sequence
    return held is not None and stored is not None and stored < held


def _refuse_far_ahead(sequence: int, now: datetime, lead: timedelta) -> None:
    """Agents number reports by their clock in milliseconds. One far ahead of the hub's
    would make every later report look old, and freeze the cluster's capacity for good."""
    limit = int((now + lead).timestamp() * 1000)
    if sequence > limit:
        raise Invalid(
            f"report sequence {sequence} is ahead of this hub's clock by more than "
            f"{lead}: agents number reports by their clock in milliseconds, so check the "
            "agent's clock (or its saved sequence file) and send again",
            details={"sequence": sequence, "greatest_accepted": limit},
            code=ErrorCode.SEQUENCE_AHEAD,
        )


class Hub:
    """One per hub process, shared by every request handler: the in-memory inventory is
    only consistent with the store if a single object moves both, and the policy and the
    clock must be the same for a check and the reservation that follows it. (Issue 14 splits
    what it does into use cases per concept; until then it is where they meet.)"""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        policy: Policy,
        settings: Limits | None = None,
        *,
        policy_given: bool = True,
    ) -> None:
        """`policy_given=False` marks `policy` as the packaged default, which a policy stored
        by an earlier start or another replica overrides."""
        self.store = store
        self.clock = clock
        self.settings = settings or Limits()
        self.policy = policy
        self._policy_given = policy_given
        self._policy_text: str | None = None
        self.inventory = Inventory()
        self.tokens: dict[str, TokenRecord] = {}
        self._writes = 0
        """Tokens and clusters changed here; a read of the store that overlapped one is stale."""
        self.ready = False
        self._locks: dict[str, asyncio.Lock] = {}
        self._intake: Executor | None = None
        self._warming: asyncio.TimerHandle | None = None
        self._arrivals: deque[float] = deque(maxlen=max(1, int(self.settings.warm_below_rate)))
        self._in_flight = 0
        """Requests being handled; background indexing waits for a moment with none."""
        self._job_events: dict[str, asyncio.Event] = {}
        self._feed_event = asyncio.Event()
        self._pending = Pending()
        self._stirred = asyncio.Event()
        self._followed_all = 0.0
        """Loop time of the last catch-up with everything; the first catch-up is one."""
        self.replica = f"{socket.gethostname()}/{os.getpid()}/{secrets.token_hex(4)}"
        """This process among the hub's replicas: what holds a lease."""

    @contextlib.contextmanager
    def handling(self) -> Iterator[None]:
        """Around each request, so background indexing runs between requests, not during."""
        self._in_flight += 1
        try:
            yield
        finally:
            self._in_flight -= 1

    def jobs_changed(self, cluster: str) -> asyncio.Event:
        """Set once a job or grant of `cluster` changes, here or (told by the store's
        notices) on another replica. Waiting spokes also re-read the store now and then,
        which catches what a store without notices cannot tell."""
        return self._job_events.setdefault(cluster, asyncio.Event())

    def events_changed(self) -> asyncio.Event:
        """Set once an alert or recommendation event is written, here or (told by the
        store's notices) on another replica; event streams also re-read now and then."""
        return self._feed_event

    def announce_events(self) -> None:
        event, self._feed_event = self._feed_event, asyncio.Event()
        event.set()

    def announce_jobs(self, cluster: str) -> None:
        event = self._job_events.pop(cluster, None)
        if event is not None:
            event.set()

    async def start(self) -> None:
        await self.store.open()
        await self._load_policy()
        await self.reload()
        self.inventory.fleet()
        if self.settings.intake_workers > 0:
            self._intake = intake.pool(self.settings.intake_workers)
            try:
                await asyncio.get_running_loop().run_in_executor(
                    self._intake, intake.inspect, b"{}", "", 2
                )
            except BaseException:
                self._intake.shutdown(wait=False, cancel_futures=True)
                self._intake = None
                raise
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        if self._warming is not None:
            self._warming.cancel()
            self._warming = None
        if self._intake is not None:
            self._intake.shutdown(wait=True, cancel_futures=True)
            self._intake = None
        await self.store.close()

    async def _load_policy(self) -> None:
        """A policy given at start wins and is stored; otherwise the stored one applies."""
        if self._policy_given:
            text = yaml.safe_dump(self.policy.model_dump(mode="json"), sort_keys=False)
            await self.store.put_setting(POLICY_KEY, text)
            self._policy_text = text
        await self._follow_stored_policy()

    async def _follow_stored_policy(self) -> None:
        stored = await self.store.setting(POLICY_KEY)
        if stored is not None and stored != self._policy_text:
            self.policy = policy_files.parse(stored, "stored policy")
            self._policy_text = stored

    async def _fresh(self, read: Callable[[], Awaitable[T]]) -> T:
        """What `read` answers, read again while a token or cluster changed here meanwhile:
        an overlapping read would lose that change until the next one."""
        while True:
            writes = self._writes
            found = await read()
            if writes == self._writes:
                return found

    async def _follow_tokens(self) -> None:
        self.tokens = {t.id: t for t in await self._fresh(self.store.tokens)}

    async def reload(self) -> None:
        await self._follow_tokens()
        inventory = Inventory()
        for record in await self.store.clusters():
            inventory.put(
                Entry(record.name, record.labels, record.registered_at, record.generation)
            )
        for stored in await self.store.reports():
            inventory.apply_report(
                stored.cluster, stored.sequence, stored.body, stored.received_at, form=stored.form
            )
        by_cluster: dict[str, list[Claim]] = {}
        for claim in await self.store.live_claims():
            by_cluster.setdefault(claim.cluster, []).append(claim)
        for name, claims in by_cluster.items():
            inventory.set_claims(name, claims)
        self.inventory = inventory

    async def listen(self) -> None:
        """Hear the store's notices of what any replica changed, until cancelled."""
        async for change in self.store.changes():
            self.heard(change)

    def heard(self, change: Change) -> None:
        if change.topic is Topic.JOBS:
            self.announce_jobs(change.key)
            return
        if change.topic is Topic.EVENTS:
            self.announce_events()
            return
        self._pending.add(change)
        self._stirred.set()

    async def catch_up(self) -> None:
        """Follow the store once notices came or `reread` seconds passed: what the notices
        named, and everything at least every `reread` seconds (the net for a notice lost
        or a store that sends none)."""
        loop, every = asyncio.get_running_loop(), self.settings.reread
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stirred.wait(), every)
        # After a catch-up with everything (a burst, such as a fleet's reports), notices
        # gather a while before the next one; a lone change is followed at once.
        gap = self._followed_all + self.settings.follow_gap - loop.time()
        await asyncio.sleep(max(0.0, gap))
        self._stirred.clear()
        pending, self._pending = self._pending, Pending()
        if pending.everything or loop.time() - self._followed_all >= every:
            self._followed_all = loop.time()
            await self.refresh()
            return
        if pending.tokens:
            await self._follow_tokens()
        if pending.settings:
            await self._follow_stored_policy()
        for name in sorted(pending.clusters):
            await self.resync(name)

    async def refresh(self) -> None:
        """Catch up with the store: tokens, policy, clusters, newer reports, changed claims."""
        await self._follow_tokens()
        await self._follow_stored_policy()
        records = await self._fresh(self.store.clusters)
        for name in set(self.inventory.names()) - {r.name for r in records}:
            self.inventory.remove(name)
        for record in records:
            await self.sync(record)

    async def sync(self, record: ClusterRecord) -> Entry:
        """Bring one cluster's entry up to the store's generation."""
        entry = self.inventory.get(record.name)
        if entry is not None and entry.labels != record.labels:
            entry = replace(entry, labels=record.labels)
            self.inventory.put(entry)
        if entry is None or entry.registered_at != record.registered_at:
            entry = Entry(record.name, record.labels, record.registered_at, -1)
            self.inventory.put(entry)
        elif _was_reset(record, entry):
            # Held as reset; a report that came in since (on any replica) is read below.
            entry = replace(entry, sequence=-1)
            self.inventory.put(entry)
        if entry.generation == record.generation:
            return entry
        if record.report_sequence is not None and record.report_sequence != entry.sequence:
            for stored in await self.store.reports([record.name]):
                self.inventory.apply_report(
                    stored.cluster,
                    stored.sequence,
                    stored.body,
                    stored.received_at,
                    form=stored.form,
                )
        claims = await self.store.live_claims(record.name)
        self.inventory.set_claims(record.name, claims, record.generation)
        return self.inventory.require(record.name)

    async def resync(self, cluster: str) -> None:
        """Pick up the claims a migration that ended or landed a VM changed on its target."""
        record = await self.store.cluster(cluster)
        if record is None:
            self.inventory.remove(cluster)
        else:
            await self.sync(record)

    async def leading(self, term: timedelta) -> bool:
        """Whether this replica does the sweeps for the next `term`: one replica at a time
        does, and another takes over once its holder stops renewing (it stopped or died)."""
        now = self.clock()
        return await self.store.hold_lease("sweep", self.replica, now + term, now)

    async def sweep(self) -> int:
        """Expire abandoned claims (recording an alert for each) and forget them."""
        now = self.clock()
        expired = await self.store.expire_claims(
            now, reservations.ExpiryAlert(now), transitions.Expire(now)
        )
        for claim in expired:
            log.warning("reservation %s on %s expired", claim.id, claim.cluster)
        lingering = now - self.settings.grant_linger
        for migration_id in await self.store.grants.close_lingering_grants(lingering, now):
            log.info("closed the target access of %s, which ended long ago", migration_id)
        if expired:
            await self.refresh()
        return len(expired)

    def lock(self, cluster: str) -> asyncio.Lock:
        return self._locks.setdefault(cluster, asyncio.Lock())

    # tokens and registration

    def authenticate(self, bearer: str) -> Principal | None:
        parts = tokens.split(bearer)
        if parts is None:
            return None
        record = self.tokens.get(parts[0])
        if record is None or not tokens.matches(record, parts[1]):
            return None
        return Principal(record.id, record.name, record.role, record.cluster)

    async def mint(self, name: str, role: Role) -> MintedToken:
        secret, record = tokens.mint(name, role, self.clock())
        await self.store.add_token(record)
        self.tokens[record.id] = record
        self._writes += 1
        return MintedToken(token=secret, info=info(record))

    async def revoke(self, token_id: str) -> None:
        if not await self.store.revoke_token(token_id):
            raise NotFound(f"no token with id {token_id!r}", code=ErrorCode.UNKNOWN_TOKEN)
        self.tokens.pop(token_id, None)
        self._writes += 1

    async def bootstrap_admin(self, path: Path) -> Path | None:
        """On first start, mint an admin token and save it where only this user can read it."""
        if any(t.role == Role.ADMIN for t in self.tokens.values()):
            return None
        minted = await self.mint("bootstrap-admin", Role.ADMIN)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(minted.token + "\n")
        os.chmod(path, 0o600)
        return path

    async def register(self, registration: ClusterRegistration) -> Registered:
        now = self.clock()
        secret, token = tokens.mint(
            f"spoke:{registration.name}", Role.SPOKE, now, registration.name
        )
        record = ClusterRecord(registration.name, dict(registration.labels), now)
        if not await self.store.register_cluster(record, token):
            raise Conflict(
                f"cluster {registration.name!r} is already registered; to issue a new token "
                f"use POST /api/v1/clusters/{registration.name}/token",
                code=ErrorCode.CLUSTER_EXISTS,
            )
        self.tokens[token.id] = token
        self._writes += 1
        self.inventory.put(Entry(record.name, record.labels, now, 0))
        return Registered(cluster=registration.name, token=secret)

    async def rotate(self, cluster: str) -> Registered:
        self.inventory.require(cluster)
        secret, token = tokens.mint(f"spoke:{cluster}", Role.SPOKE, self.clock(), cluster)
        if not await self.store.replace_cluster_token(cluster, token):
            raise NotFound(f"cluster {cluster!r} is not registered", code=ErrorCode.UNKNOWN_CLUSTER)
        self.tokens = {k: v for k, v in self.tokens.items() if v.cluster != cluster}
        self.tokens[token.id] = token
        self._writes += 1
        return Registered(cluster=cluster, token=secret)

    async def relabel(self, cluster: str, labels: Mapping[str, str]) -> None:
        if not await self.store.relabel_cluster(cluster, labels):
            raise NotFound(f"cluster {cluster!r} is not registered", code=ErrorCode.UNKNOWN_CLUSTER)
        self._writes += 1
        await self.resync(cluster)

    async def retire(self, cluster: str, why: str) -> list[Migration]:
        """Forget a cluster that is gone: the migrations to or from it fail (their
        reservations released), its tokens stop working, and an alert says so; answers the
        migrations that failed."""
        now = self.clock()
        audit = event_alert(
            AlertKind.CLUSTER_RETIRED,
            AlertSeverity.WARNING,
            cluster,
            f"{cluster} was retired: {why}",
            now,
        )
        failed = await self.store.retire_cluster(
            cluster, now, audit, transitions.Retire(cluster, now)
        )
        if failed is None:
            raise NotFound(f"cluster {cluster!r} is not registered", code=ErrorCode.UNKNOWN_CLUSTER)
        log.warning("%s; %d migrations to or from it failed", audit.message, len(failed))
        self.tokens = {k: v for k, v in self.tokens.items() if v.cluster != cluster}
        self.inventory.remove(cluster)
        self._writes += 1
        for migration in failed:
            # The other side's claims were released with the migration; its source agent
            # hears of the failure at its next long poll.
            other = {migration.source_cluster, migration.target_cluster} - {cluster}
            for name in other:
                await self.resync(name)
            self.announce_jobs(migration.source_cluster)
        return failed

    # reports

    def require_own(self, principal: Principal | None, cluster: str, doing: str) -> None:
        """A spoke token acts only for its own cluster; other roles pass."""
        if principal is not None and principal.role == Role.SPOKE and principal.cluster != cluster:
            raise Forbidden(
                f"this token belongs to cluster {principal.cluster!r}; it may not {doing} "
                f"{cluster!r}",
                code=ErrorCode.WRONG_CLUSTER,
            )
        self.inventory.require(cluster)

    async def ingest(
        self, cluster: str, body: bytes, encoding: str, principal: Principal
    ) -> ReportReceipt:
        self.require_own(principal, cluster, "report for")
        inspected = await self._inspect(body, encoding)
        if inspected.error_code:
            raise refused_body(
                ErrorCode(inspected.error_code),
                inspected.error_message,
                list(inspected.problems) or None,
            )
        if inspected.cluster != cluster:
            raise Invalid(
                f"the report is for cluster {inspected.cluster!r} but was sent to {cluster!r}",
                code=ErrorCode.CLUSTER_MISMATCH,
            )
        now = self.clock()
        sequence = inspected.sequence
        _refuse_far_ahead(sequence, now, self.settings.sequence_lead)
        applied, stored, generation = await self.store.save_report(
            StoredReport(cluster, sequence, now, inspected.stored, inspected.form)
        )
        if applied:
            self.inventory.apply_report(
                cluster, sequence, inspected.stored, now, inspected.report, inspected.form
            )
            self.inventory.advance(cluster, generation)
            self._arrivals.append(asyncio.get_running_loop().time())
            self._warm_soon()
        return ReportReceipt(
            cluster=cluster, sequence=sequence, applied=applied, stored_sequence=stored
        )

    def _warm_soon(self) -> None:
        """Index changed clusters in small batches while no request is in flight: a
        heartbeat's worth of reports is indexed before checks need it, and a burst of
        reports is not slowed down by it."""
        if self._warming is None:
            loop = asyncio.get_running_loop()
            self._warming = loop.call_later(self.settings.warm_interval, self._warm)

    def _warm(self) -> None:
        self._warming = None
        if not self.ready:
            return
        if self._in_flight or self._bursting() or self.inventory.warm(self.settings.warm_batch):
            self._warm_soon()

    def _bursting(self) -> bool:
        """True while reports arrive faster than `warm_below_rate` per second."""
        window = self._arrivals
        now = asyncio.get_running_loop().time()
        return len(window) == window.maxlen and now - window[0] < 1.0

    async def _inspect(self, body: bytes, encoding: str) -> intake.Inspected:
        """In a worker process when there are workers; else here, keeping the parsed report
        so that it is not parsed twice."""
        limit = self.settings.max_report_bytes
        if self._intake is None:
            return intake.inspect(body, encoding, limit, True, self.settings.report_bounds)
        loop = asyncio.get_running_loop()
        try:
            bounds = self.settings.report_bounds
            return await loop.run_in_executor(
                self._intake, intake.inspect, body, encoding, limit, False, bounds
            )
        except BrokenProcessPool:
            log.error("a report validation worker died; starting new workers")
            broken, self._intake = self._intake, intake.pool(self.settings.intake_workers)
            broken.shutdown(wait=False, cancel_futures=True)
            return intake.inspect(body, encoding, limit, True, self.settings.report_bounds)

    async def reset_sequence(self, cluster: str, who: str) -> SequenceReset:
        """Audited: recorded as an alert and logged, since it lets an older report in."""
        entry = self.inventory.require(cluster)
        now = self.clock()
        audit = event_alert(
            AlertKind.SEQUENCE_RESET,
            AlertSeverity.INFO,
            cluster,
            f"the report sequence of {cluster} was reset by {who} (it was {entry.sequence}); "
            "its next report is taken whatever its sequence",
            now,
            links={"cluster": f"/api/v1/clusters/{cluster}"},
        )
        try:
            previous = await self.store.reset_sequence(cluster, audit)
        except KeyError:
            raise NotFound(
                f"cluster {cluster!r} is not registered", code=ErrorCode.UNKNOWN_CLUSTER
            ) from None
        log.warning("%s", audit.message)
        if previous is not None:
            self.inventory.put(replace(entry, sequence=-1))
        return SequenceReset(cluster=cluster, previous_sequence=previous)

    # policy

    async def set_policy(self, text: str) -> Policy:
        try:
            policy = policy_files.parse(text, "policy")
        except policy_files.PolicyError as error:
            raise Invalid(str(error), code=ErrorCode.INVALID_POLICY) from error
        await self.store.put_setting(POLICY_KEY, text)
        self.policy = policy
        self._policy_text = text
        return policy
