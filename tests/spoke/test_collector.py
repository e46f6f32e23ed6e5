"""The collector over Kubernetes-shaped objects, checked field by field with hand figures."""

import gc
from decimal import Decimal

from spoke_agent.report.collector import Config, collect
from spoke_agent.report.snapshot import Snapshot
from spoke_agent.sim import objects as m

from hub.models import kubevirt as k
from hub.models.report import CapacitySource
from hub.models.vm import SourceNode
from tests.support.builders import GIB, MIB, NOW


def _snapshot(**changes: object) -> Snapshot:
    nodes = [
        m.node("w1", "16", "64Gi", extra={"hugepages-1Gi": "8Gi", "nvidia.com/A100": "2"}),
        m.node("w2", "32", "128Gi", unschedulable=True),
        m.node("w3", "8", "32Gi", ready=False, taints=[{"key": "gpu", "effect": "NoSchedule"}]),
    ]
    pods = [
        m.pod(
            "shop",
            "web-1",
            "w1",
            [m.container("app", "500m", "1Gi"), m.container("proxy", "100m", "128Mi")],
            init_containers=[m.container("migrate", "2", "4Gi")],
            overhead={"cpu": "10m", "memory": "20Mi"},
        ),
        m.pod("shop", "job-1", "w1", [m.container("run", "4", "8Gi")], phase="Succeeded"),
        m.pod("shop", "db-0", "w2", [m.container("db", "2", "8Gi")]),
        m.launcher("shop", "db", "w1", "1", "2Gi"),
        m.launcher(
            "shop",
            "cache",
            None,
            "1",
            "16Gi",
            phase="Pending",
            conditions=[
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "message": "0/3 nodes are available: 3 Insufficient memory.",
                    "lastTransitionTime": "2026-11-23T11:58:00Z",
                }
            ],
        ),
    ]
    base = {
        "nodes": nodes,
        "pods": pods,
        "storage_classes": [
            m.storage_class("ceph-rbd", "rbd.csi.ceph.com", default=True),
            m.storage_class("nfs", "nfs.csi.k8s.io"),
            m.storage_class(
                "local", "kubernetes.io/no-provisioner", binding="WaitForFirstConsumer"
            ),
        ],
        "csi_storage_capacities": [
            m.csi_capacity("cap-a", "ceph-rbd", "2Ti"),
            m.csi_capacity("cap-b", "ceph-rbd", "1Ti"),
        ],
        "persistent_volume_claims": [m.pvc("shop", "db-root", "50Gi", "ceph-rbd")],
        "resource_quotas": [
            m.quota(
                "shop",
                "compute",
                {"requests.cpu": "20", "requests.memory": "64Gi"},
                {"requests.cpu": "3500m", "requests.memory": "12Gi"},
            ),
        ],
        "kubevirts": [m.kubevirt(cpu_ratio=4, overcommit=150)],
        "virtual_machines": [
            m.virtual_machine(
                "shop",
                "db",
                cores=4,
                memory="16Gi",
                volumes=[
                    {"name": "root", "persistentVolumeClaim": {"claimName": "db-root"}},
                    {"name": "data", "dataVolume": {"name": "db-data"}},
                    {"name": "cloudinit", "cloudInitNoCloud": {"userData": "#cloud-config"}},
                ],
                data_volume_templates=[
                    {
                        "metadata": {"name": "db-data"},
                        "spec": {
                            "storage": {
                                "storageClassName": "nfs",
                                "resources": {"requests": {"storage": "200Gi"}},
                            }
                        },
                    }
                ],
            ),
            m.virtual_machine(
                "shop",
                "cache",
                cores=2,
                memory="16Gi",
                domain={
                    "cpu": {"cores": 2, "dedicatedCpuPlacement": True},
                    "memory": {"guest": "16Gi", "hugepages": {"pageSize": "1Gi"}},
                    "devices": {
                        "gpus": [{"name": "g", "deviceName": "nvidia.com/A100"}],
                        "autoattachGraphicsDevice": False,
                        "interfaces": [{"name": "default", "binding": {"name": "passt"}}],
                    },
                },
                template={
                    "nodeSelector": {"zone": "a"},
                    "tolerations": [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
                },
            ),
            m.virtual_machine("lab", "idle", run_strategy="Halted"),
        ],
        "virtual_machine_instances": [m.instance("shop", "db", "w1", migratable=False)],
    }
    base.update(changes)
    return Snapshot(**base)  # type: ignore[arg-type]


def test_nodes_and_scheduler_accounting_of_pod_requests() -> None:
    report = collect(_snapshot(), "east", 7, NOW).report
    assert (report.cluster, report.sequence, report.generated_at) == ("east", 7, NOW)
    w1, w2, w3 = report.nodes
    assert (w1.allocatable.cpu_millis, w1.allocatable.memory_bytes) == (16_000, 64 * GIB)
    assert w1.allocatable.scalar == {"hugepages-1Gi": 8 * GIB, "nvidia.com/A100": 2}
    # web-1: max(init 2000m/4Gi, app 600m/1.125Gi) + overhead; the launcher: 1000m/2Gi;
    # the finished job does not count.
    assert w1.requested.cpu_millis == 2000 + 10 + 1000
    assert w1.requested.memory_bytes == 4 * GIB + 20 * MIB + 2 * GIB
    assert w2.unschedulable
    assert w2.requested.cpu_millis == 2000
    assert not w3.ready
    assert w3.taints[0].key == "gpu"


def test_sidecar_init_containers_count_alongside_the_app() -> None:
    sidecar = {**m.container("mesh", "250m", "256Mi"), "restartPolicy": "Always"}
    pod = m.pod(
        "a",
        "p",
        "w1",
        [m.container("app", "1", "1Gi")],
        init_containers=[sidecar, m.container("setup", "1", "512Mi")],
    )
    report = collect(_snapshot(pods=[pod]), "east", 1, NOW).report
    assert report.nodes[0].requested.cpu_millis == 1250
    assert report.nodes[0].requested.memory_bytes == GIB + 256 * MIB


def test_storage_classes_say_where_their_figures_come_from() -> None:
    config = Config(
        storage_pools={"nfs": (10 * 2**40, 4 * 2**40)}, filesystem_overhead={"nfs": Decimal("0.1")}
    )
    classes = {
        c.name: c for c in collect(_snapshot(), "east", 1, NOW, config).report.storage_classes
    }
    assert classes["ceph-rbd"].capacity_source == CapacitySource.CSI
    assert classes["ceph-rbd"].available_bytes == 3 * 2**40
    assert classes["ceph-rbd"].is_default
    assert classes["nfs"].capacity_source == CapacitySource.CONFIGURED
    assert classes["nfs"].filesystem_overhead == Decimal("0.1")
    assert classes["local"].capacity_source == CapacitySource.UNKNOWN
    assert classes["local"].available_bytes is None
    assert classes["local"].volume_binding_mode == "WaitForFirstConsumer"


def test_the_newest_of_several_default_classes_wins() -> None:
    old = m.storage_class("old", "x", default=True)
    old["metadata"]["creationTimestamp"] = "2024-01-01T00:00:00Z"
    new = m.storage_class("new", "x", default=True)
    new["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    classes = collect(_snapshot(storage_classes=[old, new]), "east", 1, NOW).report.storage_classes
    assert [(c.name, c.is_default) for c in classes] == [("old", False), ("new", True)]


def test_quotas_kubevirt_and_pending_launchers() -> None:
    report = collect(_snapshot(), "east", 1, NOW).report
    [quota] = report.quotas
    assert quota.hard == {"requests.cpu": 20_000, "requests.memory": 64 * GIB}
    assert quota.used == {"requests.cpu": 3500, "requests.memory": 12 * GIB}
    developer = report.kubevirt.configuration.developer_configuration
    assert (developer.cpu_allocation_ratio, developer.memory_overcommit) == (4, 150)
    assert report.kubevirt.version == "v1.6.0"
    assert "DecentralizedLiveMigration" in developer.feature_gates
    [pending] = report.pending_launchers
    assert (pending.vm, pending.message) == (
        "cache",
        "0/3 nodes are available: 3 Insufficient memory.",
    )
    assert not collect(_snapshot(kubevirts=[]), "east", 1, NOW).report.kubevirt.installed


def test_vms_keep_their_template_in_kubevirts_terms() -> None:
    vms = {v.key: v for v in collect(_snapshot(), "east", 1, NOW).report.vms}
    db = vms["shop/db"]
    cpu = db.template.domain.cpu
    assert (db.running, db.live_migratable, cpu and cpu.cores, db.template.domain.memory) == (
        True,
        False,
        4,
        k.Memory(guest="16Gi"),
    )
    assert [(d.name, d.size_bytes, d.storage_class) for d in db.disks] == [
        ("root", 50 * GIB, "ceph-rbd"),
        ("data", 200 * GIB, "nfs"),
    ]
    assert db.source_node is not None
    assert db.source_node.name == "w1"
    cache = vms["shop/cache"]
    assert cache.running, "its virt-launcher pod exists, though Pending"
    domain = cache.template.domain
    assert domain.cpu is not None
    assert domain.cpu.dedicated_cpu_placement
    assert domain.memory == k.Memory(guest="16Gi", hugepages=k.Hugepages(page_size="1Gi"))
    assert [g.device_name for g in domain.devices.gpus] == ["nvidia.com/A100"]
    assert domain.devices.interfaces[0].binding == k.InterfaceBinding(name="passt")
    assert domain.devices.autoattach_graphics_device is False
    assert cache.template.node_selector == {"zone": "a"}
    assert cache.template.tolerations[0].key == "gpu"
    assert not vms["lab/idle"].running


def test_malformed_objects_are_skipped_and_named() -> None:
    broken_node = {"metadata": {"name": "bad"}, "status": {}}
    odd_pod = m.pod("a", "odd", "w1", [m.container("c", "lots")])
    lost_disk = m.virtual_machine(
        "a", "lost", volumes=[{"name": "x", "persistentVolumeClaim": {"claimName": "nowhere"}}]
    )
    snapshot = _snapshot(
        nodes=[*_snapshot().nodes, broken_node],
        pods=[*_snapshot().pods, odd_pod],
        virtual_machines=[*_snapshot().virtual_machines, lost_disk],
    )
    collected = collect(snapshot, "east", 1, NOW)
    assert [n.name for n in collected.report.nodes] == ["w1", "w2", "w3"]
    assert "a/lost" not in {v.key for v in collected.report.vms}
    assert len(collected.skipped) == 3
    assert any("Node bad" in s for s in collected.skipped)
    assert any("pod a/odd" in s and "lots" in s for s in collected.skipped)
    assert any("VirtualMachine a/lost" in s and "nowhere" in s for s in collected.skipped)


def test_a_running_vm_carries_its_nodes_cpu_labels_for_a_migration() -> None:
    """What a decentralized migration sends the target in sourceState.nodeSelectors: the
    node's host model, the features it requires and its vendor (migration.go
    getNodeSelectorsFromNodeName), and nothing else of the node."""
    labels = {
        "host-model-cpu.node.kubevirt.io/Skylake": "true",
        "host-model-required-features.node.kubevirt.io/invtsc": "true",
        "cpu-vendor.node.kubevirt.io/Intel": "true",
        "cpu-model.node.kubevirt.io/Haswell": "true",
    }
    nodes = [m.node("w1", "16", "64Gi", labels=labels)]
    vm = m.virtual_machine("a", "v")
    instance = m.instance("a", "v", "w1")
    report = collect(
        _snapshot(nodes=nodes, virtual_machines=[vm], virtual_machine_instances=[instance]),
        "e",
        1,
        NOW,
    ).report
    [found] = report.vms
    assert found.source_node == SourceNode(
        name="w1", labels={key: value for key, value in labels.items() if "cpu-model." not in key}
    )
    stopped = collect(_snapshot(nodes=nodes, virtual_machines=[vm]), "e", 1, NOW).report
    assert stopped.vms[0].source_node is None


def test_every_sizing_field_of_the_template_is_read() -> None:
    vm = m.virtual_machine(
        "a",
        "full",
        domain={
            "cpu": {"cores": 2, "isolateEmulatorThread": True},
            "memory": {},
            "resources": {
                "requests": {"cpu": "1500m", "memory": "3Gi"},
                "limits": {"cpu": "2", "memory": "4Gi"},
                "overcommitGuestOverhead": True,
            },
            "devices": {"tpm": {}, "hostDevices": [{"name": "h", "deviceName": "intel.com/qat"}]},
            "launchSecurity": {"sev": {}},
        },
        template={
            "architecture": "arm64",
            "affinity": {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {"matchExpressions": [{"key": "rack", "operator": "Exists"}]}
                        ]
                    }
                }
            },
        },
        volumes=[
            {"name": "root", "dataVolume": {"name": "full-root"}},
            {"name": "scratch", "hostDisk": {"capacity": "1Gi", "path": "/x"}},
        ],
        data_volume_templates=[
            {
                "metadata": {"name": "full-root"},
                "spec": {"storage": {"resources": {"requests": {"storage": "30Gi"}}}},
            }
        ],
    )
    [spec] = collect(_snapshot(virtual_machines=[vm]), "east", 1, NOW).report.vms
    domain = spec.template.domain
    assert domain.resources == k.ResourceRequirements(
        requests={"cpu": "1500m", "memory": "3Gi"},
        limits={"cpu": "2", "memory": "4Gi"},
        overcommit_guest_overhead=True,
    )
    assert domain.memory == k.Memory()
    assert domain.cpu is not None
    assert (domain.cpu.isolate_emulator_thread, domain.cpu.dedicated_cpu_placement) == (True, False)
    assert domain.devices.tpm == k.TPM()
    assert domain.launch_security == k.LaunchSecurity(sev=k.SEV())
    assert [d.device_name for d in domain.devices.host_devices] == ["intel.com/qat"]
    assert spec.template.architecture == "arm64"
    affinity = spec.template.affinity
    assert affinity is not None
    assert affinity.node_affinity is not None
    required = affinity.node_affinity.required_during_scheduling_ignored_during_execution
    assert required is not None
    assert required.node_selector_terms[0].match_expressions[0].key == "rack"
    assert [(d.name, d.size_bytes, d.storage_class, d.copyable) for d in spec.disks] == [
        ("root", 30 * GIB, None, True),
        ("scratch", GIB, None, False),
    ]
    assert not spec.running, "no VMI and no launcher pod"


def test_a_build_leaves_the_cyclic_collector_as_it_found_it() -> None:
    assert gc.isenabled()
    collect(_snapshot(), "east", 1, NOW)
    assert gc.isenabled()
    gc.disable()
    try:
        collect(_snapshot(), "east", 1, NOW)
        assert not gc.isenabled()
    finally:
        gc.enable()
