"""Capacity engine benchmark: latency, index memory, and the accuracy of simpler checks.

Builds a synthetic fleet that is fragmented on purpose (lots of free capacity in total, few
nodes that can hold a large VM), with the node labels KubeVirt's node labeller sets (CPU
models for migration, host models, vendor, machine type) and clusters on every KubeVirt
release from v1.5.0 to v1.9.0. The VMs are the mix of a current fleet: a third defined by
an instancetype (with a preference for some), most on the default host-model CPU and so
bound to the source node's model, some dedicated. `--releases all` puts every known
release in the fleet (a worst case for sizing: one render per release and setting).
Prints one JSON line. Run it directly:

    python tests/bench/bench_capacity.py --clusters 3500 --nodes 100
"""

import argparse
import json
import math
import random
import statistics
import time
import tracemalloc
from datetime import UTC, datetime
from typing import Any

import numpy as np

from hub.capacity import check, engine, fit, fleet, index, requirements, suggestions
from hub.capacity.kubevirt import release
from hub.models import kubevirt as k
from hub.models import quantity
from hub.models.check import CheckRequest
from hub.models.policy import Policy
from hub.models.report import (
    CapacityReport,
    CdiSettings,
    KubeVirtSettings,
    Node,
    Resources,
    StorageClass,
)
from hub.models.vm import InstancetypeRevision, PreferenceRevision, VirtualMachine

GIB = 2**30
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
SHAPES = [(32_000, 128 * GIB), (64_000, 256 * GIB), (96_000, 384 * GIB)]
MODELS = ("Broadwell-noTSX", "Skylake-Server", "Cascadelake-Server", "Icelake-Server")
"""CPU generations, oldest first: a node's host model, and the models it can run for a
migration (its own and the older ones)."""
LABELS = {
    "kubernetes.io/arch": "amd64",
    "kubevirt.io/schedulable": "true",
    "machine-type.node.kubevirt.io/q35": "true",
    "cpu-vendor.node.kubevirt.io/Intel": "true",
    "node.kubernetes.io/instance-type": "m5",
}
INSTANCETYPES = {
    # common-instancetypes: u1 (shared), o1 (overcommitted 50%), cx1 (dedicated, isolated)
    "u1.medium": {"cpu": {"guest": 1}, "memory": {"guest": "4Gi"}},
    "u1.xlarge": {"cpu": {"guest": 4}, "memory": {"guest": "16Gi"}},
    "u1.4xlarge": {"cpu": {"guest": 16}, "memory": {"guest": "64Gi"}},
    "o1.2xlarge": {"cpu": {"guest": 8}, "memory": {"guest": "32Gi", "overcommitPercent": 50}},
    "cx1.xlarge": {
        "cpu": {"guest": 4, "dedicatedCPUPlacement": True, "isolateEmulatorThread": True},
        "memory": {"guest": "8Gi", "hugepages": {"pageSize": "2Mi"}},
    },
}
RELEASES = ("v1.5.3", "v1.6.2", "v1.6.6", "v1.7.3", "v1.7.4", "v1.8.2", "v1.8.4", "v1.9.0")
WEIGHTS = (2, 3, 10, 10, 15, 15, 20, 25)
"""A fleet mid-upgrade: most clusters on the two newest lines, patch levels mixed."""
PREFERENCE = {"devices": {"preferredTPM": {}}, "preferSpreadSocketToCoreRatio": 2}


