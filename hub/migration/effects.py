"""What a migration's change of state does beyond the migration and its task, decided here
and applied by the store adapter in the transaction that made the change, so every adapter
applies the same rules and none decides them:

- while the migration is active, its live claim is renewed, and shrinks by each VM that
  landed (its capacity is now the target's own, counted in the target's next report);
- once it leaves the active states, the claim is released, its VMs are free to migrate
  again and its target access grant ends;
- whenever what a cluster's live claims hold changes, that cluster's generation moves, so
  accepts that evaluated the old claims retry.
"""

from dataclasses import dataclass
from datetime import datetime

from hub.models.api import Migration, Task, VmPhase
from hub.models.claim import Claim


@dataclass(frozen=True, slots=True)
class Effects:
    migration: Migration
    task: Task
    claim: Claim | None = None
    """The live claim's new body (renewed, or shrunk by VMs that landed); None: unchanged."""
    release: str | None = None
    """Release the live claim, giving this reason (the state the migration ended in)."""
    bump: str | None = None
    """The cluster whose generation moves."""
    ended: bool = False
    """The migration left the active states: free its VMs, end its grant."""


def of(
    migration: Migration,
    task: Task,
    live: Claim | None,
    at: datetime,
    renew_until: datetime | None = None,
) -> Effects:
    """The effects of `migration` and `task` having just changed to what they are, given
    the migration's live claim (None when it holds none)."""
    if not migration.state.active:
        if live is None:
            return Effects(migration, task, ended=True)
        reason = migration.state.value
        return Effects(migration, task, release=reason, bump=live.cluster, ended=True)
    if live is None:
        return Effects(migration, task)
    landed = [vm.vm for vm in task.vms if vm.phase == VmPhase.MIGRATED]
    held = live.landed(landed, at)
    if renew_until is not None:
        held = held.model_copy(update={"expires_at": renew_until})
    if held == live:
        return Effects(migration, task)
    bump = live.cluster if held.shares != live.shares else None
    return Effects(migration, task, claim=held, bump=bump)
