"""Which nodes the scheduler would consider for a VM's virt-launcher pod, and why not.

Mirrors the scheduler's filters that depend on the node alone: node selector (with the labels
KubeVirt adds itself), required node affinity, taints against tolerations, readiness and
cordoning. Each rejection names its reason so a verdict can say "9 nodes miss label X".
"""

from collections.abc import Mapping
from dataclasses import dataclass

from hub.models.report import Taint
from hub.models.vm import (
    NodeSelectorTerm,
    SelectorOperator,
    SelectorRequirement,
    Toleration,
    VmSpec,
)

SCHEDULABLE_LABEL = "kubevirt.io/schedulable"
CPU_MANAGER_LABEL = "kubevirt.io/cpumanager"
ARCH_LABEL = "kubernetes.io/arch"
HOSTNAME_LABEL = "kubernetes.io/hostname"
_HARD_EFFECTS = ("NoSchedule", "NoExecute")


@dataclass(frozen=True, slots=True)
class Constraints:
    """A VM's node requirements: all of `labels`, any term of `affinity`, taints tolerated."""

    labels: tuple[tuple[str, str], ...]
    affinity: tuple[NodeSelectorTerm, ...]
    tolerations: tuple[Toleration, ...]

    @property
    def keys(self) -> frozenset[str]:
        keys = {key for key, _ in self.labels}
        keys.update(req.key for term in self.affinity for req in term.match_expressions)
        return frozenset(keys)

    @property
    def tolerates_any(self) -> bool:
        return bool(self.tolerations)


def for_vm(vm: VmSpec) -> Constraints:
    """The node selector KubeVirt renders: the VM's own plus the labels it adds."""
    labels = dict(vm.node_selector)
    labels[SCHEDULABLE_LABEL] = "true"
    labels[ARCH_LABEL] = vm.architecture
    if vm.dedicated_cpu:
        labels[CPU_MANAGER_LABEL] = "true"
    if vm.cpu_model:
        labels[f"cpu-model.node.kubevirt.io/{vm.cpu_model}"] = "true"
    if vm.cpu_vendor:
        labels[f"cpu-vendor.node.kubevirt.io/{vm.cpu_vendor}"] = "true"
    if vm.host_model:
        labels[f"host-model-cpu.node.kubevirt.io/{vm.host_model}"] = "true"
    return Constraints(tuple(sorted(labels.items())), vm.affinity, vm.tolerations)


def requirement_holds(req: SelectorRequirement, labels: Mapping[str, str]) -> bool:
    value = labels.get(req.key)
    match req.operator:
        case SelectorOperator.IN:
            return value is not None and value in req.values
        case SelectorOperator.NOT_IN:
            return value is None or value not in req.values
        case SelectorOperator.EXISTS:
            return value is not None
        case SelectorOperator.DOES_NOT_EXIST:
            return value is None
        case SelectorOperator.GT | SelectorOperator.LT:
            number = _integer(value)
            if number is None:
                return False
            bound = int(req.values[0])
            return number > bound if req.operator == SelectorOperator.GT else number < bound


def _integer(value: str | None) -> int | None:
    try:
        return None if value is None else int(value)
    except ValueError:
        return None


def tolerated(taint: Taint, tolerations: tuple[Toleration, ...]) -> bool:
    return any(_tolerates(t, taint) for t in tolerations)


def _tolerates(toleration: Toleration, taint: Taint) -> bool:
    if toleration.effect is not None and toleration.effect != taint.effect:
        return False
    if toleration.key is None:
        return toleration.operator == "Exists"
    if toleration.key != taint.key:
        return False
    if toleration.operator == "Exists":
        return True
    return (toleration.value or "") == (taint.value or "")


def rejection(
    constraints: Constraints,
    labels: Mapping[str, str],
    taints: tuple[Taint, ...],
    ready: bool,
    unschedulable: bool,
) -> str | None:
    """Why the scheduler would not consider this node for the VM; None when it would."""
    if not ready:
        return "not Ready"
    if unschedulable:
        return "cordoned (unschedulable)"
    for key, value in constraints.labels:
        if labels.get(key) != value:
            return f"missing label {key}={value}"
    if constraints.affinity and not any(
        all(requirement_holds(req, labels) for req in term.match_expressions)
        for term in constraints.affinity
    ):
        return "required node affinity not matched"
    for taint in taints:
        if taint.effect in _HARD_EFFECTS and not tolerated(taint, constraints.tolerations):
            shown = f"{taint.key}={taint.value}" if taint.value else taint.key
            return f"taint {shown}:{taint.effect} not tolerated"
    return None
