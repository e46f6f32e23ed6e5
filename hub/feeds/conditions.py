"""What needs a person right now, read off a view of the fleet and the migrations in flight:
one `Observed` per condition, named by what it is about. Pure; the view is gathered by
`hub.feeds.evaluate`."""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.feeds.alerts import Observed
from hub.models.api import (
    AlertKind,
    AlertSeverity,
    Condition,
    Freshness,
    Migration,
    ResourceSummary,
    State,
    StorageSummary,
    Task,
)
from hub.models.policy import Policy

UNSCHEDULABLE_TIMEOUT = timedelta(seconds=300)
"""KubeVirt deletes a receiving pod unschedulable this long and fails the migration
(`defaultUnschedulablePendingTimeoutSeconds`, pkg/virt-controller/watch/migration)."""
OWNED = frozenset(
    {
        AlertKind.SPOKE_STALE,
        AlertKind.SPOKE_SILENT,
        AlertKind.STALLED,
        AlertKind.PROGRESS_SILENT,
        AlertKind.MIGRATION_FAILED,
        AlertKind.BELOW_HEADROOM,
        AlertKind.NODE_LOSS,
        AlertKind.RUNNING_TWICE,
        AlertKind.MODEL_DRIFT,
    }
)
"""The kinds whose alerts resolve when `observe` no longer sees their condition."""


@dataclass(frozen=True, slots=True)
class ClusterView:
    name: str
    freshness: Freshness
    age_seconds: float | None
    resources: Mapping[str, ResourceSummary]
    storage: Sequence[StorageSummary]
    survives_node_loss: bool | None
    """None without a report."""


@dataclass(frozen=True, slots=True)
class Drift:
    cluster: str
    vm: str
    measured: int
    computed: int


@dataclass(frozen=True, slots=True)
class TwiceRunning:
    migration_id: str
    vm: str
    source: str
    target: str


@dataclass(frozen=True, slots=True)
class View:
    clusters: Sequence[ClusterView]
    active: Sequence[tuple[Migration, Task]]
    failed: Sequence[tuple[Migration, Task]]
    """Migrations that failed lately (the caller picks how lately)."""
    twice: Sequence[TwiceRunning]
    drift: Sequence[Drift]
    policy: Policy
    now: datetime
    progress_silence: timedelta


def observe(view: View) -> list[Observed]:
    out: list[Observed] = []
    for cluster in view.clusters:
        out += _freshness(cluster, view.policy)
        if cluster.freshness in (Freshness.FRESH, Freshness.STALE):
            out += _headroom(cluster, view.policy)
            out += _node_loss(cluster, view.policy)
    for migration, task in view.active:
        out += _stalls(migration, task)
        out += _silence(migration, task, view.now, view.progress_silence)
    out += [_failed(migration, task) for migration, task in view.failed]
    out += [_twice(found) for found in view.twice]
    out += [_drift(found) for found in view.drift]
    return out


def _freshness(cluster: ClusterView, policy: Policy) -> Iterator[Observed]:
    name, age = cluster.name, cluster.age_seconds
    limits = policy.staleness
    if cluster.freshness is Freshness.STALE:
        yield Observed(
            f"spoke-stale:{name}",
            AlertKind.SPOKE_STALE,
            AlertSeverity.WARNING,
            f"{name}'s newest report is {age or 0:.0f} s old, past the policy's "
            f"{limits.soft_seconds} s: checks against it carry a warning; is its agent running?",
            cluster=name,
            details={"report_age_seconds": age, "soft_seconds": limits.soft_seconds},
        )
    elif cluster.freshness in (Freshness.EXPIRED, Freshness.MISSING):
        said = "has never reported" if age is None else f"last reported {age:.0f} s ago"
        yield Observed(
            f"spoke-silent:{name}",
            AlertKind.SPOKE_SILENT,
            AlertSeverity.CRITICAL,
            f"{name} {said} (the policy's limit is {limits.hard_seconds} s): checks against "
            "it answer unknown and it is never suggested; check its agent and its token",
            cluster=name,
            details={"report_age_seconds": age, "hard_seconds": limits.hard_seconds},
        )


