"""Place a whole batch of VMs node by node on one cluster.

A VM needs one node that holds all of it, so aggregate free capacity proves nothing. VMs are
placed largest first (by their dominant share of the cluster's largest node); each goes to
the candidate node it leaves least room on (CPU and memory, each relative to the largest
node), which keeps large holes open for the VMs still to come.
When a VM finds no node, the finding says which resource is short, by how much, and what the
best node had — after what earlier VMs of the batch and in-flight claims already took.
"""

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hub.capacity import constraints, offers
from hub.capacity.index import BoolArray, ClusterIndex, IntArray
from hub.capacity.kubevirt import compute
from hub.capacity.requirements import PodRequest
from hub.models import quantity
from hub.models.check import Code, Finding, Severity
from hub.models.vm import VirtualMachine

UNTRACKED_WHEN_ABSENT = compute.VIRTUALIZATION
"""Device plugins every KubeVirt node has (kvm, tun, vhost-net, vhost-vsock): counted when
the report lists them on any node, left out when it lists none (an older agent's report)."""


@dataclass(frozen=True, slots=True)
class Demand:
    vm: VirtualMachine
    request: PodRequest
    wanted: constraints.Constraints


@dataclass(frozen=True, slots=True)
class Outcome:
    """Where each VM went (node index or None) and what stopped the ones that did not fit."""

    nodes: dict[str, int | None]
    findings: tuple[Finding, ...]

    @property
    def placed(self) -> list[str]:
        return [vm for vm, node in self.nodes.items() if node is not None]


@dataclass(slots=True)
class _Free:
    cpu: IntArray
    memory: IntArray
    pods: IntArray
    scalar: dict[str, IntArray]

    def take(self, node: int, request: PodRequest) -> None:
        self.cpu[node] -= request.cpu_millis
        self.memory[node] -= request.memory_bytes
        self.pods[node] -= 1
        for name, amount in _counted(request, self.scalar):
            self.scalar[name][node] -= amount

    def room(self, request: PodRequest) -> BoolArray:
        ok = (self.cpu >= request.cpu_millis) & (self.memory >= request.memory_bytes)
        ok &= self.pods >= 1
        for name, amount in _counted(request, self.scalar):
            column = self.scalar.get(name)
            ok &= False if column is None else column >= amount
        return ok


def _counted(request: PodRequest, scalar: dict[str, IntArray]) -> list[tuple[str, int]]:
    return [
        (name, amount)
        for name, amount in request.scalar
        if name in scalar or name not in UNTRACKED_WHEN_ABSENT
    ]


def place(index: ClusterIndex, demands: Sequence[Demand]) -> Outcome:
    free = _Free(
        index.cpu_free.copy(),
        index.memory_free.copy(),
        index.pods_free.copy(),
        {name: col.allocatable - col.used for name, col in index.scalar.items()},
    )
    cpu_scale = max(int(index.cpu_allocatable.max(initial=0)), 1)
    memory_scale = max(int(index.memory_allocatable.max(initial=0)), 1)
    order = sorted(
        demands,
        key=lambda d: (
            -max(d.request.cpu_millis / cpu_scale, d.request.memory_bytes / memory_scale),
            d.vm.key,
        ),
    )
    nodes: dict[str, int | None] = {}
    findings: list[Finding] = []
    masks: dict[constraints.Constraints, tuple[BoolArray, list[str | None]]] = {}
    for demand in order:
        if demand.wanted not in masks:
            reasons = index.rejections(demand.wanted)
            masks[demand.wanted] = (np.array([r is None for r in reasons], dtype=np.bool_), reasons)
        eligible, reasons = masks[demand.wanted]
        candidates = eligible & free.room(demand.request)
        if candidates.any():
            node = _best_fit(candidates, free, demand.request, cpu_scale, memory_scale)
            free.take(node, demand.request)
            nodes[demand.vm.key] = node
            continue
        nodes[demand.vm.key] = None
        placed_before = sum(node is not None for node in nodes.values())
        context = _Context(index, placed_before, eligible, free)
        findings.extend(_explain(demand, reasons, context))
    return Outcome(nodes, tuple(findings))


def _best_fit(
    candidates: BoolArray, free: _Free, request: PodRequest, cpu_scale: int, memory_scale: int
) -> int:
    left = (free.cpu - request.cpu_millis) / cpu_scale + (
        free.memory - request.memory_bytes
    ) / memory_scale
    left = np.where(candidates, left, np.inf)
    return int(np.argmin(left))


@dataclass(frozen=True, slots=True)
class _Context:
    index: ClusterIndex
    placed_before: int
    eligible: BoolArray
    free: _Free

    def after(self) -> str:
        parts = []
        if self.placed_before:
            parts.append(f"placing {self.placed_before} larger VM(s) of this batch")
        if self.index.claim_count:
            parts.append(f"{self.index.claim_count} in-flight reservation(s)")
        return f" after {' and '.join(parts)}" if parts else ""


def _explain(demand: Demand, reasons: list[str | None], ctx: _Context) -> list[Finding]:
    eligible_count = int(ctx.eligible.sum())
    if eligible_count == 0:
        return [_unmatched(demand, reasons, ctx.index)]
    short = [
        f
        for f in (
            _short(demand, name, need, ctx) for name, need in _needs(demand.request, ctx.free)
        )
        if f
    ]
    return short or [_no_single_node(demand, ctx)]


