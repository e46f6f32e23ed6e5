"""What KubeVirt's mutating webhook fills into a new VirtualMachineInstance, release by
release (`pkg/defaults/defaults.go` `SetDefaultVirtualMachineInstance`, and the VM
controller's default pod interface, `pkg/network/vmispec/defaults.go`).

The memory request is the rule that moved: up to v1.6.3 the webhook set it (guest x 100 /
memoryOvercommit, or the limit), so the overhead's page-table term saw it; from v1.6.4 and
v1.7.0 the pod renderer computes it instead and the VMI's request stays unset unless the
user set one. v1.6.2 alone set it to the guest memory and overcommitted it at render.
"""

from fractions import Fraction
from types import MappingProxyType

from hub.capacity.kubevirt import gates
from hub.capacity.kubevirt.release import Release, only, since
from hub.capacity.kubevirt.vmi import Vmi
from hub.models import kubevirt as k
from hub.models import quantity

DEFAULT_CPU_REQUEST = Fraction(1, 10)
"""`virtconfig.DefaultCPURequest` ("100m"): the cluster's cpuRequest only counts when it
differs (`defaults.go` `setDefaultResourceRequests`)."""
DEFAULT_ARCHITECTURE = "amd64"
MACHINE_TYPES = {"amd64": "q35", "arm64": "virt", "s390x": "s390-ccw-virtio"}
"""`virt-config.go` `DefaultAMD64MachineType` and its siblings."""
HOST_MODEL = "host-model"
HOST_PASSTHROUGH = "host-passthrough"


def memory_overcommit(config: k.KubeVirtConfiguration) -> int:
    return config.developer_configuration.memory_overcommit or 100


def apply(vmi: Vmi, release: Release, config: k.KubeVirtConfiguration, cr: dict[str, str]) -> Vmi:
    vmi = _architecture(vmi, config)
    vmi = _machine_type(vmi, config)
    vmi = _resource_requests(vmi, release, config)
    vmi = _guest_memory(vmi)
    vmi = _topology(vmi)
    vmi = _cpu_model(vmi, config)
    vmi = _hyperv_dependencies(vmi)
    vmi = _pod_interface(vmi)
    return _even_parity(vmi, release, config, cr)


def _architecture(vmi: Vmi, config: k.KubeVirtConfiguration) -> Vmi:
    if vmi.architecture:
        return vmi
    arch = config.architecture_configuration
    return vmi.replace(
        architecture=(arch.default_architecture if arch else "") or DEFAULT_ARCHITECTURE
    )


def _machine_type(vmi: Vmi, config: k.KubeVirtConfiguration) -> Vmi:
    if vmi.machine_type:
        return vmi
    if config.machine_type:
        return vmi.replace(machine_type=config.machine_type)
    arch = config.architecture_configuration
    specific = getattr(arch, vmi.architecture, None) if arch else None
    chosen = specific.machine_type if specific and specific.machine_type else ""
    return vmi.replace(machine_type=chosen or MACHINE_TYPES.get(vmi.architecture, "q35"))


def _resource_requests(vmi: Vmi, release: Release, config: k.KubeVirtConfiguration) -> Vmi:
    requests = dict(vmi.requests)
    if vmi.limit("cpu") and not vmi.request("cpu"):
        requests["cpu"] = vmi.limits["cpu"]
    if before_render_memory(release):
        if vmi.limit("memory") and not requests.get("memory"):
            requests["memory"] = vmi.limits["memory"]
        if "memory" not in requests:
            wanted = _guest_or_page(vmi)
            if wanted is not None and quantity.ceil(wanted) > 0:
                requests["memory"] = _memory_default(wanted, release, config)
    cpu_request = quantity.parse(config.cpu_request) if config.cpu_request else None
    custom = cpu_request is not None and cpu_request != DEFAULT_CPU_REQUEST
    if custom and cpu_request is not None and "cpu" not in requests and not vmi.dedicated:
        requests["cpu"] = cpu_request
    return vmi.replace(requests=MappingProxyType(requests))


def before_render_memory(release: Release) -> bool:
    """Up to v1.6.3 the webhook sets the memory request; later the renderer computes it."""
    return not since(release, "1.7.0", "1.6.4")


def _guest_or_page(vmi: Vmi) -> Fraction | None:
    if vmi.guest is not None:
        return vmi.guest
    if vmi.hugepages is not None:
        return quantity.parse(vmi.hugepages)
    return None


