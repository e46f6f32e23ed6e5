"""A KubeVirt VirtualMachine (with its VMI, PVCs and DataVolumes) as the engine's `VmSpec`:
what another cluster would have to host. Field by field from the VM's template, so a VM that
is stopped is still sized as it would run."""

from collections.abc import Mapping, Sequence
from typing import Any

from hub.models import quantity
from hub.models.vm import VmSpec
from spoke_agent.requests import CPU, MEMORY, amounts
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


def _host_devices(devices: Mapping[str, Any]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for device in [*(devices.get("gpus") or ()), *(devices.get("hostDevices") or ())]:
        name = device.get("deviceName")
        if name:
            counts[name] = counts.get(name, 0) + 1
    return counts


def _passt(devices: Mapping[str, Any]) -> bool:
    for interface in devices.get("interfaces") or ():
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


def _section(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def vm_spec(
    vm: Object,
    vmi: Object | None,
    launchers: Sequence[Object],
    claims: Mapping[str, Object],
    host_models: Mapping[str, str],
) -> VmSpec:
    """Raises ValueError (or a pydantic error, which is one) for a VM that cannot be read.

    Only what differs from VmSpec's defaults goes in: validating fewer fields is most of
    what makes a 3,000-VM cluster quick to report."""
    template = _section(_section(spec(vm), "template"), "spec")
    domain = _section(template, "domain")
    cpu, memory = _section(domain, "cpu"), _section(domain, "memory")
    resources, devices = _section(domain, "resources"), _section(domain, "devices")
    data: dict[str, Any] = {"name": meta(vm)["name"], "namespace": meta(vm)["namespace"]}
    flags = {
        "running": _running(vmi, launchers),
        "live_migratable": _live_migratable(vmi),
        "autoattach_graphics": devices.get("autoattachGraphicsDevice") is not False,
    }
    data.update((name, False) for name, value in flags.items() if not value)
    flags = {
        "dedicated_cpu": bool(cpu.get("dedicatedCpuPlacement")),
        "isolate_emulator_thread": bool(cpu.get("isolateEmulatorThread")),
        "overcommit_guest_overhead": bool(resources.get("overcommitGuestOverhead")),
        "tpm": devices.get("tpm") is not None,
        "sev": _get(domain, "launchSecurity", "sev") is not None,
        "passt_binding": _passt(devices),
    }
    data.update((name, True) for name, value in flags.items() if value)
    requests = amounts(_section(resources, "requests"))
    limits = amounts(_section(resources, "limits"))
    given = {
        "cpu": {k: cpu[k] for k in ("sockets", "cores", "threads") if k in cpu},
        "architecture": template.get("architecture"),
        "guest_memory_bytes": memory.get("guest"),
        "requests_cpu_millis": requests.get(CPU),
        "requests_memory_bytes": requests.get(MEMORY),
        "limits_cpu_millis": limits.get(CPU),
        "limits_memory_bytes": limits.get(MEMORY),
        "hugepages_page_size": _get(memory, "hugepages", "pageSize"),
        "host_devices": _host_devices(devices),
        "node_selector": template.get("nodeSelector"),
        "affinity": _affinity(template),
        "tolerations": [
            {k: t[k] for k in ("key", "operator", "value", "effect") if k in t}
            for t in template.get("tolerations") or ()
        ],
        "disks": _disks(
            template.get("volumes") or (), claims, spec(vm).get("dataVolumeTemplates") or ()
        ),
        **_cpu_model(cpu.get("model"), vmi, host_models),
    }
    data.update((name, value) for name, value in given.items() if value or value == 0)
    return VmSpec.model_validate(data)


def _cpu_model(model: Any, vmi: Object | None, host_models: Mapping[str, str]) -> dict[str, Any]:
    if model == "host-model":
        return {"host_model": host_models.get(str(status(vmi or {}).get("nodeName")))}
    if model and model != "host-passthrough":
        return {"cpu_model": model}
    return {}


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
    if len(launchers) > 1:
        launchers = sorted(launchers, key=lambda p: str(meta(p).get("name")))
    versions += [meta(p).get("resourceVersion") for p in launchers]
    for volume in _get(spec(vm), "template", "spec", "volumes") or ():
        name = _claim_name(volume)
        if name is not None and name in claims:
            versions.append(meta(claims[name]).get("resourceVersion"))
    if None in versions:
        return None
    node = None if vmi is None else str(status(vmi).get("nodeName"))
    return (*versions, len(launchers), host_models.get(node or ""))


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
