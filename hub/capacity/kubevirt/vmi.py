"""A VirtualMachineInstance spec as KubeVirt's sizing and placement rules read it.

Flat and exact: quantities are `Fraction`s, and presence is kept where a rule asks for it
(`requests` and `limits` hold only the keys that are set; `None` means an unset pointer).
The stages (instancetype, defaults, overhead, containers, nodes) each take one of these and
return a new one, the way KubeVirt mutates its VMI copy by copy.
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType

from hub.models import kubevirt as k
from hub.models import quantity


@dataclass(frozen=True)
class Vmi:
    architecture: str = ""
    sockets: int = 0
    cores: int = 0
    threads: int = 0
    max_sockets: int = 0
    model: str = ""
    features: tuple[k.CPUFeature, ...] = ()
    dedicated: bool = False
    isolate_emulator_thread: bool = False
    realtime: bool = False
    numa: bool = False
    cpu_set: bool = False
    """`domain.cpu` is there at all (the overhead falls back to resources without it)."""
    memory_set: bool = False
    """`domain.memory` is there at all (before v1.7 an instancetype refuses any)."""
    guest: Fraction | None = None
    hugepages: str | None = None
    max_guest: Fraction | None = None
    added_overhead: Fraction | None = None
    requests: Mapping[str, Fraction] = field(default_factory=dict)
    limits: Mapping[str, Fraction] = field(default_factory=dict)
    overcommit_guest_overhead: bool = False
    io_threads_policy: str | None = None
    supplemental_pool: int | None = None
    autoattach_pod_interface: bool | None = None
    autoattach_graphics: bool | None = None
    autoattach_serial_console: bool | None = None
    log_serial_console: bool | None = None
    autoattach_vsock: bool | None = None
    gpus: tuple[k.Device, ...] = ()
    host_devices: tuple[k.Device, ...] = ()
    interfaces: tuple[k.Interface, ...] = ()
    networks: tuple[k.Network, ...] = ()
    tpm: k.TPM | None = None
    filesystems: tuple[str, ...] = ()
    """Volumes shared with the guest through virtiofs, in volume order."""
    container_paths: frozenset[str] = frozenset()
    """Volumes that are a path of the launcher's own container (v1.8+)."""
    reservation: bool = False
    """A LUN disk asks for SCSI persistent reservation (the pr-helper device)."""
    launch_security: k.LaunchSecurity | None = None
    machine_type: str = ""
    hyperv: Mapping[str, object] | None = None
    container_disks: tuple[str, ...] = ()
    kernel_boot_container: bool = False
    downward_metrics: bool = False
    liveness_exec: bool = False
    readiness_exec: bool = False
    node_selector: Mapping[str, str] | None = None
    affinity: tuple[k.NodeSelectorTerm, ...] = ()
    tolerations: tuple[k.Toleration, ...] = ()
    scheduler_name: str = ""
    annotations: Mapping[str, str] = field(default_factory=dict)

    def replace(self, **changes: object) -> "Vmi":
        """`dataclasses.replace` without its per-call validation: each stage replaces a
        few fields, several times per VM and target, on the check's hot path."""
        unknown = changes.keys() - _FIELDS
        if unknown:
            raise TypeError(f"Vmi has no field {', '.join(sorted(unknown))}")
        new = object.__new__(Vmi)
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        return new

    @property
    def vcpus(self) -> int:
        """`hardware.GetNumberOfVCPUs`: a zero factor is skipped, not multiplied."""
        count = 0
        for factor in (self.cores, self.sockets, self.threads):
            if factor:
                count = factor if count == 0 else count * factor
        return count

    def request(self, name: str) -> Fraction:
        return self.requests.get(name, Fraction(0))

    def limit(self, name: str) -> Fraction:
        return self.limits.get(name, Fraction(0))

    @property
    def sev(self) -> bool:
        return self.launch_security is not None and self.launch_security.sev is not None

    @property
    def sev_es(self) -> bool:
        security = self.launch_security
        if security is None or security.sev is None or security.sev.policy is None:
            return False
        return bool(security.sev.policy.encrypted_state)

    @property
    def snp(self) -> bool:
        return self.launch_security is not None and self.launch_security.snp is not None

    @property
    def tdx(self) -> bool:
        return self.launch_security is not None and self.launch_security.tdx is not None

    @property
    def sriov(self) -> bool:
        return any(i.sriov is not None for i in self.interfaces)


