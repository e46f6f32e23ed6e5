"""The real cluster as a `Source`: every kind the collector reads, listed with the official
`kubernetes` client. Lists are read raw (`_preload_content=False`) so objects arrive exactly
as the API serves them, camelCase and all, and a 10,000-pod list is not turned into client
model objects only to be turned back into dicts.

`RULES` is the RBAC the agent needs for collection: read-only, these resources and verbs
only. The Helm chart renders its ClusterRole from it.
"""

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from spoke_agent.report.repeats import Repeats
from spoke_agent.report.snapshot import Object, Snapshot

log = logging.getLogger("cclm.spoke")


def _cause(error: Exception) -> str:
    """What failed, without what differs between kinds (their URLs), so the watches that
    fail alike are said once."""
    if isinstance(error, ApiException):
        return f"{error.status} {error.reason}"
    return type(error).__name__ + ": " + str(error).split("(")[0]


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
        "resources": ["datavolumes", "cdis", "cdiconfigs", "storageprofiles"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["instancetype.kubevirt.io"],
        "resources": [
            "virtualmachineinstancetypes",
            "virtualmachineclusterinstancetypes",
            "virtualmachinepreferences",
            "virtualmachineclusterpreferences",
        ],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["apps"],
        "resources": ["controllerrevisions"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["node.k8s.io"],
        "resources": ["runtimeclasses"],
        "verbs": ["get", "list", "watch"],
    },
    {
        "apiGroups": ["k8s.cni.cncf.io"],
        "resources": ["network-attachment-definitions"],
        "verbs": ["get", "list", "watch"],
    },
)

CUSTOM: dict[str, tuple[str, str, str]] = {
    "kubevirts": ("kubevirt.io", "v1", "kubevirts"),
    "virtual_machines": ("kubevirt.io", "v1", "virtualmachines"),
    "virtual_machine_instances": ("kubevirt.io", "v1", "virtualmachineinstances"),
    "data_volumes": ("cdi.kubevirt.io", "v1beta1", "datavolumes"),
    "cdis": ("cdi.kubevirt.io", "v1beta1", "cdis"),
    "cdi_configs": ("cdi.kubevirt.io", "v1beta1", "cdiconfigs"),
    "storage_profiles": ("cdi.kubevirt.io", "v1beta1", "storageprofiles"),
    "virtual_machine_instancetypes": (
        "instancetype.kubevirt.io",
        "v1beta1",
        "virtualmachineinstancetypes",
    ),
    "virtual_machine_cluster_instancetypes": (
        "instancetype.kubevirt.io",
        "v1beta1",
        "virtualmachineclusterinstancetypes",
    ),
    "virtual_machine_preferences": (
        "instancetype.kubevirt.io",
        "v1beta1",
        "virtualmachinepreferences",
    ),
    "virtual_machine_cluster_preferences": (
        "instancetype.kubevirt.io",
        "v1beta1",
        "virtualmachineclusterpreferences",
    ),
    "network_attachment_definitions": (
        "k8s.cni.cncf.io",
        "v1",
        "network-attachment-definitions",
    ),
}
REVISIONS = "instancetype.kubevirt.io/object-kind"
"""The label KubeVirt puts on its instancetype and preference ControllerRevisions: the
agent lists those, not every DaemonSet's and StatefulSet's."""


def _event(line: bytes) -> str:
    """The event's type, or "expired" when the server says the watch is too old (410)."""
    try:
        event = json.loads(line)
    except ValueError:
        return "noise"
    if event.get("type") == "ERROR" and (event.get("object") or {}).get("code") == 410:
        return "expired"
    return str(event.get("type", "noise"))


class KubernetesSource:
    """Lists the cluster's objects (a kind whose CRD is not installed reads as empty) and
    watches them, so that a change triggers a new report within seconds."""

    def __init__(
        self,
        api_client: client.ApiClient,
        watch_seconds: int = 300,
        repeats: Repeats | None = None,
    ) -> None:
        self._repeats = repeats or Repeats(time.monotonic)
        core = client.CoreV1Api(api_client)
        storage = client.StorageV1Api(api_client)
        custom = client.CustomObjectsApi(api_client)
        apps = client.AppsV1Api(api_client)
        node = client.NodeV1Api(api_client)
        self._watch_seconds = watch_seconds
        self._calls: dict[str, tuple[Callable[..., Any], tuple[str, ...], dict[str, str]]] = {
            "nodes": (core.list_node, (), {}),
            "pods": (core.list_pod_for_all_namespaces, (), {}),
            "persistent_volume_claims": (
                core.list_persistent_volume_claim_for_all_namespaces,
                (),
                {},
            ),
            "resource_quotas": (core.list_resource_quota_for_all_namespaces, (), {}),
            "storage_classes": (storage.list_storage_class, (), {}),
            "csi_storage_capacities": (
                storage.list_csi_storage_capacity_for_all_namespaces,
                (),
                {},
            ),
            "controller_revisions": (
                apps.list_controller_revision_for_all_namespaces,
                (),
                {"label_selector": REVISIONS},
            ),
            "runtime_classes": (node.list_runtime_class, (), {}),
            **{
                kind: (custom.list_cluster_custom_object, args, {}) for kind, args in CUSTOM.items()
            },
        }

    @property
    def kinds(self) -> list[str]:
        return list(self._calls)

    def _items(self, kind: str) -> list[Object]:
        call, args, options = self._calls[kind]
        try:
            response = call(*args, **options, _preload_content=False)
        except ApiException as error:
            if error.status == 404:
                return []
            raise
        items = json.loads(response.data).get("items") or []
        return [item for item in items if isinstance(item, dict)]

    def snapshot(self) -> Snapshot:
        return Snapshot(**{kind: self._items(kind) for kind in self._calls})

    def watch(self, kind: str, on_change: Callable[[], None], stop: threading.Event) -> None:
        """Call `on_change` on every event of `kind` until `stop` is set. Blocking: run it
        in a thread. Expiry (410 Gone), timeouts and API errors start a new watch, after a
        backoff when something failed; a kind whose CRD is absent is checked again later."""
        call, args, options = self._calls[kind]
        backoff = 1.0
        while not stop.is_set():
            try:
                response = call(
                    *args,
                    **options,
                    watch="true",
                    timeout_seconds=self._watch_seconds,
                    _preload_content=False,
                    _request_timeout=self._watch_seconds + 30,
                )
                for line in response:
                    if stop.is_set():
                        break
                    if _event(line) == "expired":
                        break
                    on_change()
                response.release_conn()
                backoff = 1.0
            except Exception as error:
                missing = isinstance(error, ApiException) and error.status == 404
                held = None if missing else self._repeats.say(_cause(error))
                if held is not None:
                    more = f" ({held} more like it held back)" if held else ""
                    log.warning(
                        "watching %s failed: %s; retrying with backoff%s", kind, error, more
                    )
                stop.wait(60.0 if missing else backoff)
                backoff = min(backoff * 2, 30.0)
