"""Patching the fleet index in place of changed clusters gives what a full build gives, and
background indexing reaches every cluster that has a report."""

import random
from dataclasses import fields
from datetime import UTC, datetime

import numpy as np
import pytest

from hub import payloads
from hub.capacity import fleet
from hub.capacity.index import ClusterIndex
from hub.inventory import Entry, Inventory
from tests.builders import NOW, NodeBuilder, cluster_index, kubevirt, report


def _cluster(name: str, nodes: int, rng: random.Random, ratio: int = 10) -> ClusterIndex:
    built = [
        NodeBuilder(f"{name}-{i}")
        .cpu(str(rng.choice((16, 32))), str(rng.randrange(0, 16)))
        .memory(f"{rng.choice((64, 128))}Gi", f"{rng.randrange(0, 60)}Gi")
        .build()
        for i in range(nodes)
    ]
    settings = kubevirt(developer={"cpuAllocationRatio": ratio})
    return cluster_index(report(name, built, kubevirt=settings))


def _same(a: fleet.FleetIndex, b: fleet.FleetIndex) -> None:
    assert [c.name for c in a.clusters] == [c.name for c in b.clusters]
    for item in fields(fleet.FleetIndex):
        left, right = getattr(a, item.name), getattr(b, item.name)
        if isinstance(left, np.ndarray):
            np.testing.assert_array_equal(left, right, err_msg=item.name)


@pytest.mark.parametrize("seed", range(5))
def test_patch_equals_build(seed: int) -> None:
    rng = random.Random(seed)
    sizes = {f"c{i}": rng.randrange(1, 6) for i in range(8)}
    old = fleet.build(_cluster(n, k, rng) for n, k in sizes.items())
    changed = {n: _cluster(n, sizes[n], rng) for n in rng.sample(sorted(sizes), 3)}
    patched = fleet.patch(old, list(changed.values()))
    assert patched is not None
    current = {c.name: changed.get(c.name, c) for c in old.clusters}
    _same(patched, fleet.build(current.values()))


def test_patch_declines_a_new_shape_a_new_cluster_or_new_sizing() -> None:
    rng = random.Random(1)
    old = fleet.build([_cluster("a", 2, rng), _cluster("b", 3, rng)])
    assert fleet.patch(old, [_cluster("a", 3, rng)]) is None
    assert fleet.patch(old, [_cluster("z", 2, rng)]) is None
    assert fleet.patch(old, [_cluster("a", 2, rng, ratio=4)]) is None


def test_warming_skips_clusters_without_a_report() -> None:
    inventory = Inventory()
    registered = datetime(2026, 1, 1, tzinfo=UTC)
    for name in ("a", "b", "c"):
        inventory.put(Entry(name, {}, registered))
    body = payloads.gzip(report("z", [NodeBuilder("z-1").build()]).model_dump_json().encode())
    inventory.put(Entry("z", {}, registered))
    inventory.apply_report("z", 1, body, NOW)
    assert inventory.warm(1) == 0
    assert inventory.index("z") is not None
    assert [c.name for c in inventory.fleet().clusters] == ["z"]