@dataclass(frozen=True, slots=True)
class Shortfall:
    """CPU or memory of a cluster below the policy's headroom."""

    key: str
    """The resource as the summaries name it (`cpu_millis`, `memory_bytes`)."""
    name: str
    free: int
    whole: int
    percent: float

    @property
    def deficit(self) -> int:
        """How much more must be free to keep the policy's headroom."""
        return int(self.percent * self.whole // 100) - self.free


def _below(free: int, whole: int, percent: float) -> bool:
    return whole > 0 and free * 100 < percent * whole


def shortfalls(cluster: ClusterView, policy: Policy) -> list[Shortfall]:
    keep = policy.headroom_percent
    found = []
    for key, name, percent in (
        ("cpu_millis", "cpu", keep.cpu),
        ("memory_bytes", "memory", keep.memory),
    ):
        summary = cluster.resources.get(key)
        if summary is not None and _below(summary.free, summary.allocatable, percent):
            found.append(Shortfall(key, name, summary.free, summary.allocatable, percent))
    return found


def lost_n_plus_one(cluster: ClusterView, policy: Policy) -> bool:
    return policy.survive_largest_node_loss and cluster.survives_node_loss is False


def _short(cluster: str, resource: str, free: int, whole: int, keep: float) -> Observed:
    share = free / whole
    return Observed(
        f"below-headroom:{cluster}:{resource}",
        AlertKind.BELOW_HEADROOM,
        AlertSeverity.WARNING,
        f"{cluster} has {share:.1%} of its {resource} free; the policy keeps {keep:g}% free, "
        "so migrations there need acknowledging (see the recommendations for VMs to move)",
        cluster=cluster,
        details={
            "resource": resource,
            "free_percent": round(share * 100, 2),
            "policy_percent": keep,
        },
    )


def _headroom(cluster: ClusterView, policy: Policy) -> Iterator[Observed]:
    for short in shortfalls(cluster, policy):
        yield _short(cluster.name, short.name, short.free, short.whole, short.percent)
    keep = policy.headroom_percent.storage
    for sc in cluster.storage:
        whole, free = sc.capacity_bytes or 0, sc.free_bytes
        if free is not None and _below(free, whole, keep):
            yield _short(cluster.name, f"storage class {sc.name}", free, whole, keep)


def _node_loss(cluster: ClusterView, policy: Policy) -> Iterator[Observed]:
    if lost_n_plus_one(cluster, policy):
        yield Observed(
            f"node-loss:{cluster.name}",
            AlertKind.NODE_LOSS,
            AlertSeverity.WARNING,
            f"{cluster.name} could not re-home its workloads if its largest node failed (N+1 "
            "lost): the rest of its nodes hold less than it runs",
            cluster=cluster.name,
        )


def _stalls(migration: Migration, task: Task) -> Iterator[Observed]:
    for condition in task.conditions:
        if condition.type == "stalled":
            yield stall(migration, condition)


def stall(migration: Migration, condition: Condition) -> Observed:
    deadline = condition.since + UNSCHEDULABLE_TIMEOUT
    return Observed(
        f"stalled:{migration.id}:{condition.vm}",
        AlertKind.STALLED,
        AlertSeverity.CRITICAL,
        f"migration {migration.id} to {migration.target_cluster} is stalled: "
        f"{condition.message.rstrip('.')}. If the pod is unschedulable, KubeVirt deletes it "
        f"and fails the migration at about {deadline.strftime('%H:%M:%S')} UTC (300 s after it "
        "was seen Pending): free room there, or cancel and migrate where it fits",
        cluster=migration.target_cluster,
        migration_id=migration.id,
        vm=condition.vm,
        details={"pending_since": condition.since.isoformat(), "deadline": deadline.isoformat()},
        since=condition.since,
    )


def _silence(
    migration: Migration, task: Task, now: datetime, silence: timedelta
) -> Iterator[Observed]:
    heard = task.reported_at
    if task.state is not State.RUNNING or heard is None or now - heard < silence:
        return
    quiet = (now - heard).total_seconds()
    expires = migration.reservation.claim.expires_at if migration.reservation else None
    until = f"; its reservation expires at {expires.isoformat()}" if expires else ""
    yield Observed(
        f"progress-silent:{migration.id}",
        AlertKind.PROGRESS_SILENT,
        AlertSeverity.WARNING,
        f"the agent of {migration.source_cluster} has reported no progress on migration "
        f"{migration.id} for {quiet:.0f} s{until}: is it running?",
        cluster=migration.source_cluster,
        migration_id=migration.id,
        details={"silent_seconds": round(quiet)},
    )


def _failed(migration: Migration, task: Task) -> Observed:
    return Observed(
        f"migration-failed:{migration.id}",
        AlertKind.MIGRATION_FAILED,
        AlertSeverity.WARNING,
        f"migration {migration.id} from {migration.source_cluster} to "
        f"{migration.target_cluster} failed: {task.message or 'no reason given'}",
        cluster=migration.target_cluster,
        migration_id=migration.id,
        since=migration.updated_at,
    )


def _twice(found: TwiceRunning) -> Observed:
    return Observed(
        f"running-on-both:{found.migration_id}:{found.vm}",
        AlertKind.RUNNING_TWICE,
        AlertSeverity.CRITICAL,
        f"{found.vm} runs on both {found.source} and {found.target} after migration "
        f"{found.migration_id}: two copies write to their own disks; stop one now",
        cluster=found.target,
        migration_id=found.migration_id,
        vm=found.vm,
        details={"source": found.source, "target": found.target},
    )


def _drift(found: Drift) -> Observed:
    return Observed(
        f"overhead-above-model:{found.cluster}:{found.vm}",
        AlertKind.MODEL_DRIFT,
        AlertSeverity.WARNING,
        f"KubeVirt on {found.cluster} measured a memory overhead of {found.measured} B for "
        f"{found.vm}; its rules give {found.computed} B, so checks may size VMs there "
        f"{found.measured - found.computed} B low",
        cluster=found.cluster,
        vm=found.vm,
        details={"measured": found.measured, "computed": found.computed},
    )
