"""Jobs from hub to spoke and back over real HTTP: the hub accepts a migration, the source
cluster's agent pulls it with its `HubClient`, runs it against simulated clusters, and its
progress moves the task to the end. Cancels, stalls and restarts go the same way."""

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from spoke_agent.client import HubClient
from spoke_agent.drivers import ClusterDriver, simulated
from spoke_agent.drivers.simulated import World
from spoke_agent.executor.jobs import (
    JobRunner,
    JobSettings,
    NoConnectionError,
    StaticConnector,
    job_of,
)
from spoke_agent.executor.journal import Journal
from spoke_agent.executor.model import Job

from hub.models.api import Migration
from tests.api.fleet import east, west
from tests.support.hub_env import Env

Hook = Callable[[World], Awaitable[None]]
FAST = JobSettings(poll_wait=0, poll_pause=0, interval=0, heartbeat=3600)


@dataclass
class Spoke:
    """The east cluster's agent: one simulated world per job, a hook run between passes."""

    hub: Env
    home: Path
    running: dict[str, bool] = field(default_factory=dict)
    worlds: dict[str, World] = field(default_factory=dict)
    hook: Hook | None = None
    journal: Journal | None = None

    def drivers(self, job: Job) -> tuple[ClusterDriver, ClusterDriver]:
        if job.id not in self.worlds:
            self.worlds[job.id] = World({vm: self.running.get(vm, True) for vm in job.vms})
        return simulated.pair(self.worlds[job.id])

    def runner(self, settings: JobSettings = FAST) -> JobRunner:
        self.journal = Journal(self.home / "journal.db")
        url = str(self.hub.api.client.make_url("/")).rstrip("/")
        client = HubClient(url, self.home / "token", first_delay=0.01)
        connector = StaticConnector(self.drivers)
        return JobRunner("east", client, self.journal, connector, settings, self._pause)

    async def _pause(self, _seconds: float) -> None:
        if self.hook is not None:
            for world in self.worlds.values():
                await self.hook(world)


@pytest.fixture
async def spoke(hub: Env, tmp_path: Path) -> Spoke:
    tokens = {name: await hub.register(name) for name in ("east", "west")}
    for name, built in (("east", east()), ("west", west())):
        assert (await hub.report(tokens[name], built)).status == 202
    (tmp_path / "token").write_text(tokens["east"])
    return Spoke(hub, tmp_path)


async def _migrate(hub: Env, **fields: Any) -> dict[str, Any]:
    body = {"source_cluster": "east", "target": "west", "vms": ["shop/db", "shop/web"], **fields}
    answer = await hub.api.call("POST", "/api/v1/migrations", hub.admin, body)
    assert answer.status == 201, answer.body
    return dict(answer.body)


async def _get(hub: Env, path: str) -> dict[str, Any]:
    return dict((await hub.api.call("GET", path, hub.admin)).body)


async def _run_until_done(runner: JobRunner) -> None:
    """One pull, then every job it started to its end: no timers, the loop's own pace."""
    stop = asyncio.Event()
    await runner.poll_once(stop)
    for task in list(runner.running.values()):
        await task


async def test_a_migration_runs_from_hub_to_spoke_and_back(hub: Env, spoke: Spoke) -> None:
    spoke.running = {"shop/web": False}
    migration = await _migrate(hub)
    phases: list[tuple[str, ...]] = []

    async def watch(_world: World) -> None:
        task = await _get(hub, f"/api/v1/tasks/{migration['task_id']}")
        phases.append(tuple(vm["phase"] for vm in task["vms"]))

    spoke.hook = watch
    runner = spoke.runner()
    await _run_until_done(runner)
    task = await _get(hub, f"/api/v1/tasks/{migration['task_id']}")
    assert (task["state"], task["progress"]) == ("finished", 100), task["message"]
    modes = {vm["vm"]: (vm["mode"], vm["phase"]) for vm in task["vms"]}
    assert modes == {"shop/db": ("live", "migrated"), "shop/web": ("offline", "migrated")}
    web = next(vm for vm in task["vms"] if vm["vm"] == "shop/web")
    assert web["bytes_copied"] == 10 * 2**30, "the offline copy's bytes survive its client pod"
    seen = {phase for row in phases for phase in row}
    assert {"receiving", "cutover", "copying", "finalizing"} <= seen
    done = await _get(hub, f"/api/v1/migrations/{migration['id']}")
    assert done["state"] == "finished"
    assert done["reservation"]["released_at"] is not None
    token = (spoke.home / "token").read_text()
    jobs = await hub.api.call("GET", "/api/v1/clusters/east/jobs", token)
    assert jobs.body["items"] == [], "an ended job is no longer handed out"
    world = spoke.worlds[migration["id"]]
    assert all(vm.source is not None and vm.source.migrated_by for vm in world.vms.values())


