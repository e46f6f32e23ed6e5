"""Migrations: the check gate, reservations held and released, tasks, idempotency, restart."""

from typing import Any

import pytest

from hub.models.report import KubeVirtSettings
from tests.api.fleet import east, tiny, west
from tests.support.hub_env import Env


@pytest.fixture
async def fleet(env: Env) -> Env:
    for name, built in (("east", east()), ("west", west()), ("tiny", tiny())):
        token = await env.register(name)
        assert (await env.report(token, built)).status == 202
    return env


async def migrate(env: Env, headers: dict[str, str] | None = None, **fields: Any) -> Any:
    body = {"source_cluster": "east", "target": "west", "vms": ["shop/db"], **fields}
    return await env.api.call("POST", "/api/v1/migrations", env.admin, body, headers=headers)


async def reserved_memory(env: Env, cluster: str) -> int:
    detail = await env.api.call("GET", f"/api/v1/clusters/{cluster}", env.admin)
    return int(detail.body["resources"]["memory_bytes"]["reserved"])


async def test_accepting_reserves_capacity_and_queues_a_task(fleet: Env) -> None:
    answer = await migrate(fleet)
    assert answer.status == 201
    migration = answer.body
    assert answer.headers["Location"] == f"/api/v1/migrations/{migration['id']}"
    assert (migration["state"], migration["vms"]) == ("queued", ["shop/db"])
    claim = migration["reservation"]["claim"]
    node = migration["check"]["placements"][0]["node"]
    assert claim["cluster"] == "west"
    assert node in claim["nodes"]
    assert claim["storage_bytes"]["ceph"] > 100 * 2**30
    assert await reserved_memory(fleet, "west") == claim["nodes"][node]["memory_bytes"]
    task = await fleet.api.call("GET", f"/api/v1/tasks/{migration['task_id']}", fleet.admin)
    assert task.body["state"] == "queued"
    assert task.body["progress"] == 0
    assert task.body["vms"] == [
        {
            "vm": "shop/db",
            "mode": "live",
            "phase": "pending",
            "node": node,
            "bytes_copied": 0,
            "message": "",
            "receiving_pod": None,
            "pending_since": None,
            "phase_since": None,
        }
    ]
    assert task.body["conditions"] == []
    assert "refuses to start it" in task.body["warnings"][0], "the source is kept by default"
    big = [{"name": f"big-{i}", "namespace": "lab", "guest_memory_bytes": "60Gi"} for i in (1, 2)]
    check = await fleet.api.call(
        "POST", "/api/v1/checks", fleet.admin, {"vms": big, "target": "west"}
    )
    assert check.body["target"]["verdict"] == "short", "one node's room is now reserved"
    assert "1 in-flight reservation(s)" in check.body["target"]["findings"][0]["message"]


async def test_soft_findings_must_be_acknowledged_by_code(fleet: Env) -> None:
    refused = await migrate(fleet, target="tiny")
    assert (refused.status, refused.code) == (409, "acknowledgement_required")
    details = refused.body["error"]["details"]
    assert set(details["acknowledge"]) == {"MEMORY_SHORT", "STORAGE_SHORT"}
    assert "needs 16.3 GiB on one node" in refused.message
    partial = await migrate(fleet, target="tiny", acknowledge=["MEMORY_SHORT"])
    assert partial.body["error"]["details"]["acknowledge"] == ["STORAGE_SHORT"]
    accepted = await migrate(fleet, target="tiny", acknowledge=["MEMORY_SHORT", "STORAGE_SHORT"])
    assert accepted.status == 201
    assert accepted.body["acknowledged"] == ["MEMORY_SHORT", "STORAGE_SHORT"]
    assert accepted.body["check"]["verdict"] == "short"
    task = await fleet.api.call("GET", f"/api/v1/tasks/{accepted.body['task_id']}", fleet.admin)
    assert task.body["vms"][0]["node"] is None
    assert "no CPU or memory is reserved" in task.body["vms"][0]["message"]


