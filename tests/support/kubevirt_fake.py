"""KubeVirt and CDI as a test plays them on two kmock emulators (source and target): the
objects a VM starts with, and `play`, one step of what their controllers would do with the
objects a migration made. Objects change in the emulators' memory, never through a patched
client, so the driver reads them over HTTP as it would read a cluster."""

from typing import Any

import kmock

from tests.support import api_server

NS = "apps"
RESOURCES = {
    "v1/pods": "Pod",
    "v1/services": "Service",
    "v1/persistentvolumeclaims": "PersistentVolumeClaim",
    "kubevirt.io/v1/virtualmachines": "VirtualMachine",
    "kubevirt.io/v1/virtualmachineinstances": "VirtualMachineInstance",
    "kubevirt.io/v1/virtualmachineinstancemigrations": "VirtualMachineInstanceMigration",
    "cdi.kubevirt.io/v1beta1/datavolumes": "DataVolume",
    "apps/v1/controllerrevisions": "ControllerRevision",
}
GIB = 2**30
MIGRATIONS = "virtualmachineinstancemigrations"


def declare(emulator: kmock.KubernetesEmulator) -> None:
    for resource, kind in RESOURCES.items():
        emulator.resources[resource] = {"kind": kind, "namespaced": True}


def live(emulator: kmock.KubernetesEmulator, plural: str) -> dict[str, Any]:
    """name -> the stored object (kmock's, patchable) of one resource in NS."""
    return {
        name: obj
        for (resource, namespace, name), obj in emulator.objects.items()
        if resource.plural == plural and namespace == NS and not obj.deleted
    }


def raw(emulator: kmock.KubernetesEmulator, plural: str) -> dict[str, dict[str, Any]]:
    return {name: obj.raw for name, obj in live(emulator, plural).items()}


def put(emulator: kmock.KubernetesEmulator, plural: str, obj: dict[str, Any]) -> None:
    resource = next(r for r in RESOURCES if r.endswith(f"/{plural}"))
    emulator.objects[resource, NS, obj["metadata"]["name"]] = obj


def vm(name: str, strategy: str) -> dict[str, Any]:
    """A VM with a templated DataVolume, a plain claim and a disk that is no claim."""
    template = {
        "metadata": {"name": f"{name}-root"},
        "spec": {
            "source": {"http": {"url": "https://images.example/fedora.qcow2"}},
            "storage": {"resources": {"requests": {"storage": "10Gi"}}, "storageClassName": "fast"},
        },
    }
    volumes = [
        {"name": "root", "dataVolume": {"name": f"{name}-root"}},
        {"name": "data", "persistentVolumeClaim": {"claimName": f"{name}-data"}},
        {"name": "init", "cloudInitNoCloud": {"userData": "#cloud-config"}},
    ]
    instancetype = {"name": "u1.medium", "kind": "VirtualMachineClusterInstancetype"}
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": name, "uid": "0f1e", "resourceVersion": "42", "generation": 3},
        "spec": {
            "runStrategy": strategy,
            "instancetype": instancetype,
            "dataVolumeTemplates": [template],
            "template": {"spec": {"domain": {"devices": {}}, "volumes": volumes}},
        },
        "status": {
            "printableStatus": "Running",
            "instancetypeRef": {
                **instancetype,
                "controllerRevisionRef": {"name": revision_name(name)},
            },
        },
    }


def revision_name(vm_name: str) -> str:
    """As KubeVirt names it (revision/store.go GenerateName): VM, object, version, UID, gen."""
    return f"{vm_name}-u1.medium-v1beta1-5b2d-1"


def revision(vm_name: str, memory: str = "4Gi") -> dict[str, Any]:
    """The instancetype as KubeVirt stored it for the VM, owned by the VM."""
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {
            "name": revision_name(vm_name),
            "uid": "77aa",
            "resourceVersion": "9",
            "labels": {"instancetype.kubevirt.io/object-kind": "VirtualMachineClusterInstancetype"},
            "ownerReferences": [
                {
                    "apiVersion": "kubevirt.io/v1",
                    "kind": "VirtualMachine",
                    "name": vm_name,
                    "uid": "0f1e",
                }
            ],
        },
        "data": {
            "apiVersion": "instancetype.kubevirt.io/v1beta1",
            "kind": "VirtualMachineClusterInstancetype",
            "metadata": {"name": "u1.medium"},
            "spec": {"cpu": {"guest": 1}, "memory": {"guest": memory}},
        },
        "revision": 0,
    }


