"""What the hub observes as needing a person, from a view of the fleet and the migrations in
flight. Thresholds come from the policy (default: 10 % headroom, 120 s / 900 s staleness) and
KubeVirt's 300 s receiver timeout."""

from datetime import UTC, datetime, timedelta

from hub.feeds import conditions
from hub.feeds.conditions import ClusterView, Drift, TwiceRunning, View
from hub.models.api import (
    Condition,
    Freshness,
    ResourceSummary,
    State,
    StorageSummary,
)
from hub.models.policy import Policy
from tests.support.records import migration_and_task

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
GI = 2**30


def cluster(
    name: str = "east",
    freshness: Freshness = Freshness.FRESH,
    age: float | None = 10.0,
    cpu_free: int = 50_000,
    memory_free: int = 50 * GI,
    survives: bool | None = True,
    storage: tuple[StorageSummary, ...] = (),
) -> ClusterView:
    resources = {
        "cpu_millis": ResourceSummary(allocatable=100_000, requested=0, reserved=0, free=cpu_free),
        "memory_bytes": ResourceSummary(
            allocatable=100 * GI, requested=0, reserved=0, free=memory_free
        ),
    }
    return ClusterView(name, freshness, age, resources, storage, survives)


def view(*clusters: ClusterView, **extra: object) -> View:
    fields: dict[str, object] = {
        "clusters": clusters,
        "active": (),
        "failed": (),
        "twice": (),
        "drift": (),
        "policy": Policy(),
        "now": T0,
        "progress_silence": timedelta(minutes=2),
    }
    fields.update(extra)
    return View(**fields)  # type: ignore[arg-type]


def prints(seen: View) -> list[str]:
    return sorted(o.fingerprint for o in conditions.observe(seen))


def test_a_healthy_fleet_needs_nobody() -> None:
    assert prints(view(cluster())) == []


def test_late_reports_warn_and_missing_ones_are_critical() -> None:
    late = cluster("late", Freshness.STALE, 130.0)
    gone = cluster("gone", Freshness.EXPIRED, 1000.0)
    never = cluster("never", Freshness.MISSING, None)
    found = {o.fingerprint: o for o in conditions.observe(view(late, gone, never))}
    assert set(found) == {"spoke-stale:late", "spoke-silent:gone", "spoke-silent:never"}
    assert found["spoke-stale:late"].severity == "warning"
    assert "130 s old, past the policy's 120 s" in found["spoke-stale:late"].message
    assert found["spoke-silent:gone"].severity == "critical"
    assert (
        "last reported 1000 s ago (the policy's limit is 900 s)"
        in found["spoke-silent:gone"].message
    )
    assert "has never reported" in found["spoke-silent:never"].message


def test_free_capacity_below_the_policys_headroom_is_named_per_resource() -> None:
    # 9,999 of 100,000 millicores free is 9.999 % < 10 %; 10 GiB of 100 GiB is exactly 10 %
    tight = cluster(cpu_free=9_999, memory_free=10 * GI)
    [found] = conditions.observe(view(tight))
    assert found.fingerprint == "below-headroom:east:cpu"
    assert found.details == {"resource": "cpu", "free_percent": 10.0, "policy_percent": 10}
    assert "east has 10.0% of its cpu free; the policy keeps 10% free" in found.message


def test_a_storage_class_below_headroom_is_named_too() -> None:
    full = StorageSummary(
        name="ceph",
        provisioner="rbd.csi.ceph.com",
        is_default=True,
        capacity_source="csi",
        capacity_bytes=100 * GI,
        available_bytes=20 * GI,
        reserved_bytes=15 * GI,
        free_bytes=5 * GI,
    )
    assert prints(view(cluster(storage=(full,)))) == ["below-headroom:east:storage class ceph"]


def test_a_stale_cluster_is_not_judged_on_its_old_capacity_once_expired() -> None:
    old = cluster(freshness=Freshness.EXPIRED, age=1000.0, cpu_free=0, survives=False)
    assert prints(view(old)) == ["spoke-silent:east"]


def test_n_plus_one_lost_is_named_when_the_policy_asks_for_it() -> None:
    assert prints(view(cluster(survives=False))) == ["node-loss:east"]
    relaxed = Policy(survive_largest_node_loss=False)
    assert prints(view(cluster(survives=False), policy=relaxed)) == []


def test_a_stall_names_kubevirts_deadline_300_s_after_the_pod_was_seen_pending() -> None:
    since = T0 - timedelta(seconds=50)
    stalled = Condition(type="stalled", vm="shop/db", message="shop/db: pod Pending", since=since)
    migration, task = migration_and_task(State.RUNNING, conditions=(stalled,), reported_at=T0)
    [found] = conditions.observe(view(active=[(migration, task)]))
    assert found.fingerprint == f"stalled:{migration.id}:shop/db"
    assert found.severity == "critical"
    assert found.since == since
    assert "at about 12:04:10 UTC (300 s after it was seen Pending)" in found.message
    assert found.details["deadline"] == "2026-12-02T12:04:10+00:00"


def test_a_running_job_without_progress_for_two_minutes_is_named() -> None:
    heard = T0 - timedelta(seconds=121)
    migration, task = migration_and_task(State.RUNNING, reported_at=heard)
    [found] = conditions.observe(view(active=[(migration, task)]))
    assert found.fingerprint == f"progress-silent:{migration.id}"
    assert "has reported no progress" in found.message
    assert "for 121 s" in found.message
    recent = migration_and_task(State.RUNNING, reported_at=T0 - timedelta(seconds=119))
    assert prints(view(active=[recent])) == []


def test_failures_vms_running_twice_and_model_drift_are_named() -> None:
    failed = migration_and_task(State.FAILED, message="failed: the target refused the volume")
    twice = TwiceRunning("mig-9", "shop/db", "east", "west")
    drift = Drift("east", "shop/db", measured=300 * 2**20, computed=250 * 2**20)
    found = {
        o.fingerprint: o
        for o in conditions.observe(view(failed=[failed], twice=[twice], drift=[drift]))
    }
    assert "the target refused the volume" in found[f"migration-failed:{failed[0].id}"].message
    assert found["running-on-both:mig-9:shop/db"].severity == "critical"
    assert "52428800 B low" in found["overhead-above-model:east:shop/db"].message
