"""The OpenAPI 3.1 document, generated from the route table and the pydantic models.

Because the router and this document come from the same declarations, a route cannot exist
without being documented; the tests check every answer the hub gives against it.
"""

import re
from collections.abc import Sequence
from typing import Any, Literal

import pydantic
from pydantic.json_schema import models_json_schema

from hub.api.routing import Route
from hub.models.api import ErrorResponse

REF = "#/components/schemas/{model}"
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"
"""No control characters: the server refuses them in every path segment and parameter."""
PRINTED = r"^[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f][^\x00-\x1f\x7f]*$"
"""Printable and not blank."""
Mode = Literal["validation", "serialization"]


def _schemas(
    routes: Sequence[Route],
) -> tuple[dict[tuple[type[pydantic.BaseModel], Mode], Any], dict[str, Any]]:
    wanted: list[tuple[type[pydantic.BaseModel], Mode]] = [(ErrorResponse, "serialization")]
    for route in routes:
        if route.body is not None:
            wanted.append((route.body, "validation"))
        wanted += [(m, "serialization") for m in route.answers.values() if m is not None]
    unique = list(dict.fromkeys(wanted))
    refs, definitions = models_json_schema(unique, ref_template=REF)
    return refs, definitions.get("$defs", {})  # type: ignore[return-value]


def _parameters(route: Route) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": PRINTABLE},
        }
        for name in re.findall(r"{(\w+)}", route.path)
    ]
    for param in route.params:
        schema: dict[str, Any] = {"type": "integer" if param.integer else "string"}
        if not (param.integer or param.listing):
            schema["pattern"] = PRINTED  # not blank: the server refuses a blank value
        elif not param.integer:
            schema["pattern"] = PRINTABLE
        if param.choices:
            schema["enum"] = list(param.choices)
        for bound in ("minimum", "maximum"):
            if getattr(param, bound) is not None:
                schema[bound] = getattr(param, bound)
        out.append(
            {
                "name": param.name,
                "in": param.where,
                "required": param.required,
                "description": param.description,
                "schema": schema,
            }
        )
    return out


def _operation(
    route: Route, refs: dict[tuple[type[pydantic.BaseModel], Mode], Any]
) -> dict[str, Any]:
    error = {"application/json": {"schema": refs[(ErrorResponse, "serialization")]}}
    responses: dict[str, Any] = {}
    for status, model in route.answers.items():
        answer: dict[str, Any] = {"description": "OK" if status < 300 else str(status)}
        if model is not None:
            answer["content"] = {"application/json": {"schema": refs[(model, "serialization")]}}
        elif status == 200 and route.streams:
            answer["content"] = {route.streams: {"schema": {"type": "string"}}}
        responses[str(status)] = answer
    responses["4XX"] = {"description": "The request cannot be served as sent", "content": error}
    responses["503"] = {"description": "Starting, or busy: retry", "content": error}
    operation: dict[str, Any] = {
        "operationId": route.handler.__name__,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": _parameters(route),
        "responses": responses,
    }
    if route.description:
        operation["description"] = route.description
    if route.role is None:
        operation["security"] = []
    else:
        operation["x-required-role"] = route.role.value
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(route.body, "validation")]}},
        }
    return operation


def _plain_paths() -> dict[str, dict[str, Any]]:
    """The two endpoints served outside the route table: this document and the metrics."""

    def plain(summary: str, kind: str, schema: dict[str, Any]) -> dict[str, Any]:
        content = {kind: {"schema": schema}}
        return {
            "get": {
                "operationId": summary.split()[0].lower(),
                "summary": summary,
                "tags": ["health"],
                "security": [],
                "responses": {"200": {"description": "OK", "content": content}},
            }
        }

    return {
        "/api/v1/openapi.json": plain(
            "OpenAPI document of this API", "application/json", {"type": "object"}
        ),
        "/metrics": plain(
            "Prometheus metrics (text exposition format)", "text/plain", {"type": "string"}
        ),
    }


def document(routes: Sequence[Route]) -> dict[str, Any]:
    refs, definitions = _schemas(routes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs)
    paths.update(_plain_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cclm hub",
            "version": "1",
            "description": "Capacity-aware cross-cluster live migration of KubeVirt VMs: "
            "capacity reports, checks, migrations with reservations, tasks.",
        },
        "paths": paths,
        "components": {
            "schemas": definitions,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }
