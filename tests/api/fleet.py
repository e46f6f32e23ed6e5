"""A small fleet for API tests: `east` runs the VMs, `west` has room, `tiny` has little."""

from typing import Any

from hub.models.report import CapacityReport
from tests.support.builders import NOW, NodeBuilder, report, storage_class, vm

MODEL = "Cascadelake-Server"
"""The host CPU model of every node here, so the running VMs can live-migrate between them."""


def _node(name: str) -> NodeBuilder:
    return NodeBuilder(name).label(f"cpu-model-migration.node.kubevirt.io/{MODEL}")


def east(sequence: int = 1, **extra: Any) -> CapacityReport:
    vms = (
        vm(
            "db",
            "shop",
            memory="16Gi",
            cores=4,
            disks=[{"name": "root", "size_bytes": "100Gi"}],
            host_model=MODEL,
        ),
        vm("web", "shop", memory="2Gi", host_model=MODEL),
        vm("cache", "shop", memory="8Gi", cores=2, host_model=MODEL),
    )
    nodes = [_node(f"east-{i}").cpu("32", "8").memory("128Gi", "32Gi").build() for i in (1, 2)]
    built = report("east", nodes, vms=vms, **extra)
    return built.model_copy(update={"sequence": sequence})


def west(sequence: int = 1, memory: str = "64Gi", used: str = "0") -> CapacityReport:
    nodes = [_node(f"west-{i}").cpu("16").memory(memory, used).build() for i in (1, 2)]
    return report("west", nodes).model_copy(update={"sequence": sequence, "generated_at": NOW})


def tiny(sequence: int = 1) -> CapacityReport:
    nodes = [_node("tiny-1").cpu("4").memory("8Gi", "4Gi").build()]
    return report("tiny", nodes, storage_classes=[storage_class(available="50Gi")]).model_copy(
        update={"sequence": sequence}
    )
