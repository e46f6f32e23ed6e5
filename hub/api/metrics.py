"""Prometheus metrics of one hub. Each app has its own registry, so tests and several hubs in
one process never share counters.

Counters and histograms here count what this replica did (sum them over replicas); what the
fleet and the store hold is computed at each scrape (`hub.api.fleet_metrics`), alike on every
replica (take the max). Labels are bounded: cluster, resource, storage class, code, state,
verdict, phase, mode; never a VM's or a pod's name.
"""

from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hub.api.fleet_metrics import FleetCollector
from hub.models.api import CheckAnswer, Migration, Task

SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5)
DURATIONS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400)
"""A migration or a VM's phase: seconds to hours."""


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "cclm_hub_requests",
            "API requests by route and status",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "cclm_hub_request_seconds",
            "API request latency by route",
            ("method", "route"),
            buckets=SECONDS,
            registry=self.registry,
        )
        self.reports = Counter(
            "cclm_hub_reports",
            "Reports received, by whether they were newer",
            ("applied",),
            registry=self.registry,
        )
        self.clusters = Gauge(
            "cclm_hub_clusters",
            "Registered clusters by freshness",
            ("freshness",),
            registry=self.registry,
        )
        self.claims = Gauge("cclm_hub_live_claims", "Live reservations", registry=self.registry)
        self.loop_lag = Histogram(
            "cclm_hub_event_loop_lag_seconds",
            "How late the event loop ran a timer: time it spent on one thing without yielding, "
            "which every request waiting behind it waits too",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
            registry=self.registry,
        )
        self.expired = Counter(
            "cclm_hub_claims_expired", "Reservations expired by the sweeper", registry=self.registry
        )
        self.fleet = FleetCollector()
        self.registry.register(self.fleet)
        self._checks()
        self._migrations()

    def _checks(self) -> None:
        self.checks = Counter(
            "cclm_hub_checks",
            "Capacity checks by the verdict on the target asked for (`none` without one)",
            ("verdict",),
            registry=self.registry,
        )
        self.findings = Counter(
            "cclm_hub_check_findings",
            "Findings of capacity checks on the target asked for, by code",
            ("code",),
            registry=self.registry,
        )
        self.check_seconds = Histogram(
            "cclm_hub_check_duration_seconds",
            "How long a capacity check took the hub",
            buckets=SECONDS,
            registry=self.registry,
        )
        self.suggestions = Histogram(
            "cclm_hub_check_suggestions",
            "Clusters suggested per capacity check",
            buckets=(0, 1, 2, 3, 5, 10, 20),
            registry=self.registry,
        )

    def _migrations(self) -> None:
        self.accepted = Counter(
            "cclm_hub_accepted_vms",
            "VMs of accepted migrations, by whether they go live or offline",
            ("mode",),
            registry=self.registry,
        )
        self.migration_seconds = Histogram(
            "cclm_hub_migration_duration_seconds",
            "From acceptance to the end of a migration, by how it ended",
            ("state",),
            buckets=DURATIONS,
            registry=self.registry,
        )
        self.phase_seconds = Histogram(
            "cclm_hub_vm_phase_duration_seconds",
            "How long a VM of a migration spent in a phase, by phase and mode, observed as it "
            "leaves the phase",
            ("phase", "mode"),
            buckets=DURATIONS,
            registry=self.registry,
        )
        self.copied = Counter(
            "cclm_hub_copied_bytes",
            "Bytes the executors reported copied (offline copies and volumes)",
            registry=self.registry,
        )

    def checked(self, answer: CheckAnswer, seconds: float) -> None:
        target = answer.target
        self.checks.labels(target.verdict.value if target else "none").inc()
        for finding in target.findings if target else ():
            self.findings.labels(finding.code.value).inc()
        self.check_seconds.observe(seconds)
        self.suggestions.observe(len(answer.suggestions))

    def accepted_migration(self, migration: Migration) -> None:
        for placement in migration.check.placements:
            self.accepted.labels(placement.mode.value).inc()

    def progressed(self, before: Task, after: Task, migration: Migration) -> None:
        """What one progress report moved: phases left, bytes copied, the migration ended."""
        earlier = {vm.vm: vm for vm in before.vms}
        for vm in after.vms:
            was = earlier.get(vm.vm)
            if was is None:
                continue
            self.copied.inc(max(vm.bytes_copied - was.bytes_copied, 0))
            if vm.phase != was.phase and was.phase_since is not None:
                spent = (after.updated_at - was.phase_since).total_seconds()
                self.phase_seconds.labels(was.phase.value, was.mode.value).observe(max(spent, 0))
        if before.state.active and not after.state.active:
            spent = (after.updated_at - migration.created_at).total_seconds()
            self.migration_seconds.labels(after.state.value).observe(max(spent, 0))


METRICS_KEY: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
