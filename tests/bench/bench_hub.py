"""Hub benchmark over loopback HTTP: report ingest rate and check latency.

Starts `cclm hub serve` as a second process on a fresh SQLite file, registers the clusters,
streams gzipped 100-node reports at it for a bounded time, then times single-VM checks
through HTTP on the whole fleet, first on a quiet fleet and then while reports keep arriving
at a heartbeat's rate. Prints one JSON line. Run it directly:

    python tests/bench/bench_hub.py --clusters 1000 --nodes 100 --seconds 10
"""

import argparse
import asyncio
import contextlib
import gzip
import json
import math
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))
from bench_capacity import synthetic_report, synthetic_vm


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (the hub and its validation workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return -1.0


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[int(len(ordered) * 0.99) - 1] * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


async def wait_ready(
    session: aiohttp.ClientSession, url: str, hub: subprocess.Popen[bytes]
) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if hub.poll() is not None:
            raise SystemExit(f"the hub exited with status {hub.returncode}")
        try:
            async with session.get(f"{url}/readyz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the hub did not become ready in 60 s")


def report_bodies(clusters: int, nodes: int, seed: int) -> list[tuple[str, bytes, dict[str, Any]]]:
    """One gzipped report per cluster, plus its JSON form to bump the sequence cheaply."""
    rng = random.Random(seed)
    out = []
    for i in range(clusters):
        name = f"c{i:04d}"
        report = synthetic_report(rng, name, nodes)
        report = report.model_copy(update={"generated_at": datetime.now(UTC)})
        data = report.model_dump(mode="json")
        out.append((name, gzip.compress(json.dumps(data).encode()), data))
    return out


class Connection:
    """A bare HTTP/1.1 keep-alive connection: the load generator shares the machine with the
    hub, so it must cost as little CPU per request as possible."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> "Connection":
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def post(self, path: str, token: str, body: bytes) -> int:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Content-Type: application/json\r\nContent-Encoding: gzip\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        headers = await self.reader.readuntil(b"\r\n\r\n")
        status = int(headers[9:12])
        length = 0
        for line in headers.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await self.reader.readexactly(length)
        return status

    def close(self) -> None:
        self.writer.close()


async def ingest(
    port: int,
    tokens: dict[str, str],
    bodies: list[tuple[str, bytes, dict[str, Any]]],
    seconds: float,
    concurrency: int,
) -> dict[str, Any]:
    """Each worker sends the next cluster's report with the next sequence until time is up.
    Bodies are prepared before the clock starts, so the rate is the hub's, not the client's."""
    rounds = max(2, math.ceil(seconds * 1500 / len(bodies)))
    prepared: list[list[bytes]] = []
    for _, _, data in bodies:
        data["sequence"] = 0
        template = json.dumps(data).encode()
        prepared.append(
            [
                gzip.compress(template.replace(b'"sequence": 0', f'"sequence": {n}'.encode()), 1)
                for n in range(2, rounds + 2)
            ]
        )
    counter = {"sent": 0, "applied": 0, "errors": 0}
    position = iter(range(10**9))
    connections = [await Connection.open(port) for _ in range(concurrency)]
    stop = time.monotonic() + seconds

    async def worker(connection: Connection) -> None:
        while time.monotonic() < stop:
            n = next(position)
            cluster = n % len(bodies)
            version = (n // len(bodies)) % rounds
            name = bodies[cluster][0]
            status = await connection.post(
                f"/api/v1/clusters/{name}/reports", tokens[name], prepared[cluster][version]
            )
            counter["sent"] += 1
            if status == 202:
                counter["applied"] += 1
            elif status != 200:
                counter["errors"] += 1

    started = time.monotonic()
    await asyncio.gather(*(worker(c) for c in connections))
    elapsed = time.monotonic() - started
    for connection in connections:
        connection.close()
    return {
        "reports": counter["sent"],
        "applied": counter["applied"],
        "errors": counter["errors"],
        "seconds": round(elapsed, 2),
        "reports_per_second": round(counter["sent"] / elapsed, 1),
        "report_gzip_bytes": len(bodies[0][1]),
    }


async def checks(
    session: aiohttp.ClientSession, url: str, admin: str, clusters: int, count: int, seed: int
) -> dict[str, Any]:
    rng = random.Random(seed)
    headers = {"Authorization": f"Bearer {admin}"}
    with_target: list[float] = []
    ranked: list[float] = []
    for i in range(count + 20):
        vm = synthetic_vm(rng, i).model_dump(mode="json")
        for target, samples in ((f"c{rng.randrange(clusters):04d}", with_target), (None, ranked)):
            body: dict[str, Any] = {"vms": [vm]}
            if target:
                body["target"] = target
            started = time.perf_counter()
            async with session.post(f"{url}/api/v1/checks", json=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise SystemExit(f"check failed: {response.status} {await response.text()}")
            if i >= 20:
                samples.append(time.perf_counter() - started)
    return {"with_target": percentiles(with_target), "ranked_top5": percentiles(ranked)}


async def heartbeat(
    port: int,
    tokens: dict[str, str],
    bodies: list[tuple[str, bytes, dict[str, Any]]],
    rate: float,
    stop: asyncio.Event,
) -> int:
    """Reports at a steady rate, as a fleet of spokes on a heartbeat would send them."""
    connection = await Connection.open(port)
    sent = 0
    started = time.monotonic()
    while not stop.is_set():
        name, _, data = bodies[sent % len(bodies)]
        data["sequence"] = 10**6 + sent
        body = gzip.compress(json.dumps(data).encode(), 1)
        await connection.post(f"/api/v1/clusters/{name}/reports", tokens[name], body)
        sent += 1
        delay = started + sent / rate - time.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
    connection.close()
    return sent


async def checks_under_load(
    session: aiohttp.ClientSession,
    url: str,
    port: int,
    admin: str,
    tokens: dict[str, str],
    bodies: list[tuple[str, bytes, dict[str, Any]]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    stop = asyncio.Event()
    feeder = asyncio.create_task(heartbeat(port, tokens, bodies, args.heartbeat_rate, stop))
    try:
        timed = await checks(session, url, admin, args.clusters, args.checks, args.seed + 1)
    finally:
        stop.set()
        sent = await feeder
    return {"reports_per_second": args.heartbeat_rate, "reports_sent": sent, **timed}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="cclm-bench-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    token_file = workdir / "admin.token"
    hub = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "hub.cli",
            "hub",
            "serve",
            "--port",
            str(port),
            "--db",
            str(workdir / "hub.db"),
            "--admin-token-file",
            str(token_file),
            *(["--intake-workers", str(args.intake_workers)] if args.intake_workers else []),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONOPTIMIZE": "1"},
    )
    try:
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            await wait_ready(session, url, hub)
            admin = token_file.read_text().strip()
            headers = {"Authorization": f"Bearer {admin}"}
            bodies = report_bodies(args.clusters, args.nodes, args.seed)
            tokens = {}
            for name, body, _ in bodies:
                async with session.post(
                    f"{url}/api/v1/clusters", json={"name": name}, headers=headers
                ) as response:
                    tokens[name] = (await response.json())["token"]
                async with session.post(
                    f"{url}/api/v1/clusters/{name}/reports",
                    data=body,
                    headers={
                        "Authorization": f"Bearer {tokens[name]}",
                        "Content-Type": "application/json",
                        "Content-Encoding": "gzip",
                    },
                ) as response:
                    assert response.status == 202, await response.text()
            cpu_before = cpu_seconds(hub.pid)
            ingested = await ingest(port, tokens, bodies, args.seconds, args.concurrency)
            hub_cpu = cpu_seconds(hub.pid) - cpu_before
            ingested["hub_cpu_ms_per_report"] = round(hub_cpu * 1000 / ingested["reports"], 3)
            checked = await checks(session, url, admin, args.clusters, args.checks, args.seed)
            loaded = await checks_under_load(session, url, port, admin, tokens, bodies, args)
        return {
            "clusters": args.clusters,
            "nodes_per_cluster": args.nodes,
            "ingest": ingested,
            "checks_http": checked,
            "checks_http_while_reports_arrive": loaded,
            "hub_db_bytes": (workdir / "hub.db").stat().st_size,
            "hub_rss_mib": rss_mib(hub.pid),
        }
    finally:
        hub.terminate()
        hub.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0, help="ingest phase length")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--checks", type=int, default=300)
    parser.add_argument(
        "--heartbeat-rate",
        type=float,
        default=34.0,
        help="reports/s during the loaded check phase (1,000 clusters every 30 s: 34)",
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--intake-workers", type=int, help="passed to the hub (default: the hub's own default)"
    )
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
