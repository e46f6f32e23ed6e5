"""The hub chart's RBAC against what the hub asks of its cluster: kmock records every
request of --managed-clusters (ManagedClusters arriving and going, a Placement's decisions,
Secrets created, read, replaced) and --kube-auth (reviews); each must be allowed by the
rules the chart binds the hub's ServiceAccount to, and each rule must be used."""

import base64
from typing import Any

from hub.access import kube_review
from hub.models.policy import PlacementRef, TargetSelector
from tests.ocm.conftest import Ocm
from tests.support import charts
from tests.support import hub_cluster as hc
from tests.support.hub_env import LENIENT
from tests.support.rbac import Ask, Grant, ask_of

VALUES = {"managedClusters": {"enabled": True}, "kubeAuth": {"enabled": True}}
AUTH_DELEGATOR = [
    {"apiGroups": ["authentication.k8s.io"], "resources": ["tokenreviews"], "verbs": ["create"]},
    {
        "apiGroups": ["authorization.k8s.io"],
        "resources": ["subjectaccessreviews"],
        "verbs": ["create"],
    },
]
"""Kubernetes' bootstrap ClusterRole system:auth-delegator (plugin/pkg/auth/authorizer/rbac/
bootstrappolicy/policy.go), which the chart binds rather than renders."""


def grants(documents: list[dict[str, Any]]) -> list[Grant]:
    roles = {d["metadata"]["name"]: d["rules"] for d in charts.by_kind(documents, "ClusterRole")}
    roles["system:auth-delegator"] = AUTH_DELEGATOR
    found = []
    for binding in charts.by_kind(documents, "ClusterRoleBinding"):
        subjects = [(s["namespace"], s["name"]) for s in binding["subjects"]]
        if ("cclm", "cclm-hub") in subjects:
            found += [Grant(None, rule) for rule in roles[binding["roleRef"]["name"]]]
    return found


async def exercise(ocm: Ocm) -> list[Ask]:
    ocm.env.hub.policy = LENIENT.model_copy(
        update={"eligible_targets": TargetSelector(placement=PlacementRef(namespace="v", name="p"))}
    )
    hc.put_set(ocm.cluster, hc.cluster_set("default"))
    hc.put_decision(ocm.cluster, hc.decision("v", "p", 1, ["east"]))
    hc.put_cluster(ocm.cluster, hc.managed_cluster("east"))
    hc.put_cluster(ocm.cluster, hc.managed_cluster("west"))
    await ocm.follow()
    stored = ocm.cluster.objects["v1/secrets", "east", "cclm-spoke-token"]
    stored.patch({"data": {"token": base64.b64encode(b"stale").decode()}})
    hc.remove_cluster(ocm.cluster, "west")
    await ocm.follow()
    users = {"sha256~alice": {"username": "alice", "groups": []}}
    hc.answer_reviews(ocm.cluster, users, lambda spec: spec["user"] == "alice")
    assert (await ocm.env.api.call("GET", "/api/v1/clusters", "sha256~alice")).status == 200
    return [ask_of(r) for r in ocm.cluster]


async def test_the_hub_is_granted_all_it_asks_and_nothing_more(ocm: Ocm) -> None:
    asks = await exercise(ocm)
    held = grants(charts.render(charts.HUB, VALUES))
    assert {(a.verb, a.resource) for a in asks} >= {
        ("list", "managedclusters"),
        ("list", "placementdecisions"),
        ("create", "secrets"),
        ("get", "secrets"),
        ("patch", "secrets"),
        ("create", "tokenreviews"),
        ("create", "subjectaccessreviews"),
    }
    refused = [a for a in asks if not any(g.allows(a) for g in held)]
    assert refused == []
    unused = [atom for g in held for atom in g.unused(asks)]
    assert unused == []


def test_the_users_roles_are_the_rights_the_hub_checks() -> None:
    documents = charts.render(charts.HUB, VALUES)
    roles = {d["metadata"]["name"]: d["rules"] for d in charts.by_kind(documents, "ClusterRole")}
    # Each role holds its own right and every lower role's: RIGHTS runs from admin down.
    for at, (role, _verb, _resource) in enumerate(kube_review.RIGHTS):
        wanted = {(verb, resource) for _role, verb, resource in kube_review.RIGHTS[at:]}
        held = {
            (verb, resource)
            for rule in roles[f"cclm-{role.value}"]
            for verb in rule["verbs"]
            for resource in rule["resources"]
            if rule["apiGroups"] == [kube_review.GROUP]
        }
        assert held == wanted, role
