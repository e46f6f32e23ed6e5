"""A VM's virt-launcher pod on a target cluster, stage by stage as KubeVirt makes it: the
instancetype and preference applied, the webhook's defaults, admission, the memory
overhead, the compute container and the others, the pod total the scheduler counts, and the
nodes the migration's target pod may use. Every figure keeps the terms that produced it."""

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType

from hub.capacity.kubevirt import (
    admission,
    compute,
    defaults,
    instancetypes,
    overhead,
    pod,
    selection,
    support,
)
from hub.capacity.kubevirt import release as release_rules
from hub.capacity.kubevirt import vmi as vmis
from hub.capacity.kubevirt.release import Release, rules_for
from hub.models import kubevirt as k
from hub.models import quantity
from hub.models.vm import VirtualMachine


@dataclass(frozen=True, slots=True)
class Target:
    """The receiving cluster as sizing sees it: the rules of its release, its KubeVirt
    configuration, the CR's annotations and the default RuntimeClass's pod overhead."""

    release: Release
    config: k.KubeVirtConfiguration
    annotations: Mapping[str, str]
    runtime_overhead: Mapping[str, Fraction]
    note: str | None = None
    key: tuple[object, ...] = field(init=False, compare=False, repr=False)
    """Clusters equal in this size every VM alike (releases by the rule changes they have);
    computed once, as every check asks it of every setting in the fleet."""

    def __post_init__(self) -> None:
        key = (
            release_rules.signature(self.release),
            self.config.model_dump_json(),
            tuple(sorted(self.annotations.items())),
            tuple(sorted(self.runtime_overhead.items())),
            self.note,
        )
        object.__setattr__(self, "key", key)


def target(
    version: str | None,
    config: k.KubeVirtConfiguration,
    annotations: Mapping[str, str],
    runtime_classes: Mapping[str, Mapping[str, str]],
) -> Target:
    choice = rules_for(version)
    fixed = (
        runtime_classes.get(config.default_runtime_class, {})
        if config.default_runtime_class
        else {}
    )
    return Target(
        release=choice.release,
        config=config,
        annotations=MappingProxyType(
            {key: annotations[key] for key in sorted(annotations) if key == k.EVEN_PARITY}
        ),
        runtime_overhead=MappingProxyType(
            {name: quantity.parse(text) for name, text in fixed.items()}
        ),
        note=choice.note,
    )


@dataclass(frozen=True, slots=True)
class Rendered:
    vm: str
    vmi: vmis.Vmi
    overhead: overhead.Overhead
    containers: tuple[support.Container, ...]
    """`compute` first, then the others in the pod's order."""
    requests: Mapping[str, int]
    """The whole pod as the scheduler counts it: CPU in millicores, the rest in units."""
    limits: Mapping[str, int]
    """The compute container's limits (what namespace quotas on limits see)."""
    nodes: selection.NodeRules
    networks: tuple[str, ...]
    """namespace/name of each NetworkAttachmentDefinition whose resource the pod requests."""
    claims: tuple[str, ...]
    arithmetic: tuple[str, ...]


def render(
    vm: VirtualMachine,
    to: Target,
    source_release: Release | None = None,
    start: vmis.Vmi | None = None,
) -> Rendered:
    """`start`: the VM's `vmi.from_spec`, when the caller sizes it for many targets."""
    release, config = to.release, to.config
    vmi = start if start is not None else vmis.from_spec(vm.template, vm.annotations)
    vmi = instancetypes.apply(
        vm.key,
        vmi,
        vm.instancetype.spec if vm.instancetype else None,
        vm.preference.spec if vm.preference else None,
        release,
    )
    vmi = defaults.apply(vmi, release, config, dict(to.annotations))
    admission.check(vm.key, vmi)
    memory = overhead.compute(vmi, release, config)
    main = compute.render(vmi, release, config, memory.total)
    others = support.containers(vmi, release, config)
    launcher = support.Container("compute", compute.finish(main.requests, main.limits), main.limits)
    every = (launcher, *others)
    total = pod.whole(pod.requests(every, to.runtime_overhead))
    nodes = selection.for_target(vm.key, vmi, release, config, vm.source_node, source_release)
    return Rendered(
        vm=vm.key,
        vmi=vmi,
        overhead=memory,
        containers=every,
        requests=MappingProxyType(total),
        limits=MappingProxyType(pod.whole(main.limits)),
        nodes=nodes,
        networks=_networks(vm.namespace, vmi),
        claims=main.claims,
        arithmetic=tuple(_arithmetic(vm, to, vmi, memory, main, others, total)),
    )


def _networks(namespace: str, vmi: vmis.Vmi) -> tuple[str, ...]:
    """`multus.NetworkToResource`: each multus network, its NAD in the VM's namespace unless
    it names one."""
    found = []
    for network in vmi.networks:
        if network.multus is None or not network.multus.network_name:
            continue
        name = network.multus.network_name
        found.append(name if "/" in name else f"{namespace}/{name}")
    return tuple(found)


def _arithmetic(
    vm: VirtualMachine,
    to: Target,
    vmi: vmis.Vmi,
    memory: overhead.Overhead,
    main: compute.Compute,
    others: list[support.Container],
    total: Mapping[str, int],
) -> list[str]:
    lines = [
        f"KubeVirt {release_rules.alike(to.release)} rules" + (f" ({to.note})" if to.note else "")
    ]
    if vm.instancetype is not None:
        lines.append(
            f"{vm.instancetype.kind} {vm.instancetype.name}: {vmi.vcpus} vCPU "
            f"({_count(vmi.sockets, 'socket')} x {_count(vmi.cores, 'core')} x "
            f"{_count(vmi.threads, 'thread')}), guest "
            f"{quantity.ceil(vmi.guest or Fraction(0))} B"
        )
    if vm.preference is not None:
        lines.append(f"{vm.preference.kind} {vm.preference.name} applied where the VM sets nothing")
    lines += memory.explain()
    lines += list(main.steps)
    for container in others:
        kind = "sidecar" if container.restartable else "init" if container.init else "container"
        shown = pod.whole(dict(container.requests))
        cpu, mem = shown.get("cpu", 0), shown.get("memory", 0)
        lines.append(f"+ {kind} {container.name}: cpu {cpu}m, memory {mem} B")
    if to.runtime_overhead:
        fixed = pod.whole(dict(to.runtime_overhead))
        lines.append(f"+ RuntimeClass {to.config.default_runtime_class} overhead {fixed}")
    lines.append(
        f"pod = cpu {total.get('cpu', 0)}m, memory {total.get('memory', 0)} B"
        + "".join(
            f", {name} {value}"
            for name, value in sorted(total.items())
            if name not in ("cpu", "memory", compute.EPHEMERAL)
        )
    )
    return lines


def shape(vm: VirtualMachine, to: Target) -> tuple[int, int]:
    """(vCPUs, guest memory in bytes) as the VM runs, with its instancetype applied."""
    vmi = vmis.from_spec(vm.template, vm.annotations)
    with contextlib.suppress(admission.RejectedError):
        vmi = instancetypes.apply(
            vm.key,
            vmi,
            vm.instancetype.spec if vm.instancetype else None,
            vm.preference.spec if vm.preference else None,
            to.release,
        )
    vmi = defaults.apply(vmi, to.release, to.config, dict(to.annotations))
    return vmi.vcpus, quantity.ceil(vmi.guest or Fraction(0))


def default_target() -> Target:
    """A cluster that reports nothing particular: the newest rules, KubeVirt's defaults."""
    return target(None, k.KubeVirtConfiguration(), {}, {})


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'' if n == 1 else 's'}"
