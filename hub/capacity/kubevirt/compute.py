"""The compute container's requests and limits (`pkg/virt-controller/services/
renderresources.go`, the rules `VMIResourcePredicates` picks in `template.go`).

KubeVirt renders two layers: what the VMI asks for itself (`vm`) wins over what it
calculates (`calc`). The rules run in KubeVirt's order; each release differs where noted.
Limits without a request become requests at the API server (`SetDefaults_Pod`), which is
what the scheduler then sees; `finish` applies that.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from hub.capacity.kubevirt import defaults, gates
from hub.capacity.kubevirt.release import Release, only, since
from hub.capacity.kubevirt.vmi import Vmi
from hub.models import kubevirt as k
from hub.models import quantity

EPHEMERAL = "ephemeral-storage"
EPHEMERAL_OVERHEAD = Fraction(50 * 10**6)
"""`ephemeralStorageOverheadSize` ("50M")."""
KVM, TUN, VHOST_NET, VHOST_VSOCK = (
    "devices.kubevirt.io/kvm",
    "devices.kubevirt.io/tun",
    "devices.kubevirt.io/vhost-net",
    "devices.kubevirt.io/vhost-vsock",
)
SEV, TDX, PR_HELPER, IOMMUFD = (
    "devices.kubevirt.io/sev",
    "devices.kubevirt.io/tdx",
    "devices.kubevirt.io/pr-helper",
    "devices.kubevirt.io/iommufd",
)
VIRTUALIZATION = (KVM, TUN, VHOST_NET, VHOST_VSOCK)
_NANO = Fraction(1, 10**9)


@dataclass(slots=True)
class _Renderer:
    vm_requests: dict[str, Fraction]
    vm_limits: dict[str, Fraction]
    calc_requests: dict[str, Fraction] = field(default_factory=dict)
    calc_limits: dict[str, Fraction] = field(default_factory=dict)
    steps: list[str] = field(default_factory=list)

    def requests(self) -> dict[str, Fraction]:
        return {**self.calc_requests, **self.vm_requests}

    def limits(self) -> dict[str, Fraction]:
        return {**self.calc_limits, **self.vm_limits}

    def bump(self, name: str) -> None:
        """`requestResource`: one more of a device, on both requests and limits."""
        self.calc_limits[name] = self.limits().get(name, Fraction(0)) + 1
        self.calc_requests[name] = self.requests().get(name, Fraction(0)) + 1


@dataclass(frozen=True, slots=True)
class Compute:
    requests: dict[str, Fraction]
    limits: dict[str, Fraction]
    steps: tuple[str, ...]
    claims: tuple[str, ...]
    """DRA resource claims the pod references; the scheduler allocates them, the check cannot."""


def render(vmi: Vmi, release: Release, config: k.KubeVirtConfiguration, overhead: int) -> Compute:
    r = _Renderer(dict(vmi.requests), dict(vmi.limits))
    developer = config.developer_configuration
    r.vm_requests[EPHEMERAL] = r.vm_requests.get(EPHEMERAL, Fraction(0)) + EPHEMERAL_OVERHEAD
    if EPHEMERAL in r.vm_limits:
        r.vm_limits[EPHEMERAL] += EPHEMERAL_OVERHEAD
    r.vm_limits.update(_virtualization(vmi, developer))
    overcommit = defaults.memory_overcommit(config)
    if since(release, "1.7.0", "1.6.4") and not vmi.request("memory"):
        _memory_requests(r, vmi, overcommit)
    if only(release, "1.6.2") and overcommit != 100:
        memory = quantity.ceil(r.vm_requests.get("memory", Fraction(0)))
        r.vm_requests["memory"] = Fraction(memory * 100 // overcommit)
        r.steps.append(f"memory request x 100 / memoryOvercommit {overcommit} (v1.6.2)")
    if vmi.dedicated:
        (_pinning if since(release, "1.5.2") else _pinning_before_152)(r, vmi)
    else:
        _shared_cpu(r, vmi, release, developer.cpu_allocation_ratio or 10)
    if vmi.hugepages is not None:
        _hugepages(r, vmi, overhead)
    else:
        _memory_overhead(r, vmi, overhead)
    claims = _devices(r, vmi, release, config)
    if not since(release, "1.5.2"):
        _io_threads_before_152(r, vmi)
    return Compute(r.requests(), r.limits(), tuple(r.steps), claims)


def finish(requests: dict[str, Fraction], limits: dict[str, Fraction]) -> dict[str, Fraction]:
    """The API server's defaulting: a limit without a request is also the request."""
    return {**{name: value for name, value in limits.items() if name not in requests}, **requests}


