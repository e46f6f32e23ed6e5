"""Kubernetes objects -> CapacityReport. Pure: the snapshot, the sequence and the time are
given, so the same code serves the real API and the simulation, and tests need no cluster.

A malformed object is skipped and named in `Collected.skipped`, never fatal: one odd pod must
not stop a cluster from reporting.
"""

import contextlib
import gc
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import pydantic

from hub.models.wire import (
    CapacityReport,
    CapacitySource,
    CdiSettings,
    KubeVirtSettings,
    Node,
    PendingLauncher,
    ResourceQuota,
    StorageClass,
    VirtualMachine,
    quantity,
)
from hub.models.wire import kubevirt as k
from spoke_agent.report import revisions, vms
from spoke_agent.report.requests import CPU, MEMORY, pod_requests
from spoke_agent.report.snapshot import Object, Snapshot, meta, name_of, spec, status

log = logging.getLogger("cclm.spoke")
T = TypeVar("T")
TERMINAL = ("Succeeded", "Failed")
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
MINIMUM_PVC_SIZE = "cdi.kubevirt.io/minimumSupportedPvcSize"
NAD_RESOURCE = "k8s.v1.cni.cncf.io/resourceName"
SKIPPED = (KeyError, TypeError, ValueError, AttributeError)


@dataclass(frozen=True, slots=True)
class Config:
    """Agent configuration the API cannot tell: pool sizes of storage classes whose driver
    publishes no CSIStorageCapacity, and CDI's filesystem overhead per class where the
    operator wants to override what CDIConfig says."""

    storage_pools: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    """class name -> (capacity bytes, available bytes)"""
    filesystem_overhead: Mapping[str, Decimal] = field(default_factory=dict)


@dataclass
class Memo:
    """What was worked out per object version in earlier reports. Kubernetes bumps an
    object's resourceVersion on every change, so an unchanged version means an unchanged
    result: a report after a few changes redoes only those few. Objects without a version
    are always worked out afresh."""

    pods: dict[tuple[str, str], tuple[str, dict[str, int]]] = field(default_factory=dict)
    vms: dict[tuple[str, str], tuple[tuple[object, ...], VirtualMachine]] = field(
        default_factory=dict
    )


def _key(obj: Object) -> tuple[str, str]:
    return meta(obj).get("namespace", ""), meta(obj).get("name", "")


@dataclass(frozen=True, slots=True)
class Collected:
    report: CapacityReport
    skipped: tuple[str, ...]


def _each(
    kind: str, objects: Iterable[Object], read: Callable[[Object], T], skipped: list[str]
) -> list[T]:
    out = []
    for obj in objects:
        try:
            out.append(read(obj))
        except SKIPPED as error:
            reason = f"{kind} {name_of(obj) if isinstance(obj, Mapping) else '?'}: {error}"
            log.warning("skipping %s", reason)
            skipped.append(reason)
    return out


def _resources(values: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"cpu_millis": 0, "memory_bytes": 0, "scalar": {}}
    for name, value in values.items():
        if name == CPU:
            out["cpu_millis"] = value if isinstance(value, int) else quantity.millis(str(value))
        elif name == MEMORY:
            out["memory_bytes"] = value if isinstance(value, int) else quantity.units(str(value))
        elif name.startswith("hugepages-") or "/" in name:
            out["scalar"][name] = value if isinstance(value, int) else quantity.units(str(value))
    return out


def _ready(node: Object) -> bool:
    for condition in status(node).get("conditions") or ():
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


def _node(
    node: Object, requested: Mapping[str, Mapping[str, int]], pods: Mapping[str, int]
) -> Node:
    name = meta(node)["name"]
    allocatable = status(node)["allocatable"]
    slots = allocatable.get("pods")
    return Node.model_validate(
        {
            "name": name,
            "pods_allocatable": quantity.units(str(slots)) if slots is not None else None,
            "pods": pods.get(name, 0),
            "labels": meta(node).get("labels") or {},
            "taints": [
                {k: t[k] for k in ("key", "value", "effect") if k in t}
                for t in spec(node).get("taints") or ()
            ],
            "ready": _ready(node),
            "unschedulable": bool(spec(node).get("unschedulable")),
            "allocatable": _resources(allocatable),
            "requested": _resources(requested.get(name, {})),
        }
    )


