"""A KubeVirt VirtualMachine (with its VMI, PVCs and DataVolumes) as the engine's `VmSpec`:
what another cluster would have to host. Field by field from the VM's template, so a VM that
is stopped is still sized as it would run."""

from collections.abc import Mapping, Sequence
from typing import Any

from hub.models import quantity
from hub.models.vm import VmSpec
from spoke_agent.requests import container_requests
from spoke_agent.snapshot import Object, meta, spec, status

LAUNCHER_LABEL = ("kubevirt.io", "virt-launcher")
VM_NAME_LABEL = "vm.kubevirt.io/name"
STOPPED_PHASES = ("Succeeded", "Failed")
HOST_MODEL_PREFIX = "host-model-cpu.node.kubevirt.io/"


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
    capacity = _get(status(claim), "capacity", "storage")
    return _volume(capacity, spec(claim), f"PVC {meta(claim).get('name')}")


def _template_size(template: Mapping[str, Any]) -> tuple[int, str | None, str]:
    body = template.get("spec") or {}
    storage = body.get("storage") or body.get("pvc") or {}
    return _volume(None, storage, f"DataVolume template {_get(template, 'metadata', 'name')}")


def _disks(
    vm: Object, claims: Mapping[str, Object], templates: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    disks = []
    for volume in _get(spec(vm), "template", "spec", "volumes") or ():
        name = volume.get("name")
        claim_name = _get(volume, "persistentVolumeClaim", "claimName") or _get(
            volume, "dataVolume", "name"
        )
        if claim_name is not None:
            if claim_name in claims:
                size, storage_class, mode = _claim_size(claims[claim_name])
            elif claim_name in templates:
                size, storage_class, mode = _template_size(templates[claim_name])
            else:
                raise ValueError(f"volume {name}: claim {claim_name} not found")
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


def _affinity(template: Mapping[str, Any]) -> list[dict[str, Any]]:
    terms = _get(
        template,
        "affinity",
        "nodeAffinity",
        "requiredDuringSchedulingIgnoredDuringExecution",
        "nodeSelectorTerms",
    )
    return [
        {
            "match_expressions": [
                {"key": e["key"], "operator": e["operator"], "values": e.get("values") or []}
                for e in term.get("matchExpressions") or ()
            ]
        }
        for term in terms or ()
    ]


def _devices(domain: Mapping[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    devices = domain.get("devices") or {}
    for device in [*(devices.get("gpus") or ()), *(devices.get("hostDevices") or ())]:
        name = device.get("deviceName")
        if name:
            counts[name] = counts.get(name, 0) + 1
    return counts


def _passt(domain: Mapping[str, Any]) -> bool:
    for interface in _get(domain, "devices", "interfaces") or ():
        if "passt" in interface or _get(interface, "binding", "name") == "passt":
            return True
    return False


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


def vm_spec(
    vm: Object,
    vmi: Object | None,
    launchers: Sequence[Object],
    claims: Mapping[str, Object],
    host_models: Mapping[str, str],
) -> VmSpec:
    """Raises ValueError (or a pydantic error, which is one) for a VM that cannot be read."""
    template = _get(spec(vm), "template", "spec") or {}
    domain = template.get("domain") or {}
    cpu = domain.get("cpu") or {}
    memory = domain.get("memory") or {}
    resources = domain.get("resources") or {}
    requests = container_requests({"resources": {"requests": resources.get("requests") or {}}})
    limits = container_requests({"resources": {"requests": resources.get("limits") or {}}})
    templates = {_get(t, "metadata", "name"): t for t in spec(vm).get("dataVolumeTemplates") or ()}
    data: dict[str, Any] = {
        "name": meta(vm)["name"],
        "namespace": meta(vm)["namespace"],
        "running": _running(vmi, launchers),
        "live_migratable": _live_migratable(vmi),
        "cpu": {k: cpu[k] for k in ("sockets", "cores", "threads") if k in cpu},
        "dedicated_cpu": bool(cpu.get("dedicatedCpuPlacement")),
        "isolate_emulator_thread": bool(cpu.get("isolateEmulatorThread")),
        "architecture": template.get("architecture") or "amd64",
        "guest_memory_bytes": memory.get("guest"),
        "requests_cpu_millis": requests.get("cpu"),
        "requests_memory_bytes": requests.get("memory"),
        "limits_cpu_millis": limits.get("cpu"),
        "limits_memory_bytes": limits.get("memory"),
        "hugepages_page_size": _get(memory, "hugepages", "pageSize"),
        "overcommit_guest_overhead": bool(resources.get("overcommitGuestOverhead")),
        "autoattach_graphics": _get(domain, "devices", "autoattachGraphicsDevice") is not False,
        "tpm": _get(domain, "devices", "tpm") is not None,
        "sev": _get(domain, "launchSecurity", "sev") is not None,
        "passt_binding": _passt(domain),
        "host_devices": _devices(domain),
        "node_selector": template.get("nodeSelector") or {},
        "affinity": _affinity(template),
        "tolerations": [
            {k: t[k] for k in ("key", "operator", "value", "effect") if k in t}
            for t in template.get("tolerations") or ()
        ],
        "disks": _disks(vm, claims, templates),
    }
    model = cpu.get("model")
    if model == "host-model":
        data["host_model"] = host_models.get(str(status(vmi or {}).get("nodeName")))
    elif model and model != "host-passthrough":
        data["cpu_model"] = model
    return VmSpec.model_validate({k: v for k, v in data.items() if not _default(k, v)})


DEFAULTS = {name: info.default for name, info in VmSpec.model_fields.items()}


def _default(field: str, value: Any) -> bool:
    """Left out when it is the model's default: fewer fields to validate, same VmSpec."""
    if value is None:
        return True
    default = DEFAULTS.get(field)
    if isinstance(default, tuple):
        return value in ((), [])
    return type(value) is type(default) and value == default


def fingerprint(
    vm: Object,
    vmi: Object | None,
    launchers: Sequence[Object],
    claims: Mapping[str, Object],
    host_models: Mapping[str, str],
) -> tuple[object, ...] | None:
    """The versions of everything `vm_spec` reads for this VM; None when one has none."""
    versions: list[object] = [meta(vm).get("resourceVersion")]
    if vmi is not None:
        versions.append(meta(vmi).get("resourceVersion"))
    ordered = sorted(launchers, key=lambda p: str(meta(p).get("name")))
    versions += [meta(p).get("resourceVersion") for p in ordered]
    for volume in _get(spec(vm), "template", "spec", "volumes") or ():
        name = _get(volume, "persistentVolumeClaim", "claimName") or _get(
            volume, "dataVolume", "name"
        )
        if name is not None and name in claims:
            versions.append(meta(claims[name]).get("resourceVersion"))
    if any(version is None for version in versions):
        return None
    node = None if vmi is None else str(status(vmi).get("nodeName"))
    return (*versions, len(ordered), host_models.get(node or ""))


def host_models(nodes: Sequence[Object]) -> dict[str, str]:
    """Each node's host CPU model, from the label KubeVirt's node labeller sets."""
    found = {}
    for node in nodes:
        for label in meta(node).get("labels") or {}:
            if label.startswith(HOST_MODEL_PREFIX):
                found[str(meta(node).get("name"))] = label[len(HOST_MODEL_PREFIX) :]
    return found


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
