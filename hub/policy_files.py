"""Policy files: YAML on disk, validated against the JSON Schema in `policies/` so a mistake
is reported with the path to the offending value and the rule it breaks."""

import difflib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pydantic
import yaml

from hub import validation
from hub.models import schemas
from hub.models.policy import Policy

DEFAULT_POLICY = "default.yaml"


class PolicyError(ValueError):
    """A policy file that cannot be used; the message names the file, the path and the rule."""


def policies_dir() -> Path:
    """`policies/` beside the package in a checkout, or its copy inside an installed wheel."""
    packaged = Path(__file__).parent / "_policies"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "policies"


def schema() -> dict[str, Any]:
    document: dict[str, Any] = json.loads((policies_dir() / schemas.POLICY_SCHEMA).read_text())
    return document


def parse(text: str, origin: str) -> Policy:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise PolicyError(f"{origin}: not valid YAML: {error}") from error
    data = {} if data is None else data
    validator = jsonschema.Draft202012Validator(schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [
            f"{origin}: at {validation.where(tuple(e.absolute_path))}: {_said(e)}" for e in errors
        ]
        raise PolicyError("\n".join(lines))
    try:
        return Policy.model_validate(data)
    except pydantic.ValidationError as error:
        raise PolicyError(validation.lines(error, origin)) from error


def _said(error: jsonschema.ValidationError) -> str:
    """An unknown key as a person would name it, with the key most likely meant; any
    other error as the schema says it, with the rule."""
    known = error.schema.get("properties") if isinstance(error.schema, dict) else None
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return f"{error.message} (rule: {error.validator})"
    names = sorted(known or {})
    unknown = sorted(k for k in error.instance if k not in names)
    said = []
    for key in unknown:
        close = difflib.get_close_matches(key, names, n=1)
        meant = f" (did you mean {close[0]!r}?)" if close else ""
        said.append(f"unknown key {key!r}{meant}")
    return "; ".join(said) + f"; the keys here are: {', '.join(names)}"


def load(path: Path | None = None) -> Policy:
    path = path or policies_dir() / DEFAULT_POLICY
    try:
        text = path.read_text()
    except OSError as error:
        raise PolicyError(f"{path}: cannot read policy file: {error.strerror}") from error
    return parse(text, str(path))
