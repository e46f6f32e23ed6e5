"""One target, one batch: verdicts, findings and placements from the whole pipeline."""

from datetime import timedelta

import pytest

from hub.capacity import check, claims, index
from hub.models.check import Code, Mode, Severity, Verdict
from hub.models.policy import Policy
from hub.models.report import KubeVirtSettings, ResourceQuota
from hub.models.vm import VirtualMachine
from tests.support.builders import (
    GIB,
    MIB,
    NOW,
    NodeBuilder,
    cluster_index,
    kubevirt,
    report,
    storage_class,
    vm,
)

# Most clusters here have one node, which can never survive its own loss: leave N+1 out
# except where it is the subject.
LENIENT = Policy(survive_largest_node_loss=False)
CTX = check.Context(policy=LENIENT, now=NOW)
# A 1-vCPU VM with a 16 GiB guest on KubeVirt v1.9.0 (the builders' reports): the guest, as
# requests.memory is unset (renderresources.go WithMemoryRequests), plus the overhead
# (hypervisorbackend.go GetMemoryOverhead: no page tables without a VMI memory request, the
# fixed 25+100+25+40+30 MiB, 8 MiB for the vCPU, 8 MiB IOThread, 32 MiB video), plus the
# guest-console-log sidecar's 35M request (serialconsolelog.go).
VM16_MEMORY = 16 * GIB + (220 + 8 + 8 + 32) * MIB + 35 * 10**6
VIRTUALIZATION = {
    "devices.kubevirt.io/kvm": 1,
    "devices.kubevirt.io/tun": 1,
    "devices.kubevirt.io/vhost-net": 1,
}
"""getRequiredResources: the device-plugin devices every launcher pod asks for."""


def evaluate(rep, vms, ctx=CTX, **kw):
    return check.evaluate(cluster_index(rep, **kw), vms, ctx)


def concerns(result):
    """The findings that say something about room: the VMs here come from no cluster, so
    every check also has the INFO that their source node is unknown."""
    return [f for f in result.findings if f.severity != Severity.INFO]


def codes(result):
    return [f.code for f in concerns(result)]


def fragmented(count=4, used="52Gi"):
    return report("frag", [NodeBuilder(f"n{i}").memory("64Gi", used).build() for i in range(count)])


def test_aggregate_room_is_not_enough_when_no_single_node_holds_the_vm():
    result = evaluate(fragmented(), [vm(memory="16Gi")]).result
    assert result.verdict == Verdict.SHORT
    [finding] = [f for f in result.findings if f.code == Code.MEMORY_SHORT]
    assert finding.details == {
        "needed": VM16_MEMORY,
        "largest_free": 12 * GIB,
        "node": "n0",
        "shortfall": VM16_MEMORY - 12 * GIB,
        "free_total": 48 * GIB,
    }
    assert "needs 16.2 GiB on one node; the largest free is 12.0 GiB on n0" in finding.message
    assert result.placements[0].node is None


def test_a_vm_that_fits_gets_the_node_it_fills_best():
    rep = report(
        "c", [NodeBuilder("roomy").build(), NodeBuilder("snug").memory("64Gi", "46Gi").build()]
    )
    result = evaluate(rep, [vm(memory="16Gi")]).result
    assert result.verdict == Verdict.FITS
    assert result.placements[0].node == "snug"
    assert result.placements[0].memory_bytes == VM16_MEMORY
    assert result.placements[0].mode == Mode.LIVE


def test_the_batch_is_placed_largest_first_so_small_vms_do_not_fragment_nodes():
    nodes = [
        NodeBuilder("a").memory("64Gi", "24Gi").build(),
        NodeBuilder("b").memory("64Gi", "44Gi").build(),
    ]
    batch = [vm("small", memory="9Gi"), vm("mid", memory="18Gi"), vm("big", memory="30Gi")]
    result = evaluate(report("c", nodes), batch).result
    assert result.fits
    assert {p.vm: p.node for p in result.placements} == {
        "ns/big": "a",
        "ns/mid": "b",
        "ns/small": "a",
    }


def test_a_shortfall_caused_by_earlier_vms_of_the_batch_says_so():
    rep = report("c", [NodeBuilder("only").memory("64Gi", "30Gi").build()])
    result = evaluate(rep, [vm("first", memory="20Gi"), vm("second", memory="16Gi")]).result
    [short] = [f for f in result.findings if f.code == Code.MEMORY_SHORT]
    assert short.vm == "ns/second"
    assert "after placing 1 larger VM(s) of this batch" in short.message


