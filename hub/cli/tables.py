"""Lists as kubectl prints them: a header of upper-case names, columns aligned to their
widest cell, ages as kubectl's `HumanDuration` spells them (`45s`, `5m16s`, `3h`, `2d4h`),
and `-o wide` adding columns rather than changing the others."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from hub.models import quantity
from hub.models.api import ClusterSummary, Migration, Task

T = TypeVar("T")
GAP = 3
"""Spaces between columns, as kubectl's tab writer pads them."""


def age(seconds: float | None) -> str:
    """kubectl's rule (k8s.io/apimachinery/pkg/util/duration.HumanDuration): exact at first,
    coarser as the age grows, never more than two units."""
    if seconds is None:
        return "<none>"
    s = int(seconds)
    if s < -1:
        return "<invalid>"  # more than clock skew: a wrong clock somewhere
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


@dataclass(frozen=True, slots=True)
class Column(Generic[T]):
    header: str
    cell: Callable[[T], str]
    wide: bool = False
    """Shown with `-o wide` only."""
    age: bool = False
    """Changes by itself as time passes (left out when telling changes apart)."""


def table(
    columns: Sequence[Column[T]], items: Sequence[T], wide: bool = False, ages: bool = True
) -> list[str]:
    """The header and one line per item (just the header for none)."""
    shown = [c for c in columns if (wide or not c.wide) and (ages or not c.age)]
    rows = [[c.header for c in shown], *([c.cell(item) for c in shown] for item in items)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(shown))]
    return [
        (" " * GAP)
        .join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        .rstrip()
        for row in rows
    ]


def _since(moment: datetime, now: datetime) -> str:
    return age((now - moment).total_seconds())


def _free(c: ClusterSummary, resource: str, show: Callable[[int], str]) -> str:
    found = c.resources.get(resource)
    return show(found.free) if found else "-"


def _storage(c: ClusterSummary) -> str:
    known = [s.free_bytes for s in c.storage if s.free_bytes is not None]
    return quantity.human_bytes(sum(known)) if known else "-"


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>"


CLUSTERS: tuple[Column[ClusterSummary], ...] = (
    Column("CLUSTER", lambda c: c.name),
    Column("FRESHNESS", lambda c: c.freshness.value),
    Column("AGE", lambda c: age(c.report_age_seconds), age=True),
    Column("NODES", lambda c: str(c.nodes_usable)),
    Column("FREE CPU", lambda c: _free(c, "cpu_millis", lambda v: f"{v / 1000:.1f}")),
    Column("FREE MEMORY", lambda c: _free(c, "memory_bytes", quantity.human_bytes)),
    Column("CLAIMS", lambda c: str(c.live_claims)),
    Column("VMS", lambda c: str(c.vms), wide=True),
    Column("FREE STORAGE", _storage, wide=True),
    Column("KUBEVIRT", lambda c: c.kubevirt_version or "-", wide=True),
    Column("LABELS", lambda c: _labels(c.labels), wide=True),
)


def clusters(items: Sequence[ClusterSummary], wide: bool = False, ages: bool = True) -> str:
    return "\n".join(table(CLUSTERS, items, wide, ages))


def migrations(
    items: Sequence[Migration], now: datetime, wide: bool = False, ages: bool = True
) -> str:
    columns: tuple[Column[Migration], ...] = (
        Column("MIGRATION", lambda m: m.id),
        Column("STATE", lambda m: m.state.value),
        Column("SOURCE", lambda m: m.source_cluster),
        Column("TARGET", lambda m: m.target_cluster),
        Column("VMS", lambda m: ",".join(m.vms)),
        Column("AGE", lambda m: _since(m.created_at, now), age=True),
        Column("TASK", lambda m: m.task_id, wide=True),
        Column("BY", lambda m: m.created_by, wide=True),
        Column("ACKNOWLEDGED", lambda m: ",".join(m.acknowledged) or "<none>", wide=True),
    )
    return "\n".join(table(columns, items, wide, ages))


def tasks(items: Sequence[Task], now: datetime, wide: bool = False, ages: bool = True) -> str:
    columns: tuple[Column[Task], ...] = (
        Column("TASK", lambda t: t.id),
        Column("STATE", lambda t: t.state.value),
        Column("PROGRESS", lambda t: f"{t.progress}%"),
        Column("VMS", lambda t: " ".join(f"{v.vm}[{v.mode.value}]={v.phase.value}" for v in t.vms)),
        Column("STALLED", lambda t: str(len(t.conditions))),
        Column("AGE", lambda t: _since(t.created_at, now), age=True),
        Column("MIGRATION", lambda t: t.migration_id, wide=True),
        Column("SOURCE", lambda t: t.source_cluster, wide=True),
        Column("TARGET", lambda t: t.target_cluster, wide=True),
        Column("MESSAGE", lambda t: t.message, wide=True),
    )
    return "\n".join(table(columns, items, wide, ages))
