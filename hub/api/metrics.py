"""Prometheus metrics of one hub. Each app has its own registry, so tests and several hubs in
one process never share counters."""

from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
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


METRICS_KEY: web.AppKey[Metrics] = web.AppKey("metrics", Metrics)
