"""Disk sizes on the target by the CDI release it runs, worked by hand from CDI's source.

kubevirt/containerized-data-importer GetRequiredSpace:
  v1.62.0:pkg/controller/common/util.go:1482  ceil(RoundUp(size, 1Mi) / (1 - overhead))
  v1.63.0:pkg/util/util.go:232                ceil(RoundUp(size, 1Mi) x (1 + overhead))
  v1.63.0:pkg/controller/common/util.go:225   the StorageProfile's minimumSupportedPvcSize
Block volumes get no filesystem overhead; the float64 arithmetic is Go's, which Python's
float is.
"""

import math
from decimal import Decimal

import pytest

from hub.capacity import check
from hub.models.check import Code
from hub.models.policy import Policy
from hub.models.report import CdiSettings
from tests.support.builders import (
    GIB,
    MIB,
    NOW,
    NodeBuilder,
    cluster_index,
    report,
    storage_class,
    vm,
)

CTX = check.Context(policy=Policy(survive_largest_node_loss=False), now=NOW)
TEN_GIB = 10 * GIB


def _planned(cdi: str | None, disk: dict[str, object], **cls: object) -> tuple[int, list[Code]]:
    rep = report(
        "t",
        [NodeBuilder("n1").build()],
        cdi=CdiSettings(installed=True, version=cdi),
        storage_classes=[storage_class("ceph", **cls)],
    )
    machine = vm(disks=[{"name": "root", "storage_class": "ceph", **disk}])
    result = check.evaluate(cluster_index(rep), [machine], CTX).result
    [placement] = result.placements
    [volume] = placement.volumes
    return volume.size_bytes, [f.code for f in result.findings]


@pytest.mark.parametrize(
    ("cdi", "overhead", "expected"),
    [
        ("v1.62.0", "0.055", math.ceil(TEN_GIB / (1 - 0.055))),
        ("v1.63.0", "0.06", math.ceil(TEN_GIB * (1 + 0.06))),
        ("v1.66.0", "0.1", math.ceil(TEN_GIB * (1 + 0.1))),
    ],
)
def test_the_filesystem_overhead_by_cdi_release(cdi: str, overhead: str, expected: int) -> None:
    size, _ = _planned(cdi, {"size_bytes": TEN_GIB}, filesystem_overhead=Decimal(overhead))
    assert size == expected


def test_the_size_is_aligned_to_a_mebibyte_first() -> None:
    # 10^9 B is 953.67 MiB: 954 MiB, then x 1.06.
    size, _ = _planned("v1.63.0", {"size_bytes": 10**9}, filesystem_overhead=Decimal("0.06"))
    assert size == math.ceil(954 * MIB * 1.06)


def test_a_block_volume_gets_no_overhead() -> None:
    size, _ = _planned(
        "v1.63.0",
        {"size_bytes": 10**9, "volume_mode": "Block"},
        filesystem_overhead=Decimal("0.06"),
    )
    assert size == 954 * MIB


def test_the_storage_profiles_volume_mode_wins_over_the_source_disks() -> None:
    size, _ = _planned(
        "v1.63.0",
        {"size_bytes": TEN_GIB},
        filesystem_overhead=Decimal("0.06"),
        volume_mode="Block",
    )
    assert size == TEN_GIB


@pytest.mark.parametrize(("cdi", "expected"), [("v1.63.0", 5 * GIB), ("v1.62.0", GIB)])
def test_the_minimum_pvc_size_counts_from_cdi_1_63(cdi: str, expected: int) -> None:
    size, _ = _planned(
        cdi, {"size_bytes": GIB, "volume_mode": "Block"}, minimum_pvc_size_bytes=5 * GIB
    )
    assert size == expected


def test_an_unknown_cdi_release_is_sized_by_the_new_rules_and_says_so() -> None:
    size, codes = _planned(None, {"size_bytes": TEN_GIB}, filesystem_overhead=Decimal("0.06"))
    assert size == math.ceil(TEN_GIB * (1 + 0.06))
    assert Code.KUBEVIRT_RULES_APPROXIMATE in codes
