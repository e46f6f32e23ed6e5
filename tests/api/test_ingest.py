"""Registration and report ingest: tokens, idempotent sequences, gzip, limits, validation."""

import gzip
import json

import pytest

from hub.settings import Bounds, Limits
from hub.store.sql.schema import SCHEMA_VERSIONS
from tests.api.fleet import east, west
from tests.support.hub_env import Answer, Env


async def test_registration_shows_the_token_once_and_stores_only_its_hash(env: Env) -> None:
    token = await env.register("east", {"region": "eu"})
    assert token.startswith("cclm_")
    listed = await env.api.call("GET", "/api/v1/tokens", env.admin)
    assert all("token" not in item for item in listed.body["items"])
    assert {"spoke:east"} <= {item["name"] for item in listed.body["items"]}
    secret = token.rsplit("_", 1)[1]
    assert secret not in env.dump()
    again = await env.api.call("POST", "/api/v1/clusters", env.admin, {"name": "east"})
    assert (again.status, again.code) == (409, "cluster_exists")


async def test_newer_report_applies_and_older_or_equal_is_acknowledged_and_ignored(
    env: Env,
) -> None:
    token = await env.register("west")
    first = await env.report(token, west(sequence=5))
    assert first.status == 202
    assert first.body == {"cluster": "west", "sequence": 5, "applied": True, "stored_sequence": 5}
    for sequence in (5, 3):
        stale = await env.report(token, west(sequence=sequence, memory="8Gi"))
        assert stale.status == 200
        assert (stale.body["applied"], stale.body["stored_sequence"]) == (False, 5)
    detail = await env.api.call("GET", "/api/v1/clusters/west", env.admin)
    assert detail.body["report_sequence"] == 5
    assert detail.body["resources"]["memory_bytes"]["allocatable"] == 2 * 64 * 2**30


async def test_gzip_bodies_are_accepted(env: Env) -> None:
    token = await env.register("east")
    answer = await env.report(token, east(), gzipped=True)
    assert answer.status == 202
    vms = await env.api.call("GET", "/api/v1/clusters/east/vms", env.admin)
    assert [v["name"] for v in vms.body["items"]] == ["db", "web", "cache"]


async def test_a_spoke_reports_only_for_its_own_cluster(env: Env) -> None:
    east_token = await env.register("east")
    await env.register("west")
    answer = await env.report(east_token, west())
    assert (answer.status, answer.code) == (403, "wrong_cluster")
    viewer = await env.token("viewer")
    assert (await env.report(viewer, west())).status == 403
    assert (await env.report("", west())).code == "missing_token"
    forged = east_token[:-4] + "AAAA"
    assert (await env.report(forged, east())).status == 401


async def _post_json(env: Env, cluster: str, token: str, raw: bytes) -> Answer:
    """A report body as bytes, for what `Env.report` cannot send: a body that is not the
    cluster's, or not a current CapacityReport."""
    return await env.api.call(
        "POST",
        f"/api/v1/clusters/{cluster}/reports",
        token,
        raw=raw,
        headers={"Content-Type": "application/json"},
    )


async def test_report_for_another_cluster_in_the_body_is_refused(env: Env) -> None:
    token = await env.register("west")
    body = west().model_copy(update={"cluster": "east"}).model_dump_json().encode()
    answer = await _post_json(env, "west", token, body)
    assert (answer.status, answer.code) == (400, "cluster_mismatch")