def _requested_by_node(
    pods: Iterable[Object], skipped: list[str], memo: Memo
) -> tuple[dict[str, dict[str, int]], dict[str, int]]:
    """Per node, what its pods request and how many pods it runs (the scheduler counts
    every pod that is not finished against `allocatable.pods`)."""
    totals: dict[str, dict[str, int]] = {}
    counts: dict[str, int] = {}
    seen: dict[tuple[str, str], tuple[str, dict[str, int]]] = {}
    known = memo.pods

    def add(pod: Object) -> None:
        node = spec(pod).get("nodeName")
        if not node or status(pod).get("phase") in TERMINAL:
            return
        metadata = meta(pod)
        version = metadata.get("resourceVersion")
        key = (metadata.get("namespace", ""), metadata.get("name", ""))
        earlier = known.get(key)
        if version is not None and earlier is not None and earlier[0] == version:
            wanted = earlier[1]
        else:
            wanted = pod_requests(pod)
        if version is not None:
            seen[key] = (version, wanted)
        counts[node] = counts.get(node, 0) + 1
        bucket = totals.get(node)
        if bucket is None:
            totals[node] = dict(wanted)
        else:
            for resource, amount in wanted.items():
                bucket[resource] = bucket.get(resource, 0) + amount

    _each("pod", pods, add, skipped)
    memo.pods = seen
    return totals, counts


def _overheads(snapshot: Snapshot) -> tuple[str | None, Mapping[str, Any]]:
    """CDIConfig `status.filesystemOverhead`: the global value and one per storage class."""
    for cdi_config in snapshot.cdi_configs:
        found = status(cdi_config).get("filesystemOverhead") or {}
        if isinstance(found, dict):
            per_class = found.get("storageClass") or {}
            return found.get("global"), per_class if isinstance(per_class, dict) else {}
    return None, {}


def _profiles(snapshot: Snapshot) -> dict[str, Object]:
    return {meta(p).get("name", ""): p for p in snapshot.storage_profiles}


def _profile_fields(profile: Object | None) -> dict[str, Any]:
    """The StorageProfile's minimum size (CDI v1.63+) and the volume mode it gives a
    DataVolume that names none (its first claimPropertySet)."""
    if profile is None:
        return {}
    out: dict[str, Any] = {}
    minimum = (meta(profile).get("annotations") or {}).get(MINIMUM_PVC_SIZE)
    if minimum:
        out["minimum_pvc_size_bytes"] = quantity.units(str(minimum))
    sets = status(profile).get("claimPropertySets") or []
    if sets and isinstance(sets[0], dict) and sets[0].get("volumeMode"):
        out["volume_mode"] = sets[0]["volumeMode"]
    return out


def _storage_classes(snapshot: Snapshot, config: Config, skipped: list[str]) -> list[StorageClass]:
    published: dict[str, int] = {}
    global_overhead, class_overhead = _overheads(snapshot)
    profiles = _profiles(snapshot)

    def count(capacity: Object) -> None:
        name = capacity["storageClassName"]
        published[name] = published.get(name, 0) + quantity.units(str(capacity["capacity"]))

    _each("CSIStorageCapacity", snapshot.csi_storage_capacities, count, skipped)

    def read(sc: Object) -> StorageClass:
        name = meta(sc)["name"]
        data: dict[str, Any] = {
            "name": name,
            "provisioner": sc.get("provisioner", ""),
            "is_default": (meta(sc).get("annotations") or {}).get(DEFAULT_CLASS) == "true",
            "volume_binding_mode": sc.get("volumeBindingMode") or "Immediate",
        }
        overhead = (
            config.filesystem_overhead.get(name) or class_overhead.get(name) or global_overhead
        )
        if overhead is not None:
            data["filesystem_overhead"] = str(overhead)
        data.update(_profile_fields(profiles.get(name)))
        if name in published:
            data.update(available_bytes=published[name], capacity_source=CapacitySource.CSI)
        elif name in config.storage_pools:
            capacity, available = config.storage_pools[name]
            data.update(
                capacity_bytes=capacity,
                available_bytes=available,
                capacity_source=CapacitySource.CONFIGURED,
            )
        return StorageClass.model_validate(data)

    classes = _each("StorageClass", snapshot.storage_classes, read, skipped)
    return _one_default(classes, snapshot.storage_classes)


