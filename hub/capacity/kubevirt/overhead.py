"""virt-launcher's memory overhead (`GetMemoryOverhead`: `pkg/virt-controller/services/
renderresources.go` up to v1.7, `pkg/hypervisor/kvm/hypervisorbackend.go` from v1.8) and the
network bindings' share that `CalculateMemoryOverhead` adds after it (`template.go`).

Kept term by term, each with KubeVirt's own rounding: page tables from the VMI's memory
request taken in whole kB and divided by 512, floored; the additional overhead ratio applied
to the total in whole kB, the added part truncated.
"""

import math
from dataclasses import dataclass
from fractions import Fraction

from hub.capacity.kubevirt import qos
from hub.capacity.kubevirt.release import Release, since
from hub.capacity.kubevirt.vmi import Vmi
from hub.models import kubevirt as k
from hub.models import quantity

MI = 2**20
FIXED = (
    ("virt-launcher-monitor", 25 * MI),
    ("virt-launcher", 100 * MI),
    ("virtlogd", 25 * MI),
    ("virtqemud", 40 * MI),
    ("qemu", 30 * MI),
)
"""`VirtLauncherMonitorOverhead` … `QemuOverhead`: the same from v1.5.0 to v1.9.0."""
PASST = 250 * MI
"""`passtComputeMemoryOverheadWhenAllPortsAreForwarded` (pkg/network/resources/memory.go)."""


@dataclass(frozen=True, slots=True)
class Term:
    label: str
    bytes: int


@dataclass(frozen=True, slots=True)
class Overhead:
    terms: tuple[Term, ...]
    """Summed, then multiplied by the ratio."""
    ratio: str | None
    ratio_added: int
    after: tuple[Term, ...]
    """Added after the ratio, not multiplied by it: up to v1.5.2 the dedicated/Guaranteed
    term, and always the network bindings' share."""

    @property
    def total(self) -> int:
        return (
            sum(t.bytes for t in self.terms) + self.ratio_added + sum(t.bytes for t in self.after)
        )

    def explain(self) -> list[str]:
        summed = sum(t.bytes for t in self.terms)
        lines = [" + ".join(f"{t.label} {t.bytes}" for t in self.terms) + f" = {summed} B"]
        if self.ratio is not None:
            lines.append(
                f"x additionalGuestMemoryOverheadRatio {self.ratio}: + {self.ratio_added} B "
                "(whole kB, the added part truncated)"
            )
        lines += [f"+ {t.label} {t.bytes} B (not multiplied by the ratio)" for t in self.after]
        lines.append(f"memory overhead = {self.total} B")
        return lines


def compute(vmi: Vmi, release: Release, config: k.KubeVirtConfiguration) -> Overhead:
    terms = _terms(vmi, release)
    after: list[Term] = []
    if qos.dedicated_or_guaranteed(vmi, release):
        dedicated = Term("dedicated CPUs or Guaranteed QoS", 100 * MI)
        (terms if since(release, "1.5.3") else after).append(dedicated)
    if since(release, "1.8.0") and vmi.added_overhead is not None:
        terms.append(Term("reservedOverhead.addedOverhead", quantity.ceil(vmi.added_overhead)))
    ratio = config.additional_guest_memory_overhead_ratio or None
    added = _ratio_added(sum(t.bytes for t in terms), ratio) if ratio else 0
    after += _network(vmi, release, config)
    return Overhead(tuple(terms), ratio, added, tuple(after))


def _terms(vmi: Vmi, release: Release) -> list[Term]:
    request = vmi.requests.get("memory", Fraction(0))
    kilo = quantity.ceil_kilo(request)
    terms = [Term(f"page tables ({kilo} kB of memory request x 1000 / 512)", kilo * 1000 // 512)]
    terms += [Term(name, size) for name, size in FIXED]
    vcpus = _vcpus(vmi)
    terms.append(Term(f"{vcpus} vCPU x 8Mi", vcpus * 8 * MI))
    terms.append(Term("IOThread", 8 * MI))
    if vmi.autoattach_graphics is not False:
        terms.append(Term("video", (32 if since(release, "1.6.0") else 16) * MI))
    if vmi.architecture == "arm64":
        terms.append(Term("arm64 UEFI flash", 128 * MI))
    if vmi.host_devices or vmi.gpus or vmi.sriov:
        terms.append(Term("VFIO (GPU, host device or SR-IOV)", 1024 * MI))
    if vmi.downward_metrics:
        terms.append(Term("downwardMetrics volume", 1 * MI))
    probes = int(vmi.liveness_exec) + int(vmi.readiness_exec)
    if probes:
        terms.append(
            Term(f"{probes} exec probe(s) x 10Mi + virt-probe 100Mi", (probes * 10 + 100) * MI)
        )
    sev = vmi.sev or (since(release, "1.7.0") and (vmi.snp or vmi.sev_es))
    if sev:
        terms.append(Term("SEV", 256 * MI))
    if _tpm(vmi, release):
        terms.append(Term("TPM (swtpm)", 53 * MI))
    return terms


def _vcpus(vmi: Vmi) -> int:
    """The topology's vCPUs; without a CPU section the limit, else the request; at least 1."""
    if vmi.cpu_set:
        count = vmi.vcpus
    elif "cpu" in vmi.limits:
        count = quantity.ceil(vmi.limits["cpu"])
    else:
        count = quantity.ceil(vmi.requests.get("cpu", Fraction(0)))
    return max(count, 1)


def _tpm(vmi: Vmi, release: Release) -> bool:
    """v1.5.0 counted any `tpm` key; from v1.5.1 only an enabled TPM (`pkg/tpm/tpm.go`)."""
    if vmi.tpm is None:
        return False
    return not since(release, "1.5.1") or vmi.tpm.enabled is not False


def _ratio_added(total: int, ratio: str) -> int:
    """`MultiplyMemory`: float64(total in kB, rounded up) x (ratio - 1), truncated, in kB."""
    value = float(ratio)
    return (
        int(float(quantity.ceil_kilo(Fraction(total))) * (value - 1.0)) * 1000
        if math.isfinite(value)
        else 0
    )


def _network(vmi: Vmi, release: Release, config: k.KubeVirtConfiguration) -> list[Term]:
    """Each binding plugin used by an interface, once, and (v1.8+) the core passt binding."""
    terms = []
    bindings = config.network.binding if config.network else {}
    used = sorted({i.binding.name for i in vmi.interfaces if i.binding and i.binding.name})
    for name in used:
        plugin = bindings.get(name)
        overhead = plugin.compute_resource_overhead if plugin else None
        memory = overhead.requests.get("memory") if overhead else None
        if memory is not None:
            terms.append(Term(f"binding plugin {name}", quantity.ceil(quantity.parse(memory))))
    if since(release, "1.8.0") and any(i.passt_binding is not None for i in vmi.interfaces):
        terms.append(Term("passt binding", PASST))
    return terms
