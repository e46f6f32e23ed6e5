"""A cluster's unclaimed fit index as bytes, kept in the store beside its report, so that a
replica starting on a fleet of thousands, or following a report another replica took in,
loads arrays instead of validating every node of every report again (3,500 clusters of
100 nodes: 5.7 of the 8 s a start took). The form is built where the report is validated
(the intake workers), off the event loop.

The form is a JSON document (names, label profiles, storage classes, quotas, KubeVirt
settings, validated again by the report's own models when read) followed by the columns'
raw little-endian bytes, which load as arrays without a copy: no pickle, nothing evaluated,
about 0.1 ms for a 100-node cluster. A form of another version is not read; the report is
parsed instead.
"""

import json
import struct
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

import numpy as np
from pydantic import TypeAdapter

from hub.capacity import index
from hub.capacity.drift import Drifted
from hub.models.report import (
    CdiSettings,
    KubeVirtSettings,
    PendingLauncher,
    ResourceQuota,
    StorageClass,
    Taint,
)

VERSION = 1
MAGIC = b"cclm-ix\x00"
COLUMNS = ("cpu_allocatable", "cpu_used", "memory_allocatable", "memory_used", "pods_free")
FLAGS = ("usable", "ready", "plain")
_TAINTS = TypeAdapter(tuple[Taint, ...])
_CLASSES = TypeAdapter(tuple[StorageClass, ...])
_QUOTAS = TypeAdapter(tuple[ResourceQuota, ...])
_PENDING = TypeAdapter(tuple[PendingLauncher, ...])


@dataclass(frozen=True, slots=True)
class Loaded:
    index: index.ClusterIndex
    generated_at: datetime
    vms: int
    drift: tuple[Drifted, ...] = ()


def encode(
    built: index.ClusterIndex,
    generated_at: datetime,
    vms: int,
    drift: tuple[Drifted, ...] = (),
) -> bytes:
    """`built` must be unclaimed (`index.unclaimed`): claims are applied when loaded."""
    if built.claim_count:
        raise ValueError("only an unclaimed index has a form")
    document = {
        "version": VERSION,
        "name": built.name,
        "sequence": built.sequence,
        "generated_at": generated_at.isoformat(),
        "vms": vms,
        "drift": [list(d) for d in drift],
        "kubevirt": built.kubevirt.model_dump(mode="json"),
        "cdi": built.cdi.model_dump(mode="json"),
        "network_attachments": dict(built.network_attachments),
        "node_names": list(built.node_names),
        "hostnames": list(built.hostnames),
        "profiles": [_profile(p) for p in built.profiles],
        "scalar": sorted(built.scalar),
        "storage_classes": _CLASSES.dump_python(tuple(built.storage_classes.values()), mode="json"),
        "default_storage_class": built.default_storage_class,
        "quotas": _QUOTAS.dump_python(
            tuple(q for qs in built.quotas.values() for q in qs), mode="json"
        ),
        "pending_launchers": _PENDING.dump_python(built.pending_launchers, mode="json"),
    }
    arrays: dict[str, Any] = {name: getattr(built, name) for name in (*COLUMNS, *FLAGS)}
    arrays["profile_of"] = built.profile_of
    for i, name in enumerate(document["scalar"]):
        arrays[f"scalar_{i}_allocatable"] = built.scalar[name].allocatable
        arrays[f"scalar_{i}_used"] = built.scalar[name].used
    blob, layout = bytearray(), {}
    for name, array in arrays.items():
        column = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
        layout[name] = (column.dtype.str, len(blob), len(column))
        blob += column.tobytes()
        blob += bytes(-len(blob) % 8)
    document["arrays"] = layout
    head = json.dumps(document).encode()
    head += b" " * (-(len(MAGIC) + 4 + len(head)) % 8)
    return MAGIC + struct.pack("<I", len(head)) + head + bytes(blob)


def _profile(profile: index.Profile) -> dict[str, Any]:
    return {
        "labels": dict(profile.labels),
        "taints": _TAINTS.dump_python(profile.taints, mode="json"),
        "ready": profile.ready,
        "unschedulable": profile.unschedulable,
    }


def decode(form: bytes, labels: dict[str, str], received_at: datetime) -> Loaded | None:
    """The index the form holds, or None for a form of another version."""
    if not form.startswith(MAGIC):
        return None
    (size,) = struct.unpack_from("<I", form, len(MAGIC))
    start = len(MAGIC) + 4
    document = json.loads(form[start : start + size])
    if document.get("version") != VERSION:
        return None
    data = memoryview(form)[start + size :]
    arrays = {
        name: np.frombuffer(data, dtype=np.dtype(kind), count=count, offset=offset)
        for name, (kind, offset, count) in document["arrays"].items()
    }
    profiles = tuple(
        index.Profile(
            MappingProxyType(p["labels"]),
            _TAINTS.validate_python(p["taints"]),
            p["ready"],
            p["unschedulable"],
        )
        for p in document["profiles"]
    )
    quotas: dict[str, list[ResourceQuota]] = {}
    for quota in _QUOTAS.validate_python(document["quotas"]):
        quotas.setdefault(quota.namespace, []).append(quota)
    kubevirt = KubeVirtSettings.model_validate(document["kubevirt"])
    scalar = {
        name: index.ScalarColumn(arrays[f"scalar_{i}_allocatable"], arrays[f"scalar_{i}_used"])
        for i, name in enumerate(document["scalar"])
    }
    classes = _CLASSES.validate_python(document["storage_classes"])
    built = index.ClusterIndex(
        name=document["name"],
        labels=MappingProxyType(dict(labels)),
        received_at=received_at,
        sequence=document["sequence"],
        kubevirt=kubevirt,
        target=index.target_of(kubevirt),
        cdi=CdiSettings.model_validate(document["cdi"]),
        network_attachments=MappingProxyType(document["network_attachments"]),
        node_names=tuple(document["node_names"]),
        hostnames=tuple(document["hostnames"]),
        profile_of=arrays["profile_of"],
        profiles=profiles,
        cpu_allocatable=arrays["cpu_allocatable"],
        cpu_used=arrays["cpu_used"],
        memory_allocatable=arrays["memory_allocatable"],
        memory_used=arrays["memory_used"],
        pods_free=arrays["pods_free"],
        usable=arrays["usable"],
        ready=arrays["ready"],
        plain=arrays["plain"],
        scalar=MappingProxyType(scalar),
        totals=index.totals(
            arrays["cpu_allocatable"],
            arrays["cpu_used"],
            arrays["memory_allocatable"],
            arrays["memory_used"],
            arrays["usable"],
        ),
        storage_classes=MappingProxyType({sc.name: sc for sc in classes}),
        default_storage_class=document["default_storage_class"],
        storage_claimed=MappingProxyType({}),
        quotas=MappingProxyType({ns: tuple(qs) for ns, qs in quotas.items()}),
        quota_claimed=MappingProxyType({}),
        pending_launchers=_PENDING.validate_python(document["pending_launchers"]),
        claim_count=0,
    )
    drift = tuple((str(v), int(m), int(c)) for v, m, c in document.get("drift", ()))
    generated = datetime.fromisoformat(document["generated_at"])
    return Loaded(built, generated, document["vms"], drift)