def claim(name: str, size: str, storage_class: str) -> dict[str, Any]:
    spec = {"resources": {"requests": {"storage": size}}, "storageClassName": storage_class}
    return {"metadata": {"name": name}, "spec": spec, "status": {"phase": "Bound"}}


def launcher(vm_name: str, name: str, status: dict[str, Any] | None = None) -> dict[str, Any]:
    labels = {"kubevirt.io": "virt-launcher", "vm.kubevirt.io/name": vm_name}
    return {"metadata": {"name": name, "labels": labels}, "status": status or {"phase": "Running"}}


def seed(source: kmock.KubernetesEmulator, name: str, running: bool) -> None:
    put(source, "virtualmachines", vm(name, "Always" if running else "Halted"))
    put(source, "controllerrevisions", revision(name))
    put(source, "persistentvolumeclaims", claim(f"{name}-root", "10Gi", "fast"))
    put(source, "persistentvolumeclaims", claim(f"{name}-data", "5Gi", "slow"))
    if running:
        put(source, "pods", launcher(name, f"virt-launcher-{name}-src"))


def play(source: kmock.KubernetesEmulator, target: kmock.KubernetesEmulator) -> None:
    """One step of CDI, KubeVirt and the rsync pods, each acting on what it finds."""
    for volume in live(target, "datavolumes").values():
        volume.patch({"status": {"phase": "Succeeded"}})
    _receivers(target)
    _migrations(source, target)
    _rsync(source, target)


def _receivers(target: kmock.KubernetesEmulator) -> None:
    launchers = {p["metadata"]["labels"].get("vm.kubevirt.io/name") for p in _pods(target)}
    for name, obj in live(target, "virtualmachines").items():
        if obj["spec"]["runStrategy"] == "WaitAsReceiver" and name not in launchers:
            put(target, "pods", launcher(name, f"virt-launcher-{name}-dst"))


def _migrations(source: kmock.KubernetesEmulator, target: kmock.KubernetesEmulator) -> None:
    """A sending and a receiving object of one migration id: the VM moves over."""
    migrations = live(target, MIGRATIONS).values()
    receiving = {m["spec"]["receive"]["migrationID"]: m for m in migrations}
    for sending in live(source, MIGRATIONS).values():
        match = receiving.get(sending["spec"]["sendTo"]["migrationID"])
        if match is None or "status" in sending:
            continue
        for obj in (sending, match):
            obj.patch({"status": {"phase": "Succeeded"}})
        name = sending["spec"]["vmiName"]
        api_server.write(live(source, "virtualmachines")[name], {"spec": {"runStrategy": "Halted"}})
        for pod_name, pod in live(source, "pods").items():
            if pod["metadata"]["labels"].get("vm.kubevirt.io/name") == name:
                live(source, "pods")[pod_name].delete()
        received = live(target, "virtualmachines")[name]
        restore = received["metadata"]["annotations"]["kubevirt.io/restore-run-strategy"]
        received.patch({"spec": {"runStrategy": restore}})


def _rsync(source: kmock.KubernetesEmulator, target: kmock.KubernetesEmulator) -> None:
    """Servers run; a client whose SERVER names a running server's Service copies it all."""
    services = live(target, "services")
    for pod in _pods(target, "server"):
        pod.patch({"status": {"phase": "Running"}})
    for pod in _pods(source, "client"):
        env = {e["name"]: e.get("value") for e in pod["spec"]["containers"][0]["env"]}
        service = env["SERVER"].split(".", 1)[0]
        if service in services and "status" not in pod:
            annotations = {"cclm.io/bytes-copied": str(15 * GIB)}
            pod.patch({"status": {"phase": "Succeeded"}, "metadata": {"annotations": annotations}})


def _pods(emulator: kmock.KubernetesEmulator, role: str = "") -> list[Any]:
    pods = live(emulator, "pods").values()
    return [p for p in pods if not role or p["metadata"]["labels"].get("cclm.io/role") == role]
