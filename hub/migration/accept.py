"""Accepting a migration: check, acknowledge, reserve.

Accepting is optimistic: read the target's generation, evaluate the batch against the target
with its live claims, then write migration, task and claim in one transaction that succeeds
only if the generation is unchanged. A conflict (another replica or a new report got there
first) re-reads and re-evaluates, a bounded number of times. Within one process, accepts on
the same target also take a lock, so they queue instead of spinning on conflicts.
"""

import secrets
from collections.abc import Collection, Sequence
from datetime import datetime

from hub.capacity import check
from hub.errors import Conflict, Invalid, NotFound, Refused, Unavailable
from hub.migration import reservations, transitions
from hub.models.api import (
    Migration,
    MigrationRequest,
    State,
    Task,
    TaskVm,
    VmReference,
)
from hub.models.check import Code, Finding, Severity, TargetResult
from hub.models.policy import ReceiverTimeouts
from hub.models.vm import VirtualMachine
from hub.models.wire.codes import ErrorCode
from hub.service import Hub
from hub.store import Accepted

SOFT = (Severity.WARNING, Severity.CRITICAL)


UNPLACED = (
    "accepted with the shortage acknowledged: no node had room, so no CPU or memory is "
    "reserved for this VM and its receiving pod may stay Pending"
)


def hard_findings(result: TargetResult) -> list[Finding]:
    return [f for f in result.findings if f.severity == Severity.BLOCKER]


def unacknowledged(result: TargetResult, acknowledged: Collection[Code]) -> list[Finding]:
    return [f for f in result.findings if f.severity in SOFT and f.code not in acknowledged]


def _listing(findings: Sequence[Finding]) -> str:
    return "; ".join(f"{f.code.value}: {f.message.rstrip('.')}" for f in findings)


def gate(result: TargetResult, acknowledged: Collection[Code]) -> None:
    """Hard findings refuse; soft ones need every code acknowledged."""
    hard = hard_findings(result)
    if hard:
        raise Refused(
            f"cannot migrate to {result.cluster}: {_listing(hard)}",
            details={"findings": [f.model_dump(mode="json") for f in hard]},
            code=ErrorCode.BLOCKED,
        )
    soft = unacknowledged(result, acknowledged)
    if soft:
        codes = sorted({f.code.value for f in soft})
        raise Conflict(
            f"the check of {result.cluster} found what must be acknowledged to proceed: "
            f"{_listing(soft)}. To proceed anyway, repeat the request with "
            f"acknowledge: {codes}",
            details={
                "acknowledge": codes,
                "findings": [f.model_dump(mode="json") for f in soft],
                "verdict": result.verdict.value,
            },
            code=ErrorCode.ACKNOWLEDGEMENT_REQUIRED,
        )


def records(
    request: MigrationRequest,
    result: TargetResult,
    created_by: str,
    now: datetime,
    timeouts: ReceiverTimeouts,
) -> tuple[Migration, Task]:
    migration_id = f"mig-{secrets.token_hex(8)}"
    task_id = f"task-{secrets.token_hex(8)}"
    vms = tuple(p.vm for p in result.placements)
    task = Task(
        warnings=() if request.delete_source else (transitions.KEPT_SOURCE,),
        id=task_id,
        migration_id=migration_id,
        source_cluster=request.source_cluster,
        target_cluster=request.target,
        state=State.QUEUED,
        message="accepted; capacity reserved; waiting for the source cluster's agent",
        progress=0,
        vms=tuple(
            TaskVm(vm=p.vm, mode=p.mode, node=p.node, message="" if p.node else UNPLACED)
            for p in result.placements
        ),
        created_at=now,
        updated_at=now,
    )
    migration = Migration(
        id=migration_id,
        source_cluster=request.source_cluster,
        target_cluster=request.target,
        vms=vms,
        storage_class_map=dict(request.storage_class_map),
        delete_source=request.delete_source,
        acknowledged=tuple(sorted(set(request.acknowledge))),
        state=State.QUEUED,
        task_id=task_id,
        created_by=created_by,
        created_at=now,
        updated_at=now,
        check=result,
        receiver_timeouts=timeouts,
    )
    return migration, task


def _vm_keys(request: MigrationRequest) -> set[str]:
    """`namespace/name` of each reference, without needing the source's report."""
    return {parsed.key if (parsed := VmReference.parse(ref)) else ref for ref in request.vms}


def _same_request(migration: Migration, request: MigrationRequest) -> bool:
    return (
        migration.source_cluster == request.source_cluster
        and migration.target_cluster == request.target
        and set(migration.vms) == _vm_keys(request)
    )


