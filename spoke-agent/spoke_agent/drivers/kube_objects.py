"""The objects the Kubernetes driver writes and reads, built and parsed without I/O.

KubeVirt's decentralized live migration (KubeVirt >= 1.6), as the KubeVirt user guide
describes it (kubevirt/user-guide, docs/compute/decentralized_live_migration.md): the target
VirtualMachine has `spec.runStrategy: WaitAsReceiver` and the annotation
`kubevirt.io/restore-run-strategy` naming the strategy KubeVirt gives it once the VM arrived;
the target VirtualMachineInstanceMigration has `spec.vmiName` and `spec.receive.migrationID`,
the source one `spec.vmiName` and `spec.sendTo.{migrationID, connectURL}`, where connectURL
is one of the target KubeVirt CR's `status.synchronizationAddresses`. The disks arrive in
blank CDI DataVolumes of the source's names (`spec.source.blank`,
`spec.storage.storageClassName`, `spec.storage.resources.requests.storage`).

Every object a job creates carries `cclm.io/migration=<job id>` (job ids are label values)
and `cclm.io/role`; those of one VM `cclm.io/vm=<short name>` (the namespace is the
object's own), rsync pods `cclm.io/round`, migration objects `cclm.io/attempt`.
"""

import copy
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from spoke_agent.drivers import kube_revisions
from spoke_agent.executor.model import Definition, Job, Phase, Pod, Side, Stamp, Transfer

Obj = dict[str, Any]

MIGRATION = "cclm.io/migration"
VM = "cclm.io/vm"
ROLE = "cclm.io/role"
ROUND = "cclm.io/round"
ATTEMPT = "cclm.io/attempt"
MIGRATED_BY = "cclm.io/migrated-by"
"""On a source VM left behind: annotation for people, label for an admission policy that
refuses to start a VM carrying it."""
MIGRATED_RUNNING = "cclm.io/migrated-running"
"""With the mark: "true" when the VM runs on the target (it was migrated live)."""
BYTES_COPIED = "cclm.io/bytes-copied"
"""On an rsync client pod: written by the image's progress wrapper (its entrypoint)."""
SERVES = "cclm.io/serves"
"""On a round's server pods: the VMs (namespace/name, comma-separated) it was made for."""
STAMP = "cclm.io/stamp"
"""On an rsync client pod: the source VM's stamp it was made for (JSON of uid, generation
and resourceVersion), so a copy can be judged even if the executor's journal is lost."""
HOSTNAME = "kubernetes.io/hostname"
RESTORE = "kubevirt.io/restore-run-strategy"
LAUNCHER = {"kubevirt.io": "virt-launcher"}
RSYNC_PORT = 873
ROLES = {Side.SOURCE: "send", Side.TARGET: "receive"}

_SERVER_SET = ("uid", "resourceVersion", "creationTimestamp", "managedFields", "generation")
_RUNNING = {"Always": True, "Halted": False, "WaitAsReceiver": False}
_FINAL = {"Succeeded", "Failed"}
_PHASES = {p.value: p for p in Phase}
_VOLUME_READY = {"Succeeded", "WaitForFirstConsumer", "PendingPopulation"}
"""CDI is done with the blank volume, or waits only for its first consumer: the receiver's
virt-launcher pod or the rsync server, which come after."""
_SERVE = (
    "printf '[data]\\npath = /data\\nread only = false\\nuid = 0\\ngid = 0\\n' > /tmp/rsyncd.conf"
    f" && exec rsync --daemon --no-detach --port={RSYNC_PORT} --config=/tmp/rsyncd.conf"
)
_SEND = (
    "set -e; for v in $VOLUMES; do rsync -aS --inplace --numeric-ids --info=progress2"
    ' "/data/$v/" "rsync://$SERVER/data/$v/"; done'
)
"""`--inplace`: a copy made again rewrites the disk image where it is, instead of beside
it in a temporary file that would need the volume twice over (rsync >= 3.1.3 allows it
with `-S`). `--info=progress2`: the whole run's bytes, which the image's entrypoint
(spoke_agent/rsync/wrapper.py) reports."""


