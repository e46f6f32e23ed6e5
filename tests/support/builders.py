"""Builders for test data: `NodeBuilder("w1").cpu("8").memory("32Gi").taint(...).build()`."""

from datetime import UTC, datetime
from typing import Any

from hub.capacity import fleet, index
from hub.models.claim import Claim
from hub.models.kubevirt import KubeVirtConfiguration
from hub.models.report import CapacityReport, CdiSettings, KubeVirtSettings, Node, StorageClass
from hub.models.vm import VirtualMachine, VmSpec

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
GIB = 2**30
MIB = 2**20


class NodeBuilder:
    def __init__(self, name: str) -> None:
        self._data: dict[str, Any] = {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/arch": "amd64",
                "kubevirt.io/schedulable": "true",
                "machine-type.node.kubevirt.io/q35": "true",
            },
            "taints": [],
            "allocatable": {"cpu_millis": "16", "memory_bytes": "64Gi", "scalar": {}},
            "requested": {"cpu_millis": 0, "memory_bytes": 0, "scalar": {}},
        }

    def cpu(self, allocatable: str, used: str = "0") -> "NodeBuilder":
        self._data["allocatable"]["cpu_millis"] = allocatable
        self._data["requested"]["cpu_millis"] = used
        return self

    def memory(self, allocatable: str, used: str = "0") -> "NodeBuilder":
        self._data["allocatable"]["memory_bytes"] = allocatable
        self._data["requested"]["memory_bytes"] = used
        return self

    def scalar(self, name: str, allocatable: str, used: str = "0") -> "NodeBuilder":
        self._data["allocatable"]["scalar"][name] = allocatable
        self._data["requested"]["scalar"][name] = used
        return self

    def label(self, key: str, value: str = "true") -> "NodeBuilder":
        self._data["labels"][key] = value
        return self

    def unlabel(self, key: str) -> "NodeBuilder":
        self._data["labels"].pop(key)
        return self

    def taint(
        self, key: str, effect: str = "NoSchedule", value: str | None = None
    ) -> "NodeBuilder":
        self._data["taints"].append({"key": key, "value": value, "effect": effect})
        return self

    def not_ready(self) -> "NodeBuilder":
        self._data["ready"] = False
        return self

    def cordoned(self) -> "NodeBuilder":
        self._data["unschedulable"] = True
        return self

    def build(self) -> Node:
        return Node.model_validate(self._data)


def storage_class(name: str = "ceph", available: str | None = "10Ti", **extra: Any) -> StorageClass:
    data: dict[str, Any] = {"name": name, "is_default": name == "ceph", **extra}
    if available is not None:
        data.update(capacity_bytes="20Ti", available_bytes=available, capacity_source="csi")
    return StorageClass.model_validate(data)


def kubevirt(
    version: str = "v1.9.0", developer: dict[str, Any] | None = None, **configuration: Any
) -> KubeVirtSettings:
    """A KubeVirt CR as a spoke reports it: its release, and its spec.configuration in
    KubeVirt's names (`developer` is developerConfiguration)."""
    config = {**configuration, "developerConfiguration": developer or {}}
    return KubeVirtSettings(
        version=version, configuration=KubeVirtConfiguration.model_validate(config)
    )


KUBEVIRT = kubevirt()
"""Reports in tests say which KubeVirt they run, as a spoke's do: sized by v1.9.0's rules."""
CDI = CdiSettings(installed=True, version="v1.66.0")


def report(cluster: str, nodes: list[Node], **extra: Any) -> CapacityReport:
    extra.setdefault("storage_classes", [storage_class()])
    extra.setdefault("kubevirt", KUBEVIRT)
    extra.setdefault("cdi", CDI)
    return CapacityReport(
        cluster=cluster, sequence=1, generated_at=NOW, nodes=tuple(nodes), **extra
    )


def spec(
    name: str = "vm", namespace: str = "ns", memory: str = "4Gi", cores: int = 1, **extra: Any
) -> VmSpec:
    """A VM in the flat form callers of the API may write by hand."""
    return VmSpec.model_validate(
        {
            "name": name,
            "namespace": namespace,
            "guest_memory_bytes": memory,
            "cpu": {"cores": cores},
            **extra,
        }
    )


def vm(
    name: str = "vm", namespace: str = "ns", memory: str = "4Gi", cores: int = 1, **extra: Any
) -> VirtualMachine:
    """The same VM as the engine sizes it (a KubeVirt template)."""
    return spec(name, namespace, memory, cores, **extra).machine()


def cluster_index(
    rep: CapacityReport,
    labels: dict[str, str] | None = None,
    received_at: datetime = NOW,
    claims: tuple[Claim, ...] = (),
) -> index.ClusterIndex:
    return index.build(rep, labels or {}, received_at, claims)


def fleet_of(
    *reports: CapacityReport, labels: dict[str, dict[str, str]] | None = None
) -> fleet.FleetIndex:
    labels = labels or {}
    return fleet.build(cluster_index(r, labels.get(r.cluster)) for r in reports)
