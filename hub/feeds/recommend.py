"""Recommendations as the checks behind them make them, and how the kept set follows a new
one: added, changed (same id, new content), removed. Pure."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.models.api import CheckAnswer, Migration
from hub.models.check import Suggestion
from hub.models.feeds import (
    Announcement,
    EventTopic,
    EventType,
    Move,
    Recommendation,
    RecommendationKind,
    Target,
)
from hub.models.quantity import cores, gib


@dataclass(frozen=True, slots=True)
class Changes:
    written: tuple[Recommendation, ...] = ()
    removed: tuple[str, ...] = ()
    announced: tuple[Announcement, ...] = ()


def target(suggestion: Suggestion) -> Target:
    return Target(
        cluster=suggestion.cluster,
        verdict=suggestion.verdict,
        score=suggestion.score.total,
        reasons=suggestion.reasons,
    )


def fitting(answer: CheckAnswer, leave_out: str) -> tuple[Target, ...]:
    return tuple(
        target(s)
        for s in answer.suggestions
        if s.cluster != leave_out and s.verdict.value in ("fits", "fits-with-warnings")
    )


def elsewhere(
    migration: Migration, why: str, targets: Sequence[Target], now: datetime
) -> Recommendation | None:
    """For a stalled or short migration: where its VMs fit now."""
    if not targets:
        return None
    best = ", ".join(f"{t.cluster} (score {t.score:.1f})" for t in targets)
    return Recommendation(
        id=f"fits-elsewhere:{migration.id}",
        kind=RecommendationKind.FITS_ELSEWHERE,
        message=f"migration {migration.id} to {migration.target_cluster} {why}; its VMs "
        f"fit now on {best}: cancel it and migrate there",
        cluster=migration.target_cluster,
        migration_id=migration.id,
        targets=tuple(targets),
        links={"migration": f"/api/v1/migrations/{migration.id}"},
        created_at=now,
        updated_at=now,
    )


def restore(
    cluster: str, short: str, moves: Sequence[Move], enough: bool, now: datetime
) -> Recommendation | None:
    """For a cluster below headroom or without N+1: VMs whose move restores it, and where."""
    if not moves:
        return None
    freed_cpu = sum(m.frees.get("cpu_millis", 0) for m in moves)
    freed_memory = sum(m.frees.get("memory_bytes", 0) for m in moves)
    listed = "; ".join(f"{m.vm} to {m.to.cluster}" for m in moves)
    outcome = "restoring it" if enough else "not enough alone to restore it"
    return Recommendation(
        id=f"restore-headroom:{cluster}",
        kind=RecommendationKind.RESTORE_HEADROOM,
        message=f"{cluster} {short}: moving {listed} frees {cores(freed_cpu)} cores and "
        f"{gib(freed_memory)} there, {outcome}",
        cluster=cluster,
        moves=tuple(moves),
        links={"cluster": f"/api/v1/clusters/{cluster}"},
        created_at=now,
        updated_at=now,
    )


def idle(migration: Migration, quiet_seconds: float, now: datetime) -> Recommendation | None:
    """Capacity a claim holds for a migration that is not moving."""
    reservation = migration.reservation
    if reservation is None or reservation.released_at is not None:
        return None
    claim = reservation.claim
    cpu = sum(r.cpu_millis for r in claim.nodes.values())
    memory = sum(r.memory_bytes for r in claim.nodes.values())
    return Recommendation(
        id=f"idle-reservation:{migration.id}",
        kind=RecommendationKind.IDLE_RESERVATION,
        message=f"reservation {claim.id} holds {cores(cpu)} cores and {gib(memory)} on "
        f"{claim.cluster} for migration {migration.id}, which has not moved for "
        f"{quiet_seconds:.0f} s: cancel it to free the capacity, or it expires at "
        f"{claim.expires_at.isoformat()}",
        cluster=claim.cluster,
        migration_id=migration.id,
        links={"migration": f"/api/v1/migrations/{migration.id}"},
        created_at=now,
        updated_at=now,
    )


REFRESH_EVERY = timedelta(minutes=1)
"""How often a recommendation that still holds is written again with its current text (the
seconds and scores in it move on every pass) without being announced."""


def _advice(item: Recommendation) -> tuple[object, ...]:
    """What the recommendation says to do: a change of it is announced."""
    targets = tuple((t.cluster, t.verdict) for t in item.targets)
    return targets, tuple((m.vm, m.to.cluster) for m in item.moves)


def reconcile(
    kept: Iterable[Recommendation], fresh: Iterable[Recommendation], now: datetime
) -> Changes:
    before = {r.id: r for r in kept}
    written, announced = [], []
    for item in fresh:
        old = before.pop(item.id, None)
        if old is not None and _advice(old) == _advice(item):
            if item.message != old.message and now - old.updated_at >= REFRESH_EVERY:
                update = {"created_at": old.created_at, "updated_at": now}
                written.append(item.model_copy(update=update))
            continue
        if old is None:
            written.append(item)
            kind = EventType.ADDED
        else:
            item = item.model_copy(update={"created_at": old.created_at, "updated_at": now})
            written.append(item)
            kind = EventType.CHANGED
        announced.append(
            Announcement(topic=EventTopic.RECOMMENDATION, type=kind, at=now, recommendation=item)
        )
    for gone in before.values():
        announced.append(
            Announcement(
                topic=EventTopic.RECOMMENDATION, type=EventType.REMOVED, at=now, recommendation=gone
            )
        )
    return Changes(tuple(written), tuple(before), tuple(announced))
