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
from typing import Any, TypeVar

from hub.models.wire import InstancetypeRevision, PreferenceRevision
from hub.models.wire import kubevirt as k
from spoke_agent.report.snapshot import Object, meta, spec, status

OBJECT_NAME = "instancetype.kubevirt.io/object-name"


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
            **namespaced(k.INSTANCETYPE, instancetypes),
            **namespaced(k.PREFERENCE, preferences),
        },
        cluster={
            **cluster(k.CLUSTER_INSTANCETYPE, cluster_instancetypes),
            **cluster(k.CLUSTER_PREFERENCE, cluster_preferences),
        },
    )


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
    vm: Object, matcher: k.Matcher, found: Catalog
) -> tuple[str, str, str | None, Object] | None:
    """(kind, name, revision name or None, the object read) of what the VM names."""
    written = spec(vm).get(matcher.field)
    if not isinstance(written, dict) or not written.get("name"):
        return None
    name = str(written["name"])
    kind = matcher.kind(written.get("kind"))
    namespace = meta(vm).get("namespace", "")
    chosen = written.get("revisionName")
    if not chosen:
        ref = status(vm).get(matcher.status_ref) or {}
        pointed = (ref.get("controllerRevisionRef") or {}).get("name")
        if pointed:
            revision = found.revisions.get((namespace, pointed))
            label = (meta(revision).get("labels") or {}).get(OBJECT_NAME) if revision else None
            chosen = pointed if label in (None, name) else None
    if chosen:
        revision = found.revisions.get((namespace, str(chosen)))
        if revision is None:
            raise NotFoundError(f"{matcher.field} {name}: ControllerRevision {chosen} not found")
        return kind, name, str(chosen), revision
    live = (
        found.namespaced.get((kind, namespace, name))
        if kind == matcher.namespaced_kind
        else found.cluster.get((kind, name))
    )
    if live is None:
        raise NotFoundError(f"{matcher.field} {kind} {name} not found")
    return kind, name, None, live


def versions(vm: Object, found: Catalog) -> tuple[object, ...] | None:
    """The resourceVersions of what the VM's sizing reads here; None when one is missing."""
    out: list[object] = []
    for matcher in k.MATCHERS:
        try:
            hit = _locate(vm, matcher, found)
        except NotFoundError:
            return None
        if hit is not None:
            out.append(meta(hit[3]).get("resourceVersion"))
    return None if None in out else tuple(out)


def instancetype(vm: Object, found: Catalog) -> InstancetypeRevision | None:
    return _read(vm, k.INSTANCETYPE_MATCHER, found, InstancetypeRevision, k.InstancetypeSpec)


def preference(vm: Object, found: Catalog) -> PreferenceRevision | None:
    return _read(vm, k.PREFERENCE_MATCHER, found, PreferenceRevision, k.PreferenceSpec)


R = TypeVar("R", InstancetypeRevision, PreferenceRevision)


def _read(
    vm: Object,
    matcher: k.Matcher,
    found: Catalog,
    model: type[R],
    spec_model: type[k.InstancetypeSpec] | type[k.PreferenceSpec],
) -> R | None:
    hit = _locate(vm, matcher, found)
    if hit is None:
        return None
    kind, name, revision, obj = hit
    body = _revision_spec(obj) if revision else spec(obj)
    return model(kind=kind, name=name, revision=revision, spec=spec_model.model_validate(body))
