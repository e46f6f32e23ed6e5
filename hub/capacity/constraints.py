"""Which nodes the scheduler would consider for a VM's virt-launcher pod, and why not.

Mirrors the scheduler's filters that depend on the node alone: node selector (the labels
KubeVirt renders, `hub.capacity.kubevirt.selection`), required node affinity, taints against
tolerations, readiness, and cordoning, which the scheduler treats as the taint
`node.kubernetes.io/unschedulable:NoSchedule` (a pod that tolerates it may still land there).
Each rejection names its reason so a verdict can say "9 nodes miss label X".
"""

from collections.abc import Mapping
from dataclasses import dataclass

from hub.models.report import Taint
from hub.models.vm import (
    NodeSelectorTerm,
    SelectorOperator,
    SelectorRequirement,
    Toleration,
)

SCHEDULABLE_LABEL = "kubevirt.io/schedulable"
ARCH_LABEL = "kubernetes.io/arch"
HOSTNAME_LABEL = "kubernetes.io/hostname"
CORDONED = Taint(key="node.kubernetes.io/unschedulable", effect="NoSchedule")
"""What `spec.unschedulable` means to the scheduler (the NodeUnschedulable filter)."""
_HARD_EFFECTS = ("NoSchedule", "NoExecute")


@dataclass(frozen=True, slots=True)
class Constraints:
    """A VM's node requirements: all of `labels`, any term of `affinity`, taints tolerated."""

    labels: tuple[tuple[str, str], ...]
    affinity: tuple[NodeSelectorTerm, ...]
    tolerations: tuple[Toleration, ...]
    excluded_hosts: frozenset[str] = frozenset()
    """Hostnames the pod may not use: a migration's source node."""

    @property
    def keys(self) -> frozenset[str]:
        keys = {key for key, _ in self.labels}
        keys.update(req.key for term in self.affinity for req in term.match_expressions)
        return frozenset(keys)

    @property
    def tolerates_any(self) -> bool:
        return bool(self.tolerations)

    @property
    def tolerates_cordon(self) -> bool:
        return tolerated(CORDONED, self.tolerations)


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
    if unschedulable and not tolerated(CORDONED, constraints.tolerations):
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
