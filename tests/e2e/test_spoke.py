"""`cclm spoke run` as a process: reads an emulated cluster (kmock) through the official
client, reports to the hub, reports again when a watch sees a change, serves /healthz and
/metrics, and stops cleanly."""

import asyncio
import socket
import sys
from pathlib import Path

import aiohttp
import kmock
import yaml
from spoke_agent import manifests as m

from tests.api.conftest import Env


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _line(stream: asyncio.StreamReader, wanted: str) -> str:
    while True:
        line = (await stream.readline()).decode()
        if not line:
            raise AssertionError(f"the agent stopped before logging {wanted!r}")
        if wanted in line:
            return line


async def test_the_agent_reports_an_emulated_cluster(hub: Env, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text(await hub.register("edge"))
    async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
        emulator.resources["kubevirt.io/v1/kubevirts"] = {"kind": "KubeVirt", "namespaced": True}
        emulator.objects["kubevirt.io/v1/kubevirts", "kubevirt", "kubevirt"] = m.kubevirt()
        emulator.objects["v1/nodes", None, "n1"] = m.node("n1", "8", "32Gi")
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [{"name": "k", "cluster": {"server": str(server.url).rstrip("/")}}],
                    "users": [{"name": "u", "user": {"token": "kube-token"}}],
                    "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
                    "current-context": "c",
                }
            )
        )
        health = _port()
        agent = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hub.cli",
            "spoke",
            "run",
            "--kubeconfig",
            str(kubeconfig),
            "--hub",
            str(hub.api.client.make_url("/")).rstrip("/"),
            "--cluster",
            "edge",
            "--token-file",
            str(token),
            "--state-dir",
            str(tmp_path / "state"),
            "--debounce",
            "0.05",
            "--heartbeat",
            "3600",
            "--health-host",
            "127.0.0.1",
            "--health-port",
            str(health),
            stderr=asyncio.subprocess.PIPE,
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
