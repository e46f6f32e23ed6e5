"""KubeVirt's API as far as sizing and placement read it, in KubeVirt's own field names.

These models parse what users write and what clusters hold (a VirtualMachine's template, an
instancetype's or preference's spec, the KubeVirt CR's configuration) and keep exactly the
fields that change a virt-launcher pod's requests or its node. Anything else in a manifest is
ignored, not refused: real objects carry hundreds of fields that do not matter here.
Presence is kept as KubeVirt keeps it (an unset pointer is `None`, a set one is a value),
because several of KubeVirt's rules ask "is it set?" rather than "what is it?".
"""

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel

from hub.models import quantity

EVEN_PARITY = "alpha.kubevirt.io/EmulatorThreadCompleteToEvenParity"
"""The one KubeVirt CR annotation that changes a pod's size."""
CLUSTER_INSTANCETYPE = "VirtualMachineClusterInstancetype"
INSTANCETYPE = "VirtualMachineInstancetype"
CLUSTER_PREFERENCE = "VirtualMachineClusterPreference"
PREFERENCE = "VirtualMachinePreference"


class Matcher(BaseModel):
    """How a VM names its instancetype or preference: `spec.<field>`, the reference its
    status keeps, and the kinds it may name (cluster-wide unless it says otherwise)."""

    field: str
    status_ref: str
    cluster_kind: str
    namespaced_kind: str

    def kind(self, written: object) -> str:
        """KubeVirt takes the kind case-insensitively, singular or plural."""
        text = str(written or "").lower().rstrip("s")
        return self.namespaced_kind if text == self.namespaced_kind.lower() else self.cluster_kind


INSTANCETYPE_MATCHER = Matcher(
    field="instancetype",
    status_ref="instancetypeRef",
    cluster_kind=CLUSTER_INSTANCETYPE,
    namespaced_kind=INSTANCETYPE,
)
PREFERENCE_MATCHER = Matcher(
    field="preference",
    status_ref="preferenceRef",
    cluster_kind=CLUSTER_PREFERENCE,
    namespaced_kind=PREFERENCE,
)
MATCHERS = (INSTANCETYPE_MATCHER, PREFERENCE_MATCHER)


def _decimal_text(value: object) -> object:
    """KubeVirt keeps some ratios as strings; YAML users write them as numbers."""
    if isinstance(value, bool):
        return value
    return (
        repr(value) if isinstance(value, float) else str(value) if isinstance(value, int) else value
    )


def _quantity(value: object) -> str:
    """A Kubernetes quantity as its text; a JSON number becomes its decimal text. Sizes and
    CPU counts only: none is negative, none beyond 8 PiB (so a batch's sums stay exact)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError("expected a Kubernetes quantity such as '4Gi', '500m' or 2")
    text = str(value) if not isinstance(value, float) else repr(value)
    amount = quantity.parse(text)
    if amount < 0:
        raise ValueError(f"{text!r} is negative; a size or CPU count cannot be")
    if amount > quantity.LARGEST:
        raise ValueError(f"{text!r} is beyond 8 PiB; not a real size")
    return text


def _page_size(value: object) -> str:
    text = _quantity(value)
    if quantity.parse(text) <= 0:
        raise ValueError(f"{text!r}: a page size must be larger than zero, e.g. '2Mi' or '1Gi'")
    return text


MAX_TOPOLOGY = 4096
"""Bounds each CPU topology factor far above any real VM, so a pod's figures stay exact."""

Quantity = Annotated[
    str,
    BeforeValidator(_quantity),
    WithJsonSchema(
        {
            "anyOf": [{"type": "string"}, {"type": "number"}],
            "description": "A Kubernetes quantity, e.g. '4Gi', '500m', 2",
        }
    ),
]
"""A quantity kept as written; `hub.models.quantity.parse` gives its exact value."""
ResourceList = dict[str, Quantity]


class KubeVirtObject(BaseModel):
    """KubeVirt's camelCase on the wire, snake_case in Python; unknown fields ignored."""

    model_config = ConfigDict(
        extra="ignore",
        frozen=True,
        populate_by_name=True,
        alias_generator=to_camel,
        serialize_by_alias=True,
    )


class Named(KubeVirtObject):
    name: str = ""


# The VirtualMachineInstance spec (a VirtualMachine's `spec.template.spec`)


class ResourceRequirements(KubeVirtObject):
    requests: ResourceList = Field(default_factory=dict)
    limits: ResourceList = Field(default_factory=dict)
    overcommit_guest_overhead: bool = False


class CPUFeature(KubeVirtObject):
    name: str
    policy: str = ""
    """"" and "require" need the feature on the node; "forbid" needs it absent."""


class CPU(KubeVirtObject):
    cores: int = Field(0, ge=0, le=MAX_TOPOLOGY)
    sockets: int = Field(0, ge=0, le=MAX_TOPOLOGY)
    threads: int = Field(0, ge=0, le=MAX_TOPOLOGY)
    max_sockets: int = Field(0, ge=0, le=MAX_TOPOLOGY)
    model: str = ""
    features: tuple[CPUFeature, ...] = ()
    dedicated_cpu_placement: bool = False
    isolate_emulator_thread: bool = False
    realtime: dict[str, Any] | None = None
    numa: dict[str, Any] | None = None


