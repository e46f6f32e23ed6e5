"""CapacityReport v2: what a spoke tells the hub about its cluster.

v2 carries what sizing by KubeVirt's own rules needs: the KubeVirt and CDI releases, the
KubeVirt CR's configuration in KubeVirt's own field names, each VM's template with the
instancetype and preference revisions it runs with, the labels of the node it runs on and
the overhead KubeVirt measured for it, how many pods each node takes, the StorageProfile's
minimum volume size and volume mode, and the SR-IOV resources of NetworkAttachmentDefinitions.
A v1 report (from an agent not yet upgraded) is read and turned into v2 (`parse`).

The JSON Schema exported from these models is `policies/capacity-report.v2.schema.json`.
"""

import json
from decimal import Decimal
from typing import Any, Literal

import pydantic
from pydantic import AwareDatetime, Field, ValidationError, model_validator

from hub.models import kubevirt as k
from hub.models import report_v1 as v1
from hub.models.quantity import Units
from hub.models.report_v1 import (
    CapacitySource,
    PendingLauncher,
    Ratio,
    ResourceQuota,
    Resources,
    Taint,
)
from hub.models.vm import VirtualMachine, VolumeMode, Wire

__all__ = [
    "CapacityReport",
    "CapacitySource",
    "CdiSettings",
    "KubeVirtSettings",
    "Node",
    "PendingLauncher",
    "Ratio",
    "ResourceQuota",
    "Resources",
    "StorageClass",
    "Taint",
    "parse",
    "parse_json",
]


class Node(v1.Node):
    pods_allocatable: int | None = Field(
        None, ge=0, description="status.allocatable.pods: how many pods the node takes"
    )
    pods: int = Field(0, ge=0, description="Pods on the node that are not finished")


class StorageClass(v1.StorageClass):
    minimum_pvc_size_bytes: Units | None = Field(
        None,
        description="The StorageProfile's cdi.kubevirt.io/minimumSupportedPvcSize annotation",
    )
    volume_mode: VolumeMode | None = Field(
        None,
        description="The StorageProfile's first claimPropertySet volumeMode, which a "
        "DataVolume without one gets",
    )


class KubeVirtSettings(Wire):
    """The KubeVirt CR as sizing reads it; every unset field takes KubeVirt's default."""

    installed: bool = True
    version: str | None = Field(None, description="status.observedKubeVirtVersion")
    configuration: k.KubeVirtConfiguration = Field(
        default_factory=k.KubeVirtConfiguration, description="spec.configuration"
    )
    annotations: dict[str, str] = Field(
        default_factory=dict, description="metadata.annotations that change sizing"
    )
    runtime_classes: dict[str, k.ResourceList] = Field(
        default_factory=dict, description="RuntimeClass name -> overhead.podFixed"
    )


class CdiSettings(Wire):
    installed: bool = False
    version: str | None = Field(None, description="The CDI CR's status.observedVersion")


class CapacityReport(Wire):
    schema_version: Literal[2] = 2
    cluster: str = Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
    sequence: int = Field(ge=0, lt=2**63)
    generated_at: AwareDatetime
    kubevirt: KubeVirtSettings = KubeVirtSettings()
    cdi: CdiSettings = CdiSettings()
    nodes: tuple[Node, ...] = ()
    storage_classes: tuple[StorageClass, ...] = ()
    quotas: tuple[ResourceQuota, ...] = ()
    network_attachments: dict[str, str] = Field(
        default_factory=dict,
        description="namespace/name of each NetworkAttachmentDefinition -> its "
        "k8s.v1.cni.cncf.io/resourceName",
    )
    vms: tuple[VirtualMachine, ...] = ()
    pending_launchers: tuple[PendingLauncher, ...] = ()

    @model_validator(mode="after")
    def _unique_names(self) -> "CapacityReport":
        v1.unique_names(self.nodes, self.storage_classes, [v.key for v in self.vms])
        return self


def _configuration(settings: v1.KubeVirtSettings) -> k.KubeVirtConfiguration:
    developer: dict[str, Any] = {
        "cpuAllocationRatio": settings.cpu_allocation_ratio,
        "memoryOvercommit": settings.memory_overcommit_percent,
        "featureGates": list(settings.feature_gates),
    }
    data: dict[str, Any] = {"developerConfiguration": developer}
    ratio = settings.additional_guest_memory_overhead_ratio
    if ratio is not None and ratio != Decimal(1):
        data["additionalGuestMemoryOverheadRatio"] = str(ratio)
    return k.KubeVirtConfiguration.model_validate(data)


def upgrade(report: v1.CapacityReport) -> CapacityReport:
    """A v1 report read as v2: its KubeVirt settings become the CR configuration they came
    from and its flat VM specs become templates."""
    body = report.model_dump(exclude={"schema_version", "kubevirt", "vms"})
    settings = report.kubevirt
    return CapacityReport.model_validate(
        {
            **body,
            "kubevirt": KubeVirtSettings(
                installed=settings.installed,
                version=settings.version,
                configuration=_configuration(settings),
            ),
            "vms": [vm.machine() for vm in report.vms],
        }
    )


class _Version(pydantic.BaseModel):
    """Only the version: a report of one this hub does not read gets that one error."""

    schema_version: Literal[1, 2]


def parse(data: object) -> CapacityReport:
    """A v2 or v1 report; raises pydantic.ValidationError naming what is wrong. A report
    that names no schema_version is read as v2, and as v1 (which allowed that) if it is not
    a valid v2 one."""
    if isinstance(data, dict) and data.get("schema_version", 1) not in (1, 2):
        _Version.model_validate({"schema_version": data["schema_version"]})
    try:
        return CapacityReport.model_validate(data)
    except ValidationError as error:
        if isinstance(data, dict) and data.get("schema_version", 1) == 1:
            try:
                return upgrade(v1.CapacityReport.model_validate(data))
            except ValidationError:
                if "schema_version" in data:
                    raise
        raise error from None


def parse_json(raw: bytes | str) -> CapacityReport:
    try:
        return CapacityReport.model_validate_json(raw)
    except ValidationError as error:
        try:
            data = json.loads(raw)
        except ValueError:
            raise error from None
        return parse(data)
