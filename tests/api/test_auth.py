"""Roles, token lifecycle and the first-start admin token."""

import logging
import stat
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from hub.api import app as api
from hub.api.access_log import AccessLogger
from hub.api.routing import Route
from hub.models.api import Role
from tests.api.fleet import west
from tests.support.clock import FakeClock
from tests.support.hub_env import Env

CALLS: dict[str, tuple[str, str, Any, str]] = {
    "read": ("GET", "/api/v1/clusters", None, "viewer"),
    "check": (
        "POST",
        "/api/v1/checks",
        {"vms": [{"name": "a", "namespace": "b", "guest_memory_bytes": "1Gi"}]},
        "operator",
    ),
    "register": ("POST", "/api/v1/clusters", {"name": "new-one"}, "admin"),
    "policy": ("PUT", "/api/v1/policy", {"max_suggestions": 3}, "admin"),
}


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("viewer", {"read"}),
        ("operator", {"read", "check"}),
        ("admin", {"read", "check", "register", "policy"}),
    ],
)
async def test_each_role_reaches_exactly_its_endpoints(
    env: Env, role: str, allowed: set[str]
) -> None:
    token = await env.token(role)
    for name, (method, path, body, needed) in CALLS.items():
        answer = await env.api.call(method, path, token, body)
        if name in allowed:
            assert answer.status < 300, (role, path, answer.body)
        else:
            assert (answer.status, answer.code) == (403, "forbidden"), (role, path)
            assert f"needs the {needed} role" in answer.message


async def test_spoke_tokens_only_report(env: Env) -> None:
    spoke = await env.register("west")
    assert (await env.api.call("GET", "/api/v1/clusters", spoke)).status == 403
    assert (await env.report(spoke, west())).status == 202


async def test_missing_malformed_and_revoked_tokens_are_401(env: Env) -> None:
    missing = await env.api.call("GET", "/api/v1/clusters")
    assert (missing.status, missing.code) == (401, "missing_token")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await env.api.call("GET", "/api/v1/clusters", "nonsense")).status == 401
    viewer = await env.token("viewer")
    listed = await env.api.call("GET", "/api/v1/tokens", env.admin)
    viewer_id = next(t["id"] for t in listed.body["items"] if t["name"] == "test-viewer")
    assert (await env.api.call("DELETE", f"/api/v1/tokens/{viewer_id}", env.admin)).status == 204
    assert (await env.api.call("GET", "/api/v1/clusters", viewer)).status == 401
    again = await env.api.call("DELETE", f"/api/v1/tokens/{viewer_id}", env.admin)
    assert (again.status, again.code) == (404, "unknown_token")


async def test_rotating_a_cluster_token_retires_the_old_one(env: Env) -> None:
    old = await env.register("west")
    new = (await env.api.call("POST", "/api/v1/clusters/west/token", env.admin)).body["token"]
    assert (await env.report(old, west())).status == 401
    assert (await env.report(new, west())).status == 202


async def test_spoke_tokens_cannot_be_minted_directly(env: Env) -> None:
    answer = await env.api.call("POST", "/api/v1/tokens", env.admin, {"name": "x", "role": "spoke"})
    assert (answer.status, answer.code) == (400, "invalid_field")
    assert "registering a cluster" in answer.message


async def test_policy_is_validated_stored_and_survives_restart(env: Env) -> None:
    bad = await env.api.call(
        "PUT", "/api/v1/policy", env.admin, {"staleness": {"soft_seconds": 60, "hard_seconds": 30}}
    )
    assert (bad.status, bad.code) == (400, "invalid_policy")
    assert "hard_seconds must be greater" in bad.message
    good = await env.api.call("PUT", "/api/v1/policy", env.admin, {"max_suggestions": 2})
    assert good.body["max_suggestions"] == 2
    env.policy = None
    await env.restart()
    assert (await env.api.call("GET", "/api/v1/policy", env.admin)).body["max_suggestions"] == 2


