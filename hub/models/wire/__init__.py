"""What the hub and its spoke agents exchange, and nothing more: the capacity report (with
the VMs in KubeVirt's own terms and Kubernetes quantities), jobs and their progress, target
access grants, the error codes and the limits both sides hold to.

The spoke agent imports the hub only through this package (an import-linter contract holds
it) and `tests/unit/test_wire.py` pins its names, so the contract between the two sides
changes only on purpose. The console's models stay in `hub.models.api`.
"""

from hub.models import kubevirt, quantity
from hub.models.api import (
    JobList,
    Migration,
    PodStatus,
    Progress,
    ProgressReceipt,
    ProgressState,
    TaskVm,
    VmPhase,
)
from hub.models.check import Mode
from hub.models.grants import (
    GrantFailure,
    GrantList,
    GrantReceipt,
    GrantRequest,
    SealedGrant,
    SealingKey,
)
from hub.models.report import (
    CapacityReport,
    CapacitySource,
    CdiSettings,
    KubeVirtSettings,
    Node,
    PendingLauncher,
    ResourceQuota,
    StorageClass,
)
from hub.models.vm import (
    MAX_MESSAGE,
    SOURCE_STATE_PREFIXES,
    Disk,
    InstancetypeRevision,
    PreferenceRevision,
    SourceNode,
    VirtualMachine,
)
from hub.models.wire.codes import ErrorCode

__all__ = [
    "MAX_MESSAGE",
    "SOURCE_STATE_PREFIXES",
    "CapacityReport",
    "CapacitySource",
    "CdiSettings",
    "Disk",
    "ErrorCode",
    "GrantFailure",
    "GrantList",
    "GrantReceipt",
    "GrantRequest",
    "InstancetypeRevision",
    "JobList",
    "KubeVirtSettings",
    "Migration",
    "Mode",
    "Node",
    "PendingLauncher",
    "PodStatus",
    "PreferenceRevision",
    "Progress",
    "ProgressReceipt",
    "ProgressState",
    "ResourceQuota",
    "SealedGrant",
    "SealingKey",
    "SourceNode",
    "StorageClass",
    "TaskVm",
    "VirtualMachine",
    "VmPhase",
    "kubevirt",
    "quantity",
]
