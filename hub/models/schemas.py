"""The JSON Schema documents exported from the wire models, by file name in `policies/`."""

import json
from typing import Any

from pydantic import BaseModel

from hub.models import report_v1
from hub.models.policy import Policy
from hub.models.report import CapacityReport

REPORT_SCHEMA = "capacity-report.v2.schema.json"
REPORT_V1_SCHEMA = "capacity-report.v1.schema.json"
"""Still accepted from agents not yet upgraded."""
POLICY_SCHEMA = "policy.v1.schema.json"


def documents() -> dict[str, dict[str, Any]]:
    def document(model: type[BaseModel], title: str) -> dict[str, Any]:
        schema = model.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        schema["title"] = title
        return schema

    return {
        REPORT_SCHEMA: document(CapacityReport, "CapacityReport v2"),
        REPORT_V1_SCHEMA: document(report_v1.CapacityReport, "CapacityReport v1"),
        POLICY_SCHEMA: document(Policy, "Capacity policy v1"),
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"