def _virtualization(vmi: Vmi, developer: k.DeveloperConfiguration) -> dict[str, Fraction]:
    """`getRequiredResources`: device-plugin devices, as limits only."""
    found = {}
    if vmi.interfaces or vmi.autoattach_pod_interface is not False:
        found[TUN] = Fraction(1)
    virtio = any(i.model in ("", "virtio") for i in vmi.interfaces)
    if virtio and not developer.use_emulation:
        found[VHOST_NET] = Fraction(1)
    if not developer.use_emulation:
        found[KVM] = Fraction(1)
    if vmi.autoattach_vsock:
        found[VHOST_VSOCK] = Fraction(1)
    return found


def _memory_requests(r: _Renderer, vmi: Vmi, overcommit: int) -> None:
    """`WithMemoryRequests` (v1.6.4, v1.7+): the limit, else guest x 100 / overcommit."""
    limit = r.vm_limits.get("memory")
    if limit and not r.vm_requests.get("memory"):
        r.vm_requests["memory"] = limit
        r.steps.append(f"memory request = limits.memory {quantity.ceil(limit)} B")
        return
    if "memory" in r.vm_requests:
        return
    wanted = (
        vmi.guest
        if vmi.guest is not None
        else (quantity.parse(vmi.hugepages) if vmi.hugepages else None)
    )
    if wanted is None or quantity.ceil(wanted) <= 0:
        return
    if overcommit == 100:
        r.vm_requests["memory"] = wanted
        r.steps.append(f"memory request = guest {quantity.ceil(wanted)} B")
    else:
        value = quantity.ceil(wanted) * 100 // overcommit
        r.vm_requests["memory"] = Fraction(value)
        r.steps.append(
            f"memory request = guest {quantity.ceil(wanted)} B x 100 / memoryOvercommit "
            f"{overcommit}, floored = {value} B"
        )


def _io_threads(vmi: Vmi) -> int:
    """`getIOThreadsCount`: the supplemental pool's threads, whatever the policy (v1.5.2+)."""
    return vmi.supplemental_pool or 0


def _even_parity_extra(vmi: Vmi) -> int:
    """`additionalCPUs`: the pool's threads, only under the supplementalPool policy."""
    if vmi.io_threads_policy == "supplementalPool" and vmi.supplemental_pool is not None:
        return vmi.supplemental_pool
    return 0


def _pinning(r: _Renderer, vmi: Vmi) -> None:
    """`WithCPUPinning` from v1.5.2: requests = limits = vCPUs + pool threads."""
    io = _io_threads(vmi)
    if vmi.vcpus:
        total = Fraction(vmi.vcpus + io)
        r.vm_limits["cpu"] = r.vm_requests["cpu"] = total
        r.steps.append(f"cpu = {vmi.vcpus} dedicated vCPU + {io} IOThread pool = {total}")
    else:
        for side in (r.vm_limits, r.vm_requests):
            if "cpu" in side:
                side["cpu"] += io
    if vmi.isolate_emulator_thread:
        _emulator_thread(r, vmi, r.vm_limits.get("cpu", Fraction(0)))
    if "memory" in r.vm_requests:
        r.vm_limits["memory"] = r.vm_requests["memory"]


def _pinning_before_152(r: _Renderer, vmi: Vmi) -> None:
    """`WithCPUPinning` up to v1.5.1: the limit is the vCPUs, the request follows it."""
    if vmi.vcpus:
        r.calc_limits["cpu"] = Fraction(vmi.vcpus)
        r.steps.append(f"cpu limit = {vmi.vcpus} dedicated vCPU")
    elif "cpu" in r.vm_limits:
        r.vm_requests["cpu"] = r.vm_limits["cpu"]
    elif "cpu" in r.vm_requests:
        r.vm_limits["cpu"] = r.vm_requests["cpu"]
    if vmi.isolate_emulator_thread:
        _emulator_thread(r, vmi, r.calc_limits.get("cpu", Fraction(0)))
    r.vm_limits["memory"] = r.vm_requests.get("memory", Fraction(0))


def _emulator_thread(r: _Renderer, vmi: Vmi, limit: Fraction) -> None:
    extra = _even_parity_extra(vmi)
    threads = 1
    if k.EVEN_PARITY in vmi.annotations and (quantity.ceil(limit) + extra) % 2 == 0:
        threads = 2
    r.vm_limits["cpu"] = limit + threads
    if "cpu" in r.vm_requests:
        r.vm_requests["cpu"] += threads
    r.steps.append(f"cpu + {threads} for the isolated emulator thread")


