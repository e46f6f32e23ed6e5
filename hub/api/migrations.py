"""Migrations (operator to create and cancel, viewer to read) and the tasks the console polls."""

from hub import migrations
from hub.api.routing import Call, Param, Reply, Route
from hub.errors import Invalid, NotFound
from hub.models.api import (
    Migration,
    MigrationList,
    MigrationRequest,
    Role,
    State,
    Task,
    TaskList,
)

FILTERS = (
    Param("state", "Only this state", choices=tuple(s.value for s in State)),
    Param("cluster", "Only migrations from or to this cluster"),
    Param("limit", "At most this many, newest first", integer=True, minimum=1, maximum=500),
)


async def create(call: Call) -> Reply:
    key = call.request.headers.get("Idempotency-Key")
    if key is not None and not (
        1 <= len(key.strip()) <= 200 and key.isascii() and key.isprintable()
    ):
        raise Invalid(
            "the Idempotency-Key header must be 1 to 200 printable ASCII characters",
            code="invalid_header",
        )
    request = await call.body(MigrationRequest)
    migration, created = await migrations.create(
        call.hub, request, call.who, key.strip() if key else None
    )
    return Reply(
        201 if created else 200,
        migration,
        headers={"Location": f"/api/v1/migrations/{migration.id}"},
    )


async def list_migrations(call: Call) -> Reply:
    items = await call.hub.store.migrations(
        call.choice("state", State), call.query("cluster"), call.limit()
    )
    return Reply(200, MigrationList(items=tuple(items)))


async def get_migration(call: Call) -> Reply:
    found = await call.hub.store.migration(call.path("id"))
    if found is None:
        raise NotFound(f"no migration {call.path('id')!r}", code="unknown_migration")
    return Reply(200, found)


async def cancel(call: Call) -> Reply:
    return Reply(200, await migrations.cancel(call.hub, call.path("id"), call.who))


async def list_tasks(call: Call) -> Reply:
    items = await call.hub.store.tasks(
        call.choice("state", State), call.query("cluster"), call.limit()
    )
    return Reply(200, TaskList(items=tuple(items)))


async def get_task(call: Call) -> Reply:
    found = await call.hub.store.task(call.path("id"))
    if found is None:
        raise NotFound(f"no task {call.path('id')!r}", code="unknown_task")
    return Reply(200, found)


ROUTES = (
    Route(
        "POST",
        "/api/v1/migrations",
        create,
        "Check, then accept a migration: reserve capacity and queue its task",
        Role.OPERATOR,
        "migrations",
        body=MigrationRequest,
        answers={201: Migration, 200: Migration},
        params=(
            Param(
                "Idempotency-Key",
                "Repeat-safe key (1 to 200 printable ASCII characters): a repeated request "
                "with the same key answers the migration it created",
                where="header",
            ),
        ),
        description="Soft findings must be acknowledged by code (`acknowledge`) or the answer "
        "is 409 `acknowledgement_required` listing them; hard findings answer 422 `blocked`. "
        "With an `Idempotency-Key` header a repeated request answers the migration it created "
        "(200).",
    ),
    Route(
        "GET",
        "/api/v1/migrations",
        list_migrations,
        "List migrations, newest first",
        Role.VIEWER,
        "migrations",
        answers={200: MigrationList},
        params=FILTERS,
    ),
    Route(
        "GET",
        "/api/v1/migrations/{id}",
        get_migration,
        "One migration with its reservation",
        Role.VIEWER,
        "migrations",
        answers={200: Migration},
    ),
    Route(
        "POST",
        "/api/v1/migrations/{id}/cancel",
        cancel,
        "Cancel a migration and release its reservation (repeating it is harmless)",
        Role.OPERATOR,
        "migrations",
        answers={200: Migration},
    ),
    Route(
        "GET",
        "/api/v1/tasks",
        list_tasks,
        "List tasks, newest first",
        Role.VIEWER,
        "tasks",
        answers={200: TaskList},
        params=FILTERS,
    ),
    Route(
        "GET",
        "/api/v1/tasks/{id}",
        get_task,
        "One task: state, message, progress and per-VM phase and mode",
        Role.VIEWER,
        "tasks",
        answers={200: Task},
    ),
)