def _node(rng: random.Random, name: str, fill: float, generation: int) -> Node:
    cpu, memory = SHAPES[rng.randrange(len(SHAPES))]
    memory_used = memory * min(max(rng.gauss(fill, 0.03), 0.0), 0.999)
    cpu_used = int(cpu * min(max(rng.gauss(fill, 0.05), 0.0), 0.999))
    labels = {**LABELS, "kubernetes.io/hostname": name}
    labels[f"host-model-cpu.node.kubevirt.io/{MODELS[generation]}"] = "true"
    for model in MODELS[: generation + 1]:
        labels[f"cpu-model-migration.node.kubevirt.io/{model}"] = "true"
        labels[f"cpu-model.node.kubevirt.io/{model}"] = "true"
    scalar = {}
    if generation >= 2 and name.endswith(("0", "5")):
        labels["cpumanager"] = labels["kubevirt.io/cpumanager"] = "true"
        scalar["hugepages-2Mi"] = 32 * GIB
    return Node(
        name=name,
        labels=labels,
        allocatable=Resources(cpu_millis=cpu, memory_bytes=memory, scalar=scalar),
        requested=Resources(cpu_millis=cpu_used, memory_bytes=int(memory_used)),
        pods_allocatable=250,
        pods=rng.randrange(20, 240),
    )


Mix = tuple[tuple[str, ...], tuple[int, ...]]
FLEET: Mix = (RELEASES, WEIGHTS)
EVERY: Mix = (tuple(str(r) for r in release.KNOWN), (1,) * len(release.KNOWN))


def synthetic_report(
    rng: random.Random, name: str, nodes: int, releases: Mix = FLEET
) -> CapacityReport:
    fill = rng.uniform(0.82, 0.99)
    newest = rng.randrange(len(MODELS))
    built = [_node(rng, f"{name}-n{n}", fill, rng.randint(0, newest)) for n in range(nodes)]
    storage = StorageClass(
        name="ceph",
        is_default=True,
        capacity_bytes=500 * 2**40,
        available_bytes=200 * 2**40,
        capacity_source="csi",
        volume_mode="Block",
    )
    version = rng.choices(*releases)[0]
    ratio = rng.choices((10, 8, 4), (85, 10, 5))[0]
    config = k.KubeVirtConfiguration.model_validate(
        {"developerConfiguration": {"cpuAllocationRatio": ratio}}
    )
    return CapacityReport(
        cluster=name,
        sequence=1,
        generated_at=NOW,
        nodes=tuple(built),
        storage_classes=(storage,),
        kubevirt=KubeVirtSettings(version=str(version), configuration=config),
        cdi=CdiSettings(installed=True, version=rng.choice(("v1.61.2", "v1.63.1", "v1.65.0"))),
    )


def _template(rng: random.Random) -> dict[str, Any]:
    cpu = {"sockets": rng.choice((1, 1, 2)), "cores": rng.choice((1, 2, 4, 8)), "threads": 1}
    memory = {"guest": f"{rng.choice((2, 4, 8, 16, 32, 48, 64))}Gi"}
    return {"domain": {"cpu": cpu, "memory": memory}}


def synthetic_vm(rng: random.Random, i: int) -> VirtualMachine:
    """A third by instancetype; four in five host-model (the default), from a source node
    of some generation; the rest on a named model."""
    data: dict[str, Any] = {"name": f"vm-{i}", "namespace": "bench", "template": {}}
    if rng.random() < 1 / 3:
        name = rng.choice(sorted(INSTANCETYPES))
        spec = k.InstancetypeSpec.model_validate(INSTANCETYPES[name])
        kind = "VirtualMachineClusterInstancetype"
        data["instancetype"] = InstancetypeRevision(kind=kind, name=name, spec=spec)
        if rng.random() < 0.5:
            preference = k.PreferenceSpec.model_validate(PREFERENCE)
            kind = "VirtualMachineClusterPreference"
            data["preference"] = PreferenceRevision(kind=kind, name="fedora", spec=preference)
    else:
        data["template"] = _template(rng)
    model = MODELS[rng.randrange(len(MODELS))]
    if rng.random() < 0.8:
        data["source_node"] = {
            "name": f"src-{i}",
            "labels": {
                f"host-model-cpu.node.kubevirt.io/{model}": "true",
                "cpu-vendor.node.kubevirt.io/Intel": "true",
            },
        }
    else:
        domain = data["template"].setdefault("domain", {})
        domain.setdefault("cpu", {})["model"] = model
    data["disks"] = ({"name": "root", "size_bytes": 50 * GIB, "volume_mode": "Block"},)
    return VirtualMachine.model_validate(data)


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(
            ordered[min(len(ordered) - 1, math.ceil(len(ordered) * 0.99) - 1)] * 1000, 3
        ),
    }


