"""Job handoff: the source cluster's agent pulls its jobs (long-poll) and reports progress,
which starts and ends the task, renews the reservation, and carries a cancel back."""

import asyncio
from typing import Any

import pytest
from spoke_agent.executor.jobs import job_of
from spoke_agent.executor.journal import Journal

from hub.migration.stalls import watch_stalls
from hub.models.api import Migration
from tests.api.test_migrations import migrate, reserved_memory
from tests.support.hub_env import Env


async def jobs(env: Env, token: str, cluster: str = "east", wait: str | None = None) -> Any:
    params = {"wait": wait} if wait is not None else None
    return await env.api.call("GET", f"/api/v1/clusters/{cluster}/jobs", token, params=params)


async def report(env: Env, token: str, migration: str, body: dict[str, Any]) -> Any:
    path = f"/api/v1/clusters/east/jobs/{migration}/progress"
    return await env.api.call("POST", path, token, body)


async def test_the_source_agent_gets_its_jobs_and_no_one_else_does(
    env: Env, spokes: dict[str, str]
) -> None:
    assert (await jobs(env, spokes["east"])).body == {"cluster": "east", "items": []}
    migration = (await migrate(env)).body
    listed = await jobs(env, spokes["east"])
    assert [j["id"] for j in listed.body["items"]] == [migration["id"]]
    assert listed.body["items"][0]["target_cluster"] == "west"
    assert (await jobs(env, spokes["west"], "west")).body["items"] == []
    other = await jobs(env, spokes["west"], "east")
    assert (other.status, other.code) == (403, "wrong_cluster")
    again = await jobs(env, spokes["east"])
    assert again.body == listed.body, "listed until it ends: delivered at least once"


async def test_a_waiting_agent_gets_a_job_accepted_meanwhile(
    env: Env, spokes: dict[str, str]
) -> None:
    waiting = asyncio.create_task(jobs(env, spokes["east"], wait="10"))
    await asyncio.sleep(0.2)
    assert not waiting.done()
    migration = (await migrate(env)).body
    answer = await asyncio.wait_for(waiting, timeout=10)
    assert [j["id"] for j in answer.body["items"]] == [migration["id"]]


async def test_an_agent_waits_for_a_job_it_does_not_run_yet(
    env: Env, spokes: dict[str, str]
) -> None:
    first = (await migrate(env)).body
    path = "/api/v1/clusters/east/jobs"
    params = {"wait": "10", "known": first["id"]}
    waiting = asyncio.create_task(env.api.call("GET", path, spokes["east"], params=params))
    await asyncio.sleep(0.2)
    assert not waiting.done(), "every listed job is known: the wait goes on"
    second = (await migrate(env, vms=["shop/web"])).body
    answer = await asyncio.wait_for(waiting, timeout=10)
    assert [j["id"] for j in answer.body["items"]] == [first["id"], second["id"]]
    many = ",".join(f"mig-{i}" for i in range(1001))
    refused = await env.api.call("GET", path, spokes["east"], params={"known": many})
    assert (refused.status, refused.code) == (400, "invalid_parameter")


async def test_progress_runs_the_task_renews_the_reservation_and_ends_it(
    env: Env, spokes: dict[str, str]
) -> None:
    migration = (await migrate(env)).body
    first_expiry = migration["reservation"]["claim"]["expires_at"]
    env.clock.advance(600)
    vm = {"vm": "shop/db", "mode": "live", "phase": "cutover", "bytes_copied": 2**30}
    receipt = await report(
        env,
        spokes["east"],
        migration["id"],
        {
            "state": "running",
            "progress": 40,
            "message": "migrating",
            "vms": [vm],
        },
    )
    assert receipt.status == 200
    assert (receipt.body["state"], receipt.body["cancel"]) == ("running", False)
    assert receipt.body["reservation_expires_at"] > first_expiry
    env.clock.advance(600)
    assert await env.hub.sweep() == 0, "renewed: 20 minutes in, the 15-minute claim holds"
    task = (await env.api.call("GET", f"/api/v1/tasks/{migration['task_id']}", env.admin)).body
    assert (task["state"], task["progress"], task["message"]) == ("running", 40, "migrating")
    assert task["vms"][0]["phase"] == "cutover"
    assert task["vms"][0]["bytes_copied"] == 2**30, "a VM reported replaces the hub's copy"
    assert task["vms"][0]["node"] is not None, "but keeps the node the check planned"
    assert task["started_at"] is not None
    done = await report(env, spokes["east"], migration["id"], {"state": "finished"})
    assert (done.body["state"], done.body["reservation_expires_at"]) == ("finished", None)
    assert await reserved_memory(env, "west") == 0
    task = (await env.api.call("GET", f"/api/v1/tasks/{migration['task_id']}", env.admin)).body
    assert (task["state"], task["progress"]) == ("finished", 100)
    assert (await jobs(env, spokes["east"])).body["items"] == []
    late = await report(env, spokes["east"], migration["id"], {"state": "running"})
    assert late.body["state"] == "finished", "a report after the end changes nothing"


