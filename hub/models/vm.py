"""What the engine needs to know about a VM to size it on another cluster.

This is a flattened view of a KubeVirt VirtualMachine: the spoke collector fills it from the
VM and its VMI, and a caller of a check may write one by hand. Field names follow KubeVirt's
so a person can tell which part of the VM spec each one came from.
"""

import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hub.models import kubevirt as k
from hub.models.quantity import Millicores, Units

_NAME = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"


MAX_MESSAGE = 2000
"""Characters of any free-text message on the wire (a task's, a VM's, a pod's, a failed
grant's): a sender cuts its text to this, and the hub refuses longer."""


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


HOST_MODEL_CPU = "host-model-cpu.node.kubevirt.io/"
HOST_MODEL_FEATURES = "host-model-required-features.node.kubevirt.io/"
CPU_VENDOR = "cpu-vendor.node.kubevirt.io/"
SOURCE_STATE_PREFIXES = (HOST_MODEL_CPU, HOST_MODEL_FEATURES, CPU_VENDOR)
"""The source node's labels a decentralized migration carries to the target
(`getNodeSelectorsFromNodeName`): what a `SourceNode` holds."""


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

    def machine(self) -> "VirtualMachine":
        """The same VM as a KubeVirt template, field by field (each field is named after the
        KubeVirt field it stands for), so it is sized by the same rules as a manifest."""
        source: dict[str, str] = {}
        if self.host_model:
            source[f"{HOST_MODEL_CPU}{self.host_model}"] = "true"
        if self.cpu_vendor:
            source[f"{CPU_VENDOR}{self.cpu_vendor}"] = "true"
        return VirtualMachine(
            name=self.name,
            namespace=self.namespace,
            running=self.running,
            live_migratable=self.live_migratable,
            template=k.VMISpec.model_validate(self._template()),
            disks=self.disks,
            source_node=SourceNode(labels=source) if source else None,
        )

    def _template(self) -> dict[str, object]:
        cpu: dict[str, object] = {
            "sockets": self.cpu.sockets,
            "cores": self.cpu.cores,
            "threads": self.cpu.threads,
            "dedicatedCpuPlacement": self.dedicated_cpu,
            "isolateEmulatorThread": self.isolate_emulator_thread,
        }
        if self.cpu_model:
            cpu["model"] = self.cpu_model
        elif self.host_model:
            cpu["model"] = "host-model"
        memory: dict[str, object] = {}
        if self.guest_memory_bytes is not None:
            memory["guest"] = str(self.guest_memory_bytes)
        if self.hugepages_page_size is not None:
            memory["hugepages"] = {"pageSize": self.hugepages_page_size}
        requests: dict[str, str] = {}
        limits: dict[str, str] = {}
        for side, name, value, unit in (
            (requests, "cpu", self.requests_cpu_millis, "m"),
            (requests, "memory", self.requests_memory_bytes, ""),
            (limits, "cpu", self.limits_cpu_millis, "m"),
            (limits, "memory", self.limits_memory_bytes, ""),
        ):
            if value is not None:
                side[name] = f"{value}{unit}"
        devices: dict[str, object] = {
            "hostDevices": [
                {"name": f"{name}-{i}", "deviceName": name}
                for name, count in sorted(self.host_devices.items())
                for i in range(count)
            ],
        }
        if not self.autoattach_graphics:
            devices["autoattachGraphicsDevice"] = False
        if self.tpm:
            devices["tpm"] = {}
        template: dict[str, object] = {
            "architecture": self.architecture,
            "domain": {
                "cpu": cpu,
                "memory": memory,
                "resources": {
                    "requests": requests,
                    "limits": limits,
                    "overcommitGuestOverhead": self.overcommit_guest_overhead,
                },
                "devices": devices,
                **({"launchSecurity": {"sev": {}}} if self.sev else {}),
            },
            "nodeSelector": self.node_selector or None,
            "tolerations": [t.model_dump(exclude_none=True) for t in self.tolerations],
        }
        if self.passt_binding:
            devices["interfaces"] = [{"name": "default", "passtBinding": {}}]
            template["networks"] = [{"name": "default", "pod": {}}]
        if self.affinity:
            template["affinity"] = {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {
                                        "key": r.key,
                                        "operator": r.operator.value,
                                        "values": list(r.values),
                                    }
                                    for r in term.match_expressions
                                ]
                            }
                            for term in self.affinity
                        ]
                    }
                }
            }
        return template


class SourceNode(Wire):
    """The node a running VM is on, with the labels KubeVirt copies into a migration's
    source state (`status.migrationState.sourceState.nodeSelectors`): its host CPU model,
    the features that model requires, its CPU vendor."""

    name: str | None = Field(None, min_length=1, max_length=253)
    labels: dict[str, str] = Field(default_factory=dict)


class Revision(Wire):
    """An instancetype or preference as the VM runs with it: the spec held in the
    ControllerRevision its status names, so later edits of the object do not count."""

    kind: str = Field(
        description="VirtualMachineClusterInstancetype, VirtualMachineInstancetype, "
        "VirtualMachineClusterPreference or VirtualMachinePreference"
    )
    name: str = Field(min_length=1, max_length=253)
    revision: str | None = Field(None, description="The ControllerRevision it was read from")


class InstancetypeRevision(Revision):
    spec: k.InstancetypeSpec


class PreferenceRevision(Revision):
    spec: k.PreferenceSpec


class VirtualMachine(Wire):
    """A VM as the check sizes it: its template in KubeVirt's own terms, the instancetype and
    preference it runs with, what its cluster says about it (power state, the node it is on,
    the overhead KubeVirt measured), and its disks with their sizes resolved."""

    name: str = Field(min_length=1, max_length=253, pattern=_NAME)
    namespace: str = Field(min_length=1, max_length=63, pattern=_NAME)
    running: bool = Field(True, description="Power state on the source: running VMs migrate live")
    live_migratable: bool = Field(True, description="KubeVirt's LiveMigratable condition")
    template: k.VMISpec = Field(
        default_factory=k.VMISpec, description="spec.template.spec, in KubeVirt's field names"
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, description="spec.template.metadata.annotations"
    )
    instancetype: InstancetypeRevision | None = None
    preference: PreferenceRevision | None = None
    disks: tuple[Disk, ...] = ()
    source_node: SourceNode | None = None
    measured_overhead_bytes: int | None = Field(
        None,
        ge=0,
        description="kubevirt.io/memory-overhead-bytes of its virt-launcher pod, when reported",
    )

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"
