"""What a VM's receiving virt-launcher pod would ask of one target, by the rules of the
KubeVirt release the target runs (`hub.capacity.kubevirt`), in the units the fit engine
counts: the pod's CPU, memory, hugepages and extended resources, and the nodes it may use.

A VM KubeVirt would refuse, or whose target pod KubeVirt could not make, has no request:
its finding says why, naming the field.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from hub.capacity import constraints
from hub.capacity.kubevirt import compute
from hub.capacity.kubevirt.admission import RejectedError
from hub.capacity.kubevirt.release import Release, alike
from hub.capacity.kubevirt.render import Rendered, Target, render
from hub.capacity.kubevirt.vmi import Vmi
from hub.models.check import Code, Finding, Severity
from hub.models.vm import VirtualMachine

_NOT_SCALAR = ("cpu", "memory", compute.EPHEMERAL)


@dataclass(frozen=True, slots=True)
class PodRequest:
    """The receiving virt-launcher pod's requests on one target, with the arithmetic shown."""

    cpu_millis: int
    memory_bytes: int
    overhead_bytes: int
    scalar: tuple[tuple[str, int], ...]
    arithmetic: tuple[str, ...]
    limits_cpu_millis: int | None = None
    limits_memory_bytes: int | None = None

    def scalar_dict(self) -> dict[str, int]:
        return dict(self.scalar)


@dataclass(frozen=True, slots=True)
class Sized:
    vm: VirtualMachine
    request: PodRequest | None
    wanted: constraints.Constraints | None
    findings: tuple[Finding, ...] = ()
    rendered: Rendered | None = None


def size(
    vm: VirtualMachine,
    target: Target,
    source_release: Release | None = None,
    start: Vmi | None = None,
) -> Sized:
    """Findings name no cluster: one sizing serves every cluster of the same setting."""
    try:
        rendered = render(vm, target, source_release, start)
    except RejectedError as rejected:
        return Sized(vm, None, None, (_refused(rejected, target),))
    nodes = rendered.nodes
    findings = [_no_pod(vm.key, problem) for problem in nodes.problems]
    if rendered.claims:
        findings.append(_claims(vm.key, rendered.claims))
    if findings and nodes.problems:
        return Sized(vm, None, None, tuple(findings), rendered)
    request = pod_request(rendered)
    wanted = constraints.Constraints(
        tuple(sorted(nodes.node_selector.items())),
        nodes.affinity,
        nodes.tolerations,
        frozenset({nodes.excluded_host}) if nodes.excluded_host else frozenset(),
    )
    return Sized(vm, request, wanted, tuple(findings), rendered)


def with_networks(
    request: PodRequest, rendered: Rendered, attachments: Mapping[str, str]
) -> PodRequest:
    """One of each SR-IOV (or other device) resource a NetworkAttachmentDefinition names,
    per network that uses it (`multus.NetworkToResource`, `WithNetworkResources`)."""
    names = [attachments[nad] for nad in rendered.networks if attachments.get(nad)]
    if not names:
        return request
    scalar = request.scalar_dict()
    for name in names:
        scalar[name] = scalar.get(name, 0) + 1
    steps = tuple(f"+ 1 {name} for its network attachment" for name in names)
    return PodRequest(
        request.cpu_millis,
        request.memory_bytes,
        request.overhead_bytes,
        tuple(sorted(scalar.items())),
        (*request.arithmetic, *steps),
        request.limits_cpu_millis,
        request.limits_memory_bytes,
    )


def pod_request(rendered: Rendered) -> PodRequest:
    """The launcher pod's requests as rendered, whether or not it could be scheduled."""
    totals, limits = rendered.requests, rendered.limits
    return PodRequest(
        cpu_millis=totals.get("cpu", 0),
        memory_bytes=totals.get("memory", 0),
        overhead_bytes=rendered.overhead.total,
        scalar=tuple(sorted((n, v) for n, v in totals.items() if n not in _NOT_SCALAR)),
        arithmetic=rendered.arithmetic,
        limits_cpu_millis=limits.get("cpu"),
        limits_memory_bytes=limits.get("memory"),
    )


def _refused(rejected: RejectedError, target: Target) -> Finding:
    return Finding(
        code=Code.VM_NOT_ADMITTED,
        severity=Severity.BLOCKER,
        vm=rejected.vm,
        message=f"KubeVirt {alike(target.release)} would refuse {rejected.vm}: "
        + "; ".join(f"spec.{c.field}: {c.message}" for c in rejected.causes),
        details={
            "causes": [{"field": f"spec.{c.field}", "message": c.message} for c in rejected.causes]
        },
    )


def _no_pod(vm: str, problem: str) -> Finding:
    return Finding(
        code=Code.TARGET_POD_NOT_CREATED,
        severity=Severity.BLOCKER,
        vm=vm,
        message=f"{vm} cannot be received there: {problem}",
    )


def _claims(vm: str, claims: tuple[str, ...]) -> Finding:
    return Finding(
        code=Code.DEVICE_CLAIMS_UNCHECKED,
        severity=Severity.WARNING,
        vm=vm,
        message=(
            f"{vm} asks for devices through resource claims ({', '.join(claims)}); the "
            "scheduler allocates those through DRA and this check does not see them"
        ),
        details={"claims": list(claims)},
    )
