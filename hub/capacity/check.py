"""One target, one batch: run every stage and collect the findings into a verdict.

The stages mirror a scheduler framework: filters (KubeVirt present, fresh report, a path for
every VM, node placement, storage, quota) and then the policy's soft rules, each contributing
findings with stable codes; the score is computed alongside so the target can be ranked.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hub.capacity import fit, paths, quota, requirements, rules, scoring, storage
from hub.capacity.index import ClusterIndex
from hub.capacity.kubevirt.render import Target
from hub.capacity.kubevirt.vmi import Vmi, from_spec
from hub.models.check import Code, Finding, Mode, Placement, Severity, TargetResult, Verdict
from hub.models.policy import Policy
from hub.models.vm import VirtualMachine

_GRAVITY = (Severity.BLOCKER, Severity.CRITICAL, Severity.WARNING, Severity.INFO)
"""Findings are listed gravest first, each kind in the order the stages found them."""


@dataclass(frozen=True, slots=True)
class Context:
    """Everything a check needs besides the target and the VMs; the caller owns the clock.

    `source` is how the VMs' own cluster sizes them (for the overhead KubeVirt measured
    there); sizes are kept per VM and per target setting for the length of one check."""

    policy: Policy
    now: datetime
    source_labels: Mapping[str, str] | None = None
    storage_class_map: Mapping[str, str] = field(default_factory=dict)
    source: Target | None = None
    source_name: str | None = None
    _sized: dict[tuple[int, object], requirements.Sized] = field(default_factory=dict)
    _starts: dict[int, tuple[VirtualMachine, Vmi]] = field(default_factory=dict)

    def size(self, vm: VirtualMachine, target: Target) -> requirements.Sized:
        """By the VM object itself: a context may serve checks of different VMs."""
        key = (id(vm), target.key)
        found = self._sized.get(key)
        if found is None or found.vm is not vm:
            release = self.source.release if self.source else None
            found = requirements.size(vm, target, release, self._start(vm))
            self._sized[key] = found
        return found

    def _start(self, vm: VirtualMachine) -> Vmi:
        """The VM read as a VMI once, whatever number of targets size it."""
        known = self._starts.get(id(vm))
        if known is None or known[0] is not vm:
            known = (vm, from_spec(vm.template, vm.annotations))
            self._starts[id(vm)] = known
        return known[1]


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The answer for one target plus what a claim on it would have to hold."""

    result: TargetResult
    node_of: Mapping[str, str | None]
    requests: Mapping[str, requirements.PodRequest]
    """Only VMs KubeVirt would admit and receive there."""
    storage_needed: Mapping[str, int]
    quota_usage: Mapping[str, Mapping[str, int]]
    quota_of: Mapping[str, Mapping[str, Mapping[str, int]]] = field(default_factory=dict)
    """Per VM, its part of `quota_usage`."""


def verdict(findings: Sequence[Finding]) -> Verdict:
    severities = {f.severity for f in findings}
    if Severity.BLOCKER in severities:
        stale = any(
            f.code == Code.REPORT_STALE and f.severity == Severity.BLOCKER for f in findings
        )
        return Verdict.UNKNOWN if stale else Verdict.BLOCKED
    if Severity.CRITICAL in severities:
        return Verdict.SHORT
    if Severity.WARNING in severities:
        return Verdict.FITS_WITH_WARNINGS
    return Verdict.FITS


