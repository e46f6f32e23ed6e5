"""CapacityReport v1: what a spoke tells the hub about its cluster.

Versioned by `schema_version`; the JSON Schema exported from these models lives in
`policies/capacity-report.v1.schema.json` so that both ends (and other tools) validate
against the same document.
"""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, WithJsonSchema, field_validator, model_validator

from hub.models import quantity
from hub.models.names import Label, Subdomain
from hub.models.quantity import Millicores, Units
from hub.models.vm import VmSpec, Wire

Ratio = Annotated[
    Decimal,
    WithJsonSchema(
        {
            "anyOf": [{"type": "number"}, {"type": "string", "pattern": r"^[0-9]+(\.[0-9]+)?$"}],
            "description": "A decimal number; a string keeps it exact",
        }
    ),
]
"""Exact decimal; its schema is spelled out so the exported file does not depend on the
pydantic release that generated it."""


class Resources(Wire):
    """A resource list in integer units. Hugepages and device-plugin resources go in `scalar`
    under their Kubernetes resource names ("hugepages-1Gi", "nvidia.com/gpu")."""

    cpu_millis: Millicores = 0
    memory_bytes: Units = 0
    scalar: dict[str, Units] = Field(default_factory=dict)


class Taint(Wire):
    key: str = Field(min_length=1)
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]


class Node(Wire):
    name: Subdomain
    labels: dict[str, str] = Field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    ready: bool = True
    unschedulable: bool = False
    allocatable: Resources
    requested: Resources = Resources()


class CapacitySource(StrEnum):
    CSI = "csi"
    CONFIGURED = "configured"
    UNKNOWN = "unknown"


class StorageClass(Wire):
    name: Subdomain
    provisioner: str = ""
    is_default: bool = False
    capacity_bytes: Units | None = None
    available_bytes: Units | None = None
    capacity_source: CapacitySource = CapacitySource.UNKNOWN
    filesystem_overhead: Ratio = Field(
        Decimal("0.055"),
        ge=0,
        lt=1,
        description="CDI's filesystem overhead for Filesystem-mode volumes",
    )
    volume_binding_mode: Literal["Immediate", "WaitForFirstConsumer"] = "Immediate"
    access_modes: tuple[str, ...] = ("ReadWriteOnce",)

    @model_validator(mode="after")
    def _known_when_sourced(self) -> "StorageClass":
        if self.capacity_source != CapacitySource.UNKNOWN and self.available_bytes is None:
            raise ValueError(
                f"storage class {self.name!r}: capacity_source {self.capacity_source} "
                "needs available_bytes"
            )
        return self


class ResourceQuota(Wire):
    """One ResourceQuota object; several may constrain one namespace and each must hold."""

    namespace: Label
    name: Subdomain
    hard: dict[str, Units] = Field(default_factory=dict)
    used: dict[str, Units] = Field(default_factory=dict)

    @field_validator("hard", "used", mode="before")
    @classmethod
    def _cpu_in_millicores(cls, value: object) -> object:
        """CPU quotas are kept in millicores so that '500m' is not rounded up to a core."""
        if not isinstance(value, dict):
            return value
        return {
            key: quantity.millis(raw) if _is_cpu(key) and isinstance(raw, str) else raw
            for key, raw in value.items()
        }


def _is_cpu(resource: str) -> bool:
    return resource in ("cpu", "requests.cpu", "limits.cpu")


class KubeVirtSettings(Wire):
    """The parts of the KubeVirt CR that change how large a virt-launcher pod is."""

    installed: bool = True
    version: str | None = None
    cpu_allocation_ratio: int = Field(10, ge=1, le=1000)
    memory_overcommit_percent: int = Field(100, ge=10, le=1000)
    additional_guest_memory_overhead_ratio: Ratio | None = Field(None, ge=1, le=100)
    feature_gates: tuple[str, ...] = ()


class PendingLauncher(Wire):
    """A virt-launcher pod the scheduler could not place, with its reason."""

    namespace: Label
    name: Subdomain
    vm: str | None = None
    message: str = ""
    since: datetime | None = None


class CapacityReport(Wire):
    schema_version: Literal[1] = 1
    cluster: str = Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    sequence: int = Field(ge=0, lt=2**63)
    generated_at: AwareDatetime
    kubevirt: KubeVirtSettings = KubeVirtSettings()
    nodes: tuple[Node, ...] = ()
    storage_classes: tuple[StorageClass, ...] = ()
    quotas: tuple[ResourceQuota, ...] = ()
    vms: tuple[VmSpec, ...] = ()
    pending_launchers: tuple[PendingLauncher, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> "CapacityReport":
        unique_names(self.nodes, self.storage_classes, [v.key for v in self.vms])
        return self


def unique_names(
    nodes: Sequence[Node], classes: Sequence[StorageClass], vms: Sequence[str]
) -> None:
    """A node, class or VM named twice makes a report ambiguous: refused, naming it."""
    for kind, names in (
        ("node", [n.name for n in nodes]),
        ("storage class", [s.name for s in classes]),
        ("VM", vms),
    ):
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ValueError(f"{kind} {name!r} appears twice in the report")
            seen.add(name)
