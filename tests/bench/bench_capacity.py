"""Capacity engine benchmark: latency, index memory, and the accuracy of simpler checks.

Builds a synthetic fleet that is fragmented on purpose (lots of free capacity in total, few
nodes that can hold a large VM), then prints one JSON line. Run it directly:

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

import numpy as np

from hub.capacity import (
    check,
    constraints,
    engine,
    fit,
    fleet,
    index,
    requirements,
    suggestions,
)
from hub.models.check import CheckRequest
from hub.models.policy import Policy
from hub.models.report import CapacityReport, Node, Resources, StorageClass
from hub.models.vm import VmSpec

GIB = 2**30
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)
SHAPES = [(32_000, 128 * GIB), (64_000, 256 * GIB), (96_000, 384 * GIB)]
LABELS = {
    "kubernetes.io/arch": "amd64",
    "kubevirt.io/schedulable": "true",
    "node.kubernetes.io/instance-type": "m5",
}


def synthetic_report(rng: random.Random, name: str, nodes: int) -> CapacityReport:
    built = []
    fill = rng.uniform(0.82, 0.99)
    for n in range(nodes):
        cpu, memory = SHAPES[rng.randrange(len(SHAPES))]
        memory_used = memory * min(max(rng.gauss(fill, 0.03), 0.0), 0.999)
        cpu_used = int(cpu * min(max(rng.gauss(fill, 0.05), 0.0), 0.999))
        built.append(
            Node(
                name=f"{name}-n{n}",
                labels={**LABELS, "kubernetes.io/hostname": f"{name}-n{n}"},
                allocatable=Resources(cpu_millis=cpu, memory_bytes=memory),
                requested=Resources(cpu_millis=cpu_used, memory_bytes=int(memory_used)),
            )
        )
    storage = StorageClass(
        name="ceph",
        is_default=True,
        capacity_bytes=500 * 2**40,
        available_bytes=200 * 2**40,
        capacity_source="csi",
    )
    return CapacityReport(
        cluster=name, sequence=1, generated_at=NOW, nodes=tuple(built), storage_classes=(storage,)
    )


def synthetic_vm(rng: random.Random, i: int) -> VmSpec:
    return VmSpec(
        name=f"vm-{i}",
        namespace="bench",
        cpu={
            "sockets": rng.choice((1, 1, 2)),
            "cores": rng.choice((1, 2, 4, 8, 16)),
            "threads": rng.choice((1, 2)),
        },
        guest_memory_bytes=rng.choice((2, 4, 8, 16, 32, 48, 64)) * GIB,
        disks=({"name": "root", "size_bytes": 50 * GIB},),
    )


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p99_ms": round(
            ordered[min(len(ordered) - 1, math.ceil(len(ordered) * 0.99) - 1)] * 1000, 3
        ),
    }


def build_fleet(rng: random.Random, clusters: int, nodes: int) -> tuple[fleet.FleetIndex, float]:
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    indexes = []
    for c in range(clusters):
        region = f"region-{c % 7}"
        indexes.append(
            index.build(
                synthetic_report(rng, f"c{c:04d}", nodes),
                {"topology.kubernetes.io/region": region},
                NOW,
            )
        )
    fleet_index = fleet.build(indexes)
    del indexes
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    return fleet_index, used / (clusters * nodes)


def single_checks(fleet_index: fleet.FleetIndex, vms: list[VmSpec], policy: Policy) -> list[float]:
    samples = []
    for i, spec in enumerate(vms):
        source = fleet_index.clusters[i % len(fleet_index.clusters)].name
        request = CheckRequest(vms=(spec,), source_cluster=source, max_suggestions=5)
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


def accuracy(
    fleet_index: fleet.FleetIndex, vms: list[VmSpec], clusters: int, policy: Policy
) -> dict[str, object]:
    """Compute-fit answers of two simpler rules against the exact node-level rules."""
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
    for spec in vms:
        wanted = constraints.for_vm(spec)
        exact_fits = set()
        for cluster in sample:
            request = requirements.pod_request(spec, cluster.kubevirt)
            exact = (
                fit.place(cluster, [fit.Demand(spec, request, wanted)]).nodes[spec.key] is not None
            )
            totals = cluster.totals
            aggregate = (
                totals.cpu_free_positive >= request.cpu_millis
                and totals.memory_free_positive >= request.memory_bytes
            )
            advisor = bool(
                np.any(
                    cluster.usable
                    & (cluster.cpu_free >= spec.cpu.cores * 1000)
                    & (cluster.memory_free >= spec.memory_bytes)
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
        ranking = suggestions.rank(fleet.build(sample), [spec], ctx, {}, limit=len(sample))
        suggested = {s.cluster for s in ranking.suggestions}
        counts["ours_wrong_fits"] += len(suggested - exact_fits)
        counts["ours_hidden_fits"] += len(exact_fits - suggested)
    rates = {f"{k}_rate": round(v / pairs, 4) for k, v in counts.items()}
    return {"pairs": pairs, **counts, **rates}


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
    args = parser.parse_args()
    rng = random.Random(args.seed)
    policy = Policy()
    started = time.perf_counter()
    fleet_index, bytes_per_node = build_fleet(rng, args.clusters, args.nodes)
    build_seconds = time.perf_counter() - started
    vms = [synthetic_vm(rng, i) for i in range(args.checks)]
    single_checks(fleet_index, vms[:20], policy)
    single = percentiles(single_checks(fleet_index, vms, policy))
    batch = percentiles(batch_checks(rng, policy, args.batch_runs))
    # No suggestion may be wrong; "hidden" counts only fitting clusters a full ranking leaves out.
    acc = accuracy(fleet_index, vms[: args.accuracy_vms], args.accuracy_clusters, policy)
    print(
        json.dumps(
            {
                "clusters": args.clusters,
                "nodes_per_cluster": args.nodes,
                "index_build_s": round(build_seconds, 1),
                "index_bytes_per_node": round(bytes_per_node),
                "single_vm_top5": single,
                "batch_100_vms_on_100_nodes": batch,
                "accuracy": acc,
            }
        )
    )


if __name__ == "__main__":
    main()
