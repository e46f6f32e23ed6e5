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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from aiohttp import web
from spoke_agent.access.target_grants import AccessPoint
from spoke_agent.assemble import ClusterParts
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
from hub.cli.fleet_files import example_fleet
from hub.models.api import CheckAnswer, ClusterDetail, ClusterList, Migration, Role, Task
from hub.settings import HubSettings

VM = "prod-east/shop/db-large"


def _say(title: str, text: str = "") -> None:
    print(f"\n== {title}")
    if text:
        print(text)


async def _feed(url: str, admin: Connection) -> dict[str, str]:
    """Registers and reports the example clusters; answers their spoke tokens."""
    tokens = {}
    fleet = yaml.safe_load(example_fleet().read_text())
    async with aiohttp.ClientSession() as session:
        for entry in fleet["clusters"]:
            registered = await call(
                admin,
                "POST",
                "/api/v1/clusters",
                {"name": entry["name"], "labels": entry["labels"]},
            )
            report = yaml.safe_load((example_fleet().parent / entry["report"]).read_text())
            report["generated_at"] = datetime.now(UTC).isoformat()
            headers = {
                "Authorization": f"Bearer {registered['token']}",
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
            }
            path = f"{url}/api/v1/clusters/{entry['name']}/reports"
            body = gzip.compress(json.dumps(report).encode())
            async with session.post(path, data=body, headers=headers) as response:
                receipt = await response.json()
            print(f"  {entry['name']}: registered; report #{receipt['sequence']} accepted")
            tokens[entry["name"]] = registered["token"]
    return tokens


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
    token.write_text(tokens[cluster])
    return SpokeSettings(
        cluster,
        HubConnection(url, token),
        state_dir=home / cluster,
        access=AccessSettings(grant_poll_wait=0),
        jobs=JobSettings(poll_wait=0, poll_pause=0, interval=0),
    )


async def _execute(
    url: str, admin: Connection, tokens: dict[str, str], home: Path, job: Migration
) -> None:
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
    granter = assemble_spoke(_spoke(url, home, target, tokens), granting).grants()
    await sending.hub.register_key(source, sending.keys.public)
    runner = sending.runner
    await runner.poll_once(asyncio.Event())
    await asyncio.gather(*runner.running.values())
    await granter.pass_once()
    revoked = "revoked" if job.id not in minter.accounts else "still granted"
    task = await call(admin, "GET", f"/api/v1/tasks/{job.task_id}")
    _say("The task once the agent is done", render.task(Task.model_validate(task)))
    print(f"  {source}'s agent released the access; {target}'s agent: {revoked}")


def _no_jobs(job: Job, _credentials: object) -> tuple[ClusterDriver, ClusterDriver]:
    raise RuntimeError(f"the demo's simulated clusters run no migrations ({job.id})")


async def _simulated_spokes(url: str, admin: Connection, home: Path) -> None:
    """Spoke agents on simulated clusters: the collector reads Kubernetes-shaped objects and
    the agent sends the report, exactly as in a real cluster."""
    shape = fleets.FleetShape(clusters=3, nodes=12, vms_per_node=2, pods_per_node=6)
    for cluster in fleets.fleet(seed=7, shape=shape):
        registered = await call(
            admin, "POST", "/api/v1/clusters", {"name": cluster.name, "labels": cluster.labels}
        )
        settings = _spoke(url, home, cluster.name, {cluster.name: registered["token"]})
        spoke = assemble_spoke(settings, ClusterParts(_no_jobs, source=cluster))
        receipt = await spoke.reporter().report_once()
        print(f"  {cluster.name}: agent sent report #{receipt['sequence']}")
    clusters = await call(admin, "GET", "/api/v1/clusters", params={"label": "env=sim"})
    print(render.clusters(ClusterList.model_validate(clusters).items))


async def run(home: Path) -> int:
    assembly = assemble(HubSettings(home / "hub.db"))
    hub = assembly.hub
    runner = web.AppRunner(assembly.app, **api.SERVER_OPTIONS)
    await runner.setup()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    try:
        admin = Connection(url, (await hub.mint("demo", Role.ADMIN)).token)
        print(f"cclm demo: hub on {url}, store {home / 'hub.db'}")
        _say("Spoke agents register and report")
        tokens = await _feed(url, admin)
        migration = await _walkthrough(admin)
        _say(
            f"The {migration.source_cluster} agent pulls the job, gets access to "
            f"{migration.target_cluster} from its agent and migrates the VM live (simulated "
            "clusters)"
        )
        await _execute(url, admin, tokens, home, migration)
        _say("Spoke agents on simulated clusters report the same way")
        await _simulated_spokes(url, admin, home)
    finally:
        await runner.cleanup()
    return 0


def demo(args: argparse.Namespace) -> int:
    home = args.home or Path(tempfile.mkdtemp(prefix="cclm-demo-"))
    return asyncio.run(run(home))


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
    command.set_defaults(run=demo)
