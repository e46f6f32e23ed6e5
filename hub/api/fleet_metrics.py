"""The fleet as Prometheus sees it, computed at each scrape from what the hub holds (each
cluster's fit index and claims, the policy) and what the store tallies, through the same
summaries the API lists, so a dashboard never disagrees with the console.

Every replica answers the same figures here; a dashboard takes the max over replicas.
Resources follow kube-state-metrics' `resource`/`unit` labels: CPU in cores, memory and
hugepages in bytes, other extended resources as counts.
"""

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily, Metric

from hub.fleet import summaries
from hub.fleet.inventory import Inventory
from hub.models.api import AlertKind, ClusterSummary, Freshness, State, Task, VmPhase
from hub.models.check import Mode
from hub.models.policy import Policy
from hub.store import Tallies

CAPACITY = ("allocatable", "requested", "reserved", "free")
STORAGE = ("capacity", "available", "reserved", "free")
CLAIM_STATES = ("live", "finished", "failed", "cancelled", "expired", "retired")
GRANT_STATES = ("waiting", "minted", "failed", "closed")


@dataclass(frozen=True, slots=True)
class Scraped:
    """What one scrape reads: the inventory and policy in memory, the store's tallies."""

    inventory: Inventory
    policy: Policy
    tallies: Tallies
    now: datetime

    def collect(self) -> Iterator[Metric]:
        entries = self.inventory.entries()
        built = [self.inventory.index(e.name) for e in entries]
        clusters = [
            summaries.summary(e, b, self.inventory.facts(e.name), self.policy, self.now)
            for e, b in zip(entries, built, strict=True)
        ]
        cdi = {e.name: b.cdi.version if b else None for e, b in zip(entries, built, strict=True)}
        yield from capacity(clusters)
        yield from storage(clusters)
        yield from reports(clusters, cdi)
        yield from policy(self.policy)
        yield from store(self.tallies)
        yield from active(self.tallies.active, [c.name for c in clusters])


class FleetCollector:
    """Registered once; each scrape hands it what it read, right before the registry is
    rendered (one event loop: nothing runs between the two)."""

    def __init__(self) -> None:
        self.scraped: Scraped | None = None

    def collect(self) -> Iterator[Metric]:
        if self.scraped is not None:
            yield from self.scraped.collect()


def _unit(resource: str) -> tuple[str, str, float]:
    """The resource's Prometheus name, unit, and the factor from the hub's integer."""
    if resource == "cpu_millis":
        return "cpu", "core", 1 / 1000
    if resource == "memory_bytes":
        return "memory", "byte", 1
    if resource.startswith("hugepages-") or resource == "ephemeral-storage":
        return resource, "byte", 1
    return resource, "integer", 1


def capacity(clusters: Iterable[ClusterSummary]) -> Iterator[Metric]:
    families = {
        part: GaugeMetricFamily(
            f"cclm_cluster_{part}",
            f"Per cluster and resource, {part} over the nodes that can host VMs"
            + (" (held by live claims)" if part == "reserved" else ""),
            labels=("cluster", "resource", "unit"),
        )
        for part in CAPACITY
    }
    for cluster in clusters:
        for resource, summary in sorted(cluster.resources.items()):
            name, unit, factor = _unit(resource)
            for part in CAPACITY:
                value = getattr(summary, part) * factor
                families[part].add_metric((cluster.name, name, unit), value)
    yield from families.values()


def storage(clusters: Iterable[ClusterSummary]) -> Iterator[Metric]:
    families = {
        part: GaugeMetricFamily(
            f"cclm_cluster_storage_{part}_bytes",
            f"Per cluster and storage class, {part} bytes as the class reports them"
            + (" (held by live claims)" if part == "reserved" else ""),
            labels=("cluster", "storage_class"),
        )
        for part in STORAGE
    }
    for cluster in clusters:
        for sc in cluster.storage:
            values = (sc.capacity_bytes, sc.available_bytes, sc.reserved_bytes, sc.free_bytes)
            for part, value in zip(STORAGE, values, strict=True):
                if value is not None:
                    families[part].add_metric((cluster.name, sc.name), value)
    yield from families.values()