@dataclass(frozen=True, slots=True)
class Volume:
    name: str
    size: str
    storage_class: str | None


def split(vm: str) -> tuple[str, str]:
    namespace, name = vm.split("/", 1)
    return namespace, name


def _digest(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def migration_id(job_id: str, vm: str, attempt: int) -> str:
    """The same for both clusters and for every repetition, so re-applying finds the object."""
    return f"cclm-{_digest(job_id, vm, attempt)[:16]}"


def server_name(job_id: str, round_id: int) -> str:
    """A DNS label (the Service's name too): the job's hash tells apart concurrent jobs."""
    return f"cclm-{_digest(job_id)[:10]}-r{round_id}-rsync"


def client_name(job_id: str, round_id: int, vm: str) -> str:
    return f"{server_name(job_id, round_id)}-{split(vm)[1]}"


def labels(
    job_id: str, role: str, vm: str = "", round_id: int | None = None, attempt: int | None = None
) -> dict[str, str]:
    found = {MIGRATION: job_id, ROLE: role}
    if vm:
        found[VM] = split(vm)[1]
    if round_id is not None:
        found[ROUND] = str(round_id)
    if attempt is not None:
        found[ATTEMPT] = str(attempt)
    return found


def matches(obj: Mapping[str, Any], selector: Mapping[str, str]) -> bool:
    """Checked again on what a list returns: test servers ignore `labelSelector`."""
    found = obj.get("metadata", {}).get("labels") or {}
    return all(found.get(key) == value for key, value in selector.items())


def selector(wanted: Mapping[str, str]) -> str:
    return ",".join(f"{key}={value}" for key, value in wanted.items())


def prune(obj: Any) -> Any:
    """The object without its nulls: on a merge patch a null clears a field, on a create it
    would be stored as one."""
    if isinstance(obj, dict):
        return {k: prune(v) for k, v in obj.items() if v is not None}
    return obj


# VirtualMachines


def definition(obj: Mapping[str, Any]) -> Definition:
    """Always runs, Halted and WaitAsReceiver do not; RerunOnFailure, Manual and Once as
    `_meant_to_run` says; without a runStrategy the legacy `spec.running` decides. The
    manifest names the revisions the VM runs with."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    strategy = spec.get("runStrategy")
    if strategy is None:
        running = bool(spec.get("running"))
    else:
        running = _RUNNING.get(strategy, _meant_to_run(strategy, status))
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    return Definition(
        running=running,
        receiver=strategy == "WaitAsReceiver",
        migrated_by=annotations.get(MIGRATED_BY),
        migrated_running=annotations.get(MIGRATED_RUNNING) == "true",
        manifest=kube_revisions.pin(clean(obj), status),
        stamp=stamp(meta),
    )


def _meant_to_run(strategy: str, status: Mapping[str, Any]) -> bool:
    """RerunOnFailure, Manual and Once: virt-controller's `printableStatus` is "Stopped"
    once the VirtualMachineInstance is final (a guest shut down) or none is expected
    (`isVirtualMachineStatusStopped`). Before any status, RerunOnFailure is about to start,
    the others run only if their instance exists."""
    printable = status.get("printableStatus")
    if printable:
        return bool(printable != "Stopped")
    return strategy == "RerunOnFailure" or bool(status.get("created"))


def final(obj: Mapping[str, Any]) -> bool:
    """A pod or VirtualMachineInstance that has ended: it holds no volume any more."""
    return (obj.get("status") or {}).get("phase") in _FINAL


def stamp(meta: Mapping[str, Any]) -> Stamp:
    return Stamp(
        str(meta.get("uid") or ""),
        int(meta.get("generation") or 0),
        str(meta.get("resourceVersion") or ""),
    )


def stamp_text(value: Stamp) -> str:
    fields = {"uid": value.uid, "generation": value.generation, "resourceVersion": value.version}
    return json.dumps(fields, sort_keys=True)


def stamp_of(pod: Mapping[str, Any]) -> Stamp | None:
    """The stamp a client pod was made for; None when it does not say, or not readably."""
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(STAMP)
    try:
        found = json.loads(text) if text else None
        if not isinstance(found, dict):
            return None
        return Stamp(str(found["uid"]), int(found["generation"]), str(found["resourceVersion"]))
    except (ValueError, TypeError, KeyError):
        return None


def clean(obj: Mapping[str, Any]) -> Obj:
    """What can be created elsewhere: no status, none of what the API server sets."""
    found = copy.deepcopy(dict(obj))
    found.pop("status", None)
    meta = found.get("metadata") or {}
    for key in _SERVER_SET:
        meta.pop(key, None)
    return found


def target_vm(job_id: str, vm: str, manifest: Mapping[str, Any], strategy: str) -> Obj:
    """The VM from the source's manifest, with nulls to clear on an existing object what the
    manifest has and the target must not: `spec.running` (runStrategy rules),
    `dataVolumeTemplates` (the blank DataVolumes are made beforehand; templates would have
    KubeVirt import the source's disks again) and the mark of an earlier migration."""
    namespace, name = split(vm)
    obj = clean(manifest)
    meta = obj.setdefault("metadata", {})
    meta.update(namespace=namespace, name=name)
    mark: Obj = {MIGRATED_BY: None, MIGRATED_RUNNING: None}
    meta["labels"] = {**(meta.get("labels") or {}), **mark, **labels(job_id, "vm", vm)}
    receiving = "Always" if strategy == "WaitAsReceiver" else None
    meta["annotations"] = {**(meta.get("annotations") or {}), **mark, RESTORE: receiving}
    obj.setdefault("spec", {}).update(runStrategy=strategy, running=None, dataVolumeTemplates=None)
    return obj


def source_mark(job_id: str, version: str, running: bool = False) -> Obj:
    """With `metadata.resourceVersion`, which makes the API server apply the patch only to
    that version of the object (409 Conflict otherwise)."""
    annotations = {MIGRATED_BY: job_id, MIGRATED_RUNNING: str(running).lower()}
    meta: Obj = {"annotations": annotations, "labels": {MIGRATED_BY: job_id}}
    if version:
        meta["resourceVersion"] = version
    return {"metadata": meta, "spec": {"runStrategy": "Halted", "running": None}}


def delete_options(version: str) -> Obj | None:
    """A delete of that version of the object only (409 Conflict otherwise)."""
    if not version:
        return None
    return {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "preconditions": {"resourceVersion": version},
    }


def claims(manifest: Mapping[str, Any]) -> list[str]:
    """The claims of the VM's persistent disks (a DataVolume's claim has its name)."""
    volumes = manifest.get("spec", {}).get("template", {}).get("spec", {}).get("volumes") or []
    found = [
        (v.get("persistentVolumeClaim") or {}).get("claimName")
        or (v.get("dataVolume") or {}).get("name")
        for v in volumes
    ]
    return [name for name in found if name]


def templated(manifest: Mapping[str, Any]) -> dict[str, Volume]:
    found = {}
    for template in manifest.get("spec", {}).get("dataVolumeTemplates") or []:
        spec = template.get("spec") or {}
        storage = spec.get("storage") or spec.get("pvc") or {}
        name = template["metadata"]["name"]
        found[name] = Volume(name, _requested(storage), storage.get("storageClassName"))
    return found


def claimed(pvc: Mapping[str, Any]) -> Volume:
    spec = pvc.get("spec") or {}
    return Volume(pvc["metadata"]["name"], _requested(spec), spec.get("storageClassName"))


def _requested(spec: Mapping[str, Any]) -> str:
    return str(spec.get("resources", {}).get("requests", {}).get("storage", ""))


def blank_volume(job_id: str, vm: str, volume: Volume, classes: Mapping[str, str]) -> Obj:
    storage: Obj = {"resources": {"requests": {"storage": volume.size}}}
    if volume.storage_class is not None:
        storage["storageClassName"] = classes.get(volume.storage_class, volume.storage_class)
    return {
        "apiVersion": "cdi.kubevirt.io/v1beta1",
        "kind": "DataVolume",
        "metadata": {
            "name": volume.name,
            "namespace": split(vm)[0],
            "labels": labels(job_id, "volume", vm),
            "annotations": {"cdi.kubevirt.io/storage.usePopulator": "true"},
        },
        "spec": {"source": {"blank": {}}, "storage": storage},
    }


def volume_ready(obj: Mapping[str, Any] | None) -> bool:
    return obj is not None and (obj.get("status") or {}).get("phase") in _VOLUME_READY


# Live migration


UNSCHEDULABLE_TIMEOUT = "kubevirt.io/migrationUnschedulablePodTimeoutSeconds"
PENDING_TIMEOUT = "kubevirt.io/migrationPendingPodTimeoutSeconds"
"""KubeVirt reads these off the migration object (`MigrationUnschedulablePodTimeoutSeconds-
Annotation`, `MigrationPendingPodTimeoutSecondsAnnotation`, api/core/v1/types.go) to time out
its receiving pod, instead of its 300 s and 900 s defaults."""


def timeouts(job: Job) -> dict[str, str]:
    given = (
        (UNSCHEDULABLE_TIMEOUT, job.unschedulable_timeout),
        (PENDING_TIMEOUT, job.pending_timeout),
    )
    return {name: str(seconds) for name, seconds in given if seconds is not None}


def migration(job: Job, vm: str, attempt: int, side: Side, connect_url: str) -> Obj:
    mid = migration_id(job.id, vm, attempt)
    role = ROLES[side]
    spec: Obj = {"vmiName": split(vm)[1]}
    if side == Side.TARGET:
        spec["receive"] = {"migrationID": mid}
    else:
        spec["sendTo"] = {"migrationID": mid, "connectURL": connect_url}
    meta: Obj = {
        "name": f"{mid}-{role}",
        "namespace": split(vm)[0],
        "labels": labels(job.id, role, vm, attempt=attempt),
    }
    if timeouts(job):
        meta["annotations"] = timeouts(job)
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstanceMigration",
        "metadata": meta,
        "spec": spec,
    }


def attempt_of(obj: Mapping[str, Any]) -> int:
    return int(obj["metadata"]["labels"][ATTEMPT])


def transfer(obj: Mapping[str, Any]) -> Transfer:
    """Pending until KubeVirt gives it a phase past Pending; every phase short of Succeeded
    and Failed (Scheduling, TargetReady, Synchronizing...) is Running."""
    status = obj.get("status") or {}
    phase = _PHASES.get(status.get("phase") or Phase.PENDING.value, Phase.RUNNING)
    reason = (status.get("migrationState") or {}).get("failureReason")
    messages = [c.get("message") for c in status.get("conditions") or [] if c.get("message")]
    return Transfer(attempt_of(obj), phase, reason or (messages[0] if messages else ""))


# Pods


def pod(obj: Mapping[str, Any]) -> Pod:
    meta, status = obj.get("metadata") or {}, obj.get("status") or {}
    phase = _PHASES.get(status.get("phase") or "", Phase.PENDING)
    message = status.get("message") or ""
    if phase == Phase.PENDING:
        scheduled = [c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"]
        message = scheduled[0].get("message", "") if scheduled else ""
    copied = (meta.get("annotations") or {}).get(BYTES_COPIED, "0")
    return Pod(
        meta["name"],
        phase,
        deleting=bool(meta.get("deletionTimestamp")),
        message=message,
        bytes_copied=int(copied) if copied.isdigit() else 0,
    )


def worst(pods: Iterable[Pod]) -> Pod:
    """One round's servers (one per namespace) as one: the least far along decides."""
    rank = [Phase.FAILED, Phase.PENDING, Phase.RUNNING, Phase.SUCCEEDED]
    return min(pods, key=lambda p: (rank.index(p.phase), p.deleting))


def server_pod(
    job_id: str,
    round_id: int,
    namespace: str,
    mounts: list[str],
    image: str,
    serves: Iterable[str] = (),
) -> Obj:
    container: Obj = {"name": "rsync", "image": image, "args": ["sh", "-c", _SERVE]}
    container["ports"] = [{"containerPort": RSYNC_PORT}]
    meta = {
        "name": server_name(job_id, round_id),
        "namespace": namespace,
        "labels": server_labels(job_id, round_id),
        "annotations": {SERVES: ",".join(sorted(serves))},
    }
    return _rsync_pod(meta, mounts, container)


def serves(pod: Mapping[str, Any]) -> frozenset[str] | None:
    """The VMs a server pod was made for; None for one that does not say."""
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(SERVES)
    return None if text is None else frozenset(v for v in text.split(",") if v)


def server_labels(job_id: str, round_id: int) -> dict[str, str]:
    return labels(job_id, "server", round_id=round_id)


def server_service(job_id: str, round_id: int, namespace: str) -> Obj:
    chosen = server_labels(job_id, round_id)
    name = server_name(job_id, round_id)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace, "labels": chosen},
        "spec": {"selector": chosen, "ports": [{"name": "rsync", "port": RSYNC_PORT}]},
    }