def _one_default(classes: list[StorageClass], objects: Iterable[Object]) -> list[StorageClass]:
    """Kubernetes picks the newest default class when several claim it; so do we."""
    defaults = [c for c in classes if c.is_default]
    if len(defaults) < 2:
        return classes
    created = {meta(o).get("name"): str(meta(o).get("creationTimestamp", "")) for o in objects}
    newest = max(defaults, key=lambda c: (created.get(c.name, ""), c.name)).name
    return [c.model_copy(update={"is_default": c.name == newest}) for c in classes]


def _quota(quota: Object) -> ResourceQuota:
    return ResourceQuota.model_validate(
        {
            "namespace": meta(quota)["namespace"],
            "name": meta(quota)["name"],
            "hard": _quota_values(status(quota).get("hard") or spec(quota).get("hard") or {}),
            "used": _quota_values(status(quota).get("used") or {}),
        }
    )


def _quota_values(values: Mapping[str, Any]) -> dict[str, Any]:
    return {name: str(value) for name, value in values.items()}


def _kubevirt(objects: Iterable[Object], runtime_classes: Iterable[Object]) -> KubeVirtSettings:
    found = list(objects)
    if not found:
        return KubeVirtSettings(installed=False)
    cr = found[0]
    annotations = meta(cr).get("annotations") or {}
    return KubeVirtSettings(
        installed=True,
        version=status(cr).get("observedKubeVirtVersion"),
        configuration=k.KubeVirtConfiguration.model_validate(spec(cr).get("configuration") or {}),
        annotations={k.EVEN_PARITY: str(annotations[k.EVEN_PARITY])}
        if k.EVEN_PARITY in annotations
        else {},
        runtime_classes={
            meta(rc).get("name", ""): {
                name: str(value)
                for name, value in ((rc.get("overhead") or {}).get("podFixed") or {}).items()
            }
            for rc in runtime_classes
            if (rc.get("overhead") or {}).get("podFixed")
        },
    )


def _cdi(objects: Iterable[Object]) -> CdiSettings:
    """The CDI CR's observed version: the one running, not the one being upgraded to."""
    found = list(objects)
    if not found:
        return CdiSettings()
    return CdiSettings(installed=True, version=status(found[0]).get("observedVersion"))


def _network_attachments(objects: Iterable[Object]) -> dict[str, str]:
    found = {}
    for nad in objects:
        resource = (meta(nad).get("annotations") or {}).get(NAD_RESOURCE)
        if resource:
            found[f"{meta(nad).get('namespace', '')}/{meta(nad).get('name', '')}"] = str(resource)
    return found


def _pending_launchers(pods: Iterable[Object], skipped: list[str]) -> list[PendingLauncher]:
    found = _each("pod", pods, _pending_launcher, skipped)
    return [p for p in found if p is not None]


