"""`cclm demo`: the hub on its embedded SQLite store, fed the example fleet, used over HTTP.

It starts a real hub on a loopback port, registers the four example clusters, sends their
capacity reports the way spoke agents do (gzipped, with their own tokens), then walks through
what an administrator does: look at the fleet, check a VM against a full cluster, try to
migrate it (refused until the shortfall is acknowledged), migrate it where it fits instead,
and follow the task. Last, spoke agents on three simulated clusters read their
Kubernetes-shaped objects and report them, as the agent does in a real cluster.
"""

import argparse
import asyncio
import gzip
import json
import socket
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web
from spoke_agent.access.target_grants import AccessPoint
from spoke_agent.assemble import ClusterParts, Spoke
from spoke_agent.assemble import assemble as assemble_spoke
from spoke_agent.drivers import ClusterDriver, simulated
from spoke_agent.drivers.simulated import World
from spoke_agent.executor.jobs import JobSettings
from spoke_agent.executor.model import Job
from spoke_agent.settings import AccessSettings, HubConnection, SpokeSettings
from spoke_agent.sim import fleets
from spoke_agent.sim.fleets import SimulatedMinter

from hub.api import app as api
from hub.assemble import assemble
from hub.cli import render
from hub.cli.client import ClientError, Connection, call
from hub.cli.demo_serve import stay, write_secret
from hub.cli.fleet_files import example_fleet
from hub.models.api import CheckAnswer, ClusterDetail, ClusterList, Migration, Role, Task
from hub.settings import HubSettings

VM = "prod-east/shop/db-large"
Reporter = Callable[[], Awaitable[None]]


def _say(title: str, text: str = "") -> None:
    print(f"\n== {title}")
    if text:
        print(text)


async def _post_report(
    session: aiohttp.ClientSession, url: str, name: str, token: str, report: dict[str, Any]
) -> dict[str, Any]:
    report["generated_at"] = datetime.now(UTC).isoformat()
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Content-Encoding": "gzip",
    }
    path = f"{url}/api/v1/clusters/{name}/reports"
    body = gzip.compress(json.dumps(report).encode())
    async with session.post(path, data=body, headers=headers) as response:
        receipt: dict[str, Any] = await response.json()
    return receipt


def _example_reports() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    fleet = yaml.safe_load(example_fleet().read_text())
    return [
        (entry, yaml.safe_load((example_fleet().parent / entry["report"]).read_text()))
        for entry in fleet["clusters"]
    ]


async def _feed(url: str, admin: Connection) -> tuple[dict[str, str], Reporter]:
    """Registers and reports the example clusters; answers their spoke tokens, and how to
    report them again (each time with the next sequence), as their agents would."""
    tokens = {}
    examples = _example_reports()
    async with aiohttp.ClientSession() as session:
        for entry, report in examples:
            registered = await call(
                admin,
                "POST",
                "/api/v1/clusters",
                {"name": entry["name"], "labels": entry["labels"]},
            )
            receipt = await _post_report(session, url, entry["name"], registered["token"], report)
            print(f"  {entry['name']}: registered; report #{receipt['sequence']} accepted")
            tokens[entry["name"]] = registered["token"]

    async def again() -> None:
        async with aiohttp.ClientSession() as session:
            for entry, report in examples:
                report["sequence"] = int(report.get("sequence", 1)) + 1
                await _post_report(session, url, entry["name"], tokens[entry["name"]], report)

    return tokens, again


async def _walkthrough(admin: Connection) -> Migration:
    clusters = await call(admin, "GET", "/api/v1/clusters")
    _say("The fleet", render.clusters(ClusterList.model_validate(clusters).items))
    check: dict[str, Any] = {"vms": [VM], "target": "prod-west", "list_excluded": True}
    answer = await call(admin, "POST", "/api/v1/checks", check)
    _say(f"Check {VM} -> prod-west", render.text(CheckAnswer.model_validate(answer)))
    request: dict[str, Any] = {"source_cluster": "prod-east", "target": "prod-west", "vms": [VM]}
    try:
        await call(admin, "POST", "/api/v1/migrations", request)
    except ClientError as refused:
        _say(f"Migrate to prod-west: refused ({refused.status} {refused.code})", refused.message)
    best = answer["suggestions"][0]["cluster"]
    accepted = await call(admin, "POST", "/api/v1/migrations", {**request, "target": best})
    migration = Migration.model_validate(accepted)
    _say(f"Migrate to {best}, the top suggestion: accepted", render.migration(migration))
    task = await call(admin, "GET", f"/api/v1/tasks/{migration.task_id}")
    _say("Its task, as the console polls it", render.task(Task.model_validate(task)))
    detail = ClusterDetail.model_validate(await call(admin, "GET", f"/api/v1/clusters/{best}"))
    _say(
        f"{best} now holds the reservation; every later check subtracts it",
        render.cluster(detail),
    )
    return migration


def _spoke(url: str, home: Path, cluster: str, tokens: dict[str, str]) -> SpokeSettings:
    """A demo agent's settings: its token beside the hub's database, and no waiting."""
    token = home / f"{cluster}.token"
    write_secret(token, tokens[cluster])
    return SpokeSettings(
        cluster,
        HubConnection(url, token),
        state_dir=home / cluster,
        access=AccessSettings(grant_poll_wait=0),
        jobs=JobSettings(poll_wait=0, poll_pause=0, interval=0),
    )