async def test_a_job_pulled_twice_runs_once(hub: Env, spoke: Spoke) -> None:
    migration = await _migrate(hub, vms=["shop/db"])
    runner = spoke.runner()
    stop = asyncio.Event()
    await runner.poll_once(stop)
    await runner.poll_once(stop)
    assert list(runner.running) == [migration["id"]]
    await runner.running[migration["id"]]
    await asyncio.sleep(0)
    assert runner.running == {}, "a finished job leaves nothing behind in the runner"
    connected: list[str] = []

    def counted(job: Job) -> tuple[ClusterDriver, ClusterDriver]:
        connected.append(job.id)
        return spoke.drivers(job)

    runner.connector = StaticConnector(counted)
    runner.start(job_of(Migration.model_validate(migration)))
    await asyncio.gather(*runner.running.values())
    assert connected == [], "the journal knows it ended: nothing is connected or reported"
    world = spoke.worlds[migration["id"]]
    starts = [e for e in world.history if e.what == "live" and e.detail.startswith("started")]
    assert len(starts) == 1, "listed again after it ended (a late pull), it does not run again"


async def test_a_cancel_on_the_hub_undoes_the_job_on_the_spoke(hub: Env, spoke: Spoke) -> None:
    migration = await _migrate(hub, vms=["shop/db"])
    path = f"/api/v1/migrations/{migration['id']}/cancel"
    answers: list[int] = []

    async def cancel_once_receiving(world: World) -> None:
        receiving = world.pods_of("receiver")
        if receiving and not answers and not world.live_started("shop/db"):
            answers.append((await hub.api.call("POST", path, hub.admin)).status)

    spoke.hook = cancel_once_receiving
    await _run_until_done(spoke.runner())
    assert answers == [200]
    world = spoke.worlds[migration["id"]]
    vm = world.vms["shop/db"]
    assert vm.source is not None
    assert vm.source.running
    assert (vm.target, vm.volumes) == (None, False), "nothing left on the target"
    assert not [p for p in world.pods.values() if p.kind == "receiver"]
    assert (await _get(hub, f"/api/v1/migrations/{migration['id']}"))["state"] == "cancelled"
    assert spoke.journal is not None
    assert spoke.journal.unfinished() == []
    task = await _get(hub, f"/api/v1/tasks/{migration['task_id']}")
    assert task["state"] == "cancelled"
    assert task["cleanup"] == "failed: cancelled on the hub", "the agent's outcome is shown"
    assert task["cleaned_up_at"] is not None
    assert [vm["phase"] for vm in task["vms"]] == ["abandoned"]


async def test_a_cancel_is_accepted_while_a_begun_cutover_has_no_receiving_node(
    hub: Env, spoke: Spoke
) -> None:
    """The sending object exists (the hub consented to the cutover), then the receiving pod
    turns out unschedulable: nothing has moved, so the hub takes the cancel once the agent
    says so, and the job ends with the VM where it was."""
    migration = await _migrate(hub, vms=["shop/db"])
    path = f"/api/v1/migrations/{migration['id']}/cancel"
    answers: list[int] = []
    seen: list[int] = []

    async def stick_then_cancel(world: World) -> None:
        if not world.live_started("shop/db") or answers[-1:] == [200]:
            return
        for pod in world.pods_of("receiver"):
            if pod.phase.value == "Pending":
                world.stick(pod.name, "0/2 nodes are available: 2 Insufficient memory.")
        seen.append(world.now)
        if len(seen) > 2:  # the agent has reported a pass that saw the sending object
            answers.append((await hub.api.call("POST", path, hub.admin)).status)

    spoke.hook = stick_then_cancel
    async with asyncio.timeout(60):  # the defect this guards against was a job never ending
        await _run_until_done(spoke.runner(dataclasses.replace(FAST, heartbeat=0)))
    assert answers[-1] == 200, answers
    assert set(answers) <= {200, 409}, "refused only until the agent said the receiver waits"
    vm = spoke.worlds[migration["id"]].vms["shop/db"]
    assert vm.source is not None
    assert vm.source.running
    assert (vm.target, vm.volumes) == (None, False)
    task = await _get(hub, f"/api/v1/tasks/{migration['task_id']}")
    assert task["state"] == "cancelled"
    assert [v["phase"] for v in task["vms"]] == ["abandoned"]