def client_pod(
    job_id: str,
    round_id: int,
    vm: str,
    mounts: list[str],
    image: str,
    server: str,
    made_for: Stamp,
) -> Obj:
    """Sends each claim to the server's module, under the claim's name. It may share no
    node with a virt-launcher pod of the VM (required anti-affinity, which the scheduler
    also holds against a launcher scheduled later): on another node the kubelet attaches a
    ReadWriteOnce volume to one of them only, so the client never reads a disk the running
    VM has attached, and a VM started mid-copy waits for the client to be gone."""
    env = [
        {"name": "SERVER", "value": f"{server}:{RSYNC_PORT}"},
        {"name": "VOLUMES", "value": " ".join(mounts)},
        *(_field(name, path) for name, path in _OWN_POD.items()),
    ]
    container: Obj = {"name": "rsync", "image": image, "args": ["sh", "-c", _SEND], "env": env}
    meta = {
        "name": client_name(job_id, round_id, vm),
        "namespace": split(vm)[0],
        "labels": labels(job_id, "client", vm, round_id=round_id),
        "annotations": {STAMP: stamp_text(made_for)},
    }
    pod = _rsync_pod(meta, mounts, container, read_only=True)
    launchers = {**LAUNCHER, "vm.kubevirt.io/name": split(vm)[1]}
    term = {"labelSelector": {"matchLabels": launchers}, "topologyKey": HOSTNAME}
    pod["spec"]["affinity"] = {
        "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}
    }
    return pod


_OWN_POD = {"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}
"""The downward API tells the entrypoint which pod's progress annotation to write."""


def _field(name: str, path: str) -> Obj:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _rsync_pod(meta: Obj, mounts: list[str], container: Obj, read_only: bool = False) -> Obj:
    """`args`, not `command`: the image's entrypoint is the progress wrapper that runs them
    (and, on a client, keeps `BYTES_COPIED` up to date)."""
    container["volumeMounts"] = [
        {"name": f"v{i}", "mountPath": f"/data/{claim}", "readOnly": read_only}
        for i, claim in enumerate(mounts)
    ]
    volumes = [
        {"name": f"v{i}", "persistentVolumeClaim": {"claimName": claim, "readOnly": read_only}}
        for i, claim in enumerate(mounts)
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": meta,
        "spec": {"restartPolicy": "Never", "containers": [container], "volumes": volumes},
    }