async def test_hard_findings_refuse_even_when_acknowledged(fleet: Env) -> None:
    token = await fleet.api.call("POST", "/api/v1/clusters/west/token", fleet.admin)
    no_kubevirt = west(sequence=2).model_copy(
        update={"kubevirt": KubeVirtSettings(installed=False)}
    )
    await fleet.report(token.body["token"], no_kubevirt)
    answer = await migrate(fleet, acknowledge=["KUBEVIRT_ABSENT"])
    assert (answer.status, answer.code) == (422, "blocked")
    assert "KUBEVIRT_ABSENT" in answer.message
    assert (await fleet.api.call("GET", "/api/v1/migrations", fleet.admin)).body["items"] == []


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"target": "east"}, 400, "invalid_field"),
        ({"target": "mars"}, 404, "unknown_cluster"),
        ({"vms": ["shop/nope"]}, 404, "vm_not_found"),
        ({"acknowledge": ["NOT_A_CODE"]}, 400, "invalid_field"),
        ({"delete_source": "perhaps"}, 400, "invalid_field"),
        ({"vms": ["shop/db", "shop/db"]}, 400, "duplicate_vm"),
        ({"storage_class_map": {"ceph": ""}}, 400, "blank_field"),
        ({"surprise": 1}, 400, "unknown_field"),
    ],
)
async def test_bad_migration_requests(
    fleet: Env, fields: dict[str, Any], status: int, code: str
) -> None:
    answer = await migrate(fleet, **fields)
    assert (answer.status, answer.code) == (status, code), answer.body


async def test_target_equal_to_source_says_so(fleet: Env) -> None:
    answer = await migrate(fleet, target="east")
    assert "target 'east' is the source cluster" in answer.message


async def test_a_vm_in_an_active_migration_cannot_be_migrated_again(fleet: Env) -> None:
    first = await migrate(fleet)
    again = await migrate(fleet, target="tiny", acknowledge=["MEMORY_SHORT", "STORAGE_SHORT"])
    assert (again.status, again.code) == (409, "vm_busy")
    assert first.body["id"] in again.message
    await fleet.api.call("POST", f"/api/v1/migrations/{first.body['id']}/cancel", fleet.admin)
    assert (await migrate(fleet)).status == 201


async def test_cancel_releases_the_reservation_and_repeating_it_is_harmless(fleet: Env) -> None:
    migration = (await migrate(fleet)).body
    queued = await fleet.api.call("GET", f"/api/v1/tasks/{migration['task_id']}", fleet.admin)
    assert any("marked as migrated" in w for w in queued.body["warnings"])
    path = f"/api/v1/migrations/{migration['id']}/cancel"
    for _ in range(2):
        answer = await fleet.api.call("POST", path, fleet.admin)
        assert answer.status == 200
        assert answer.body["state"] == "cancelled"
        assert answer.body["reservation"]["release_reason"] == "cancelled"
    assert await reserved_memory(fleet, "west") == 0
    task = await fleet.api.call("GET", f"/api/v1/tasks/{migration['task_id']}", fleet.admin)
    assert task.body["state"] == "cancelled"
    assert task.body["finished_at"] is not None
    assert "cancelled by test-admin" in task.body["message"]
    # Cancelled before any cutover: the source VM was never stopped nor marked.
    assert not any("marked as migrated" in w for w in task.body["warnings"])
    missing = await fleet.api.call("POST", "/api/v1/migrations/mig-nope/cancel", fleet.admin)
    assert (missing.status, missing.code) == (404, "unknown_migration")


async def test_idempotency_key_answers_the_same_migration(fleet: Env) -> None:
    headers = {"Idempotency-Key": "change-4711"}
    first = await migrate(fleet, headers=headers)
    second = await migrate(fleet, headers=headers)
    assert (first.status, second.status) == (201, 200)
    assert first.body["id"] == second.body["id"]
    other = await migrate(fleet, headers=headers, vms=["shop/web"])
    assert (other.status, other.code) == (409, "idempotency_key_reused")


