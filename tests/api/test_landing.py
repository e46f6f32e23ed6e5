"""A reservation shrinks as its VMs land: once the target's report received after a VM
landed counts that VM, the claim no longer holds its share, so the VM is not counted twice
while the rest of the job runs."""

from typing import Any

from tests.api.fleet import west
from tests.api.test_migrations import migrate
from tests.support.hub_env import Env


async def memory(env: Env, cluster: str = "west") -> dict[str, int]:
    detail = await env.api.call("GET", f"/api/v1/clusters/{cluster}", env.admin)
    return dict(detail.body["resources"]["memory_bytes"])


async def progress(env: Env, token: str, migration: str, *vms: dict[str, Any]) -> Any:
    body = {"state": "running", "progress": 50, "vms": list(vms)}
    path = f"/api/v1/clusters/east/jobs/{migration}/progress"
    answer = await env.api.call("POST", path, token, body)
    assert answer.status == 200, answer.body
    return answer


async def test_a_landed_vm_stops_counting_once_a_later_report_shows_it(
    env: Env, spokes: dict[str, str]
) -> None:
    accepted = await migrate(env, vms=["shop/db", "shop/web"])
    assert accepted.status == 201, accepted.body
    migration = accepted.body
    shares = migration["reservation"]["claim"]["shares"]
    assert set(shares) == {"shop/db", "shop/web"}
    db = shares["shop/db"]["resources"]["memory_bytes"]
    web = shares["shop/web"]["resources"]["memory_bytes"]
    before = await memory(env)
    assert before["reserved"] == db + web

    await progress(
        env, spokes["east"], migration["id"], {"vm": "shop/db", "mode": "live", "phase": "migrated"}
    )
    assert await memory(env) == before, "the target's report predates the landing"
    stored = await env.api.call("GET", f"/api/v1/migrations/{migration['id']}", env.admin)
    landed = stored.body["reservation"]["claim"]["shares"]["shop/db"]["landed_at"]
    assert landed is not None

    env.clock.advance(5)
    assert (await env.report(spokes["west"], west(sequence=2))).status == 202
    after = await memory(env)
    assert after["reserved"] == web
    assert after["free"] == before["free"] + db, "checks see the freed share"

    await env.restart()
    assert (await memory(env))["reserved"] == web, "the landing is stored with the claim"

    await progress(
        env, spokes["east"], migration["id"], {"vm": "shop/db", "mode": "live", "phase": "migrated"}
    )
    stored = await env.api.call("GET", f"/api/v1/migrations/{migration['id']}", env.admin)
    assert stored.body["reservation"]["claim"]["shares"]["shop/db"]["landed_at"] == landed


async def test_a_vm_that_has_not_landed_keeps_its_share(env: Env, spokes: dict[str, str]) -> None:
    migration = (await migrate(env, vms=["shop/db", "shop/web"])).body
    before = await memory(env)
    for phase in ("preparing", "receiving", "cutover", "finalizing"):
        vm = {"vm": "shop/db", "mode": "live", "phase": phase}
        await progress(env, spokes["east"], migration["id"], vm)
        env.clock.advance(5)
        await env.report(spokes["west"], west(sequence=int(env.clock.now.timestamp())))
        assert (await memory(env))["reserved"] == before["reserved"], phase
