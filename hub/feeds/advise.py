"""The recommendations of one pass, each backed by a check the engine runs now against the
fleet as the hub knows it: where a stalled or short migration would fit, which VMs to move
off a cluster below its headroom or without N+1 (and where), which reservations idle.

Checks cost: a pass checks at most `MAX_CHECKED` migrations and `MAX_CHECKED` crowded
clusters, at most `MAX_MOVES` VMs on each, largest first."""

import asyncio
from datetime import datetime

from hub.capacity import requirements
from hub.errors import HubError
from hub.feeds import conditions, recommend
from hub.fleet import checking
from hub.models.api import CheckAnswer, CheckBody, Migration, State, Task
from hub.models.check import Verdict
from hub.models.feeds import Move, Recommendation
from hub.models.vm import VirtualMachine
from hub.service import Hub

MAX_CHECKED = 10
"""Migrations, and crowded clusters, checked per pass."""
MAX_MOVES = 5
MAX_TARGETS = 3
MAX_SIZED = 2000
IDLE_AFTER = 300.0
"""Seconds a queued migration may wait for its source agent before its claim counts as idle."""


def _check(hub: Hub, refs: list[str], source: str) -> CheckAnswer | None:
    try:
        body = CheckBody(vms=tuple(refs), source_cluster=source, max_suggestions=MAX_TARGETS)
        return checking.check(hub, body)
    except HubError:
        return None  # the VMs left the report since: nothing to recommend


def _worth_checking(migration: Migration, task: Task) -> bool:
    stalled = any(c.type == "stalled" for c in task.conditions)
    return stalled or migration.check.verdict not in (Verdict.FITS, Verdict.FITS_WITH_WARNINGS)


def _elsewhere(hub: Hub, migration: Migration, task: Task, now: datetime) -> Recommendation | None:
    refs = [f"{migration.source_cluster}/{vm}" for vm in migration.vms]
    answer = _check(hub, refs, migration.source_cluster)
    if answer is None:
        return None
    stalled = any(c.type == "stalled" for c in task.conditions)
    why = "is stalled" if stalled else f"was accepted {migration.check.verdict.value}"
    targets = recommend.fitting(answer, migration.target_cluster)
    return recommend.elsewhere(migration, why, targets, now)


def _largest(
    hub: Hub, cluster: str, vms: tuple[VirtualMachine, ...], key: str
) -> list[VirtualMachine]:
    """The running VMs that free the most of `key` (their launcher pods' requests by the
    cluster's own rules), largest first; at most `MAX_SIZED` are sized."""
    index = hub.inventory.index(cluster)
    if index is None:
        return []
    sized = []
    for vm in [vm for vm in vms if vm.running][:MAX_SIZED]:
        size = requirements.size(vm, index.target)
        # Sized on its own cluster as if received there, a VM may find no node (a host-model
        # VM's labels): its pod's requests are what its move frees all the same.
        rendered = size.rendered
        request = size.request or (requirements.pod_request(rendered) if rendered else None)
        if request is not None:
            amount = request.cpu_millis if key == "cpu_millis" else request.memory_bytes
            sized.append((amount, vm.key, vm))
    return [vm for _, _, vm in sorted(sized, key=lambda s: (-s[0], s[1]))[:MAX_MOVES]]


def _restore(hub: Hub, cluster: conditions.ClusterView, now: datetime) -> Recommendation | None:
    short = conditions.shortfalls(cluster, hub.policy)
    report = hub.inventory.report(cluster.name)
    if report is None:
        return None
    worst = short[0] if short else None
    # Without N+1, memory is what re-homing a lost node's VMs runs out of first.
    key, name = (worst.key, worst.name) if worst else ("memory_bytes", "memory")
    deficit = worst.deficit if worst else 0
    moves, freed = [], 0
    for vm in _largest(hub, cluster.name, report.vms, key):
        answer = _check(hub, [f"{cluster.name}/{vm.key}"], cluster.name)
        if answer is None or not answer.suggestions:
            continue
        best = answer.suggestions[0]
        if best.verdict not in (Verdict.FITS, Verdict.FITS_WITH_WARNINGS):
            continue
        placed = best.placements[0] if best.placements else None
        frees = {}
        if placed is not None:
            frees = {"cpu_millis": placed.cpu_millis, "memory_bytes": placed.memory_bytes}
        moves.append(Move(vm=f"{cluster.name}/{vm.key}", to=recommend.target(best), frees=frees))
        freed += frees.get(key, 0)
        if short and freed >= deficit:
            break
    said = f"keeps less {name} free than the policy's headroom"
    if not short:
        said = "could not survive the loss of its largest node (N+1)"
    return recommend.restore(cluster.name, said, moves, bool(short) and freed >= deficit, now)


def _idle(migration: Migration, task: Task, now: datetime, silence: float) -> Recommendation | None:
    if task.state is State.QUEUED:
        quiet = (now - migration.created_at).total_seconds()
        return recommend.idle(migration, quiet, now) if quiet >= IDLE_AFTER else None
    heard = task.reported_at
    if heard is None or (now - heard).total_seconds() < silence:
        return None
    return recommend.idle(migration, (now - heard).total_seconds(), now)


async def advise(hub: Hub, view: conditions.View) -> list[Recommendation]:
    """At most `MAX_CHECKED` migrations and as many crowded clusters are checked per pass,
    and the event loop gets a turn after each, so requests are not held up behind them."""
    found: list[Recommendation] = []
    silence = view.progress_silence.total_seconds()
    checked = 0
    for migration, task in view.active:
        idle = _idle(migration, task, view.now, silence)
        if idle is not None:
            found.append(idle)
        if checked < MAX_CHECKED and _worth_checking(migration, task):
            checked += 1
            elsewhere = _elsewhere(hub, migration, task, view.now)
            if elsewhere is not None:
                found.append(elsewhere)
            await asyncio.sleep(0)
    reported = [c for c in view.clusters if c.freshness.value in ("fresh", "stale")]
    looked = 0
    for cluster in reported:
        if looked >= MAX_CHECKED:
            break
        short = conditions.shortfalls(cluster, hub.policy)
        if not (short or conditions.lost_n_plus_one(cluster, hub.policy)):
            continue
        looked += 1
        restored = _restore(hub, cluster, view.now)
        if restored is not None:
            found.append(restored)
        await asyncio.sleep(0)
    return found
