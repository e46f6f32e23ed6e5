"""What the hub pushes: alerts (in `hub.models.api`), recommendations, and the numbered
events a stream replays from any point (Server-Sent Events resume from `Last-Event-ID`)."""

from enum import StrEnum

from pydantic import AwareDatetime, Field

from hub.models.api import Alert
from hub.models.check import Verdict
from hub.models.vm import Wire


class RecommendationKind(StrEnum):
    FITS_ELSEWHERE = "fits-elsewhere"
    """A stalled or short migration: the clusters where its VMs fit now."""
    RESTORE_HEADROOM = "restore-headroom"
    """A cluster below the policy's headroom or without N+1: VMs whose move restores it."""
    IDLE_RESERVATION = "idle-reservation"
    """Capacity held by a claim whose migration is not moving."""


class Target(Wire):
    """A cluster where something would fit, with the check's verdict and why it ranks so."""

    cluster: str
    verdict: Verdict
    score: float | None = None
    reasons: tuple[str, ...] = ()


class Move(Wire):
    vm: str = Field(description="cluster/namespace/name of the VM to move")
    to: Target
    frees: dict[str, int] = Field(
        default_factory=dict, description="What the move frees on its cluster: cpu_millis, ..."
    )


class Recommendation(Wire):
    """Explained like a suggestion: what to do, where, and the check behind it. Its id
    names what it is about, so it stays the same while it holds."""

    id: str
    kind: RecommendationKind
    message: str
    cluster: str | None = None
    migration_id: str | None = None
    targets: tuple[Target, ...] = Field((), description="Where the migration's VMs fit now")
    moves: tuple[Move, ...] = Field((), description="VMs to move, and where, best first")
    links: dict[str, str] = Field(default_factory=dict)
    created_at: AwareDatetime
    updated_at: AwareDatetime


class EventTopic(StrEnum):
    ALERT = "alert"
    RECOMMENDATION = "recommendation"


class EventType(StrEnum):
    RAISED = "raised"
    UPDATED = "updated"
    RESOLVED = "resolved"
    ADDED = "added"
    CHANGED = "changed"
    REMOVED = "removed"


class Announcement(Wire):
    """An event before the store numbers it."""

    topic: EventTopic
    type: EventType
    at: AwareDatetime
    alert: Alert | None = None
    recommendation: Recommendation | None = None


class Event(Announcement):
    id: int = Field(description="Increasing across the hub's replicas; the SSE event id")


class RecommendationList(Wire):
    items: tuple[Recommendation, ...]