def _memory_default(
    wanted: Fraction, release: Release, config: k.KubeVirtConfiguration
) -> Fraction:
    """guest x 100 / memoryOvercommit, floored (v1.6.2 kept the guest and overcommitted it
    at render time instead)."""
    overcommit = memory_overcommit(config)
    if overcommit == 100 or only(release, "1.6.2"):
        return wanted
    return Fraction(quantity.ceil(wanted) * 100 // overcommit)


def _guest_memory(vmi: Vmi) -> Vmi:
    """`setGuestMemory`: the guest memory from the request, else the limit, else a page."""
    if vmi.guest is not None:
        return vmi
    for source in (vmi.request("memory"), vmi.limit("memory")):
        if source:
            return vmi.replace(guest=source, memory_set=True)
    if vmi.hugepages is not None:
        return vmi.replace(guest=quantity.parse(vmi.hugepages), memory_set=True)
    return vmi


def _topology(vmi: Vmi) -> Vmi:
    """`SetDefaultGuestCPUTopology`: sockets from the CPU limit, else the request, else 1."""
    if vmi.sockets or vmi.cores or vmi.threads:
        return vmi.replace(cpu_set=True)
    sockets = 1
    if "cpu" in vmi.limits:
        sockets = quantity.ceil(vmi.limits["cpu"])
    elif "cpu" in vmi.requests:
        sockets = quantity.ceil(vmi.requests["cpu"])
    return vmi.replace(sockets=sockets, cores=1, threads=1, cpu_set=True)


def _cpu_model(vmi: Vmi, config: k.KubeVirtConfiguration) -> Vmi:
    """arm64 defaults to host-passthrough (`defaults/arm64.go`); otherwise the cluster's
    cpuModel, else host-model (`setDefaultCPUModel`)."""
    if vmi.model:
        return vmi
    if vmi.architecture == "arm64":
        return vmi.replace(model=HOST_PASSTHROUGH)
    return vmi.replace(model=config.cpu_model or HOST_MODEL)


_HYPERV_NEEDS = (
    ("evmcs", "vapic"),
    ("ipi", "vpindex"),
    ("tlbflush", "vpindex"),
    ("synictimer", "synic"),
    ("synic", "vpindex"),
)
"""`getHypervFeatureDependencies`, in KubeVirt's order: an enabled feature turns on what it
needs when that is left unset."""


def _enabled(state: object) -> bool:
    return isinstance(state, dict) and state.get("enabled") is True


def _hyperv_dependencies(vmi: Vmi) -> Vmi:
    """`SetHypervFeatureDependencies`; an EVMCS not disabled also needs the vmx CPU feature."""
    if vmi.hyperv is None:
        return vmi
    hyperv = {
        name: dict(state) if isinstance(state, dict) else state
        for name, state in vmi.hyperv.items()
    }
    for feature, needs in _HYPERV_NEEDS:
        needed = hyperv.get(needs)
        if _enabled(hyperv.get(feature)) and not (isinstance(needed, dict) and "enabled" in needed):
            hyperv[needs] = {**(needed if isinstance(needed, dict) else {}), "enabled": True}
    vmi = vmi.replace(hyperv=MappingProxyType(hyperv))
    evmcs = hyperv.get("evmcs")
    if not isinstance(evmcs, dict) or evmcs.get("enabled") is False:
        return vmi
    vmx = k.CPUFeature(name="vmx", policy="require")
    if any(f.name == "vmx" for f in vmi.features):
        return vmi.replace(features=tuple(vmx if f.name == "vmx" else f for f in vmi.features))
    return vmi.replace(features=(*vmi.features, vmx))


def _pod_interface(vmi: Vmi) -> Vmi:
    """With no networks and no interfaces, the pod network and a default interface (model
    unset, so virtio) are added unless autoattachPodInterface is false."""
    if vmi.autoattach_pod_interface is False or vmi.networks or vmi.interfaces:
        return vmi
    return vmi.replace(
        interfaces=(k.Interface(name="default"),),
        networks=(k.Network(name="default", pod={}),),
    )


def _even_parity(
    vmi: Vmi, release: Release, config: k.KubeVirtConfiguration, cr: dict[str, str]
) -> Vmi:
    """`vmi-mutator.go`: the CR's even-parity annotation is copied onto an isolated-emulator
    VMI, only with the AlignCPUs gate."""
    if not vmi.isolate_emulator_thread or k.EVEN_PARITY not in cr:
        return vmi
    if not gates.enabled("AlignCPUs", release, config.developer_configuration):
        return vmi
    return vmi.replace(annotations=MappingProxyType({**vmi.annotations, k.EVEN_PARITY: ""}))
