"""The hub cluster's API through the official client: its ManagedClusters, cluster sets
and Placement decisions, and the spoke token Secrets in the clusters' namespaces. Blocking
calls, run off the event loop by the caller."""

import base64
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from hub.ocm.managed import PLACEMENT_LABEL

CLUSTERS = ("cluster.open-cluster-management.io", "v1", "managedclusters")
SETS = ("cluster.open-cluster-management.io", "v1beta2", "managedclustersets")
DECISIONS = ("cluster.open-cluster-management.io", "v1beta1", "placementdecisions")
TOKEN_SECRET = "cclm-spoke-token"
"""In each cluster's namespace on the hub cluster, key `token`: the spoke agent's token,
which the addon's agent reads with its hub credentials."""
TIMEOUT = 30.0


class ForeignSecretError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class HubCluster:
    api: client.ApiClient

    def _custom(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(self.api)

    def _items(self, listed: Any) -> list[dict[str, Any]]:
        return list(listed.get("items") or [])

    def managed_clusters(self) -> list[dict[str, Any]]:
        listed = self._custom().list_cluster_custom_object(*CLUSTERS, _request_timeout=TIMEOUT)
        return self._items(listed)

    def cluster_sets(self) -> list[dict[str, Any]]:
        listed = self._custom().list_cluster_custom_object(*SETS, _request_timeout=TIMEOUT)
        return self._items(listed)

    def placement_decisions(self, namespace: str, placement: str) -> list[dict[str, Any]]:
        group, version, plural = DECISIONS
        listed = self._custom().list_namespaced_custom_object(
            group,
            version,
            namespace,
            plural,
            label_selector=f"{PLACEMENT_LABEL}={placement}",
            _request_timeout=TIMEOUT,
        )
        return self._items(listed)

    def token(self, namespace: str) -> str | None:
        """The token in the cluster's Secret; None when there is none. A Secret of that name
        that is not the hub's (not Opaque: a service account's token, say) is refused, never
        read or overwritten."""
        try:
            secret = client.CoreV1Api(self.api).read_namespaced_secret(
                TOKEN_SECRET, namespace, _request_timeout=TIMEOUT
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        if (secret.type or "Opaque") != "Opaque":
            raise ForeignSecretError(
                f"Secret {namespace}/{TOKEN_SECRET} is of type {secret.type}, not the hub's "
                "Opaque one; the hub neither reads nor replaces it"
            )
        encoded = (secret.data or {}).get("token")
        return None if encoded is None else base64.b64decode(encoded).decode(errors="replace")

    def put_token(self, namespace: str, token: str) -> None:
        core = client.CoreV1Api(self.api)
        data = {"token": base64.b64encode(token.encode()).decode()}
        labels = {"app.kubernetes.io/part-of": "cclm", "app.kubernetes.io/component": "hub"}
        body = {"metadata": {"name": TOKEN_SECRET, "labels": labels}, "data": data}
        try:
            core.patch_namespaced_secret(TOKEN_SECRET, namespace, body, _request_timeout=TIMEOUT)
        except ApiException as error:
            if error.status != 404:
                raise
            created = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", **body}
            core.create_namespaced_secret(namespace, created, _request_timeout=TIMEOUT)
