"""Kubernetes-shaped objects, as the API serves them, for simulated clusters: the simulation
feeds the collector exactly what a real cluster would, so both go through the same code."""

from typing import Any

SCHEDULABLE = {
    "kubevirt.io/schedulable": "true",
    "kubernetes.io/arch": "amd64",
    "machine-type.node.kubevirt.io/q35": "true",
}
"""The labels virt-handler's heartbeat and node labeller put on a node that runs VMs."""


def node(
    name: str,
    cpu: str,
    memory: str,
    labels: dict[str, str] | None = None,
    ready: bool = True,
    unschedulable: bool = False,
    taints: list[dict[str, str]] | None = None,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, **SCHEDULABLE, **(labels or {})},
        },
        "spec": {"unschedulable": unschedulable, "taints": taints or []},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": "250", **(extra or {})},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def container(name: str, cpu: str | None = None, memory: str | None = None) -> dict[str, Any]:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v is not None}
    return {"name": name, "image": "registry.example/app", "resources": {"requests": requests}}


def pod(
    namespace: str,
    name: str,
    node_name: str | None,
    containers: list[dict[str, Any]],
    phase: str = "Running",
    init_containers: list[dict[str, Any]] | None = None,
    overhead: dict[str, str] | None = None,
    labels: dict[str, str] | None = None,
    conditions: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"containers": containers, "initContainers": init_containers or []}
    if node_name:
        body["nodeName"] = node_name
    if overhead:
        body["overhead"] = overhead
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"namespace": namespace, "name": name, "labels": labels or {}},
        "spec": body,
        "status": {"phase": phase, "conditions": conditions or []},
    }


def launcher(
    namespace: str, vm: str, node_name: str | None, cpu: str, memory: str, **extra: Any
) -> dict[str, Any]:
    labels = {"kubevirt.io": "virt-launcher", "vm.kubevirt.io/name": vm}
    return pod(
        namespace,
        f"virt-launcher-{vm}-x7k2p",
        node_name,
        [container("compute", cpu, memory)],
        labels=labels,
        **extra,
    )


def storage_class(
    name: str, provisioner: str, default: bool = False, binding: str = "Immediate"
) -> dict[str, Any]:
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name, "annotations": annotations},
        "provisioner": provisioner,
        "volumeBindingMode": binding,
    }


def csi_capacity(name: str, storage_class_name: str, capacity: str) -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "CSIStorageCapacity",
        "metadata": {"namespace": "kube-system", "name": name},
        "storageClassName": storage_class_name,
        "capacity": capacity,
    }


def pvc(namespace: str, name: str, size: str, storage_class: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"namespace": namespace, "name": name},
        "spec": {
            "storageClassName": storage_class,
            "volumeMode": "Filesystem",
            "resources": {"requests": {"storage": size}},
        },
        "status": {"phase": "Bound", "capacity": {"storage": size}},
    }


def quota(namespace: str, name: str, hard: dict[str, str], used: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"namespace": namespace, "name": name},
        "spec": {"hard": hard},
        "status": {"hard": hard, "used": used},
    }


def kubevirt(cpu_ratio: int | None = None, overcommit: int | None = None) -> dict[str, Any]:
    developer: dict[str, Any] = {"featureGates": ["LiveMigration", "DecentralizedLiveMigration"]}
    if cpu_ratio is not None:
        developer["cpuAllocationRatio"] = cpu_ratio
    if overcommit is not None:
        developer["memoryOvercommit"] = overcommit
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "KubeVirt",
        "metadata": {"namespace": "kubevirt", "name": "kubevirt"},
        "spec": {"configuration": {"developerConfiguration": developer}},
        "status": {"phase": "Deployed", "observedKubeVirtVersion": "v1.6.0"},
    }


def virtual_machine(
    namespace: str,
    name: str,
    cores: int = 1,
    memory: str = "2Gi",
    volumes: list[dict[str, Any]] | None = None,
    domain: dict[str, Any] | None = None,
    template: dict[str, Any] | None = None,
    data_volume_templates: list[dict[str, Any]] | None = None,
    run_strategy: str = "Always",
) -> dict[str, Any]:
    body = {
        "domain": {
            "cpu": {"sockets": 1, "cores": cores, "threads": 1},
            "memory": {"guest": memory},
            "devices": {"disks": [], "interfaces": [{"name": "default", "masquerade": {}}]},
            **(domain or {}),
        },
        "volumes": volumes or [],
        **(template or {}),
    }
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"namespace": namespace, "name": name},
        "spec": {
            "runStrategy": run_strategy,
            "dataVolumeTemplates": data_volume_templates or [],
            "template": {"spec": body},
        },
    }


