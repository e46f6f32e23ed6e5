"""Lists as kubectl prints them. The ages are worked out by hand from kubectl's rule,
k8s.io/apimachinery/pkg/util/duration/duration.go `HumanDuration`: seconds below 2
minutes; minutes and seconds below 10 minutes; minutes below 3 hours; hours and minutes
below 8 hours; hours below 2 days; days and hours below 8 days; days below 2 years."""

import asyncio
import io
from contextlib import redirect_stdout
from typing import Any

import pytest

from hub.cli import tables, watching
from hub.cli.tables import Column


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-5, "<invalid>"),
        (-0.5, "0s"),
        (0, "0s"),
        (119, "119s"),
        (120, "2m"),
        (316, "5m16s"),  # 5*60 + 16
        (599, "9m59s"),
        (600, "10m"),
        (3 * 3600 - 1, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 25 * 60, "3h25m"),
        (8 * 3600, "8h"),
        (47 * 3600 + 59 * 60, "47h"),
        (2 * 86400 + 5 * 3600, "2d5h"),
        (7 * 86400, "7d"),
        (8 * 86400 + 23 * 3600, "8d"),
        (730 * 86400 + 3 * 86400, "2y3d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_ages_follow_kubectl(seconds: float, shown: str) -> None:
    assert tables.age(seconds) == shown


def test_columns_align_to_their_widest_cell_and_wide_adds_columns() -> None:
    columns: tuple[Column[tuple[str, int]], ...] = (
        Column("NAME", lambda r: r[0]),
        Column("N", lambda r: str(r[1])),
        Column("EXTRA", lambda _: "x", wide=True),
    )
    rows = [("a", 100), ("longer", 2)]
    assert tables.table(columns, rows) == ["NAME     N", "a        100", "longer   2"]
    assert tables.table(columns, rows, wide=True)[0] == "NAME     N     EXTRA"


def test_a_watch_prints_the_list_then_only_what_its_lines_show_changed() -> None:
    rounds: list[list[dict[str, Any]]] = [
        [{"id": "a", "state": "queued", "claim": {"expires": 1}}, {"id": "b", "state": "queued"}],
        # a heartbeat renewed a's reservation: nothing shown changed
        [{"id": "a", "state": "queued", "claim": {"expires": 2}}, {"id": "b", "state": "queued"}],
        [{"id": "a", "state": "running", "claim": {"expires": 3}}, {"id": "b", "state": "queued"}],
    ]
    now = [10]

    async def read() -> list[dict[str, Any]]:
        now[0] += 60
        return rounds.pop(0)

    async def pause(_seconds: float) -> None:
        if not rounds:
            raise asyncio.CancelledError

    def lines(items: list[dict[str, Any]], ages: bool) -> list[str]:
        age = f" {now[0]}s" if ages else ""
        return [
            f"ID STATE{' AGE' if ages else ''}",
            *(f"{i['id']} {i['state']}{age}" for i in items),
        ]

    printed = io.StringIO()
    with redirect_stdout(printed), pytest.raises(asyncio.CancelledError):
        asyncio.run(watching.watch(read, lines, "id", pause))
    assert printed.getvalue().splitlines() == [
        "ID STATE AGE",
        "a queued 70s",
        "b queued 70s",
        "a running 190s",
    ]
