"""The hub's durable state behind one interface; SQLite is the embedded adapter.

Everything that must survive a restart goes through here: registrations and token hashes,
the newest report per cluster, claims, migrations, tasks, alerts, the policy, the agents'
public sealing keys and the sealed target grants. Each method is one transaction, so no
caller can observe or leave a half-applied change.
"""

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Protocol

from hub.models.api import Alert, ClaimStatus, Migration, Role, State, Task
from hub.models.claim import Claim
from hub.models.feeds import Announcement, Event, Recommendation


class StoreError(RuntimeError):
    """The store cannot be used as it is (for example, written by a newer hub)."""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: str
    name: str
    role: Role
    secret_hash: str
    created_at: datetime
    cluster: str | None = None


@dataclass(frozen=True, slots=True)
class ClusterRecord:
    name: str
    labels: Mapping[str, str]
    registered_at: datetime
    generation: int = 0
    report_sequence: int | None = None


@dataclass(frozen=True, slots=True)
class StoredReport:
    cluster: str
    sequence: int
    received_at: datetime
    body: bytes
    form: bytes | None = None
    """Its unclaimed fit index (`hub.capacity.index_form`); None for a report stored before
    forms were kept."""


class Accepted(Enum):
    ACCEPTED = "accepted"
    CONFLICT = "conflict"
    VM_BUSY = "vm-busy"
    DUPLICATE_KEY = "duplicate-key"
    UNKNOWN_CLUSTER = "unknown-cluster"


@dataclass(frozen=True, slots=True)
class AcceptOutcome:
    status: Accepted
    existing_migration: str | None = None
    busy_vm: str | None = None


@dataclass(frozen=True, slots=True)
class GrantRecord:
    """A migration's target access grant. `sealed` is ciphertext only the source agent can
    open; the hub never sees the token inside."""

    migration: Migration
    recipient_key: str | None
    sealed: str | None = None
    expires_at: datetime | None = None
    minted_at: datetime | None = None
    closed_at: datetime | None = None
    failure: str | None = None
    """Why the target's agent could not mint it, until it can."""


@dataclass(frozen=True, slots=True)
class SealedBox:
    sealed: str
    expires_at: datetime
    recipient_key: str


class Stored(Enum):
    STORED = "stored"
    CLOSED = "closed"
    STALE_KEY = "stale-key"


class GrantStore(Protocol):
    """A grant opens with its migration, stays open while the source may still need the
    target (to finish or to undo), and closes when the source is done with it."""

    async def set_sealing_key(self, cluster: str, public_key: str) -> bool | None:
        """Record `cluster`'s key; a changed key drops the sealed grants of its migrations,
        which no longer open. True when changed, None for an unknown cluster."""
        ...

    async def open_grants(self, target_cluster: str) -> list[GrantRecord]:
        """Open grants for migrations to `target_cluster`, oldest first."""
        ...

    async def sourced_grants(self, source_cluster: str) -> list[GrantRecord]:
        """Open grants for migrations from `source_cluster`, oldest first."""
        ...

    async def grant(self, migration_id: str) -> GrantRecord | None: ...
    async def put_grant(self, migration_id: str, grant: "SealedBox", at: datetime) -> "Stored":
        """Store a sealed grant unless the grant has closed, or the source's key has changed
        since the box was sealed (it would not open), both decided in one transaction."""
        ...

    async def grant_failed(self, migration_id: str, failure: str) -> bool:
        """Record why the target's agent could not mint an open grant."""
        ...

    async def close_grant(self, migration_id: str, at: datetime) -> bool: ...
    async def close_lingering_grants(self, ended_before: datetime, at: datetime) -> list[str]:
        """Close the grants of migrations that ended before `ended_before`: a source agent
        that never said it was done does not keep the target's access open for ever."""
        ...


Transition = Callable[[Migration, Task], tuple[Migration, Task] | None]
"""A pure change to a migration and its task; None leaves both as they are."""

AlertFor = Callable[[Claim, str | None], Alert]


