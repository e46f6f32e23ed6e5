"""Jobs for spoke agents: the source cluster's agent pulls the migrations it is to carry
out (long-poll; the spoke only ever connects out) and reports progress on each."""

import asyncio
import contextlib

from hub import migrations
from hub.api.routing import Call, Param, Reply, Route
from hub.errors import Invalid
from hub.models.api import JobList, Progress, ProgressReceipt, Role

MAX_WAIT = 60
REREAD = 2.0
"""Seconds between store reads while a spoke waits: what other hub replicas accepted
reaches it this late at most."""


def _own(call: Call) -> str:
    cluster = call.path("cluster")
    call.hub.require_own(call.principal, cluster, "act for")
    return cluster


def _wait(call: Call) -> int:
    value = call.query("wait")
    if value is None:
        return 0
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_WAIT:
        raise Invalid(
            f"query parameter wait={value!r} must be a whole number of seconds from 0 to "
            f"{MAX_WAIT}",
            details={"parameter": "wait"},
            code="invalid_parameter",
        )
    return int(value)


async def list_jobs(call: Call) -> Reply:
    cluster, wait = _own(call), _wait(call)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        changed = call.hub.jobs_changed(cluster)
        items = await call.hub.store.jobs(cluster)
        left = deadline - loop.time()
        if items or left <= 0:
            return Reply(200, JobList(cluster=cluster, items=tuple(items)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout=min(left, REREAD))


async def progress(call: Call) -> Reply:
    cluster = _own(call)
    body = await call.body(Progress)
    return Reply(200, await migrations.report(call.hub, cluster, call.path("id"), body))


ROUTES = (
    Route(
        "GET",
        "/api/v1/clusters/{cluster}/jobs",
        list_jobs,
        "The migrations this cluster's agent is to carry out (long-poll)",
        Role.SPOKE,
        "jobs",
        answers={200: JobList},
        params=(
            Param(
                "wait",
                f"Seconds to wait for a job when there is none (0 to {MAX_WAIT}; default 0)",
                integer=True,
                minimum=0,
                maximum=MAX_WAIT,
            ),
        ),
        description="A job stays listed until its migration ends, so an agent that restarts "
        "gets it again: the migration id is the idempotency key.",
    ),
    Route(
        "POST",
        "/api/v1/clusters/{cluster}/jobs/{id}/progress",
        progress,
        "Progress of a job: the first report starts its task, each renews its reservation",
        Role.SPOKE,
        "jobs",
        body=Progress,
        answers={200: ProgressReceipt},
        description="`cancel` in the answer tells the agent the migration was cancelled on "
        "the hub; a final state (finished, failed) ends the task and releases the reservation.",
    ),
)
