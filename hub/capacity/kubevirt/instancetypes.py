"""An instancetype and a preference applied to a VM's template, as KubeVirt's VM controller
applies them when it creates the VirtualMachineInstance.

`pkg/instancetype/apply/vmi.go` (`ApplyToVMI`): node selector, scheduler name, CPU, memory,
IOThreads (v1.7+), IOThreads policy, launch security, GPUs, host devices and annotations come
from the instancetype, and a VM that sets any of them itself is refused (a conflict); only
then is the preference applied, which fills what is still unset
(`pkg/instancetype/preference/apply/`).
"""

from fractions import Fraction
from types import MappingProxyType

import numpy as np

from hub.capacity.kubevirt.admission import Cause, RejectedError
from hub.capacity.kubevirt.release import Release, since
from hub.capacity.kubevirt.vmi import Vmi
from hub.models import kubevirt as k
from hub.models import quantity

_PATH = "template.spec"
_SOCKETS = ("sockets", "preferSockets", "any", "preferAny")
_CORES = ("cores", "preferCores")
_THREADS = ("threads", "preferThreads")
_SPREAD = ("spread", "preferSpread")
_DEFAULT_SPREAD_RATIO = 2


def apply(
    vm: str,
    vmi: Vmi,
    instancetype: k.InstancetypeSpec | None,
    preference: k.PreferenceSpec | None,
    release: Release,
) -> Vmi:
    if instancetype is not None:
        causes = _conflicts(vmi, instancetype, release) + _spread(instancetype, preference)
        if causes:
            raise RejectedError(vm, causes)
        vmi = _instancetype(vmi, instancetype, preference, release)
    if preference is not None:
        vmi = _preference(vmi, preference, release)
    return vmi


def _conflict(field: str) -> Cause:
    return Cause(f"{_PATH}.{field}", "conflicts with the selected instancetype, which sets it")


def _conflicts(vmi: Vmi, it: k.InstancetypeSpec, release: Release) -> list[Cause]:
    """`apply/*.go` `validate*`: each field the instancetype owns and the VM also sets."""
    found = []
    if it.node_selector is not None and vmi.node_selector is not None:
        found.append("nodeSelector")
    if it.scheduler_name and vmi.scheduler_name:
        found.append("schedulerName")
    found += _cpu_conflicts(vmi, it)
    found += _memory_conflicts(vmi, it, release)[:1]
    if (
        since(release, "1.7.0")
        and it.io_threads is not None
        and it.io_threads.supplemental_pool_thread_count is not None
        and vmi.supplemental_pool is not None
    ):
        found.append("domain.ioThreads.supplementalPoolThreadCount")
    owned = (
        (
            it.io_threads_policy is not None and vmi.io_threads_policy is not None,
            "domain.ioThreadsPolicy",
        ),
        (
            it.launch_security is not None and vmi.launch_security is not None,
            "domain.launchSecurity",
        ),
        (bool(it.gpus) and bool(vmi.gpus), "domain.devices.gpus"),
        (bool(it.host_devices) and bool(vmi.host_devices), "domain.devices.hostDevices"),
    )
    found += [name for clash, name in owned if clash]
    causes = [_conflict(name) for name in found]
    for key, value in it.annotations.items():
        if key in vmi.annotations and vmi.annotations[key] != value:
            causes.append(
                Cause(f"template.metadata.annotations.{key}", "differs from the instancetype's")
            )
    return causes


def _cpu_conflicts(vmi: Vmi, it: k.InstancetypeSpec) -> list[str]:
    cpu = it.cpu
    return [
        name
        for clash, name in (
            ("cpu" in vmi.requests, "domain.resources.requests.cpu"),
            ("cpu" in vmi.limits, "domain.resources.limits.cpu"),
            (vmi.sockets != 0, "domain.cpu.sockets"),
            (vmi.cores != 0, "domain.cpu.cores"),
            (vmi.threads != 0, "domain.cpu.threads"),
            (bool(vmi.model) and cpu.model is not None, "domain.cpu.model"),
            (
                vmi.dedicated and cpu.dedicated_cpu_placement is not None,
                "domain.cpu.dedicatedCpuPlacement",
            ),
            (
                vmi.isolate_emulator_thread and cpu.isolate_emulator_thread is not None,
                "domain.cpu.isolateEmulatorThread",
            ),
            (vmi.numa and cpu.numa is not None, "domain.cpu.numa"),
            (vmi.realtime and cpu.realtime is not None, "domain.cpu.realtime"),
        )
        if clash
    ]


