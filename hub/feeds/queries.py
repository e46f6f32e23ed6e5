"""What the console, the CLI and receivers read of the feeds, with the errors a caller can
act on; pages of alerts are cut by an opaque `continue` token, as Kubernetes lists are."""

import base64
import binascii
import json

from hub.errors import Invalid, NotFound
from hub.models.api import Alert, AlertList
from hub.models.feeds import Recommendation, RecommendationList
from hub.models.wire.codes import ErrorCode
from hub.service import Hub
from hub.store import AlertQuery


def _token(alert: Alert) -> str:
    raw = json.dumps([alert.first_seen.timestamp(), alert.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def page_start(token: str | None) -> tuple[float, str] | None:
    if token is None:
        return None
    try:
        stamp, alert_id = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        return float(stamp), str(alert_id)
    except (ValueError, TypeError, binascii.Error):
        raise Invalid(
            "query parameter continue is not a token this hub gave: pass the `next` of the "
            "previous page as it was, or leave it out for the first page",
            details={"parameter": "continue"},
            code=ErrorCode.INVALID_PARAMETER,
        ) from None


async def alerts(hub: Hub, query: AlertQuery) -> AlertList:
    """One page, newest first; `next` when more match."""
    found = await hub.store.feeds.alerts(
        AlertQuery(
            query.open, query.kind, query.cluster, query.severity, query.limit + 1, query.before
        )
    )
    page = tuple(found[: query.limit])
    more = len(found) > query.limit
    return AlertList(items=page, next=_token(page[-1]) if more and page else None)


async def alert(hub: Hub, alert_id: str) -> Alert:
    found = await hub.store.feeds.alert(alert_id)
    if found is None:
        raise NotFound(f"no alert {alert_id!r}", code=ErrorCode.UNKNOWN_ALERT)
    return found


async def recommendations(hub: Hub, kind: str | None, cluster: str | None) -> RecommendationList:
    items: list[Recommendation] = [
        r
        for r in await hub.store.feeds.recommendations()
        if (kind is None or r.kind.value == kind) and (cluster is None or r.cluster == cluster)
    ]
    return RecommendationList(items=tuple(items))
