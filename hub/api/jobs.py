"""Jobs for spoke agents: the source cluster's agent pulls the migrations it is to carry
out (long-poll; the spoke only ever connects out) and reports progress on each."""

from hub.api.metrics import METRICS_KEY
from hub.api.routing import Call, Param, Reply, Route
from hub.api.waiting import MAX_IDS, ids, long_poll, own, wait_param
from hub.migration import progress as job_progress
from hub.migration import queries
from hub.models.api import JobList, Migration, Progress, ProgressReceipt, Role


async def list_jobs(call: Call) -> Reply:
    cluster, known = own(call), ids(call, "known")

    def news(items: list[Migration]) -> bool:
        return any(m.id not in known for m in items)

    items = await long_poll(call, cluster, lambda: queries.jobs(call.hub, cluster), news)
    return Reply(200, JobList(cluster=cluster, items=tuple(items)))


async def report_progress(call: Call) -> Reply:
    cluster = own(call)
    body = await call.body(Progress)
    recorded = await job_progress.record(call.hub, cluster, call.path("id"), body)
    if recorded.before is not None:
        metrics = call.request.app[METRICS_KEY]
        metrics.progressed(recorded.before, recorded.after, recorded.migration)
    return Reply(200, recorded.receipt)


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
            wait_param("a job"),
            Param(
                "known",
                "Comma-separated ids of the jobs the agent already runs: the wait ends early "
                f"only for a job not among them (at most {MAX_IDS})",
                listing=True,
            ),
        ),
        description="A job stays listed until its migration ends, so an agent that restarts "
        "gets it again: the migration id is the idempotency key.",
    ),
    Route(
        "POST",
        "/api/v1/clusters/{cluster}/jobs/{id}/progress",
        report_progress,
        "Progress of a job: the first report starts its task, each renews its reservation",
        Role.SPOKE,
        "jobs",
        body=Progress,
        answers={200: ProgressReceipt},
        description="`cancel` in the answer tells the agent the migration was cancelled on "
        "the hub; a final state (finished, failed) ends the task and releases the reservation.",
    ),
)
