"""An emulated hub cluster (kmock over real HTTP) with Open Cluster Management's kinds, as
open-cluster-management-io/api v1.3.0 declares them, and the authentication and
authorization reviews answered as the test says: what `--managed-clusters` and
`--kube-auth` run against, through the official client."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp.web
import kmock
import yaml

OCM = "cluster.open-cluster-management.io"
RESOURCES = {
    f"{OCM}/v1/managedclusters": ("ManagedCluster", False),
    f"{OCM}/v1beta2/managedclustersets": ("ManagedClusterSet", False),
    f"{OCM}/v1beta1/placementdecisions": ("PlacementDecision", True),
    "v1/secrets": ("Secret", True),
}
REVIEWS = ("tokenreviews", "subjectaccessreviews")


class HubClusterApi(kmock.KubernetesEmulator):
    """Reviews are answered, never stored (a real API server keeps none); kmock would
    store the first and refuse the next as already existing."""

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        if request.resource is not None and request.resource.plural in REVIEWS:
            return await kmock.KubernetesScaffold._handle(self, request)
        return await super()._handle(request)


def declare(emulator: kmock.KubernetesEmulator) -> None:
    for resource, (kind, namespaced) in RESOURCES.items():
        emulator.resources[resource] = {"kind": kind, "namespaced": namespaced}


def kubeconfig(path: Path, server: kmock.Server) -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "hub", "cluster": {"server": str(server.url).rstrip("/")}}],
        "users": [{"name": "cclm-hub", "user": {"token": "the-hubs-own-service-account"}}],
        "contexts": [{"name": "hub", "context": {"cluster": "hub", "user": "cclm-hub"}}],
        "current-context": "hub",
    }
    path.write_text(yaml.safe_dump(document))
    return path


def managed_cluster(
    name: str,
    labels: dict[str, str] | None = None,
    available: str | None = "True",
    accepted: bool = True,
) -> dict[str, Any]:
    conditions = []
    if accepted:
        conditions.append({"type": "HubAcceptedManagedCluster", "status": "True", "reason": "x"})
    if available is not None:
        conditions.append(
            {"type": "ManagedClusterConditionAvailable", "status": available, "reason": "x"}
        )
    return {
        "apiVersion": f"{OCM}/v1",
        "kind": "ManagedCluster",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"hubAcceptsClient": True},
        "status": {"conditions": conditions},
    }


def put_cluster(emulator: kmock.KubernetesEmulator, cluster: dict[str, Any]) -> None:
    name = cluster["metadata"]["name"]
    emulator.objects[f"{OCM}/v1/managedclusters", None, name] = cluster


def remove_cluster(emulator: kmock.KubernetesEmulator, name: str) -> None:
    del emulator.objects[f"{OCM}/v1/managedclusters", None, name]


def cluster_set(name: str, selector: dict[str, Any] | None = None) -> dict[str, Any]:
    chosen: dict[str, Any] = {"selectorType": "ExclusiveClusterSetLabel"}
    if selector is not None:
        chosen = {"selectorType": "LabelSelector", "labelSelector": selector}
    return {
        "apiVersion": f"{OCM}/v1beta2",
        "kind": "ManagedClusterSet",
        "metadata": {"name": name},
        "spec": {"clusterSelector": chosen},
    }


def put_set(emulator: kmock.KubernetesEmulator, found: dict[str, Any]) -> None:
    emulator.objects[f"{OCM}/v1beta2/managedclustersets", None, found["metadata"]["name"]] = found


def decision(namespace: str, placement: str, index: int, clusters: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": f"{OCM}/v1beta1",
        "kind": "PlacementDecision",
        "metadata": {
            "name": f"{placement}-decision-{index}",
            "namespace": namespace,
            "labels": {f"{OCM}/placement": placement},
        },
        "status": {"decisions": [{"clusterName": c, "reason": ""} for c in clusters]},
    }


def put_decision(emulator: kmock.KubernetesEmulator, found: dict[str, Any]) -> None:
    meta = found["metadata"]
    emulator.objects[f"{OCM}/v1beta1/placementdecisions", meta["namespace"], meta["name"]] = found


def secret(emulator: kmock.KubernetesEmulator, namespace: str, name: str) -> Any:
    try:
        stored = emulator.objects["v1/secrets", namespace, name]
    except KeyError:
        return None
    return None if stored.deleted else stored.raw


Users = dict[str, dict[str, Any]]
"""Bearer token -> the user a TokenReview says it is."""
Rights = Callable[[dict[str, Any]], bool]
"""A SubjectAccessReview's spec -> allowed."""


def answer_reviews(emulator: kmock.KubernetesEmulator, users: Users, rights: Rights) -> None:
    def token_review(request: kmock.Request) -> dict[str, Any]:
        spec = request.data["spec"]
        user = users.get(spec["token"])
        status = {"authenticated": user is not None, **({"user": user} if user else {})}
        return {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenReview",
            "spec": spec,
            "status": status,
        }

    def access_review(request: kmock.Request) -> dict[str, Any]:
        spec = request.data["spec"]
        allowed = rights(spec)
        return {
            "apiVersion": "authorization.k8s.io/v1",
            "kind": "SubjectAccessReview",
            "spec": spec,
            "status": {"allowed": allowed, "reason": "by the test's RBAC"},
        }

    emulator["post /apis/authentication.k8s.io/v1/tokenreviews"] << token_review
    emulator["post /apis/authorization.k8s.io/v1/subjectaccessreviews"] << access_review