class TokenStore(Protocol):
    """Bearer tokens, by id, with the hash of their secret only."""

    async def tokens(self) -> list[TokenRecord]: ...
    async def add_token(self, token: TokenRecord) -> None: ...
    async def revoke_token(self, token_id: str) -> bool: ...


class ClusterStore(Protocol):
    """Registered clusters, the newest report of each and the claims live on them; a
    cluster's generation moves with every change to either, which is what accepts check."""

    async def register_cluster(self, cluster: ClusterRecord, token: TokenRecord) -> bool:
        """False when the name is taken."""
        ...

    async def replace_cluster_token(self, cluster: str, token: TokenRecord) -> bool: ...

    async def relabel_cluster(self, cluster: str, labels: Mapping[str, str]) -> bool:
        """Replace the cluster's labels (its generation moves); False when not registered."""
        ...

    async def retire_cluster(
        self, cluster: str, at: datetime, audit: Alert, change: Transition
    ) -> list[Migration] | None:
        """Apply `change` to every active migration to or from the cluster, release the
        claims still live on it, revoke its tokens, forget it and its report, and record
        `audit`, in one transaction; answers the migrations it changed (None when the
        cluster was not registered)."""
        ...

    async def clusters(self) -> list[ClusterRecord]: ...
    async def cluster(self, name: str) -> ClusterRecord | None: ...

    async def save_report(self, report: StoredReport) -> tuple[bool, int, int]:
        """Keep the report if its sequence is newer; answers (applied, stored sequence,
        the cluster's generation after the write)."""
        ...

    async def reports(self, clusters: Sequence[str] | None = None) -> list[StoredReport]: ...

    async def reset_sequence(self, cluster: str, audit: Alert) -> int | None:
        """Let the cluster's next report in whatever its sequence, keeping the report held
        (its sequence becomes -1), and record `audit`; answers the sequence it had (None
        when the cluster has no report). Raises KeyError for an unknown cluster."""
        ...

    async def live_claims(self, cluster: str | None = None) -> list[Claim]: ...


class MigrationStore(Protocol):
    """Migrations, their tasks and their claims, changed only by pure transitions whose
    effects (`hub.migration.effects`) the adapter applies in the same transaction."""

    async def accept(
        self,
        migration: Migration,
        task: Task,
        claim: Claim,
        expected_generation: int,
        idempotency_key: str | None,
    ) -> AcceptOutcome:
        """Record an accepted migration and its claim if the target's generation is still
        `expected_generation`, bumping it; otherwise nothing is written."""
        ...

    async def migration(self, migration_id: str) -> Migration | None: ...
    async def migration_by_key(self, idempotency_key: str) -> Migration | None: ...
    async def active_migration_of(self, source_cluster: str, vm: str) -> str | None: ...
    async def migrations(
        self, state: State | None, cluster: str | None, limit: int
    ) -> list[Migration]: ...
    async def task(self, task_id: str) -> Task | None: ...
    async def tasks(self, state: State | None, cluster: str | None, limit: int) -> list[Task]: ...

    async def update_migration(
        self,
        migration_id: str,
        change: Transition,
        at: datetime,
        renew_until: datetime | None = None,
    ) -> tuple[Migration, Task] | None:
        """Apply `change`, then the effects `hub.migration.effects.of` gives for it (with
        `renew_until`, the new expiry of a live claim). None when there is no such
        migration."""
        ...

    async def jobs(self, source_cluster: str) -> list[Migration]:
        """Active migrations from `source_cluster`, oldest first."""
        ...

    async def expire_claims(
        self, now: datetime, alert_for: AlertFor, change: Transition
    ) -> list[Claim]:
        """Release claims past their expiry, apply `change` to their migrations and record
        an alert for each, all in one transaction."""
        ...


@dataclass(frozen=True, slots=True)
class AlertQuery:
    open: bool | None = None
    """True: open alerts only; False: resolved ones only; None: both."""
    kind: str | None = None
    cluster: str | None = None
    severity: str | None = None
    limit: int = 100
    before: tuple[float, str] | None = None
    """A page's end: alerts first seen before this (first_seen timestamp, id)."""
    resolved_since: datetime | None = None
    """Only alerts resolved at or after this."""


