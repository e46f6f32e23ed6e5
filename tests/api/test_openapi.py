"""The OpenAPI document is valid, complete, served, and every answer in these tests matches
it (the `Api` client checks each one). Junk input of every shape gets a documented 4xx."""

import copy
import gzip
import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from openapi_spec_validator import validate

from hub.api import app as api
from hub.api import console
from tests.api.fleet import east, west
from tests.support.hub_env import Answer, Env, check_against_spec


def test_the_document_is_valid_openapi() -> None:
    validate(api.spec())


async def test_every_route_is_documented_and_the_served_document_is_the_same(env: Env) -> None:
    spec = api.spec()
    served = await env.api.client.get("/api/v1/openapi.json")
    assert await served.json() == spec
    app = env.api.client.server.app
    routes = {
        (r.method, r.resource.canonical)
        for r in app.router.routes()
        if r.method != "HEAD" and r.resource is not None
    }
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    pages = {("GET", path) for path in console.PATHS}
    assert pages <= routes, "the console is served"
    assert routes - pages == documented


def test_the_answer_check_rejects_an_undocumented_shape() -> None:
    wrong = Answer(200, {"items": [{"name": 3}]}, {})
    with pytest.raises(jsonschema.ValidationError):
        check_against_spec(api.spec(), "GET", "/api/v1/clusters", wrong)
    with pytest.raises(AssertionError, match="not documented"):
        check_against_spec(api.spec(), "GET", "/api/v1/clusters", Answer(302, None, {}))


JUNK: tuple[Any, ...] = (None, "", "  ", -1, 0, 2**70, 1e308, True, [], {}, "x" * 5000, [{}], "../")


def mutations(body: dict[str, Any]) -> Iterator[Any]:
    """The body with each field removed, then set to each kind of junk, one level deep too."""
    for key in list(body):
        trimmed = dict(body)
        del trimmed[key]
        yield trimmed
        for junk in JUNK:
            yield {**body, key: junk}
            if isinstance(body[key], dict | list) and body[key]:
                inner = copy.deepcopy(body[key])
                first = next(iter(inner)) if isinstance(inner, dict) else 0
                inner[first] = junk
                yield {**body, key: inner}
    yield from JUNK
    yield {**body, "unexpected": 1}


VALID = {
    "/api/v1/checks": {"vms": ["east/shop/db"], "target": "west", "storage_class_map": {"a": "b"}},
    "/api/v1/migrations": {
        "source_cluster": "east",
        "target": "west",
        "vms": ["shop/db"],
        "acknowledge": [],
        "storage_class_map": {"ceph": "ceph"},
    },
    "/api/v1/clusters": {"name": "fresh", "labels": {"a": "b"}},
    "/api/v1/tokens": {"name": "t", "role": "viewer"},
    "/api/v1/policy": {"headroom_percent": {"cpu": 5}, "max_suggestions": 2},
}


