"""Node filters that depend on the node alone: labels, required affinity, taints, readiness."""

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from hub.capacity import requirements
from hub.capacity.constraints import Constraints, rejection, requirement_holds, tolerated
from hub.capacity.kubevirt import render
from hub.models import kubevirt as k
from hub.models.report import Taint
from hub.models.vm import (
    NodeSelectorTerm,
    SelectorOperator,
    SelectorRequirement,
    Toleration,
    VmSpec,
)

SCHEDULABLE = {
    "kubevirt.io/schedulable": "true",
    "kubernetes.io/arch": "amd64",
    "machine-type.node.kubevirt.io/q35": "true",
}


def vm_spec(**fields: Any) -> VmSpec:
    return VmSpec.model_validate(
        {"name": "vm", "namespace": "ns", "guest_memory_bytes": "2Gi", **fields}
    )


def constraints_for(release: str = "v1.9.0", **fields: Any) -> Constraints:
    """The constraints of the VM's target pod, as KubeVirt `release` renders them."""
    target = render.target(release, k.KubeVirtConfiguration(), {}, {})
    wanted = requirements.size(vm_spec(**fields).machine(), target).wanted
    assert wanted is not None
    return wanted


def req(key: str, operator: str, *values: str) -> SelectorRequirement:
    return SelectorRequirement(key=key, operator=SelectorOperator(operator), values=values)


def term(*requirements: SelectorRequirement) -> NodeSelectorTerm:
    return NodeSelectorTerm(match_expressions=requirements)


def taint(key: str, effect: str = "NoSchedule", value: str | None = None) -> Taint:
    return Taint.model_validate({"key": key, "value": value, "effect": effect})


def toleration(**fields: Any) -> Toleration:
    return Toleration.model_validate(fields)


@dataclass(frozen=True)
class NodeView:
    """A node as `rejection` sees it; starts as a ready, untainted KubeVirt amd64 node."""

    labels: dict[str, str] = field(default_factory=lambda: dict(SCHEDULABLE))
    taints: tuple[Taint, ...] = ()
    ready: bool = True
    unschedulable: bool = False

    def label(self, key: str, value: str = "true") -> "NodeView":
        return replace(self, labels={**self.labels, key: value})

    def unlabel(self, key: str) -> "NodeView":
        return replace(self, labels={k: v for k, v in self.labels.items() if k != key})

    def taint(self, key: str, effect: str = "NoSchedule", value: str | None = None) -> "NodeView":
        return replace(self, taints=(*self.taints, taint(key, effect, value)))

    def not_ready(self) -> "NodeView":
        return replace(self, ready=False)

    def cordoned(self) -> "NodeView":
        return replace(self, unschedulable=True)

    def rejects(self, constraints: Constraints) -> str | None:
        return rejection(constraints, self.labels, self.taints, self.ready, self.unschedulable)


NODE = NodeView()


# --- the constraints KubeVirt renders (hub.capacity.kubevirt.selection) ---------------------
# nodeselectorrenderer.go: kubevirt.io/schedulable and kubernetes.io/arch always; the machine
# type (v1.5.1+, q35 by default on amd64); the VM's own selector; cpumanager with dedicated
# CPUs; a named model's cpu-model label. template.go setNodeAffinityForPod: host-model VMs
# (the default model) refuse nodes labelled obsolete-host-model.

OBSOLETE = req("node-labeller.kubevirt.io/obsolete-host-model", "DoesNotExist")


def test_every_pod_needs_a_schedulable_node_of_its_arch_and_machine_type() -> None:
    constraints = constraints_for()

    assert dict(constraints.labels) == {
        "kubevirt.io/schedulable": "true",
        "kubernetes.io/arch": "amd64",
        "machine-type.node.kubevirt.io/q35": "true",
    }
    assert list(constraints.labels) == sorted(constraints.labels)
    assert constraints.affinity == (term(OBSOLETE),)
    assert constraints.tolerations == ()
    assert not constraints.tolerates_any


def test_the_vms_node_selector_is_kept() -> None:
    constraints = constraints_for(node_selector={"zone": "a", "disk": "ssd"})

    assert dict(constraints.labels) == {
        "kubevirt.io/schedulable": "true",
        "kubernetes.io/arch": "amd64",
        "machine-type.node.kubevirt.io/q35": "true",
        "zone": "a",
        "disk": "ssd",
    }


def test_the_vms_architecture_and_its_machine_type() -> None:
    labels = dict(constraints_for(architecture="arm64").labels)
    assert labels["kubernetes.io/arch"] == "arm64"
    assert labels["machine-type.node.kubevirt.io/virt"] == "true"


