"""The nodes the target pod of a cross-cluster live migration may land on.

The pod is rendered afresh on the target (`services/nodeselectorrenderer.go`,
`template.go` `setNodeAffinityForPod`), then `watch/migration/migration.go`
`createTargetPod` adds what the source cluster sent in `sourceState.nodeSelectors`: for a
host-model VM the source node's host CPU model (`cpu-model-migration.node.kubevirt.io/<M>`)
and the features it requires, and from v1.8.0 (v1.7.1, v1.6.4) the source's CPU vendor;
the source node's hostname is excluded in the first affinity term.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import pydantic

from hub.capacity.kubevirt import defaults, gates
from hub.capacity.kubevirt.admission import Cause, RejectedError
from hub.capacity.kubevirt.release import Release, since
from hub.capacity.kubevirt.vmi import Vmi
from hub.models import kubevirt as k
from hub.models import vm as v
from hub.models.vm import CPU_VENDOR, HOST_MODEL_CPU, HOST_MODEL_FEATURES

SCHEDULABLE = "kubevirt.io/schedulable"
ARCH = "kubernetes.io/arch"
HOSTNAME = "kubernetes.io/hostname"
CPU_MODEL = "cpu-model.node.kubevirt.io/"
CPU_FEATURE = "cpu-feature.node.kubevirt.io/"
MIGRATION_MODEL = "cpu-model-migration.node.kubevirt.io/"
OBSOLETE_HOST_MODEL = "node-labeller.kubevirt.io/obsolete-host-model"
MACHINE_TYPE = "machine-type.node.kubevirt.io/"
HYPERV = "hyperv.node.kubevirt.io/"
_HYPERV_LABELS = (
    "vpindex",
    "runtime",
    "reset",
    "synic",
    "synictimer",
    "frequencies",
    "reenlightenment",
    "tlbflush",
    "ipi",
)


@dataclass(frozen=True, slots=True)
class NodeRules:
    node_selector: dict[str, str]
    affinity: tuple[v.NodeSelectorTerm, ...]
    tolerations: tuple[v.Toleration, ...]
    excluded_host: str | None
    """The source node's hostname, which the target pod may not use (kept apart from the
    affinity when that has at most one term, where it means the same)."""
    problems: tuple[str, ...]
    """Why KubeVirt would not create the target pod at all."""
    notes: tuple[str, ...]


def vendor_rule(release: Release) -> bool:
    """The migration target keeps the source's CPU vendor (`createTargetPod`)."""
    return since(release, "1.8.0", "1.7.1", "1.6.4")


def source_state(source: v.SourceNode, source_release: Release | None) -> dict[str, str]:
    """`getNodeSelectorsFromNodeName` on the source: vendor labels only where it sends them."""
    vendor = source_release is None or vendor_rule(source_release)
    return {
        key: value
        for key, value in source.labels.items()
        if key.startswith((HOST_MODEL_CPU, HOST_MODEL_FEATURES))
        or (vendor and key.startswith(CPU_VENDOR))
    }


def for_target(
    vm: str,
    vmi: Vmi,
    release: Release,
    config: k.KubeVirtConfiguration,
    source: v.SourceNode | None,
    source_release: Release | None,
) -> NodeRules:
    selector = _selector(vmi, release, config)
    terms = _affinity(vm, vmi)
    problems: list[str] = []
    notes: list[str] = []
    excluded = None
    if source is None:
        if vmi.model == defaults.HOST_MODEL:
            notes.append("its source node is unknown, so its host CPU model is not required")
    else:
        sent = source_state(source, source_release)
        if vmi.model == defaults.HOST_MODEL:
            problems += _host_model(selector, sent, source.name or "of the VM")
        if vendor_rule(release) and not any(key.startswith(CPU_VENDOR) for key in selector):
            vendor = next((key for key in sorted(sent) if key.startswith(CPU_VENDOR)), None)
            if vendor is not None:
                selector[vendor] = "true"
        if source.name and len(terms) > 1:
            terms = _exclude_host(terms, source.name)
        elif source.name:
            excluded = source.name
    tolerations = tuple(_toleration(vm, t) for t in vmi.tolerations)
    return NodeRules(selector, terms, tolerations, excluded, tuple(problems), tuple(notes))


def _selector(vmi: Vmi, release: Release, config: k.KubeVirtConfiguration) -> dict[str, str]:
    developer = config.developer_configuration
    selector = {SCHEDULABLE: "true"}
    if vmi.architecture:
        selector[ARCH] = vmi.architecture.lower()
    selector.update(developer.node_selectors)
    selector.update(vmi.node_selector or {})
    cross = gates.enabled("CrossArchitectureVirtualization", release, developer)
    if cross and vmi.architecture:
        selector.pop(ARCH, None)
    labels = _labels(vmi, release, developer)
    if cross and vmi.architecture:
        labels.append(f"kubevirt.io/vm-arch-{vmi.architecture}")
    selector.update(dict.fromkeys(labels, "true"))
    return selector


