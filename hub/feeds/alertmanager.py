"""Alerts in Alertmanager's own format (`POST /api/v2/alerts`, a list of postable alerts).

Alertmanager tells alerts apart by their labels, and expects a client to send each firing
alert again and again, each time with an `endsAt` a few rounds ahead (as Prometheus does):
an alert not sent again resolves by itself once that passes, so a hub that stopped cannot
leave alerts firing for ever. A resolved alert is sent with `endsAt` at its resolution, for
a while, so one lost send does not leave it firing. Pure."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from hub.models.api import Alert, AlertKind

ROUNDS_AHEAD = 4
"""How many resend intervals ahead a firing alert's `endsAt` is (Prometheus uses four)."""


def alert_name(kind: AlertKind) -> str:
    """`stalled` is `CclmStalled`; `spoke-stale` is `CclmSpokeStale`."""
    return "Cclm" + "".join(part.capitalize() for part in kind.value.split("-"))


def _stamp(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def postable(alert: Alert, now: datetime, resend: timedelta, hub_url: str | None) -> dict[str, Any]:
    labels = {
        "alertname": alert_name(alert.kind),
        "severity": alert.severity.value,
        "fingerprint": alert.fingerprint,
        "source": "cclm-hub",
    }
    for name, value in (
        ("cluster", alert.cluster),
        ("migration", alert.migration_id),
        ("vm", alert.vm),
    ):
        if value:
            labels[name] = value
    ends = alert.resolved_at or now + ROUNDS_AHEAD * resend
    body: dict[str, Any] = {
        "labels": labels,
        "annotations": {"summary": alert.message, "alert_id": alert.id},
        "startsAt": _stamp(alert.first_seen),
        "endsAt": _stamp(ends),
    }
    if hub_url:
        body["generatorURL"] = f"{hub_url.rstrip('/')}/api/v1/alerts/{alert.id}"
    return body


def batch(
    alerts: Iterable[Alert], now: datetime, resend: timedelta, hub_url: str | None
) -> list[dict[str, Any]]:
    return [postable(alert, now, resend, hub_url) for alert in alerts]
