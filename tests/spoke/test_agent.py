"""The agent end to end: a simulated or emulated cluster, the real hub over HTTP."""

import asyncio
import gzip
import threading
from pathlib import Path
from typing import Any

import kmock
import pytest
from kubernetes import client
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from spoke_agent.agent import Agent
from spoke_agent.client import HubClient, RefusedError
from spoke_agent.report.kube_source import KubernetesSource
from spoke_agent.report.sequence import Sequence
from spoke_agent.report.snapshot import Snapshot
from spoke_agent.sim import fleets
from spoke_agent.sim import objects as m

from tests.support.clock import FakeClock
from tests.support.hub_env import Env
from tests.support.kubernetes import api_client

SHAPE = fleets.FleetShape(clusters=1, nodes=4, vms_per_node=1, pods_per_node=3)


async def _agent(hub: Env, tmp_path: Path, source: Any, name: str = "sim-000") -> Agent:
    token = tmp_path / f"{name}.token"
    token.write_text(await hub.register(name))
    url = str(hub.api.client.make_url("/")).rstrip("/")
    sender = HubClient(url, token, attempts=2, first_delay=0.01)
    return Agent(source, name, sender, Sequence(tmp_path / "state" / "sequence"), hub.clock)


async def _detail(hub: Env, name: str) -> Any:
    return (await hub.api.call("GET", f"/api/v1/clusters/{name}", hub.admin)).body


async def test_reports_reach_the_hub_and_follow_changes(hub: Env, tmp_path: Path) -> None:
    [cluster] = fleets.fleet(1, SHAPE)
    agent = await _agent(hub, tmp_path, cluster)
    first = await agent.report_once()
    assert first["applied"] is True
    detail = await _detail(hub, "sim-000")
    assert (detail["nodes_usable"], detail["vms"]) == (4, 4)
    cluster.cordon(cluster.objects["nodes"][0]["metadata"]["name"])
    second = await agent.report_once()
    assert second["sequence"] > first["sequence"]
    assert (await _detail(hub, "sim-000"))["nodes_usable"] == 3


async def test_the_sequence_keeps_growing_across_restarts(hub: Env, tmp_path: Path) -> None:
    [cluster] = fleets.fleet(1, SHAPE)
    agent = await _agent(hub, tmp_path, cluster)
    before = (await agent.report_once())["sequence"]
    set_back = FakeClock(hub.clock.now.replace(year=2020))  # the agent's clock, not the hub's
    restarted = Agent(
        cluster, "sim-000", agent.hub, Sequence(tmp_path / "state" / "sequence"), set_back
    )
    after = await restarted.report_once()
    assert after["sequence"] == before + 1, "the saved sequence wins over a clock set back"
    assert after["applied"] is True


class Flaky:
    """A source whose API is unreachable for a while, then back."""

    def __init__(self, inner: fleets.SimulatedCluster, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    def snapshot(self) -> Snapshot:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("the API server is unreachable")
        return self.inner.snapshot()


async def test_api_outages_are_survived_and_reports_resume(hub: Env, tmp_path: Path) -> None:
    [cluster] = fleets.fleet(1, SHAPE)
    agent = await _agent(hub, tmp_path, Flaky(cluster, failures=2))
    for _ in range(2):
        with pytest.raises(ConnectionError):
            await agent.report_once()
    receipt = await agent.report_once()
    assert receipt["applied"] is True
    assert agent.metrics.errors.labels("read")._value.get() == 2  # type: ignore[attr-defined]


class Keeping:
    """Passes reports on to the hub and keeps the last body sent."""

    def __init__(self, inner: HubClient) -> None:
        self.inner, self.body = inner, b""

    async def send(self, cluster: str, body: bytes) -> dict[str, Any]:
        self.body = body
        return await self.inner.send(cluster, body)


async def test_each_report_is_timed_by_stage_and_measured(hub: Env, tmp_path: Path) -> None:
    [cluster] = fleets.fleet(1, SHAPE)
    agent = await _agent(hub, tmp_path, cluster)
    kept = Keeping(agent.hub)  # type: ignore[arg-type]
    agent.hub = kept
    await agent.report_once()
    await agent.report_once()
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(
            generate_latest(agent.metrics.registry).decode()
        )
        for s in family.samples
    }
    for stage in ("read", "collect", "send"):
        assert samples[("cclm_spoke_collection_duration_seconds_count", (("stage", stage),))] == 2
        assert samples[("cclm_spoke_errors_total", (("stage", stage),))] == 0
    assert samples[("cclm_spoke_report_bytes", (("form", "gzip"),))] == len(kept.body)
    json_size = len(gzip.decompress(kept.body))
    assert samples[("cclm_spoke_report_bytes", (("form", "json"),))] == json_size
    assert samples[("cclm_spoke_objects", (("kind", "nodes"),))] == 4
    assert samples[("cclm_spoke_reports_total", ())] == 2


async def test_a_refused_report_is_not_retried(hub: Env, tmp_path: Path) -> None:
    [cluster] = fleets.fleet(1, SHAPE)
    agent = await _agent(hub, tmp_path, cluster)
    (tmp_path / "sim-000.token").write_text("cclm_nope_nope")
    with pytest.raises(RefusedError) as refused:
        await agent.report_once()
    assert refused.value.status == 401
    metrics = await (await hub.api.client.get("/metrics")).text()
    assert 'route="/api/v1/clusters/{name}/reports",status="401"} 1.0' in metrics