_FIELDS = frozenset(f.name for f in dataclasses.fields(Vmi))


def _amounts(values: Mapping[str, str]) -> Mapping[str, Fraction]:
    return MappingProxyType({name: quantity.parse(text) for name, text in values.items()})


def _value(text: str | None) -> Fraction | None:
    return None if text is None else quantity.parse(text)


def from_spec(spec: k.VMISpec, annotations: Mapping[str, str]) -> Vmi:
    domain, devices = spec.domain, spec.domain.devices
    cpu = domain.cpu or k.CPU()
    memory = domain.memory or k.Memory()
    required = spec.affinity and spec.affinity.node_affinity
    terms = required.required_during_scheduling_ignored_during_execution if required else None
    volumes = {v.name: v for v in spec.volumes}
    shared = {f.name for f in devices.filesystems}
    return Vmi(
        architecture=spec.architecture,
        sockets=cpu.sockets,
        cores=cpu.cores,
        threads=cpu.threads,
        max_sockets=cpu.max_sockets,
        model=cpu.model,
        features=cpu.features,
        dedicated=cpu.dedicated_cpu_placement,
        isolate_emulator_thread=cpu.isolate_emulator_thread,
        realtime=cpu.realtime is not None,
        numa=cpu.numa is not None,
        cpu_set=domain.cpu is not None,
        memory_set=domain.memory is not None,
        guest=_value(memory.guest),
        hugepages=memory.hugepages.page_size if memory.hugepages else None,
        max_guest=_value(memory.max_guest),
        added_overhead=_value(
            memory.reserved_overhead.added_overhead if memory.reserved_overhead else None
        ),
        requests=_amounts(domain.resources.requests),
        limits=_amounts(domain.resources.limits),
        overcommit_guest_overhead=domain.resources.overcommit_guest_overhead,
        io_threads_policy=domain.io_threads_policy,
        supplemental_pool=(
            domain.io_threads.supplemental_pool_thread_count if domain.io_threads else None
        ),
        autoattach_pod_interface=devices.autoattach_pod_interface,
        autoattach_graphics=devices.autoattach_graphics_device,
        autoattach_serial_console=devices.autoattach_serial_console,
        log_serial_console=devices.log_serial_console,
        autoattach_vsock=devices.autoattach_vsock,
        gpus=devices.gpus,
        host_devices=devices.host_devices,
        interfaces=devices.interfaces,
        networks=spec.networks,
        tpm=devices.tpm,
        filesystems=tuple(v.name for v in spec.volumes if v.name in shared),
        container_paths=frozenset(v.name for v in spec.volumes if v.container_path is not None),
        reservation=any(d.lun is not None and d.lun.reservation for d in devices.disks),
        launch_security=domain.launch_security,
        machine_type=domain.machine.type if domain.machine else "",
        hyperv=_hyperv(domain.features),
        container_disks=tuple(n for n, v in volumes.items() if v.container_disk is not None),
        kernel_boot_container=bool(
            domain.firmware
            and domain.firmware.kernel_boot
            and domain.firmware.kernel_boot.container
        ),
        downward_metrics=any(v.downward_metrics is not None for v in spec.volumes),
        liveness_exec=bool(spec.liveness_probe and spec.liveness_probe.exec is not None),
        readiness_exec=bool(spec.readiness_probe and spec.readiness_probe.exec is not None),
        node_selector=spec.node_selector,
        affinity=terms.node_selector_terms if terms else (),
        tolerations=spec.tolerations,
        scheduler_name=spec.scheduler_name,
        annotations=MappingProxyType(dict(annotations)),
    )


def _hyperv(features: Mapping[str, object] | None) -> Mapping[str, object] | None:
    hyperv = (features or {}).get("hyperv")
    return MappingProxyType(dict(hyperv)) if isinstance(hyperv, dict) else None
