"""Two middlewares: every failure becomes `{"error": {code, message, details}}`, and every
route's role is enforced before its handler runs."""

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from hub.access.kube_review import KubeReviewer
from hub.errors import Forbidden, HubError, Invalid, Unauthorized
from hub.models.api import Role
from hub.models.wire.codes import ErrorCode
from hub.service import Hub, Principal

log = logging.getLogger("cclm.api")
Next = Callable[[web.Request], Awaitable[web.StreamResponse]]
RANK = {Role.VIEWER: 1, Role.OPERATOR: 2, Role.ADMIN: 3}


def error_response(status: int, code: str, message: str, details: Any = None) -> web.Response:
    body = {"error": {"code": code, "message": message, "details": details}}
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


_HTTP_CODES = {
    404: (ErrorCode.NOT_FOUND, "no such endpoint; see /api/v1/openapi.json"),
    405: (ErrorCode.METHOD_NOT_ALLOWED, "this endpoint does not take that method"),
    413: (ErrorCode.PAYLOAD_TOO_LARGE, "the request body is too large"),
}


@web.middleware
async def errors(request: web.Request, handler: Next) -> web.StreamResponse:
    try:
        return await handler(request)
    except HubError as error:
        response = error_response(error.status, error.code, error.message, error.details)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="cclm"'
        return response
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code, message = _HTTP_CODES.get(error.status, (ErrorCode.HTTP_ERROR, error.reason))
        details = None
        headers = {}
        if error.status == 405 and isinstance(error, web.HTTPMethodNotAllowed):
            details = {"allowed": sorted(error.allowed_methods)}
            headers["Allow"] = ", ".join(details["allowed"])  # RFC 9110, 15.5.6
        response = error_response(error.status, code, message, details)
        response.headers.update(headers)
        return response
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(
            500,
            ErrorCode.INTERNAL,
            "the hub failed to handle this request; the error is in its log",
        )


CREDENTIAL_PARAMETERS = frozenset({"token", "access_token", "bearer", "authorization", "api_key"})


def refuse_credentials_in_url(request: web.Request) -> None:
    """A token in a URL lands in access logs, proxies and browser history; refused whether
    or not it is valid, before anything reads it."""
    given = sorted(k for k in request.query if k.lower() in CREDENTIAL_PARAMETERS)
    if given:
        raise Invalid(
            f"query parameter {given[0]!r} looks like a credential; send the token in the "
            "Authorization header (Authorization: Bearer <token>), never in the URL",
            details={"parameters": given},
            code=ErrorCode.CREDENTIALS_IN_URL,
        )


CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def refuse_control_characters(request: web.Request) -> None:
    """No name, state or filter the hub knows holds a control character, and PostgreSQL
    refuses a NUL outright; refused here, in the terms of the URL, before any store sees it."""
    given = [*request.match_info.items(), *request.query.items()]
    bad = sorted({name for name, value in given if CONTROL.search(value)})
    if bad:
        where = "path segment" if bad[0] in request.match_info else "query parameter"
        raise Invalid(
            f"{where} {bad[0]} holds a control character (such as NUL or a newline); "
            "send printable text",
            details={"parameters": bad},
            code=ErrorCode.INVALID_PARAMETER,
        )


REVIEWER_KEY: web.AppKey[KubeReviewer] = web.AppKey("kube-reviewer", KubeReviewer)
"""With `--kube-auth`: reviews the tokens the hub did not issue with the hub cluster."""


async def principal(hub: Hub, request: web.Request, role: Role) -> Principal:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "send a token: Authorization: Bearer <token>", code=ErrorCode.MISSING_TOKEN
        )
    found = hub.authenticate(token.strip())
    reviewer = request.app.get(REVIEWER_KEY)
    if found is None and reviewer is not None:
        found = await reviewer.principal(token.strip())
    if found is None:
        raise Unauthorized("the token is not valid (revoked, mistyped or from another hub)")
    if role == Role.SPOKE:
        # Not even an admin's: a spoke route speaks for a cluster's agent (its reports, its
        # jobs, the key grants are sealed to), and a token in the wrong hands must not.
        if found.role != Role.SPOKE:
            raise Forbidden(
                f"this endpoint is for spoke agents, each with its cluster's token; a "
                f"{found.role.value} token may not use it",
                details={"needed": Role.SPOKE.value, "has": found.role.value},
            )
        return found
    if found.role == Role.SPOKE or RANK[found.role] < RANK[role]:
        raise Forbidden(
            f"this needs the {role.value} role; the token {found.name!r} has {found.role.value}",
            details={"needed": role.value, "has": found.role.value},
        )
    return found
