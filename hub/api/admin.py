"""Tokens and policy (admin), health probes (public)."""

import json

import yaml
from pydantic import BaseModel

from hub.api.routing import Call, Reply, Route
from hub.errors import Invalid, Unavailable
from hub.models.api import MintedToken, Role, TokenList, TokenRequest
from hub.models.policy import Policy
from hub.models.wire.codes import ErrorCode
from hub.service import info


class Health(BaseModel):
    status: str


async def list_tokens(call: Call) -> Reply:
    return Reply(200, TokenList(items=tuple(info(t) for t in call.hub.tokens.values())))


async def create_token(call: Call) -> Reply:
    request = await call.body(TokenRequest)
    return Reply(201, await call.hub.mint(request.name, request.role))


async def revoke_token(call: Call) -> Reply:
    token_id = call.path("id")
    if call.principal is not None and call.principal.token_id == token_id:
        raise Invalid(
            "a token cannot revoke itself; use another admin token", code=ErrorCode.SELF_REVOKE
        )
    await call.hub.revoke(token_id)
    return Reply(204, None)


async def get_policy(call: Call) -> Reply:
    return Reply(200, call.hub.policy)


async def put_policy(call: Call) -> Reply:
    raw = await call.raw(call.hub.settings.max_body_bytes)
    if not raw.strip():
        raise Invalid("the request needs a policy document (JSON)", code=ErrorCode.MISSING_BODY)
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise Invalid(
            f"the policy is not valid JSON: {error}", code=ErrorCode.INVALID_JSON
        ) from error
    if not isinstance(document, dict):
        raise Invalid("the policy must be a JSON object", code=ErrorCode.INVALID_JSON)
    text = yaml.safe_dump(document, sort_keys=False)
    return Reply(200, await call.hub.set_policy(text))


async def healthz(_call: Call) -> Reply:
    return Reply(200, Health(status="ok"))


async def readyz(call: Call) -> Reply:
    if not call.hub.ready:
        raise Unavailable("the hub is starting: the store is not open or reports are not loaded")
    return Reply(200, Health(status="ready"))


ROUTES = (
    Route("GET", "/healthz", healthz, "Liveness", None, "health", answers={200: Health}),
    Route(
        "GET",
        "/readyz",
        readyz,
        "Readiness: the store is open and persisted reports are loaded",
        None,
        "health",
        answers={200: Health},
    ),
    Route(
        "GET",
        "/api/v1/tokens",
        list_tokens,
        "List tokens (never their secrets)",
        Role.ADMIN,
        "admin",
        answers={200: TokenList},
    ),
    Route(
        "POST",
        "/api/v1/tokens",
        create_token,
        "Mint a viewer, operator or admin token; shown once",
        Role.ADMIN,
        "admin",
        body=TokenRequest,
        answers={201: MintedToken},
    ),
    Route(
        "DELETE",
        "/api/v1/tokens/{id}",
        revoke_token,
        "Revoke a token",
        Role.ADMIN,
        "admin",
        answers={204: None},
    ),
    Route(
        "GET",
        "/api/v1/policy",
        get_policy,
        "The capacity policy in force",
        Role.VIEWER,
        "admin",
        answers={200: Policy},
    ),
    Route(
        "PUT",
        "/api/v1/policy",
        put_policy,
        "Replace the capacity policy (validated first)",
        Role.ADMIN,
        "admin",
        body=Policy,
        answers={200: Policy},
    ),
)
