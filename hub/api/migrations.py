"""Migrations (operator to create and cancel, viewer to read) and the tasks the console polls."""

import pydantic

from hub import validation
from hub.api.metrics import METRICS_KEY
from hub.api.routing import Call, Param, Reply, Route
from hub.errors import Invalid
from hub.migration import accept, cancel, queries
from hub.models.api import (
    Migration,
    MigrationList,
    MigrationRequest,
    Role,
    State,
    Task,
    TaskList,
    VmMigrationRequest,
)
from hub.models.wire.codes import ErrorCode

FILTERS = (
    Param("state", "Only this state", choices=tuple(s.value for s in State)),
    Param("cluster", "Only migrations from or to this cluster"),
    Param("limit", "At most this many, newest first", integer=True, minimum=1, maximum=500),
)


def _idempotency_key(call: Call) -> str | None:
    key = call.request.headers.get("Idempotency-Key")
    if key is not None and not (
        1 <= len(key.strip()) <= 200 and key.isascii() and key.isprintable()
    ):
        raise Invalid(
            "the Idempotency-Key header must be 1 to 200 printable ASCII characters",
            code=ErrorCode.INVALID_HEADER,
        )
    return key.strip() if key else None


async def create_migration(call: Call) -> Reply:
    key = _idempotency_key(call)
    request = await call.body(MigrationRequest)
    migration, created = await accept.create(call.hub, request, call.who, key)
    if created:
        call.request.app[METRICS_KEY].accepted_migration(migration)
    return Reply(
        201 if created else 200,
        migration,
        headers={"Location": f"/api/v1/migrations/{migration.id}"},
    )


def _vm_request(call: Call, body: VmMigrationRequest) -> MigrationRequest:
    source = call.path("cluster")
    target = (body.target or "").strip()
    if not target:
        raise Invalid("target cluster is required", code=ErrorCode.MISSING_TARGET)
    if target == source:
        raise Invalid(
            f"target {target!r} is the cluster the VM already runs on; name another cluster",
            code=ErrorCode.TARGET_IS_SOURCE,
        )
    vm = f"{call.path('namespace')}/{call.path('name')}"
    try:
        return MigrationRequest(
            source_cluster=source,
            target=target,
            vms=(vm,),
            storage_class_map=body.storage_class_map,
            delete_source=body.delete_source,
            acknowledge=body.acknowledge,
        )
    except pydantic.ValidationError as error:
        problem = validation.problems(error)[0]
        raise Invalid(
            f"{problem['field']}: {problem['problem']}", code=validation.code(error)
        ) from error


async def migrate_vm(call: Call) -> Reply:
    key = _idempotency_key(call)
    request = _vm_request(call, await call.body(VmMigrationRequest))
    migration, created = await accept.create(call.hub, request, call.who, key)
    if created:
        call.request.app[METRICS_KEY].accepted_migration(migration)
    task = await queries.task_of(call.hub, migration)
    return Reply(202, task, headers={"Location": f"/api/v1/tasks/{task.id}"})


async def list_migrations(call: Call) -> Reply:
    items = await queries.migrations(
        call.hub, call.choice("state", State), call.query("cluster"), call.limit()
    )
    return Reply(200, MigrationList(items=tuple(items)))


async def get_migration(call: Call) -> Reply:
    return Reply(200, await queries.migration(call.hub, call.path("id")))


async def cancel_migration(call: Call) -> Reply:
    return Reply(200, await cancel.cancel(call.hub, call.path("id"), call.who))


async def list_tasks(call: Call) -> Reply:
    items = await queries.tasks(
        call.hub, call.choice("state", State), call.query("cluster"), call.limit()
    )
    return Reply(200, TaskList(items=tuple(items)))


async def get_task(call: Call) -> Reply:
    return Reply(200, await queries.task(call.hub, call.path("id")))


ROUTES = (
    Route(
        "POST",
        "/api/v1/migrations",
        create_migration,
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
        "POST",
        "/api/v1/clusters/{cluster}/vms/{namespace}/{name}/migrate",
        migrate_vm,
        "Migrate one VM (the console's action): check, reserve and queue; answers the task",
        Role.OPERATOR,
        "migrations",
        body=VmMigrationRequest,
        answers={202: Task},
        params=(
            Param(
                "Idempotency-Key",
                "Repeat-safe key: a repeated request with the same key answers the same task",
                where="header",
            ),
        ),
        description="`target` is required and must differ from the VM's cluster. Unless "
        "`delete_source` is set, the task carries a warning: the source VM is kept stopped "
        "and protected against being started, since a second copy would conflict with the "
        "migrated one. Soft findings need `acknowledge` (409), hard ones refuse (422).",
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
        cancel_migration,
        "Cancel a migration and release its reservation (repeating it is harmless)",
        Role.OPERATOR,
        "migrations",
        answers={200: Migration},
        description="Possible until the cutover of a live migration begins; after that the "
        "answer is 409 `cutover_started` naming the VMs, since the VM is already moving.",
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
