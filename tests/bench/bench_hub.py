"""Hub benchmark over loopback HTTP: report ingest rate, check latency, restart time, on
each store and number of replicas asked for, side by side.

For each setup (`sqlite:1`, `postgresql:1`, `postgresql:3`, ...) it starts `cclm hub serve`
processes on a fresh store (a SQLite file, or a new PostgreSQL database on `--postgres`),
registers the clusters, streams gzipped 100-node reports at the replicas for a bounded
time, times single-VM checks through HTTP spread over the replicas, first on a quiet fleet
and then while reports keep arriving at a heartbeat's rate, and finally times a new replica
starting on the populated store until it is ready. Prints a table, then one JSON line per
setup. Run it directly:

    python tests/bench/bench_hub.py --clusters 1000 --nodes 100 --seconds 10 \
        --setups sqlite:1,postgresql:1,postgresql:3
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
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

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
    ports: list[int],
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
    connections = [await Connection.open(ports[i % len(ports)]) for i in range(concurrency)]
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
    session: aiohttp.ClientSession,
    urls: list[str],
    admin: str,
    clusters: int,
    count: int,
    seed: int,
) -> dict[str, Any]:
    """Checks take turns over the replicas."""
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
            url = urls[i % len(urls)]
            started = time.perf_counter()
            async with session.post(f"{url}/api/v1/checks", json=body, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise SystemExit(f"check failed: {response.status} {await response.text()}")
            if i >= 20:
                samples.append(time.perf_counter() - started)
    return {"with_target": percentiles(with_target), "ranked_top5": percentiles(ranked)}


async def heartbeat(
    ports: list[int],
    tokens: dict[str, str],
    bodies: list[tuple[str, bytes, dict[str, Any]]],
    rate: float,
    stop: asyncio.Event,
) -> int:
    """Reports at a steady rate, as a fleet of spokes on a heartbeat would send them."""
    connections = [await Connection.open(port) for port in ports]
    sent = 0
    started = time.monotonic()
    while not stop.is_set():
        name, _, data = bodies[sent % len(bodies)]
        data["sequence"] = 10**6 + sent
        body = gzip.compress(json.dumps(data).encode(), 1)
        connection = connections[sent % len(connections)]
        await connection.post(f"/api/v1/clusters/{name}/reports", tokens[name], body)
        sent += 1
        delay = started + sent / rate - time.monotonic()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
    for connection in connections:
        connection.close()
    return sent


async def checks_under_load(
    session: aiohttp.ClientSession,
    urls: list[str],
    ports: list[int],
    admin: str,
    tokens: dict[str, str],
    bodies: list[tuple[str, bytes, dict[str, Any]]],
    args: argparse.Namespace,
) -> dict[str, Any]:
    stop = asyncio.Event()
    feeder = asyncio.create_task(heartbeat(ports, tokens, bodies, args.heartbeat_rate, stop))
    try:
        timed = await checks(session, urls, admin, args.clusters, args.checks, args.seed + 1)
    finally:
        stop.set()
        sent = await feeder
    return {"reports_per_second": args.heartbeat_rate, "reports_sent": sent, **timed}


def start_hub(
    port: int, database: str, token_file: Path, args: argparse.Namespace
) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "hub.cli", "hub", "serve", "--port", str(port)]
    command += ["--db", database, "--admin-token-file", str(token_file)]
    if args.intake_workers is not None:
        command += ["--intake-workers", str(args.intake_workers)]
    return subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONOPTIMIZE": "1"},
    )


@contextlib.contextmanager
def store(kind: str, workdir: Path, server: str) -> Iterator[str]:
    """A fresh store: a SQLite file, or a PostgreSQL database made for this run and dropped."""
    if kind == "sqlite":
        yield str(workdir / "hub.db")
        return
    import psycopg  # only a PostgreSQL setup needs the driver

    name = f"cclm_bench_{os.getpid()}_{random.randrange(10**6)}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(server)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def store_bytes(kind: str, database: str) -> int:
    if kind == "sqlite":
        return Path(database).stat().st_size
    import psycopg

    with psycopg.connect(database) as connection:
        row = connection.execute("SELECT pg_database_size(current_database())").fetchone()
    return int(row[0]) if row else -1


async def register(
    session: aiohttp.ClientSession, url: str, admin: str, bodies: list[Any]
) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {admin}"}
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
    return tokens


async def restart_seconds(
    session: aiohttp.ClientSession, database: str, workdir: Path, args: argparse.Namespace
) -> float:
    """A new replica on the populated store: seconds from its start until it is ready."""
    port = free_port()
    started = time.monotonic()
    hub = start_hub(port, database, workdir / "late.token", args)
    try:
        await wait_ready(session, f"http://127.0.0.1:{port}", hub)
        return round(time.monotonic() - started, 2)
    finally:
        hub.terminate()
        hub.wait(timeout=30)


async def _status(session: aiohttp.ClientSession, url: str, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    async with session.get(f"{url}/api/v1/clusters?limit=1", headers=headers) as response:
        return response.status


async def _seen(session: aiohttp.ClientSession, url: str, token: str, status: int) -> float:
    """Seconds until `url` answers `token` with `status`, asked every 2 ms."""
    started = time.monotonic()
    while await _status(session, url, token) != status:
        await asyncio.sleep(0.002)
    return time.monotonic() - started


async def propagation(
    session: aiohttp.ClientSession, urls: list[str], admin: str, samples: int
) -> dict[str, Any]:
    """How soon a second replica learns of a token minted, then revoked, on the first."""
    headers = {"Authorization": f"Bearer {admin}"}
    minted, revoked = [], []
    for i in range(samples):
        body = {"name": f"bench-{i}", "role": "viewer"}
        async with session.post(f"{urls[0]}/api/v1/tokens", json=body, headers=headers) as made:
            token = await made.json()
        minted.append(await _seen(session, urls[1], token["token"], 200))
        path = f"{urls[0]}/api/v1/tokens/{token['info']['id']}"
        async with session.delete(path, headers=headers) as gone:
            assert gone.status == 204, await gone.text()
        revoked.append(await _seen(session, urls[1], token["token"], 401))
    return {"token_minted": percentiles(minted), "token_revoked": percentiles(revoked)}


async def run(args: argparse.Namespace, kind: str, replicas: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="cclm-bench-"))
    with store(kind, workdir, args.postgres) as database:
        ports = [free_port() for _ in range(replicas)]
        urls = [f"http://127.0.0.1:{port}" for port in ports]
        token_file = workdir / "admin.token"
        hubs: list[subprocess.Popen[bytes]] = []
        try:
            connector = aiohttp.TCPConnector(limit=args.concurrency)
            async with aiohttp.ClientSession(connector=connector) as session:
                # The first replica mints the admin token; the others find it in the store.
                for port, url in zip(ports, urls, strict=True):
                    hubs.append(start_hub(port, database, token_file, args))
                    await wait_ready(session, url, hubs[-1])
                admin = token_file.read_text().strip()
                bodies = report_bodies(args.clusters, args.nodes, args.seed)
                tokens = await register(session, urls[0], admin, bodies)
                await asyncio.sleep(3 if replicas > 1 else 0)  # replicas follow every 2 s
                cpu_before = sum(cpu_seconds(hub.pid) for hub in hubs)
                ingested = await ingest(ports, tokens, bodies, args.seconds, args.concurrency)
                hub_cpu = sum(cpu_seconds(hub.pid) for hub in hubs) - cpu_before
                per_report = hub_cpu * 1000 / max(1, ingested["reports"])
                ingested["hub_cpu_ms_per_report"] = round(per_report, 3)
                await asyncio.sleep(3 if replicas > 1 else 0)
                checked = await checks(session, urls, admin, args.clusters, args.checks, args.seed)
                loaded = await checks_under_load(session, urls, ports, admin, tokens, bodies, args)
                restart = await restart_seconds(session, database, workdir, args)
                spread = await propagation(session, urls, admin, 20) if replicas > 1 else None
                rss = [rss_mib(hub.pid) for hub in hubs]
            return {
                "store": kind,
                "replicas": replicas,
                "clusters": args.clusters,
                "nodes_per_cluster": args.nodes,
                "ingest": ingested,
                "checks_http": checked,
                "checks_http_while_reports_arrive": loaded,
                "new_replica_ready_seconds": restart,
                "other_replica_learns_ms": spread,
                "store_bytes": store_bytes(kind, database),
                "hub_rss_mib": rss,
            }
        finally:
            for hub in hubs:
                hub.terminate()
                hub.wait(timeout=30)


def _loaded(result: dict[str, Any]) -> dict[str, Any]:
    return dict(result["checks_http_while_reports_arrive"])


def _learns(result: dict[str, Any], key: str) -> Any:
    spread = result["other_replica_learns_ms"]
    return "-" if spread is None else spread["token_revoked"][key]


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        ("reports/s", lambda r: r["ingest"]["reports_per_second"]),
        ("hub CPU ms/report", lambda r: r["ingest"]["hub_cpu_ms_per_report"]),
        ("check p50 ms", lambda r: r["checks_http"]["with_target"]["p50_ms"]),
        ("check p99 ms", lambda r: r["checks_http"]["with_target"]["p99_ms"]),
        ("ranked p50 ms", lambda r: r["checks_http"]["ranked_top5"]["p50_ms"]),
        ("ranked p99 ms", lambda r: r["checks_http"]["ranked_top5"]["p99_ms"]),
        (
            "loaded check p99 ms",
            lambda r: r["checks_http_while_reports_arrive"]["with_target"]["p99_ms"],
        ),
        ("new replica ready s", lambda r: r["new_replica_ready_seconds"]),
        ("revoke seen p50 ms", lambda r: _learns(r, "p50_ms")),
        ("revoke seen max ms", lambda r: _learns(r, "max_ms")),
        ("store MiB", lambda r: round(r["store_bytes"] / 2**20, 1)),
    ]
    heads = [f"{r['store']}:{r['replicas']}" for r in results]
    lines = [f"{'':22}" + "".join(f"{h:>16}" for h in heads)]
    for label, value in rows:
        lines.append(f"{label:22}" + "".join(f"{value(r)!s:>16}" for r in results))
    return "\n".join(lines)


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
    parser.add_argument(
        "--setups",
        default="sqlite:1,postgresql:1,postgresql:3",
        help="STORE:REPLICAS, comma-separated (default sqlite:1,postgresql:1,postgresql:3)",
    )
    parser.add_argument(
        "--postgres",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server where the run may create and drop a database",
    )
    args = parser.parse_args()
    results = []
    for setup in args.setups.split(","):
        kind, _, replicas = setup.partition(":")
        if kind not in ("sqlite", "postgresql") or not replicas.isdigit() or int(replicas) < 1:
            parser.error(f"--setups {setup!r}: expected sqlite:N or postgresql:N")
        results.append(asyncio.run(run(args, kind, int(replicas))))
    print(table(results))
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
