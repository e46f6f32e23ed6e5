"""How one hub process runs, grouped and validated once, whichever edge starts it
(`cclm hub serve`, the demo, the tests): where its store is, the policy it was started with,
its limits and timings, and how often it maintains itself."""

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from hub.models.policy import Policy


class SettingsError(ValueError):
    """A setting out of range; `setting` names it (dotted for a group), so each edge can say
    it in its own terms (the CLI names the flag)."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(f"{setting} {message}")
        self.setting = setting
        self.message = message


@dataclass(frozen=True, slots=True)
class Bounds:
    """The most one report may list, so one agent (or a forged token) cannot make the hub
    parse and index without end; above Kubernetes' tested limits (5,000 nodes, 150,000
    pods) so a real cluster is never refused."""

    nodes: int = 10_000
    vms: int = 150_000
    pending_launchers: int = 150_000


@dataclass(frozen=True, slots=True)
class Limits:
    """The hub's limits and timings; every one has a default that suits a fleet of thousands."""

    claim_ttl: timedelta = timedelta(minutes=15)
    """A reservation lives this long without progress from its source agent."""
    stall_after: timedelta = timedelta(seconds=45)
    """A receiving pod Pending this long marks its task `stalled` and raises an alert: within
    a minute, so someone can act before KubeVirt deletes a receiving pod that stays
    unschedulable for 300 s and fails the migration."""
    feeds_every: float = 5.0
    """Seconds between evaluations of the alerts and recommendations (by one replica)."""
    progress_silence: timedelta = timedelta(minutes=2)
    """A running job whose source agent reports nothing this long raises an alert."""
    failed_alert_for: timedelta = timedelta(hours=1)
    """How long a failed migration's alert stays open."""
    event_alert_for: timedelta = timedelta(hours=1)
    """How long the alert of a one-time event (a reservation expired) stays open."""
    event_retention: timedelta = timedelta(days=7)
    """Events older than this are pruned; a stream resuming from before them is told."""
    grant_ttl: timedelta = timedelta(hours=1)
    """Lifetime of the tokens target agents mint for a migration; renewed at a third left."""
    grant_linger: timedelta = timedelta(hours=2)
    """How long after its migration ended a grant stays open for a source agent that never
    said it was done (it may still be undoing a cancelled job on the target)."""
    max_report_bytes: int = 32 * 2**20
    """A report's size after decompression."""
    report_bounds: Bounds = field(default_factory=Bounds)
    """The most nodes, VMs and pending launchers one report may list."""
    max_body_bytes: int = 4 * 2**20
    """Any other request body's size after decompression."""
    accept_attempts: int = 8
    """Times an accept re-evaluates when the target changed under it before answering 503."""
    list_limit: int = 500
    """The most items a list answers."""
    warm_batch: int = 4
    """Changed clusters indexed per background pass, so checks rarely parse reports."""
    warm_interval: float = 0.1
    warm_below_rate: float = 200.0
    """Reports/s above which background indexing pauses: a burst is ingested first."""
    sequence_lead: timedelta = timedelta(days=1)
    """How far ahead of the hub's clock (in milliseconds) a report's sequence may be."""
    intake_workers: int = 0
    """Processes that validate reports; 0 validates in the hub's own process."""
    reread: float = 2.0
    """Seconds between re-reads of the store for what other replicas changed: all they
    changed reaches a replica this late at most, and sooner where the store sends notices
    (PostgreSQL). Waiting spokes re-read as often."""
    follow_gap: float = 0.25
    """Seconds after a catch-up with everything before the next catch-up, so a burst of
    changes is read in one."""

    def __post_init__(self) -> None:
        durations = ("claim_ttl", "stall_after", "grant_ttl", "grant_linger", "sequence_lead")
        for name in (*durations, "progress_silence", "failed_alert_for", "event_retention"):
            if getattr(self, name) <= timedelta(0):
                raise SettingsError(name, f"must be more than zero, not {getattr(self, name)}")
        sizes = ("max_report_bytes", "max_body_bytes", "accept_attempts", "list_limit")
        for name in (
            *sizes,
            "warm_batch",
            "warm_interval",
            "warm_below_rate",
            "reread",
            "follow_gap",
        ):
            if getattr(self, name) <= 0:
                raise SettingsError(name, f"must be more than zero, not {getattr(self, name)}")
        if self.intake_workers < 0:
            raise SettingsError("intake_workers", f"must be 0 or more, not {self.intake_workers}")


@dataclass(frozen=True, slots=True)
class HubSettings:
    database: Path | str
    """A SQLite file (the embedded store), or a `postgresql://` URL."""
    policy: Policy | None = None
    """Given at start: stored and used from then on. None: the stored policy, else the
    packaged default."""
    limits: Limits = field(default_factory=Limits)
    maintain_every: float | None = 2.0
    """Seconds between sweeps of expired claims and catch-ups with the store (other
    replicas); None leaves both to the caller, as the tests do."""
    alertmanagers: tuple[str, ...] = ()
    """Alertmanager URLs the alerts are pushed to (`POST /api/v2/alerts`)."""
    public_url: str | None = None
    """The hub's URL as receivers reach it, for links back to an alert."""
    managed_clusters: bool = False
    """Keep the fleet as the hub cluster's Open Cluster Management ManagedClusters are."""
    kube_auth: bool = False
    """Check tokens the hub did not issue with the hub cluster's API server."""
    kubeconfig: Path | None = None
    """How the hub reaches its own cluster's API for either; None: in the cluster."""

    def __post_init__(self) -> None:
        scheme = urlsplit(str(self.database)).scheme
        if isinstance(self.database, str) and scheme not in ("", "postgresql", "postgres"):
            raise SettingsError(
                "database",
                f"must be a SQLite file or a postgresql:// URL, not a {scheme}:// URL",
            )
        if self.kubeconfig is not None and not (self.managed_clusters or self.kube_auth):
            raise SettingsError(
                "kubeconfig", "is used only with --managed-clusters or --kube-auth; add one"
            )
        if self.maintain_every is not None and self.maintain_every <= 0:
            raise SettingsError("maintain_every", "must be more than zero, or None")
        given = [("alertmanagers", u, "http://alertmanager:9093") for u in self.alertmanagers]
        if self.public_url:
            given.append(("public_url", self.public_url, "https://cclm.example.com"))
        for setting, url, example in given:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise SettingsError(
                    setting, f"must be an http:// or https:// URL with a host, such as {example}"
                )