async def test_a_cancel_on_the_hub_reaches_the_agent(env: Env, spokes: dict[str, str]) -> None:
    migration = (await migrate(env)).body
    await report(env, spokes["east"], migration["id"], {"state": "running"})
    await env.api.call("POST", f"/api/v1/migrations/{migration['id']}/cancel", env.admin)
    receipt = await report(env, spokes["east"], migration["id"], {"state": "running"})
    assert (receipt.body["state"], receipt.body["cancel"]) == ("cancelled", True)
    assert (await jobs(env, spokes["east"])).body["items"] == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"state": "running", "vms": [{"vm": "shop/web", "mode": "live"}]}, 400, "unknown_vm"),
        ({"state": "paused"}, 400, "invalid_field"),
        ({"state": "running", "progress": 101}, 400, "invalid_field"),
        ({"state": "running", "surprise": 1}, 400, "unknown_field"),
        ({}, 400, "missing_field"),
    ],
    ids=[
        "a VM that is not part of the migration",
        "an unknown state",
        "progress above 100",
        "an unknown field",
        "no state",
    ],
)
async def test_bad_progress_is_refused_with_a_reason(
    env: Env, spokes: dict[str, str], body: dict[str, Any], status: int, code: str
) -> None:
    migration = (await migrate(env)).body
    answer = await report(env, spokes["east"], migration["id"], body)
    assert (answer.status, answer.code) == (status, code)


async def test_progress_for_a_job_that_is_not_this_clusters(
    env: Env, spokes: dict[str, str]
) -> None:
    missing = await report(env, spokes["east"], "mig-nope", {"state": "running"})
    assert (missing.status, missing.code) == (404, "unknown_migration")
    migration = (await migrate(env)).body
    path = f"/api/v1/clusters/west/jobs/{migration['id']}/progress"
    wrong = await env.api.call("POST", path, spokes["west"], {"state": "running"})
    assert (wrong.status, wrong.code) == (403, "wrong_cluster")


@pytest.mark.parametrize("wait", ["-1", "61", "soon", "\u0661"])
async def test_a_bad_wait_is_refused(env: Env, spokes: dict[str, str], wait: str) -> None:
    answer = await jobs(env, spokes["east"], wait=wait)
    assert (answer.status, answer.code) == (400, "invalid_parameter")


def _receiving(phase: str, pod: str = "virt-launcher-db-x1", message: str = "") -> dict[str, Any]:
    return {
        "vm": "shop/db",
        "mode": "live",
        "phase": "receiving",
        "receiving_pod": {"name": pod, "phase": phase, "message": message},
    }


async def test_a_receiving_pod_pending_too_long_stalls_the_task_once(
    env: Env, spokes: dict[str, str]
) -> None:
    migration = (await migrate(env)).body
    task_path = f"/api/v1/tasks/{migration['task_id']}"
    why = "0/3 nodes are available: 3 Insufficient memory."
    body = {"state": "running", "vms": [_receiving("Pending", message=why)]}
    await report(env, spokes["east"], migration["id"], body)
    env.clock.advance(30)
    await report(env, spokes["east"], migration["id"], body)
    task = (await env.api.call("GET", task_path, env.admin)).body
    assert task["conditions"] == [], "half a minute is within the 45 s threshold"
    assert task["vms"][0]["pending_since"] is not None
    env.clock.advance(30)
    await report(env, spokes["east"], migration["id"], body)
    await report(env, spokes["east"], migration["id"], body)
    task = (await env.api.call("GET", task_path, env.admin)).body
    [condition] = task["conditions"]
    assert (condition["type"], condition["vm"]) == ("stalled", "shop/db")
    assert why in condition["message"]
    assert "60 s" in condition["message"]
    alerts = (await env.api.call("GET", "/api/v1/alerts", env.admin)).body["items"]
    stalls = [a for a in alerts if a["kind"] == "stalled"]
    assert len(stalls) == 1, "reports while the stall lasts raise no second alert"
    assert why in stalls[0]["message"]
    assert stalls[0]["migration_id"] == migration["id"]
    assert stalls[0]["severity"] == "critical"
    # raised a minute into the wait, four minutes before KubeVirt's 300 s receiver timeout
    assert "300 s after it was seen Pending" in stalls[0]["message"]
    running = {"state": "running", "vms": [_receiving("Running")]}
    await report(env, spokes["east"], migration["id"], running)
    task = (await env.api.call("GET", task_path, env.admin)).body
    assert task["conditions"] == []
    assert task["vms"][0]["pending_since"] is None


async def test_a_new_receiving_pod_starts_a_new_wait(env: Env, spokes: dict[str, str]) -> None:
    migration = (await migrate(env)).body
    await report(
        env, spokes["east"], migration["id"], {"state": "running", "vms": [_receiving("Pending")]}
    )
    env.clock.advance(400)
    retry = {"state": "running", "vms": [_receiving("Pending", pod="virt-launcher-db-x2")]}
    await report(env, spokes["east"], migration["id"], retry)
    task = (await env.api.call("GET", f"/api/v1/tasks/{migration['task_id']}", env.admin)).body
    assert task["conditions"] == []


