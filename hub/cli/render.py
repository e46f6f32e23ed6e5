"""A check result as a person reads it in a terminal."""

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import yaml

from hub.models import quantity
from hub.models.api import (
    ClusterDetail,
    Migration,
    NodeSummary,
    Registered,
    ResourceSummary,
    Task,
)
from hub.models.check import CheckResult, Finding, Placement, Severity, TargetResult
from hub.models.vm import VirtualMachine

T = TypeVar("T")
_MARK = {Severity.INFO: "i", Severity.WARNING: "!", Severity.CRITICAL: "x", Severity.BLOCKER: "X"}


def _finding(f: Finding) -> str:
    return f"    {_MARK[f.severity]} {f.code.value}: {f.message}"


def _placement(p: Placement) -> str:
    where = p.node or "(no node)"
    disks = ", ".join(
        f"{v.disk} {quantity.human_bytes(v.size_bytes)} on {v.storage_class}" for v in p.volumes
    )
    return (
        f"    {p.vm} [{p.mode.value}] -> {where}: {quantity.cores(p.cpu_millis)} cores, "
        f"{quantity.gib(p.memory_bytes)}" + (f"; {disks}" if disks else "")
    )


def _target(t: TargetResult) -> list[str]:
    score = f"  score {t.score.total:.1f}" if t.score else ""
    lines = [f"{t.cluster}: {t.verdict.value.upper()}{score}"]
    lines += [_finding(f) for f in t.findings]
    if t.placements:
        lines.append("  placement:")
        lines += [_placement(p) for p in t.placements]
    return lines


def text(result: CheckResult) -> str:
    lines: list[str] = []
    if result.target:
        lines += ["Target", *["  " + line for line in _target(result.target)], ""]
    if result.suggestions:
        lines.append("Suggestions (clusters where the whole batch fits, best first)")
        for s in result.suggestions:
            lines.append(f"  {s.rank}. {s.cluster}  score {s.score.total:.1f}  {s.verdict.value}")
            lines += [f"       - {reason}" for reason in s.reasons]
            lines += ["  " + _placement(p) for p in s.placements]
    else:
        lines.append("Suggestions: no other cluster can take the whole batch")
    if result.split:
        lines += ["", "Split plan (no single cluster takes it all)"]
        lines += [f"  {part.cluster}: {', '.join(part.vms)}" for part in result.split.parts]
        if result.split.unplaced:
            lines.append(f"  nowhere: {', '.join(result.split.unplaced)}")
    if result.excluded:
        lines += ["", "Not suggested"]
        lines += [f"  {e.cluster}: {e.reason}" for e in result.excluded]
    elif result.excluded_counts:
        lines += ["", "Not suggested"]
        lines += [
            f"  {n} cluster(s): {reason}" for reason, n in sorted(result.excluded_counts.items())
        ]
    return "\n".join(lines)


def registered(answer: Registered) -> str:
    return (
        f"cluster {answer.cluster}: spoke token (shown once, store it as a secret):\n{answer.token}"
    )


def _resource_line(name: str, r: ResourceSummary) -> str:
    if name == "cpu_millis":
        show: Callable[[int], str] = lambda v: f"{quantity.cores(v)} cores"  # noqa: E731
        label = "cpu"
    elif name == "memory_bytes" or name.startswith("hugepages-"):
        show, label = quantity.human_bytes, "memory" if name == "memory_bytes" else name
    else:
        show, label = str, name
    return (
        f"  {label:<14} allocatable {show(r.allocatable)}, requested {show(r.requested)}, "
        f"reserved {show(r.reserved)}, free {show(r.free)}"
    )


def cluster(c: ClusterDetail) -> str:
    labels = ", ".join(f"{k}={v}" for k, v in sorted(c.labels.items())) or "none"
    if c.report_sequence is None:
        reported = "no report yet: its agent has not reported (cclm spoke run)"
    else:
        reported = f"report #{c.report_sequence}, {c.report_age_seconds:.0f}s old"
    lines = [
        f"{c.name} ({c.freshness.value}; {reported})",
        f"  labels: {labels}",
        f"  nodes: {c.nodes} ({c.nodes_usable} can host VMs); VMs: {c.vms}; "
        f"live reservations: {c.live_claims}",
    ]
    if c.sizing_rules:
        cdi = c.cdi.version if c.cdi and c.cdi.version else "unknown"
        lines.append(
            f"  KubeVirt {c.kubevirt_version or 'unknown'} (sized by {c.sizing_rules} rules); "
            f"CDI {cdi}"
        )
    lines += [_resource_line(name, r) for name, r in sorted(c.resources.items())]
    for s in c.storage:
        free = "unknown" if s.free_bytes is None else quantity.human_bytes(s.free_bytes)
        lines.append(
            f"  storage {s.name}{' (default)' if s.is_default else ''}: free {free}, reserved "
            f"{quantity.human_bytes(s.reserved_bytes)} (source: {s.capacity_source})"
        )
    if c.node_detail:
        lines += ["", *_nodes(c.node_detail)]
    return "\n".join(lines)


