"""What the engine needs to know about a VM to size it on another cluster.

This is a flattened view of a KubeVirt VirtualMachine: the spoke collector fills it from the
VM and its VMI, and a caller of a check may write one by hand. Field names follow KubeVirt's
so a person can tell which part of the VM spec each one came from.
"""

import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.models.quantity import Millicores, Units

_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


class Wire(BaseModel):
    """Strict base for everything that crosses a boundary: unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CpuTopology(Wire):
    sockets: int = Field(1, ge=1, le=1024)
    cores: int = Field(1, ge=1, le=1024)
    threads: int = Field(1, ge=1, le=16)

    @property
    def vcpus(self) -> int:
        return self.sockets * self.cores * self.threads


class VolumeMode(StrEnum):
    FILESYSTEM = "Filesystem"
    BLOCK = "Block"


class Disk(Wire):
    """One disk backed by a volume that has to exist on the target (PVC or DataVolume)."""

    name: str = Field(min_length=1)
    size_bytes: Units = Field(
        description="Size of the source volume; the target gets at least this much"
    )
    storage_class: str | None = Field(
        None, description="Source storage class; None: the source default"
    )
    volume_mode: VolumeMode = VolumeMode.FILESYSTEM
    copyable: bool = Field(
        True, description="False for host disks and other volumes that cannot be copied"
    )


class Toleration(Wire):
    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None


class SelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"
    GT = "Gt"
    LT = "Lt"


class SelectorRequirement(Wire):
    key: str = Field(min_length=1)
    operator: SelectorOperator
    values: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _values_fit_operator(self) -> "SelectorRequirement":
        op, count = self.operator, len(self.values)
        if op in (SelectorOperator.IN, SelectorOperator.NOT_IN) and count == 0:
            raise ValueError(f"operator {op} on {self.key!r} needs at least one value")
        if op in (SelectorOperator.EXISTS, SelectorOperator.DOES_NOT_EXIST) and count:
            raise ValueError(f"operator {op} on {self.key!r} takes no values")
        numeric = op in (SelectorOperator.GT, SelectorOperator.LT)
        if numeric and (count != 1 or not re.fullmatch(r"-?\d+", self.values[0])):
            raise ValueError(f"operator {op} on {self.key!r} needs exactly one integer value")
        return self


class NodeSelectorTerm(Wire):
    """Requirements that must all hold; a node matches the affinity if any term matches."""

    match_expressions: tuple[SelectorRequirement, ...] = ()


class VmSpec(Wire):
    """A VM as the target cluster would have to host it."""

    name: str = Field(min_length=1, max_length=253, pattern=_NAME)
    namespace: str = Field(min_length=1, max_length=63, pattern=_NAME)
    running: bool = Field(True, description="Power state on the source: running VMs migrate live")
    live_migratable: bool = Field(True, description="KubeVirt's LiveMigratable condition")
    cpu: CpuTopology = CpuTopology()
    dedicated_cpu: bool = Field(False, description="spec.domain.cpu.dedicatedCpuPlacement")
    isolate_emulator_thread: bool = False
    cpu_model: str | None = Field(None, description="Named CPU model the target node must offer")
    cpu_vendor: str | None = None
    host_model: str | None = Field(
        None,
        description="For cpu model host-model: the source node's host model the target must offer",
    )
    architecture: str = "amd64"
    guest_memory_bytes: Units | None = Field(None, description="spec.domain.memory.guest")
    requests_cpu_millis: Millicores | None = Field(
        None, description="spec.domain.resources.requests.cpu"
    )
    requests_memory_bytes: Units | None = None
    limits_cpu_millis: Millicores | None = None
    limits_memory_bytes: Units | None = None
    hugepages_page_size: str | None = Field(
        None, description="spec.domain.memory.hugepages.pageSize"
    )
    overcommit_guest_overhead: bool = False
    autoattach_graphics: bool = True
    tpm: bool = False
    sev: bool = False
    passt_binding: bool = Field(False, description="A network interface uses the passt binding")
    host_devices: dict[str, int] = Field(
        default_factory=dict, description="GPUs and host devices by device-plugin resource name"
    )
    node_selector: dict[str, str] = Field(default_factory=dict)
    affinity: tuple[NodeSelectorTerm, ...] = Field(
        (), description="requiredDuringSchedulingIgnoredDuringExecution node selector terms"
    )
    tolerations: tuple[Toleration, ...] = ()
    disks: tuple[Disk, ...] = ()

    @field_validator("hugepages_page_size")
    @classmethod
    def _page_size(cls, value: str | None) -> str | None:
        if value is not None and value not in ("2Mi", "1Gi"):
            raise ValueError(f"hugepages page size {value!r} is not one of '2Mi', '1Gi'")
        return value

    @field_validator("host_devices")
    @classmethod
    def _device_counts(cls, value: dict[str, int]) -> dict[str, int]:
        for name, count in value.items():
            if count < 1:
                raise ValueError(f"device {name!r} count must be at least 1, not {count}")
        return value

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def memory_bytes(self) -> int:
        """The guest's memory as KubeVirt derives it when spec.domain.memory.guest is unset."""
        for value in (
            self.guest_memory_bytes,
            self.requests_memory_bytes,
            self.limits_memory_bytes,
        ):
            if value is not None:
                return value
        return 0

    @property
    def hugepages_resource(self) -> str | None:
        return None if self.hugepages_page_size is None else f"hugepages-{self.hugepages_page_size}"
