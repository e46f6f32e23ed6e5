"""Volumes on the target: which class each disk maps to, how large CDI makes it there
(`hub.capacity.cdi`), and whether each class has room. A class that publishes no capacity is
a warning, never infinite room."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hub.capacity import cdi
from hub.capacity.index import ClusterIndex
from hub.capacity.kubevirt.release import Release
from hub.models import quantity
from hub.models.check import Code, Finding, Severity, VolumePlan
from hub.models.report import CapacitySource, StorageClass
from hub.models.vm import Disk, VirtualMachine, VolumeMode


@dataclass(frozen=True, slots=True)
class StoragePlan:
    volumes: Mapping[str, tuple[VolumePlan, ...]]
    needed: Mapping[str, int]
    findings: tuple[Finding, ...]


def target_size(disk: Disk, storage_class: StorageClass, version: Release = cdi.NEW_FORMULA) -> int:
    """The blank DataVolume's size: the class's StorageProfile decides the volume mode when
    it names one (the executor sets none), else the source disk's mode."""
    mode = storage_class.volume_mode or disk.volume_mode
    overhead = None if mode == VolumeMode.BLOCK else storage_class.filesystem_overhead
    return cdi.required(
        disk.size_bytes, overhead, storage_class.minimum_pvc_size_bytes, version
    ).bytes


def target_class(disk: Disk, index: ClusterIndex, class_map: Mapping[str, str]) -> str | None:
    """Explicit map first, then a class of the same name, then the target's default."""
    source = disk.storage_class
    if source is not None and source in class_map:
        return class_map[source]
    if source is not None and source in index.storage_classes:
        return source
    return index.default_storage_class


def plan(
    index: ClusterIndex, vms: Sequence[VirtualMachine], class_map: Mapping[str, str]
) -> StoragePlan:
    volumes: dict[str, tuple[VolumePlan, ...]] = {}
    needed: dict[str, int] = {}
    findings: list[Finding] = []
    version, note = cdi.release(index.cdi.version)
    if note and any(vm.disks for vm in vms):
        findings.append(
            Finding(
                code=Code.KUBEVIRT_RULES_APPROXIMATE,
                severity=Severity.INFO,
                resource="storage",
                message=f"{index.name}: {note}",
            )
        )
    for vm in vms:
        planned = []
        for disk in vm.disks:
            name = target_class(disk, index, class_map)
            storage_class = index.storage_classes.get(name) if name else None
            if storage_class is None:
                findings.append(_missing(vm, disk, name, index))
                continue
            size = target_size(disk, storage_class, version)
            planned.append(
                VolumePlan(disk=disk.name, storage_class=storage_class.name, size_bytes=size)
            )
            needed[storage_class.name] = needed.get(storage_class.name, 0) + size
        volumes[vm.key] = tuple(planned)
    for name, size in sorted(needed.items()):
        findings.extend(
            _room(index.storage_classes[name], size, index.storage_claimed.get(name, 0))
        )
    return StoragePlan(volumes, needed, tuple(findings))


def _missing(vm: VirtualMachine, disk: Disk, mapped: str | None, index: ClusterIndex) -> Finding:
    source = disk.storage_class or "(source default)"
    if mapped is not None:
        why = f"it maps to {mapped!r}, which {index.name} does not have"
    else:
        why = f"{index.name} has no class of that name and no default class"
    available = ", ".join(sorted(index.storage_classes)) or "none"
    return Finding(
        code=Code.STORAGE_CLASS_MISSING,
        severity=Severity.BLOCKER,
        vm=vm.key,
        resource="storage",
        message=(
            f"{vm.key} disk {disk.name!r} uses storage class {source!r}; {why}. "
            f"Map it to one of: {available}"
        ),
        details={"disk": disk.name, "source_class": disk.storage_class, "mapped": mapped},
    )


def _room(storage_class: StorageClass, needed: int, claimed: int) -> list[Finding]:
    name = storage_class.name
    if (
        storage_class.capacity_source == CapacitySource.UNKNOWN
        or storage_class.available_bytes is None
    ):
        return [
            Finding(
                code=Code.STORAGE_CAPACITY_UNKNOWN,
                severity=Severity.WARNING,
                resource="storage",
                message=(
                    f"storage class {name!r} publishes no capacity; cannot confirm room for "
                    f"{quantity.human_bytes(needed)} "
                    "(set the class's pool size in the spoke agent's config)"
                ),
                details={"storage_class": name, "needed": needed},
            )
        ]
    available = storage_class.available_bytes - claimed
    if needed <= available:
        return []
    after = " after in-flight reservations" if claimed else ""
    return [
        Finding(
            code=Code.STORAGE_SHORT,
            severity=Severity.CRITICAL,
            resource="storage",
            message=(
                f"storage class {name!r} needs {quantity.human_bytes(needed)}; "
                f"{quantity.human_bytes(max(available, 0))} available{after} "
                f"(short {quantity.human_bytes(needed - max(available, 0))}, "
                f"source: {storage_class.capacity_source})"
            ),
            details={
                "storage_class": name,
                "needed": needed,
                "available": available,
                "shortfall": needed - max(available, 0),
                "source": storage_class.capacity_source.value,
            },
        )
    ]
