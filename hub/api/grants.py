"""Target access for migrations, between the two agents of each and through the hub, which
relays sealed boxes it cannot open (see `hub.access.grants`)."""

from hub.access import grants
from hub.api.routing import Call, Param, Reply, Route
from hub.api.waiting import MAX_IDS, ids, long_poll, own, wait_param
from hub.models.api import Role
from hub.models.grants import (
    GrantFailure,
    GrantList,
    GrantReceipt,
    SealedGrant,
    SealingKey,
    SealingKeyReceipt,
)


async def register_sealing_key(call: Call) -> Reply:
    cluster = own(call)
    body = await call.body(SealingKey)
    return Reply(200, await grants.register_key(call.hub, cluster, body))


async def grants_to_mint(call: Call) -> Reply:
    cluster, held = own(call), ids(call, "held")

    def news(listing: GrantList) -> bool:
        return bool(listing.requests) or set(listing.open) != held

    found = await long_poll(call, cluster, lambda: grants.pending(call.hub, cluster), news)
    return Reply(200, found)


async def hand_in_grant(call: Call) -> Reply:
    cluster = own(call)
    body = await call.body(SealedGrant)
    return Reply(200, await grants.put(call.hub, cluster, call.path("id"), body))


async def grant_failed(call: Call) -> Reply:
    cluster = own(call)
    body = await call.body(GrantFailure)
    await grants.failed(call.hub, cluster, call.path("id"), body)
    return Reply(204, None)


async def job_access(call: Call) -> Reply:
    cluster = own(call)
    return Reply(200, await grants.access(call.hub, cluster, call.path("id")))


async def release_job_access(call: Call) -> Reply:
    cluster = own(call)
    await grants.release(call.hub, cluster, call.path("id"))
    return Reply(204, None)


ROUTES = (
    Route(
        "PUT",
        "/api/v1/clusters/{cluster}/sealing-key",
        register_sealing_key,
        "Register the public key this cluster's agent opens its grants with",
        Role.SPOKE,
        "grants",
        body=SealingKey,
        answers={200: SealingKeyReceipt},
        description="A changed key drops the grants sealed to the old one; the targets' "
        "agents mint them again.",
    ),
    Route(
        "GET",
        "/api/v1/clusters/{cluster}/grants",
        grants_to_mint,
        "Grants this cluster's agent is to mint as a migration target (long-poll)",
        Role.SPOKE,
        "grants",
        answers={200: GrantList},
        params=(
            wait_param("a grant to mint"),
            Param(
                "held",
                "Comma-separated ids of the grants whose service accounts the agent holds: "
                f"the wait also ends when one must be revoked (at most {MAX_IDS})",
                listing=True,
            ),
        ),
        description="`requests` are the grants to mint now (new, or a third of their "
        "token's life left); `open` are all grants whose service accounts must stay.",
    ),
    Route(
        "PUT",
        "/api/v1/clusters/{cluster}/grants/{id}",
        hand_in_grant,
        "Hand in a grant, sealed to the source agent's key",
        Role.SPOKE,
        "grants",
        body=SealedGrant,
        answers={200: GrantReceipt},
    ),
    Route(
        "POST",
        "/api/v1/clusters/{cluster}/grants/{id}/failure",
        grant_failed,
        "Say why a grant could not be minted: the source's task shows the reason",
        Role.SPOKE,
        "grants",
        body=GrantFailure,
        answers={204: None},
    ),
    Route(
        "GET",
        "/api/v1/clusters/{cluster}/jobs/{id}/access",
        job_access,
        "The sealed connection to a job's target cluster",
        Role.SPOKE,
        "grants",
        answers={200: SealedGrant},
        description="409 `access_pending` while the target's agent has not granted it yet.",
    ),
    Route(
        "DELETE",
        "/api/v1/clusters/{cluster}/jobs/{id}/access",
        release_job_access,
        "The source agent is done with the target: its access is revoked",
        Role.SPOKE,
        "grants",
        answers={204: None},
    ),
)