class Hugepages(KubeVirtObject):
    page_size: Annotated[str, BeforeValidator(_page_size)]
    """As written: KubeVirt names the pod's resource `hugepages-<pageSize>` from the text."""


class ReservedOverhead(KubeVirtObject):
    added_overhead: Quantity | None = None


class Memory(KubeVirtObject):
    guest: Quantity | None = None
    hugepages: Hugepages | None = None
    max_guest: Quantity | None = None
    reserved_overhead: ReservedOverhead | None = None


class Device(KubeVirtObject):
    """A GPU or host device: by device-plugin resource name, or a DRA claim."""

    name: str = ""
    device_name: str = ""
    claim_name: str | None = None
    request_name: str | None = None

    @property
    def claimed(self) -> bool:
        return self.claim_name is not None or self.request_name is not None


class InterfaceBinding(KubeVirtObject):
    name: str = ""


class Interface(KubeVirtObject):
    name: str = ""
    model: str = ""
    sriov: dict[str, Any] | None = None
    binding: InterfaceBinding | None = None
    passt_binding: dict[str, Any] | None = None
    passt: dict[str, Any] | None = None
    """Discontinued since KubeVirt v1.3; admission refuses it."""


class TPM(KubeVirtObject):
    enabled: bool | None = None
    persistent: bool | None = None


class Filesystem(KubeVirtObject):
    name: str
    virtiofs: dict[str, Any] | None = None


class Lun(KubeVirtObject):
    reservation: bool = False


class DiskDevice(KubeVirtObject):
    name: str = ""
    lun: Lun | None = None


class Devices(KubeVirtObject):
    autoattach_pod_interface: bool | None = None
    autoattach_graphics_device: bool | None = None
    autoattach_serial_console: bool | None = None
    log_serial_console: bool | None = None
    autoattach_vsock: bool | None = Field(None, alias="autoattachVSOCK")
    gpus: tuple[Device, ...] = ()
    host_devices: tuple[Device, ...] = ()
    interfaces: tuple[Interface, ...] = ()
    tpm: TPM | None = None
    filesystems: tuple[Filesystem, ...] = ()
    disks: tuple[DiskDevice, ...] = ()


class SEVPolicy(KubeVirtObject):
    encrypted_state: bool | None = None


class SEV(KubeVirtObject):
    policy: SEVPolicy | None = None


class LaunchSecurity(KubeVirtObject):
    sev: SEV | None = None
    snp: dict[str, Any] | None = None
    tdx: dict[str, Any] | None = None


class Machine(KubeVirtObject):
    type: str = ""


class DiskIOThreads(KubeVirtObject):
    supplemental_pool_thread_count: int | None = Field(None, ge=0, le=MAX_TOPOLOGY)


class KernelBoot(KubeVirtObject):
    container: dict[str, Any] | None = None


class Firmware(KubeVirtObject):
    kernel_boot: KernelBoot | None = None


class Domain(KubeVirtObject):
    cpu: CPU | None = None
    memory: Memory | None = None
    resources: ResourceRequirements = ResourceRequirements()
    devices: Devices = Devices()
    launch_security: LaunchSecurity | None = None
    machine: Machine | None = None
    io_threads_policy: str | None = None
    io_threads: DiskIOThreads | None = None
    firmware: Firmware | None = None
    features: dict[str, Any] | None = None


class ContainerDiskSource(KubeVirtObject):
    image: str = ""


class ClaimSource(KubeVirtObject):
    claim_name: str = ""


class DataVolumeSource(Named):
    pass


class Volume(KubeVirtObject):
    name: str
    container_disk: ContainerDiskSource | None = None
    downward_metrics: dict[str, Any] | None = None
    persistent_volume_claim: ClaimSource | None = None
    data_volume: DataVolumeSource | None = None
    host_disk: dict[str, Any] | None = None
    container_path: dict[str, Any] | None = None


class Multus(KubeVirtObject):
    network_name: str = ""
    default: bool = False


class Network(KubeVirtObject):
    name: str = ""
    multus: Multus | None = None
    pod: dict[str, Any] | None = None


class Probe(KubeVirtObject):
    exec: dict[str, Any] | None = None


class SelectorRequirement(KubeVirtObject):
    key: str
    operator: str
    values: tuple[str, ...] = ()


class NodeSelectorTerm(KubeVirtObject):
    match_expressions: tuple[SelectorRequirement, ...] = ()


class NodeSelector(KubeVirtObject):
    node_selector_terms: tuple[NodeSelectorTerm, ...] = ()


class NodeAffinity(KubeVirtObject):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None


class Affinity(KubeVirtObject):
    node_affinity: NodeAffinity | None = None


class Toleration(KubeVirtObject):
    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None


