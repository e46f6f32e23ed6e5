"""Checks: the engine over HTTP, and the console wizard's migration-targets endpoint."""

import time

from hub.api.metrics import METRICS_KEY
from hub.api.routing import Call, Param, Reply, Route
from hub.errors import Invalid
from hub.fleet import checking
from hub.models.api import CheckAnswer, CheckBody, Role
from hub.models.wire.codes import ErrorCode
from hub.models.wizard import MigrationTargets


async def run_check(call: Call) -> Reply:
    body = await call.body(CheckBody)
    started = time.perf_counter()
    answer = checking.check(call.hub, body)
    call.request.app[METRICS_KEY].checked(answer, time.perf_counter() - started)
    return Reply(200, answer)


async def migration_targets(call: Call) -> Reply:
    names = ("cluster", "vmName", "vmNamespace")
    values = {name: call.query(name) for name in names}
    missing = [name for name in names if values[name] is None]
    if missing:
        raise Invalid(
            f"missing query parameter(s): {', '.join(missing)}",
            details={"missing": missing},
            code=ErrorCode.MISSING_PARAMETER,
        )
    answer = checking.migration_targets(
        call.hub, str(values["cluster"]), str(values["vmNamespace"]), str(values["vmName"])
    )
    return Reply(200, answer, omit_none=True)


ROUTES = (
    Route(
        "POST",
        "/api/v1/checks",
        run_check,
        "Will these VMs fit? Verdicts, findings, placements and ranked suggestions",
        Role.OPERATOR,
        "checks",
        body=CheckBody,
        answers={200: CheckAnswer},
        description="VMs are full specs, references (`cluster/namespace/name`, or "
        "`namespace/name` with `source_cluster`), or KubeVirt manifests in `manifests` "
        "(VirtualMachines with the instancetypes, preferences and claims they name). "
        "Without `target`, every eligible cluster is ranked.",
    ),
    Route(
        "GET",
        "/api/v1/migration-targets",
        migration_targets,
        "Drop-in for the console wizard's migration advisor",
        Role.VIEWER,
        "checks",
        answers={200: MigrationTargets},
        params=(
            Param("cluster", "The VM's source cluster", required=True),
            Param("vmName", "The VM's name", required=True),
            Param("vmNamespace", "The VM's namespace", required=True),
        ),
    ),
)