async def test_an_unreachable_hub_is_retried_then_reported(tmp_path: Path) -> None:
    [cluster] = fleets.fleet(1, SHAPE)
    token = tmp_path / "token"
    token.write_text("cclm_a_b")
    sender = HubClient("http://127.0.0.1:9", token, attempts=3, first_delay=0.01)
    agent = Agent(cluster, "sim-000", sender, Sequence(tmp_path / "seq"), FakeClock())
    with pytest.raises(OSError, match="Cannot connect"):
        await agent.report_once()
    assert agent.metrics.errors.labels("send")._value.get() == 1  # type: ignore[attr-defined]


class Recording:
    """Passes reports on to the hub and lets the test await each one."""

    def __init__(self, inner: HubClient) -> None:
        self.inner = inner
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def send(self, cluster: str, body: bytes) -> dict[str, Any]:
        receipt = await self.inner.send(cluster, body)
        await self.sent.put(receipt)
        return receipt


async def test_run_reports_at_start_and_on_change_then_stops(hub: Env, tmp_path: Path) -> None:
    [cluster] = fleets.fleet(1, SHAPE)
    agent = await _agent(hub, tmp_path, cluster)
    recording = Recording(agent.hub)  # type: ignore[arg-type]
    agent.hub, agent.debounce, agent.heartbeat = recording, 0.01, 3600
    stop = asyncio.Event()
    running = asyncio.create_task(agent.run(stop))
    first = await asyncio.wait_for(recording.sent.get(), 10)
    cluster.cordon(cluster.objects["nodes"][0]["metadata"]["name"])
    agent.notify()
    second = await asyncio.wait_for(recording.sent.get(), 10)
    assert second["sequence"] > first["sequence"]
    assert (await _detail(hub, "sim-000"))["nodes_usable"] == 3
    stop.set()
    await asyncio.wait_for(running, 10)


async def test_a_watch_announces_changes_and_stops() -> None:
    async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
        emulator.objects["v1/nodes", None, "n1"] = m.node("n1", "4", "8Gi")
        api = api_client(server)
        source = KubernetesSource(api, watch_seconds=5)
        changed = threading.Event()
        stop = threading.Event()
        watcher = asyncio.create_task(asyncio.to_thread(source.watch, "nodes", changed.set, stop))
        assert await asyncio.to_thread(changed.wait, 10), "the existing node is announced"
        changed.clear()
        await emulator.clients[0].post("/api/v1/nodes", json=m.node("n2", "4", "8Gi"))
        assert await asyncio.to_thread(changed.wait, 10), "a new node wakes the watch"
        stop.set()
        await emulator.clients[0].post("/api/v1/nodes", json=m.node("n3", "4", "8Gi"))
        await asyncio.wait_for(watcher, 15)
        snapshot = await asyncio.to_thread(source.snapshot)
        assert [n["metadata"]["name"] for n in snapshot.nodes] == ["n1", "n2", "n3"]


async def test_an_api_server_failing_for_a_while_then_back(hub: Env, tmp_path: Path) -> None:
    """Real HTTP: the emulated API server answers 503 to the next node lists, then recovers."""
    async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
        emulator.objects["v1/nodes", None, "n1"] = m.node("n1", "4", "8Gi")
        api = api_client(server)
        agent = await _agent(hub, tmp_path, KubernetesSource(api), name="edge")
        before = (await agent.report_once())["sequence"]
        emulator[kmock.resource("v1/nodes")][1:3] << 503
        for _ in range(2):
            with pytest.raises(client.ApiException, match="503"):
                await agent.report_once()
        emulator.objects["v1/nodes", None, "n2"] = m.node("n2", "4", "8Gi")
        after = await agent.report_once()
        assert after["applied"] is True
        assert after["sequence"] > before
        assert (await _detail(hub, "edge"))["nodes"] == 2


async def test_an_expired_watch_is_started_again() -> None:
    async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
        emulator.objects["v1/nodes", None, "n1"] = m.node("n1", "4", "8Gi")
        gone = {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}}
        emulator[kmock.resource("v1/nodes")][{"watch": "true"}][:1] << gone
        api = api_client(server)
        source = KubernetesSource(api, watch_seconds=5)
        changed, stop = threading.Event(), threading.Event()
        watches_at_change: list[int] = []

        def on_change() -> None:
            watches_at_change.append(
                len(list(emulator[kmock.resource("v1/nodes")][{"watch": "true"}]))
            )
            changed.set()

        watcher = asyncio.create_task(asyncio.to_thread(source.watch, "nodes", on_change, stop))
        assert await asyncio.to_thread(changed.wait, 10), "the second watch sees the node"
        stop.set()
        await emulator.clients[0].post("/api/v1/nodes", json=m.node("n2", "4", "8Gi"))
        await asyncio.wait_for(watcher, 15)
        assert min(watches_at_change) == 2, "the 410 is not a change; a new watch followed it"
