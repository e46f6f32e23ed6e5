"""The executor's driver for a real cluster: KubeVirt, CDI and rsync pods through the
official client, read raw (paths and dicts, `_preload_content=False`) like `kube_source`.
The objects themselves are built and parsed in `kube_objects`; this is the I/O edge.

Every action means what it means in `simulated`, against real objects, and is idempotent:
a 409 on create and a 404 on delete are what was asked for, and changes are merge patches
(where a null clears a field). Observation lists what the job labelled and gets each VM by
name, every time. The two actions that must not act on a VM that changed since the pass
looked carry preconditions: finalizing the source patches or deletes it only at the
resourceVersion the decision saw, and a client is made only while the VM still has the
stamp it is made for and has neither a VirtualMachineInstance nor a virt-launcher pod; a
refused precondition raises `SupersededError`, and the next pass sees why.

Network: a source rsync client connects to the target's rsync Service directly, at
`<service>.<namespace>.<DriverSettings.service_domain>`; only the API calls go through the
job's connection to the target. The rsync daemon asks for no credentials, so the network
between the clusters must be one that only they share.
"""

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client

from spoke_agent.drivers import kube_objects as ko
from spoke_agent.drivers import kube_rest, kube_revisions
from spoke_agent.drivers.kube_rest import KubeError
from spoke_agent.executor import model
from spoke_agent.executor.model import Job, Side


@dataclass(frozen=True, slots=True)
class DriverSettings:
    rsync_image: str = "quay.io/cclm/rsync:1"
    """rsync, behind an entrypoint (the progress wrapper) that runs the pod's args and keeps
    a client pod's `cclm.io/bytes-copied` annotation current; it may patch its own pod."""
    connect_url: str = ""
    """Source only: the target's synchronization address, for `spec.sendTo.connectURL`
    (one of the target KubeVirt CR's `status.synchronizationAddresses`)."""
    service_domain: str = "svc.clusterset.local"
    """The default is the Multi-Cluster Services name: it assumes the clusters share a
    network (Submariner, Cilium ClusterMesh...) that exports the target's rsync Services."""


class DriverError(KubeError):
    """A refused action or a failed API call: the method, path, status and the server's
    message; never a header, so never the token."""


@dataclass(frozen=True, slots=True)
class _Kind:
    prefix: str
    plural: str

    def path(self, namespace: str, name: str = "") -> str:
        found = f"{self.prefix}/namespaces/{namespace}/{self.plural}"
        return f"{found}/{name}" if name else found


VMS = _Kind("/apis/kubevirt.io/v1", "virtualmachines")
INSTANCES = _Kind("/apis/kubevirt.io/v1", "virtualmachineinstances")
MIGRATIONS = _Kind("/apis/kubevirt.io/v1", "virtualmachineinstancemigrations")
DATA_VOLUMES = _Kind("/apis/cdi.kubevirt.io/v1beta1", "datavolumes")
PODS = _Kind("/api/v1", "pods")
SERVICES = _Kind("/api/v1", "services")
CLAIMS = _Kind("/api/v1", "persistentvolumeclaims")
REVISIONS = _Kind("/apis/apps/v1", "controllerrevisions")


