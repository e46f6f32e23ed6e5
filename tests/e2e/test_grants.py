"""Target access end to end: the hub over real HTTP, the target agent's Granter minting
with the real KubernetesMinter against a kmock emulator of the target cluster, and the
source agent's GrantedConnector opening the sealed grant and reaching that emulator with
the minted token, through the official client. Nothing is patched."""

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import kmock
import pytest
from spoke_agent.access import source_connection
from spoke_agent.access.sealing import KeyPair
from spoke_agent.access.source_connection import Credentials
from spoke_agent.access.source_grants import Build, GrantedConnector
from spoke_agent.access.target_grants import AccessPoint, Granter
from spoke_agent.access.target_tokens import KubernetesMinter
from spoke_agent.assemble import ClusterParts, assemble
from spoke_agent.client import HubClient
from spoke_agent.drivers import ClusterDriver, simulated
from spoke_agent.drivers.kubernetes import DriverSettings, KubernetesDriver
from spoke_agent.drivers.simulated import World
from spoke_agent.executor.jobs import AccessPendingError, JobRunner, JobSettings, job_of
from spoke_agent.executor.journal import Journal
from spoke_agent.executor.model import Job, Side
from spoke_agent.settings import AccessSettings, HubConnection, SpokeSettings

from hub.models.api import Migration
from tests.api.fleet import east, west
from tests.support import grant_api
from tests.support import kubevirt_fake as fake
from tests.support.hub_env import Env
from tests.support.kubernetes import api_client

AGENT_NS = "cclm-system"


@dataclass
class Target:
    """The west cluster: its API (kmock) and its agent's Granter."""

    emulator: kmock.KubernetesEmulator
    url: str
    granter: Granter
    clock: Callable[[], datetime]
    """The API server's clock: the hub's, which the test moves."""
    minted: list[str] = field(default_factory=list)
    refusing: bool = False

    def minting(self, _request: kmock.Request) -> bool:
        return not self.refusing

    def token(self, request: kmock.Request) -> dict[str, Any]:
        self.minted.append(f"minted-{request.name}-{request.id}")
        return grant_api.answer(request, self.minted[-1], self.clock())

    def live(self, plural: str) -> list[str]:
        return sorted(
            f"{namespace}/{name}"
            for (resource, namespace, name), obj in self.emulator.objects.items()
            if resource.plural == plural and not obj.deleted
        )

    def bearers(self) -> set[str]:
        return {r.headers.get("Authorization", "") for r in self.emulator}


@dataclass
class Fleet:
    hub: Env
    home: Path
    east: HubClient
    keys: KeyPair
    target: Target


def _settings(hub: Env, home: Path, name: str, jobs: JobSettings | None = None) -> SpokeSettings:
    """An agent of the test fleet, as the spoke's composition root takes it."""
    url = str(hub.api.client.make_url("/")).rstrip("/")
    return SpokeSettings(
        name,
        HubConnection(url, home / f"{name}.token", first_delay=0.01),
        state_dir=home / name,
        access=AccessSettings(grant_poll_wait=0),
        jobs=jobs or JobSettings(),
    )


@pytest.fixture
async def fleet(hub: Env, tmp_path: Path) -> AsyncIterator[Fleet]:
    for name, built in (("east", east()), ("west", west())):
        token = await hub.register(name)
        assert (await hub.report(token, built)).status == 202
        (tmp_path / f"{name}.token").write_text(token)
    async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
        fake.declare(emulator)
        grant_api.declare(emulator)
        api_url = str(server.url).rstrip("/")
        minter = KubernetesMinter(api_client(server), AGENT_NS)
        parts = ClusterParts(_unbuilt, minter=minter, access_point=AccessPoint(api_url))
        granter = assemble(_settings(hub, tmp_path, "west"), parts, hub.clock).grants()
        target = Target(emulator, api_url, granter, hub.clock)
        emulator[kmock.subresource("token")][target.minting] << target.token
        source = assemble(_settings(hub, tmp_path, "east"), ClusterParts(_unbuilt), hub.clock)
        await source.hub.register_key("east", source.keys.public)
        yield Fleet(hub, tmp_path, source.hub, source.keys, target)


async def _migrate(hub: Env) -> dict[str, Any]:
    body = {"source_cluster": "east", "target": "west", "vms": ["shop/db", "shop/web"]}
    answer = await hub.api.call("POST", "/api/v1/migrations", hub.admin, body)
    assert answer.status == 201, answer.body
    return dict(answer.body)


