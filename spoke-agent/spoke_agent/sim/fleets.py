"""Simulated clusters: Kubernetes-shaped objects held in memory, served to the same collector
as the real API. A fleet generator builds reproducible fleets from a seed, for the demo, the
end-to-end tests and the benchmarks."""

import random
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from spoke_agent.access.target_tokens import Minted
from spoke_agent.report.snapshot import Snapshot
from spoke_agent.sim import objects as m

GIB = 2**30
SHAPES = ((16, 64), (32, 128), (64, 256), (96, 384))
"""(cores, GiB) of the node types a generated cluster is made of."""
VM_SIZES = ((1, 2), (2, 4), (2, 8), (4, 16), (8, 32), (16, 64))
REGIONS = ("eu-west", "eu-central", "us-east", "us-west", "ap-south")


@dataclass
class SimulatedCluster:
    """A cluster's objects, mutable the way a cluster changes: pods come and go, nodes are
    cordoned, VMs are started and stopped."""

    name: str
    labels: dict[str, str] = field(default_factory=dict)
    objects: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    version: int = 0
    """The cluster-wide resourceVersion counter, as the API server keeps one."""

    def touch(self, obj: dict[str, Any]) -> None:
        """Record a change to `obj`, the way the API server bumps its resourceVersion."""
        self.version += 1
        obj["metadata"]["resourceVersion"] = str(self.version)

    def add(self, kind: str, obj: dict[str, Any]) -> None:
        self.touch(obj)
        self.objects.setdefault(kind, []).append(obj)

    def remove(self, kind: str, namespace: str | None, name: str) -> None:
        self.objects[kind] = [
            o
            for o in self.objects.get(kind, [])
            if (o["metadata"].get("namespace"), o["metadata"]["name"]) != (namespace, name)
        ]

    def cordon(self, node: str, cordoned: bool = True) -> None:
        for obj in self.objects.get("nodes", []):
            if obj["metadata"]["name"] == node:
                obj["spec"]["unschedulable"] = cordoned
                self.touch(obj)

    def snapshot(self) -> Snapshot:
        return Snapshot(**{kind: list(items) for kind, items in self.objects.items()})


@dataclass(frozen=True, slots=True)
class FleetShape:
    clusters: int = 4
    nodes: int = 20
    fill: float = 0.6
    """Mean fraction of each node's memory requested by pods."""
    fragmentation: float = 0.2
    """Spread of the fill between nodes (0: every node equally full)."""
    vms_per_node: int = 2
    pods_per_node: int = 10


def _node_objects(
    rng: random.Random, cluster: SimulatedCluster, shape: FleetShape, region: str
) -> None:
    for i in range(shape.nodes):
        cores, memory = SHAPES[rng.randrange(len(SHAPES))]
        name = f"{cluster.name}-n{i:03d}"
        labels = {
            "topology.kubernetes.io/region": region,
            "topology.kubernetes.io/zone": f"{region}-{i % 3}",
        }
        cluster.add("nodes", m.node(name, str(cores), f"{memory}Gi", labels=labels))
        fill = min(max(rng.gauss(shape.fill, shape.fragmentation), 0.0), 0.95)
        per_pod = int(memory * GIB * fill / max(shape.pods_per_node, 1))
        cpu_per_pod = int(cores * 1000 * fill / max(shape.pods_per_node, 1))
        for p in range(shape.pods_per_node):
            pod = m.pod(
                "apps",
                f"{name}-pod-{p}",
                name,
                [m.container("app", f"{cpu_per_pod}m", str(per_pod))],
            )
            cluster.add("pods", pod)


def _vm_objects(rng: random.Random, cluster: SimulatedCluster, shape: FleetShape) -> None:
    nodes = [n["metadata"]["name"] for n in cluster.objects.get("nodes", [])]
    for i in range(shape.vms_per_node * len(nodes)):
        cores, memory = VM_SIZES[rng.randrange(len(VM_SIZES))]
        namespace, name = f"team-{i % 7}", f"vm-{i:05d}"
        disk = f"{name}-root"
        cluster.add(
            "persistent_volume_claims",
            m.pvc(namespace, disk, f"{rng.choice((20, 50, 100))}Gi", "ceph-rbd"),
        )
        volumes = [{"name": "root", "persistentVolumeClaim": {"claimName": disk}}]
        cluster.add(
            "virtual_machines", m.virtual_machine(namespace, name, cores, f"{memory}Gi", volumes)
        )
        if rng.random() < 0.8:
            node = nodes[rng.randrange(len(nodes))]
            cluster.add("virtual_machine_instances", m.instance(namespace, name, node))
            cluster.add("pods", m.launcher(namespace, name, node, str(cores), f"{memory}Gi"))


def cluster(name: str, seed: int, shape: FleetShape, region: str) -> SimulatedCluster:
    rng = random.Random(f"{seed}/{name}")
    built = SimulatedCluster(name, {"topology.kubernetes.io/region": region, "env": "sim"})
    built.add("kubevirts", m.kubevirt())
    built.add("storage_classes", m.storage_class("ceph-rbd", "rbd.csi.ceph.com", default=True))
    built.add("storage_classes", m.storage_class("nfs", "nfs.csi.k8s.io"))
    pool = shape.nodes * rng.choice((2, 4, 8))
    built.add("csi_storage_capacities", m.csi_capacity("ceph", "ceph-rbd", f"{pool}Ti"))
    _node_objects(rng, built, shape, region)
    _vm_objects(rng, built, shape)
    return built


def fleet(seed: int, shape: FleetShape = FleetShape()) -> list[SimulatedCluster]:
    """The same seed and shape always give the same fleet."""
    return [
        cluster(f"sim-{i:03d}", seed, shape, REGIONS[i % len(REGIONS)])
        for i in range(shape.clusters)
    ]


@dataclass
class SimulatedMinter:
    """A target cluster's service accounts and TokenRequest API in memory: grants for the
    demo, with the real minter's contract (repeatable mint, granted, revoke)."""

    clock: Callable[[], datetime]
    accounts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """migration id -> the namespaces its account is bound in."""

    def mint(self, migration_id: str, namespaces: Sequence[str], ttl_seconds: int) -> Minted:
        self.accounts[migration_id] = tuple(namespaces)
        expires = self.clock() + timedelta(seconds=ttl_seconds)
        return Minted(token=secrets.token_urlsafe(32), expires_at=expires)

    def granted(self) -> set[str]:
        return set(self.accounts)

    def revoke(self, migration_id: str, namespaces: Sequence[str] = ()) -> None:
        del namespaces
        self.accounts.pop(migration_id, None)