def evaluate(index: ClusterIndex, vms: Sequence[VirtualMachine], ctx: Context) -> Evaluation:
    gate = rules.kubevirt(index) + rules.freshness(index, ctx.policy, ctx.now)
    age = round(rules.age_seconds(index, ctx.now), 1)
    if any(f.severity == Severity.BLOCKER for f in gate):
        result = TargetResult(
            cluster=index.name, verdict=verdict(gate), findings=tuple(gate), report_age_seconds=age
        )
        return Evaluation(result, {}, {}, {}, {})
    findings = list(gate) + rules.eligibility(index, ctx.policy) + rules.availability(index)
    findings += rules.rules_used(index)
    modes = {}
    for vm in vms:
        modes[vm.key], path_findings = paths.migration_mode(vm)
        findings += path_findings
    requests: dict[str, requirements.PodRequest] = {}
    demands = []
    every = [ctx.size(vm, index.target) for vm in vms]
    findings += _unknown_source(every, modes)
    for vm, sized in zip(vms, every, strict=True):
        findings += sized.findings
        findings += _measured(vm, ctx)
        if sized.request is None or sized.wanted is None or sized.rendered is None:
            continue
        request = requirements.with_networks(
            sized.request, sized.rendered, index.network_attachments
        )
        requests[vm.key] = request
        demands.append(fit.Demand(vm, request, sized.wanted))
    outcome = fit.place(index, demands)
    findings += outcome.findings
    volumes = storage.plan(index, vms, ctx.storage_class_map)
    findings += volumes.findings
    usage_of = {
        vm.key: quota.usage([(vm, requests[vm.key])] if vm.key in requests else [], volumes.volumes)
        for vm in vms
    }
    usage = quota.merged(usage_of.values())
    findings += quota.check(index, usage)
    aggregates = batch_aggregates(index, requests.values(), volumes.needed, ctx)
    if verdict(findings) not in (Verdict.SHORT, Verdict.BLOCKED):
        findings += rules.headroom(index, aggregates, volumes.needed, ctx.policy)
        findings += rules.node_loss(index, aggregates, ctx.policy)
    findings += rules.pending_launchers(index)
    node_of = {
        key: None if node is None else index.node_names[node] for key, node in outcome.nodes.items()
    }
    for vm in vms:
        node_of.setdefault(vm.key, None)
    placements = tuple(
        _placement(vm, modes[vm.key], node_of[vm.key], requests.get(vm.key), volumes) for vm in vms
    )
    result = TargetResult(
        cluster=index.name,
        verdict=verdict(findings),
        findings=tuple(sorted(findings, key=lambda f: _GRAVITY.index(f.severity))),
        placements=placements,
        score=scoring.explain(aggregates, ctx.policy.scoring.weights),
        report_age_seconds=age,
    )
    return Evaluation(result, node_of, requests, volumes.needed, usage, usage_of)


def _placement(
    vm: VirtualMachine,
    mode: Mode,
    node: str | None,
    request: requirements.PodRequest | None,
    volumes: storage.StoragePlan,
) -> Placement:
    return Placement(
        vm=vm.key,
        mode=mode,
        node=node,
        cpu_millis=request.cpu_millis if request else 0,
        memory_bytes=request.memory_bytes if request else 0,
        scalar=request.scalar_dict() if request else {},
        volumes=volumes.volumes.get(vm.key, ()),
        arithmetic=request.arithmetic if request else (),
    )


def _unknown_source(
    sized: Sequence[requirements.Sized], modes: Mapping[str, Mode]
) -> list[Finding]:
    """VMs from a file have no source node, so their host CPU model cannot be required:
    one finding for the batch, as it is one fact about where the VMs came from."""
    keys = [
        s.vm.key
        for s in sized
        if modes[s.vm.key] == Mode.LIVE and s.rendered is not None and s.rendered.nodes.notes
    ]
    if not keys:
        return []
    shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
    return [
        Finding(
            code=Code.SOURCE_NODE_UNKNOWN,
            severity=Severity.INFO,
            vm=keys[0] if len(keys) == 1 else None,
            message=f"{shown}: the source node is unknown, so its host CPU model is not "
            "required here; a live migration also needs a target node that offers it",
            details={"vms": keys},
        )
    ]


def _measured(vm: VirtualMachine, ctx: Context) -> list[Finding]:
    """The overhead KubeVirt measured on the source, against what its rules give there."""
    measured = vm.measured_overhead_bytes
    if measured is None or ctx.source is None:
        return []
    sized = ctx.size(vm, ctx.source)
    if sized.rendered is None:
        return []
    computed = sized.rendered.overhead.total
    if computed >= measured:
        return []
    return [
        Finding(
            code=Code.OVERHEAD_BELOW_MEASURED,
            severity=Severity.WARNING,
            vm=vm.key,
            message=(
                f"{vm.key}: KubeVirt {ctx.source.release} measured a memory overhead of "
                f"{measured} B on {ctx.source_name or 'its cluster'}, the rules give "
                f"{computed} B there ({measured - computed} B less): sizes here may be low"
            ),
            details={"measured": measured, "computed": computed},
        )
    ]


def batch_aggregates(
    index: ClusterIndex,
    requests: Iterable[requirements.PodRequest],
    storage_needed: Mapping[str, int],
    ctx: Context,
) -> scoring.Aggregates:
    reqs = list(requests)
    totals = index.totals
    return scoring.Aggregates(
        cpu_allocatable=totals.cpu_allocatable,
        memory_allocatable=totals.memory_allocatable,
        cpu_used_after=totals.cpu_used + sum(r.cpu_millis for r in reqs),
        memory_used_after=totals.memory_used + sum(r.memory_bytes for r in reqs),
        largest_cpu=totals.largest_cpu,
        largest_memory=totals.largest_memory,
        storage_free_fraction=rules.storage_free_fraction(index, storage_needed),
        locality=scoring.locality(
            ctx.source_labels, index.labels, ctx.policy.scoring.locality_labels
        ),
    )
