"""Kubernetes-shaped objects, as the API serves them, for simulated clusters: the simulation
feeds the collector exactly what a real cluster would, so both go through the same code."""

from typing import Any

SCHEDULABLE = {"kubevirt.io/schedulable": "true", "kubernetes.io/arch": "amd64"}


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