async def test_malformed_or_invalid_reports_are_400_and_change_nothing(env: Env) -> None:
    token = await env.register("west")
    assert (await env.report(token, west(sequence=1))).status == 202
    headers = {"Content-Type": "application/json"}
    path = "/api/v1/clusters/west/reports"
    broken = await env.api.call("POST", path, token, raw=b'{"cluster": "west", ', headers=headers)
    assert (broken.status, broken.code) == (400, "invalid_report")
    data = west(sequence=2).model_dump(mode="json")
    data["nodes"][1]["allocatable"]["memory_bytes"] = "lots"
    invalid = await env.api.call("POST", path, token, body=data)
    assert invalid.status == 400
    assert invalid.body["error"]["details"][0]["field"] == "nodes.1.allocatable.memory_bytes"
    assert "nodes.1.allocatable.memory_bytes" in invalid.message
    detail = await env.api.call("GET", "/api/v1/clusters/west", env.admin)
    assert detail.body["report_sequence"] == 1


async def test_oversized_reports_are_413_even_when_gzip_hides_the_size(env: Env) -> None:
    token = await env.register("west")
    env.hub.settings = env.hub.settings.__class__(max_report_bytes=10_000)
    padding = b'{"pad": "' + b"x" * 50_000 + b'"}'
    answer = await env.api.call(
        "POST",
        "/api/v1/clusters/west/reports",
        token,
        raw=gzip.compress(padding),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert (answer.status, answer.code) == (413, "payload_too_large")
    assert "10,000 bytes" in answer.message


async def test_reports_take_the_clusters_own_token_and_json_only(env: Env) -> None:
    answer = await env.api.call("POST", "/api/v1/clusters/nowhere/reports", env.admin, body={})
    assert (answer.status, answer.code) == (403, "forbidden"), "not even an admin's token"
    token = await env.register("west")
    text = await env.api.call(
        "POST",
        "/api/v1/clusters/west/reports",
        token,
        raw=b"hello",
        headers={"Content-Type": "text/plain"},
    )
    assert (text.status, text.code) == (400, "unsupported_media_type")


async def test_restart_serves_persisted_reports_at_once(env: Env) -> None:
    token = await env.register("west", {"region": "us"})
    await env.report(token, west(sequence=7))
    await env.restart()
    detail = await env.api.call("GET", "/api/v1/clusters/west", env.admin)
    assert detail.body["report_sequence"] == 7
    assert detail.body["labels"] == {"region": "us"}
    assert (await env.report(token, west(sequence=7))).body["applied"] is False
    assert [tuple(row) for row in env.sql("SELECT max(version) FROM schema_version")] == [
        (len(SCHEMA_VERSIONS),)
    ]


async def test_corrupt_truncated_or_unknown_encodings_are_400(env: Env) -> None:
    token = await env.register("west")
    packed = gzip.compress(west().model_dump_json().encode())
    path = "/api/v1/clusters/west/reports"
    cases = [
        (b"\x1f\x8b" + b"\x00" * 40, "gzip", "invalid_encoding"),
        (packed[: len(packed) // 2], "gzip", "invalid_encoding"),
        (b"xyz", "deflate", "invalid_encoding"),
        (packed, "br", "unsupported_encoding"),
    ]
    for raw, encoding, code in cases:
        headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
        answer = await env.api.call("POST", path, token, raw=raw, headers=headers)
        assert (answer.status, answer.code) == (400, code), (encoding, answer.body)
    check = await env.api.call(
        "POST",
        "/api/v1/checks",
        env.admin,
        raw=b"\x1f\x8b\x00",
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert (check.status, check.code) == (400, "invalid_encoding")


async def test_validation_in_worker_processes_answers_the_same(env: Env) -> None:
    env.settings = Limits(intake_workers=1)
    await env.restart()
    token = await env.register("west")
    assert (await env.report(token, west(sequence=3), gzipped=True)).status == 202
    assert (await env.report(token, west(sequence=3))).body["applied"] is False
    data = west(sequence=4).model_dump(mode="json")
    data["nodes"][0]["ready"] = "perhaps"
    invalid = await env.api.call("POST", "/api/v1/clusters/west/reports", token, body=data)
    assert (invalid.status, invalid.code) == (400, "invalid_report")
    assert invalid.body["error"]["details"][0]["field"] == "nodes.0.ready"
    detail = await env.api.call("GET", "/api/v1/clusters/west", env.admin)
    assert (detail.body["report_sequence"], detail.body["nodes"]) == (3, 2)


async def test_data_after_the_gzip_stream_is_refused(env: Env) -> None:
    token = await env.register("west")
    packed = gzip.compress(west().model_dump_json().encode()) + b"junk" * 1000
    answer = await env.api.call(
        "POST",
        "/api/v1/clusters/west/reports",
        token,
        raw=packed,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert (answer.status, answer.code) == (400, "invalid_encoding")
    assert "after the end" in answer.message


async def test_a_dead_validation_worker_is_replaced(env: Env) -> None:
    env.settings = Limits(intake_workers=1)
    await env.restart()
    token = await env.register("west")
    pool = env.hub._intake
    assert pool is not None
    for process in list(pool._processes.values()):  # type: ignore[attr-defined]
        process.kill()
        process.join()
    assert (await env.report(token, west(sequence=2))).status == 202
    assert (await env.report(token, west(sequence=3))).status == 202
    assert env.hub._intake is not pool


V1_REPORT = {
    "schema_version": 1,
    "cluster": "old",
    "sequence": 3,
    "generated_at": "2026-11-23T12:00:00Z",
    "kubevirt": {"installed": True, "version": "v1.5.2", "cpu_allocation_ratio": 5},
    "nodes": [
        {
            "name": "old-1",
            "labels": {"kubevirt.io/schedulable": "true", "kubernetes.io/arch": "amd64"},
            "allocatable": {"cpu_millis": "16", "memory_bytes": "64Gi"},
            "requested": {"cpu_millis": "1", "memory_bytes": "4Gi"},
        }
    ],
    "storage_classes": [{"name": "ceph", "is_default": True}],
    "vms": [{"name": "db", "namespace": "shop", "guest_memory_bytes": "8Gi", "cpu": {"cores": 2}}],
}
"""What an agent not yet upgraded sends: schema 1, KubeVirt settings flat, VMs flat."""


async def test_a_v1_report_from_an_older_agent_is_accepted_and_read_as_v2(env: Env) -> None:
    token = await env.register("old")
    raw = json.dumps(V1_REPORT).encode()
    answer = await _post_json(env, "old", token, raw)
    assert (answer.status, answer.body["applied"]) == (202, True), answer.body
    new_token = await env.register("new2")
    assert (
        await env.report(new_token, west().model_copy(update={"cluster": "new2"}))
    ).status == 202
    check = await env.api.call(
        "POST", "/api/v1/checks", env.admin, {"vms": ["old/shop/db"], "target": "new2"}
    )
    assert check.status == 200, check.body
    [placement] = check.body["target"]["placements"]
    # The VM is sized on the target (v1.9.0 rules): 2 vCPU / cpuAllocationRatio 10 + the
    # console log's 5m; memory: the guest + 220 fixed + 2 x 8 vCPU + 8 IOThread + 32 video MiB.
    assert placement["cpu_millis"] == 205
    assert placement["memory_bytes"] == 8 * 2**30 + (220 + 16 + 8 + 32) * 2**20 + 35 * 10**6
    listed = await env.api.call("GET", "/api/v1/clusters/old", env.admin)
    assert (
        listed.body["kubevirt"]["configuration"]["developerConfiguration"]["cpuAllocationRatio"]
        == 5
    )


async def test_a_report_of_an_unknown_schema_version_is_refused_by_name(env: Env) -> None:
    token = await env.register("old")
    raw = json.dumps({**V1_REPORT, "schema_version": 7}).encode()
    answer = await _post_json(env, "old", token, raw)
    assert (answer.status, answer.code) == (400, "invalid_report"), answer.body
    assert answer.message.endswith("schema_version: Input should be 1 or 2")


async def test_a_sequence_far_ahead_of_the_hubs_clock_is_refused(env: Env) -> None:
    """Taken, such a report would make every later one look old: the cluster's capacity
    would be frozen for good (2**63 - 1 was once accepted)."""
    token = await env.register("west")
    now_ms = int(env.clock().timestamp() * 1000)
    for sequence in (2**63 - 1, now_ms + 2 * 86_400_000):
        refused = await env.report(token, west(sequence=sequence))
        assert (refused.status, refused.code) == (400, "sequence_ahead"), sequence
        assert "ahead of this hub's clock" in refused.message
    assert (await env.report(token, west(sequence=now_ms + 3_600_000))).status == 202
    assert (await env.report(token, west(sequence=now_ms + 3_600_001))).status == 202


@pytest.mark.parametrize(
    ("where", "name"),
    [
        ("nodes", "n" * 100_000),
        ("nodes", "worker\x01one"),
        ("nodes", "Worker-1"),
        ("storage_classes", "-fast"),
    ],
    ids=["a node name of 100,000 characters", "a control character", "upper case", "a dash"],
)
async def test_a_report_naming_what_kubernetes_would_not_admit_is_refused(
    env: Env, where: str, name: str
) -> None:
    token = await env.register("west")
    body = west().model_dump(mode="json")
    body[where][0]["name"] = name
    path = "/api/v1/clusters/west/reports"
    answer = await env.api.call("POST", path, token, body=body)
    assert answer.status == 400, answer.body
    assert answer.code == "invalid_report"
    assert f"{where}.0.name" in json.dumps(answer.body["error"])


async def test_a_report_listing_more_than_the_hub_takes_is_413_saying_what(env: Env) -> None:
    env.settings = Limits(report_bounds=Bounds(nodes=2, vms=1))
    await env.restart()
    token = await env.register("west")
    body = west().model_dump(mode="json")
    body["nodes"] = [{**body["nodes"][0], "name": f"w-{i}"} for i in range(3)]
    path = "/api/v1/clusters/west/reports"
    answer = await env.api.call("POST", path, token, body=body)
    assert (answer.status, answer.code) == (413, "payload_too_large")
    assert answer.message == "the report lists 3 nodes; this hub takes at most 2 per report"
    body["nodes"] = body["nodes"][:2]
    assert (await env.api.call("POST", path, token, body=body)).status == 202


async def test_an_admin_lets_a_cluster_whose_sequence_ran_ahead_report_again(env: Env) -> None:
    token = await env.register("west")
    ahead = int(env.clock().timestamp() * 1000) + 3_600_000
    assert (await env.report(token, west(sequence=ahead))).status == 202
    assert (await env.report(token, west(sequence=5))).body["applied"] is False
    other = Env(env.db, env.clock, None)
    other.admin = env.admin
    await other.start()
    try:
        path = "/api/v1/clusters/west/sequence-reset"
        operator = await env.token("operator")
        assert (await env.api.call("POST", path, operator)).status == 403
        reset = await env.api.call("POST", path, env.admin)
        assert reset.body == {"cluster": "west", "previous_sequence": ahead}
        held = await env.api.call("GET", "/api/v1/clusters/west", env.admin)
        assert held.body["nodes"] == len(west().nodes), "the report held stays until the next"
        alerts = (await env.api.call("GET", "/api/v1/alerts", env.admin)).body["items"]
        (audit,) = [a for a in alerts if a["kind"] == "sequence-reset"]
        assert "reset by test-admin" in audit["message"]
        assert (await other.report(token, west(sequence=5))).status == 202, "on any replica"
        for replica in (env, other):
            await replica.hub.refresh()
            detail = await replica.api.call("GET", "/api/v1/clusters/west", env.admin)
            assert detail.body["report_sequence"] == 5
        unknown = await env.api.call("POST", "/api/v1/clusters/nowhere/sequence-reset", env.admin)
        assert (unknown.status, unknown.code) == (404, "unknown_cluster")
    finally:
        await other.stop()
