"""The instancetype and preference a VM runs with, read as KubeVirt's VM controller reads
them (`pkg/instancetype/find/`): the ControllerRevision the VM names (in
`spec.instancetype.revisionName`, else `status.instancetypeRef.controllerRevisionRef`),
else the object itself. The revision holds the spec as it was when the VM first used it, so a
later edit of the instancetype does not change what the VM gets.
"""

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.models import kubevirt as k
from hub.models.vm import InstancetypeRevision, PreferenceRevision
from spoke_agent.snapshot import Object, meta, spec, status

OBJECT_NAME = "instancetype.kubevirt.io/object-name"
CLUSTER_INSTANCETYPE = "VirtualMachineClusterInstancetype"
INSTANCETYPE = "VirtualMachineInstancetype"
CLUSTER_PREFERENCE = "VirtualMachineClusterPreference"
PREFERENCE = "VirtualMachinePreference"


@dataclass(frozen=True, slots=True)
class Catalog:
    """Instancetypes, preferences and their revisions, keyed for lookup."""

    revisions: Mapping[tuple[str, str], Object]
    """(namespace, name) -> ControllerRevision"""
    namespaced: Mapping[tuple[str, str, str], Object]
    """(kind, namespace, name) -> VirtualMachineInstancetype / VirtualMachinePreference"""
    cluster: Mapping[tuple[str, str], Object]
    """(kind, name) -> the cluster-wide kinds"""


class NotFoundError(ValueError):
    """The VM names an instancetype or preference this cluster does not have."""


def catalog(
    revisions: list[Object],
    instancetypes: list[Object],
    cluster_instancetypes: list[Object],
    preferences: list[Object],
    cluster_preferences: list[Object],
) -> Catalog:
    def namespaced(kind: str, objects: list[Object]) -> dict[tuple[str, str, str], Object]:
        return {(kind, meta(o).get("namespace", ""), meta(o).get("name", "")): o for o in objects}

    def cluster(kind: str, objects: list[Object]) -> dict[tuple[str, str], Object]:
        return {(kind, meta(o).get("name", "")): o for o in objects}

    return Catalog(
        revisions={(meta(r).get("namespace", ""), meta(r).get("name", "")): r for r in revisions},
        namespaced={
            **namespaced(INSTANCETYPE, instancetypes),
            **namespaced(PREFERENCE, preferences),
        },
        cluster={
            **cluster(CLUSTER_INSTANCETYPE, cluster_instancetypes),
            **cluster(CLUSTER_PREFERENCE, cluster_preferences),
        },
    )


def _kind(written: object, cluster_kind: str, namespaced_kind: str) -> str:
    """KubeVirt takes the kind case-insensitively, singular or plural; unset is cluster-wide."""
    text = str(written or "").lower().rstrip("s")
    return namespaced_kind if text == namespaced_kind.lower() else cluster_kind


def _revision_spec(revision: Object) -> Mapping[str, Any]:
    """`data` is the whole object; very old revisions hold the spec base64-encoded."""
    data = revision.get("data") or {}
    if isinstance(data, str):
        data = json.loads(base64.b64decode(data))
    body = data.get("spec") if isinstance(data, dict) else None
    if isinstance(body, str):
        body = json.loads(base64.b64decode(body))
    if not isinstance(body, dict):
        raise ValueError(f"ControllerRevision {meta(revision).get('name')} holds no spec")
    return body


def _locate(
    vm: Object, field: str, ref: str, kinds: tuple[str, str], found: Catalog
) -> tuple[str, str, str | None, Object] | None:
    """(kind, name, revision name or None, the object read) of what the VM names."""
    matcher = spec(vm).get(field)
    if not isinstance(matcher, dict) or not matcher.get("name"):
        return None
    name = str(matcher["name"])
    kind = _kind(matcher.get("kind"), *kinds)
    namespace = meta(vm).get("namespace", "")
    chosen = matcher.get("revisionName")
    if not chosen:
        pointed = ((status(vm).get(ref) or {}).get("controllerRevisionRef") or {}).get("name")
        if pointed:
            revision = found.revisions.get((namespace, pointed))
            label = (meta(revision).get("labels") or {}).get(OBJECT_NAME) if revision else None
            chosen = pointed if label in (None, name) else None
    if chosen:
        revision = found.revisions.get((namespace, str(chosen)))
        if revision is None:
            raise NotFoundError(f"{field} {name}: ControllerRevision {chosen} not found")
        return kind, name, str(chosen), revision
    live = (
        found.namespaced.get((kind, namespace, name))
        if kind in (INSTANCETYPE, PREFERENCE)
        else found.cluster.get((kind, name))
    )
    if live is None:
        raise NotFoundError(f"{field} {kind} {name} not found")
    return kind, name, None, live


def _find(
    vm: Object, field: str, ref: str, kinds: tuple[str, str], found: Catalog
) -> tuple[str, str, str | None, Mapping[str, Any]] | None:
    hit = _locate(vm, field, ref, kinds, found)
    if hit is None:
        return None
    kind, name, revision, obj = hit
    return kind, name, revision, _revision_spec(obj) if revision else spec(obj)


_LOOKUPS = (
    ("instancetype", "instancetypeRef", (CLUSTER_INSTANCETYPE, INSTANCETYPE)),
    ("preference", "preferenceRef", (CLUSTER_PREFERENCE, PREFERENCE)),
)


def versions(vm: Object, found: Catalog) -> tuple[object, ...] | None:
    """The resourceVersions of what the VM's sizing reads here; None when one is missing."""
    out: list[object] = []
    for field, ref, kinds in _LOOKUPS:
        try:
            hit = _locate(vm, field, ref, kinds, found)
        except NotFoundError:
            return None
        if hit is not None:
            out.append(meta(hit[3]).get("resourceVersion"))
    return None if None in out else tuple(out)


def instancetype(vm: Object, found: Catalog) -> InstancetypeRevision | None:
    hit = _find(vm, *_LOOKUPS[0], found)
    if hit is None:
        return None
    kind, name, revision, body = hit
    return InstancetypeRevision(
        kind=kind, name=name, revision=revision, spec=k.InstancetypeSpec.model_validate(body)
    )


def preference(vm: Object, found: Catalog) -> PreferenceRevision | None:
    hit = _find(vm, *_LOOKUPS[1], found)
    if hit is None:
        return None
    kind, name, revision, body = hit
    return PreferenceRevision(
        kind=kind, name=name, revision=revision, spec=k.PreferenceSpec.model_validate(body)
    )