async def test_a_receiving_pod_stuck_pending_stalls_the_task(hub: Env, spoke: Spoke) -> None:
    migration = await _migrate(hub, vms=["shop/db"])
    why = "0/2 nodes are available: 2 Insufficient memory."
    seen: list[list[dict[str, Any]]] = []

    async def stick_then_release(world: World) -> None:
        """Stick the receiving pod; once the hub has seen it Pending, let ten minutes pass;
        once the task shows the stall, let the scheduler find room."""
        pods = [p for p in world.pods_of("receiver") if p.phase.value == "Pending"]
        if not pods:
            return
        task = await _get(hub, f"/api/v1/tasks/{migration['task_id']}")
        if not seen:
            world.stick(pods[0].name, why)
            seen.append([])
        elif len(seen) == 1 and task["vms"][0]["pending_since"] is not None:
            hub.clock.advance(600)
            seen.append([])
        elif len(seen) == 2 and task["conditions"]:
            seen.append(task["conditions"])
            world.unstick(pods[0].name)

    spoke.hook = stick_then_release
    every_pass = dataclasses.replace(FAST, heartbeat=0)
    await _run_until_done(spoke.runner(every_pass))
    assert len(seen) == 3, "the stall reached the task"
    [condition] = seen[2]
    assert condition["type"] == "stalled"
    assert why in condition["message"]
    task = await _get(hub, f"/api/v1/tasks/{migration['task_id']}")
    assert (task["state"], task["conditions"]) == ("finished", [])
    alerts = (await hub.api.call("GET", "/api/v1/alerts", hub.admin)).body["items"]
    assert [a["kind"] for a in alerts] == ["stalled"]


class AgentStoppedError(BaseException):
    """The agent process dies between two passes: nothing in it catches that."""


async def test_a_restarted_agent_finishes_its_job_once(hub: Env, spoke: Spoke) -> None:
    migration = await _migrate(hub)
    spoke.running = {"shop/web": False}
    passes: list[int] = []

    async def die_midway(world: World) -> None:
        passes.append(world.now)
        if len(passes) == 6:
            raise AgentStoppedError

    spoke.hook = die_midway
    first = spoke.runner()
    with pytest.raises(AgentStoppedError):
        await _run_until_done(first)
    assert spoke.journal is not None
    spoke.journal.close()
    running = await _get(hub, f"/api/v1/tasks/{migration['task_id']}")
    assert running["state"] == "running"
    spoke.hook = None
    second = spoke.runner()
    await second.resume()
    assert list(second.running) == [migration["id"]], "resumed from the journal, not the hub"
    await second.running[migration["id"]]
    task = await _get(hub, f"/api/v1/tasks/{migration['task_id']}")
    assert task["state"] == "finished"
    world = spoke.worlds[migration["id"]]
    finals = [e for e in world.history if e.what == "finalize" and e.detail.startswith("source")]
    assert len(finals) == 2, "each VM's source finalized exactly once"


async def test_a_job_to_a_target_the_agent_cannot_reach_fails_at_once(
    hub: Env, spoke: Spoke
) -> None:
    migration = await _migrate(hub, vms=["shop/db"])

    def unreachable(job: Job) -> tuple[ClusterDriver, ClusterDriver]:
        raise NoConnectionError(f"this agent has no connection to target cluster {job.target}")

    runner = spoke.runner()
    runner.connector = StaticConnector(unreachable)
    await _run_until_done(runner)
    task = await _get(hub, f"/api/v1/tasks/{migration['task_id']}")
    assert task["state"] == "failed"
    assert "no connection to target cluster west" in task["message"]
    assert (await _get(hub, f"/api/v1/migrations/{migration['id']}"))["reservation"][
        "released_at"
    ] is not None


async def test_a_begun_job_that_lost_its_target_says_so_and_claims_no_cleanup(
    hub: Env, spoke: Spoke
) -> None:
    migration = await _migrate(hub, vms=["shop/db"])
    await hub.api.call("POST", f"/api/v1/migrations/{migration['id']}/cancel", hub.admin)

    def gone(job: Job) -> tuple[ClusterDriver, ClusterDriver]:
        raise NoConnectionError(f"this agent has no connection to target cluster {job.target}")

    runner = spoke.runner()
    runner.connector = StaticConnector(gone)
    runner.start(job_of(Migration.model_validate(migration)), begun=True)
    await asyncio.gather(*runner.running.values())
    task = await _get(hub, f"/api/v1/tasks/{migration['task_id']}")
    assert task["cleanup"].startswith("cannot finish or undo: this agent has no connection")
    assert f"cclm.io/migration={migration['id']}" in task["cleanup"]
    assert task["cleaned_up_at"] is None, "the target may still hold what the job made"
