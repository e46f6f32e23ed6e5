"""What a 5,000-node report costs the checks that run while it arrives.

Starts `cclm hub serve` on a fresh SQLite file with `--clusters` 100-node clusters and one
cluster of `--big-nodes` nodes, times single-VM checks over HTTP on the quiet hub, then
again while the big cluster reports every `--every` seconds, and prints both side by side
with the big reports' own latency, then one JSON line. The hub validates and indexes
reports in its intake workers (`--intake-workers`, 0 for in the hub's own process).

    python tests/bench/bench_big_report.py --clusters 200 --big-nodes 5000
"""

import argparse
import asyncio
import contextlib
import gzip
import json
import random
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))
from bench_capacity import synthetic_report
from bench_hub import checks, free_port, percentiles, register, report_bodies, start_hub, wait_ready


async def big_reports(
    session: aiohttp.ClientSession,
    url: str,
    token: str,
    data: dict[str, Any],
    every: float,
    stop: asyncio.Event,
) -> list[float]:
    """The big cluster's reports, one every `every` seconds; each one's latency."""
    spent = []
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    while not stop.is_set():
        data["sequence"] += 1
        body = gzip.compress(json.dumps(data).encode(), 1)
        started = time.perf_counter()
        path = f"{url}/api/v1/clusters/big/reports"
        async with session.post(path, data=body, headers=headers) as answer:
            assert answer.status == 202, await answer.text()
        spent.append(time.perf_counter() - started)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
    return spent


async def lag_buckets(session: aiohttp.ClientSession, url: str) -> dict[str, float]:
    """The hub's loop-lag histogram: cumulative counts by upper bound."""
    async with session.get(f"{url}/metrics") as answer:
        text = await answer.text()
    found = re.findall(
        r'^cclm_hub_event_loop_lag_seconds_bucket\{le="([^"]+)"\} (\S+)$', text, re.M
    )
    return {bound: float(count) for bound, count in found}


def lags_over(before: dict[str, float], after: dict[str, float]) -> dict[str, int]:
    """Timers run later than each bound, between two scrapes."""
    total = after["+Inf"] - before["+Inf"]
    return {
        f"over_{float(bound) * 1000:g}_ms": int(total - (after[bound] - before[bound]))
        for bound in ("0.005", "0.01", "0.025", "0.05")
    } | {"timers": int(total)}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="cclm-big-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    hub = start_hub(port, str(workdir / "hub.db"), workdir / "admin.token", args)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, url, hub)
            admin = (workdir / "admin.token").read_text().strip()
            bodies = report_bodies(args.clusters, 100, args.seed)
            big = synthetic_report(random.Random(args.seed), "big", args.big_nodes)
            data = big.model_copy(update={"generated_at": datetime.now(UTC)}).model_dump(
                mode="json"
            )
            bodies.append(("big", gzip.compress(json.dumps(data).encode(), 1), data))
            tokens = await register(session, url, admin, bodies)
            scraped = await lag_buckets(session, url)
            quiet = await checks(session, [url], admin, args.clusters, args.checks, args.seed)
            scraped, quiet_lags = await lag_buckets(session, url), scraped
            quiet_lags = lags_over(quiet_lags, scraped)
            stop = asyncio.Event()
            feeder = asyncio.create_task(
                big_reports(session, url, tokens["big"], data, args.every, stop)
            )
            try:
                loaded = await checks(
                    session, [url], admin, args.clusters, args.checks, args.seed + 1
                )
            finally:
                stop.set()
                spent = await feeder
            loaded_lags = lags_over(scraped, await lag_buckets(session, url))
    finally:
        hub.terminate()
        hub.wait(timeout=30)
    return {
        "clusters": args.clusters,
        "big_nodes": args.big_nodes,
        "intake_workers": "default" if args.intake_workers is None else args.intake_workers,
        "checks_quiet": quiet["with_target"],
        "checks_while_big_reports_arrive": loaded["with_target"],
        "loop_lag_quiet": quiet_lags,
        "loop_lag_while_big_reports_arrive": loaded_lags,
        "big_reports": len(spent),
        "big_report_latency": percentiles(spent),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=200)
    parser.add_argument("--big-nodes", type=int, default=5000)
    parser.add_argument("--every", type=float, default=0.5)
    parser.add_argument("--checks", type=int, default=400)
    parser.add_argument("--intake-workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    quiet, loaded = result["checks_quiet"], result["checks_while_big_reports_arrive"]
    print(f"{'':16}{'quiet':>12}{'big reports':>14}")
    for key in ("p50_ms", "p99_ms", "max_ms"):
        print(f"check {key:10}{quiet[key]:>12}{loaded[key]:>14}")
    for key in result["loop_lag_quiet"]:
        quiet_lag, loaded_lag = (
            result["loop_lag_quiet"][key],
            result["loop_lag_while_big_reports_arrive"][key],
        )
        print(f"loop {key:11}{quiet_lag:>12}{loaded_lag:>14}")
    print(f"{result['big_reports']} big reports, latency {result['big_report_latency']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