def _node_free(node: NodeSummary) -> tuple[int, int]:
    cpu = node.allocatable.cpu_millis - node.requested.cpu_millis - node.reserved.cpu_millis
    memory = node.allocatable.memory_bytes - node.requested.memory_bytes
    return max(0, cpu), max(0, memory - node.reserved.memory_bytes)


def _nodes(nodes: Sequence[NodeSummary]) -> list[str]:
    """Per node what one VM can get there: the sums above hide how it is split. `*` marks
    the largest free CPU and memory among the nodes that can host VMs."""
    usable = [n for n in nodes if n.ready and n.schedulable]
    cpu = max(usable, key=lambda n: _node_free(n)[0], default=None)
    memory = max(usable, key=lambda n: _node_free(n)[1], default=None)
    lines = [f"  {'NODE':<24} {'STATE':<10} {'FREE CPU':>9} {'FREE MEMORY':>12}"]
    for n in nodes:
        free_cpu, free_memory = _node_free(n)
        state = "not ready" if not n.ready else "cordoned" if not n.schedulable else "usable"
        lines.append(
            f"  {n.name:<24} {state:<10} {free_cpu / 1000:>8.1f}{'*' if n is cpu else ' '}"
            f" {quantity.human_bytes(free_memory):>11}{'*' if n is memory else ''}"
        )
    lines.append("  * the largest free block: what one VM can get")
    return lines


def migration(m: Migration) -> str:
    lines = [
        f"{m.id}: {m.state.value.upper()}  {m.source_cluster} -> {m.target_cluster}  "
        f"task {m.task_id}",
        f"  VMs: {', '.join(m.vms)}",
        f"  check: {m.check.verdict.value}"
        + (
            f"; acknowledged {', '.join(c.value for c in m.acknowledged)}" if m.acknowledged else ""
        ),
    ]
    if m.reservation:
        held = (
            f"released ({m.reservation.release_reason})"
            if m.reservation.released_at
            else f"held until {m.reservation.claim.expires_at.isoformat()}"
        )
        lines.append(f"  reservation {m.reservation.claim.id}: {held}")
    return "\n".join(lines)


def task(t: Task) -> str:
    lines = [f"{t.id}: {t.state.value.upper()} {t.progress}%  {t.message}"]
    for v in t.vms:
        line = f"  {v.vm} [{v.mode.value}] {v.phase.value}" + (f" on {v.node}" if v.node else "")
        if v.bytes_copied:
            line += f", {v.bytes_copied / 2**30:.1f} GiB copied"
        if v.receiving_pod is not None:
            pod = v.receiving_pod
            line += f"; receiving pod {pod.name} {pod.phase}" + (
                f": {pod.message}" if pod.message else ""
            )
        if v.message:
            line += f"; {v.message}"
        lines.append(line)
    lines += [f"  STALLED {c.message}" for c in t.conditions]
    lines += [f"  warning: {w}" for w in t.warnings]
    if t.cleanup:
        done = " (done)" if t.cleaned_up_at else ""
        lines.append(f"  source agent{done}: {t.cleanup}")
    return "\n".join(lines)


def shown(output: str, data: Any, text: str) -> str:
    """What `-o` asks for: the API's data as JSON or YAML, else the text for people."""
    if output == "json":
        return json.dumps(data, indent=2)
    if output == "yaml":
        return yaml.safe_dump(data, sort_keys=False).rstrip("\n")
    return text


def vms(items: Sequence[VirtualMachine]) -> str:
    lines = [f"{'VM':<40} {'RUNNING':<8} {'LIVE':<5} {'DISKS':>10}  NODE"]
    for vm in items:
        disks = quantity.human_bytes(sum(d.size_bytes for d in vm.disks)) if vm.disks else "-"
        node = vm.source_node.name if vm.source_node and vm.source_node.name else "-"
        live = "yes" if vm.live_migratable else "no"
        lines.append(
            f"{vm.key:<40} {'yes' if vm.running else 'no':<8} {live:<5} {disks:>10}  {node}"
        )
    return "\n".join(lines) if items else "no VMs reported"