def _memory_conflicts(vmi: Vmi, it: k.InstancetypeSpec, release: Release) -> list[str]:
    """Only the first is reported, as KubeVirt returns at the first (`apply/memory.go`)."""
    memory = it.memory
    clashes: list[tuple[bool, str]]
    if since(release, "1.7.0"):
        clashes = [
            (vmi.guest is not None, "domain.memory.guest"),
            (vmi.hugepages is not None and memory.hugepages is not None, "domain.memory.hugepages"),
            (vmi.max_guest is not None and memory.max_guest is not None, "domain.memory.maxGuest"),
        ]
    else:
        clashes = [(vmi.memory_set, "domain.memory")]
    clashes += [
        ("memory" in vmi.requests, "domain.resources.requests.memory"),
        ("memory" in vmi.limits, "domain.resources.limits.memory"),
    ]
    return [name for clash, name in clashes if clash]


def _spread(it: k.InstancetypeSpec, preference: k.PreferenceSpec | None) -> list[Cause]:
    """`preference/validation/cpu.go` `CheckSpreadCPUTopology`: a spread topology must
    divide the instancetype's vCPUs evenly."""
    if _topology(preference) not in _SPREAD:
        return []
    ratio, across = _spread_options(preference)
    guest = it.cpu.guest
    if across == "SocketsCoresThreads":
        uneven = guest % 2 != 0 or (guest // 2) % ratio != 0
    else:
        uneven = guest % ratio != 0
    if not uneven:
        return []
    return [
        Cause(
            "instancetype.spec.cpu.guest",
            f"{guest} vCPUs cannot be spread across {across} with ratio {ratio}",
        )
    ]


def _topology(preference: k.PreferenceSpec | None) -> str:
    """`GetPreferredTopology`: sockets unless the preference says otherwise."""
    cpu = preference.cpu if preference else None
    return cpu.preferred_cpu_topology if cpu and cpu.preferred_cpu_topology else "sockets"


def _spread_options(preference: k.PreferenceSpec | None) -> tuple[int, str]:
    ratio, across = _DEFAULT_SPREAD_RATIO, "SocketsCores"
    if preference is None:
        return ratio, across
    if preference.prefer_spread_socket_to_core_ratio:
        ratio = preference.prefer_spread_socket_to_core_ratio
    options = preference.cpu.spread_options if preference.cpu else None
    if options is not None:
        across = options.across or across
        ratio = options.ratio or ratio
    return ratio, across


def _instancetype(
    vmi: Vmi, it: k.InstancetypeSpec, preference: k.PreferenceSpec | None, release: Release
) -> Vmi:
    cpu, memory = it.cpu, it.memory
    sockets, cores, threads = _guest_topology(cpu.guest, preference)
    guest = quantity.parse(memory.guest)
    requests = dict(vmi.requests)
    if memory.overcommit_percent > 0:
        requests["memory"] = Fraction(_overcommitted(guest, memory.overcommit_percent))
    later = since(release, "1.7.0")
    pool = vmi.supplemental_pool
    if (
        later
        and it.io_threads is not None
        and it.io_threads.supplemental_pool_thread_count is not None
    ):
        pool = it.io_threads.supplemental_pool_thread_count
    return vmi.replace(
        node_selector=vmi.node_selector if it.node_selector is None else dict(it.node_selector),
        scheduler_name=it.scheduler_name or vmi.scheduler_name,
        cpu_set=True,
        model=cpu.model if cpu.model is not None else vmi.model,
        dedicated=vmi.dedicated
        if cpu.dedicated_cpu_placement is None
        else cpu.dedicated_cpu_placement,
        isolate_emulator_thread=(
            vmi.isolate_emulator_thread
            if cpu.isolate_emulator_thread is None
            else cpu.isolate_emulator_thread
        ),
        numa=vmi.numa or cpu.numa is not None,
        realtime=vmi.realtime or cpu.realtime is not None,
        max_sockets=vmi.max_sockets if cpu.max_sockets is None else cpu.max_sockets,
        sockets=sockets,
        cores=cores,
        threads=threads,
        memory_set=True,
        guest=guest,
        hugepages=memory.hugepages.page_size
        if memory.hugepages
        else (vmi.hugepages if later else None),
        max_guest=(
            quantity.parse(memory.max_guest)
            if memory.max_guest is not None
            else (vmi.max_guest if later else None)
        ),
        requests=MappingProxyType(requests),
        supplemental_pool=pool,
        io_threads_policy=it.io_threads_policy or vmi.io_threads_policy,
        launch_security=it.launch_security or vmi.launch_security,
        gpus=it.gpus or vmi.gpus,
        host_devices=it.host_devices or vmi.host_devices,
        annotations=MappingProxyType({**vmi.annotations, **it.annotations}),
    )


def _guest_topology(guest: int, preference: k.PreferenceSpec | None) -> tuple[int, int, int]:
    """`applyGuestCPUTopology`: (sockets, cores, threads), integer division as in Go."""
    if guest == 1:
        return 1, 1, 1
    topology = _topology(preference)
    if topology in _CORES:
        return 1, guest, 1
    if topology in _THREADS:
        return 1, 1, guest
    if topology in _SPREAD:
        ratio, across = _spread_options(preference)
        if across == "SocketsCores":
            return guest // ratio, ratio, 1
        if across == "CoresThreads":
            return 1, guest // ratio, ratio
        if across == "SocketsCoresThreads":
            return guest // 2 // ratio, ratio, 2
        return 1, 1, 1
    if topology in _SOCKETS:
        return guest, 1, 1
    return 1, 1, 1


def _overcommitted(guest: Fraction, percent: int) -> int:
    """`int64(float32(guest) * (1 - float32(percent)/100))`: float32 all the way, then
    truncated (`apply/memory.go`); for 10% of 8Gi that is 7730940928, not 7730941132."""
    whole = np.float32(quantity.ceil(guest))
    factor = np.float32(1) - np.float32(percent) / np.float32(100)
    return int(np.float32(whole * factor))


def _preference(vmi: Vmi, preference: k.PreferenceSpec, release: Release) -> Vmi:
    """Only what the VM leaves unset (`preference/apply/*.go`)."""
    changes: dict[str, object] = {}
    cpu = preference.cpu
    if cpu is not None and cpu.preferred_cpu_features:
        names = {f.name for f in vmi.features}
        extra = tuple(f for f in cpu.preferred_cpu_features if f.name not in names)
        changes["features"] = vmi.features + extra
    devices = preference.devices
    if devices is not None:
        for field, preferred in (
            ("autoattach_graphics", devices.preferred_autoattach_graphics_device),
            ("autoattach_serial_console", devices.preferred_autoattach_serial_console),
            ("autoattach_pod_interface", devices.preferred_autoattach_pod_interface),
        ):
            if getattr(vmi, field) is None and preferred is not None:
                changes[field] = preferred
        if vmi.tpm is None and devices.preferred_tpm is not None:
            changes["tpm"] = devices.preferred_tpm
    machine = preference.machine
    if not vmi.machine_type and machine is not None and machine.preferred_machine_type:
        changes["machine_type"] = machine.preferred_machine_type
    if since(release, "1.7.0") and not vmi.architecture and preference.preferred_architecture:
        changes["architecture"] = preference.preferred_architecture
    secure = preference.preferred_launch_security
    if since(release, "1.9.0") and vmi.launch_security is None and secure is not None:
        changes["launch_security"] = secure
    extra_annotations = {
        k_: v for k_, v in preference.annotations.items() if k_ not in vmi.annotations
    }
    if extra_annotations:
        changes["annotations"] = MappingProxyType({**vmi.annotations, **extra_annotations})
    return vmi.replace(**changes) if changes else vmi
