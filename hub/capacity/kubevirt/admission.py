"""What KubeVirt's admission would refuse, as errors that name the field.

A VM KubeVirt would not admit has no pod to size; saying "fits" for it would be wrong, so
the engine refuses it the way the webhook would, with the field and the reason.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from hub.capacity.kubevirt.vmi import Vmi
from hub.models import quantity


@dataclass(frozen=True, slots=True)
class Cause:
    field: str
    """Path from the VM's `spec`, e.g. `template.spec.domain.cpu.sockets`."""
    message: str


class RejectedError(ValueError):
    """KubeVirt would refuse this VM at admission; every cause names its field."""

    def __init__(self, vm: str, causes: Sequence[Cause]) -> None:
        self.vm = vm
        self.causes = tuple(causes)
        listed = "; ".join(f"spec.{c.field}: {c.message}" for c in self.causes)
        super().__init__(f"KubeVirt would refuse VM {vm}: {listed}")


def check(vm: str, vmi: Vmi) -> None:
    """The parts of `vmi-create-admitter.go` that decide whether there is a pod to size."""
    causes = _memory(vmi) + _limits(vmi)
    if vmi.isolate_emulator_thread and not vmi.dedicated:
        causes.append(
            Cause(
                "template.spec.domain.cpu.isolateEmulatorThread",
                "is allowed only together with dedicatedCpuPlacement",
            )
        )
    if vmi.dedicated:
        causes += _dedicated(vmi)
    if any(i.passt is not None for i in vmi.interfaces):
        causes.append(
            Cause(
                "template.spec.domain.devices.interfaces.passt",
                "the passt interface was discontinued in KubeVirt v1.3; use binding passt instead",
            )
        )
    if causes:
        raise RejectedError(vm, causes)


def _memory(vmi: Vmi) -> list[Cause]:
    if vmi.guest is None:
        return [
            Cause(
                "template.spec.domain.memory.guest",
                "no memory is given: set memory.guest, resources.requests.memory or an "
                "instancetype",
            )
        ]
    if vmi.hugepages is None:
        return []
    page = quantity.ceil(quantity.parse(vmi.hugepages))
    memory = (
        quantity.ceil(vmi.request("memory"))
        or quantity.ceil(vmi.guest)
        or quantity.ceil(vmi.limit("memory"))
    )
    if memory and (memory < page or memory % page):
        return [
            Cause(
                "template.spec.domain.resources.requests.memory",
                f"{memory} B is not a whole number of {vmi.hugepages} pages "
                "(validateHugepagesMemoryRequests)",
            )
        ]
    return []


def _limits(vmi: Vmi) -> list[Cause]:
    causes = []
    for name in ("cpu", "memory"):
        if name in vmi.requests and name in vmi.limits and vmi.requests[name] > vmi.limits[name]:
            causes.append(
                Cause(f"template.spec.domain.resources.requests.{name}", f"is above limits.{name}")
            )
    return causes


def _dedicated(vmi: Vmi) -> list[Cause]:
    """`validateCpuPinning`: whole CPUs, request equal to limit, at most two threads."""
    causes = []
    request, limit = vmi.requests.get("cpu"), vmi.limits.get("cpu")
    for name, value in (("requests", request), ("limits", limit)):
        if value is not None and quantity.ceil(value) > 0 and value.denominator != 1:
            causes.append(
                Cause(
                    f"template.spec.domain.resources.{name}.cpu",
                    f"{name}.cpu {quantity.cores(quantity.ceil_millis(value))} is not a whole "
                    "number of CPUs, which dedicatedCpuPlacement needs",
                )
            )
    if request is not None and limit is not None and quantity.ceil(request) != quantity.ceil(limit):
        causes.append(
            Cause(
                "template.spec.domain.cpu.dedicatedCpuPlacement",
                "requests.cpu and limits.cpu must be equal with dedicated CPUs",
            )
        )
    given = [quantity.ceil(x) for x in (request, limit) if x is not None and quantity.ceil(x) > 0]
    if given and vmi.vcpus and all(g != vmi.vcpus for g in given):
        causes.append(
            Cause(
                "template.spec.domain.cpu.dedicatedCpuPlacement",
                f"requests.cpu or limits.cpu ({given[0]}) must match the {vmi.vcpus} vCPUs of the "
                "topology with dedicated CPUs",
            )
        )
    if vmi.threads > 2:
        causes.append(
            Cause(
                "template.spec.domain.cpu.threads",
                f"{vmi.threads} threads; at most 2 with dedicated CPUs",
            )
        )
    memory_request, memory_limit = vmi.requests.get("memory"), vmi.limits.get("memory")
    if (
        memory_request
        and memory_limit
        and quantity.ceil(memory_request) != quantity.ceil(memory_limit)
    ):
        causes.append(
            Cause(
                "template.spec.domain.resources.requests.memory",
                "must equal limits.memory with dedicated CPUs",
            )
        )
    return causes
