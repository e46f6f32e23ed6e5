"""What the operations features cost on a big fleet: one evaluation of the feeds (alerts and
recommendations) and one `/metrics` scrape, by the replica doing them.

Fills a fresh store with `--clusters` clusters of `--nodes` nodes (as bench_restart does),
then times `--runs` feed evaluations and scrapes: first under the default policy, then a
policy whose headroom every cluster misses (an alert per cluster and resource, and the
checks behind `restore-headroom` recommendations, capped per pass). Prints each, then one
JSON line.

    python tests/bench/bench_feeds.py --clusters 1000 --nodes 100
"""

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from prometheus_client import generate_latest

sys.path.insert(0, str(Path(__file__).parent))
from bench_hub import store
from bench_restart import populate

from hub.api.fleet_metrics import Scraped
from hub.api.metrics import Metrics
from hub.assemble import assemble
from hub.feeds.evaluate import evaluate
from hub.models.policy import Headroom, Policy
from hub.service import Hub
from hub.settings import HubSettings


async def _timed(runs: int, hub: Hub) -> dict[str, float]:
    passes, scrapes, events = [], [], 0
    metrics = Metrics()
    for _ in range(runs):
        began = time.perf_counter()
        events += await evaluate(hub)
        passes.append(time.perf_counter() - began)
        began = time.perf_counter()
        tallies = await hub.store.tallies()
        metrics.fleet.scraped = Scraped(hub.inventory, hub.policy, tallies, hub.clock())
        size = len(generate_latest(metrics.registry))
        scrapes.append(time.perf_counter() - began)
    return {
        "evaluate_first_seconds": round(passes[0], 3),
        "evaluate_median_seconds": round(statistics.median(passes[1:] or passes), 3),
        "scrape_median_seconds": round(statistics.median(scrapes), 3),
        "scrape_bytes": size,
        "events_written": events,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="cclm-feeds-"))
    with store(args.store, workdir, args.postgres) as database:
        await populate(database, args.clusters, args.nodes, args.seed)
        hub = assemble(HubSettings(database, maintain_every=None)).hub
        await hub.start()
        try:
            quiet = await _timed(args.runs, hub)
            print("default policy:", quiet, flush=True)
            crowded = Policy(headroom_percent=Headroom(cpu=99, memory=99, storage=0))
            await hub.set_policy(crowded.model_dump_json())
            short = await _timed(args.runs, hub)
            print("every cluster below headroom:", short, flush=True)
        finally:
            await hub.stop()
    summary = {
        "store": args.store,
        "clusters": args.clusters,
        "nodes_per_cluster": args.nodes,
        "default_policy": quiet,
        "below_headroom": short,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    asyncio.run(main())
