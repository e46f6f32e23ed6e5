"""What /metrics tells a dashboard: the fleet's capacity per cluster and resource in base
units, freshness and versions, checks, migrations, reservations, phases and bytes, with
bounded labels. Expected figures come from the fleet's reports (tests/api/fleet.py) and
KubeVirt's CPU rule, not from the hub's output."""

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.api.test_jobs import report
from tests.api.test_migrations import migrate
from tests.support.hub_env import Env

GI = 2**30
TI = 2**40


async def scrape(env: Env) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = await env.api.client.get("/metrics")
    assert answer.status == 200
    samples = {}
    for family in text_string_to_metric_families(await answer.text()):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples[(name, frozenset(labels.items()))]


def capacity(cluster: str, resource: str, unit: str) -> dict[str, str]:
    return {"cluster": cluster, "resource": resource, "unit": unit}


@pytest.mark.usefixtures("spokes")
async def test_each_cluster_shows_its_capacity_in_base_units(env: Env) -> None:
    got = await scrape(env)
    east_cpu, east_memory = capacity("east", "cpu", "core"), capacity("east", "memory", "byte")
    # east: two nodes of 32 cores and 128 GiB, 8 cores and 32 GiB of each requested
    assert value(got, "cclm_cluster_allocatable", **east_cpu) == 64
    assert value(got, "cclm_cluster_requested", **east_cpu) == 16
    assert value(got, "cclm_cluster_free", **east_cpu) == 48
    assert value(got, "cclm_cluster_reserved", **east_cpu) == 0
    assert value(got, "cclm_cluster_allocatable", **east_memory) == 256 * GI
    assert value(got, "cclm_cluster_free", **east_memory) == 192 * GI
    west_storage = {"cluster": "west", "storage_class": "ceph"}
    assert value(got, "cclm_cluster_storage_capacity_bytes", **west_storage) == 20 * TI
    assert value(got, "cclm_cluster_storage_free_bytes", **west_storage) == 10 * TI
    assert value(got, "cclm_cluster_freshness", cluster="east", freshness="fresh") == 1
    assert value(got, "cclm_cluster_freshness", cluster="east", freshness="stale") == 0
    assert value(got, "cclm_cluster_report_sequence", cluster="west") == 1
    info = {"cluster": "east", "kubevirt_version": "v1.9.0", "cdi_version": "v1.66.0"}
    assert value(got, "cclm_cluster_info", **info) == 1
    policy = {"headroom_percent": {"cpu": 15}, "staleness": {"soft_seconds": 150}}
    assert (await env.api.call("PUT", "/api/v1/policy", env.admin, policy)).status == 200
    env.clock.advance(200)  # past the soft staleness of 150 s
    later = await scrape(env)
    assert value(later, "cclm_policy_headroom_ratio", resource="cpu") == 0.15
    assert value(later, "cclm_policy_staleness_seconds", level="soft") == 150
    assert value(later, "cclm_policy_staleness_seconds", level="hard") == 900
    assert value(later, "cclm_cluster_freshness", cluster="east", freshness="stale") == 1
    assert value(later, "cclm_cluster_report_age_seconds", cluster="east") == 200


@pytest.mark.usefixtures("spokes")
async def test_checks_count_by_verdict_and_finding(env: Env) -> None:
    fits = {"vms": ["east/shop/db"], "target": "west"}
    assert (await env.api.call("POST", "/api/v1/checks", env.admin, fits)).status == 200
    unknown = {"vms": ["east/shop/db"], "target": "nowhere"}
    await env.api.call("POST", "/api/v1/checks", env.admin, unknown)
    got = await scrape(env)
    assert value(got, "cclm_hub_checks_total", verdict="fits") == 1
    assert value(got, "cclm_hub_check_duration_seconds_count") == sum(
        v for (name, _), v in got.items() if name == "cclm_hub_checks_total"
    )
    assert value(got, "cclm_hub_check_suggestions_count") >= 1


async def test_a_migration_shows_its_reservation_phases_and_bytes(
    env: Env, spokes: dict[str, str]
) -> None:
    migration = (await migrate(env)).body
    got = await scrape(env)
    west_cpu = capacity("west", "cpu", "core")
    # shop/db, held on west by the migration's claim: 4 vCPUs, not dedicated, so
    # 4 x 1000m / cpuAllocationRatio 10 = 400m (kubevirt-sizing.md §2), plus the
    # guest-console-log sidecar's 5m the scheduler counts too (§5)
    assert value(got, "cclm_cluster_reserved", **west_cpu) == 0.405
    assert value(got, "cclm_cluster_free", **west_cpu) == pytest.approx(32 - 0.405)
    assert value(got, "cclm_hub_migrations", state="queued") == 1
    assert value(got, "cclm_hub_claims", state="live") == 1
    assert value(got, "cclm_hub_migration_vms", phase="pending", mode="live") == 1
    assert value(got, "cclm_hub_accepted_vms_total", mode="live") == 1
    assert value(got, "cclm_cluster_live_claims", cluster="west") == 1

    def vm(phase: str, copied: int) -> dict[str, Any]:
        return {"vm": "shop/db", "mode": "live", "phase": phase, "bytes_copied": copied}

    said = {"state": "running", "vms": [vm("preparing", 0)]}
    assert (await report(env, spokes["east"], migration["id"], said)).status == 200
    env.clock.advance(30)
    said = {"state": "running", "vms": [vm("receiving", 5 * GI)]}
    assert (await report(env, spokes["east"], migration["id"], said)).status == 200
    env.clock.advance(60)
    said = {"state": "finished", "vms": [vm("migrated", 7 * GI)]}
    assert (await report(env, spokes["east"], migration["id"], said)).status == 200
    got = await scrape(env)
    assert value(got, "cclm_hub_copied_bytes_total") == 7 * GI
    preparing = {"phase": "preparing", "mode": "live"}
    assert value(got, "cclm_hub_vm_phase_duration_seconds_sum", **preparing) == 30
    receiving = {"phase": "receiving", "mode": "live"}
    assert value(got, "cclm_hub_vm_phase_duration_seconds_sum", **receiving) == 60
    assert value(got, "cclm_hub_migration_duration_seconds_count", state="finished") == 1
    assert value(got, "cclm_hub_migration_duration_seconds_sum", state="finished") == 90
    assert value(got, "cclm_hub_migrations", state="finished") == 1
    assert value(got, "cclm_hub_claims", state="live") == 0
    assert value(got, "cclm_cluster_reserved", **west_cpu) == 0


@pytest.mark.usefixtures("spokes")
async def test_no_label_names_a_vm_or_a_pod(env: Env) -> None:
    """Cardinality stays bounded by clusters, resources and states, whatever runs."""
    await migrate(env)
    allowed = {
        "cluster", "resource", "unit", "storage_class", "freshness", "kubevirt_version",
        "cdi_version", "level", "state", "phase", "mode", "verdict", "code", "method",
        "route", "status", "applied", "le", "kind",
    }  # fmt: skip
    got = await scrape(env)
    used = {name for _, labels in got for name, _ in labels}
    assert used <= allowed, used - allowed
    values = {v for _, labels in got for _, v in labels}
    assert not {"shop/db", "db"} & values
