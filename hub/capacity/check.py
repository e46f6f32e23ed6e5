"""One target, one batch: run every stage and collect the findings into a verdict.

The stages mirror a scheduler framework: filters (KubeVirt present, fresh report, a path for
every VM, node placement, storage, quota) and then the policy's soft rules, each contributing
findings with stable codes; the score is computed alongside so the target can be ranked.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from hub.capacity import constraints, fit, paths, quota, requirements, rules, scoring, storage
from hub.capacity.index import ClusterIndex
from hub.models.check import Code, Finding, Placement, Severity, TargetResult, Verdict
from hub.models.policy import Policy
from hub.models.vm import VmSpec


@dataclass(frozen=True, slots=True)
class Context:
    """Everything a check needs besides the target and the VMs; the caller owns the clock."""

    policy: Policy
    now: datetime
    source_labels: Mapping[str, str] | None = None
    storage_class_map: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The answer for one target plus what a claim on it would have to hold."""

    result: TargetResult
    node_of: Mapping[str, str | None]
    requests: Mapping[str, requirements.PodRequest]
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


def evaluate(index: ClusterIndex, vms: Sequence[VmSpec], ctx: Context) -> Evaluation:
    gate = rules.kubevirt(index) + rules.freshness(index, ctx.policy, ctx.now)
    age = round(rules.age_seconds(index, ctx.now), 1)
    if any(f.severity == Severity.BLOCKER for f in gate):
        result = TargetResult(
            cluster=index.name, verdict=verdict(gate), findings=tuple(gate), report_age_seconds=age
        )
        return Evaluation(result, {}, {}, {}, {})
    findings = list(gate) + rules.eligibility(index, ctx.policy)
    modes = {}
    for vm in vms:
        modes[vm.key], path_findings = paths.migration_mode(vm)
        findings += path_findings
    requests = {vm.key: requirements.pod_request(vm, index.kubevirt) for vm in vms}
    outcome = fit.place(
        index, [fit.Demand(vm, requests[vm.key], constraints.for_vm(vm)) for vm in vms]
    )
    findings += outcome.findings
    volumes = storage.plan(index, vms, ctx.storage_class_map)
    findings += volumes.findings
    usage_of = {vm.key: quota.usage([(vm, requests[vm.key])], volumes.volumes) for vm in vms}
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
    placements = tuple(
        Placement(
            vm=vm.key,
            mode=modes[vm.key],
            node=node_of[vm.key],
            cpu_millis=requests[vm.key].cpu_millis,
            memory_bytes=requests[vm.key].memory_bytes,
            scalar=requests[vm.key].scalar_dict(),
            volumes=volumes.volumes.get(vm.key, ()),
        )
        for vm in vms
    )
    result = TargetResult(
        cluster=index.name,
        verdict=verdict(findings),
        findings=tuple(findings),
        placements=placements,
        score=scoring.explain(aggregates, ctx.policy.scoring.weights),
        report_age_seconds=age,
    )
    return Evaluation(result, node_of, requests, volumes.needed, usage, usage_of)


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
