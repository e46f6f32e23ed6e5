"""The console's migrate action on one VM: `target` required and not the VM's own cluster,
202 with the task, the kept source called out, cancel until cutover."""

from typing import Any

import pytest

from tests.api.fleet import east, west
from tests.support.hub_env import Env

PATH = "/api/v1/clusters/east/vms/shop/db/migrate"
NO_VM = "/api/v1/clusters/east/vms/shop/nope/migrate"
NO_SOURCE = "/api/v1/clusters/mars/vms/shop/db/migrate"


@pytest.fixture
async def fleet(env: Env) -> Env:
    for name, built in (("east", east()), ("west", west())):
        token = await env.register(name)
        assert (await env.report(token, built)).status == 202
    return env


async def migrate(env: Env, body: dict[str, Any], path: str = PATH, **kw: Any) -> Any:
    return await env.api.call("POST", path, env.admin, body, **kw)


async def test_migrating_one_vm_answers_its_queued_task_with_a_warning(fleet: Env) -> None:
    answer = await migrate(fleet, {"target": "west"})
    assert answer.status == 202
    task = answer.body
    assert answer.headers["Location"] == f"/api/v1/tasks/{task['id']}"
    assert (task["state"], task["source_cluster"], task["target_cluster"]) == (
        "queued",
        "east",
        "west",
    )
    assert [v["vm"] for v in task["vms"]] == ["shop/db"]
    assert "starting it again would run a second copy" in task["warnings"][0]
    migration = await fleet.api.call(
        "GET", f"/api/v1/migrations/{task['migration_id']}", fleet.admin
    )
    assert (migration.body["delete_source"], migration.body["vms"]) == (False, ["shop/db"])
    again = await migrate(fleet, {"target": "west"})
    assert (again.status, again.code) == (409, "vm_busy")


async def test_deleting_the_source_needs_no_warning(fleet: Env) -> None:
    answer = await migrate(fleet, {"target": "west", "delete_source": True})
    assert (answer.status, answer.body["warnings"]) == (202, [])


async def test_an_idempotent_repeat_answers_the_same_task(fleet: Env) -> None:
    headers = {"Idempotency-Key": "console-42"}
    first = await migrate(fleet, {"target": "west"}, headers=headers)
    second = await migrate(fleet, {"target": "west"}, headers=headers)
    assert (first.status, second.status) == (202, 202)
    assert first.body["id"] == second.body["id"]


@pytest.mark.parametrize(
    ("body", "path", "status", "code", "says"),
    [
        ({}, PATH, 400, "missing_target", "target cluster is required"),
        ({"target": "   "}, PATH, 400, "missing_target", "target cluster is required"),
        ({"target": "east"}, PATH, 400, "target_is_source", "already runs on"),
        ({"target": "mars"}, PATH, 404, "unknown_cluster", "mars"),
        ({"target": "west"}, NO_VM, 404, "vm_not_found", "reports no VM"),
        ({"target": "West!"}, PATH, 400, "invalid_field", "target"),
        ({"target": "west", "delete_source": "maybe"}, PATH, 400, "invalid_field", ""),
        ({"target": "west", "extra": 1}, PATH, 400, "unknown_field", ""),
        (
            {"target": "west"},
            "/api/v1/clusters/mars/vms/shop/db/migrate",
            404,
            "unknown_cluster",
            "",
        ),
    ],
    ids=[
        "no target",
        "a blank target",
        "the VM's own cluster",
        "an unknown target",
        "an unknown VM",
        "a target that is no cluster name",
        "a delete_source that is no boolean",
        "an unknown field",
        "an unknown source cluster",
    ],
)
async def test_a_bad_request_says_what_to_fix(
    fleet: Env, body: dict[str, Any], path: str, status: int, code: str, says: str
) -> None:
    answer = await migrate(fleet, body, path)
    assert (answer.status, answer.code) == (status, code), answer.body
    assert says in answer.message


async def test_a_viewer_may_not_migrate(fleet: Env) -> None:
    viewer = await fleet.token("viewer")
    answer = await fleet.api.call("POST", PATH, viewer, {"target": "west"})
    assert answer.status == 403