def test_live_claims_are_subtracted_and_named():
    rep = report("c", [NodeBuilder("only").memory("64Gi", "40Gi").build()])
    first = evaluate(rep, [vm("a", memory="16Gi")])
    assert first.result.verdict == Verdict.FITS
    claim = claims.claim_for(first, "m-1", NOW + timedelta(minutes=10))
    assert claim.nodes["only"].memory_bytes == VM16_MEMORY
    second = evaluate(rep, [vm("b", memory="16Gi")], claims=(claim,)).result
    assert second.verdict == Verdict.SHORT
    assert "after 1 in-flight reservation(s)" in second.findings[0].message


def test_nodes_ruled_out_by_constraints_are_counted_by_reason():
    nodes = [
        NodeBuilder("t1").taint("infra").build(),
        NodeBuilder("t2").taint("infra").build(),
        NodeBuilder("down").not_ready().build(),
        NodeBuilder("off").cordoned().build(),
        NodeBuilder("nokv").unlabel("kubevirt.io/schedulable").build(),
    ]
    result = evaluate(report("c", nodes), [vm()]).result
    [finding] = concerns(result)
    assert finding.code == Code.NO_NODE_MATCHES_CONSTRAINTS
    assert finding.details["rejections"] == {
        "taint infra:NoSchedule not tolerated": 2,
        "not Ready": 1,
        "cordoned (unschedulable)": 1,
        "missing label kubevirt.io/schedulable=true": 1,
    }
    tolerant = vm(tolerations=[{"key": "infra", "operator": "Exists"}])
    assert evaluate(report("c", nodes), [tolerant]).result.verdict == Verdict.FITS


MIGRATION = "cpu-model-migration.node.kubevirt.io/"


def test_a_missing_migration_model_is_named_with_what_the_nodes_offer():
    """A host-model VM needs its source node's model on the target (migration.go
    createTargetPod); the finding says it in those terms, not as a raw label."""
    nodes = [
        NodeBuilder(f"c{i}").label(MIGRATION + "Cascadelake-Server").build() for i in range(12)
    ]
    nodes.append(NodeBuilder("old").label(MIGRATION + "Broadwell").build())
    moving = vm(host_model="Skylake-Server")
    [finding] = evaluate(report("prod-west", nodes), [moving]).result.findings
    assert finding.code == Code.NO_NODE_MATCHES_CONSTRAINTS
    assert finding.message == (
        "ns/vm: no node of prod-west offers CPU model Skylake-Server for live migration; "
        "12 nodes offer Cascadelake-Server, 1 node offers Broadwell; none of 13 nodes can run it"
    )
    assert finding.details["missing_label"] == MIGRATION + "Skylake-Server=true"


def test_a_cluster_without_node_labels_is_told_apart_from_older_cpus():
    rep = report("bare", [NodeBuilder("n1").build()])
    [finding] = evaluate(rep, [vm(host_model="Skylake-Server")]).result.findings
    assert "no node carries any such label (is KubeVirt's node labeller running there?)" in (
        finding.message
    )


def test_a_missing_machine_type_is_named():
    node = NodeBuilder("n1").unlabel("machine-type.node.kubevirt.io/q35")
    node = node.label("machine-type.node.kubevirt.io/pc-q35-rhel9.6.0")
    [finding] = concerns(evaluate(report("c", [node.build()]), [vm()]).result)
    assert finding.message.startswith(
        "ns/vm: no node of c offers machine type q35; 1 node offers pc-q35-rhel9.6.0"
    )


def test_dedicated_cpus_need_a_cpu_manager_node_and_whole_cores():
    nodes = [
        NodeBuilder("plain").build(),
        NodeBuilder("pinned").label("kubevirt.io/cpumanager").build(),
    ]
    result = evaluate(report("c", nodes), [vm(cores=4, dedicated_cpu=True)]).result
    assert result.placements[0].node == "pinned"
    # 4 whole cores (WithCPUPinning) + the console-log sidecar at its 15m limit (dedicated)
    assert result.placements[0].cpu_millis == 4000 + 15


def test_gpu_and_hugepages_go_to_the_node_that_has_them():
    nodes = [
        NodeBuilder("cpu-only").build(),
        NodeBuilder("gpu")
        .scalar("nvidia.com/A100", "2", "1")
        .scalar("hugepages-1Gi", "32Gi")
        .build(),
    ]
    gpu_vm = vm(memory="8Gi", host_devices={"nvidia.com/A100": 1}, hugepages_page_size="1Gi")
    result = evaluate(report("c", nodes), [gpu_vm]).result
    assert result.verdict == Verdict.FITS
    assert result.placements[0].node == "gpu"
    assert result.placements[0].scalar == {
        "nvidia.com/A100": 1,
        "hugepages-1Gi": 8 * GIB,
        **VIRTUALIZATION,
    }
    two = vm(host_devices={"nvidia.com/A100": 2})
    short = evaluate(report("c", nodes), [two]).result
    assert codes(short) == [Code.DEVICE_SHORT]
    assert short.findings[0].details["largest_free"] == 1