def build_fleet(
    rng: random.Random, clusters: int, nodes: int, releases: Mix = FLEET
) -> tuple[fleet.FleetIndex, float]:
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    indexes = []
    for c in range(clusters):
        region = f"region-{c % 7}"
        indexes.append(
            index.build(
                synthetic_report(rng, f"c{c:04d}", nodes, releases),
                {"topology.kubernetes.io/region": region},
                NOW,
            )
        )
    fleet_index = fleet.build(indexes)
    del indexes
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return fleet_index, used / (clusters * nodes)


def single_checks(
    fleet_index: fleet.FleetIndex, vms: list[VirtualMachine], policy: Policy
) -> list[float]:
    samples = []
    for i, vm in enumerate(vms):
        source = fleet_index.clusters[i % len(fleet_index.clusters)].name
        request = CheckRequest(vms=(vm,), source_cluster=source, max_suggestions=5)
        start = time.perf_counter()
        engine.run(fleet_index, request, policy, NOW)
        samples.append(time.perf_counter() - start)
    return samples


def batch_checks(rng: random.Random, policy: Policy, runs: int) -> list[float]:
    target = index.build(synthetic_report(rng, "batch", 100), {}, NOW)
    ctx = check.Context(policy=policy, now=NOW)
    samples = []
    for r in range(runs):
        batch = [synthetic_vm(rng, r * 100 + i) for i in range(100)]
        start = time.perf_counter()
        check.evaluate(target, batch, ctx)
        samples.append(time.perf_counter() - start)
    return samples


def _template_only(vm: VirtualMachine) -> tuple[int, int]:
    """What a check that reads the VM's template alone counts: its vCPUs as whole cores and
    its guest memory, no instancetype, no overhead."""
    cpu = vm.template.domain.cpu
    vcpus = (cpu.sockets or 1) * (cpu.cores or 1) * (cpu.threads or 1) if cpu else 1
    memory = vm.template.domain.memory
    guest = quantity.units(str(memory.guest)) if memory and memory.guest is not None else 0
    return vcpus * 1000, guest


def accuracy(
    fleet_index: fleet.FleetIndex, vms: list[VirtualMachine], clusters: int, policy: Policy
) -> dict[str, object]:
    """Compute-fit answers of two simpler rules against the exact rules (the pod KubeVirt
    renders by the target's release, placed node by node with its node constraints):
    "aggregate" sums the cluster's free CPU and memory; "advisor" looks for one node with
    the template's vCPUs and guest memory free, as a template-only check would."""
    counts = dict.fromkeys(
        (
            "aggregate_wrong_fits",
            "aggregate_wrong_nofits",
            "advisor_wrong_fits",
            "advisor_wrong_nofits",
            "ours_wrong_fits",
            "ours_hidden_fits",
        ),
        0,
    )
    sample = fleet_index.clusters[:clusters]
    pairs = 0
    for vm in vms:
        exact_fits = set()
        naive_cpu, naive_memory = _template_only(vm)
        for cluster in sample:
            sized = requirements.size(vm, cluster.target)
            request, wanted = sized.request, sized.wanted
            exact = (
                request is not None
                and wanted is not None
                and fit.place(cluster, [fit.Demand(vm, request, wanted)]).nodes[vm.key] is not None
            )
            totals = cluster.totals
            aggregate = request is not None and (
                totals.cpu_free_positive >= request.cpu_millis
                and totals.memory_free_positive >= request.memory_bytes
            )
            advisor = bool(
                np.any(
                    cluster.usable
                    & (cluster.cpu_free >= naive_cpu)
                    & (cluster.memory_free >= naive_memory)
                )
            )
            counts["aggregate_wrong_fits"] += aggregate and not exact
            counts["aggregate_wrong_nofits"] += exact and not aggregate
            counts["advisor_wrong_fits"] += advisor and not exact
            counts["advisor_wrong_nofits"] += exact and not advisor
            pairs += 1
            if exact:
                exact_fits.add(cluster.name)
        ctx = check.Context(policy=policy, now=NOW)
        ranking = suggestions.rank(fleet.build(sample), [vm], ctx, {}, limit=len(sample))
        suggested = {s.cluster for s in ranking.suggestions}
        counts["ours_wrong_fits"] += len(suggested - exact_fits)
        counts["ours_hidden_fits"] += len(exact_fits - suggested)
    rates = {f"{k}_rate": round(v / pairs, 4) for k, v in counts.items()}
    return {"pairs": pairs, **counts, **rates}