def _labels(vmi: Vmi, release: Release, developer: k.DeveloperConfiguration) -> list[str]:
    labels = []
    if vmi.dedicated:
        labels.append("kubevirt.io/cpumanager" if since(release, "1.8.0") else "cpumanager")
    if gates.enabled("HypervStrictCheck", release, developer) and vmi.hyperv is not None:
        labels += _hyperv(vmi.hyperv)
    if vmi.model and vmi.model not in (defaults.HOST_MODEL, defaults.HOST_PASSTHROUGH):
        labels.append(CPU_MODEL + vmi.model)
    if vmi.model:
        labels += [CPU_FEATURE + f.name for f in vmi.features if f.policy in ("", "require")]
    if since(release, "1.5.1") and vmi.machine_type:
        labels.append(MACHINE_TYPE + vmi.machine_type)
    later = since(release, "1.7.0")
    for wanted, label in (
        (vmi.realtime, "kubevirt.io/realtime"),
        (vmi.sev or (later and vmi.snp), "kubevirt.io/sev"),
        (vmi.sev_es, "kubevirt.io/sev-es"),
        (
            since(release, "1.6.0")
            and vmi.launch_security is not None
            and vmi.architecture == "s390x",
            "kubevirt.io/s390-pv",
        ),
        (later and vmi.snp, "kubevirt.io/sev-snp"),
        (later and vmi.tdx, "kubevirt.io/tdx"),
    ):
        if wanted:
            labels.append(label)
    return labels


def _hyperv(hyperv: Mapping[str, object]) -> list[str]:
    """`hypervNodeSelectors`: each feature explicitly enabled; EVMCS wants an Intel host."""
    labels = []
    for name in _HYPERV_LABELS:
        state = hyperv.get(name)
        if isinstance(state, dict) and state.get("enabled") is True:
            labels.append(HYPERV + name)
    evmcs = hyperv.get("evmcs")
    if isinstance(evmcs, dict) and evmcs.get("enabled") is not False:
        labels.append(CPU_VENDOR + "Intel")
    return labels


def _affinity(vm: str, vmi: Vmi) -> tuple[v.NodeSelectorTerm, ...]:
    """The VM's required terms, each also rejecting obsolete host models (host-model VMs)
    and every forbidden CPU feature (`setNodeAffinityForPod`)."""
    rejects = []
    if vmi.model in ("", defaults.HOST_MODEL):
        rejects.append(
            v.SelectorRequirement(
                key=OBSOLETE_HOST_MODEL, operator=v.SelectorOperator.DOES_NOT_EXIST
            )
        )
    rejects += [
        v.SelectorRequirement(key=CPU_FEATURE + f.name, operator=v.SelectorOperator.DOES_NOT_EXIST)
        for f in vmi.features
        if f.policy == "forbid"
    ]
    terms = [_term(vm, i, term) for i, term in enumerate(vmi.affinity)]
    if not rejects:
        return tuple(terms)
    if not terms:
        return (v.NodeSelectorTerm(match_expressions=tuple(rejects)),)
    return tuple(
        v.NodeSelectorTerm(match_expressions=(*t.match_expressions, *rejects)) for t in terms
    )


def _exclude_host(
    terms: tuple[v.NodeSelectorTerm, ...], host: str
) -> tuple[v.NodeSelectorTerm, ...]:
    """`createDecentralizedMigrationPodAntiAffinity`: the source's hostname, in term 0 only."""
    away = v.SelectorRequirement(key=HOSTNAME, operator=v.SelectorOperator.NOT_IN, values=(host,))
    changed = v.NodeSelectorTerm(match_expressions=(*terms[0].match_expressions, away))
    return (changed, *terms[1:])


def _host_model(selector: dict[str, str], sent: Mapping[str, str], node: str) -> list[str]:
    """`getHostCpuModelFromMap`: the source's host model, as migration labels."""
    model = [key for key in sent if key.startswith(HOST_MODEL_CPU)]
    if not model:
        return [
            f"the source node {node} has no {HOST_MODEL_CPU}<model> label: KubeVirt cannot "
            "build the target pod of a host-model VM (the migration would retry without end)"
        ]
    for key, value in sent.items():
        if key.startswith(HOST_MODEL_FEATURES):
            selector[CPU_FEATURE + key[len(HOST_MODEL_FEATURES) :]] = value
    for key in model:
        selector[MIGRATION_MODEL + key[len(HOST_MODEL_CPU) :]] = sent[key]
    return []


def _term(vm: str, index: int, term: k.NodeSelectorTerm) -> v.NodeSelectorTerm:
    try:
        return v.NodeSelectorTerm.model_validate(
            {"match_expressions": [r.model_dump(by_alias=False) for r in term.match_expressions]}
        )
    except pydantic.ValidationError as error:
        field = (
            "template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution"
            f".nodeSelectorTerms[{index}]"
        )
        raise RejectedError(vm, [Cause(field, _first(error))]) from error


def _toleration(vm: str, toleration: k.Toleration) -> v.Toleration:
    data = {
        name: value
        for name, value in toleration.model_dump(by_alias=False).items()
        if value is not None
    }
    try:
        return v.Toleration.model_validate(data)
    except pydantic.ValidationError as error:
        raise RejectedError(vm, [Cause("template.spec.tolerations", _first(error))]) from error


def _first(error: pydantic.ValidationError) -> str:
    return str(error.errors()[0]["msg"])