async def test_cancel_is_refused_once_cutover_began(env: Env, spokes: dict[str, str]) -> None:
    migration = (await migrate(env)).body
    sending = {"state": "running", "vms": [{"vm": "shop/db", "mode": "live", "phase": "cutover"}]}
    await report(env, spokes["east"], migration["id"], sending)
    answer = await env.api.call("POST", f"/api/v1/migrations/{migration['id']}/cancel", env.admin)
    assert (answer.status, answer.code) == (409, "cutover_started")
    assert "can no longer be stopped" in answer.message
    assert "shop/db" in answer.message
    still = await env.api.call("GET", f"/api/v1/migrations/{migration['id']}", env.admin)
    assert still.body["state"] == "running"


async def test_an_agent_still_running_a_job_the_hub_ended_is_told_to_stop_and_heard(
    env: Env, spokes: dict[str, str]
) -> None:
    migration = (await migrate(env)).body
    running = {"state": "running", "message": "0 of 1 VMs migrated", "vms": []}
    assert (await report(env, spokes["east"], migration["id"], running)).status == 200
    env.clock.advance(16 * 60)
    assert await env.hub.sweep() == 1, "no progress for longer than the claim: it expired"
    receipt = await report(env, spokes["east"], migration["id"], running)
    assert (receipt.body["state"], receipt.body["cancel"]) == ("failed", True)
    undoing = {
        "state": "running",
        "message": "stopping: cancelled on the hub; cleaning up what was not migrated",
        "vms": [{"vm": "shop/db", "mode": "live", "phase": "receiving"}],
    }
    await report(env, spokes["east"], migration["id"], undoing)
    task = (await env.api.call("GET", f"/api/v1/tasks/{migration['task_id']}", env.admin)).body
    assert task["state"] == "failed"
    assert task["message"].startswith("failed: the reservation expired")
    assert (task["cleanup"], task["cleaned_up_at"]) == (undoing["message"], None)
    assert task["vms"][0]["phase"] == "receiving"
    done = {
        "state": "failed",
        "message": "failed: cancelled on the hub",
        "vms": [{"vm": "shop/db", "mode": "live", "phase": "abandoned"}],
    }
    receipt = await report(env, spokes["east"], migration["id"], done)
    assert receipt.body["cancel"] is False, "a final report is not told to stop again"
    late = {**running, "message": "ignored"}
    await report(env, spokes["east"], migration["id"], late)
    task = (await env.api.call("GET", f"/api/v1/tasks/{migration['task_id']}", env.admin)).body
    assert task["cleanup"] == "failed: cancelled on the hub"
    assert task["cleaned_up_at"] is not None
    assert task["vms"][0]["phase"] == "abandoned"
    assert task["state"] == "failed"


async def test_a_stall_shows_without_waiting_for_the_agents_next_report(
    env: Env, spokes: dict[str, str]
) -> None:
    migration = (await migrate(env)).body
    task_path = f"/api/v1/tasks/{migration['task_id']}"
    why = "0/3 nodes are available: 3 Insufficient memory."
    body = {"state": "running", "vms": [_receiving("Pending", message=why)]}
    await report(env, spokes["east"], migration["id"], body)
    env.clock.advance(44)
    assert await watch_stalls(env.hub) == 0
    env.clock.advance(2)
    assert await watch_stalls(env.hub) == 1, "the hub's own clock raised it"
    assert await watch_stalls(env.hub) == 0, "raised once"
    task = (await env.api.call("GET", task_path, env.admin)).body
    [condition] = task["conditions"]
    assert (condition["vm"], why in condition["message"]) == ("shop/db", True)
    alerts = (await env.api.call("GET", "/api/v1/alerts", env.admin)).body["items"]
    assert [a["kind"] for a in alerts].count("stalled") == 1
    running = {"state": "running", "vms": [_receiving("Running")]}
    await report(env, spokes["east"], migration["id"], running)
    assert (await env.api.call("GET", task_path, env.admin)).body["conditions"] == []
    assert await watch_stalls(env.hub) == 0


async def test_the_policys_receiver_timeouts_travel_with_the_job(
    env: Env, spokes: dict[str, str]
) -> None:
    policy = {"receiver_timeouts": {"unschedulable_seconds": 900}}
    assert (await env.api.call("PUT", "/api/v1/policy", env.admin, policy)).status == 200
    await migrate(env)
    [listed] = (await jobs(env, spokes["east"])).body["items"]
    assert listed["receiver_timeouts"] == {"unschedulable_seconds": 900, "pending_seconds": None}
    job = job_of(Migration.model_validate(listed))
    assert (job.unschedulable_timeout, job.pending_timeout) == (900, None)
    journal = Journal(":memory:")
    journal.remember(job)
    assert journal.unfinished() == [job], "kept across an agent's restart"
    refused = await env.api.call(
        "PUT", "/api/v1/policy", env.admin, {"receiver_timeouts": {"pending_seconds": 0}}
    )
    assert refused.status == 400
