"""Turn an accepted evaluation into the claim that holds its capacity on the target."""

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from hub.capacity.check import Evaluation
from hub.models.check import Placement
from hub.models.claim import Claim, ClaimShare
from hub.models.report import Resources


def per_node(held: Iterable[tuple[str, Resources]]) -> dict[str, Resources]:
    """Resources summed by node: what a claim holds on each, or what several claims do."""
    cpu: defaultdict[str, int] = defaultdict(int)
    memory: defaultdict[str, int] = defaultdict(int)
    scalar: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    for node, resources in held:
        cpu[node] += resources.cpu_millis
        memory[node] += resources.memory_bytes
        for name, amount in resources.scalar.items():
            scalar[node][name] += amount
    return {
        node: Resources(cpu_millis=cpu[node], memory_bytes=memory[node], scalar=dict(scalar[node]))
        for node in cpu
    }


def _requested(evaluation: Evaluation, vm: str) -> Resources:
    request = evaluation.requests[vm]
    return Resources(
        cpu_millis=request.cpu_millis,
        memory_bytes=request.memory_bytes,
        scalar=request.scalar_dict(),
    )


def claim_for(evaluation: Evaluation, claim_id: str, expires_at: datetime) -> Claim:
    placed = [(vm, node) for vm, node in evaluation.node_of.items() if node is not None]
    return Claim(
        id=claim_id,
        cluster=evaluation.result.cluster,
        expires_at=expires_at,
        nodes=per_node((node, _requested(evaluation, vm)) for vm, node in placed),
        storage_bytes=dict(evaluation.storage_needed),
        quota={ns: dict(r) for ns, r in evaluation.quota_usage.items()},
        shares={p.vm: _share(evaluation, p) for p in evaluation.result.placements},
    )


def _share(evaluation: Evaluation, placement: Placement) -> ClaimShare:
    """A VM without a node (accepted short) holds no CPU or memory, as in the totals."""
    storage: defaultdict[str, int] = defaultdict(int)
    for volume in placement.volumes:
        storage[volume.storage_class] += volume.size_bytes
    quota = evaluation.quota_of.get(placement.vm, {})
    return ClaimShare(
        node=placement.node,
        resources=_requested(evaluation, placement.vm)
        if placement.node is not None
        else Resources(),
        storage_bytes=dict(storage),
        quota={ns: dict(r) for ns, r in quota.items()},
    )