class _Rest(kube_rest.Rest):
    """Objects of a kind, as the driver asks for them."""

    def get(self, kind: _Kind, namespace: str, name: str) -> ko.Obj | None:
        found: ko.Obj | None = self.call("GET", kind.path(namespace, name), done=(404,))
        return found

    def select(self, kind: _Kind, namespace: str, wanted: Mapping[str, str]) -> list[ko.Obj]:
        query = {"labelSelector": ko.selector(wanted)}
        items = self.call("GET", kind.path(namespace), query=query)["items"]
        return [item for item in items if ko.matches(item, wanted)]

    def create(self, kind: _Kind, obj: ko.Obj) -> bool:
        """False when it already exists."""
        path = kind.path(obj["metadata"]["namespace"])
        return self.call("POST", path, ko.prune(obj), done=(409,)) is not None

    def patch(self, kind: _Kind, namespace: str, name: str, body: ko.Obj) -> None:
        self.call("PATCH", kind.path(namespace, name), body, done=(404,))

    def delete(self, kind: _Kind, namespace: str, name: str, options: ko.Obj | None = None) -> None:
        self.call("DELETE", kind.path(namespace, name), options, done=(404,))

    def preconditioned(
        self, method: str, kind: _Kind, namespace: str, name: str, body: ko.Obj | None
    ) -> None:
        """A patch or delete carrying a resourceVersion precondition: a 409 means the
        object changed since it was observed."""
        try:
            self.call(method, kind.path(namespace, name), body, done=(404,))
        except DriverError as refused:
            if refused.status == 409:
                raise model.SupersededError(f"{namespace}/{name}: {refused}") from None
            raise


@dataclass(frozen=True, slots=True)
class _Owned:
    """What the job labelled in one namespace."""

    pods: list[ko.Obj]
    migrations: list[ko.Obj]
    volumes: list[ko.Obj]


def _of(objs: list[ko.Obj], vm: str, role: str) -> list[ko.Obj]:
    return [o for o in objs if ko.matches(o, {ko.VM: ko.split(vm)[1], ko.ROLE: role})]