def test_dedicated_cpus_need_the_cpu_manager_label_of_the_targets_release() -> None:
    assert dict(constraints_for(dedicated_cpu=True).labels)["kubevirt.io/cpumanager"] == "true"
    older = dict(constraints_for(release="v1.7.4", dedicated_cpu=True).labels)
    assert older["cpumanager"] == "true", "before v1.8.0 the key was plain `cpumanager`"
    assert "kubevirt.io/cpumanager" not in dict(constraints_for().labels)


def test_a_named_model_needs_its_label_and_takes_no_obsolete_host_model_rule() -> None:
    constraints = constraints_for(cpu_model="Skylake-Server")

    assert dict(constraints.labels)["cpu-model.node.kubevirt.io/Skylake-Server"] == "true"
    assert constraints.affinity == ()


def test_a_host_model_target_needs_the_source_nodes_model_for_migration_and_its_vendor() -> None:
    """migration.go createTargetPod: host-model-cpu.node.kubevirt.io/<M> of the source node
    becomes cpu-model-migration.node.kubevirt.io/<M>; the source's cpu-vendor (v1.8.0+)."""
    labels = dict(constraints_for(host_model="Cascadelake-Server", cpu_vendor="Intel").labels)

    assert labels["cpu-model-migration.node.kubevirt.io/Cascadelake-Server"] == "true"
    assert labels["cpu-vendor.node.kubevirt.io/Intel"] == "true"
    assert "host-model-cpu.node.kubevirt.io/Cascadelake-Server" not in labels
    assert "cpu-vendor.node.kubevirt.io/Intel" not in dict(
        constraints_for(release="v1.7.0", host_model="X", cpu_vendor="Intel").labels
    ), "v1.7.0 did not carry the vendor rule (it came back in v1.7.1)"


def test_affinity_terms_each_reject_obsolete_host_models_and_tolerations_pass() -> None:
    affinity = (term(req("zone", "In", "a")), term(req("gpu", "Exists")))
    tolerations = (toleration(key="dedicated", operator="Exists"),)

    constraints = constraints_for(
        node_selector={"disk": "ssd"}, affinity=affinity, tolerations=tolerations
    )

    assert constraints.affinity == (
        term(req("zone", "In", "a"), OBSOLETE),
        term(req("gpu", "Exists"), OBSOLETE),
    )
    assert constraints.tolerations == tolerations
    assert constraints.tolerates_any
    assert constraints.keys == {
        "kubevirt.io/schedulable",
        "kubernetes.io/arch",
        "machine-type.node.kubevirt.io/q35",
        "disk",
        "zone",
        "gpu",
        "node-labeller.kubevirt.io/obsolete-host-model",
    }


# --- requirement_holds --------------------------------------------------------------------

REQUIREMENT_CASES = [
    ("In", ("a", "b"), {"zone": "b"}, True, "In holds when the value is one of the values"),
    ("In", ("a", "b"), {"zone": "c"}, False, "In fails for another value"),
    ("In", ("a",), {}, False, "In fails when the label is missing"),
    ("NotIn", ("a", "b"), {"zone": "a"}, False, "NotIn fails when the value is listed"),
    ("NotIn", ("a", "b"), {"zone": "c"}, True, "NotIn holds for another value"),
    ("NotIn", ("a",), {}, True, "NotIn holds when the label is missing"),
    ("Exists", (), {"zone": "a"}, True, "Exists holds when the label is present"),
    ("Exists", (), {"zone": ""}, True, "Exists holds for an empty value"),
    ("Exists", (), {"other": "a"}, False, "Exists fails when the label is missing"),
    ("DoesNotExist", (), {}, True, "DoesNotExist holds when the label is missing"),
    ("DoesNotExist", (), {"zone": "a"}, False, "DoesNotExist fails when the label is present"),
    ("Gt", ("4",), {"zone": "8"}, True, "Gt holds for a larger integer"),
    ("Gt", ("4",), {"zone": "4"}, False, "Gt fails for an equal integer"),
    ("Gt", ("4",), {"zone": "2"}, False, "Gt fails for a smaller integer"),
    ("Gt", ("-2",), {"zone": "-1"}, True, "Gt compares negative integers"),
    ("Gt", ("4",), {"zone": "8Gi"}, False, "Gt fails for a non-integer label value"),
    ("Gt", ("4",), {}, False, "Gt fails when the label is missing"),
    ("Lt", ("4",), {"zone": "2"}, True, "Lt holds for a smaller integer"),
    ("Lt", ("4",), {"zone": "4"}, False, "Lt fails for an equal integer"),
    ("Lt", ("4",), {"zone": "10"}, False, "Lt compares numbers, not strings"),
    ("Lt", ("4",), {"zone": "two"}, False, "Lt fails for a non-integer label value"),
    ("Lt", ("4",), {}, False, "Lt fails when the label is missing"),
]


