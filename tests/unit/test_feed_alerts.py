"""The alerts' lifecycle as the pure core decides it: raised once, kept while the condition
lasts (written again only now and then), updated when its text changes, resolved when it
clears; one-time events resolve after their time; a recurrence is a new alert."""

from datetime import UTC, datetime, timedelta

from hub.feeds import alerts, conditions
from hub.feeds.alerts import Observed
from hub.models.api import AlertKind, AlertSeverity
from hub.models.feeds import EventType

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def stale(message: str = "east is late") -> Observed:
    return Observed(
        "spoke-stale:east", AlertKind.SPOKE_STALE, AlertSeverity.WARNING, message, "east"
    )


def test_a_condition_first_seen_raises_one_alert_announced_once() -> None:
    changes = alerts.reconcile([], [stale()], conditions.OWNED, T0, HOUR)
    [alert] = changes.written
    assert (alert.fingerprint, alert.first_seen, alert.resolved_at) == (
        "spoke-stale:east",
        T0,
        None,
    )
    assert alert.links == {"cluster": "/api/v1/clusters/east"}
    assert [(a.type, a.alert) for a in changes.announced] == [(EventType.RAISED, alert)]


def test_a_lasting_condition_is_written_again_only_after_a_minute_and_not_announced() -> None:
    [alert] = alerts.reconcile([], [stale()], conditions.OWNED, T0, HOUR).written
    soon = alerts.reconcile([alert], [stale()], conditions.OWNED, T0 + timedelta(seconds=30), HOUR)
    assert soon.written == ()
    assert soon.announced == ()
    later = T0 + timedelta(seconds=61)
    touched = alerts.reconcile([alert], [stale()], conditions.OWNED, later, HOUR)
    assert [(a.id, a.last_seen) for a in touched.written] == [(alert.id, later)]
    assert touched.announced == ()


def test_a_changed_text_is_refreshed_quietly_and_a_changed_severity_is_announced() -> None:
    """Ages and figures in an alert's text move on every pass: announcing each would flood
    every stream with an update per open alert every few seconds."""
    [alert] = alerts.reconcile([], [stale()], conditions.OWNED, T0, HOUR).written
    older = stale("east is 190 s late")
    soon = alerts.reconcile([alert], [older], conditions.OWNED, T0 + timedelta(seconds=5), HOUR)
    assert (soon.written, soon.announced) == ((), ())
    later = T0 + timedelta(minutes=2)
    quiet = alerts.reconcile([alert], [older], conditions.OWNED, later, HOUR)
    assert [a.message for a in quiet.written] == ["east is 190 s late"]
    assert quiet.announced == ()
    worse = Observed("spoke-stale:east", AlertKind.SPOKE_STALE, AlertSeverity.CRITICAL, "x")
    graver = alerts.reconcile([alert], [worse], conditions.OWNED, T0 + timedelta(seconds=5), HOUR)
    [updated] = graver.written
    assert (updated.id, updated.severity) == (alert.id, AlertSeverity.CRITICAL)
    assert [a.type for a in graver.announced] == [EventType.UPDATED]


def test_a_cleared_condition_resolves_and_its_recurrence_is_a_new_alert() -> None:
    [alert] = alerts.reconcile([], [stale()], conditions.OWNED, T0, HOUR).written
    cleared = alerts.reconcile([alert], [], conditions.OWNED, T0 + HOUR, HOUR)
    [resolved] = cleared.written
    assert resolved.resolved_at == T0 + HOUR
    assert [a.type for a in cleared.announced] == [EventType.RESOLVED]
    again = alerts.reconcile([], [stale()], conditions.OWNED, T0 + 2 * HOUR, HOUR).written[0]
    assert again.fingerprint == alert.fingerprint
    assert again.id != alert.id


def test_a_one_time_event_stays_open_for_its_time_then_resolves() -> None:
    expired = Observed(
        "reservation-expired:claim-1", AlertKind.RESERVATION_EXPIRED, AlertSeverity.WARNING, "x"
    )
    alert = alerts.raised(expired, T0)
    kept = alerts.reconcile([alert], [], conditions.OWNED, T0 + timedelta(minutes=59), HOUR)
    assert kept.written == ()
    lapsed = alerts.reconcile([alert], [], conditions.OWNED, T0 + HOUR, HOUR)
    assert [a.resolved_at for a in lapsed.written] == [T0 + HOUR]


def test_a_stall_is_dated_from_when_the_pod_was_first_seen_pending() -> None:
    since = T0 - timedelta(seconds=50)
    seen = Observed(
        "stalled:mig-1:shop/db",
        AlertKind.STALLED,
        AlertSeverity.CRITICAL,
        "stalled",
        since=since,
    )
    alert = alerts.raised(seen, T0)
    assert (alert.first_seen, alert.last_seen) == (since, T0)
    assert alert.id == "stalled:mig-1:shop/db@20261202T115910.000000"
