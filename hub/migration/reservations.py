"""Reservations: the claim an accepted migration holds on its target, its lifetime, and the
sweeper that lets abandoned claims go.

A claim lives until its migration ends or it expires. Expiry guards against a migration that
is never picked up or whose executor died: its capacity must not stay promised forever. The
executor's progress renews it.
"""

import secrets
from datetime import datetime, timedelta

from hub.capacity import claims
from hub.capacity.check import Evaluation
from hub.feeds import alerts
from hub.models.api import Alert, AlertKind, AlertSeverity
from hub.models.claim import Claim


def reserve(evaluation: Evaluation, now: datetime, ttl: timedelta) -> Claim:
    return claims.claim_for(evaluation, f"claim-{secrets.token_hex(8)}", now + ttl)


class ExpiryAlert:
    """Builds the alert recorded, in the same transaction, for each claim the sweeper expires."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def __call__(self, claim: Claim, migration_id: str | None) -> Alert:
        owner = f"migration {migration_id}" if migration_id else "no migration"
        return Alert(
            id=f"reservation-expired:{claim.id}",
            fingerprint=f"reservation-expired:{claim.id}",
            kind=AlertKind.RESERVATION_EXPIRED,
            severity=AlertSeverity.WARNING,
            message=(
                f"reservation {claim.id} on {claim.cluster} for {owner} expired at "
                f"{claim.expires_at.isoformat()} without progress; its capacity is no longer "
                "held, so other migrations may take it"
            ),
            cluster=claim.cluster,
            migration_id=migration_id,
            links=alerts.links(claim.cluster, migration_id),
            first_seen=self._now,
            last_seen=self._now,
        )
