"""A claim: capacity promised to an accepted migration on its target, until it ends or expires.

The engine subtracts live claims from what a report says is free, so two checks cannot
promise the same last slot. Expiry is decided by the caller, who owns the clock.

A claim also knows each VM's share of it. Once a VM has landed on the target, the target's
reports count its pod and its quota usage, so that part of its share stops counting against
a report received after the landing; an older report does not show the VM yet, and there the
share still holds. Its storage stays claimed until the claim is released: a class's free
space comes from CSIStorageCapacity, which lags, or from a pool size the operator set, which
never moves, so a report does not reliably count the new volumes.
"""

from collections.abc import Iterable, Mapping
from datetime import datetime

from pydantic import AwareDatetime, Field

from hub.models.report import Resources
from hub.models.vm import Wire


class ClaimShare(Wire):
    """One VM's part of a claim."""

    node: str | None = None
    resources: Resources = Field(default_factory=Resources)
    storage_bytes: dict[str, int] = Field(default_factory=dict)
    quota: dict[str, dict[str, int]] = Field(default_factory=dict)
    landed_at: AwareDatetime | None = Field(
        None, description="When the hub learned the VM runs on the target"
    )


def _less(values: Mapping[str, int], taken: Mapping[str, int]) -> dict[str, int]:
    left = {name: amount - taken.get(name, 0) for name, amount in values.items()}
    return {name: amount for name, amount in left.items() if amount > 0}


class Claim(Wire):
    id: str = Field(min_length=1)
    cluster: str = Field(min_length=1)
    expires_at: AwareDatetime
    nodes: dict[str, Resources] = Field(default_factory=dict)
    storage_bytes: dict[str, int] = Field(
        default_factory=dict, description="per target storage class"
    )
    quota: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="per namespace, per quota resource name"
    )
    shares: dict[str, ClaimShare] = Field(
        default_factory=dict, description="per VM: its part of the totals above"
    )

    def landed(self, vms: Iterable[str], at: datetime) -> "Claim":
        """The claim with `vms` marked as landed at `at` (a first landing is kept)."""
        wanted = set(vms)
        marked = {
            vm: share.model_copy(update={"landed_at": at})
            for vm, share in self.shares.items()
            if vm in wanted and share.landed_at is None
        }
        if not marked:
            return self
        return self.model_copy(update={"shares": {**self.shares, **marked}})

    def held(self, report_received_at: datetime) -> "Claim":
        """What still holds against a report received at `report_received_at`: the claim
        less the shares of VMs that had landed by then, which that report counts."""
        gone = {
            vm: s
            for vm, s in self.shares.items()
            if s.landed_at is not None and s.landed_at < report_received_at
        }
        if not gone:
            return self
        nodes = dict(self.nodes)
        quota = {ns: dict(r) for ns, r in self.quota.items()}
        for share in gone.values():
            if share.node in nodes:
                nodes[share.node] = _without(nodes[share.node], share.resources)
            for namespace, taken in share.quota.items():
                quota[namespace] = _less(quota.get(namespace, {}), taken)
        return self.model_copy(
            update={
                "nodes": nodes,
                "quota": {ns: r for ns, r in quota.items() if r},
                "shares": {vm: s for vm, s in self.shares.items() if vm not in gone},
            }
        )


def _without(held: Resources, taken: Resources) -> Resources:
    return Resources(
        cpu_millis=max(held.cpu_millis - taken.cpu_millis, 0),
        memory_bytes=max(held.memory_bytes - taken.memory_bytes, 0),
        scalar=_less(held.scalar, taken.scalar),
    )
