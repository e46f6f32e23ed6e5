"""How long a hub replica takes to be ready on a populated store, and where the time goes.

Fills a fresh store (a SQLite file, or a new PostgreSQL database with `--postgres`) with
`--clusters` registered clusters, each with a `--nodes`-node report, through the hub's own
intake; then starts a new hub on it `--runs` times and prints, per run, the seconds until
ready and the split between reading the store and building the fit index, then one JSON
line. `--profile` prints the functions that cost the most in one start.

    python tests/bench/bench_restart.py --clusters 3500 --nodes 100
"""

import argparse
import asyncio
import cProfile
import gzip
import json
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from bench_capacity import synthetic_report
from bench_hub import store

from hub.assemble import assemble
from hub.models.api import ClusterRegistration
from hub.service import Hub
from hub.settings import HubSettings

TEMPLATES = 40
"""Distinct synthetic reports, renamed for each cluster: building 3,500 takes minutes."""


async def populate(database: str, clusters: int, nodes: int, seed: int) -> None:
    rng = random.Random(seed)
    templates = [synthetic_report(rng, "template", nodes) for _ in range(TEMPLATES)]
    hub = assemble(HubSettings(database, maintain_every=None)).hub
    await hub.start()
    try:
        for i in range(clusters):
            name = f"c-{i:05d}"
            registered = await hub.register(ClusterRegistration(name=name, labels={"i": str(i)}))
            principal = hub.authenticate(registered.token)
            assert principal is not None
            report = templates[i % TEMPLATES].model_copy(update={"cluster": name})
            body = gzip.compress(report.model_dump_json().encode(), 1)
            await hub.ingest(name, body, "gzip", principal)
    finally:
        await hub.stop()


async def one_start(database: str, profile: bool) -> dict[str, float]:
    hub = assemble(HubSettings(database, maintain_every=None)).hub
    profiler = cProfile.Profile() if profile else None
    started = time.perf_counter()
    if profiler:
        profiler.enable()
    phases = await _timed_start(hub)
    if profiler:
        profiler.disable()
    phases["ready_seconds"] = time.perf_counter() - started
    await hub.stop()
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return {k: round(v, 3) for k, v in phases.items()}


async def _timed_start(hub: Hub) -> dict[str, float]:
    """`Hub.start`, with the time of its two big steps taken from around them."""
    reload, fleet = hub.reload, hub.inventory.__class__.fleet
    spent: dict[str, float] = {}

    async def timed_reload() -> None:
        began = time.perf_counter()
        await reload()
        spent["read_store_seconds"] = time.perf_counter() - began

    def timed_fleet(inventory: Any) -> Any:
        began = time.perf_counter()
        built = fleet(inventory)
        spent["build_index_seconds"] = time.perf_counter() - began
        return built

    hub.reload = timed_reload  # type: ignore[method-assign]
    hub.inventory.__class__.fleet = timed_fleet  # type: ignore[method-assign]
    try:
        await hub.start()
    finally:
        hub.inventory.__class__.fleet = fleet  # type: ignore[method-assign]
    return spent


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=3500)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cclm-restart-"))
    with store(args.store, workdir, args.postgres) as database:
        began = time.perf_counter()
        await populate(database, args.clusters, args.nodes, args.seed)
        filled = round(time.perf_counter() - began, 1)
        print(f"filled {args.clusters} clusters x {args.nodes} nodes in {filled} s", flush=True)
        runs = [await one_start(database, args.profile and i == 0) for i in range(args.runs)]
    for run in runs:
        print(run)
    ready = [r["ready_seconds"] for r in runs]
    summary = {
        "store": args.store,
        "clusters": args.clusters,
        "nodes_per_cluster": args.nodes,
        "ready_seconds_median": round(statistics.median(ready), 2),
        "runs": runs,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
