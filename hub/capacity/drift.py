"""Where KubeVirt measured a VM's launcher overhead above what its rules give on the VM's own
cluster (the `VmiMemoryOverheadReport` gate puts `kubevirt.io/memory-overhead-bytes` on the
pod): the model under-sizes VMs there. Computed once per report, where it is validated."""

from collections.abc import Iterable

from hub.capacity import requirements
from hub.capacity.kubevirt.render import Target
from hub.models.vm import VirtualMachine

Drifted = tuple[str, int, int]
"""A VM (namespace/name), the overhead measured, the overhead the rules give, in bytes."""


def drifted(vms: Iterable[VirtualMachine], own: Target) -> tuple[Drifted, ...]:
    out = []
    for vm in vms:
        measured = vm.measured_overhead_bytes
        if measured is None:
            continue
        rendered = requirements.size(vm, own).rendered
        if rendered is not None and rendered.overhead.total < measured:
            out.append((vm.key, measured, rendered.overhead.total))
    return tuple(out)
