"""The answer shape of the migration advisor that the OpenShift console's cross-cluster
migration wizard calls (`GET migration-targets`), so the hub can stand in for it unchanged.

Field names are camelCase as the wizard reads them; `cclmCheck` carries the hub's own full
result, which the wizard ignores.
"""

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from hub.models.check import CheckResult


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class SourceVolume(Camel):
    name: str
    storage_class: str
    size_bytes: int


class SourceVm(Camel):
    name: str
    namespace: str
    cluster: str
    cpu_cores: int
    memory_bytes: int
    volumes: tuple[SourceVolume, ...]


class Recommendation(Camel):
    cluster: str
    node: str | None
    total_score: float
    available_cpu_cores: float = Field(alias="availableCPUCores")
    available_memory_bytes: int
    storage_type: str
    ceph_available_bytes: int


class Candidate(Camel):
    cluster: str
    total_score: float
    cpu_score: float
    memory_score: float
    storage_score: float
    matched_storage_classes: tuple[str, ...]
    best_node: str | None
    available_cpu_cores: float = Field(alias="availableCPUCores")
    available_memory_bytes: int
    storage_type: str
    ceph_available_bytes: int


class ExcludedCluster(Camel):
    """The console plugin reads `reasons` (kubevirt-ui/kubevirt-plugin, CrossClusterMigration
    hooks/useClusterRecommendationTypes.ts); the advisor it was written against sends
    `reason` (stolostron/mtv-integrations api/types.go). Both are sent."""

    cluster: str
    reason: str
    reasons: tuple[str, ...]


class MigrationTargets(Camel):
    source_vm: SourceVm = Field(alias="sourceVM")
    recommendation: Recommendation | None = None
    candidates: tuple[Candidate, ...]
    excluded_clusters: tuple[ExcludedCluster, ...]
    cclm_check: CheckResult = Field(description="The hub's full check; the wizard ignores it")
