"""`--kube-auth`: tokens the hub did not issue, checked with TokenReview and their role with
SubjectAccessReviews on an emulated hub cluster over HTTP (official client); the verdicts
kept briefly; the hub's own tokens never sent to the API server."""

from typing import Any

import kmock

from hub.access import kube_review
from tests.ocm.conftest import Ocm
from tests.support import hub_cluster as hc

USERS = {
    "sha256~alice": {"username": "alice", "uid": "a-1", "groups": ["virt-admins"]},
    "sha256~bob": {"username": "bob", "uid": "b-1", "groups": ["system:authenticated"]},
    "sha256~carol": {"username": "carol", "uid": "c-1", "groups": []},
}
GRANTS = {
    "alice": {("update", "policies"), ("create", "migrations"), ("get", "clusters")},
    "bob": {("get", "clusters")},
}
"""What the test's RBAC grants, as (verb, resource) of group cclm.io."""


def rights(spec: dict[str, Any]) -> bool:
    wanted = spec["resourceAttributes"]
    assert wanted["group"] == "cclm.io"
    return (wanted["verb"], wanted["resource"]) in GRANTS.get(spec["user"], set())


def reviews(cluster: kmock.KubernetesEmulator, plural: str) -> list[kmock.Request]:
    return [r for r in cluster if r.resource is not None and r.resource.plural == plural]


async def test_a_users_token_is_reviewed_and_its_role_is_what_rbac_grants(ocm: Ocm) -> None:
    hc.answer_reviews(ocm.cluster, USERS, rights)
    api = ocm.env.api
    assert (await api.call("GET", "/api/v1/clusters", "sha256~alice")).status == 200
    minted = await api.call(
        "POST", "/api/v1/tokens", "sha256~alice", {"name": "ci", "role": "viewer"}
    )
    assert minted.status == 201, minted.body
    assert (await api.call("GET", "/api/v1/clusters", "sha256~bob")).status == 200
    refused = await api.call(
        "POST", "/api/v1/migrations", "sha256~bob", {"source_cluster": "a", "vms": ["x/y"]}
    )
    assert refused.status == 403
    assert refused.body["error"]["details"] == {"needed": "operator", "has": "viewer"}
    nobody = await api.call("GET", "/api/v1/clusters", "sha256~carol")
    assert nobody.status == 403
    assert "carol holds no role on this hub" in nobody.message
    assert "get clusters.cclm.io (viewer)" in nobody.message
    stranger = await api.call("GET", "/api/v1/clusters", "sha256~mallory")
    assert stranger.status == 401
    # The review asked about the user as the API server named it, with its groups.
    asked = reviews(ocm.cluster, "subjectaccessreviews")[0].data["spec"]
    assert (asked["user"], asked["groups"], asked["uid"]) == ("alice", ["virt-admins"], "a-1")


async def test_verdicts_are_kept_briefly_and_the_hubs_tokens_never_leave(ocm: Ocm) -> None:
    hc.answer_reviews(ocm.cluster, USERS, rights)
    api = ocm.env.api
    for _ in range(3):
        assert (await api.call("GET", "/api/v1/clusters", "sha256~bob")).status == 200
        assert (await api.call("GET", "/api/v1/clusters", "sha256~mallory")).status == 401
    assert len(reviews(ocm.cluster, "tokenreviews")) == 2
    # bob: admin, then operator, then viewer asked once; mallory: no access review at all.
    assert len(reviews(ocm.cluster, "subjectaccessreviews")) == 3
    assert (await api.call("GET", "/api/v1/clusters", ocm.env.admin)).status == 200
    forged = "cclm_0123456789abcdef_not-a-secret"
    assert (await api.call("GET", "/api/v1/clusters", forged)).status == 401
    sent = [r.data["spec"]["token"] for r in reviews(ocm.cluster, "tokenreviews")]
    assert not [t for t in sent if t.startswith("cclm_")]


async def test_an_api_server_that_cannot_answer_is_a_503_not_a_500(ocm: Ocm) -> None:
    # No reviews answered: the emulator knows no tokenreviews resource (404).
    answer = await ocm.env.api.call("GET", "/api/v1/clusters", "sha256~alice")
    assert answer.status == 503
    assert "could not check this token" in answer.message


def test_the_documented_mapping_is_the_one_checked() -> None:
    table = kube_review.__doc__ or ""
    for role, verb, resource in kube_review.RIGHTS:
        assert f"| {role.value}" in table
        assert f"{verb} {resource}.{kube_review.GROUP}" in table


async def test_a_hub_not_allowed_to_review_says_what_to_grant(ocm: Ocm) -> None:
    ocm.cluster["post /apis/authentication.k8s.io/v1/tokenreviews"] << 403
    answer = await ocm.env.api.call("GET", "/api/v1/clusters", "sha256~alice")
    assert answer.status == 503
    assert "system:auth-delegator" in answer.message
