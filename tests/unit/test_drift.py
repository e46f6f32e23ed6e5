"""Model drift: a VM whose launcher overhead KubeVirt measured (`kubevirt.io/memory-overhead-
bytes`, the VmiMemoryOverheadReport gate) is above what the rules give on its own cluster."""

from hub.capacity.drift import drifted
from hub.capacity.kubevirt import render
from tests.support.builders import vm

GI = 2**30


def test_only_a_measured_overhead_above_the_rules_is_drift() -> None:
    own = render.default_target()
    above = vm("db", "shop", memory="4Gi").model_copy(update={"measured_overhead_bytes": GI})
    below = vm("web", "shop", memory="4Gi").model_copy(update={"measured_overhead_bytes": 1})
    unmeasured = vm("cache", "shop", memory="4Gi")
    [(key, measured, computed)] = drifted([above, below, unmeasured], own)
    assert (key, measured) == ("shop/db", GI)
    # the rules' overhead for a 4 GiB, 1-vCPU VM is a few hundred MiB (kubevirt-sizing.md §1):
    # well under the 1 GiB measured, and above the 1 byte of the other
    assert 100 * 2**20 < computed < GI
