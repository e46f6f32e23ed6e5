"""The alerts as the conditions the hub observes make them: a condition seen for the first
time raises an alert, one seen again keeps it open (its text refreshed now and then, an
update announced when its severity changes), one no longer seen resolves it. Pure: what is
observed and what is open come in, what to write and what to announce go out."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hub.models.api import Alert, AlertKind, AlertSeverity
from hub.models.feeds import Announcement, EventTopic, EventType

TOUCH_EVERY = timedelta(minutes=1)
"""How stale an open alert's `last_seen` may get before a pass writes it again (with its
current text: ages and figures in it move on every pass). Every pass sees every open
condition; writing each every few seconds would be waste, and announcing each would flood
the streams. Only a change of severity is announced as an update."""


@dataclass(frozen=True, slots=True)
class Observed:
    """A condition true now. `fingerprint` names what it is about; it is the same every
    time the condition recurs."""

    fingerprint: str
    kind: AlertKind
    severity: AlertSeverity
    message: str
    cluster: str | None = None
    migration_id: str | None = None
    vm: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    since: datetime | None = None
    """When the condition began, where the hub knows it (a stall); else when first seen."""


@dataclass(frozen=True, slots=True)
class Changes:
    written: tuple[Alert, ...] = ()
    announced: tuple[Announcement, ...] = ()


def links(cluster: str | None, migration_id: str | None) -> dict[str, str]:
    out = {}
    if cluster:
        out["cluster"] = f"/api/v1/clusters/{cluster}"
    if migration_id:
        out["migration"] = f"/api/v1/migrations/{migration_id}"
    return out


def raised(observed: Observed, now: datetime) -> Alert:
    """The alert a condition first seen raises; its id tells this occurrence from the next."""
    began = observed.since or now
    return Alert(
        id=f"{observed.fingerprint}@{began.strftime('%Y%m%dT%H%M%S.%f')}",
        fingerprint=observed.fingerprint,
        kind=observed.kind,
        severity=observed.severity,
        message=observed.message,
        cluster=observed.cluster,
        migration_id=observed.migration_id,
        vm=observed.vm,
        details=observed.details,
        links=links(observed.cluster, observed.migration_id),
        first_seen=began,
        last_seen=now,
    )


def announcement(kind: EventType, alert: Alert, now: datetime) -> Announcement:
    return Announcement(topic=EventTopic.ALERT, type=kind, at=now, alert=alert)


def reconcile(
    open_alerts: Iterable[Alert],
    observed: Sequence[Observed],
    owned: frozenset[AlertKind],
    now: datetime,
    event_ttl: timedelta,
) -> Changes:
    """`owned`: the kinds these observations cover, whose open alerts resolve when their
    condition is no longer observed. Alerts of other kinds record events (a reservation
    expired, a sequence reset): they resolve `event_ttl` after they were raised."""
    by_print = {alert.fingerprint: alert for alert in open_alerts}
    written: list[Alert] = []
    announced: list[Announcement] = []
    for seen in observed:
        alert = by_print.pop(seen.fingerprint, None)
        if alert is None:
            new = raised(seen, now)
            written.append(new)
            announced.append(announcement(EventType.RAISED, new, now))
            continue
        graver = alert.severity != seen.severity
        if graver or now - alert.last_seen >= TOUCH_EVERY:
            update = {"message": seen.message, "severity": seen.severity, "details": seen.details}
            kept = alert.model_copy(update={**update, "last_seen": now})
            written.append(kept)
            if graver:
                announced.append(announcement(EventType.UPDATED, kept, now))
    for alert in by_print.values():
        lapsed = alert.kind not in owned and now - alert.first_seen >= event_ttl
        if alert.kind in owned or lapsed:
            done = alert.model_copy(update={"resolved_at": now, "last_seen": now})
            written.append(done)
            announced.append(announcement(EventType.RESOLVED, done, now))
    return Changes(tuple(written), tuple(announced))
