"""Clusters: registration (admin), inventory and capacity (viewer), reports (spoke)."""

from hub.api.metrics import METRICS_KEY
from hub.api.routing import Call, Param, Reply, Route
from hub.errors import Invalid, Unauthorized
from hub.fleet import summaries
from hub.models.api import (
    ClusterDetail,
    ClusterList,
    ClusterRegistration,
    Registered,
    ReportReceipt,
    Role,
    SequenceReset,
    VmList,
)
from hub.models.ocm import RESERVED_PREFIXES
from hub.models.report import CapacityReport
from hub.models.wire.codes import ErrorCode


async def list_clusters(call: Call) -> Reply:
    hub = call.hub
    now = hub.clock()
    label = call.query("label")
    key, _, value = (label or "").partition("=")
    inventory = hub.inventory
    items = [
        summaries.summary(
            entry, inventory.index(entry.name), inventory.facts(entry.name), hub.policy, now
        )
        for entry in inventory.entries()
        if not label or (key in entry.labels and (not value or entry.labels[key] == value))
    ]
    return Reply(200, ClusterList(items=tuple(items)))


async def get_cluster(call: Call) -> Reply:
    inventory = call.hub.inventory
    entry = inventory.require(call.path("name"))
    name = entry.name
    answer = summaries.detail(
        entry,
        inventory.index(name),
        inventory.facts(name),
        inventory.report(name),
        call.hub.policy,
        call.hub.clock(),
    )
    return Reply(200, answer)


async def cluster_vms(call: Call) -> Reply:
    entry = call.hub.inventory.require(call.path("name"))
    report = call.hub.inventory.report(entry.name)
    return Reply(200, VmList(cluster=entry.name, items=report.vms if report else ()))


async def register_cluster(call: Call) -> Reply:
    registration = await call.body(ClusterRegistration)
    reserved = sorted(k for k in registration.labels if k.startswith(RESERVED_PREFIXES))
    if reserved:
        raise Invalid(
            f"label {reserved[0]} is the hub's own: labels under "
            + ", ".join(RESERVED_PREFIXES)
            + " are written from Open Cluster Management's answers only",
            details={"labels": reserved},
            code=ErrorCode.INVALID_BODY,
        )
    registered = await call.hub.register(registration)
    return Reply(201, registered, headers={"Location": f"/api/v1/clusters/{registered.cluster}"})


async def rotate_cluster_token(call: Call) -> Reply:
    return Reply(200, await call.hub.rotate(call.path("name")))


async def reset_sequence(call: Call) -> Reply:
    return Reply(200, await call.hub.reset_sequence(call.path("name"), call.who))


async def ingest_report(call: Call) -> Reply:
    if call.principal is None:
        raise Unauthorized("send the cluster's token")
    body = await call.compressed(call.hub.settings.max_report_bytes)
    receipt = await call.hub.ingest(call.path("name"), body, call.encoding, call.principal)
    applied = "true" if receipt.applied else "false"
    call.request.app[METRICS_KEY].reports.labels(applied).inc()
    return Reply(202 if receipt.applied else 200, receipt)


ROUTES = (
    Route(
        "GET",
        "/api/v1/clusters",
        list_clusters,
        "List clusters with capacity summary and freshness",
        Role.VIEWER,
        "clusters",
        answers={200: ClusterList},
        params=(Param("label", "Only clusters with this label (key or key=value)"),),
    ),
    Route(
        "POST",
        "/api/v1/clusters",
        register_cluster,
        "Register a cluster; answers its spoke token, shown once",
        Role.ADMIN,
        "clusters",
        body=ClusterRegistration,
        answers={201: Registered},
    ),
    Route(
        "GET",
        "/api/v1/clusters/{name}",
        get_cluster,
        "One cluster: capacity per resource, storage class and node",
        Role.VIEWER,
        "clusters",
        answers={200: ClusterDetail},
    ),
    Route(
        "GET",
        "/api/v1/clusters/{name}/vms",
        cluster_vms,
        "The VMs a cluster reports, as the engine sizes them",
        Role.VIEWER,
        "clusters",
        answers={200: VmList},
    ),
    Route(
        "POST",
        "/api/v1/clusters/{name}/sequence-reset",
        reset_sequence,
        "Let a cluster's next report in whatever its sequence (audited)",
        Role.ADMIN,
        "clusters",
        answers={200: SequenceReset},
        description="For an agent whose saved sequence ran ahead (a lost clock, a restored "
        "backup): the report the hub holds stays until the next one arrives. Recorded as "
        "a `sequence-reset` alert.",
    ),
    Route(
        "POST",
        "/api/v1/clusters/{name}/token",
        rotate_cluster_token,
        "Issue a new spoke token for a cluster; the old one stops working",
        Role.ADMIN,
        "clusters",
        answers={200: Registered},
    ),
    Route(
        "POST",
        "/api/v1/clusters/{name}/reports",
        ingest_report,
        "A spoke's capacity report (gzip accepted); older or equal sequences are ignored",
        Role.SPOKE,
        "reports",
        body=CapacityReport,
        answers={202: ReportReceipt, 200: ReportReceipt},
        description="202 when the report became the cluster's newest; 200 when the hub "
        "already holds this or a newer sequence (idempotent, safe to retry).",
    ),
)