async def _execute(
    url: str, admin: Connection, tokens: dict[str, str], home: Path, job: Migration
) -> list[Spoke]:
    """The source cluster's agent pulls the job and waits for access to the target, which
    the target's agent grants (a token minted for this migration, sealed to the source
    agent's key), then carries it out, here against simulated clusters whose clock moves
    one tick per pass; the console's view of the task follows."""
    source, target = job.source_cluster, job.target_cluster
    minter = SimulatedMinter(lambda: datetime.now(UTC))
    point = AccessPoint(f"https://api.{target}.example:6443")
    shown: list[str] = []

    async def follow(_seconds: float) -> None:
        task = Task.model_validate(await call(admin, "GET", f"/api/v1/tasks/{job.task_id}"))
        line = render.task(task).splitlines()[1]
        if task.message.startswith("waiting"):
            line = f"  {task.message}"
        if not shown or shown[-1] != line:
            shown.append(line)
            print(line)
        if job.id not in minter.accounts:
            await granter.pass_once()
            print(
                f"  {target}'s agent granted access: service account cclm-{job.id} bound in "
                f"{', '.join(minter.accounts[job.id])}, a 1 h token sealed to {source}'s key "
                "(the hub relays only ciphertext)"
            )

    def build(job: Job, _credentials: object) -> tuple[ClusterDriver, ClusterDriver]:
        return simulated.pair(World(dict.fromkeys(job.vms, True)))

    sending = assemble_spoke(_spoke(url, home, source, tokens), ClusterParts(build), pause=follow)
    granting = ClusterParts(build, minter=minter, access_point=point)
    granting_spoke = assemble_spoke(_spoke(url, home, target, tokens), granting)
    granter = granting_spoke.grants()
    await sending.hub.register_key(source, sending.keys.public)
    runner = sending.runner
    await runner.poll_once(asyncio.Event())
    await asyncio.gather(*runner.running.values())
    await granter.pass_once()
    revoked = "revoked" if job.id not in minter.accounts else "still granted"
    task = await call(admin, "GET", f"/api/v1/tasks/{job.task_id}")
    _say("The task once the agent is done", render.task(Task.model_validate(task)))
    print(f"  {source}'s agent released the access; {target}'s agent: {revoked}")
    return [sending, granting_spoke]


def _no_jobs(job: Job, _credentials: object) -> tuple[ClusterDriver, ClusterDriver]:
    raise RuntimeError(f"the demo's simulated clusters run no migrations ({job.id})")


async def _simulated_spokes(url: str, admin: Connection, home: Path) -> list[Spoke]:
    """Spoke agents on simulated clusters: the collector reads Kubernetes-shaped objects and
    the agent sends the report, exactly as in a real cluster."""
    shape = fleets.FleetShape(clusters=3, nodes=12, vms_per_node=2, pods_per_node=6)
    spokes = []
    for cluster in fleets.fleet(seed=7, shape=shape):
        registered = await call(
            admin, "POST", "/api/v1/clusters", {"name": cluster.name, "labels": cluster.labels}
        )
        settings = _spoke(url, home, cluster.name, {cluster.name: registered["token"]})
        spoke = assemble_spoke(settings, ClusterParts(_no_jobs, source=cluster))
        receipt = await spoke.reporter().report_once()
        print(f"  {cluster.name}: agent sent report #{receipt['sequence']}")
        spokes.append(spoke)
    clusters = await call(admin, "GET", "/api/v1/clusters", params={"label": "env=sim"})
    print(render.clusters(ClusterList.model_validate(clusters).items))
    return spokes


async def run(home: Path, serve: bool = False, port: int = 0) -> int:
    assembly = assemble(HubSettings(home / "hub.db"))
    hub = assembly.hub
    runner = web.AppRunner(assembly.app, **api.SERVER_OPTIONS)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", port))
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    url = f"http://127.0.0.1:{port}"
    try:
        token = (await hub.mint("demo", Role.ADMIN)).token
        admin = Connection(url, token)
        print(f"cclm demo: hub on {url}, store {home / 'hub.db'}")
        _say("Spoke agents register and report")
        tokens, report_again = await _feed(url, admin)
        migration = await _walkthrough(admin)
        _say(
            f"The {migration.source_cluster} agent pulls the job, gets access to "
            f"{migration.target_cluster} from its agent and migrates the VM live (simulated "
            "clusters)"
        )
        spokes = await _execute(url, admin, tokens, home, migration)
        _say("Spoke agents on simulated clusters report the same way")
        spokes += await _simulated_spokes(url, admin, home)
        if serve:
            await stay(url, home, token, spokes, report_again)
    finally:
        await runner.cleanup()
    return 0


def demo(args: argparse.Namespace) -> int:
    home = args.home or Path(tempfile.mkdtemp(prefix="cclm-demo-"))
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    return asyncio.run(run(home, args.serve, args.port))


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    command = commands.add_parser(
        "demo",
        help="run a hub on SQLite with the example fleet and walk through check and migrate",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument(
        "--home", type=Path, help="directory for the demo's database (default: a new temp dir)"
    )
    command.add_argument(
        "--serve",
        action="store_true",
        help="stay up after the walk-through: the hub, the agents' /metrics, reports on a "
        "loop, an admin token and a Prometheus configuration in --home (Ctrl-C ends it)",
    )
    command.add_argument(
        "--port", type=int, default=0, help="the hub's port on 127.0.0.1 (default: any free one)"
    )
    command.set_defaults(run=demo)
