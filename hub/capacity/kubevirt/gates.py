"""KubeVirt's feature gates as each release evaluates them.

Up to v1.8 a gate is on only when GA or listed in `featureGates` (`pkg/virt-config/
feature-gates.go` `isFeatureGateEnabled`); from v1.9.0 a Beta gate is on unless listed in
`disabledFeatureGates` (`pkg/virt-config/featuregate/feature-gates.go:111`). No gate changed
state in a patch release from v1.5.0 to v1.9.0.
"""

from hub.capacity.kubevirt.release import Release, since
from hub.models.kubevirt import DeveloperConfiguration

ALPHA, BETA, GA = "Alpha", "Beta", "GA"

_STATES: dict[str, tuple[tuple[str, str], ...]] = {
    # gate: ((first release, state from then on), ...), from `RegisterFeatureGate` in
    # pkg/virt-config/featuregate/active.go at each tag
    "ImageVolume": (("1.6.0", ALPHA), ("1.7.0", BETA)),
    "ExternalNetResourceInjection": (("1.8.0", BETA),),
    "PasstBinding": (("1.8.0", BETA),),
    "GPUsWithDRA": (("1.6.0", ALPHA), ("1.9.0", BETA)),
    "HostDevicesWithDRA": (("1.6.0", ALPHA), ("1.9.0", BETA)),
    "VmiMemoryOverheadReport": (("1.8.0", ALPHA), ("1.9.0", BETA)),
    "AlignCPUs": (("1.5.0", ALPHA),),
    "HypervStrictCheck": (("1.5.0", ALPHA),),
    "CrossArchitectureVirtualization": (("1.9.0", ALPHA),),
    "IOMMUFD": (("1.9.0", ALPHA),),
    "DecentralizedLiveMigration": (("1.6.0", ALPHA),),
    "Sidecar": (("1.5.0", ALPHA),),
    "WorkloadEncryptionSEV": (("1.5.0", ALPHA), ("1.9.0", BETA)),
}


def state(gate: str, release: Release) -> str | None:
    found = None
    for first, gate_state in _STATES.get(gate, ()):
        if since(release, first):
            found = gate_state
    return found


def enabled(gate: str, release: Release, developer: DeveloperConfiguration) -> bool:
    gate_state = state(gate, release)
    if gate_state is None:
        return False
    if gate_state == GA or gate in developer.feature_gates:
        return True
    if not since(release, "1.9.0"):
        return False
    return gate not in developer.disabled_feature_gates and gate_state == BETA
