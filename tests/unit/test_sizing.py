"""The virt-launcher pod of a VM, release by release, against figures worked out by hand.

Every expected number below is written as the arithmetic of the KubeVirt (or CDI, or
Kubernetes) rule it comes from; the comment beside each case names the rule and the file it
is in, at the tag of the release the case uses. None is copied from the code under test.

Paths (kubevirt/kubevirt), with the line each rule starts on at v1.9.0 unless a tag is named:
  OVH   GetMemoryOverhead: pkg/hypervisor/kvm/hypervisorbackend.go:69 (v1.8+);
        v1.7.0:pkg/virt-controller/services/renderresources.go:425 (<= v1.7)
  RR    pkg/virt-controller/services/renderresources.go: WithoutDedicatedCPU :128,
        WithHugePages :220, WithMemoryRequests :263, WithMemoryOverhead :295,
        WithCPUPinning :319, getRequiredResources :466, sidecarResources :535
  DEF   pkg/defaults/defaults.go: setDefaultResourceRequests :262,
        SetDefaultGuestCPUTopology :285
  IT    pkg/instancetype/apply/cpu.go: applyCPU :32, applyGuestCPUTopology :76;
        pkg/instancetype/apply/memory.go: applyMemory :31, validateMemory :73
  SCL   pkg/virt-controller/services/serialconsolelog.go:66 (guest-console-log resources)
  CD    pkg/container-disk/container-disk.go:248; VFS pkg/virtiofs/resources.go:46
  NET   pkg/network/resources/memory.go:34 (v1.8+); v1.7.0:pkg/network/netbinding/memory.go:32
  QOS   staging/src/kubevirt.io/api/core/v1/types.go:580 WantsToHaveQOSGuaranteed
Page tables are `ScaledValue(Kilo)` of the VMI's memory request (kB, rounded up), x 1000 /
512, floored; the additional overhead ratio adds `int64(float64(kB rounded up) x (r - 1))` kB.
"""

import math
from dataclasses import dataclass, field
from typing import Any

import pytest

from hub.capacity import requirements
from hub.capacity.kubevirt import release as releases
from hub.capacity.kubevirt.admission import RejectedError
from hub.capacity.kubevirt.render import Rendered, render, target
from hub.models import kubevirt as k
from hub.models.check import Code
from hub.models.vm import (
    InstancetypeRevision,
    PreferenceRevision,
    SourceNode,
    VirtualMachine,
)

MI, GI, M = 2**20, 2**30, 10**6
FIXED = 25 + 100 + 25 + 40 + 30  # MiB: launcher monitor, launcher, virtlogd, virtqemud, qemu (OVH)
CONSOLE_CPU, CONSOLE_MEM = 5, 35 * M  # guest-console-log requests (SCL)
STRICT_CPU, STRICT_MEM = (
    15,
    60 * M,
)  # its limits, which become its requests when dedicated/Guaranteed