def instance(
    namespace: str, name: str, node_name: str, phase: str = "Running", migratable: bool = True
) -> dict[str, Any]:
    condition = {"type": "LiveMigratable", "status": "True" if migratable else "False"}
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"namespace": namespace, "name": name},
        "status": {"phase": phase, "nodeName": node_name, "conditions": [condition]},
    }


INSTANCETYPES = "instancetype.kubevirt.io/v1beta1"


def instancetype(
    name: str,
    cpus: int,
    memory: str,
    namespace: str | None = None,
    overcommit: int = 0,
    **spec: Any,
) -> dict[str, Any]:
    """A VirtualMachineClusterInstancetype, or a namespaced one when `namespace` is given."""
    kind = "VirtualMachineInstancetype" if namespace else "VirtualMachineClusterInstancetype"
    meta: dict[str, Any] = {"name": name, "resourceVersion": "1"}
    if namespace:
        meta["namespace"] = namespace
    guest: dict[str, Any] = {"guest": memory}
    if overcommit:
        guest["overcommitPercent"] = overcommit
    body = {"cpu": {"guest": cpus}, "memory": guest, **spec}
    return {"apiVersion": INSTANCETYPES, "kind": kind, "metadata": meta, "spec": body}


def preference(name: str, namespace: str | None = None, **spec: Any) -> dict[str, Any]:
    kind = "VirtualMachinePreference" if namespace else "VirtualMachineClusterPreference"
    meta: dict[str, Any] = {"name": name, "resourceVersion": "1"}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": INSTANCETYPES, "kind": kind, "metadata": meta, "spec": spec}


def controller_revision(namespace: str, name: str, held: dict[str, Any]) -> dict[str, Any]:
    """What KubeVirt stores when a VM first uses an instancetype or preference: the whole
    object as it was then (`pkg/instancetype/revision/store.go`)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "namespace": namespace,
            "name": name,
            "resourceVersion": "1",
            "labels": {
                "instancetype.kubevirt.io/object-kind": held["kind"],
                "instancetype.kubevirt.io/object-name": held["metadata"]["name"],
            },
        },
        "data": {k: v for k, v in held.items() if k != "metadata"}
        | {"metadata": {"name": held["metadata"]["name"]}},
        "revision": 1,
    }


def uses(
    vm: dict[str, Any],
    instancetype: dict[str, Any] | None = None,
    preference: dict[str, Any] | None = None,
    revisions: tuple[str | None, str | None] = (None, None),
) -> dict[str, Any]:
    """The VM naming an instancetype and a preference, with the status refs KubeVirt's
    controller writes once it stored their revisions."""
    spec = vm["spec"]
    status = vm.setdefault("status", {})
    for field, ref, obj, revision in (
        ("instancetype", "instancetypeRef", instancetype, revisions[0]),
        ("preference", "preferenceRef", preference, revisions[1]),
    ):
        if obj is None:
            continue
        spec[field] = {"name": obj["metadata"]["name"], "kind": obj["kind"]}
        if revision:
            status[ref] = {
                "name": obj["metadata"]["name"],
                "controllerRevisionRef": {"name": revision},
            }
    return vm


def cdi(version: str) -> dict[str, Any]:
    return {
        "apiVersion": "cdi.kubevirt.io/v1beta1",
        "kind": "CDI",
        "metadata": {"name": "cdi"},
        "status": {"phase": "Deployed", "observedVersion": version},
    }


def cdi_config(overall: str, per_class: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "cdi.kubevirt.io/v1beta1",
        "kind": "CDIConfig",
        "metadata": {"name": "config"},
        "status": {"filesystemOverhead": {"global": overall, "storageClass": per_class or {}}},
    }


def storage_profile(name: str, volume_mode: str, minimum: str | None = None) -> dict[str, Any]:
    annotations = {"cdi.kubevirt.io/minimumSupportedPvcSize": minimum} if minimum else {}
    return {
        "apiVersion": "cdi.kubevirt.io/v1beta1",
        "kind": "StorageProfile",
        "metadata": {"name": name, "annotations": annotations},
        "status": {
            "claimPropertySets": [{"accessModes": ["ReadWriteOnce"], "volumeMode": volume_mode}]
        },
    }


def runtime_class(name: str, overhead: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": name},
        "handler": name,
        "overhead": {"podFixed": overhead},
    }


def network_attachment(namespace: str, name: str, resource: str) -> dict[str, Any]:
    return {
        "apiVersion": "k8s.cni.cncf.io/v1",
        "kind": "NetworkAttachmentDefinition",
        "metadata": {
            "namespace": namespace,
            "name": name,
            "annotations": {"k8s.v1.cni.cncf.io/resourceName": resource},
        },
        "spec": {"config": "{}"},
    }