async def test_lists_filter_by_state_and_cluster(fleet: Env) -> None:
    one = (await migrate(fleet)).body
    fleet.clock.advance(1)
    two = (await migrate(fleet, vms=["shop/web"])).body
    await fleet.api.call("POST", f"/api/v1/migrations/{one['id']}/cancel", fleet.admin)

    async def ids(path: str, **params: str) -> list[str]:
        answer = await fleet.api.call("GET", path, fleet.admin, params=params)
        return [item["id"] for item in answer.body["items"]]

    assert await ids("/api/v1/migrations") == [two["id"], one["id"]]
    assert await ids("/api/v1/migrations", state="queued") == [two["id"]]
    assert await ids("/api/v1/migrations", cluster="tiny") == []
    assert await ids("/api/v1/migrations", cluster="west", limit="1") == [two["id"]]
    assert await ids("/api/v1/tasks", state="cancelled") == [one["task_id"]]
    bad = await fleet.api.call("GET", "/api/v1/tasks", fleet.admin, params={"state": "done"})
    assert (bad.status, bad.code) == (400, "invalid_parameter")
    assert "queued, running, finished, failed, cancelled" in bad.message


async def test_restart_keeps_migrations_and_their_reservations(fleet: Env) -> None:
    migration = (await migrate(fleet)).body
    held = await reserved_memory(fleet, "west")
    await fleet.restart()
    again = await fleet.api.call("GET", f"/api/v1/migrations/{migration['id']}", fleet.admin)
    assert again.body == migration
    assert await reserved_memory(fleet, "west") == held
    busy = await migrate(fleet)
    assert busy.code == "vm_busy"


async def test_sweeper_expires_abandoned_reservations_and_records_an_alert(fleet: Env) -> None:
    migration = (await migrate(fleet)).body
    fleet.clock.advance(fleet.hub.settings.claim_ttl.total_seconds() - 1)
    assert await fleet.hub.sweep() == 0
    fleet.clock.advance(2)
    assert await fleet.hub.sweep() == 1
    assert await fleet.hub.sweep() == 0
    assert await reserved_memory(fleet, "west") == 0
    alerts = await fleet.api.call("GET", "/api/v1/alerts", fleet.admin)
    [alert] = alerts.body["items"]
    assert alert["kind"] == "reservation-expired"
    assert alert["migration_id"] == migration["id"]
    after = await fleet.api.call("GET", f"/api/v1/migrations/{migration['id']}", fleet.admin)
    assert after.body["reservation"]["release_reason"] == "expired"


async def test_expiry_fails_the_migration_and_frees_its_vms(fleet: Env) -> None:
    migration = (await migrate(fleet)).body
    fleet.clock.advance(fleet.hub.settings.claim_ttl.total_seconds() + 1)
    assert await fleet.hub.sweep() == 1
    task = await fleet.api.call("GET", f"/api/v1/tasks/{migration['task_id']}", fleet.admin)
    assert task.body["state"] == "failed"
    assert "reservation expired" in task.body["message"]
    after = await fleet.api.call("GET", f"/api/v1/migrations/{migration['id']}", fleet.admin)
    assert after.body["state"] == "failed"
    for name, built in (("east", east(sequence=2)), ("west", west(sequence=2))):
        token = await fleet.api.call("POST", f"/api/v1/clusters/{name}/token", fleet.admin)
        await fleet.report(token.body["token"], built)
    assert (await migrate(fleet)).status == 201, "the VM is free to migrate again"


async def test_an_idempotent_repeat_answers_after_the_vm_left_the_report(fleet: Env) -> None:
    headers = {"Idempotency-Key": "change-4712"}
    first = await migrate(fleet, headers=headers)
    token = (await fleet.api.call("POST", "/api/v1/clusters/east/token", fleet.admin)).body
    await fleet.report(token["token"], east(sequence=2).model_copy(update={"vms": ()}))
    again = await migrate(fleet, headers=headers)
    assert (again.status, again.body["id"]) == (200, first.body["id"])
    odd = await migrate(fleet, headers={"Idempotency-Key": "caf\xe9"})
    assert (odd.status, odd.code) == (400, "invalid_header")
