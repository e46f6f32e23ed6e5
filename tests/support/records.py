"""A migration and its task as the store holds them, for tests of what is read off them."""

import itertools
from datetime import UTC, datetime
from typing import Any

from hub.models.api import Condition, Migration, State, Task, TaskVm
from hub.models.check import Mode, TargetResult, Verdict

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
_numbers = itertools.count(1)


def migration_and_task(
    state: State,
    conditions: tuple[Condition, ...] = (),
    reported_at: datetime | None = None,
    message: str = "",
    **migration: Any,
) -> tuple[Migration, Task]:
    n = next(_numbers)
    fields: dict[str, Any] = {
        "id": f"mig-{n}",
        "source_cluster": "east",
        "target_cluster": "west",
        "vms": ("shop/db",),
        "storage_class_map": {},
        "delete_source": False,
        "acknowledged": (),
        "state": state,
        "task_id": f"task-{n}",
        "created_by": "test",
        "created_at": T0,
        "updated_at": T0,
        "check": TargetResult(cluster="west", verdict=Verdict.FITS),
        **migration,
    }
    task = Task(
        id=f"task-{n}",
        migration_id=f"mig-{n}",
        source_cluster="east",
        target_cluster="west",
        state=state,
        message=message,
        progress=0,
        vms=(TaskVm(vm="shop/db", mode=Mode.LIVE),),
        conditions=conditions,
        created_at=T0,
        updated_at=T0,
        reported_at=reported_at,
    )
    return Migration(**fields), task
