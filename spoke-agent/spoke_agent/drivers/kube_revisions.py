"""The instancetype and preference a migrated VM keeps: its ControllerRevisions, copied.

A VM with an instancetype runs with the copy KubeVirt stored when it first started
(`pkg/instancetype/revision/store.go` `CreateControllerRevision`), named in
`status.instancetypeRef.controllerRevisionRef` (and `preferenceRef`). Recreated on the
target from its spec alone, the target's KubeVirt would store a copy of whatever
instancetype of that name the target has, or refuse a VM whose instancetype it lacks: a VM
of other size than the capacity check counted, or none. So the captured manifest names the
revision in `spec.instancetype.revisionName`, which KubeVirt's finder reads before anything
else (`pkg/instancetype/find/revision.go`), and the revision is created on the target
before the VM. It is left without an owner until the VM is final there: an owner's
deletion (a receiver removed to try again) would have the garbage collector take it.
"""

from collections.abc import Mapping
from typing import Any

from hub.models.wire import kubevirt

Obj = dict[str, Any]


def pin(manifest: Obj, status: Mapping[str, Any]) -> Obj:
    """`manifest` (a VM without its status) naming the revisions `status` says it runs with."""
    spec = manifest.get("spec")
    if not isinstance(spec, dict):
        return manifest
    for matcher in kubevirt.MATCHERS:
        wanted = spec.get(matcher.field)
        stored = (status.get(matcher.status_ref) or {}).get("controllerRevisionRef") or {}
        if isinstance(wanted, dict) and not wanted.get("revisionName") and stored.get("name"):
            spec[matcher.field] = {**wanted, "revisionName": stored["name"]}
    return manifest


def names(manifest: Mapping[str, Any]) -> list[str]:
    """The revisions a VM manifest names, instancetype first."""
    spec = manifest.get("spec") or {}
    found = [(spec.get(m.field) or {}).get("revisionName") for m in kubevirt.MATCHERS]
    return [str(name) for name in found if name]


def for_target(cleaned: Obj, namespace: str, job_labels: Mapping[str, str]) -> Obj:
    """The source's revision (without what its API server set) as the target stores it:
    the same name, data and KubeVirt labels, the job's labels, no owner."""
    meta = cleaned.setdefault("metadata", {})
    meta.pop("ownerReferences", None)
    meta["namespace"] = namespace
    meta["labels"] = {**(meta.get("labels") or {}), **job_labels}
    cleaned.setdefault("apiVersion", "apps/v1")
    cleaned.setdefault("kind", "ControllerRevision")
    return cleaned


def same(one: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """The same stored instancetype or preference."""
    return one.get("data") == other.get("data")


def owned_by(vm: Mapping[str, Any]) -> Obj:
    """A merge patch making the target's VM the revision's owner, as KubeVirt makes its own
    (without blockOwnerDeletion, which would need rights on the VM's finalizers)."""
    meta = vm.get("metadata") or {}
    owner = {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "name": meta.get("name"),
        "uid": meta.get("uid"),
        "controller": True,
    }
    return {"metadata": {"ownerReferences": [owner]}}
