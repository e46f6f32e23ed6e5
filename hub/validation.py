"""Pydantic validation errors, said the way a person fixes them: which field, what is wrong.

The API, the CLI and the file loaders all report errors through here so that the same
mistake reads the same everywhere.
"""

from typing import Any

import pydantic

from hub.models.wire.codes import ErrorCode

_CODES = {
    "extra_forbidden": ErrorCode.UNKNOWN_FIELD,
    "missing": ErrorCode.MISSING_FIELD,
    "string_too_short": ErrorCode.BLANK_FIELD,
    "json_invalid": ErrorCode.INVALID_JSON,
    "model_type": ErrorCode.INVALID_JSON,
}


def where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def problems(error: pydantic.ValidationError) -> list[dict[str, Any]]:
    out = []
    for item in error.errors(include_url=False):
        message = item["msg"]
        if item["type"] == "quantity":
            message = f"{_shown(item.get('input'))}: {message}"
        elif item["type"] == "string_too_short":
            message = "must not be blank"
        elif item["type"] == "extra_forbidden":
            message = "unknown field (check its spelling)"
        out.append({"field": where(item["loc"]), "problem": message, "type": item["type"]})
    return out


def code(error: pydantic.ValidationError) -> ErrorCode:
    """One code for the whole error: the most specific kind they share, else `invalid_field`."""
    kinds = {_CODES.get(item["type"], ErrorCode.INVALID_FIELD) for item in error.errors()}
    return kinds.pop() if len(kinds) == 1 else ErrorCode.INVALID_FIELD


def lines(error: pydantic.ValidationError, origin: str) -> str:
    return "\n".join(f"{origin}: at {p['field']}: {p['problem']}" for p in problems(error))
