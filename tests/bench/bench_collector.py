"""Collector benchmark: a 500-node, ~10,000-pod, 3,000-VM simulated cluster to a report.

Prints one JSON line: report build time from scratch (p50 and worst of the runs, and the CPU
time, which a busy or shared machine disturbs less), the time to build the next report when
few objects changed (the agent keeps per-object results by resourceVersion), and the report
size as JSON and gzipped. Two more figures help read the others: `reference_ms`, a fixed
pure-Python workload, shows how fast this machine runs Python today (figures from different
machines or days compare by their ratio to it); `full_gc_ms` is one full pass of the cyclic
collector over the snapshot, which a build no longer triggers (it pauses that collector) but
which the agent's process still pays now and then. Run it directly:

    python tests/bench/bench_collector.py --nodes 500 --pods-per-node 15 --vms 3000
"""

import argparse
import gc
import gzip
import json
import statistics
import time
from datetime import UTC, datetime

from spoke_agent.report.collector import Memo, collect
from spoke_agent.sim import fleets


def _reference_ms() -> float:
    """Best of five runs of a fixed mix of dict, string and integer work."""
    table = {f"k{i}": i for i in range(1000)}
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        total = 0
        for i in range(200_000):
            total += table.get(f"k{i % 1500}", 0) * 3 // 2
        best = min(best, time.process_time() - started)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--nodes", type=int, default=500)
    parser.add_argument("--pods-per-node", type=int, default=15)
    parser.add_argument("--vms", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    shape = fleets.FleetShape(
        clusters=1,
        nodes=args.nodes,
        pods_per_node=args.pods_per_node,
        vms_per_node=max(args.vms // args.nodes, 0),
    )
    [cluster] = fleets.fleet(args.seed, shape)
    snapshot = cluster.snapshot()
    timings, cpu = [], []
    for run in range(args.runs + 1):
        started, started_cpu = time.perf_counter(), time.process_time()
        collected = collect(snapshot, cluster.name, run + 1, datetime.now(UTC))
        if run:
            timings.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
    memo = Memo()
    collect(snapshot, cluster.name, 1, datetime.now(UTC), memo=memo)
    pod = snapshot.pods[0]
    cluster.touch(pod)
    warm = []
    for run in range(args.runs):
        started = time.perf_counter()
        collect(snapshot, cluster.name, run + 2, datetime.now(UTC), memo=memo)
        warm.append(time.perf_counter() - started)
    body = collected.report.model_dump_json().encode()
    started = time.perf_counter()
    gc.collect()
    full_gc = time.perf_counter() - started
    print(
        json.dumps(
            {
                "nodes": len(snapshot.nodes),
                "pods": len(snapshot.pods),
                "vms": len(snapshot.virtual_machines),
                "build_p50_ms": round(statistics.median(timings) * 1000, 1),
                "build_max_ms": round(max(timings) * 1000, 1),
                "build_cpu_p50_ms": round(statistics.median(cpu) * 1000, 1),
                "rebuild_after_a_change_p50_ms": round(statistics.median(warm) * 1000, 1),
                "report_json_bytes": len(body),
                "report_gzip_bytes": len(gzip.compress(body)),
                "skipped_objects": len(collected.skipped),
                "full_gc_ms": round(full_gc * 1000, 1),
                "reference_ms": round(_reference_ms(), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
