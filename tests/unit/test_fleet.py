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
from hub.fleet.inventory import Entry, Inventory
from tests.support.builders import NOW, NodeBuilder, cluster_index, kubevirt, report

MODELS = ("Skylake-Server", "Icelake-Server")


def _cluster(name: str, nodes: int, rng: random.Random, ratio: int = 10) -> ClusterIndex:
    built = [
        NodeBuilder(f"{name}-{i}")
        .cpu(str(rng.choice((16, 32))), str(rng.randrange(0, 16)))
        .memory(f"{rng.choice((64, 128))}Gi", f"{rng.randrange(0, 60)}Gi")
        .label(f"cpu-model-migration.node.kubevirt.io/{rng.choice(MODELS)}")
        .build()
        for i in range(nodes)
    ]
    settings = kubevirt(developer={"cpuAllocationRatio": ratio})
    return cluster_index(report(name, built, kubevirt=settings))


def _same(a: fleet.FleetIndex, b: fleet.FleetIndex) -> None:
    assert [c.name for c in a.clusters] == [c.name for c in b.clusters]
    for item in fields(fleet.FleetIndex):
        left, right = getattr(a, item.name), getattr(b, item.name)
        if item.name == "node_labels":
            assert [a.label_sets[i] for i in left] == [b.label_sets[i] for i in right]
        elif isinstance(left, np.ndarray):
            np.testing.assert_array_equal(left, right, err_msg=item.name)
    for one, other in zip(a.blocks, b.blocks, strict=True):
        assert (one.start, one.end) == (other.start, other.end)
        np.testing.assert_array_equal(one.clusters, other.clusters)
        np.testing.assert_array_equal(one.offsets, other.offsets)


def _fleet(rng: random.Random) -> tuple[dict[str, tuple[int, int]], fleet.FleetIndex]:
    """Clusters of two settings (CPU allocation ratios), some without nodes."""
    shapes = {f"c{i}": (rng.randrange(0, 6), rng.choice((10, 4))) for i in range(8)}
    return shapes, fleet.build(_cluster(n, k, rng, r) for n, (k, r) in shapes.items())


@pytest.mark.parametrize("seed", range(5))
def test_patch_equals_build(seed: int) -> None:
    rng = random.Random(seed)
    shapes, old = _fleet(rng)
    changed = {
        n: _cluster(n, shapes[n][0], rng, shapes[n][1]) for n in rng.sample(sorted(shapes), 3)
    }
    patched = fleet.patch(old, list(changed.values()))
    assert patched is not None
    current = {c.name: changed.get(c.name, c) for c in old.clusters}
    _same(patched, fleet.build(current.values()))


@pytest.mark.parametrize("seed", range(5))
def test_nodes_with_room_are_found_per_setting_as_a_loop_over_nodes_finds_them(seed: int) -> None:
    rng = random.Random(seed)
    _, built = _fleet(rng)
    settings = len(built.sizings)
    cpu = np.array([rng.randrange(0, 20_000) for _ in range(settings)], dtype=np.int64)
    memory = np.array([rng.randrange(0, 80) * 2**30 for _ in range(settings)], dtype=np.int64)
    model = f"cpu-model-migration.node.kubevirt.io/{rng.choice(MODELS)}"
    labels = [((model, "true"),) if rng.random() < 0.7 else () for _ in range(settings)]
    found = built.with_room(built.node_usable, cpu, memory, labels)
    for at, cluster in enumerate(built.clusters):
        i = int(built.sizing_of[at])
        expected = any(
            cluster.usable[n]
            and cluster.pods_free[n] >= 1
            and cluster.cpu_free[n] >= cpu[i]
            and cluster.memory_free[n] >= memory[i]
            and all(cluster.labels_of(n).get(k) == v for k, v in labels[i])
            for n in range(len(cluster.node_names))
        )
        assert bool(found[at]) == expected, cluster.name


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


def test_a_cluster_sending_reports_often_keeps_one_parsed_copy() -> None:
    """Superseded reports were kept parsed until the cache filled: ~48 MiB each at 20,000
    nodes. Only the newest of a cluster is worth keeping."""
    inventory = Inventory()
    inventory.put(Entry("a", {}, datetime(2026, 1, 1, tzinfo=UTC)))
    for sequence in range(1, 6):
        built = report("a", [NodeBuilder(f"a-{sequence}").build()])
        body = payloads.gzip(built.model_dump_json().encode())
        assert inventory.apply_report("a", sequence, body, NOW, built)
        newest = inventory.report("a")
        assert newest is not None
        assert [n.name for n in newest.nodes] == [f"a-{sequence}"]
    assert len(inventory._parsed) == 1  # the cache is the point of the test