@pytest.mark.parametrize("path", sorted(VALID))
async def test_junk_bodies_never_break_the_hub(env: Env, path: str) -> None:
    for name, built in (("east", east()), ("west", west())):
        await env.report(await env.register(name), built)
    method = "PUT" if path.endswith("policy") else "POST"
    seen = 0
    for body in mutations(VALID[path]):
        answer = await env.api.call(
            method,
            path,
            env.admin,
            raw=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert answer.status < 500, (body, answer.body)
        if answer.status >= 400:
            assert answer.body["error"]["message"], body
        seen += 1
    for raw in (b"\xff\xfe", b"[", b"null", b"{}" * 3, b'{"a":' * 200):
        answer = await env.api.call(
            method, path, env.admin, raw=raw, headers={"Content-Type": "application/json"}
        )
        assert 400 <= answer.status < 500, raw
    assert seen > 30


async def test_junk_reports_never_break_the_hub(env: Env) -> None:
    token = await env.register("west")
    valid = west().model_dump(mode="json")
    for body in mutations(valid):
        answer = await env.api.call("POST", "/api/v1/clusters/west/reports", token, body=body)
        assert answer.status in (200, 202, 400), (body, answer.body)


async def test_unknown_paths_and_methods_answer_in_the_error_shape(env: Env) -> None:
    missing = await env.api.client.get("/api/v1/nothing-here")
    assert (missing.status, (await missing.json())["error"]["code"]) == (404, "not_found")
    wrong = await env.api.client.delete("/api/v1/clusters")
    body = await wrong.json()
    assert (wrong.status, body["error"]["code"]) == (405, "method_not_allowed")
    assert "GET" in body["error"]["details"]["allowed"]
    assert wrong.headers["Allow"] == ", ".join(body["error"]["details"]["allowed"])


async def test_health_and_metrics(env: Env) -> None:
    assert (await env.api.call("GET", "/healthz")).body == {"status": "ok"}
    assert (await env.api.call("GET", "/readyz")).body == {"status": "ready"}
    await env.api.call("GET", "/api/v1/clusters", env.admin)
    metrics = await (await env.api.client.get("/metrics")).text()
    assert (
        'cclm_hub_requests_total{method="GET",route="/api/v1/clusters",status="200"} 1.0' in metrics
    )
    assert 'cclm_hub_clusters{freshness="fresh"}' in metrics


async def test_every_report_counts_by_whether_it_was_newer(env: Env) -> None:
    token = await env.register("east")
    assert (await env.report(token, east())).status == 202
    assert (await env.report(token, east())).status == 200
    assert (await env.report(token, east())).status == 200
    metrics = await (await env.api.client.get("/metrics")).text()
    assert 'cclm_hub_reports_total{applied="true"} 1.0' in metrics
    assert 'cclm_hub_reports_total{applied="false"} 2.0' in metrics


async def test_a_blank_parameter_is_refused_unless_it_is_an_empty_list(env: Env) -> None:
    """The document says a parameter is not blank, so `state=` is refused rather than read
    as no filter; a list parameter such as `known=` may be empty."""
    blanks = (("/api/v1/migrations", "state", ""), ("/api/v1/tasks", "limit", " "))
    for path, name, value in (*blanks, ("/api/v1/clusters", "label", "")):
        answer = await env.api.call("GET", path, env.admin, params={name: value})
        assert answer.status == 400, path
        assert answer.code == "invalid_parameter"
        assert "is empty: give it a value or leave it out" in answer.message
    spoke = await env.register("east")
    listed = await env.api.call("GET", "/api/v1/clusters/east/jobs", spoke, params={"known": ""})
    assert listed.status == 200


async def test_a_control_character_in_a_parameter_or_path_is_refused(env: Env) -> None:
    """PostgreSQL refuses a NUL in text outright; the hub refuses it first, on either store,
    with a 400 that names the part of the URL, and the document says so."""
    spoke = await env.register("east")
    asked = (
        ("/api/v1/migrations", {"cluster": "\x00east"}, "query parameter cluster"),
        ("/api/v1/clusters", {"label": "env=a\nb"}, "query parameter label"),
        ("/api/v1/clusters/east/jobs", {"known": "a\x7f"}, "query parameter known"),
        ("/api/v1/clusters/%00east", {}, "path segment name"),
    )
    for path, params, named in asked:
        token = spoke if "jobs" in path else env.admin
        answer = await env.api.call("GET", path, token, params=params)
        assert answer.status == 400, path
        assert answer.code == "invalid_parameter"
        assert answer.message.startswith(f"{named} holds a control character"), answer.message
    parameters = api.spec()["paths"]["/api/v1/migrations"]["get"]["parameters"]
    cluster = next(p for p in parameters if p["name"] == "cluster")
    assert not re.search(cluster["schema"]["pattern"], "\x00east")
    assert re.search(cluster["schema"]["pattern"], "east")


async def test_a_nul_anywhere_in_a_body_is_refused_before_any_store_sees_it(env: Env) -> None:
    """PostgreSQL answered 500 to a token named "a\\u0000b"; every body, compressed or not,
    report or request, is refused alike on both stores, and an escaped backslash before
    `u0000` is only text."""
    spoke = await env.register("east")
    before = env.sql("SELECT count(*) FROM tokens")
    sent = east().model_dump(mode="json")
    sent["vms"][0]["name"] = "db\x00"
    bodies = (
        ("/api/v1/tokens", env.admin, json.dumps({"name": "a\x00b", "role": "viewer"}), {}),
        ("/api/v1/clusters/east/reports", spoke, json.dumps(sent), {}),
        ("/api/v1/clusters/east/reports", spoke, json.dumps(sent), {"Content-Encoding": "gzip"}),
    )
    for path, token, text, headers in bodies:
        raw = gzip.compress(text.encode()) if headers else text.encode()
        headers = {"Content-Type": "application/json", **headers}
        answer = await env.api.call("POST", path, token, raw=raw, headers=headers)
        assert (answer.status, answer.code) == (400, "invalid_body"), path
        assert "holds a NUL character" in answer.message
    assert env.sql("SELECT count(*) FROM tokens") == before
    text = json.dumps({"name": "a\\u0000b", "role": "viewer"})  # the text \\u0000
    answer = await env.api.call("POST", "/api/v1/tokens", env.admin, body=json.loads(text))
    assert answer.status == 201


def test_the_document_states_what_the_models_check_by_hand() -> None:
    schemas = api.spec()["components"]["schemas"]
    assert schemas["TokenRequest"]["properties"]["role"]["enum"] == ["viewer", "operator", "admin"]
    assert schemas["VmMigrationRequest"]["required"] == ["target"]
    assert schemas["SealingKey"]["properties"]["public_key"]["pattern"] == "^[A-Za-z0-9_-]{43}=$"
    assert [c["required"] for c in schemas["CheckBody"]["anyOf"]] == [["vms"], ["manifests"]]


def test_each_operation_has_a_name_that_says_what_it_does() -> None:
    """Generated clients name their methods after these (a bare `create` or `cancel` says
    nothing of what is created or cancelled)."""
    operations = [
        op["operationId"]
        for path in api.spec()["paths"].values()
        for method, op in path.items()
        if method in ("get", "post", "put", "delete", "patch")
    ]
    assert len(operations) == len(set(operations))
    bare = {"create", "cancel", "register", "rotate", "ingest", "progress", "events", "list"}
    assert [name for name in operations if name in bare] == []