def _job(migration: dict[str, Any]) -> Job:
    return job_of(Migration.model_validate(migration))


def _connector(fleet: Fleet, build: Build) -> GrantedConnector:
    return GrantedConnector("east", fleet.east, fleet.keys, build, fleet.hub.clock)


def _unbuilt(_job: Job, _credentials: Credentials) -> tuple[ClusterDriver, ClusterDriver]:
    raise AssertionError("no access was granted, so no driver is built")


async def test_the_source_reaches_the_target_with_the_token_its_agent_minted(
    fleet: Fleet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    migration = await _migrate(fleet.hub)
    job = _job(migration)
    drivers: list[KubernetesDriver] = []

    def build(job: Job, credentials: Credentials) -> tuple[ClusterDriver, ClusterDriver]:
        api = source_connection.api_client(credentials, fleet.home / "ca", job.id)
        drivers.append(KubernetesDriver(api, Side.TARGET, DriverSettings(), source=api))
        return drivers[-1], drivers[-1]

    connector = _connector(fleet, build)
    with pytest.raises(AccessPendingError, match="agent of target cluster 'west'"):
        await connector.connect(job)

    await fleet.target.granter.pass_once()
    name = f"cclm-{job.id}"
    assert fleet.target.live("serviceaccounts") == [f"{AGENT_NS}/{name}"]
    assert fleet.target.live("rolebindings") == [f"shop/{name}"]

    await connector.connect(job)
    await asyncio.to_thread(drivers[0].observe, job)
    (token,) = fleet.target.minted
    assert f"Bearer {token}" in fleet.target.bearers(), "the target saw the minted token"

    assert token not in fleet.hub.dump(), "the hub stores only the sealed box"
    assert token not in caplog.text

    cancel = f"/api/v1/migrations/{job.id}/cancel"
    assert (await fleet.hub.api.call("POST", cancel, fleet.hub.admin)).status == 200
    await connector.release(job)
    await fleet.target.granter.pass_once()
    assert fleet.target.live("serviceaccounts") == [], "deleting the account revokes its tokens"
    assert fleet.target.live("rolebindings") == []


async def test_a_job_waits_for_its_grant_then_runs_and_gives_the_access_back(
    fleet: Fleet,
) -> None:
    migration = await _migrate(fleet.hub)
    seen: list[Credentials] = []
    messages: list[str] = []

    def build(job: Job, credentials: Credentials) -> tuple[ClusterDriver, ClusterDriver]:
        seen.append(credentials)
        return simulated.pair(World(dict.fromkeys(job.vms, True)))

    async def pause(_seconds: float) -> None:
        task = await fleet.hub.api.call(
            "GET", f"/api/v1/tasks/{migration['task_id']}", fleet.hub.admin
        )
        messages.append(task.body["message"])
        await fleet.target.granter.pass_once()

    settings = JobSettings(poll_wait=0, poll_pause=0, interval=0, heartbeat=3600, access_wait=30)
    east_agent = _settings(fleet.hub, fleet.home, "east", settings)
    runner = assemble(east_agent, ClusterParts(build), fleet.hub.clock, pause).runner
    await runner.poll_once(asyncio.Event())
    await asyncio.gather(*runner.running.values())

    assert messages[0].startswith("waiting: the agent of target cluster 'west' has not")
    assert seen[0].token() == fleet.target.minted[0]
    task = await fleet.hub.api.call("GET", f"/api/v1/tasks/{migration['task_id']}", fleet.hub.admin)
    assert task.body["state"] == "finished"
    await fleet.target.granter.pass_once()
    assert fleet.target.live("serviceaccounts") == [], "released at the end, then revoked"


async def test_an_agent_cancelled_while_its_pulls_wait_leaves_nothing_running(
    fleet: Fleet,
) -> None:
    """Cancelled (a process shutting down), the job runner and the granter take their long
    polls at the hub with them: a pull left behind would retry against a hub that is gone."""
    settings = JobSettings(poll_wait=30)
    journal = Journal(fleet.home / "journal.db")
    runner = JobRunner("east", fleet.east, journal, _connector(fleet, _unbuilt), settings)
    stop = asyncio.Event()
    loops = [runner.run(stop), fleet.target.granter.run(stop)]
    running = [asyncio.create_task(loop) for loop in loops]
    await asyncio.sleep(0.3)  # both pulls are waiting at the hub
    assert sorted(_pulls()) == ["Granter.pass_once", "JobRunner.poll_once"]
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
    await asyncio.sleep(0)
    assert _pulls() == []


def _pulls() -> list[str]:
    """The agent's pulls still running (the hub's own handlers share this loop)."""
    names = [task.get_coro().__qualname__ for task in asyncio.all_tasks() if not task.done()]
    return [name for name in names if name in ("JobRunner.poll_once", "Granter.pass_once")]


async def test_a_job_whose_target_never_grants_access_fails_saying_so(fleet: Fleet) -> None:
    migration = await _migrate(fleet.hub)

    connector = _connector(fleet, _unbuilt)
    settings = JobSettings(poll_wait=0, poll_pause=0, interval=0, access_wait=0)
    runner = JobRunner("east", fleet.east, Journal(fleet.home / "journal.db"), connector, settings)
    await runner.poll_once(asyncio.Event())
    await asyncio.gather(*runner.running.values())
    task = await fleet.hub.api.call("GET", f"/api/v1/tasks/{migration['task_id']}", fleet.hub.admin)
    assert task.body["state"] == "failed"
    assert "no access to target west" in task.body["message"]
    assert "agent of target cluster 'west'" in task.body["message"]


async def test_a_target_agent_refused_by_its_api_tells_the_source_why(fleet: Fleet) -> None:
    migration = await _migrate(fleet.hub)
    refusal = {"kind": "Status", "code": 403, "message": "serviceaccounts/token is forbidden"}
    fleet.target.refusing = True
    fleet.target.emulator[kmock.subresource("token")] << 403 << refusal
    await fleet.target.granter.pass_once()

    connector = _connector(fleet, _unbuilt)
    with pytest.raises(AccessPendingError) as pending:
        await connector.connect(_job(migration))
    assert "could not grant access" in str(pending.value)
    assert "403 Forbidden: serviceaccounts/token is forbidden" in str(pending.value)


async def test_a_job_cancelled_while_it_waits_for_access_ends_with_nothing_to_undo(
    fleet: Fleet,
) -> None:
    migration = await _migrate(fleet.hub)
    cancel = f"/api/v1/migrations/{migration['id']}/cancel"

    async def cancel_once(_seconds: float) -> None:
        await fleet.hub.api.call("POST", cancel, fleet.hub.admin)

    settings = JobSettings(poll_wait=0, poll_pause=0, interval=0, access_wait=30)
    journal = Journal(fleet.home / "journal.db")
    runner = JobRunner(
        "east", fleet.east, journal, _connector(fleet, _unbuilt), settings, cancel_once
    )
    await runner.poll_once(asyncio.Event())
    await asyncio.gather(*runner.running.values())
    task = await fleet.hub.api.call("GET", f"/api/v1/tasks/{migration['task_id']}", fleet.hub.admin)
    assert task.body["state"] == "cancelled"
    assert task.body["cleanup"] == "failed: cancelled before it began; nothing to undo"
    assert task.body["cleaned_up_at"] is not None


async def test_a_long_reason_from_the_target_still_reaches_the_task(fleet: Fleet) -> None:
    migration = await _migrate(fleet.hub)
    path = f"/api/v1/clusters/west/grants/{migration['id']}/failure"
    west_token = (fleet.home / "west.token").read_text()
    reason = "x" * 2000
    told = await fleet.hub.api.call("POST", path, west_token, {"message": reason})
    assert told.status == 204
    settings = JobSettings(poll_wait=0, poll_pause=0, interval=0, access_wait=0)
    journal = Journal(fleet.home / "journal.db")
    runner = JobRunner("east", fleet.east, journal, _connector(fleet, _unbuilt), settings)
    await runner.poll_once(asyncio.Event())
    await asyncio.gather(*runner.running.values())
    task = await fleet.hub.api.call("GET", f"/api/v1/tasks/{migration['task_id']}", fleet.hub.admin)
    assert task.body["state"] == "failed", "the long message was cut, not refused"
    assert task.body["message"].startswith("failed: no access to target west")
    assert "could not grant access" in task.body["message"]
    assert len(task.body["message"]) == 2000
