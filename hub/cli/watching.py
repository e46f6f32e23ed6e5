"""`--watch` on lists, as `kubectl get -w`: the list once, then a line for each item that
appears or changes, read from the hub every few seconds, until Ctrl-C. A change is a change
of what the line shows, ages aside: a heartbeat renewing a reservation prints nothing."""

import asyncio
import re
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from hub.cli.client import ClientError

EVERY = 2.0
"""Seconds between reads of the list."""
Item = dict[str, Any]
Lines = Callable[[list[Item], bool], list[str]]
"""The table for these items, its header first, one line per item in their order; with
False, without the columns that change by themselves (ages)."""


def changed(seen: dict[str, str], items: Sequence[Item], key: str, lines: Lines) -> list[int]:
    """The positions of the items new or changed since `seen` (brought up to date)."""
    fresh = []
    shown = lines(list(items), False)[1:]
    for at, (item, line) in enumerate(zip(items, shown, strict=True)):
        identity = re.sub(r"\s+", " ", line)
        if seen.get(item[key]) != identity:
            seen[item[key]] = identity
            fresh.append(at)
    return fresh


async def watch(
    read: Callable[[], Awaitable[list[Item]]],
    lines: Lines,
    key: str,
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> None:
    """Print the table, then each changed line (aligned with the whole list's), for as long
    as it runs; a hub that does not answer for a while is waited for, a refusal ends it."""
    seen: dict[str, str] = {}
    first = True
    while True:
        try:
            items = await read()
        except ClientError as error:
            if 400 <= error.status < 500:
                raise
            print(f"cclm: {error.message}; trying again in {EVERY:.0f} s", file=sys.stderr)
            await pause(EVERY)
            continue
        fresh = changed(seen, items, key, lines)
        table = lines(items, True)
        shown = [table[0]] if first else []
        shown += [table[1 + at] for at in fresh]
        if shown:
            print("\n".join(shown), flush=True)
        first = False
        await pause(EVERY)
