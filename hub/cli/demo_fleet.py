"""The demo's fleet: the four example clusters, whose reports are sent from the bundled
files the way their agents would send them, and simulated clusters whose agents read
Kubernetes-shaped objects and report them exactly as in a real cluster. Every cluster has
an agent that carries out migrations from it and grants access for migrations to it, on
simulated clusters."""

import gzip
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import yaml
from spoke_agent.access.target_grants import AccessPoint
from spoke_agent.assemble import ClusterParts, Spoke
from spoke_agent.assemble import assemble as assemble_spoke
from spoke_agent.executor.jobs import JobSettings
from spoke_agent.settings import AccessSettings, HubConnection, SpokeSettings
from spoke_agent.sim import fleets
from spoke_agent.sim.fleets import SimulatedMinter

from hub.cli import tables
from hub.cli.client import Connection, call
from hub.cli.demo_serve import write_secret
from hub.cli.demo_worlds import PASS_EVERY, Worlds
from hub.cli.fleet_files import example_fleet
from hub.models.api import ClusterList

Reporter = Callable[[], Awaitable[None]]


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


async def feed_examples(url: str, admin: Connection) -> tuple[dict[str, str], Reporter]:
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


def spoke_settings(
    url: str, home: Path, cluster: str, token: str, jobs: JobSettings, grant_wait: int
) -> SpokeSettings:
    """A demo agent's settings: its token beside the hub's database."""
    path = home / f"{cluster}.token"
    write_secret(path, token)
    return SpokeSettings(
        cluster,
        HubConnection(url, path),
        state_dir=home / cluster,
        access=AccessSettings(grant_poll_wait=grant_wait),
        jobs=jobs,
    )


@dataclass(frozen=True, slots=True)
class Agents:
    """How the demo's agents are made: on one set of simulated worlds, each minting access
    to its own cluster."""

    url: str
    home: Path
    worlds: Worlds

    def parts(self, cluster: str, source: fleets.SimulatedCluster | None = None) -> ClusterParts:
        minter = SimulatedMinter(lambda: datetime.now(UTC))
        point = AccessPoint(f"https://api.{cluster}.example:6443")
        return ClusterParts(self.worlds.build, source=source, minter=minter, access_point=point)

    def agent(
        self, cluster: str, token: str, source: fleets.SimulatedCluster | None = None
    ) -> Spoke:
        jobs = JobSettings(interval=PASS_EVERY, poll_pause=PASS_EVERY)
        settings = spoke_settings(self.url, self.home, cluster, token, jobs, grant_wait=30)
        return assemble_spoke(settings, self.parts(cluster, source), pause=self.worlds.pause)


async def simulated_agents(agents: Agents, admin: Connection, count: int, seed: int) -> list[Spoke]:
    """Agents on `count` simulated clusters made from `seed`: each sends its first report."""
    shape = fleets.FleetShape(clusters=count, nodes=12, vms_per_node=2, pods_per_node=6)
    spokes = []
    for cluster in fleets.fleet(seed=seed, shape=shape) if count else []:
        body = {"name": cluster.name, "labels": cluster.labels}
        registered = await call(admin, "POST", "/api/v1/clusters", body)
        spoke = agents.agent(cluster.name, registered["token"], source=cluster)
        receipt = await spoke.reporter().report_once()
        print(f"  {cluster.name}: agent sent report #{receipt['sequence']}")
        spokes.append(spoke)
    if spokes:
        clusters = await call(admin, "GET", "/api/v1/clusters", params={"label": "env=sim"})
        print(tables.clusters(ClusterList.model_validate(clusters).items))
    return spokes