async def create(
    hub: Hub, request: MigrationRequest, created_by: str, idempotency_key: str | None
) -> tuple[Migration, bool]:
    """Accept a migration; answers it and whether it is new (False: an idempotent repeat).
    A repeat is recognised before anything else, so it answers the same even after the VM
    has left the source cluster's report, and again when a VM is found busy."""
    repeated = await _repeated(hub, request, idempotency_key)
    if repeated is not None:
        return repeated, False
    hub.inventory.require(request.source_cluster, "source cluster")
    hub.inventory.require(request.target, "target cluster")
    _, vms = hub.inventory.resolve(request.vms, request.source_cluster)
    keys = [vm.key for vm in vms]
    if len(set(keys)) != len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise Invalid(f"VMs named more than once: {', '.join(twice)}", code=ErrorCode.DUPLICATE_VM)
    for key in keys:
        busy = await hub.store.active_migration_of(request.source_cluster, key)
        if busy is not None:
            # Busy with this very request, accepted meanwhile by another replica: a repeat.
            repeated = await _repeated(hub, request, idempotency_key)
            if repeated is not None:
                return repeated, False
            raise _busy(key, busy)
    for _ in range(hub.settings.accept_attempts):
        async with hub.lock(request.target):
            accepted = await _attempt(hub, request, vms, created_by, idempotency_key)
        if accepted is not None:
            return accepted
    raise Unavailable(
        f"target {request.target} changed under {hub.settings.accept_attempts} attempts in a row "
        "(other migrations or new reports); nothing was reserved; retry shortly",
        code=ErrorCode.CONTENTION,
    )


async def _attempt(
    hub: Hub,
    request: MigrationRequest,
    vms: Sequence[VirtualMachine],
    created_by: str,
    idempotency_key: str | None,
) -> tuple[Migration, bool] | None:
    target = request.target
    record = await hub.store.cluster(target)
    if record is None:
        raise NotFound(
            f"target cluster {target!r} is not registered", code=ErrorCode.UNKNOWN_CLUSTER
        )
    await hub.sync(record)
    index = hub.inventory.index(target)
    if index is None:
        raise Refused(
            f"cannot migrate to {target}: it has not sent a capacity report, so its capacity is "
            "unknown",
            code=ErrorCode.BLOCKED,
            details={"findings": [{"code": Code.REPORT_MISSING.value}]},
        )
    source = hub.inventory.require(request.source_cluster)
    now = hub.clock()
    ctx = check.Context(hub.policy, now, source.labels, request.storage_class_map)
    evaluation = check.evaluate(index, vms, ctx)
    gate(evaluation.result, request.acknowledge)
    claim = reservations.reserve(evaluation, now, hub.settings.claim_ttl)
    timeouts = hub.policy.receiver_timeouts
    migration, task = records(request, evaluation.result, created_by, now, timeouts)
    outcome = await hub.store.accept(migration, task, claim, record.generation, idempotency_key)
    if outcome.status == Accepted.ACCEPTED:
        entry = hub.inventory.require(target)
        if entry.generation == record.generation:
            hub.inventory.set_claims(target, (*entry.claims, claim), record.generation + 1)
        else:
            latest = await hub.store.cluster(target)
            if latest is not None:
                await hub.sync(latest)
        stored = await hub.store.migration(migration.id)
        hub.announce_jobs(request.source_cluster)
        hub.announce_jobs(migration.target_cluster)
        return (stored or migration), True
    if outcome.status == Accepted.VM_BUSY:
        raise _busy(outcome.busy_vm or "", outcome.existing_migration or "")
    if outcome.status == Accepted.DUPLICATE_KEY:
        existing = await hub.store.migration(outcome.existing_migration or "")
        if existing is not None:
            return _repeat(existing, request, idempotency_key or ""), False
    if outcome.status == Accepted.UNKNOWN_CLUSTER:
        raise NotFound(
            f"target cluster {target!r} is not registered", code=ErrorCode.UNKNOWN_CLUSTER
        )
    return None


def _repeat(existing: Migration, request: MigrationRequest, key: str) -> Migration:
    if not _same_request(existing, request):
        raise Conflict(
            f"Idempotency-Key {key!r} was already used for migration {existing.id}, "
            "which moves other VMs or goes elsewhere; use a new key",
            details={"migration": existing.id},
            code=ErrorCode.IDEMPOTENCY_KEY_REUSED,
        )
    return existing


async def _repeated(
    hub: Hub, request: MigrationRequest, idempotency_key: str | None
) -> Migration | None:
    """The migration this request's key already made, if any (refused if it was another)."""
    if idempotency_key is None:
        return None
    existing = await hub.store.migration_by_key(idempotency_key)
    return None if existing is None else _repeat(existing, request, idempotency_key)


def _busy(vm: str, migration_id: str) -> Conflict:
    return Conflict(
        f"VM {vm} is already being migrated by {migration_id}; cancel it or wait for it to end",
        details={"vm": vm, "migration": migration_id},
        code=ErrorCode.VM_BUSY,
    )
