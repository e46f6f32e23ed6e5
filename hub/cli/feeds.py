"""`cclm alerts [--watch]` and `cclm recommendations`: the hub's feeds in a terminal. With
`--watch` the list is followed by every change as the hub streams it (Server-Sent Events),
reconnecting from the last event seen when the connection drops."""

import argparse
import asyncio
import contextlib
import sys
from datetime import UTC, datetime
from typing import Any

from hub.cli import remote, tables
from hub.cli.client import ClientError, Connection, Frame, call, events
from hub.cli.render import shown
from hub.models.api import Alert, AlertKind, AlertList, AlertSeverity
from hub.models.feeds import Event, Recommendation, RecommendationKind, RecommendationList

RECONNECT = 2.0
STATES = ("open", "resolved", "all")


def _age(since: datetime, now: datetime) -> str:
    return tables.age((now - since).total_seconds())


def alert_line(alert: Alert, now: datetime) -> str:
    state = "resolved" if alert.resolved_at else "open"
    where = alert.cluster or "-"
    return (
        f"{alert.severity.value:<8} {alert.kind.value:<24} {where:<20} "
        f"{_age(alert.first_seen, now):>5} {state:<8} {alert.message}"
    )


def alerts_table(items: tuple[Alert, ...], now: datetime) -> str:
    if not items:
        return "no alerts"
    head = f"{'SEVERITY':<8} {'KIND':<24} {'CLUSTER':<20} {'AGE':>5} {'STATE':<8} MESSAGE"
    return "\n".join([head, *(alert_line(a, now) for a in items)])


def recommendation_text(item: Recommendation) -> str:
    lines = [f"{item.kind.value}: {item.message}"]
    for target in item.targets:
        lines.append(f"  -> {target.cluster} ({target.verdict.value}, score {target.score:.1f})")
        lines += [f"       - {reason}" for reason in target.reasons]
    for move in item.moves:
        lines.append(f"  move {move.vm} -> {move.to.cluster} ({move.to.verdict.value})")
    return "\n".join(lines)


def event_line(event: Event, now: datetime) -> str:
    if event.alert is not None:
        return f"{event.type.value.upper():<8} {alert_line(event.alert, now)}"
    if event.recommendation is not None:
        return f"{event.type.value.upper():<8} {recommendation_text(event.recommendation)}"
    return f"{event.type.value.upper()}"


def _params(args: argparse.Namespace) -> dict[str, str]:
    given = {
        "kind": args.kind,
        "cluster": args.cluster,
        "severity": getattr(args, "severity", None),
    }
    if getattr(args, "state", "all") != "all":
        given["state"] = args.state
    if getattr(args, "limit", None):
        given["limit"] = str(args.limit)
    return {k: v for k, v in given.items() if v}


def _wanted(event: Event, args: argparse.Namespace) -> bool:
    item: Any = event.alert or event.recommendation
    if item is None:
        return False
    if args.cluster and item.cluster != args.cluster:
        return False
    severity = getattr(args, "severity", None)
    if severity and getattr(item, "severity", None) != severity:
        return False
    return not args.kind or item.kind.value == args.kind


async def _list(connection: Connection, path: str, args: argparse.Namespace) -> Any:
    return await call(connection, "GET", path, params=_params(args))


def _print(text: str) -> None:
    print(text, flush=True)


async def _watch(connection: Connection, args: argparse.Namespace, topic: str) -> None:
    """The list, then each change. The stream is opened first and says where it starts, so
    nothing between the list and the stream is missed; after a dropped connection it resumes
    from the last event seen (the hub replays what was missed, or says it cannot and the
    list is shown again)."""
    after: int | None = None
    while True:
        try:
            async with contextlib.aclosing(events(connection, after, {"topics": topic})) as stream:
                async for frame in stream:
                    if frame.event == "open" and after is None:
                        await _show_list(connection, args, topic)
                    after = await _handle(frame, args, connection, topic, after)
        except ClientError as error:
            if 400 <= error.status < 500:
                raise  # the token or the flags: reconnecting would not help
            print(f"cclm: {error.message}; reconnecting in {RECONNECT:.0f} s", file=sys.stderr)
        await asyncio.sleep(RECONNECT)


async def _handle(
    frame: Frame, args: argparse.Namespace, connection: Connection, topic: str, after: int | None
) -> int | None:
    if frame.event == "open":
        return frame.id
    if frame.event == "reset":
        _print("(the hub no longer has some changes since the last one seen: the list again)")
        await _show_list(connection, args, topic)
        return frame.id
    event = Event.model_validate_json(frame.data)
    if _wanted(event, args):
        line = event_line(event, event.at)
        _print(event.model_dump_json() if args.output in ("json", "yaml") else line)
    return frame.id if frame.id is not None else after


async def _show_list(connection: Connection, args: argparse.Namespace, topic: str) -> None:
    if topic == "alert":
        data = await _list(connection, "/api/v1/alerts", args)
        text = alerts_table(AlertList.model_validate(data).items, _now())
    else:
        data = await _list(connection, "/api/v1/recommendations", args)
        items = RecommendationList.model_validate(data).items
        text = "\n".join(recommendation_text(r) for r in items) or "no recommendations"
    _print(shown(args.output, data, text))


def _now() -> datetime:
    return datetime.now(UTC)


def _run(args: argparse.Namespace, topic: str) -> int:
    connection = remote.connection(args)
    if not args.watch:
        asyncio.run(_show_list(connection, args, topic))
        return 0
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_watch(connection, args, topic))
    return 0


def alerts(args: argparse.Namespace) -> int:
    return _run(args, "alert")


def recommendations(args: argparse.Namespace) -> int:
    return _run(args, "recommendation")


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    shared = remote.connection_options()
    watch_help = "after the list, print each change as it happens (Ctrl-C ends it)"
    listed = commands.add_parser(
        "alerts",
        help="alerts: stale spokes, stalled migrations, capacity below headroom, ...",
        description="The hub's alerts, newest first (open ones unless --state says).",
        parents=[shared],
    )
    listed.add_argument("--state", choices=STATES, default="open")
    listed.add_argument("--kind", choices=[k.value for k in AlertKind])
    listed.add_argument("--severity", choices=[s.value for s in AlertSeverity])
    listed.add_argument("--cluster")
    listed.add_argument("--limit", type=int, help="at most this many (1 to 500)")
    listed.add_argument("--watch", "-w", action="store_true", help=watch_help)
    listed.set_defaults(run=alerts)
    advice = commands.add_parser(
        "recommendations",
        help="what to do: where a stalled migration fits, which VMs to move off a full cluster",
        description="The hub's recommendations, each explained like a check's suggestion.",
        parents=[shared],
    )
    advice.add_argument("--kind", choices=[k.value for k in RecommendationKind])
    advice.add_argument("--cluster")
    advice.add_argument("--watch", "-w", action="store_true", help=watch_help)
    advice.set_defaults(run=recommendations)