def pages(request_bytes: int) -> int:
    """Page-table overhead from a memory request, by the rule in OVH."""
    kilo = -(-request_bytes // 1000)
    return kilo * 1000 // 512


def ratio_added(total: int, ratio: float) -> int:
    """MultiplyMemory (OVH): whole kB rounded up, times (ratio - 1), truncated, back to bytes."""
    return int(float(-(-total // 1000)) * (ratio - 1.0)) * 1000


def vm(
    domain: dict[str, Any] | None = None,
    instancetype: dict[str, Any] | None = None,
    preference: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
    source: dict[str, str] | None = None,
    **template: Any,
) -> VirtualMachine:
    data: dict[str, Any] = {
        "name": "vm",
        "namespace": "ns",
        "template": {"domain": domain or {}, **template},
        "annotations": annotations or {},
    }
    if instancetype is not None:
        data["instancetype"] = InstancetypeRevision(
            kind="VirtualMachineClusterInstancetype",
            name="it",
            spec=k.InstancetypeSpec.model_validate(instancetype),
        )
    if preference is not None:
        data["preference"] = PreferenceRevision(
            kind="VirtualMachineClusterPreference",
            name="pref",
            spec=k.PreferenceSpec.model_validate(preference),
        )
    if source is not None:
        data["source_node"] = SourceNode(name="src-1", labels=source)
    return VirtualMachine.model_validate(data)


def sized(
    machine: VirtualMachine,
    version: str,
    config: dict[str, Any] | None = None,
    cr: dict[str, str] | None = None,
    runtime: dict[str, dict[str, str]] | None = None,
) -> Rendered:
    to = target(
        version, k.KubeVirtConfiguration.model_validate(config or {}), cr or {}, runtime or {}
    )
    return render(machine, to)


def plain(cores: int = 2, guest: str = "4Gi", **domain: Any) -> dict[str, Any]:
    return {"cpu": {"cores": cores}, "memory": {"guest": guest}, **domain}


@dataclass(frozen=True)
class Case:
    id: str
    version: str
    machine: VirtualMachine
    cpu: int
    memory: int
    config: dict[str, Any] = field(default_factory=dict)
    cr: dict[str, str] = field(default_factory=dict)
    resources: dict[str, int] = field(default_factory=dict)
    runtime: dict[str, dict[str, str]] = field(default_factory=dict)


VIRT = {
    "devices.kubevirt.io/kvm": 1,
    "devices.kubevirt.io/tun": 1,
    "devices.kubevirt.io/vhost-net": 1,
}
"""getRequiredResources (RR): kvm; tun and vhost-net for the default virtio pod interface."""
G4 = 4 * GI

CASES = [
    # --- the memory request and its page tables, by release -----------------------------
    Case(
        "v1.9.0: no VMI memory request, so no page tables; request = guest (RR WithMemoryRequests)",
        "v1.9.0",
        vm(plain()),
        cpu=200 + CONSOLE_CPU,  # 2 vCPU x 1000m / cpuAllocationRatio 10 (RR WithoutDedicatedCPU)
        memory=G4
        + (FIXED + 2 * 8 + 8 + 32) * MI
        + CONSOLE_MEM,  # vCPUs 8Mi each, IOThread 8Mi, video 32Mi
        resources=VIRT,
    ),
    Case(
        "v1.6.3: the webhook sets the request to the guest (DEF), so page tables count",
        "v1.6.3",
        vm(plain()),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + pages(G4) + (FIXED + 16 + 8 + 32) * MI + CONSOLE_MEM,
    ),
    Case(
        "v1.6.4: the render-time request of v1.7 was backported: no page tables",
        "v1.6.4",
        vm(plain()),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 16 + 8 + 32) * MI + CONSOLE_MEM,
    ),
    Case(
        "v1.5.0: video was 16Mi (OVH) and the console log an app container (SCL)",
        "v1.5.0",
        vm(plain()),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + pages(G4) + (FIXED + 16 + 8 + 16) * MI + CONSOLE_MEM,
    ),
    Case(
        "v1.9.0 memoryOvercommit 150: guest x 100 / 150, floored, at render time",
        "v1.9.0",
        vm(plain()),
        config={"developerConfiguration": {"memoryOvercommit": 150}},
        cpu=200 + CONSOLE_CPU,
        memory=G4 * 100 // 150 + (FIXED + 16 + 8 + 32) * MI + CONSOLE_MEM,
    ),
    Case(
        "v1.6.3 memoryOvercommit 150: the webhook's overcommitted request sizes the page tables",
        "v1.6.3",
        vm(plain()),
        config={"developerConfiguration": {"memoryOvercommit": 150}},
        cpu=200 + CONSOLE_CPU,
        memory=G4 * 100 // 150 + pages(G4 * 100 // 150) + (FIXED + 56) * MI + CONSOLE_MEM,
    ),
    Case(
        "v1.6.2 alone: the VMI request is the guest, overcommitted at render for any request",
        "v1.6.2",
        vm(plain()),
        config={"developerConfiguration": {"memoryOvercommit": 150}},
        cpu=200 + CONSOLE_CPU,
        memory=G4 * 100 // 150 + pages(G4) + (FIXED + 56) * MI + CONSOLE_MEM,
    ),
    Case(
        "an explicit memory request on v1.9.0 is kept and sizes the page tables",
        "v1.9.0",
        vm(plain(resources={"requests": {"memory": "6Gi"}})),
        cpu=200 + CONSOLE_CPU,
        memory=6 * GI + pages(6 * GI) + (FIXED + 56) * MI + CONSOLE_MEM,
    ),
    Case(
        "v1.9.0 overcommitGuestOverhead: the request alone, no overhead (RR WithMemoryOverhead)",
        "v1.9.0",
        vm(plain(resources={"overcommitGuestOverhead": True})),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + CONSOLE_MEM,
    ),
    # --- instancetypes and preferences ----------------------------------------------------
    Case(
        "u1.medium on v1.9.0: 1 vCPU, 4Gi guest from the instancetype (IT), no page tables",
        "v1.9.0",
        vm(instancetype={"cpu": {"guest": 1}, "memory": {"guest": "4Gi"}}),
        cpu=100 + CONSOLE_CPU,
        memory=G4 + (FIXED + 8 + 8 + 32) * MI + CONSOLE_MEM,
        resources=VIRT,
    ),
    Case(
        "u1.medium on v1.6.0: the webhook's request of the guest brings page tables back",
        "v1.6.0",
        vm(instancetype={"cpu": {"guest": 1}, "memory": {"guest": "4Gi"}}),
        cpu=100 + CONSOLE_CPU,
        memory=G4 + pages(G4) + (FIXED + 48) * MI + CONSOLE_MEM,
    ),
    Case(
        "o1.medium: overcommitPercent 50 sets requests.memory to exactly half (IT memory.go)",
        "v1.9.0",
        vm(instancetype={"cpu": {"guest": 1}, "memory": {"guest": "4Gi", "overcommitPercent": 50}}),
        cpu=100 + CONSOLE_CPU,
        memory=2 * GI + pages(2 * GI) + (FIXED + 48) * MI + CONSOLE_MEM,
    ),
    Case(
        "overcommitPercent 10 of 8Gi is float32: 2^33 x float32(0.9) = 15099494 x 2^9 bytes",
        "v1.9.0",
        vm(instancetype={"cpu": {"guest": 2}, "memory": {"guest": "8Gi", "overcommitPercent": 10}}),
        cpu=200 + CONSOLE_CPU,  # guest 2 -> 2 sockets (preferSockets default)
        memory=15099494 * 2**9 + pages(15099494 * 2**9) + (FIXED + 56) * MI + CONSOLE_MEM,
    ),
    Case(
        "a spread preference lays 4 vCPUs on 2 sockets x 2 cores; the count is what sizes",
        "v1.9.0",
        vm(
            instancetype={"cpu": {"guest": 4}, "memory": {"guest": "4Gi"}},
            preference={"cpu": {"preferredCPUTopology": "spread"}},
        ),
        cpu=400 + CONSOLE_CPU,
        memory=G4 + (FIXED + 4 * 8 + 8 + 32) * MI + CONSOLE_MEM,
    ),
    Case(
        "a preference that turns the graphics device off drops the video overhead",
        "v1.9.0",
        vm(
            instancetype={"cpu": {"guest": 1}, "memory": {"guest": "4Gi"}},
            preference={"devices": {"preferredAutoattachGraphicsDevice": False}},
        ),
        cpu=100 + CONSOLE_CPU,
        memory=G4 + (FIXED + 8 + 8) * MI + CONSOLE_MEM,
    ),
    Case(
        "an instancetype on v1.7.0 may leave the VM its own hugepages (IT validateMemory)",
        "v1.7.0",
        vm(
            domain={"memory": {"hugepages": {"pageSize": "2Mi"}}},
            instancetype={"cpu": {"guest": 1}, "memory": {"guest": "4Gi"}},
        ),
        cpu=100 + CONSOLE_CPU,
        memory=(FIXED + 48) * MI + CONSOLE_MEM,  # the guest goes to hugepages-2Mi
        resources={"hugepages-2Mi": G4},
    ),
    Case(
        "dedicated CPUs and an isolated emulator thread from cx1.large (IT cpu.go)",
        "v1.9.0",
        vm(
            instancetype={
                "cpu": {"guest": 2, "dedicatedCPUPlacement": True, "isolateEmulatorThread": True},
                "memory": {"guest": "4Gi", "hugepages": {"pageSize": "2Mi"}},
            }
        ),
        cpu=(2 + 1) * 1000 + STRICT_CPU,  # RR WithCPUPinning: 2 vCPU + 1 emulator thread
        memory=(FIXED + 16 + 8 + 32 + 100) * MI + STRICT_MEM,  # dedicated: +100Mi (OVH)
        resources={"hugepages-2Mi": G4},
    ),
    # --- CPU ------------------------------------------------------------------------------
    Case(
        "the cluster's cpuRequest becomes the VMI's request (DEF setDefaultResourceRequests)",
        "v1.9.0",
        vm(plain()),
        config={"cpuRequest": "500m"},
        cpu=500 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56) * MI + CONSOLE_MEM,
    ),
    Case(
        "with no topology, a cpuRequest of 2 also makes 2 sockets (DEF SetDefaultGuestCPUTopology)",
        "v1.9.0",
        vm({"memory": {"guest": "4Gi"}}),
        config={"cpuRequest": "2"},
        cpu=2000 + CONSOLE_CPU,
        memory=G4 + (FIXED + 2 * 8 + 8 + 32) * MI + CONSOLE_MEM,
    ),
    Case(
        "limits.cpu only: the request copies it and the topology takes 3 sockets from it",
        "v1.9.0",
        vm({"memory": {"guest": "2Gi"}, "resources": {"limits": {"cpu": "3"}}}),
        cpu=3000 + CONSOLE_CPU,
        memory=2 * GI + (FIXED + 3 * 8 + 8 + 32) * MI + CONSOLE_MEM,
    ),
    Case(
        "cpuAllocationRatio 3: 1 vCPU is 333.3...m, which the API rounds up to 334m",
        "v1.9.0",
        vm(plain(cores=1)),
        config={"developerConfiguration": {"cpuAllocationRatio": 3}},
        cpu=math.ceil(1000 / 3) + CONSOLE_CPU,
        memory=G4 + (FIXED + 48) * MI + CONSOLE_MEM,
    ),
    Case(
        "an IOThread supplemental pool adds its threads to the CPU divided by the ratio (v1.5.2+)",
        "v1.9.0",
        vm(plain(ioThreadsPolicy="supplementalPool", ioThreads={"supplementalPoolThreadCount": 2})),
        cpu=(2 + 2) * 1000 // 10 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56) * MI + CONSOLE_MEM,
    ),
    Case(
        "up to v1.5.1 the supplemental pool only raised the CPU limit (RR WithIOThreads)",
        "v1.5.1",
        vm(plain(ioThreadsPolicy="supplementalPool", ioThreads={"supplementalPoolThreadCount": 2})),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + pages(G4) + (FIXED + 16 + 8 + 16) * MI + CONSOLE_MEM,
    ),
    Case(
        "4 dedicated vCPUs: requests = limits = 4 CPUs, +100Mi, the console log at its limits",
        "v1.9.0",
        vm(plain(cores=4, guest="8Gi", cpu={"cores": 4, "dedicatedCpuPlacement": True})),
        cpu=4000 + STRICT_CPU,
        memory=8 * GI + (FIXED + 4 * 8 + 8 + 32 + 100) * MI + STRICT_MEM,
    ),
    Case(
        "an isolated emulator thread adds one CPU",
        "v1.9.0",
        vm(plain(cpu={"cores": 4, "dedicatedCpuPlacement": True, "isolateEmulatorThread": True})),
        cpu=5000 + STRICT_CPU,
        memory=G4 + (FIXED + 32 + 8 + 32 + 100) * MI + STRICT_MEM,
    ),
    Case(
        "even parity from the CR's annotation, with AlignCPUs: 4 vCPUs take 2 emulator CPUs",
        "v1.9.0",
        vm(plain(cpu={"cores": 4, "dedicatedCpuPlacement": True, "isolateEmulatorThread": True})),
        config={"developerConfiguration": {"featureGates": ["AlignCPUs"]}},
        cr={"alpha.kubevirt.io/EmulatorThreadCompleteToEvenParity": ""},
        cpu=6000 + STRICT_CPU,
        memory=G4 + (FIXED + 32 + 8 + 32 + 100) * MI + STRICT_MEM,
    ),
    Case(
        "the annotation without the AlignCPUs gate is not copied (vmi-mutator.go): one thread",
        "v1.9.0",
        vm(plain(cpu={"cores": 4, "dedicatedCpuPlacement": True, "isolateEmulatorThread": True})),
        cr={"alpha.kubevirt.io/EmulatorThreadCompleteToEvenParity": ""},
        cpu=5000 + STRICT_CPU,
        memory=G4 + (FIXED + 32 + 8 + 32 + 100) * MI + STRICT_MEM,
    ),
    Case(
        "dedicated with a pool of 2: 4 + 2 CPUs, and parity of (6 + 2) asks 2 emulator CPUs",
        "v1.9.0",
        vm(
            plain(
                cpu={"cores": 4, "dedicatedCpuPlacement": True, "isolateEmulatorThread": True},
                ioThreadsPolicy="supplementalPool",
                ioThreads={"supplementalPoolThreadCount": 2},
            )
        ),
        config={"developerConfiguration": {"featureGates": ["AlignCPUs"]}},
        cr={"alpha.kubevirt.io/EmulatorThreadCompleteToEvenParity": ""},
        cpu=(4 + 2 + 2) * 1000 + STRICT_CPU,
        memory=G4 + (FIXED + 32 + 8 + 32 + 100) * MI + STRICT_MEM,
    ),
    # --- QoS Guaranteed ---------------------------------------------------------------------
    Case(
        "Guaranteed (requests = limits) on v1.9.0: +100Mi and the console log at its limits",
        "v1.9.0",
        vm(
            plain(
                resources={
                    "requests": {"cpu": "2", "memory": "4Gi"},
                    "limits": {"cpu": "2", "memory": "4Gi"},
                }
            )
        ),
        cpu=2000 + STRICT_CPU,
        memory=G4 + pages(G4) + (FIXED + 56 + 100) * MI + STRICT_MEM,
    ),
    Case(
        "a memory limit without a request is Guaranteed from v1.7 (QOS); the request is the limit",
        "v1.7.0",
        vm(plain(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "2", "memory": "4Gi"}})),
        cpu=2000 + STRICT_CPU,
        memory=G4 + (FIXED + 56 + 100) * MI + STRICT_MEM,
    ),
    Case(
        "the same VM on v1.6.3: the webhook copies the limit to the request, page tables count",
        "v1.6.3",
        vm(plain(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "2", "memory": "4Gi"}})),
        cpu=2000 + STRICT_CPU,
        memory=G4 + pages(G4) + (FIXED + 56 + 100) * MI + STRICT_MEM,
    ),
    # --- hugepages ----------------------------------------------------------------------------
    Case(
        "1Gi hugepages: the guest in pages, memory is the overhead (RR WithHugePages)",
        "v1.9.0",
        vm(plain(guest="8Gi", memory={"guest": "8Gi", "hugepages": {"pageSize": "1Gi"}})),
        cpu=200 + CONSOLE_CPU,
        memory=(FIXED + 56) * MI + CONSOLE_MEM,
        resources={"hugepages-1Gi": 8 * GI, **VIRT},
    ),
    Case(
        "with hugepages the overhead is added even with overcommitGuestOverhead",
        "v1.9.0",
        vm(
            plain(
                memory={"guest": "8Gi", "hugepages": {"pageSize": "1Gi"}},
                resources={"overcommitGuestOverhead": True},
            )
        ),
        cpu=200 + CONSOLE_CPU,
        memory=(FIXED + 56) * MI + CONSOLE_MEM,
        resources={"hugepages-1Gi": 8 * GI},
    ),
    Case(
        "a memory request above the guest: the guest in pages, the rest as memory",
        "v1.9.0",
        vm(
            plain(
                memory={"guest": "8Gi", "hugepages": {"pageSize": "1Gi"}},
                resources={"requests": {"memory": "10Gi"}},
            )
        ),
        cpu=200 + CONSOLE_CPU,
        memory=2 * GI + pages(10 * GI) + (FIXED + 56) * MI + CONSOLE_MEM,
        resources={"hugepages-1Gi": 8 * GI},
    ),
    # --- the overhead's other terms -------------------------------------------------------------
    Case(
        "additionalGuestMemoryOverheadRatio 1.5 multiplies the total last (OVH MultiplyMemory)",
        "v1.9.0",
        vm(plain()),
        config={"additionalGuestMemoryOverheadRatio": "1.5"},
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56) * MI + ratio_added((FIXED + 56) * MI, 1.5) + CONSOLE_MEM,
    ),
    Case(
        "v1.5.2: dedicated's 100Mi came after the ratio, not multiplied",
        "v1.5.2",
        vm(plain(cpu={"cores": 2, "dedicatedCpuPlacement": True})),
        config={"additionalGuestMemoryOverheadRatio": "1.5"},
        cpu=2000 + STRICT_CPU,
        memory=G4
        + pages(G4)
        + (FIXED + 16 + 8 + 16) * MI
        + ratio_added(pages(G4) + (FIXED + 40) * MI, 1.5)
        + 100 * MI
        + STRICT_MEM,
    ),
    Case(
        "v1.5.3: dedicated's 100Mi moved before the ratio and is multiplied with the rest",
        "v1.5.3",
        vm(plain(cpu={"cores": 2, "dedicatedCpuPlacement": True})),
        config={"additionalGuestMemoryOverheadRatio": "1.5"},
        cpu=2000 + STRICT_CPU,
        memory=G4
        + pages(G4)
        + (FIXED + 40 + 100) * MI
        + ratio_added(pages(G4) + (FIXED + 40 + 100) * MI, 1.5)
        + STRICT_MEM,
    ),
    Case(
        "an enabled TPM adds 53Mi for swtpm (OVH, pkg/tpm/tpm.go)",
        "v1.9.0",
        vm(plain(devices={"tpm": {}})),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56 + 53) * MI + CONSOLE_MEM,
    ),
    Case(
        "a disabled TPM adds nothing from v1.5.1",
        "v1.9.0",
        vm(plain(devices={"tpm": {"enabled": False}})),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56) * MI + CONSOLE_MEM,
    ),
    Case(
        "v1.5.0 counted any tpm key, disabled or not",
        "v1.5.0",
        vm(plain(devices={"tpm": {"enabled": False}})),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + pages(G4) + (FIXED + 40 + 53) * MI + CONSOLE_MEM,
    ),
    Case(
        "SEV adds 256Mi and the SEV device (OVH, RR WithSEV)",
        "v1.9.0",
        vm(plain(launchSecurity={"sev": {}})),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56 + 256) * MI + CONSOLE_MEM,
        resources={"devices.kubevirt.io/sev": 1},
    ),
    Case(
        "SEV-SNP from v1.7 counts as SEV: 256Mi once and the SEV device",
        "v1.7.0",
        vm(plain(launchSecurity={"snp": {}})),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56 + 256) * MI + CONSOLE_MEM,
        resources={"devices.kubevirt.io/sev": 1},
    ),
    Case(
        "SEV-SNP on v1.6.6 gets neither (IsSEVVMI was SEV only)",
        "v1.6.6",
        vm(plain(launchSecurity={"snp": {}})),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56) * MI + CONSOLE_MEM,
    ),
    Case(
        "TDX from v1.9.0 asks for the TDX device and no SEV overhead",
        "v1.9.0",
        vm(plain(launchSecurity={"tdx": {}})),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56) * MI + CONSOLE_MEM,
        resources={"devices.kubevirt.io/tdx": 1},
    ),
    Case(
        "exec liveness and readiness probes: 10Mi each and 100Mi once (OVH addProbeOverheads)",
        "v1.9.0",
        vm(
            plain(),
            livenessProbe={"exec": {"command": ["true"]}},
            readinessProbe={"exec": {"command": ["true"]}},
        ),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56 + 10 + 10 + 100) * MI + CONSOLE_MEM,
    ),
    Case(
        "a downwardMetrics volume adds 1Mi",
        "v1.9.0",
        vm(plain(), volumes=[{"name": "metrics", "downwardMetrics": {}}]),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56 + 1) * MI + CONSOLE_MEM,
    ),
    Case(
        "arm64 adds 128Mi for the UEFI flash",
        "v1.9.0",
        vm(plain(), architecture="arm64"),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56 + 128) * MI + CONSOLE_MEM,
    ),
    Case(
        "no graphics device, no video overhead",
        "v1.9.0",
        vm(plain(devices={"autoattachGraphicsDevice": False})),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 16 + 8) * MI + CONSOLE_MEM,
    ),
    Case(
        "reservedOverhead.addedOverhead counts from v1.8.0",
        "v1.8.0",
        vm(plain(memory={"guest": "4Gi", "reservedOverhead": {"addedOverhead": "500Mi"}})),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56 + 500) * MI + CONSOLE_MEM,
    ),
    Case(
        "and is ignored by v1.7.4",
        "v1.7.4",
        vm(plain(memory={"guest": "4Gi", "reservedOverhead": {"addedOverhead": "500Mi"}})),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56) * MI + CONSOLE_MEM,
    ),
    # --- devices and networks ------------------------------------------------------------------
    Case(
        "a GPU by device plugin: the resource, and 1Gi of VFIO overhead",
        "v1.9.0",
        vm(plain(devices={"gpus": [{"name": "g", "deviceName": "nvidia.com/A100"}]})),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56 + 1024) * MI + CONSOLE_MEM,
        resources={"nvidia.com/A100": 1},
    ),
    Case(
        "a DRA GPU: VFIO overhead, no extended resource (WithGPUsDRA, gate Beta-on in v1.9)",
        "v1.9.0",
        vm(plain(devices={"gpus": [{"name": "g", "claimName": "gpu", "requestName": "a"}]})),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56 + 1024) * MI + CONSOLE_MEM,
    ),
    Case(
        "an SR-IOV interface: 1Gi of VFIO overhead (vmitrait.HasVFIO)",
        "v1.9.0",
        vm(
            plain(devices={"interfaces": [{"name": "fast", "sriov": {}}]}),
            networks=[{"name": "fast", "multus": {"networkName": "sriov-net"}}],
        ),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56 + 1024) * MI + CONSOLE_MEM,
        resources={"devices.kubevirt.io/kvm": 1, "devices.kubevirt.io/tun": 1},
    ),
    Case(
        "core passtBinding from v1.8: 250Mi after the ratio (NET)",
        "v1.9.0",
        vm(
            plain(devices={"interfaces": [{"name": "default", "passtBinding": {}}]}),
            networks=[{"name": "default", "pod": {}}],
        ),
        config={"additionalGuestMemoryOverheadRatio": "2"},
        cpu=200 + CONSOLE_CPU,
        memory=G4
        + (FIXED + 56) * MI
        + ratio_added((FIXED + 56) * MI, 2.0)
        + 250 * MI
        + CONSOLE_MEM,
    ),
    Case(
        "passtBinding means nothing to v1.7.4's memory",
        "v1.7.4",
        vm(
            plain(devices={"interfaces": [{"name": "default", "passtBinding": {}}]}),
            networks=[{"name": "default", "pod": {}}],
        ),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56) * MI + CONSOLE_MEM,
    ),
    Case(
        "a binding plugin: its computeResourceOverhead once, and its sidecar (no requests)",
        "v1.9.0",
        vm(
            plain(
                devices={
                    "interfaces": [
                        {"name": "a", "binding": {"name": "slirp"}},
                        {"name": "b", "binding": {"name": "slirp"}},
                    ]
                }
            ),
            networks=[{"name": "a", "pod": {}}, {"name": "b", "multus": {"networkName": "x"}}],
        ),
        config={
            "network": {
                "binding": {
                    "slirp": {
                        "sidecarImage": "registry/slirp",
                        "computeResourceOverhead": {"requests": {"memory": "300Mi"}},
                    }
                }
            }
        },
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56 + 300) * MI + CONSOLE_MEM,
    ),
    # --- the pod's other containers and its overhead ------------------------------------------
    Case(
        "a virtiofs filesystem runs a virtiofs container: 10m / 1M (VFS)",
        "v1.9.0",
        vm(
            plain(devices={"filesystems": [{"name": "share", "virtiofs": {}}]}),
            volumes=[{"name": "share", "persistentVolumeClaim": {"claimName": "share"}}],
        ),
        cpu=200 + CONSOLE_CPU + 10,
        memory=G4 + (FIXED + 56) * MI + CONSOLE_MEM + 1 * M,
    ),
    Case(
        "a containerDisk on v1.8 (no ImageVolume): a volume container 1m / 1M (CD)",
        "v1.8.4",
        vm(plain(), volumes=[{"name": "root", "containerDisk": {"image": "quay.io/disk:1"}}]),
        cpu=200 + CONSOLE_CPU + 1,
        memory=G4 + (FIXED + 56) * MI + CONSOLE_MEM + 1 * M,
    ),
    Case(
        "v1.9 turns ImageVolume on (a Beta gate): only init containers, under the app sum",
        "v1.9.0",
        vm(plain(), volumes=[{"name": "root", "containerDisk": {"image": "quay.io/disk:1"}}]),
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56) * MI + CONSOLE_MEM,
    ),
    Case(
        "a hook sidecar with dedicated CPUs asks 200m / 64M (RR sidecarResources)",
        "v1.9.0",
        vm(
            plain(cpu={"cores": 2, "dedicatedCpuPlacement": True}),
            annotations={"hooks.kubevirt.io/hookSidecars": '[{"image": "registry/hook"}]'},
        ),
        cpu=2000 + STRICT_CPU + 200,
        memory=G4 + (FIXED + 56 + 100) * MI + STRICT_MEM + 64 * M,
    ),
    Case(
        "disableSerialConsoleLog in the CR: no console log container",
        "v1.9.0",
        vm(plain()),
        config={"virtualMachineOptions": {"disableSerialConsoleLog": {}}},
        cpu=200,
        memory=G4 + (FIXED + 56) * MI,
    ),
    Case(
        "logSerialConsole true wins over the CR's disable",
        "v1.9.0",
        vm(plain(devices={"logSerialConsole": True})),
        config={"virtualMachineOptions": {"disableSerialConsoleLog": {}}},
        cpu=200 + CONSOLE_CPU,
        memory=G4 + (FIXED + 56) * MI + CONSOLE_MEM,
    ),
    Case(
        "autoattachSerialConsole false: no console log container",
        "v1.9.0",
        vm(plain(devices={"autoattachSerialConsole": False})),
        cpu=200,
        memory=G4 + (FIXED + 56) * MI,
    ),
    Case(
        "supportContainerResources overrides the console log's request",
        "v1.9.0",
        vm(plain()),
        config={
            "supportContainerResources": [
                {"type": "guest-console-log", "resources": {"requests": {"cpu": "20m"}}}
            ]
        },
        cpu=200 + 20,
        memory=G4 + (FIXED + 56) * MI + CONSOLE_MEM,
    ),
    Case(
        "the default RuntimeClass's pod overhead is added once (k8s PodRequests)",
        "v1.9.0",
        vm(plain()),
        config={"defaultRuntimeClass": "kata"},
        runtime={"kata": {"cpu": "250m", "memory": "160Mi"}},
        cpu=200 + CONSOLE_CPU + 250,
        memory=G4 + (FIXED + 56 + 160) * MI + CONSOLE_MEM,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_pod_as_the_scheduler_counts_it(case: Case) -> None:
    rendered = sized(case.machine, case.version, case.config, case.cr, case.runtime)
    assert rendered.requests["cpu"] == case.cpu
    assert rendered.requests["memory"] == case.memory
    for name, count in case.resources.items():
        assert rendered.requests.get(name) == count, name


def test_an_unknown_newer_release_is_sized_by_the_newest_rules_and_says_so() -> None:
    choice = releases.rules_for("v1.10.2")
    assert choice.release == releases.NEWEST
    assert choice.note is not None
    assert "v1.10.2" in choice.note
    assert releases.rules_for("v1.8.4-12-gabcdef").release == releases.Release(1, 8, 4)
    assert releases.rules_for("v1.8.9").release == releases.Release(1, 8, 4)
    assert releases.rules_for("v1.9.0").note is None


def test_backported_rules_follow_their_line() -> None:
    rule = ("1.8.0", "1.7.1", "1.6.4")
    on = [str(r) for r in releases.KNOWN if releases.since(r, *rule)]
    assert "v1.6.3" not in on
    assert "v1.6.4" in on
    assert "v1.7.0" not in on
    assert "v1.7.1" in on
    assert "v1.8.0" in on


def test_releases_with_the_same_rule_changes_share_one_sizing() -> None:
    """Patch releases that changed no sizing rule size alike, so a fleet of many patch
    levels renders each VM once per line; v1.6.2's own overcommit rule keeps it apart."""

    def key(version: str) -> object:
        return target(version, k.KubeVirtConfiguration(), {}, {}).key

    assert key("v1.8.0") == key("v1.8.4")
    assert key("v1.7.1") == key("v1.7.4") != key("v1.7.0")
    assert key("v1.6.1") == key("v1.6.3") != key("v1.6.2")
    assert key("v1.6.4") != key("v1.6.3")
    assert releases.alike(releases.Release(1, 6, 3)) == "v1.6.0-v1.6.1, v1.6.3"


def test_the_arithmetic_names_each_term() -> None:
    shown = "\n".join(sized(vm(plain()), "v1.9.0").arithmetic)
    assert "KubeVirt v1.9.0 rules" in shown
    assert "virtqemud" in shown
    assert "video 33554432" in shown
    assert "cpuAllocationRatio 10" in shown


# --- node selection of the migration target ------------------------------------------------------

HOST = {
    "host-model-cpu.node.kubevirt.io/Skylake-Server": "true",
    "host-model-required-features.node.kubevirt.io/invtsc": "true",
    "cpu-vendor.node.kubevirt.io/Intel": "true",
}


def test_a_host_model_vm_needs_the_source_model_for_migration_and_its_features() -> None:
    """migration.go createTargetPod via sourceState.nodeSelectors (decentralized)."""
    rules = sized(vm(plain(), source=HOST), "v1.9.0").nodes
    assert rules.node_selector["cpu-model-migration.node.kubevirt.io/Skylake-Server"] == "true"
    assert rules.node_selector["cpu-feature.node.kubevirt.io/invtsc"] == "true"
    assert rules.node_selector["cpu-vendor.node.kubevirt.io/Intel"] == "true"
    assert "host-model-cpu.node.kubevirt.io/Skylake-Server" not in rules.node_selector
    assert rules.excluded_host == "src-1"


@pytest.mark.parametrize(
    ("version", "vendor"),
    [("v1.6.3", False), ("v1.6.4", True), ("v1.7.0", False), ("v1.7.1", True), ("v1.8.0", True)],
)
def test_the_cpu_vendor_rule_of_each_release(version: str, vendor: bool) -> None:
    rules = sized(vm(plain(), source=HOST), version).nodes
    assert ("cpu-vendor.node.kubevirt.io/Intel" in rules.node_selector) is vendor


def test_a_source_node_without_a_host_model_label_leaves_no_target_pod() -> None:
    sized_vm = requirements.size(
        vm(plain(), source={"cpu-vendor.node.kubevirt.io/Intel": "true"}),
        target("v1.9.0", k.KubeVirtConfiguration(), {}, {}),
    )
    assert sized_vm.request is None
    assert [f.code for f in sized_vm.findings] == [Code.TARGET_POD_NOT_CREATED]


def test_the_machine_type_label_came_in_v1_5_1_and_the_cluster_selectors_apply() -> None:
    config = {"developerConfiguration": {"nodeSelectors": {"pool": "vms"}}}
    assert (
        "machine-type.node.kubevirt.io/q35" not in sized(vm(plain()), "v1.5.0").nodes.node_selector
    )
    rules = sized(vm(plain()), "v1.5.1", config).nodes
    assert rules.node_selector["machine-type.node.kubevirt.io/q35"] == "true"
    assert rules.node_selector["pool"] == "vms"


def test_labels_a_named_model_sev_and_realtime_need() -> None:
    domain = plain(
        cpu={
            "cores": 2,
            "model": "Icelake-Server",
            "realtime": {},
            "features": [
                {"name": "avx512f", "policy": "require"},
                {"name": "hle", "policy": "forbid"},
            ],
        },
        launchSecurity={"sev": {"policy": {"encryptedState": True}}},
    )
    rules = sized(vm(domain), "v1.9.0").nodes
    for label in (
        "cpu-model.node.kubevirt.io/Icelake-Server",
        "cpu-feature.node.kubevirt.io/avx512f",
        "kubevirt.io/realtime",
        "kubevirt.io/sev",
        "kubevirt.io/sev-es",
    ):
        assert rules.node_selector[label] == "true", label
    [term] = rules.affinity
    assert [(r.key, r.operator.value) for r in term.match_expressions] == [
        ("cpu-feature.node.kubevirt.io/hle", "DoesNotExist")
    ]


# --- what KubeVirt would refuse -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("machine", "version", "field"),
    [
        (
            vm(
                plain(
                    cpu={"cores": 2, "dedicatedCpuPlacement": True},
                    resources={"requests": {"cpu": "1500m"}},
                )
            ),
            "v1.9.0",
            "spec.template.spec.domain.resources.requests.cpu",
        ),
        (
            vm(
                {"cpu": {"sockets": 2}},
                instancetype={"cpu": {"guest": 2}, "memory": {"guest": "2Gi"}},
            ),
            "v1.9.0",
            "spec.template.spec.domain.cpu.sockets",
        ),
        (
            vm(
                {"memory": {"hugepages": {"pageSize": "2Mi"}}},
                instancetype={"cpu": {"guest": 1}, "memory": {"guest": "2Gi"}},
            ),
            "v1.6.6",
            "spec.template.spec.domain.memory",
        ),
        (vm({"cpu": {"cores": 1}}), "v1.9.0", "spec.template.spec.domain.memory.guest"),
        (
            vm(plain(memory={"guest": "3Gi", "hugepages": {"pageSize": "2Gi"}})),
            "v1.9.0",
            "spec.template.spec.domain.resources.requests.memory",
        ),
        (
            vm(plain(cpu={"cores": 2, "isolateEmulatorThread": True})),
            "v1.9.0",
            "spec.template.spec.domain.cpu.isolateEmulatorThread",
        ),
    ],
    ids=[
        "dedicated CPUs with a fractional request",
        "a topology beside an instancetype",
        "before v1.7 an instancetype refuses any memory section",
        "no memory at all",
        "memory that is no whole number of pages",
        "an isolated emulator thread without dedicated CPUs",
    ],
)
def test_a_vm_kubevirt_would_refuse_names_the_field(
    machine: VirtualMachine, version: str, field: str
) -> None:
    with pytest.raises(RejectedError) as refused:
        sized(machine, version)
    assert field in [f"spec.{c.field}" for c in refused.value.causes]
