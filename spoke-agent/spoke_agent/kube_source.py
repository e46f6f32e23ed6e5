"""The real cluster as a `Source`: every kind the collector reads, listed with the official
`kubernetes` client. Lists are read raw (`_preload_content=False`) so objects arrive exactly
as the API serves them, camelCase and all, and a 10,000-pod list is not turned into client
model objects only to be turned back into dicts.

`RULES` is the RBAC the agent needs for collection: read-only, these resources and verbs
only. The Helm chart renders its ClusterRole from it.
"""

import json
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from spoke_agent.snapshot import Object, Snapshot

RULES: tuple[dict[str, Any], ...] = (
    {
        "apiGroups": [""],
        "resources": ["nodes", "pods", "persistentvolumeclaims", "resourcequotas"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["storage.k8s.io"],
        "resources": ["storageclasses", "csistoragecapacities"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["kubevirt.io"],
        "resources": ["kubevirts", "virtualmachines", "virtualmachineinstances"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["cdi.kubevirt.io"],
        "resources": ["datavolumes"],
        "verbs": ["get", "list", "watch"],
    },
)

CUSTOM: dict[str, tuple[str, str, str]] = {
    "kubevirts": ("kubevirt.io", "v1", "kubevirts"),
    "virtual_machines": ("kubevirt.io", "v1", "virtualmachines"),
    "virtual_machine_instances": ("kubevirt.io", "v1", "virtualmachineinstances"),
    "data_volumes": ("cdi.kubevirt.io", "v1beta1", "datavolumes"),
}


class KubernetesSource:
    """Lists the cluster's objects; a kind whose CRD is not installed reads as empty."""

    def __init__(self, api_client: client.ApiClient) -> None:
        core = client.CoreV1Api(api_client)
        storage = client.StorageV1Api(api_client)
        self._custom = client.CustomObjectsApi(api_client)
        self._lists: dict[str, Callable[..., Any]] = {
            "nodes": core.list_node,
            "pods": core.list_pod_for_all_namespaces,
            "persistent_volume_claims": core.list_persistent_volume_claim_for_all_namespaces,
            "resource_quotas": core.list_resource_quota_for_all_namespaces,
            "storage_classes": storage.list_storage_class,
            "csi_storage_capacities": storage.list_csi_storage_capacity_for_all_namespaces,
        }

    def _items(self, call: Callable[..., Any], *args: str) -> list[Object]:
        try:
            response = call(*args, _preload_content=False)
        except ApiException as error:
            if error.status == 404:
                return []
            raise
        items = json.loads(response.data).get("items") or []
        return [item for item in items if isinstance(item, dict)]

    def snapshot(self) -> Snapshot:
        kinds = {kind: self._items(call) for kind, call in self._lists.items()}
        for kind, (group, version, plural) in CUSTOM.items():
            kinds[kind] = self._items(
                self._custom.list_cluster_custom_object, group, version, plural
            )
        return Snapshot(**kinds)