@pytest.mark.parametrize(
    ("operator", "values", "labels", "expected"),
    [case[:4] for case in REQUIREMENT_CASES],
    ids=[case[4] for case in REQUIREMENT_CASES],
)
def test_requirement_holds(
    operator: str, values: tuple[str, ...], labels: dict[str, str], expected: bool
) -> None:
    assert requirement_holds(req("zone", operator, *values), labels) is expected


@pytest.mark.parametrize(
    ("operator", "values"),
    [("In", ()), ("NotIn", ()), ("Exists", ("a",)), ("Gt", ("x",)), ("Lt", ("1", "2"))],
    ids=[
        "In without values",
        "NotIn without values",
        "Exists with a value",
        "Gt with a non-integer bound",
        "Lt with two bounds",
    ],
)
def test_malformed_requirements_are_rejected(operator: str, values: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="zone"):
        req("zone", operator, *values)


# --- tolerated ----------------------------------------------------------------------------

TOLERATION_CASES = [
    (
        [{"operator": "Exists"}],
        taint("anything", "NoExecute", "x"),
        True,
        "Exists with no key tolerates every taint",
    ),
    (
        [{"operator": "Exists", "effect": "NoSchedule"}],
        taint("anything", "NoExecute"),
        False,
        "Exists with no key but an effect does not tolerate another effect",
    ),
    (
        [{"operator": "Exists", "effect": "NoSchedule"}],
        taint("anything", "NoSchedule", "x"),
        True,
        "Exists with no key and a matching effect tolerates any key",
    ),
    (
        [{"key": "dedicated", "value": "gpu", "effect": "NoExecute"}],
        taint("dedicated", "NoSchedule", "gpu"),
        False,
        "an effect mismatch is not tolerated",
    ),
    (
        [{"key": "dedicated", "value": "gpu"}],
        taint("dedicated", "NoExecute", "gpu"),
        True,
        "no effect on the toleration matches every effect",
    ),
    (
        [{"key": "dedicated", "operator": "Equal", "value": "gpu"}],
        taint("dedicated", "NoSchedule", "gpu"),
        True,
        "Equal with the same key and value tolerates",
    ),
    (
        [{"key": "dedicated", "operator": "Equal", "value": "gpu"}],
        taint("dedicated", "NoSchedule", "infra"),
        False,
        "Equal with another value does not tolerate",
    ),
    (
        [{"key": "dedicated", "operator": "Equal", "value": "gpu"}],
        taint("other", "NoSchedule", "gpu"),
        False,
        "Equal with another key does not tolerate",
    ),
    (
        [{"key": "dedicated", "operator": "Equal"}],
        taint("dedicated", "NoSchedule"),
        True,
        "Equal with no value matches a taint with no value",
    ),
    (
        [{"key": "dedicated", "operator": "Equal"}],
        taint("dedicated", "NoSchedule", "gpu"),
        False,
        "Equal with no value does not match a taint with a value",
    ),
    (
        [{"key": "dedicated", "operator": "Exists"}],
        taint("dedicated", "NoSchedule", "gpu"),
        True,
        "Exists with a key ignores the value",
    ),
    (
        [{"key": "dedicated", "operator": "Exists"}],
        taint("other", "NoSchedule"),
        False,
        "Exists with a key does not tolerate another key",
    ),
    (
        [],
        taint("dedicated", "NoSchedule"),
        False,
        "no tolerations tolerate nothing",
    ),
    (
        [{"key": "a", "operator": "Exists"}, {"key": "dedicated", "value": "gpu"}],
        taint("dedicated", "NoSchedule", "gpu"),
        True,
        "any one matching toleration is enough",
    ),
]


@pytest.mark.parametrize(
    ("tolerations", "node_taint", "expected"),
    [case[:3] for case in TOLERATION_CASES],
    ids=[case[3] for case in TOLERATION_CASES],
)
def test_tolerated(tolerations: list[dict[str, Any]], node_taint: Taint, expected: bool) -> None:
    assert tolerated(node_taint, tuple(toleration(**t) for t in tolerations)) is expected


# --- rejection ----------------------------------------------------------------------------


def test_a_fitting_node_is_not_rejected() -> None:
    assert NODE.rejects(constraints_for()) is None


def test_a_node_that_is_not_ready_is_rejected_first() -> None:
    node = NODE.not_ready().cordoned().unlabel("kubevirt.io/schedulable")

    assert node.rejects(constraints_for()) == "not Ready"


def test_a_cordoned_node_is_rejected_unless_its_taint_is_tolerated() -> None:
    """The scheduler reads spec.unschedulable as node.kubernetes.io/unschedulable:NoSchedule."""
    reason = NODE.cordoned().rejects(constraints_for())

    assert reason == "cordoned (unschedulable)"
    tolerant = [toleration(key="node.kubernetes.io/unschedulable", operator="Exists")]
    assert NODE.cordoned().rejects(constraints_for(tolerations=tolerant)) is None