def _unmatched(demand: Demand, reasons: list[str | None], index: ClusterIndex) -> Finding:
    vm = demand.vm.key
    counts = Counter(r for r in reasons if r is not None)
    summary = "; ".join(f"{n} {reason}" for reason, n in counts.most_common())
    details: dict[str, object] = {"nodes": len(reasons), "rejections": dict(counts)}
    message = f"{vm}: none of {len(reasons)} nodes can run it ({summary or 'no nodes'})"
    gap = offers.missing(index.name, demand.wanted.labels, _ready_profiles(index))
    if gap is not None:
        details["missing_label"] = gap.label
        message = f"{vm}: {gap.sentence}; none of {len(reasons)} nodes can run it"
    return Finding(
        code=Code.NO_NODE_MATCHES_CONSTRAINTS,
        severity=Severity.CRITICAL,
        vm=vm,
        message=message,
        details=details,
    )


def _ready_profiles(index: ClusterIndex) -> list[tuple[Mapping[str, str], int]]:
    """Each label profile of the cluster's Ready KubeVirt nodes, with how many nodes share it."""
    counts = Counter(index.profile_of[index.ready].tolist())
    return [(index.profiles[p].labels, n) for p, n in sorted(counts.items())]


def _needs(request: PodRequest, free: _Free) -> list[tuple[str, int]]:
    return [
        ("cpu", request.cpu_millis),
        ("memory", request.memory_bytes),
        ("pods", 1),
        *_counted(request, free.scalar),
    ]


def _column(ctx: _Context, resource: str) -> IntArray | None:
    if resource == "cpu":
        return ctx.free.cpu
    if resource == "memory":
        return ctx.free.memory
    if resource == "pods":
        return ctx.free.pods
    return ctx.free.scalar.get(resource)


def _show(resource: str, amount: int) -> str:
    if resource == "cpu":
        return f"{quantity.cores(amount)} cores"
    if resource == "memory" or resource.startswith("hugepages-"):
        return quantity.gib(amount)
    if resource == "pods":
        return f"{amount} pod slot(s)"
    return f"{amount} x {resource}"


def _code(resource: str) -> Code:
    if resource == "cpu":
        return Code.CPU_SHORT
    if resource == "memory":
        return Code.MEMORY_SHORT
    if resource.startswith("hugepages-"):
        return Code.HUGEPAGES_SHORT
    if resource == "pods":
        return Code.TOO_MANY_PODS
    return Code.DEVICE_SHORT


def _short(demand: Demand, resource: str, need: int, ctx: _Context) -> Finding | None:
    column = _column(ctx, resource)
    best_node: int | None = None
    best = 0
    if column is not None:
        masked = np.where(ctx.eligible, column, np.iinfo(np.int64).min)
        best_node = int(np.argmax(masked))
        best = max(int(masked[best_node]), 0)
    if best >= need:
        return None
    vm = demand.vm.key
    node = ctx.index.node_names[best_node] if best_node is not None and best > 0 else None
    where = f" on {node}" if node else ""
    total = int(np.maximum(column[ctx.eligible], 0).sum()) if column is not None else 0
    count = int(ctx.eligible.sum())
    if best > 0:
        have = (
            f"the largest free is {_show(resource, best)}{where}{ctx.after()} "
            f"(free across its {count} candidate nodes: {_show(resource, total)})"
        )
    else:
        have = f"none of its {count} candidate nodes has any free{ctx.after()}"
    return Finding(
        code=_code(resource),
        severity=Severity.CRITICAL,
        vm=vm,
        resource=resource,
        message=f"{vm} needs {_show(resource, need)} on one node; {have}",
        details={
            "needed": need,
            "largest_free": best,
            "node": node,
            "shortfall": need - best,
            "free_total": total,
        },
    )


def _no_single_node(demand: Demand, ctx: _Context) -> Finding:
    """Each resource exists somewhere, never together: name the closest node and its gap."""
    gaps = []
    for resource, need in _needs(demand.request, ctx.free):
        column = _column(ctx, resource)
        have = np.zeros_like(ctx.free.cpu) if column is None else column
        gaps.append(np.maximum(need - have, 0) / max(need, 1))
    worst = np.where(ctx.eligible, np.max(np.vstack(gaps), axis=0), np.inf)
    node = int(np.argmin(worst))
    missing = []
    for resource, need in _needs(demand.request, ctx.free):
        column = _column(ctx, resource)
        held = 0 if column is None else int(column[node])
        if held < need:
            missing.append(f"{_show(resource, need - max(held, 0))} {resource}")
    vm = demand.vm.key
    return Finding(
        code=Code.NO_SINGLE_NODE_FITS,
        severity=Severity.CRITICAL,
        vm=vm,
        message=(
            f"{vm} needs {quantity.cores(demand.request.cpu_millis)} cores and "
            f"{quantity.gib(demand.request.memory_bytes)} on one node; "
            f"no node has both{ctx.after()}; "
            f"closest is {ctx.index.node_names[node]}, short {', '.join(missing)}"
        ),
        details={"node": ctx.index.node_names[node], "short": missing},
    )
