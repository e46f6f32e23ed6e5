"""KubeVirt manifests as users write them (`kubectl get -o yaml`, a GitOps repository) read
into the VMs the engine sizes: each `kubevirt.io/v1` VirtualMachine with the
`instancetype.kubevirt.io` instancetypes and preferences it names, and the
PersistentVolumeClaims and DataVolumes that give its disks their sizes.

A VM that names an instancetype the documents do not hold, or a disk whose size cannot be
known, is an error that names the document and the field: KubeVirt would not start it, so
there is nothing to size.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pydantic

from hub import validation
from hub.models import kubevirt as k
from hub.models import quantity
from hub.models.vm import Disk, InstancetypeRevision, PreferenceRevision, VirtualMachine

_CATALOG = (k.CLUSTER_INSTANCETYPE, k.INSTANCETYPE, k.CLUSTER_PREFERENCE, k.PREFERENCE)
_RUNNING = ("Always", "RerunOnFailure", "Once")
READ = ("VirtualMachine", *_CATALOG, "PersistentVolumeClaim", "DataVolume")


class ManifestError(ValueError):
    """A document that cannot be read as what its kind says; the message names where."""


@dataclass(frozen=True, slots=True)
class _Doc:
    where: str
    body: Mapping[str, Any]

    @property
    def kind(self) -> str:
        return str(self.body.get("kind", ""))

    @property
    def name(self) -> str:
        return str(_get(self.body, "metadata", "name") or "")

    @property
    def namespace(self) -> str:
        return str(_get(self.body, "metadata", "namespace") or "default")


def _documents(documents: Iterable[object], source: str, indexed: bool) -> list[_Doc]:
    found: list[_Doc] = []
    for i, document in enumerate(documents, 1):
        where = f"{source}[{i - 1}]" if indexed else f"{source} document {i}"
        if document is None:
            continue
        if not isinstance(document, dict):
            raise ManifestError(f"{where}: expected a Kubernetes object (a mapping)")
        if document.get("kind") == "List":
            items = document.get("items") or []
            if not isinstance(items, list):
                raise ManifestError(f"{where}: items: expected a list of Kubernetes objects")
            for j, item in enumerate(items, 1):
                if not isinstance(item, dict):
                    raise ManifestError(f"{where} item {j}: expected a Kubernetes object")
                found.append(_Doc(f"{where} item {j}", item))
        else:
            found.append(_Doc(where, document))
    return found


def machines(
    documents: Iterable[object], source: str, disks: bool = True, indexed: bool = False
) -> list[VirtualMachine]:
    """The VirtualMachines among `documents`, each with what it names resolved. With
    `disks`, every volume that a migration copies must have a size. `indexed` names a
    document by its position in a list (an API field) rather than in a file."""
    docs = [d for d in _documents(documents, source, indexed) if d.kind in READ]
    vms = [d for d in docs if d.kind == "VirtualMachine"]
    if not vms:
        raise ManifestError(
            f"{source}: no VirtualMachine (kubevirt.io/v1) among its documents; "
            "this reads " + ", ".join(READ)
        )
    return [_machine(vm, docs, disks) for vm in vms]


def _get(data: object, *path: str) -> Any:
    """The value at `path`, or None where any step is missing or not a mapping."""
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _dict(data: object) -> dict[str, Any]:
    return data if isinstance(data, dict) else {}


def _strings(data: object) -> dict[str, str]:
    return {str(a): str(v) for a, v in _dict(data).items()}


def _size(text: object, where: str) -> int:
    try:
        return quantity.units(str(text))
    except quantity.QuantityError as error:
        raise ManifestError(f"{where}: {error}") from error


def _parse(model: type[pydantic.BaseModel], data: object, where: str, field: str) -> Any:
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as error:
        raise ManifestError(validation.lines(error, f"{where}: {field}")) from error


def _machine(doc: _Doc, docs: Sequence[_Doc], disks: bool) -> VirtualMachine:
    spec = _dict(doc.body.get("spec"))
    body = _dict(_get(spec, "template", "spec"))
    strategy = spec.get("runStrategy")
    try:
        return VirtualMachine(
            name=doc.name,
            namespace=doc.namespace,
            running=bool(spec.get("running")) or strategy in _RUNNING,
            template=_parse(k.VMISpec, body, doc.where, "spec.template.spec"),
            annotations=_strings(_get(spec, "template", "metadata", "annotations")),
            instancetype=_revision(
                doc, docs, k.INSTANCETYPE_MATCHER, InstancetypeRevision, k.InstancetypeSpec
            ),
            preference=_revision(
                doc, docs, k.PREFERENCE_MATCHER, PreferenceRevision, k.PreferenceSpec
            ),
            disks=tuple(_disks(doc, body, docs)) if disks else (),
        )
    except pydantic.ValidationError as error:
        raise ManifestError(validation.lines(error, f"{doc.where} ({doc.name})")) from error


def _revision(
    doc: _Doc,
    docs: Sequence[_Doc],
    matcher: k.Matcher,
    model: type[InstancetypeRevision] | type[PreferenceRevision],
    spec_model: type[k.InstancetypeSpec] | type[k.PreferenceSpec],
) -> Any:
    field, cluster = matcher.field, matcher.cluster_kind
    written = _get(doc.body, "spec", field)
    if not isinstance(written, dict) or not written.get("name"):
        return None
    kind = matcher.kind(written.get("kind"))
    name = str(written["name"])
    found = next(
        (
            d
            for d in docs
            if d.kind == kind
            and d.name == name
            and (kind == cluster or d.namespace == doc.namespace)
        ),
        None,
    )
    if found is None:
        scope = "" if kind == cluster else f" in namespace {doc.namespace}"
        raise ManifestError(
            f"{doc.where} ({doc.name}): spec.{field}.name names {kind} {name!r}{scope}, which "
            f"is not among the documents; add it (kubectl get {kind.lower()} {name} -o yaml)"
        )
    spec = _parse(spec_model, _dict(found.body.get("spec")), found.where, "spec")
    return model(kind=kind, name=name, spec=spec)


def _disks(doc: _Doc, body: Mapping[str, Any], docs: Sequence[_Doc]) -> list[Disk]:
    written = _get(doc.body, "spec", "dataVolumeTemplates")
    templates = {
        str(_get(t, "metadata", "name")): _dict(t.get("spec"))
        for t in (written if isinstance(written, list) else [])
        if isinstance(t, dict)
    }
    claims = {
        d.name: d.body
        for d in docs
        if d.kind in ("PersistentVolumeClaim", "DataVolume") and d.namespace == doc.namespace
    }
    found = []
    volumes = body.get("volumes")
    for i, volume in enumerate(volumes if isinstance(volumes, list) else []):
        if not isinstance(volume, dict):
            continue
        claim = _get(volume, "persistentVolumeClaim", "claimName") or _get(
            volume, "dataVolume", "name"
        )
        where = f"{doc.where} ({doc.name}): spec.template.spec.volumes[{i}]"
        if claim is not None:
            found.append(_claim_disk(str(volume.get("name")), str(claim), templates, claims, where))
        elif "hostDisk" in volume:
            size = _get(volume, "hostDisk", "capacity") or 0
            found.append(
                Disk(
                    name=str(volume.get("name")),
                    size_bytes=_size(size, f"{where}.hostDisk.capacity"),
                    copyable=False,
                )
            )
    return found


def _claim_disk(
    volume: str,
    claim: str,
    templates: Mapping[str, Mapping[str, Any]],
    claims: Mapping[str, Mapping[str, Any]],
    where: str,
) -> Disk:
    if claim in templates:
        storage = _dict(templates[claim].get("storage") or templates[claim].get("pvc"))
    elif claim in claims:
        obj = claims[claim]
        storage = _dict(obj.get("spec"))
        if obj.get("kind") == "DataVolume":
            storage = _dict(storage.get("storage") or storage.get("pvc"))
    else:
        raise ManifestError(
            f"{where}: claim {claim!r} is neither a dataVolumeTemplate of the VM nor a "
            "PersistentVolumeClaim or DataVolume among the documents, so its size is unknown"
        )
    size = _get(storage, "resources", "requests", "storage")
    if size is None:
        raise ManifestError(f"{where}: claim {claim!r} asks for no storage size")
    return Disk(
        name=volume,
        size_bytes=_size(size, f"{where}: claim {claim!r} storage"),
        storage_class=storage.get("storageClassName"),
        volume_mode=storage.get("volumeMode") or "Filesystem",
    )


def kubevirt(
    document: object, source: str
) -> tuple[k.KubeVirtConfiguration, dict[str, str], str | None]:
    """A `kubevirt.io/v1` KubeVirt CR: its configuration, its annotations and, when it has
    a status, the release it runs."""
    if not isinstance(document, dict) or document.get("kind") != "KubeVirt":
        raise ManifestError(f"{source}: expected a kubevirt.io/v1 KubeVirt object")
    config = _parse(
        k.KubeVirtConfiguration,
        _get(document, "spec", "configuration") or {},
        source,
        "spec.configuration",
    )
    annotations = _strings(_get(document, "metadata", "annotations"))
    version = _get(document, "status", "observedKubeVirtVersion")
    return config, annotations, str(version) if version else None
