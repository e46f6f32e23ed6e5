"""The demo's guided tour, over HTTP like any client: the fleet, a check of a VM against a
nearly full cluster, a migration refused until the shortfall is acknowledged, one accepted
on the top suggestion and carried out step by step by two agents; then, with every agent
running, a VM stopped mid-flight that switches to an offline copy, and a migration to a
cluster that filled up after the check, stalled with the scheduler's message, which raises
an alert and a recommendation."""

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from spoke_agent.access.target_grants import AccessPoint
from spoke_agent.assemble import ClusterParts
from spoke_agent.assemble import assemble as assemble_spoke
from spoke_agent.drivers import ClusterDriver, simulated
from spoke_agent.drivers.simulated import World
from spoke_agent.executor.jobs import JobSettings
from spoke_agent.executor.model import Job
from spoke_agent.sim.fleets import SimulatedMinter

from hub.cli import render, tables
from hub.cli.client import ClientError, Connection, call
from hub.cli.demo_fleet import spoke_settings
from hub.cli.demo_worlds import Scene, Worlds, stop_mid_flight, target_fills_up
from hub.models.api import CheckAnswer, ClusterDetail, ClusterList, Migration, Task
from hub.models.check import Mode

VM = "prod-east/shop/db-large"
STOPPED_VM = "shop/web-1"
STALLED_VM = "shop/web-2"
SCENE_TARGET = "gpu-lab"
SCENE_WAIT = 60.0
"""Seconds a scene may take before the tour gives up on it (it takes a few)."""


def say(title: str, text: str = "") -> None:
    """Flushed: a person piping the demo (to tee, to a test) sees each step as it happens."""
    print(f"\n== {title}" + (f"\n{text}" if text else ""), flush=True)


async def walkthrough(admin: Connection) -> Migration:
    clusters = await call(admin, "GET", "/api/v1/clusters")
    say("The fleet", tables.clusters(ClusterList.model_validate(clusters).items))
    check: dict[str, Any] = {"vms": [VM], "target": "prod-west", "list_excluded": True}
    answer = await call(admin, "POST", "/api/v1/checks", check)
    say(f"Check {VM} -> prod-west", render.text(CheckAnswer.model_validate(answer)))
    request: dict[str, Any] = {"source_cluster": "prod-east", "target": "prod-west", "vms": [VM]}
    try:
        await call(admin, "POST", "/api/v1/migrations", request)
    except ClientError as refused:
        say(f"Migrate to prod-west: refused ({refused.status} {refused.code})", refused.message)
    best = answer["suggestions"][0]["cluster"]
    accepted = await call(admin, "POST", "/api/v1/migrations", {**request, "target": best})
    migration = Migration.model_validate(accepted)
    say(f"Migrate to {best}, the top suggestion: accepted", render.migration(migration))
    task = await call(admin, "GET", f"/api/v1/tasks/{migration.task_id}")
    say("Its task, as the console polls it", render.task(Task.model_validate(task)))
    detail = ClusterDetail.model_validate(await call(admin, "GET", f"/api/v1/clusters/{best}"))
    say(
        f"{best} now holds the reservation; every later check subtracts it",
        render.cluster(detail),
    )
    return migration


async def execute(
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
    step = JobSettings(poll_wait=0, poll_pause=0, interval=0)

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

    settings = spoke_settings(url, home, source, tokens[source], step, grant_wait=0)
    sending = assemble_spoke(settings, ClusterParts(build), pause=follow)
    granting = ClusterParts(build, minter=minter, access_point=point)
    settings = spoke_settings(url, home, target, tokens[target], step, grant_wait=0)
    granting_spoke = assemble_spoke(settings, granting)
    granter = granting_spoke.grants()
    try:
        await sending.hub.register_key(source, sending.keys.public)
        await sending.runner.poll_once(asyncio.Event())
        await asyncio.gather(*sending.runner.running.values())
        await granter.pass_once()
    finally:
        sending.runner.journal.close()
        granting_spoke.runner.journal.close()
    revoked = "revoked" if job.id not in minter.accounts else "still granted"
    task = await call(admin, "GET", f"/api/v1/tasks/{job.task_id}")
    say("The task once the agent is done", render.task(Task.model_validate(task)))
    print(f"  {source}'s agent released the access; {target}'s agent: {revoked}")


def _gave_up(what: str) -> None:
    print(f"  ({what} did not happen within {SCENE_WAIT:.0f} s; the tour goes on)")


async def _follow(admin: Connection, task_id: str, done: Callable[[Task], bool]) -> Task:
    """Print the task's per-VM line each time it changes, until `done(task)`."""
    shown = ""
    deadline = time.monotonic() + SCENE_WAIT
    while True:
        task = Task.model_validate(await call(admin, "GET", f"/api/v1/tasks/{task_id}"))
        line = "\n".join(render.task(task).splitlines()[1:2])
        if line != shown:
            print(line)
            shown = line
        if done(task):
            return task
        if time.monotonic() > deadline:
            _gave_up("that")
            return task
        await asyncio.sleep(0.2)


async def _migrate(admin: Connection, worlds: Worlds, vm: str, scene: Scene) -> Migration:
    """Start the tour's migration of `vm` and play `scene` on it (on it alone: the same VM
    migrated later from the console migrates as any other)."""
    body = {"source_cluster": "prod-east", "target": SCENE_TARGET, "vms": [vm]}
    migration = Migration.model_validate(await call(admin, "POST", "/api/v1/migrations", body))
    worlds.scenes[migration.id] = scene
    return migration


async def scenes(admin: Connection, worlds: Worlds) -> None:
    """What happens to VMs mid-flight; every agent runs meanwhile, on `worlds`."""
    say(f"Migrate prod-east/{STOPPED_VM} to {SCENE_TARGET}; its owner stops it mid-flight")
    moved = await _migrate(admin, worlds, STOPPED_VM, stop_mid_flight)
    task = await _follow(admin, moved.task_id, lambda t: not t.state.active)
    print(f"  {render.task(task).splitlines()[0]}")
    if any(vm.mode == Mode.OFFLINE for vm in task.vms):
        print("  the executor saw the VM stop and copied its disks offline (rsync) instead")
    say(f"Migrate prod-east/{STALLED_VM} to {SCENE_TARGET}; the cluster fills up meanwhile")
    stalled = await _migrate(admin, worlds, STALLED_VM, target_fills_up)
    task = await _follow(admin, stalled.task_id, lambda t: bool(t.conditions))
    for condition in task.conditions:
        print(f"  {condition.type}: {condition.message}")
    alerts = await _wait_for(admin, "/api/v1/alerts", {"state": "open", "kind": "stalled"})
    for alert in alerts:
        print(f"  alert {alert['severity']}: {alert['message']}")
    found = await _wait_for(admin, "/api/v1/recommendations", {"kind": "fits-elsewhere"})
    for item in found:
        print(f"  recommendation: {item['message']}")
    if task.conditions:
        print(
            "  it stays stalled: cancel it in the console or with "
            f"cclm migrations cancel {stalled.id}"
        )


async def _wait_for(admin: Connection, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """The items of a feed once there are some (the hub evaluates its feeds on a timer)."""
    deadline = time.monotonic() + SCENE_WAIT
    while True:
        items: list[dict[str, Any]] = (await call(admin, "GET", path, params=params))["items"]
        if items:
            return items
        if time.monotonic() > deadline:
            _gave_up(f"an item on {path}")
            return items
        await asyncio.sleep(0.25)