def _shared_cpu(r: _Renderer, vmi: Vmi, release: Release, ratio: int) -> None:
    """`WithoutDedicatedCPU`: (vCPUs + pool threads (v1.5.2+)) / cpuAllocationRatio, as
    KubeVirt prints it (`%g`, or millicores below one) and parses it back."""
    vcpus = vmi.vcpus if vmi.cpu_set else 1
    io = _io_threads(vmi) if since(release, "1.5.2") else 0
    total = vcpus + io
    if total == 0 or ratio <= 0:
        return
    value = float(total) / float(ratio)
    cpu = _go_quantity(value * 1000) / 1000 if value < 1 else _go_quantity(value)
    r.calc_requests["cpu"] = cpu
    threads = f" + {io} IOThread pool" if io else ""
    kept = r.vm_requests.get("cpu")
    wins = f", but the VMI's requests.cpu {quantity.ceil_millis(kept)}m wins" if kept else ""
    r.steps.append(
        f"cpu = ({vcpus} vCPU{threads}) / cpuAllocationRatio {ratio} = "
        f"{quantity.ceil_millis(cpu)}m{wins}"
    )


def _go_quantity(value: float) -> Fraction:
    """`resource.MustParse(fmt.Sprintf("%g", value))`: the shortest decimal that gives the
    float back (what `%g` prints), rounded up to a nanounit as ParseQuantity does."""
    exact = Fraction(Decimal(repr(value)))
    nanos = -(-exact // _NANO)
    return nanos * _NANO


def _hugepages(r: _Renderer, vmi: Vmi, overhead: int) -> None:
    """`WithHugePages`: the memory request (at most the guest) in pages; the memory request
    is the overhead plus what the request exceeds the guest by. The overhead is always
    added here: overcommitGuestOverhead is read only on the other path."""
    page = f"hugepages-{vmi.hugepages}"
    request = r.vm_requests.get("memory", Fraction(0))
    guest = vmi.guest
    pages = guest if guest is not None and request > guest else request
    r.calc_requests[page] = r.calc_limits[page] = pages
    above = request - guest if guest is not None and request > guest else Fraction(0)
    limit = r.vm_limits.get("memory", Fraction(0))
    limit_above = limit - guest if guest is not None and limit > guest else Fraction(0)
    r.vm_requests["memory"] = above + overhead
    if "memory" in r.vm_limits:
        r.vm_limits["memory"] = limit_above + overhead
    r.steps.append(
        f"{page} = {quantity.ceil(pages)} B; memory = overhead {overhead} B"
        + (f" + request above the guest {quantity.ceil(above)} B" if above else "")
    )


def _memory_overhead(r: _Renderer, vmi: Vmi, overhead: int) -> None:
    request = r.vm_requests.get("memory", Fraction(0))
    if vmi.overcommit_guest_overhead:
        r.steps.append(
            f"memory = {quantity.ceil(request)} B (overcommitGuestOverhead: no overhead)"
        )
    else:
        r.steps.append(f"memory = {quantity.ceil(request)} B + overhead {overhead} B")
        request += overhead
    r.vm_requests["memory"] = request
    if "memory" in r.vm_limits:
        r.vm_limits["memory"] += overhead


def _devices(
    r: _Renderer, vmi: Vmi, release: Release, config: k.KubeVirtConfiguration
) -> tuple[str, ...]:
    developer = config.developer_configuration
    split = since(release, "1.6.0")
    claims = []
    for devices, gate in ((vmi.gpus, "GPUsWithDRA"), (vmi.host_devices, "HostDevicesWithDRA")):
        for device in devices:
            if split and device.claimed:
                if not device.device_name and gates.enabled(gate, release, developer):
                    claims.append(device.claim_name or device.name)
            elif device.device_name:
                r.bump(device.device_name)
    sev = vmi.sev or (since(release, "1.7.0") and vmi.snp)
    for present, name in (
        (sev, SEV),
        (since(release, "1.9.0") and vmi.tdx, TDX),
        (vmi.reservation, PR_HELPER),
        (gates.enabled("IOMMUFD", release, developer), IOMMUFD),
    ):
        if present:
            r.bump(name)
    return tuple(claims)


def _io_threads_before_152(r: _Renderer, vmi: Vmi) -> None:
    """`WithIOThreads` up to v1.5.1, the last rule: the pool's threads on the CPU limit only."""
    if vmi.io_threads_policy != "supplementalPool" or not vmi.supplemental_pool:
        return
    r.vm_limits["cpu"] = r.vm_limits.get("cpu", Fraction(0)) + vmi.supplemental_pool
    r.steps.append(f"cpu limit + {vmi.supplemental_pool} IOThread pool (limit only, up to v1.5.1)")
