"""Turn an accepted evaluation into the claim that holds its capacity on the target."""

from collections import defaultdict
from datetime import datetime

from hub.capacity.check import Evaluation
from hub.models.check import Placement
from hub.models.claim import Claim, ClaimShare
from hub.models.report import Resources


def claim_for(evaluation: Evaluation, claim_id: str, expires_at: datetime) -> Claim:
    cpu: defaultdict[str, int] = defaultdict(int)
    memory: defaultdict[str, int] = defaultdict(int)
    scalar: defaultdict[str, defaultdict[str, int]] = defaultdict(lambda: defaultdict(int))
    for vm, node in evaluation.node_of.items():
        if node is None:
            continue
        request = evaluation.requests[vm]
        cpu[node] += request.cpu_millis
        memory[node] += request.memory_bytes
        for name, amount in request.scalar:
            scalar[node][name] += amount
    return Claim(
        id=claim_id,
        cluster=evaluation.result.cluster,
        expires_at=expires_at,
        nodes={
            node: Resources(
                cpu_millis=cpu[node], memory_bytes=memory[node], scalar=dict(scalar[node])
            )
            for node in cpu
        },
        storage_bytes=dict(evaluation.storage_needed),
        quota={ns: dict(r) for ns, r in evaluation.quota_usage.items()},
        shares={p.vm: _share(evaluation, p) for p in evaluation.result.placements},
    )


def _share(evaluation: Evaluation, placement: Placement) -> ClaimShare:
    """A VM without a node (accepted short) holds no CPU or memory, as in the totals."""
    storage: defaultdict[str, int] = defaultdict(int)
    for volume in placement.volumes:
        storage[volume.storage_class] += volume.size_bytes
    request = evaluation.requests[placement.vm]
    quota = evaluation.quota_of.get(placement.vm, {})
    return ClaimShare(
        node=placement.node,
        resources=Resources(
            cpu_millis=request.cpu_millis,
            memory_bytes=request.memory_bytes,
            scalar=request.scalar_dict(),
        )
        if placement.node is not None
        else Resources(),
        storage_bytes=dict(storage),
        quota={ns: dict(r) for ns, r in quota.items()},
    )