def test_storage_class_mapping_overhead_and_shortage():
    disks = [{"name": "root", "size_bytes": "100Gi", "storage_class": "fast"}]
    rep = report(
        "c", [NodeBuilder("n").build()], storage_classes=[storage_class("ceph", available="50Gi")]
    )
    result = evaluate(rep, [vm(disks=disks)]).result
    # "fast" is not on the target: the default class "ceph" takes it; CDI v1.66 (the builders')
    # asks 100 GiB x (1 + 0.055) (pkg/util/util.go GetRequiredSpace since v1.63.0).
    assert result.placements[0].volumes[0].storage_class == "ceph"
    assert result.placements[0].volumes[0].size_bytes == 113_279_762_432
    [short] = [f for f in result.findings if f.code == Code.STORAGE_SHORT]
    assert short.details["shortfall"] == 113_279_762_432 - 50 * GIB
    block = [{"name": "root", "size_bytes": "100Gi", "volume_mode": "Block"}]
    assert evaluate(rep, [vm(disks=block)]).result.placements[0].volumes[0].size_bytes == 100 * GIB


def test_a_missing_storage_class_blocks_and_lists_the_classes_to_map_to():
    disks = [{"name": "root", "size_bytes": "10Gi", "storage_class": "fast"}]
    rep = report(
        "c", [NodeBuilder("n").build()], storage_classes=[storage_class("slow", available="15Ti")]
    )
    result = evaluate(rep, [vm(disks=disks)]).result
    assert result.verdict == Verdict.BLOCKED
    assert "Map it to one of: slow" in result.findings[0].message
    mapped = check.Context(policy=LENIENT, now=NOW, storage_class_map={"fast": "slow"})
    assert evaluate(rep, [vm(disks=disks)], ctx=mapped).result.verdict == Verdict.FITS


def test_unknown_storage_capacity_is_a_warning_never_infinite_room():
    rep = report(
        "c", [NodeBuilder("n").build()], storage_classes=[storage_class("ceph", available=None)]
    )
    result = evaluate(rep, [vm(disks=[{"name": "d", "size_bytes": "1Pi"}])]).result
    assert result.verdict == Verdict.FITS_WITH_WARNINGS
    assert codes(result) == [Code.STORAGE_CAPACITY_UNKNOWN]


def test_every_quota_in_the_namespace_must_hold():
    quotas = [
        ResourceQuota(
            namespace="ns",
            name="compute",
            hard={"requests.memory": "20Gi"},
            used={"requests.memory": "8Gi"},
        ),
        ResourceQuota(namespace="ns", name="count", hard={"pods": 10}, used={"pods": 2}),
        ResourceQuota(namespace="other", name="x", hard={"pods": 0}),
    ]
    rep = report("c", [NodeBuilder("n").build()], quotas=quotas)
    result = evaluate(rep, [vm(memory="16Gi")]).result
    [finding] = concerns(result)
    assert finding.code == Code.QUOTA_EXCEEDED
    assert finding.details == {
        "namespace": "ns",
        "quota": "compute",
        "hard": 20 * GIB,
        "used": 8 * GIB,
        "adds": VM16_MEMORY,
        "shortfall": 8 * GIB + VM16_MEMORY - 20 * GIB,
    }


def test_a_storage_class_quota_counts_the_mapped_class():
    quota = ResourceQuota(
        namespace="ns", name="s", hard={"ceph.storageclass.storage.k8s.io/requests.storage": "50Gi"}
    )
    rep = report("c", [NodeBuilder("n").build()], quotas=[quota])
    result = evaluate(
        rep, [vm(disks=[{"name": "d", "size_bytes": "60Gi", "volume_mode": "Block"}])]
    ).result
    assert codes(result) == [Code.QUOTA_EXCEEDED]


