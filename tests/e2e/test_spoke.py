"""`cclm spoke run` as a process: reads an emulated cluster (kmock) through the official
client, reports to the hub, reports again when a watch sees a change, serves /healthz and
/metrics, and stops cleanly."""

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import kmock
import yaml
from spoke_agent.access.sealing import KeyPair
from spoke_agent.access.source_connection import TargetAccess
from spoke_agent.sim import objects as m

from tests.api.fleet import east, west
from tests.support import grant_api, ports
from tests.support.hub_env import Env


async def _line(stream: asyncio.StreamReader, wanted: str) -> str:
    while True:
        line = (await stream.readline()).decode()
        if not line:
            raise AssertionError(f"the agent stopped before logging {wanted!r}")
        if wanted in line:
            return line


def _kubeconfig(home: Path, server: str) -> Path:
    path = home / "kubeconfig"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "k", "cluster": {"server": server}}],
                "users": [{"name": "u", "user": {"token": "kube-token"}}],
                "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
                "current-context": "c",
            }
        )
    )
    return path


async def _agent(
    hub: Env, home: Path, server: str, cluster: str, health: int, *options: str
) -> asyncio.subprocess.Process:
    """`cclm spoke run` for `cluster` against the emulator at `server`, with the token in
    `home/token`; its log on stderr. The agent runs on the real clock, which numbers its
    reports, so the hub's clock is set to it."""
    hub.clock.now = datetime.now(UTC)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.cli",
        "spoke",
        "run",
        "--kubeconfig",
        str(_kubeconfig(home, server.rstrip("/"))),
        "--hub",
        str(hub.api.client.make_url("/")).rstrip("/"),
        "--cluster",
        cluster,
        "--token-file",
        str(home / "token"),
        "--state-dir",
        str(home / "state"),
        "--health-host",
        "127.0.0.1",
        "--health-port",
        str(health),
        *options,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_the_agent_reports_an_emulated_cluster(hub: Env, tmp_path: Path) -> None:
    (tmp_path / "token").write_text(await hub.register("edge"))
    async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
        emulator.resources["kubevirt.io/v1/kubevirts"] = {"kind": "KubeVirt", "namespaced": True}
        emulator.objects["kubevirt.io/v1/kubevirts", "kubevirt", "kubevirt"] = m.kubevirt()
        emulator.objects["v1/nodes", None, "n1"] = m.node("n1", "8", "32Gi")
        health = ports.free()
        agent = await _agent(
            hub,
            tmp_path,
            str(server.url),
            "edge",
            health,
            "--debounce",
            "0.05",
            "--heartbeat",
            "3600",
        )
        assert agent.stderr is not None
        try:
            await asyncio.wait_for(_line(agent.stderr, "sent (applied)"), 30)
            detail = await hub.api.call("GET", "/api/v1/clusters/edge", hub.admin)
            assert detail.body["nodes"] == 1
            assert detail.body["kubevirt_installed"] is True
            await emulator.clients[0].post("/api/v1/nodes", json=m.node("n2", "16", "64Gi"))
            for _ in range(5):
                await asyncio.wait_for(_line(agent.stderr, "sent (applied)"), 30)
                detail = await hub.api.call("GET", "/api/v1/clusters/edge", hub.admin)
                if detail.body["nodes"] == 2:
                    break
            assert detail.body["nodes"] == 2
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{health}/healthz") as response:
                    assert response.status == 200
                async with session.get(f"http://127.0.0.1:{health}/metrics") as response:
                    text = await response.text()
            assert 'cclm_spoke_objects{kind="nodes"} 2.0' in text
        finally:
            agent.terminate()
            assert await asyncio.wait_for(agent.wait(), 30) == 0


def _token(request: kmock.Request, now: datetime) -> dict[str, Any]:
    return grant_api.answer(request, f"minted-for-{request.name}", now)


async def _sealed_access(hub: Env, east: str, migration: str) -> dict[str, Any]:
    path = f"/api/v1/clusters/east/jobs/{migration}/access"
    for _ in range(300):
        answer = await hub.api.call("GET", path, east)
        if answer.status == 200:
            return dict(answer.body)
        await asyncio.sleep(0.1)
    raise AssertionError(f"no grant within 30 s: {answer.body}")


async def test_a_target_agent_grants_a_migration_access_to_its_cluster(
    hub: Env, tmp_path: Path
) -> None:
    tokens = {}
    for name, built in (("east", east()), ("west", west())):
        tokens[name] = await hub.register(name)
        assert (await hub.report(tokens[name], built)).status == 202
    (tmp_path / "token").write_text(tokens["west"])
    keys = KeyPair.generate()
    path = "/api/v1/clusters/east/sealing-key"
    assert (
        await hub.api.call("PUT", path, tokens["east"], {"public_key": keys.public})
    ).status == 200
    body = {"source_cluster": "east", "target": "west", "vms": ["shop/db"]}
    migration = (await hub.api.call("POST", "/api/v1/migrations", hub.admin, body)).body["id"]
    ca = tmp_path / "api-ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
        grant_api.declare(emulator)
        emulator[kmock.subresource("token")] << (lambda request: _token(request, hub.clock()))
        agent = await _agent(
            hub,
            tmp_path,
            str(server.url),
            "west",
            ports.free(),
            "--api-url",
            "https://api.west.example:6443",
            "--api-ca-file",
            str(ca),
        )
        assert agent.stderr is not None
        try:
            sealed = await _sealed_access(hub, tokens["east"], migration)
            access = TargetAccess.from_text(keys.open(sealed["sealed"], migration))
            assert access.server == "https://api.west.example:6443"
            assert access.ca_pem == ca.read_text()
            assert access.token == f"minted-for-cclm-{migration}"
            cancel = f"/api/v1/migrations/{migration}/cancel"
            assert (await hub.api.call("POST", cancel, hub.admin)).status == 200
            release = f"/api/v1/clusters/east/jobs/{migration}/access"
            assert (await hub.api.call("DELETE", release, tokens["east"])).status == 204
            await asyncio.wait_for(
                _line(agent.stderr, f"revoked the access granted for {migration}"), 60
            )
            accounts = [
                key
                for key, obj in emulator.objects.items()
                if key[0].plural == "serviceaccounts" and not obj.deleted
            ]
            assert accounts == []
        finally:
            agent.terminate()
            assert await asyncio.wait_for(agent.wait(), 30) == 0
            logged = (await agent.stderr.read()).decode()
        assert "minted-for-" not in logged
