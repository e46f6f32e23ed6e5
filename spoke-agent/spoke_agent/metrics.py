"""Prometheus metrics of one spoke agent: its report loop, its jobs and its executor. One
registry per agent, so several agents in one process (the demo, tests) never share counters.
Labels are bounded (stage, kind, action, form); never a VM's, a pod's or a job's name."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import get_args

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from spoke_agent.executor.model import Action

STAGES = ("read", "collect", "send")
ACTIONS = tuple(kind.__name__ for kind in get_args(Action))
"""Every action the executor can take: each has its series from the start, at zero."""
SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self._report()
        self._jobs()

    def _report(self) -> None:
        self.last_report = Gauge(
            "cclm_spoke_last_report_timestamp_seconds",
            "When the hub last accepted a report",
            registry=self.registry,
        )
        self.reports = Counter(
            "cclm_spoke_reports", "Reports the hub accepted", registry=self.registry
        )
        self.errors = Counter(
            "cclm_spoke_errors",
            "Failed report attempts, by stage (read: the cluster's API; send: the hub)",
            ("stage",),
            registry=self.registry,
        )
        self.stage_seconds = Histogram(
            "cclm_spoke_collection_duration_seconds",
            "How long each stage of a report took: reading the cluster, building the report, "
            "sending it",
            ("stage",),
            buckets=SECONDS,
            registry=self.registry,
        )
        self.objects = Gauge(
            "cclm_spoke_objects",
            "Objects seen in the last read, by kind",
            ("kind",),
            registry=self.registry,
        )
        self.skipped = Gauge(
            "cclm_spoke_skipped_objects",
            "Objects left out of the last report as malformed",
            registry=self.registry,
        )
        self.report_bytes = Gauge(
            "cclm_spoke_report_bytes",
            "Size of the last report built: as JSON (json) and as sent, compressed (gzip)",
            ("form",),
            registry=self.registry,
        )
        for stage in STAGES:
            self.errors.labels(stage)
            self.stage_seconds.labels(stage)

    def _jobs(self) -> None:
        self.jobs_running = Gauge(
            "cclm_spoke_jobs_running", "Jobs this agent's executor runs", registry=self.registry
        )
        self.steps = Counter(
            "cclm_spoke_executor_steps",
            "Actions the executor applied to a cluster, by action",
            ("action",),
            registry=self.registry,
        )
        self.step_errors = Counter(
            "cclm_spoke_executor_step_errors",
            "Actions that failed when applied (the next pass retries), by action",
            ("action",),
            registry=self.registry,
        )
        self.journal_bytes = Gauge(
            "cclm_spoke_journal_bytes",
            "Size of the executor's journal on disk",
            registry=self.registry,
        )
        for action in ACTIONS:
            self.steps.labels(action)
            self.step_errors.labels(action)
        self.info = Gauge(
            "cclm_spoke_info",
            "1, labelled with the cluster this agent reports for (a join key for the others)",
            ("cluster",),
            registry=self.registry,
        )

    def step(self, action: str, ok: bool) -> None:
        self.steps.labels(action).inc()
        if not ok:
            self.step_errors.labels(action).inc()

    def follow(self, running: Callable[[], int], journal: Callable[[], int]) -> None:
        """Read the running jobs and the journal's size at each scrape."""
        self.jobs_running.set_function(running)
        self.journal_bytes.set_function(journal)
