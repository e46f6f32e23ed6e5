"""What the collector reads: the cluster's objects, as the Kubernetes API returns them (plain
JSON-shaped mappings, camelCase keys). The real API and the simulation are two sources of the
same snapshot, so the very same collector code serves both."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Object = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Snapshot:
    nodes: Sequence[Object] = ()
    pods: Sequence[Object] = ()
    storage_classes: Sequence[Object] = ()
    persistent_volume_claims: Sequence[Object] = ()
    csi_storage_capacities: Sequence[Object] = ()
    resource_quotas: Sequence[Object] = ()
    kubevirts: Sequence[Object] = ()
    virtual_machines: Sequence[Object] = ()
    virtual_machine_instances: Sequence[Object] = ()
    data_volumes: Sequence[Object] = ()
    virtual_machine_instancetypes: Sequence[Object] = ()
    virtual_machine_cluster_instancetypes: Sequence[Object] = ()
    virtual_machine_preferences: Sequence[Object] = ()
    virtual_machine_cluster_preferences: Sequence[Object] = ()
    controller_revisions: Sequence[Object] = ()
    """Only KubeVirt's instancetype and preference revisions."""
    runtime_classes: Sequence[Object] = ()
    cdis: Sequence[Object] = ()
    cdi_configs: Sequence[Object] = ()
    storage_profiles: Sequence[Object] = ()
    network_attachment_definitions: Sequence[Object] = ()


class Source(Protocol):
    """Anything that can list a cluster's objects at one moment."""

    def snapshot(self) -> Snapshot: ...


def meta(obj: Object) -> Mapping[str, Any]:
    value = obj.get("metadata") or {}
    return value if isinstance(value, dict) else {}


def spec(obj: Object) -> Mapping[str, Any]:
    value = obj.get("spec") or {}
    return value if isinstance(value, dict) else {}


def status(obj: Object) -> Mapping[str, Any]:
    value = obj.get("status") or {}
    return value if isinstance(value, dict) else {}


def name_of(obj: Object) -> str:
    namespace = meta(obj).get("namespace")
    name = str(meta(obj).get("name", "?"))
    return f"{namespace}/{name}" if namespace else name