class FeedStore(Protocol):
    """Alerts, recommendations, and the numbered events that announce their changes, each
    write and its events in one transaction."""

    async def alerts(self, query: AlertQuery) -> list[Alert]:
        """Newest first (by first seen, then id)."""
        ...

    async def alert(self, alert_id: str) -> Alert | None: ...
    async def open_alerts(self) -> list[Alert]: ...
    async def write_alerts(
        self, written: Sequence[Alert], announced: Sequence[Announcement]
    ) -> None: ...
    async def raise_alert(self, alert: Alert, announced: Announcement) -> bool:
        """Record `alert` and announce it, unless one with its id exists; True when new."""
        ...

    async def recommendations(self) -> list[Recommendation]: ...
    async def write_recommendations(
        self,
        written: Sequence[Recommendation],
        removed: Sequence[str],
        announced: Sequence[Announcement],
    ) -> None: ...
    async def events(self, after: int, limit: int) -> list[Event]:
        """Events numbered above `after`, in order."""
        ...

    async def event_bounds(self) -> tuple[int, int]:
        """(the number below the oldest event kept, the newest event's number)."""
        ...

    async def prune_events(self, before: datetime) -> int: ...


@dataclass(frozen=True, slots=True)
class Tallies:
    """What the metrics count of the store: migrations by state, claims by state (`live`, or
    why they were released), grants by state, and the active tasks themselves."""

    migrations: Mapping[str, int]
    claims: Mapping[str, int]
    grants: Mapping[str, int]
    active: tuple[Task, ...]
    alerts: Mapping[str, int] = field(default_factory=dict)
    """Open alerts by kind."""


class TallyStore(Protocol):
    async def tallies(self) -> Tallies: ...


class SettingStore(Protocol):
    """Hub-wide settings every replica follows (the policy)."""

    async def setting(self, key: str) -> str | None: ...
    async def put_setting(self, key: str, value: str) -> None: ...


class LeaseStore(Protocol):
    """Work that one replica at a time must do, such as the sweeps."""

    async def hold_lease(self, name: str, holder: str, until: datetime, now: datetime) -> bool:
        """Take or renew lease `name` for `holder` until `until`; True when `holder` holds it,
        False while another holder's lease runs (it lapses unless renewed)."""
        ...


class Topic(Enum):
    """What changed, as far as a replica that holds it in memory or waits on it cares."""

    TOKENS = "tokens"
    SETTINGS = "settings"
    CLUSTER = "cluster"
    """A cluster's registration, report or claims (its generation); the key names it."""
    JOBS = "jobs"
    """A migration or its target access, of the cluster the key names (either side)."""
    EVENTS = "events"
    """Alert or recommendation events were written (one notice per transaction)."""
    EVERYTHING = "everything"
    """Changes may have been missed (the feed was down): catch up with all of it."""


@dataclass(frozen=True, slots=True)
class Change:
    topic: Topic
    key: str = ""


class ChangeStore(Protocol):
    def changes(self) -> AsyncIterator[Change]:
        """Every change any replica commits, as it commits, for as long as the caller reads;
        a store without such a feed (SQLite) ends at once, and its replicas re-read."""
        ...


class Store(
    TokenStore,
    ClusterStore,
    MigrationStore,
    TallyStore,
    SettingStore,
    LeaseStore,
    ChangeStore,
    Protocol,
):
    """What the hub keeps across restarts: one interface per aggregate, together, so that
    the adapter (SQLite now, a server database next) is chosen at the composition root and
    nothing else knows which it is."""

    @property
    def grants(self) -> GrantStore: ...

    @property
    def feeds(self) -> FeedStore: ...

    async def open(self) -> None: ...
    async def close(self) -> None: ...


def with_reservation(migration: Migration, status: ClaimStatus | None) -> Migration:
    return migration.model_copy(update={"reservation": status})