@pytest.mark.parametrize(
    ("age", "verdict", "severity"),
    [
        (60, Verdict.FITS, None),
        (300, Verdict.FITS_WITH_WARNINGS, Severity.WARNING),
        (1000, Verdict.UNKNOWN, Severity.BLOCKER),
    ],
    ids=["a fresh report fits", "past the soft limit warns", "past the hard limit is unknown"],
)
def test_staleness_limits(age, verdict, severity):
    rep = report("c", [NodeBuilder("n").build()])
    result = evaluate(rep, [vm()], received_at=NOW - timedelta(seconds=age)).result
    assert result.verdict == verdict
    assert [f.severity for f in result.findings if f.code == Code.REPORT_STALE] == (
        [severity] if severity else []
    )


def test_a_cluster_without_kubevirt_is_blocked():
    rep = report("c", [NodeBuilder("n").build()], kubevirt=KubeVirtSettings(installed=False))
    result = evaluate(rep, [vm()]).result
    assert (result.verdict, codes(result)) == (Verdict.BLOCKED, [Code.KUBEVIRT_ABSENT])


@pytest.mark.parametrize(
    ("spec", "verdict", "mode", "code"),
    [
        ({"running": False}, Verdict.FITS, Mode.OFFLINE, None),
        (
            {"live_migratable": False},
            Verdict.FITS_WITH_WARNINGS,
            Mode.OFFLINE,
            Code.NOT_LIVE_MIGRATABLE,
        ),
        (
            {"running": False, "disks": [{"name": "host", "size_bytes": 1, "copyable": False}]},
            Verdict.BLOCKED,
            Mode.OFFLINE,
            Code.NO_MIGRATION_PATH,
        ),
    ],
    ids=[
        "a stopped VM is copied offline",
        "a running VM that cannot live-migrate must stop",
        "a host disk leaves no path",
    ],
)
def test_migration_paths(spec, verdict, mode, code):
    result = evaluate(report("c", [NodeBuilder("n").build()]), [vm(**spec)]).result
    assert result.verdict == verdict
    assert result.placements[0].mode == mode
    assert codes(result) == ([code] if code else [])


def test_headroom_and_node_loss_are_soft_warnings():
    nodes = [
        NodeBuilder("a").memory("64Gi", "44Gi").build(),
        NodeBuilder("b").memory("64Gi", "56Gi").build(),
    ]
    strict = check.Context(policy=Policy(), now=NOW)
    result = evaluate(report("c", nodes), [vm(memory="16Gi")], ctx=strict).result
    assert result.verdict == Verdict.FITS_WITH_WARNINGS
    assert set(codes(result)) == {Code.HEADROOM_BELOW_POLICY, Code.NODE_FAILURE_NOT_SURVIVABLE}
    relaxed = Policy.model_validate(
        {"headroom_percent": {"memory": 0}, "survive_largest_node_loss": False}
    )
    ctx = check.Context(policy=relaxed, now=NOW)
    assert evaluate(report("c", nodes), [vm(memory="16Gi")], ctx=ctx).result.verdict == Verdict.FITS


def test_the_target_settings_size_the_pod_not_the_source_ones():
    rep = report(
        "c", [NodeBuilder("n").build()], kubevirt=kubevirt(developer={"cpuAllocationRatio": 4})
    )
    # 2 vCPU / 4 = 500m (WithoutDedicatedCPU), + 5m for the console-log sidecar
    assert evaluate(rep, [vm(cores=2)]).result.placements[0].cpu_millis == 505


def test_index_keeps_hostnames_apart_so_pools_share_one_profile():
    rep = report("c", [NodeBuilder(f"n{i}").build() for i in range(50)])
    built = index.build(rep, {}, NOW)
    assert len(built.profiles) == 1
    selector = vm(node_selector={"kubernetes.io/hostname": "n7"})
    assert evaluate(rep, [selector]).result.placements[0].node == "n7"


def test_a_node_full_of_pods_takes_no_launcher():
    """noderesources fit.go: len(pods) + 1 > allocatable.pods is "Too many pods"."""
    full = NodeBuilder("full").build().model_copy(update={"pods_allocatable": 110, "pods": 110})
    result = evaluate(report("c", [full]), [vm()]).result
    [finding] = [f for f in result.findings if f.code == Code.TOO_MANY_PODS]
    assert finding.vm == "ns/vm"
    roomy = full.model_copy(update={"pods": 109})
    assert evaluate(report("c", [roomy]), [vm()]).result.verdict == Verdict.FITS


