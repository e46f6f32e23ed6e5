"""`--watch` on lists, as `kubectl get -w`: the list once, then a line for each item that
appears or changes, read from the hub every few seconds, until Ctrl-C. What changes by
itself (an age, a heartbeat's timestamp) is not a change."""

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

EVERY = 2.0
"""Seconds between reads of the list."""
VOLATILE = frozenset(
    {"report_age_seconds", "report_generated_at", "report_received_at", "updated_at", "reported_at"}
)

Item = dict[str, Any]


def _identity(item: Item) -> str:
    return json.dumps({k: v for k, v in item.items() if k not in VOLATILE}, sort_keys=True)


def changed(seen: dict[str, str], items: Sequence[Item], key: str) -> list[Item]:
    """The items new or changed since `seen` (which this brings up to date)."""
    fresh = []
    for item in items:
        identity = _identity(item)
        if seen.get(item[key]) != identity:
            seen[item[key]] = identity
            fresh.append(item)
    return fresh


async def watch(
    read: Callable[[], Awaitable[list[Item]]],
    lines: Callable[[list[Item]], list[str]],
    key: str,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Print the list's header and rows, then each changed row, for as long as it runs."""
    seen: dict[str, str] = {}
    header = True
    while True:
        fresh = changed(seen, await read(), key)
        if fresh or header:
            shown = lines(fresh)
            print("\n".join(shown if header else shown[1:]), flush=True)
            header = False
        await pause(EVERY)