def _pending_launcher(pod: Object) -> PendingLauncher | None:
    """A virt-launcher pod the scheduler has not placed, with the scheduler's reason."""
    labels = meta(pod).get("labels") or {}
    if labels.get("kubevirt.io") != "virt-launcher" or status(pod).get("phase") != "Pending":
        return None
    if spec(pod).get("nodeName"):
        return None
    condition: Mapping[str, Any] = next(
        (
            c
            for c in status(pod).get("conditions") or ()
            if c.get("type") == "PodScheduled" and c.get("status") == "False"
        ),
        {},
    )
    return PendingLauncher(
        namespace=meta(pod).get("namespace", ""),
        name=meta(pod).get("name", ""),
        vm=labels.get(vms.VM_NAME_LABEL),
        message=condition.get("message", ""),
        since=condition.get("lastTransitionTime"),
    )


def _vms(snapshot: Snapshot, skipped: list[str], memo: Memo) -> list[VirtualMachine]:
    claims: dict[str, dict[str, Object]] = {}
    for claim in snapshot.persistent_volume_claims:
        by_name = claims.setdefault(meta(claim).get("namespace", ""), {})
        by_name[meta(claim).get("name", "")] = claim
    instances = {
        (meta(v).get("namespace", ""), meta(v).get("name", "")): v
        for v in snapshot.virtual_machine_instances
    }
    launchers = vms.launcher_pods(snapshot.pods)
    nodes = {meta(n).get("name", ""): n for n in snapshot.nodes}
    found = revisions.catalog(
        list(snapshot.controller_revisions),
        list(snapshot.virtual_machine_instancetypes),
        list(snapshot.virtual_machine_cluster_instancetypes),
        list(snapshot.virtual_machine_preferences),
        list(snapshot.virtual_machine_cluster_preferences),
    )

    seen: dict[tuple[str, str], tuple[tuple[object, ...], VirtualMachine]] = {}

    def read(vm: Object) -> VirtualMachine:
        key = _key(vm)
        inputs = (vm, instances.get(key), launchers.get(key, []), claims.get(key[0], {}))
        version = vms.fingerprint(*inputs, nodes, found)
        known = memo.vms.get(key)
        if version is not None and known is not None and known[0] == version:
            built = known[1]
        else:
            built = vms.vm_spec(*inputs, nodes, found)
        if version is not None:
            seen[key] = (version, built)
        return built

    found_vms = _each("VirtualMachine", snapshot.virtual_machines, read, skipped)
    memo.vms = seen
    return found_vms


def collect(
    snapshot: Snapshot,
    cluster: str,
    sequence: int,
    now: datetime,
    config: Config = Config(),
    memo: Memo | None = None,
) -> Collected:
    """`memo` carries per-object results from the previous report; without one, every
    object is worked out."""
    with _no_cycle_collection():
        return _collect(snapshot, cluster, sequence, now, config, memo or Memo())


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """A build allocates some 100,000 objects and makes no reference cycles, so the cyclic
    collector has nothing to find; left on, it walks the whole snapshot several times per
    build, which measured as more than half of a cold build for a 500-node cluster.
    Reference counting still frees everything as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _collect(
    snapshot: Snapshot, cluster: str, sequence: int, now: datetime, config: Config, memo: Memo
) -> Collected:
    skipped: list[str] = []
    requested, pods = _requested_by_node(snapshot.pods, skipped, memo)
    nodes = _each("Node", snapshot.nodes, lambda n: _node(n, requested, pods), skipped)
    try:
        report = CapacityReport(
            cluster=cluster,
            sequence=sequence,
            generated_at=now,
            kubevirt=_kubevirt(snapshot.kubevirts, snapshot.runtime_classes),
            cdi=_cdi(snapshot.cdis),
            nodes=tuple(nodes),
            storage_classes=tuple(_storage_classes(snapshot, config, skipped)),
            quotas=tuple(_each("ResourceQuota", snapshot.resource_quotas, _quota, skipped)),
            network_attachments=_network_attachments(snapshot.network_attachment_definitions),
            vms=tuple(_vms(snapshot, skipped, memo)),
            pending_launchers=tuple(_pending_launchers(snapshot.pods, skipped)),
        )
    except pydantic.ValidationError as error:
        raise ValueError(f"the collected report is not valid: {error}") from error
    return Collected(report, tuple(skipped))