def test_an_overhead_below_what_kubevirt_measured_on_the_source_is_a_warning():
    # The 1-vCPU VM's overhead on v1.9.0 by GetMemoryOverhead: 220 fixed + 8 vCPU + 8 IOThread
    # + 32 video MiB = 268 MiB. The launcher pod measured 1 MiB more.
    computed = (220 + 8 + 8 + 32) * MIB
    source = cluster_index(report("src", [NodeBuilder("s1").build()])).target
    ctx = check.Context(policy=LENIENT, now=NOW, source=source, source_name="src")
    low = vm().model_copy(update={"measured_overhead_bytes": computed + MIB})
    [finding] = [
        f
        for f in evaluate(report("c", [NodeBuilder("n1").build()]), [low], ctx).result.findings
        if f.code == Code.OVERHEAD_BELOW_MEASURED
    ]
    assert finding.details == {"measured": computed + MIB, "computed": computed}
    assert finding.severity == Severity.WARNING
    exact = vm().model_copy(update={"measured_overhead_bytes": computed})
    result = evaluate(report("c", [NodeBuilder("n1").build()]), [exact], ctx).result
    assert Code.OVERHEAD_BELOW_MEASURED not in codes(result)


def test_a_newer_kubevirt_than_the_rules_know_is_sized_by_the_newest_and_says_so():
    rep = report("c", [NodeBuilder("n1").build()], kubevirt=kubevirt("v1.12.0"))
    result = evaluate(rep, [vm()]).result
    [finding] = [f for f in result.findings if f.code == Code.KUBEVIRT_RULES_APPROXIMATE]
    assert finding.severity == Severity.INFO
    assert finding.details == {"version": "v1.12.0", "rules": "v1.9.0"}
    assert result.placements[0].memory_bytes == VM16_MEMORY - 12 * GIB  # a 4 GiB guest


def test_a_vm_the_target_release_would_refuse_blocks_with_the_field():
    # 1.5Gi is not a whole number of 1Gi pages (vmi-create-admitter.go
    # validateHugepagesMemoryRequests, which names the request field even for the guest)
    odd = vm(memory="1536Mi", hugepages_page_size="1Gi")
    result = evaluate(report("c", [NodeBuilder("n1").build()]), [odd]).result
    [finding] = [f for f in result.findings if f.code == Code.VM_NOT_ADMITTED]
    assert finding.severity == Severity.BLOCKER
    assert finding.details["causes"][0]["field"] == (
        "spec.template.spec.domain.resources.requests.memory"
    )
    assert result.verdict == Verdict.BLOCKED


def test_dra_device_claims_are_named_as_unchecked():
    gpu = {"name": "g", "claimName": "gpu-claim", "requestName": "g"}
    template = {"domain": {"memory": {"guest": "4Gi"}, "devices": {"gpus": [gpu]}}}
    claimed = VirtualMachine.model_validate({"name": "vm", "namespace": "ns", "template": template})
    result = evaluate(report("c", [NodeBuilder("n1").build()]), [claimed]).result
    assert Code.DEVICE_CLAIMS_UNCHECKED in codes(result)


def test_vms_of_no_known_source_node_are_named_once_for_the_batch():
    node = (
        NodeBuilder("n1")
        .label("cpu-model-migration.node.kubevirt.io/Skylake-Server")
        .label("cpu-model.node.kubevirt.io/Skylake-Server")
        .build()
    )
    batch = [
        vm("a"),
        vm("b"),
        vm("known", host_model="Skylake-Server"),
        vm("stopped", running=False),
        vm("named", cpu_model="Skylake-Server"),
    ]
    result = evaluate(report("c", [node]), batch)
    [finding] = [f for f in result.result.findings if f.code == Code.SOURCE_NODE_UNKNOWN]
    assert finding.details == {"vms": ["ns/a", "ns/b"]}
    assert finding.message.startswith("ns/a, ns/b: the source node is unknown")


def test_a_target_node_named_as_the_source_node_is_not_used():
    """migration.go createDecentralizedMigrationPodAntiAffinity: the target pod avoids the
    source node's hostname, in another cluster too (nodes are often named alike)."""
    model = "cpu-model-migration.node.kubevirt.io/Skylake-Server"
    nodes = [NodeBuilder("worker-0").label(model).build()]
    moving = vm(host_model="Skylake-Server")
    moving = moving.model_copy(
        update={"source_node": moving.source_node.model_copy(update={"name": "worker-0"})}
    )
    result = evaluate(report("c", nodes), [moving]).result
    [finding] = concerns(result)
    assert finding.code == Code.NO_NODE_MATCHES_CONSTRAINTS
    assert finding.details["rejections"] == {"the migration's source node (same hostname)": 1}
    nodes.append(NodeBuilder("worker-1").label(model).build())
    assert evaluate(report("c", nodes), [moving]).result.placements[0].node == "worker-1"