def test_a_node_without_kubevirt_is_rejected_for_the_missing_label() -> None:
    reason = NODE.unlabel("kubevirt.io/schedulable").rejects(constraints_for())

    assert reason == "missing label kubevirt.io/schedulable=true"


def test_a_label_with_another_value_counts_as_missing() -> None:
    reason = NODE.rejects(constraints_for(architecture="arm64"))

    assert reason == "missing label kubernetes.io/arch=arm64"  # before the machine type


def test_the_vms_node_selector_must_match() -> None:
    constraints = constraints_for(node_selector={"disk": "ssd"})

    assert NODE.rejects(constraints) == "missing label disk=ssd"
    assert NODE.label("disk", "ssd").rejects(constraints) is None


def test_dedicated_cpus_need_a_cpu_manager_node() -> None:
    constraints = constraints_for(dedicated_cpu=True)

    assert NODE.rejects(constraints) == "missing label kubevirt.io/cpumanager=true"
    assert NODE.label("kubevirt.io/cpumanager").rejects(constraints) is None


AFFINITY = (
    term(req("zone", "In", "a"), req("disk", "In", "ssd")),
    term(req("gpu", "Exists")),
)


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        (NODE.label("zone", "a").label("disk", "ssd"), None),
        (NODE.label("gpu"), None),
        (NODE.label("zone", "a"), "required node affinity not matched"),
        (NODE.label("disk", "ssd").label("zone", "b"), "required node affinity not matched"),
        (NODE, "required node affinity not matched"),
    ],
    ids=[
        "a node meeting every requirement of the first term matches",
        "a node meeting only the second term matches, terms are any-of",
        "a node meeting half of a term does not match, requirements are all-of",
        "a node with the wrong zone does not match",
        "a node meeting no term does not match",
    ],
)
def test_required_affinity(node: NodeView, expected: str | None) -> None:
    assert node.rejects(constraints_for(affinity=AFFINITY)) == expected


def test_labels_are_checked_before_affinity() -> None:
    constraints = constraints_for(node_selector={"disk": "ssd"}, affinity=AFFINITY)

    assert NODE.rejects(constraints) == "missing label disk=ssd"


@pytest.mark.parametrize(
    ("node", "tolerations", "expected"),
    [
        (
            NODE.taint("dedicated", "NoSchedule", "gpu"),
            (),
            "taint dedicated=gpu:NoSchedule not tolerated",
        ),
        (
            NODE.taint("node.kubernetes.io/unreachable", "NoExecute"),
            (),
            "taint node.kubernetes.io/unreachable:NoExecute not tolerated",
        ),
        (NODE.taint("maintenance", "PreferNoSchedule"), (), None),
        (
            NODE.taint("dedicated", "NoSchedule", "gpu"),
            ({"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},),
            None,
        ),
        (
            NODE.taint("a", "NoSchedule").taint("b", "NoExecute"),
            ({"key": "a", "operator": "Exists"},),
            "taint b:NoExecute not tolerated",
        ),
        (
            NODE.taint("a", "NoSchedule").taint("b", "NoExecute"),
            ({"operator": "Exists"},),
            None,
        ),
    ],
    ids=[
        "an untolerated NoSchedule taint rejects, naming key and value",
        "an untolerated NoExecute taint without a value rejects, naming the key",
        "a PreferNoSchedule taint is only a preference and is ignored",
        "a tolerated NoSchedule taint does not reject",
        "every hard taint must be tolerated, not just one",
        "a wildcard toleration tolerates every taint",
    ],
)
def test_taints(
    node: NodeView, tolerations: tuple[dict[str, Any], ...], expected: str | None
) -> None:
    constraints = constraints_for(tolerations=[toleration(**t) for t in tolerations])

    assert node.rejects(constraints) == expected


def test_a_node_passing_every_filter_is_not_rejected() -> None:
    constraints = constraints_for(
        architecture="arm64",
        dedicated_cpu=True,
        cpu_model="Neoverse-N1",
        node_selector={"disk": "ssd"},
        affinity=AFFINITY,
        tolerations=[toleration(key="dedicated", operator="Exists")],
    )
    node = (
        NODE.label("kubernetes.io/arch", "arm64")
        .label("machine-type.node.kubevirt.io/virt")
        .label("kubevirt.io/cpumanager")
        .label("cpu-model.node.kubevirt.io/Neoverse-N1")
        .label("disk", "ssd")
        .label("gpu")
        .taint("dedicated", "NoSchedule", "vm")
        .taint("maintenance", "PreferNoSchedule")
    )

    assert node.rejects(constraints) is None
