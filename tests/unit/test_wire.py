"""The wire package is the whole contract between hub and spoke agent: its names are pinned
here, so adding or dropping one is a visible, reviewed change (the way httpx pins its
exports), and every pinned name is really there."""

import hub.models.wire as wire
from hub.models.wire import ErrorCode

PINNED = {
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
}


def test_the_wire_exports_exactly_the_pinned_names() -> None:
    assert set(wire.__all__) == PINNED
    assert len(wire.__all__) == len(PINNED)
    public = {name for name in vars(wire) if not name.startswith("_")} - {"codes"}
    assert public == PINNED


def test_every_pinned_name_resolves() -> None:
    for name in PINNED:
        assert getattr(wire, name) is not None, name


def test_error_codes_are_their_own_wire_spelling() -> None:
    assert ErrorCode.ACCESS_PENDING == "access_pending"
    assert all(code.value == code.name.lower() for code in ErrorCode)
    assert len({code.value for code in ErrorCode}) == len(ErrorCode)