async def test_first_start_writes_an_admin_token_readable_only_by_its_owner(
    env: Env, tmp_path: Path
) -> None:
    path = tmp_path / "secrets" / "admin.token"
    assert await env.hub.bootstrap_admin(path) is None, "an admin token already exists"
    fresh = Env(tmp_path / "fresh.db", env.clock, None)
    await fresh.start()
    try:
        for token in list(fresh.hub.tokens.values()):
            await fresh.hub.revoke(token.id)
        assert await fresh.hub.bootstrap_admin(path) == path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        token = path.read_text().strip()
        assert (await fresh.api.call("GET", "/api/v1/tokens", token)).status == 200
        assert await fresh.hub.bootstrap_admin(path) is None
    finally:
        await fresh.stop()


async def test_odd_tokens_and_parameters_are_4xx(env: Env) -> None:
    known = next(iter(env.hub.tokens))
    odd = await env.api.call("GET", "/api/v1/clusters", f"cclm_{known}_caf\xe9")
    assert odd.status == 401
    limit = await env.api.call("GET", "/api/v1/migrations", env.admin, params={"limit": "²"})
    assert (limit.status, limit.code) == (400, "invalid_parameter")
    deep = b'{"a":' * 100_000 + b"1" + b"}" * 100_000
    nested = await env.api.call(
        "PUT", "/api/v1/policy", env.admin, raw=deep, headers={"Content-Type": "application/json"}
    )
    assert (nested.status, nested.code) == (400, "invalid_json")


SPOKE_ROUTES = [r for r in api.routes() if r.role == Role.SPOKE]


def _path(route: Route, cluster: str) -> str:
    return (
        route.path.replace("{cluster}", cluster).replace("{name}", cluster).replace("{id}", "mig-0")
    )


@pytest.mark.parametrize("route", SPOKE_ROUTES, ids=[f"{r.method} {r.path}" for r in SPOKE_ROUTES])
async def test_a_spoke_route_answers_only_its_clusters_own_token(env: Env, route: Route) -> None:
    """An admin, operator or viewer token must not speak for a cluster's agent: with the
    admin token one could replace an agent's sealing key and fetch the grant sealed to it."""
    await env.register("east")
    west_token = await env.register("west")
    for role in ("admin", "operator", "viewer"):
        token = env.admin if role == "admin" else await env.token(role)
        answer = await env.api.call(route.method, _path(route, "east"), token, body={})
        assert (answer.status, answer.code) == (403, "forbidden"), (role, answer.body)
        assert "for spoke agents" in answer.message
    other = await env.api.call(route.method, _path(route, "east"), west_token, body={})
    assert (other.status, other.code) == (403, "wrong_cluster"), other.body


async def test_the_embedded_store_and_its_folder_are_the_hub_users_alone(tmp_path: Path) -> None:
    home = tmp_path / "cclm"
    hub = Env(home / "hub.db", FakeClock(), None)
    await hub.start()
    try:
        await hub.register("east")
    finally:
        await hub.stop()
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    for name in ("hub.db", "hub.db-wal", "hub.db-shm"):
        if (home / name).exists():
            assert stat.S_IMODE((home / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE((home / "hub.db").stat().st_mode) == 0o600


async def test_a_token_in_the_url_is_refused_whoever_sends_it(env: Env) -> None:
    for name in ("token", "access_token", "Authorization"):
        answer = await env.api.call("GET", "/api/v1/clusters", None, params={name: env.admin})
        assert (answer.status, answer.code) == (400, "credentials_in_url"), name
        assert "Authorization header" in answer.message
    allowed = await env.api.call("GET", "/api/v1/clusters", env.admin, params={"label": "a=b"})
    assert allowed.status == 200


def test_the_access_log_leaves_the_query_string_out(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    request = make_mocked_request("GET", "/api/v1/clusters?token=cclm_abc_s3cret")
    AccessLogger(logging.getLogger("test.access"), "").log(request, web.Response(), 0.002)
    assert '"GET /api/v1/clusters" 200' in caplog.text
    assert "s3cret" not in caplog.text