class KubernetesDriver:
    """One cluster of a migration. The target's driver also reads the source cluster
    (`source`): the actions that make volumes and rsync pods name only VMs, whose claims and
    sizes the source's definitions tell."""

    def __init__(
        self,
        api: client.ApiClient,
        side: Side,
        settings: DriverSettings,
        source: client.ApiClient | None = None,
    ) -> None:
        if side == Side.TARGET and source is None:
            raise ValueError("the target's driver needs the source cluster's client")
        self.side, self.settings = side, settings
        self.rest = _Rest(api, DriverError)
        self.source = _Rest(source, DriverError) if source is not None else self.rest

    # Observation

    def observe(self, job: Job) -> model.ClusterState:
        owned = {ns: self._owned(job, ns) for ns in _namespaces(job.vms)}
        vms = {vm: self._objects(vm, owned[ko.split(vm)[0]]) for vm in job.vms}
        servers: dict[int, list[model.Pod]] = defaultdict(list)
        serving: dict[int, list[frozenset[str] | None]] = defaultdict(list)
        for found in owned.values():
            for obj in found.pods:
                if ko.matches(obj, {ko.ROLE: "server"}):
                    round_id = int(obj["metadata"]["labels"][ko.ROUND])
                    servers[round_id].append(ko.pod(obj))
                    serving[round_id].append(ko.serves(obj))
        return model.ClusterState(
            vms,
            {r: ko.worst(pods) for r, pods in servers.items()},
            {r: common for r, sets in serving.items() if (common := _common(sets)) is not None},
        )

    def _owned(self, job: Job, namespace: str) -> _Owned:
        wanted = {ko.MIGRATION: job.id}
        volumes = self.rest.select(DATA_VOLUMES, namespace, wanted) if self._target else []
        return _Owned(
            self.rest.select(PODS, namespace, wanted),
            self.rest.select(MIGRATIONS, namespace, wanted),
            volumes,
        )

    def _objects(self, vm: str, owned: _Owned) -> model.VmObjects:
        namespace, name = ko.split(vm)
        found = self.rest.get(VMS, namespace, name)
        launchers = {**ko.LAUNCHER, "vm.kubevirt.io/name": name}
        transfers = sorted(_of(owned.migrations, vm, ko.ROLES[self.side]), key=ko.attempt_of)
        clients = sorted(_of(owned.pods, vm, "client"), key=_round)
        return model.VmObjects(
            definition=ko.definition(found) if found else None,
            launchers=tuple(ko.pod(p) for p in self.rest.select(PODS, namespace, launchers)),
            transfer=ko.transfer(transfers[-1]) if transfers else None,
            volumes_ready=self._volumes_ready(vm, found, _of(owned.volumes, vm, "volume")),
            client=(_round(clients[-1]), ko.pod(clients[-1])) if clients else None,
            client_stamp=ko.stamp_of(clients[-1]) if clients else None,
        )

    def _volumes_ready(self, vm: str, found: ko.Obj | None, volumes: list[ko.Obj]) -> bool:
        """Target: every claim of the VM (as the source's definition has them, or the
        target's once the source's is gone) is a ready DataVolume of this job; with neither
        definition, whatever the job made for it. The source's volumes are there."""
        if not self._target:
            return True
        manifest = self.source.get(VMS, *ko.split(vm)) or found
        if manifest is None:
            return bool(volumes) and all(ko.volume_ready(v) for v in volumes)
        by_name = {v["metadata"]["name"]: v for v in volumes}
        return all(ko.volume_ready(by_name.get(claim)) for claim in ko.claims(manifest))

    # Actions

    def apply(self, job: Job, action: model.Action) -> None:
        if action.side != self.side:
            raise ValueError(f"{type(action).__name__} belongs to the {action.side} cluster")
        match action:
            case model.PrepareVolumes(vm=vm):
                self._prepare_volumes(job, vm)
            case model.CreateReceiver(vm=vm, attempt=attempt, manifest=manifest):
                self._receive(job, vm, attempt, manifest)
            case model.StartSending(vm=vm, attempt=attempt):
                self._migrate(job, vm, attempt)
            case model.StopSending(vm=vm):
                self._stop_migrating(job, vm)
            case model.StopReceiving(vm=vm):
                self._stop_migrating(job, vm)
                self._delete_vm(job, vm, only_receiver=True)
            case model.CreateServer(round=round_id, vms=vms):
                self._create_server(job, round_id, vms)
            case model.DeleteServer(round=round_id):
                for namespace in _namespaces(job.vms):
                    name = ko.server_name(job.id, round_id)
                    self.rest.delete(SERVICES, namespace, name)
                    self.rest.delete(PODS, namespace, name)
            case model.CreateClient(round=round_id, vm=vm, stamp=stamp):
                self._create_client(job, round_id, vm, stamp)
            case model.DeleteClient(round=round_id, vm=vm):
                self.rest.delete(PODS, ko.split(vm)[0], ko.client_name(job.id, round_id, vm))
            case model.FinalizeTarget(vm=vm, running=running, manifest=manifest):
                self._stop_migrating(job, vm)
                self._put_vm(job, vm, manifest, "Always" if running else "Halted")
                self._own_revisions(vm, manifest)
            case model.FinalizeSource(vm=vm, job=job_id, delete=delete, version=version):
                self._stop_migrating(job, vm)
                self._finalize_source(vm, job_id, delete, version, action.running)
            case model.RemoveFromTarget(vm=vm, keep_volumes=keep):
                # Revisions first: the executor repeats this while the VM or its volumes
                # are there, so what goes last must be what it looks for.
                namespace = ko.split(vm)[0]
                for revision in self.rest.select(REVISIONS, namespace, _mine(job, vm)):
                    self.rest.delete(REVISIONS, namespace, revision["metadata"]["name"])
                self._delete_vm(job, vm, only_receiver=False)
                volumes = [] if keep else self.rest.select(DATA_VOLUMES, namespace, _mine(job, vm))
                for volume in volumes:
                    self.rest.delete(DATA_VOLUMES, namespace, volume["metadata"]["name"])

    def _prepare_volumes(self, job: Job, vm: str) -> None:
        """A DataVolume of another's is refused: rsync or KubeVirt would write into it."""
        namespace = ko.split(vm)[0]
        manifest = self._source_vm(vm)
        templates = ko.templated(manifest)
        for claim in ko.claims(manifest):
            volume = templates.get(claim) or ko.claimed(self._source_claim(namespace, claim))
            if self.rest.create(
                DATA_VOLUMES, ko.blank_volume(job.id, vm, volume, job.storage_class_map)
            ):
                continue
            existing = self.rest.get(DATA_VOLUMES, namespace, claim) or {}
            if not ko.matches(existing, {ko.MIGRATION: job.id}):
                raise DriverError(f"DataVolume {namespace}/{claim} on the target is not ours")

    def _receive(self, job: Job, vm: str, attempt: int, manifest: Mapping[str, Any]) -> None:
        found = self.rest.get(VMS, *ko.split(vm))
        definition = ko.definition(found) if found else None
        if definition is not None and definition.running and not definition.receiver:
            raise DriverError(f"{vm} already runs on the target; refusing to receive it")
        self._put_vm(job, vm, manifest, "WaitAsReceiver")
        self._migrate(job, vm, attempt)

    def _put_vm(self, job: Job, vm: str, manifest: Mapping[str, Any], strategy: str) -> None:
        self._copy_revisions(job, vm, manifest)
        wanted = ko.target_vm(job.id, vm, manifest, strategy)
        if self.rest.get(VMS, *ko.split(vm)) is None:
            self.rest.create(VMS, wanted)
        else:
            self.rest.patch(VMS, *ko.split(vm), wanted)

    def _copy_revisions(self, job: Job, vm: str, manifest: Mapping[str, Any]) -> None:
        """The instancetype and preference revisions the VM runs with, before the VM: one
        the target holds already must be this job's or hold the same."""
        namespace = ko.split(vm)[0]
        for name in kube_revisions.names(manifest):
            there = self.rest.get(REVISIONS, namespace, name)
            if there is not None and ko.matches(there, {ko.MIGRATION: job.id}):
                continue
            found = self.source.get(REVISIONS, namespace, name)
            if there is not None and (found is None or kube_revisions.same(there, found)):
                continue
            if there is not None:
                raise DriverError(
                    f"ControllerRevision {namespace}/{name} on the target is not this "
                    f"migration's and differs from the one {vm} runs with"
                )
            if found is None:
                raise DriverError(
                    f"ControllerRevision {namespace}/{name}, the instancetype or preference "
                    f"{vm} runs with, is on neither cluster"
                )
            labels = ko.labels(job.id, "revision", vm)
            self.rest.create(
                REVISIONS, kube_revisions.for_target(ko.clean(found), namespace, labels)
            )

    def _own_revisions(self, vm: str, manifest: Mapping[str, Any]) -> None:
        found = self.rest.get(VMS, *ko.split(vm))
        if found is None:
            return
        for name in kube_revisions.names(manifest):
            self.rest.patch(REVISIONS, ko.split(vm)[0], name, kube_revisions.owned_by(found))

    def _delete_vm(self, job: Job, vm: str, only_receiver: bool) -> None:
        """The receiver always; with `only_receiver` unset also a definition this job made or
        one that does not run, never another's running VM."""
        found = self.rest.get(VMS, *ko.split(vm))
        if found is None:
            return
        definition = ko.definition(found)
        removable = ko.matches(found, {ko.MIGRATION: job.id}) or not definition.running
        if definition.receiver or (removable and not only_receiver):
            self.rest.delete(VMS, *ko.split(vm))

    def _migrate(self, job: Job, vm: str, attempt: int) -> None:
        """This side's migration object of `attempt`, in place of those of other attempts."""
        for old in self._migrations(job, vm):
            if ko.attempt_of(old) != attempt:
                self.rest.delete(MIGRATIONS, ko.split(vm)[0], old["metadata"]["name"])
        url = self.settings.connect_url
        self.rest.create(MIGRATIONS, ko.migration(job, vm, attempt, self.side, url))

    def _stop_migrating(self, job: Job, vm: str) -> None:
        for old in self._migrations(job, vm):
            self.rest.delete(MIGRATIONS, ko.split(vm)[0], old["metadata"]["name"])

    def _migrations(self, job: Job, vm: str) -> list[ko.Obj]:
        wanted = {**_mine(job, vm), ko.ROLE: ko.ROLES[self.side]}
        return self.rest.select(MIGRATIONS, ko.split(vm)[0], wanted)

    def _create_server(self, job: Job, round_id: int, vms: tuple[str, ...]) -> None:
        """One server per namespace (a pod mounts only its namespace's claims); the Service
        first, so that a server seen running can be reached."""
        mounts: dict[str, list[str]] = defaultdict(list)
        for vm in vms:
            mounts[ko.split(vm)[0]] += ko.claims(self._source_vm(vm))
        image = self.settings.rsync_image
        for namespace, claims in mounts.items():
            self.rest.create(SERVICES, ko.server_service(job.id, round_id, namespace))
            pod = ko.server_pod(job.id, round_id, namespace, claims, image, vms)
            self.rest.create(PODS, pod)

    def _finalize_source(
        self, vm: str, job_id: str, delete: bool, version: str, running: bool
    ) -> None:
        """Marked by this job already is done: the mark itself moved the resourceVersion."""
        namespace, name = ko.split(vm)
        found = self.rest.get(VMS, namespace, name)
        if found is None:
            return
        if not version:
            # Not there when the decision was made: whatever is there now is not what it saw.
            raise model.SupersededError(f"{vm} appeared on the source after it was decided")
        if delete:
            self.rest.preconditioned("DELETE", VMS, namespace, name, ko.delete_options(version))
        elif ko.definition(found).migrated_by != job_id:
            self.rest.preconditioned(
                "PATCH", VMS, namespace, name, ko.source_mark(job_id, version, running)
            )

    def _create_client(self, job: Job, round_id: int, vm: str, stamp: model.Stamp) -> None:
        namespace, name = ko.split(vm)
        found = self._source_vm(vm)
        if ko.stamp(found.get("metadata") or {}) != stamp:
            raise model.SupersededError(f"{vm} changed since its copy was decided")
        launchers = {**ko.LAUNCHER, "vm.kubevirt.io/name": name}
        instance = self.rest.get(INSTANCES, namespace, name)
        pods = self.rest.select(PODS, namespace, launchers)
        if (instance and not ko.final(instance)) or any(not ko.final(p) for p in pods):
            raise model.SupersededError(f"{vm} runs: its disks are not copied now")
        server = f"{ko.server_name(job.id, round_id)}.{namespace}.{self.settings.service_domain}"
        image = self.settings.rsync_image
        pod = ko.client_pod(job.id, round_id, vm, ko.claims(found), image, server, stamp)
        self.rest.create(PODS, pod)

    def _source_vm(self, vm: str) -> ko.Obj:
        found = self.source.get(VMS, *ko.split(vm))
        if found is None:
            raise DriverError(f"{vm} is not on the source cluster")
        return found

    def _source_claim(self, namespace: str, claim: str) -> ko.Obj:
        found = self.source.get(CLAIMS, namespace, claim)
        if found is None:
            raise DriverError(f"claim {namespace}/{claim} is not on the source cluster")
        return found

    @property
    def _target(self) -> bool:
        return self.side == Side.TARGET


def _common(sets: list[frozenset[str] | None]) -> frozenset[str] | None:
    """What every server pod of a round was made for; None when one of them does not say."""
    known = [s for s in sets if s is not None]
    if not known or len(known) < len(sets):
        return None
    return frozenset.intersection(*known)


def _namespaces(vms: tuple[str, ...]) -> list[str]:
    return sorted({ko.split(vm)[0] for vm in vms})


def _mine(job: Job, vm: str) -> dict[str, str]:
    return {ko.MIGRATION: job.id, ko.VM: ko.split(vm)[1]}


def _round(obj: ko.Obj) -> int:
    return int(obj["metadata"]["labels"][ko.ROUND])
