"""What the target's virt-launcher pod would request for a VM, by KubeVirt's sizing rules.

The numbers depend on the *target* cluster's KubeVirt settings (CPU allocation ratio, memory
overcommit, additional overhead ratio), so a VM is sized once per distinct setting, not once
per cluster. Every figure keeps the arithmetic that produced it so a verdict can show its work.
"""

import math
from dataclasses import dataclass
from fractions import Fraction

from hub.models.report import KubeVirtSettings
from hub.models.vm import VmSpec

MIB = 2**20
GIB = 2**30

FIXED_OVERHEAD = 240 * MIB
PER_VCPU_OVERHEAD = 8 * MIB
IOTHREAD_OVERHEAD = 8 * MIB
VIDEO_OVERHEAD = 32 * MIB
HOST_DEVICE_OVERHEAD = 1 * GIB
DEDICATED_CPU_OVERHEAD = 100 * MIB
TPM_OVERHEAD = 53 * MIB
SEV_OVERHEAD = 256 * MIB
ARM64_OVERHEAD = 128 * MIB
PASST_OVERHEAD = 250 * MIB
PAGE_TABLE_DIVISOR = 512


@dataclass(frozen=True, slots=True)
class PodRequest:
    """The receiving virt-launcher pod's requests on one target, with the arithmetic shown."""

    cpu_millis: int
    memory_bytes: int
    overhead_bytes: int
    scalar: tuple[tuple[str, int], ...]
    arithmetic: tuple[str, ...]

    def scalar_dict(self) -> dict[str, int]:
        return dict(self.scalar)


def overhead(vm: VmSpec, kubevirt: KubeVirtSettings) -> tuple[int, list[str]]:
    """virt-launcher's memory overhead: page tables, fixed parts and per-feature extras."""
    guest = vm.memory_bytes
    parts: list[tuple[str, Fraction]] = [
        (f"page tables {guest} B / {PAGE_TABLE_DIVISOR}", Fraction(guest, PAGE_TABLE_DIVISOR)),
        ("fixed 240 MiB", Fraction(FIXED_OVERHEAD)),
        (f"{vm.cpu.vcpus} vCPU x 8 MiB", Fraction(vm.cpu.vcpus * PER_VCPU_OVERHEAD)),
        ("IOThread 8 MiB", Fraction(IOTHREAD_OVERHEAD)),
    ]
    extras = (
        (vm.autoattach_graphics, "video 32 MiB", VIDEO_OVERHEAD),
        (bool(vm.host_devices), "host devices 1 GiB", HOST_DEVICE_OVERHEAD),
        (vm.dedicated_cpu, "dedicated CPUs 100 MiB", DEDICATED_CPU_OVERHEAD),
        (vm.tpm, "TPM 53 MiB", TPM_OVERHEAD),
        (vm.sev, "SEV 256 MiB", SEV_OVERHEAD),
        (vm.architecture == "arm64", "arm64 128 MiB", ARM64_OVERHEAD),
        (vm.passt_binding, "passt 250 MiB", PASST_OVERHEAD),
    )
    parts += [(label, Fraction(size)) for present, label, size in extras if present]
    total = sum((value for _, value in parts), Fraction(0))
    steps = [" + ".join(label for label, _ in parts)]
    ratio = kubevirt.additional_guest_memory_overhead_ratio
    if ratio is not None and ratio != 1:
        total *= Fraction(ratio)
        steps.append(f"x additional overhead ratio {ratio}")
    result = math.ceil(total)
    steps.append(f"overhead = {result} B")
    return result, steps


def cpu_request(vm: VmSpec, kubevirt: KubeVirtSettings) -> tuple[int, str]:
    vcpus = vm.cpu.vcpus
    if vm.dedicated_cpu:
        whole = vcpus + (1 if vm.isolate_emulator_thread else 0)
        note = " + 1 isolated emulator thread" if vm.isolate_emulator_thread else ""
        return whole * 1000, f"cpu = {vcpus} dedicated vCPU{note} = {whole * 1000}m"
    if vm.requests_cpu_millis is not None:
        return vm.requests_cpu_millis, f"cpu = requests.cpu {vm.requests_cpu_millis}m"
    ratio = kubevirt.cpu_allocation_ratio
    millis = math.ceil(Fraction(vcpus * 1000, ratio))
    return millis, f"cpu = {vcpus} vCPU x 1000m / allocation ratio {ratio} = {millis}m"


def memory_request(vm: VmSpec, kubevirt: KubeVirtSettings, overhead_bytes: int) -> tuple[int, str]:
    added = 0 if vm.overcommit_guest_overhead else overhead_bytes
    added_note = (
        "overhead overcommitted, not added" if vm.overcommit_guest_overhead else "+ overhead"
    )
    if vm.hugepages_page_size is not None:
        return added, f"memory = {added_note} only (guest memory comes from hugepages) = {added} B"
    if vm.requests_memory_bytes is not None:
        base, source = vm.requests_memory_bytes, "requests.memory"
    elif vm.limits_memory_bytes is not None:
        base, source = vm.limits_memory_bytes, "limits.memory"
    else:
        percent = kubevirt.memory_overcommit_percent
        base = math.ceil(Fraction(vm.memory_bytes * 100, percent))
        source = f"guest {vm.memory_bytes} B x 100 / overcommit {percent}%"
    total = base + added
    return total, f"memory = {source} ({base} B) {added_note} = {total} B"


def pod_request(vm: VmSpec, kubevirt: KubeVirtSettings) -> PodRequest:
    overhead_bytes, overhead_steps = overhead(vm, kubevirt)
    cpu, cpu_step = cpu_request(vm, kubevirt)
    memory, memory_step = memory_request(vm, kubevirt, overhead_bytes)
    scalar = dict(vm.host_devices)
    if vm.hugepages_resource is not None:
        scalar[vm.hugepages_resource] = vm.memory_bytes
    return PodRequest(
        cpu_millis=cpu,
        memory_bytes=memory,
        overhead_bytes=overhead_bytes,
        scalar=tuple(sorted(scalar.items())),
        arithmetic=(cpu_step, *overhead_steps, memory_step),
    )
