"""KubeVirt's test for "this VM wants Guaranteed QoS", which turns on the +100Mi overhead and
the larger requests of every support container (`WantsToHaveQOSGuaranteed`,
`staging/src/kubevirt.io/api/core/v1/types.go`)."""

from hub.capacity.kubevirt.release import Release, since
from hub.capacity.kubevirt.vmi import Vmi


def wants_guaranteed(vmi: Vmi, release: Release) -> bool:
    """CPU request = limit, both set; memory request = limit, both set. From v1.6.4 and
    v1.7.0 a memory limit without a request counts too (the request is no longer defaulted
    from the limit)."""
    memory_request, memory_limit = vmi.request("memory"), vmi.limit("memory")
    cpu_request, cpu_limit = vmi.request("cpu"), vmi.limit("cpu")
    cpu = bool(cpu_request) and cpu_request == cpu_limit
    memory = bool(memory_request) and memory_request == memory_limit
    if since(release, "1.7.0", "1.6.4"):
        memory = memory or (not memory_request and bool(memory_limit))
    return cpu and memory


def dedicated_or_guaranteed(vmi: Vmi, release: Release) -> bool:
    return vmi.dedicated or wants_guaranteed(vmi, release)