def mix(vms: list[VirtualMachine]) -> dict[str, int]:
    return {
        "instancetype": sum(vm.instancetype is not None for vm in vms),
        "host_model": sum(vm.source_node is not None for vm in vms),
        "named_model": sum(vm.source_node is None for vm in vms),
    }


def sizing(vms: list[VirtualMachine], target: index.ClusterIndex) -> dict[str, object]:
    """How far the template-only size falls below the pod KubeVirt renders (v1.9.0)."""
    short, total = [], 0
    for vm in vms:
        sized = requirements.size(vm, target.target)
        if sized.request is None:
            continue
        total += 1
        missing = sized.request.memory_bytes - _template_only(vm)[1]
        if missing > 0:
            short.append(missing)
    return {
        "vms": total,
        "template_only_memory_below_pod": len(short),
        "median_shortfall_mib": round(statistics.median(short) / 2**20, 1) if short else 0,
        "max_shortfall_mib": round(max(short) / 2**20, 1) if short else 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clusters", type=int, default=3500)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--checks", type=int, default=300)
    parser.add_argument("--batch-runs", type=int, default=30)
    parser.add_argument("--accuracy-clusters", type=int, default=200)
    parser.add_argument("--accuracy-vms", type=int, default=100)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--releases", choices=("fleet", "all"), default="fleet")
    args = parser.parse_args()
    releases = EVERY if args.releases == "all" else FLEET
    rng = random.Random(args.seed)
    policy = Policy()
    started = time.perf_counter()
    fleet_index, bytes_per_node = build_fleet(rng, args.clusters, args.nodes, releases)
    build_seconds = time.perf_counter() - started
    vms = [synthetic_vm(rng, i) for i in range(args.checks)]
    single_checks(fleet_index, vms[:20], policy)
    single = percentiles(single_checks(fleet_index, vms, policy))
    batch = percentiles(batch_checks(rng, policy, args.batch_runs))
    # No suggestion may be wrong; "hidden" counts only fitting clusters a full ranking leaves out.
    acc = accuracy(fleet_index, vms[: args.accuracy_vms], args.accuracy_clusters, policy)
    newest = index.build(
        synthetic_report(rng, "sizing", 1).model_copy(
            update={"kubevirt": KubeVirtSettings(version=str(release.NEWEST))}
        ),
        {},
        NOW,
    )
    print(
        json.dumps(
            {
                "clusters": args.clusters,
                "releases": args.releases,
                "nodes_per_cluster": args.nodes,
                "index_build_s": round(build_seconds, 1),
                "index_bytes_per_node": round(bytes_per_node),
                "kubevirt_settings": len(fleet_index.sizings),
                "single_vm_top5": single,
                "batch_100_vms_on_100_nodes": batch,
                "vm_mix": mix(vms),
                "template_only_sizing": sizing(vms, newest),
                "accuracy": acc,
            }
        )
    )


if __name__ == "__main__":
    main()