class VMISpec(KubeVirtObject):
    """`spec.template.spec` of a VirtualMachine: what its VirtualMachineInstance starts from."""

    domain: Domain = Domain()
    architecture: str = ""
    node_selector: dict[str, str] | None = None
    affinity: Affinity | None = None
    tolerations: tuple[Toleration, ...] = ()
    scheduler_name: str = ""
    volumes: tuple[Volume, ...] = ()
    networks: tuple[Network, ...] = ()
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None


# instancetype.kubevirt.io/v1beta1


class InstancetypeCPU(KubeVirtObject):
    guest: int = Field(ge=1, le=MAX_TOPOLOGY**2)
    model: str | None = None
    dedicated_cpu_placement: bool | None = Field(None, alias="dedicatedCPUPlacement")
    """Spelled `dedicatedCPUPlacement` here, unlike the VMI's `dedicatedCpuPlacement`."""
    isolate_emulator_thread: bool | None = None
    numa: dict[str, Any] | None = None
    realtime: dict[str, Any] | None = None
    max_sockets: int | None = Field(None, ge=0, le=MAX_TOPOLOGY)


class InstancetypeMemory(KubeVirtObject):
    guest: Quantity
    hugepages: Hugepages | None = None
    overcommit_percent: int = Field(0, ge=0, le=100)
    max_guest: Quantity | None = None


class InstancetypeSpec(KubeVirtObject):
    cpu: InstancetypeCPU
    memory: InstancetypeMemory
    gpus: tuple[Device, ...] = ()
    host_devices: tuple[Device, ...] = ()
    io_threads_policy: str | None = None
    io_threads: DiskIOThreads | None = None
    launch_security: LaunchSecurity | None = None
    node_selector: dict[str, str] | None = None
    scheduler_name: str = ""
    annotations: dict[str, str] = Field(default_factory=dict)


class SpreadOptions(KubeVirtObject):
    across: str | None = None
    ratio: int | None = Field(None, ge=1, le=MAX_TOPOLOGY)


class PreferenceCPU(KubeVirtObject):
    preferred_cpu_topology: str | None = Field(None, alias="preferredCPUTopology")
    spread_options: SpreadOptions | None = None
    preferred_cpu_features: tuple[CPUFeature, ...] = Field((), alias="preferredCPUFeatures")


class PreferenceDevices(KubeVirtObject):
    preferred_autoattach_graphics_device: bool | None = None
    preferred_autoattach_serial_console: bool | None = None
    preferred_autoattach_pod_interface: bool | None = None
    preferred_tpm: TPM | None = Field(None, alias="preferredTPM")


class PreferenceMachine(KubeVirtObject):
    preferred_machine_type: str = ""


class PreferenceSpec(KubeVirtObject):
    cpu: PreferenceCPU | None = None
    prefer_spread_socket_to_core_ratio: int = Field(0, ge=0, le=MAX_TOPOLOGY)
    devices: PreferenceDevices | None = None
    machine: PreferenceMachine | None = None
    preferred_architecture: str = ""
    preferred_launch_security: LaunchSecurity | None = None
    annotations: dict[str, str] = Field(default_factory=dict)


# The KubeVirt CR's spec.configuration


class DeveloperConfiguration(KubeVirtObject):
    cpu_allocation_ratio: int | None = Field(None, ge=1)
    memory_overcommit: int | None = Field(None, ge=10)
    node_selectors: dict[str, str] = Field(default_factory=dict)
    feature_gates: tuple[str, ...] = ()
    disabled_feature_gates: tuple[str, ...] = ()
    use_emulation: bool = False


class NetworkBinding(KubeVirtObject):
    sidecar_image: str = ""
    compute_resource_overhead: ResourceRequirements | None = None


class NetworkConfiguration(KubeVirtObject):
    binding: dict[str, NetworkBinding] = Field(default_factory=dict)


class VirtualMachineOptions(KubeVirtObject):
    disable_serial_console_log: dict[str, Any] | None = None


class SupportContainerResources(KubeVirtObject):
    type: str
    resources: ResourceRequirements = ResourceRequirements()


class ArchitectureSpecific(KubeVirtObject):
    machine_type: str = ""


class ArchitectureConfiguration(KubeVirtObject):
    default_architecture: str = ""
    amd64: ArchitectureSpecific | None = None
    arm64: ArchitectureSpecific | None = None
    s390x: ArchitectureSpecific | None = None


class KubeVirtConfiguration(KubeVirtObject):
    """`spec.configuration` of the KubeVirt CR; unset fields take KubeVirt's defaults."""

    developer_configuration: DeveloperConfiguration = DeveloperConfiguration()
    additional_guest_memory_overhead_ratio: Annotated[
        str | None, BeforeValidator(_decimal_text)
    ] = None
    cpu_request: Quantity | None = None
    cpu_model: str = ""
    network: NetworkConfiguration | None = None
    virtual_machine_options: VirtualMachineOptions | None = None
    support_container_resources: tuple[SupportContainerResources, ...] = ()
    default_runtime_class: str = ""
    machine_type: str = ""
    """Deprecated for `architectureConfiguration`; when set it wins for every architecture."""
    architecture_configuration: ArchitectureConfiguration | None = None
