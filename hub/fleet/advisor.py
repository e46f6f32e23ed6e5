"""Translate a check into the migration advisor's answer for the console's wizard.

The wizard expects per-candidate CPU, memory and storage scores and "available" figures;
they are derived here from the same index the check used (claims already subtracted), so
the wizard shows what the hub would actually promise.
"""

from collections.abc import Callable

from hub.capacity import rules
from hub.capacity.index import ClusterIndex
from hub.capacity.kubevirt import render
from hub.models.check import CheckResult, Placement, Suggestion
from hub.models.vm import VirtualMachine
from hub.models.wizard import (
    Candidate,
    ExcludedCluster,
    MigrationTargets,
    Recommendation,
    SourceVm,
    SourceVolume,
)

IndexOf = Callable[[str], ClusterIndex | None]


def _percent(free_after: int, allocatable: int) -> float:
    return round(100 * max(free_after, 0) / allocatable, 1) if allocatable > 0 else 0.0


def _candidate(suggestion: Suggestion, index: ClusterIndex) -> Candidate:
    placement: Placement | None = suggestion.placements[0] if suggestion.placements else None
    totals = index.totals
    cpu = placement.cpu_millis if placement else 0
    memory = placement.memory_bytes if placement else 0
    needed: dict[str, int] = {}
    for volume in placement.volumes if placement else ():
        needed[volume.storage_class] = needed.get(volume.storage_class, 0) + volume.size_bytes
    matched = tuple(sorted(needed)) or (
        (index.default_storage_class,) if index.default_storage_class else ()
    )
    storage = index.storage_classes.get(matched[0]) if matched else None
    available = 0
    if storage is not None and storage.available_bytes is not None:
        available = max(storage.available_bytes - index.storage_claimed.get(storage.name, 0), 0)
    return Candidate(
        cluster=suggestion.cluster,
        total_score=round(suggestion.score.total, 1),
        cpu_score=_percent(totals.cpu_allocatable - totals.cpu_used - cpu, totals.cpu_allocatable),
        memory_score=_percent(
            totals.memory_allocatable - totals.memory_used - memory, totals.memory_allocatable
        ),
        storage_score=round(100 * rules.storage_free_fraction(index, needed), 1),
        matched_storage_classes=matched,
        best_node=placement.node if placement else None,
        available_cpu_cores=round(totals.cpu_free_positive / 1000, 3),
        available_memory_bytes=totals.memory_free_positive,
        storage_type=storage.provisioner if storage else "",
        ceph_available_bytes=available,
    )


def answer(
    vm: VirtualMachine,
    cluster: str,
    source_default_class: str | None,
    result: CheckResult,
    index_of: IndexOf,
) -> MigrationTargets:
    source = index_of(cluster)
    cores, memory = render.shape(vm, source.target if source else render.default_target())
    candidates = []
    for suggestion in result.suggestions:
        index = index_of(suggestion.cluster)
        if index is not None:
            candidates.append(_candidate(suggestion, index))
    best = candidates[0] if candidates else None
    return MigrationTargets(
        source_vm=SourceVm(
            name=vm.name,
            namespace=vm.namespace,
            cluster=cluster,
            cpu_cores=cores,
            memory_bytes=memory,
            volumes=tuple(
                SourceVolume(
                    name=disk.name,
                    storage_class=disk.storage_class or source_default_class or "",
                    size_bytes=disk.size_bytes,
                )
                for disk in vm.disks
            ),
        ),
        recommendation=None
        if best is None
        else Recommendation(
            cluster=best.cluster,
            node=best.best_node,
            total_score=best.total_score,
            available_cpu_cores=best.available_cpu_cores,
            available_memory_bytes=best.available_memory_bytes,
            storage_type=best.storage_type,
            ceph_available_bytes=best.ceph_available_bytes,
        ),
        candidates=tuple(candidates),
        excluded_clusters=tuple(
            ExcludedCluster(cluster=e.cluster, reason=e.reason, reasons=e.reasons)
            for e in result.excluded
        ),
        cclm_check=result,
    )