def reports(clusters: Iterable[ClusterSummary], cdi: dict[str, str | None]) -> Iterator[Metric]:
    age = GaugeMetricFamily(
        "cclm_cluster_report_age_seconds",
        "Seconds since the hub received the cluster's newest report",
        labels=("cluster",),
    )
    sequence = GaugeMetricFamily(
        "cclm_cluster_report_sequence", "The newest report's sequence", labels=("cluster",)
    )
    fresh = GaugeMetricFamily(
        "cclm_cluster_freshness",
        "1 for the freshness the cluster's report has (fresh, stale, expired, missing)",
        labels=("cluster", "freshness"),
    )
    claims = GaugeMetricFamily(
        "cclm_cluster_live_claims", "Live reservations on the cluster", labels=("cluster",)
    )
    info = GaugeMetricFamily(
        "cclm_cluster_info",
        "The cluster's KubeVirt and CDI versions as reported (empty when not installed)",
        labels=("cluster", "kubevirt_version", "cdi_version"),
    )
    for cluster in clusters:
        for state in Freshness:
            fresh.add_metric((cluster.name, state.value), float(cluster.freshness == state))
        claims.add_metric((cluster.name,), cluster.live_claims)
        if cluster.report_sequence is None:
            continue
        age.add_metric((cluster.name,), cluster.report_age_seconds or 0.0)
        sequence.add_metric((cluster.name,), cluster.report_sequence)
        versions = (cluster.kubevirt_version or "", cdi.get(cluster.name) or "")
        info.add_metric((cluster.name, *versions), 1)
    yield from (age, sequence, fresh, claims, info)


def policy(current: Policy) -> Iterator[Metric]:
    """The policy's thresholds, so alert rules compare against what the hub enforces."""
    headroom = GaugeMetricFamily(
        "cclm_policy_headroom_ratio",
        "The share of allocatable the policy keeps free, per resource",
        labels=("resource",),
    )
    for resource in ("cpu", "memory", "storage"):
        headroom.add_metric((resource,), getattr(current.headroom_percent, resource) / 100)
    staleness = GaugeMetricFamily(
        "cclm_policy_staleness_seconds",
        "Report age past which a cluster is stale (soft) or unknown to checks (hard)",
        labels=("level",),
    )
    staleness.add_metric(("soft",), current.staleness.soft_seconds)
    staleness.add_metric(("hard",), current.staleness.hard_seconds)
    yield from (headroom, staleness)


def store(tallies: Tallies) -> Iterator[Metric]:
    migrations = GaugeMetricFamily("cclm_hub_migrations", "Migrations by state", labels=("state",))
    for known in State:
        migrations.add_metric((known.value,), tallies.migrations.get(known.value, 0))
    claims = GaugeMetricFamily(
        "cclm_hub_claims",
        "Reservations by state: live, or why they were released",
        labels=("state",),
    )
    for reason in sorted(set(CLAIM_STATES) | set(tallies.claims)):
        claims.add_metric((reason,), tallies.claims.get(reason, 0))
    grants = GaugeMetricFamily(
        "cclm_hub_grants", "Target-access grants by state", labels=("state",)
    )
    for step in GRANT_STATES:
        grants.add_metric((step,), tallies.grants.get(step, 0))
    alerts = GaugeMetricFamily("cclm_hub_open_alerts", "Open alerts by kind", labels=("kind",))
    for kind in AlertKind:
        alerts.add_metric((kind.value,), tallies.alerts.get(kind.value, 0))
    yield from (migrations, claims, grants, alerts)


def active(tasks: Iterable[Task], clusters: Iterable[str]) -> Iterator[Metric]:
    """The VMs of queued and running migrations, by phase and mode; stalls and bytes copied
    by target, for every cluster (zero when nothing is in flight to it)."""
    vms: Counter[tuple[str, str]] = Counter()
    stalls: Counter[str] = Counter()
    copied: Counter[str] = Counter()
    targets = set(clusters)
    for task in tasks:
        targets.add(task.target_cluster)
        stalls[task.target_cluster] += sum(c.type == "stalled" for c in task.conditions)
        for vm in task.vms:
            vms[(vm.phase.value, vm.mode.value)] += 1
            copied[task.target_cluster] += vm.bytes_copied
    phases = GaugeMetricFamily(
        "cclm_hub_migration_vms",
        "VMs of active migrations by phase and mode",
        labels=("phase", "mode"),
    )
    for phase in VmPhase:
        for mode in Mode:
            phases.add_metric((phase.value, mode.value), vms.get((phase.value, mode.value), 0))
    stalled = GaugeMetricFamily(
        "cclm_hub_stalls", "Open stalls of active migrations, by target", labels=("cluster",)
    )
    for cluster in sorted(targets):
        stalled.add_metric((cluster,), stalls[cluster])
    moved = GaugeMetricFamily(
        "cclm_hub_active_copied_bytes",
        "Bytes copied so far by active migrations, by target",
        labels=("cluster",),
    )
    for cluster in sorted(targets):
        moved.add_metric((cluster,), copied[cluster])
    yield from (phases, stalled, moved)
