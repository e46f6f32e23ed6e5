"""Simulated clusters are reproducible and read by the same collector as real ones."""

from spoke_agent.report.collector import Memo, collect
from spoke_agent.sim import fleets

from tests.support.builders import NOW

SMALL = fleets.FleetShape(clusters=3, nodes=6, vms_per_node=2, pods_per_node=4)


def test_the_same_seed_gives_the_same_fleet_and_another_seed_another() -> None:
    first = [c.snapshot() for c in fleets.fleet(11, SMALL)]
    again = [c.snapshot() for c in fleets.fleet(11, SMALL)]
    other = [c.snapshot() for c in fleets.fleet(12, SMALL)]
    assert first == again
    assert first != other


def test_generated_clusters_collect_cleanly() -> None:
    fleet = fleets.fleet(3, SMALL)
    assert [c.name for c in fleet] == ["sim-000", "sim-001", "sim-002"]
    assert len({c.labels["topology.kubernetes.io/region"] for c in fleet}) == 3
    collected = collect(fleet[0].snapshot(), fleet[0].name, 1, NOW)
    report = collected.report
    assert collected.skipped == ()
    assert len(report.nodes) == 6
    assert len(report.vms) == 12
    assert all(v.disks and v.disks[0].storage_class == "ceph-rbd" for v in report.vms)
    assert report.storage_classes[0].capacity_source == "csi"
    for node in report.nodes:
        assert 0 < node.requested.memory_bytes < node.allocatable.memory_bytes * 2


def test_fill_and_fragmentation_shape_the_nodes() -> None:
    flat = fleets.FleetShape(clusters=1, nodes=40, fill=0.5, fragmentation=0.0, vms_per_node=0)
    [cluster] = fleets.fleet(5, flat)
    report = collect(cluster.snapshot(), cluster.name, 1, NOW).report
    fills = [n.requested.memory_bytes / n.allocatable.memory_bytes for n in report.nodes]
    assert all(abs(f - 0.5) < 0.01 for f in fills)


def test_changes_show_in_the_next_report() -> None:
    [cluster] = fleets.fleet(7, fleets.FleetShape(clusters=1, nodes=3, vms_per_node=1))
    node = cluster.objects["nodes"][0]["metadata"]["name"]
    cluster.cordon(node)
    vm = cluster.objects["virtual_machines"][0]["metadata"]
    cluster.remove("virtual_machines", vm["namespace"], vm["name"])
    report = collect(cluster.snapshot(), cluster.name, 2, NOW).report
    assert next(n for n in report.nodes if n.name == node).unschedulable
    assert f"{vm['namespace']}/{vm['name']}" not in {v.key for v in report.vms}
    assert len(report.vms) == 2


def test_results_kept_by_resource_version_give_the_same_report() -> None:
    [cluster] = fleets.fleet(9, fleets.FleetShape(clusters=1, nodes=5, vms_per_node=2))
    memo = Memo()
    first = collect(cluster.snapshot(), cluster.name, 1, NOW, memo=memo).report
    assert len(memo.pods) == len(cluster.objects["pods"])
    assert len(memo.vms) == len(cluster.objects["virtual_machines"])
    assert collect(cluster.snapshot(), cluster.name, 1, NOW, memo=memo).report == first
    pod = next(p for p in cluster.objects["pods"] if p["spec"]["containers"][0]["name"] == "app")
    pod["spec"]["containers"][0]["resources"]["requests"]["memory"] = "1Gi"
    cluster.touch(pod)
    vm = cluster.objects["virtual_machines"][0]
    vm["spec"]["template"]["spec"]["domain"]["memory"]["guest"] = "3Gi"
    cluster.touch(vm)
    kept = collect(cluster.snapshot(), cluster.name, 2, NOW, memo=memo).report
    fresh = collect(cluster.snapshot(), cluster.name, 2, NOW).report
    assert kept == fresh
    assert kept != first
    memory = kept.vms[0].template.domain.memory
    assert memory is not None
    assert memory.guest == "3Gi"
