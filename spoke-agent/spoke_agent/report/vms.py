"""A KubeVirt VirtualMachine (with its VMI, launcher pods, PVCs, DataVolumes and the
revisions of its instancetype and preference) as the engine's `VirtualMachine`: its template
in KubeVirt's own terms, so that the hub sizes it by the rules of the target's release; a VM
that is stopped is still sized as it would run."""

from collections.abc import Mapping, Sequence
from typing import Any

from hub.models.wire import SOURCE_STATE_PREFIXES, Disk, SourceNode, VirtualMachine, quantity
from hub.models.wire import kubevirt as k
from spoke_agent.report import revisions
from spoke_agent.report.snapshot import Object, meta, spec, status

LAUNCHER_LABEL = ("kubevirt.io", "virt-launcher")
VM_NAME_LABEL = "vm.kubevirt.io/name"
STOPPED_PHASES = ("Succeeded", "Failed")


def _get(data: Mapping[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)  # type: ignore[assignment]
    return data


def _volume(size: object, storage: Mapping[str, Any], what: str) -> tuple[int, str | None, str]:
    """Size, class and mode of a PVC spec or a DataVolume's storage spec."""
    size = size or _get(storage, "resources", "requests", "storage")
    if size is None:
        raise ValueError(f"{what} has no size")
    return (
        quantity.units(str(size)),
        storage.get("storageClassName"),
        storage.get("volumeMode") or "Filesystem",
    )


def _claim_size(claim: Object) -> tuple[int, str | None, str]:
    """What the executor asks the target for: the requested size (CDI sizes a filesystem
    disk image by it); a block volume is copied whole, so its capacity when larger."""
    what = f"PVC {meta(claim).get('name')}"
    capacity = _get(status(claim), "capacity", "storage")
    wanted = _get(spec(claim), "resources", "requests", "storage")
    size, storage_class, mode = _volume(wanted or capacity, spec(claim), what)
    if mode == "Block" and capacity is not None:
        size = max(size, quantity.units(str(capacity)))
    return size, storage_class, mode


def _claim_name(volume: Mapping[str, Any]) -> Any:
    return _get(volume, "persistentVolumeClaim", "claimName") or _get(volume, "dataVolume", "name")


def _disks(
    volumes: Sequence[Mapping[str, Any]],
    claims: Mapping[str, Object],
    templates: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    disks = []
    for volume in volumes:
        name = volume.get("name")
        claim_name = _claim_name(volume)
        if claim_name is not None:
            if claim_name in claims:
                size, storage_class, mode = _claim_size(claims[claim_name])
            else:
                size, storage_class, mode = _template_size(str(name), claim_name, templates)
            disks.append(
                {
                    "name": name,
                    "size_bytes": size,
                    "storage_class": storage_class,
                    "volume_mode": mode,
                }
            )
        elif "hostDisk" in volume:
            size = _get(volume, "hostDisk", "capacity") or 0
            disks.append({"name": name, "size_bytes": quantity.units(str(size)), "copyable": False})
    return disks


def _template_size(
    volume: str, claim_name: str, templates: Sequence[Mapping[str, Any]]
) -> tuple[int, str | None, str]:
    for template in templates:
        if _get(template, "metadata", "name") == claim_name:
            body = template.get("spec") or {}
            storage = body.get("storage") or body.get("pvc") or {}
            return _volume(None, storage, f"DataVolume template {claim_name}")
    raise ValueError(f"volume {volume}: claim {claim_name} not found")


def _running(vmi: Object | None, launchers: Sequence[Object]) -> bool:
    """Running while its VMI is not finished or any of its virt-launcher pods still exists."""
    if launchers:
        return True
    return vmi is not None and status(vmi).get("phase") not in STOPPED_PHASES


def _live_migratable(vmi: Object | None) -> bool:
    if vmi is None:
        return True
    for condition in status(vmi).get("conditions") or ():
        if condition.get("type") == "LiveMigratable":
            return bool(condition.get("status") == "True")
    return True


SIZING_ANNOTATIONS = ("hooks.kubevirt.io/hookSidecars",)
"""Template annotations that change the launcher pod (a hook sidecar is a container)."""
MEASURED = "kubevirt.io/memory-overhead-bytes"


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _source_node(vmi: Object | None, nodes: Mapping[str, Object]) -> SourceNode | None:
    """The node a running VM is on, with the labels a migration carries to the target."""
    name = status(vmi).get("nodeName") if vmi is not None else None
    if not name:
        return None
    node = nodes.get(str(name))
    labels = (meta(node).get("labels") or {}) if node is not None else {}
    kept = {k: str(v) for k, v in labels.items() if k.startswith(SOURCE_STATE_PREFIXES)}
    return SourceNode(name=str(name), labels=kept)


def _measured(launchers: Sequence[Object], node: str | None) -> int | None:
    """The overhead KubeVirt wrote on the VM's launcher pod (VmiMemoryOverheadReport)."""
    for pod in launchers:
        if node and spec(pod).get("nodeName") not in (node, None):
            continue
        text = (meta(pod).get("annotations") or {}).get(MEASURED)
        if isinstance(text, str) and text.isdigit():
            return int(text)
    return None


def vm_spec(
    vm: Object,
    vmi: Object | None,
    launchers: Sequence[Object],
    claims: Mapping[str, Object],
    nodes: Mapping[str, Object],
    found: revisions.Catalog,
) -> VirtualMachine:
    """Raises ValueError (or a pydantic error, which is one) for a VM that cannot be read."""
    template = _section(spec(vm), "template")
    body = _section(template, "spec")
    annotations = _section(_section(template, "metadata"), "annotations")
    source = _source_node(vmi, nodes) if vmi is not None else None
    return VirtualMachine(
        name=meta(vm)["name"],
        namespace=meta(vm)["namespace"],
        running=_running(vmi, launchers),
        live_migratable=_live_migratable(vmi),
        template=k.VMISpec.model_validate(body),
        annotations={n: str(annotations[n]) for n in SIZING_ANNOTATIONS if n in annotations},
        instancetype=revisions.instancetype(vm, found),
        preference=revisions.preference(vm, found),
        disks=tuple(
            Disk.model_validate(d)
            for d in _disks(
                body.get("volumes") or (), claims, spec(vm).get("dataVolumeTemplates") or ()
            )
        ),
        source_node=source,
        measured_overhead_bytes=_measured(launchers, source.name if source else None),
    )


def fingerprint(
    vm: Object,
    vmi: Object | None,
    launchers: Sequence[Object],
    claims: Mapping[str, Object],
    nodes: Mapping[str, Object],
    found: revisions.Catalog,
) -> tuple[object, ...] | None:
    """The versions of everything `vm_spec` reads for this VM; None when one has none."""
    versions: list[object] = [meta(vm).get("resourceVersion")]
    if vmi is not None:
        versions.append(meta(vmi).get("resourceVersion"))
    if len(launchers) > 1:
        launchers = sorted(launchers, key=lambda p: str(meta(p).get("name")))
    versions += [meta(p).get("resourceVersion") for p in launchers]
    for volume in _get(spec(vm), "template", "spec", "volumes") or ():
        name = _claim_name(volume)
        if name is not None and name in claims:
            versions.append(meta(claims[name]).get("resourceVersion"))
    catalog = revisions.versions(vm, found)
    if None in versions or catalog is None:
        return None
    source = _source_node(vmi, nodes)
    node = (source.name, tuple(sorted(source.labels.items()))) if source else None
    return (*versions, len(launchers), catalog, node)


def launcher_pods(pods: Sequence[Object]) -> dict[tuple[str, str], list[Object]]:
    """virt-launcher pods by (namespace, VM name)."""
    found: dict[tuple[str, str], list[Object]] = {}
    for pod in pods:
        labels = meta(pod).get("labels") or {}
        if labels.get(LAUNCHER_LABEL[0]) != LAUNCHER_LABEL[1]:
            continue
        vm = labels.get(VM_NAME_LABEL)
        if vm:
            found.setdefault((meta(pod).get("namespace", ""), vm), []).append(pod)
    return found
