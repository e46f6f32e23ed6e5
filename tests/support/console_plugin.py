"""The answer the OpenShift console's cross-cluster migration wizard reads, as JSON Schema
written from its TypeScript types (kubevirt-ui/kubevirt-plugin at 0dc2b824,
src/multicluster/components/CrossClusterMigration/hooks/useClusterRecommendationTypes.ts):
every field there is required; extra fields are allowed (TypeScript ignores them at run
time). Two deliberate departures, both read by the plugin with `?.`
(components/ClusterRecommendationPanel.tsx): `recommendation` is left out when nothing fits,
as the advisor the plugin was written against does (stolostron/mtv-integrations
api/types.go, `omitempty`), and a candidate's `bestNode` is null when no node is named."""

from typing import Any

import jsonschema

_NUMBER = {"type": "number"}
_STRING = {"type": "string"}


def _object(properties: dict[str, Any], optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
    }


VOLUME = _object({"name": _STRING, "sizeBytes": _NUMBER, "storageClass": _STRING})
SOURCE_VM = _object(
    {
        "cluster": _STRING,
        "cpuCores": _NUMBER,
        "memoryBytes": _NUMBER,
        "name": _STRING,
        "namespace": _STRING,
        "volumes": {"type": "array", "items": VOLUME},
    }
)
CANDIDATE = _object(
    {
        "availableCPUCores": _NUMBER,
        "availableMemoryBytes": _NUMBER,
        "bestNode": {"type": ["string", "null"]},
        "cluster": _STRING,
        "cpuScore": _NUMBER,
        "matchedStorageClasses": {"type": "array", "items": _STRING},
        "memoryScore": _NUMBER,
        "storageScore": _NUMBER,
        "storageType": _STRING,
        "totalScore": _NUMBER,
    }
)
RECOMMENDATION = _object(
    {
        "availableCPUCores": _NUMBER,
        "availableMemoryBytes": _NUMBER,
        "cluster": _STRING,
        "node": {"type": ["string", "null"]},
        "storageType": _STRING,
        "totalScore": _NUMBER,
    }
)
EXCLUDED = _object(
    {"cluster": _STRING, "reasons": {"type": "array", "items": _STRING, "minItems": 1}}
)
MIGRATION_TARGET_RESPONSE = _object(
    {
        "candidates": {"type": "array", "items": CANDIDATE},
        "excludedClusters": {"type": "array", "items": EXCLUDED},
        "recommendation": RECOMMENDATION,
        "sourceVM": SOURCE_VM,
    },
    optional=("recommendation",),
)


def check(answer: Any) -> None:
    jsonschema.Draft202012Validator(MIGRATION_TARGET_RESPONSE).validate(answer)
