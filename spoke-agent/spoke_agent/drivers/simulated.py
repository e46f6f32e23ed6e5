"""A source and a target cluster in memory, on a virtual clock, for the executor.

Pods go Pending -> Running -> (Succeeded) and take time to go away once deleted; a live
migration runs once both virt-launcher pods run; an rsync client copies so many bytes a tick
once its server runs. Power changes, pod failures and pods stuck Pending can be injected at
any tick. Every change is written to `history`, which the scenario tests read.

The clusters follow KubeVirt where it matters to the executor: a VM counts as running while
any of its virt-launcher pods exists; a VM that migrated live has left the source (its
source pod completes); a source definition marked as migrated refuses to start; every
write to a source definition gives it a new resourceVersion, and a change of its run state
a new generation, as the API server does; a receiving pod left unschedulable for
`Timing.receiver_timeout` is deleted and its migration fails, as virt-controller does.

Disks are what the data-loss invariants read: a running source VM writes to its disk every
tick; a copy holds the writes its client saw when it started, and is torn when the VM wrote
during it. The VM's volumes are ReadWriteOnce (`shared_volumes=False`): a virt-launcher pod
and an rsync client of one VM cannot both have them attached, so the one made second waits,
Pending with the kubelet's Multi-Attach message, until the other is gone.
"""

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from spoke_agent.executor.model import (
    Action,
    ClusterState,
    CreateClient,
    CreateReceiver,
    CreateServer,
    Definition,
    DeleteClient,
    DeleteServer,
    FinalizeSource,
    FinalizeTarget,
    Job,
    Mode,
    Phase,
    Pod,
    PrepareVolumes,
    RemoveFromTarget,
    Side,
    Stamp,
    StartSending,
    StopReceiving,
    StopSending,
    SupersededError,
    Transfer,
    VmObjects,
)

GIB = 2**30


@dataclass(frozen=True, slots=True)
class Timing:
    """Ticks each thing takes; every field defaulted so a test names only what it varies."""

    start: int = 2
    """A pod from created to Running."""
    stop: int = 2
    """A pod from deleted to gone."""
    transfer: int = 4
    """A live migration once both virt-launcher pods run."""
    copy_bytes_per_tick: int = 5 * GIB
    receiver_timeout: int = 30
    """A receiving pod unschedulable this long is deleted and its migration fails
    (virt-controller's unschedulable pending timeout, 300 s by default)."""


@dataclass(frozen=True, slots=True)
class Event:
    tick: int
    what: str
    """pod, live, power, data, finalize, hazard"""
    subject: str
    detail: str
    side: Side | None = None
    kind: str = ""
    """For pods: launcher, receiver, server, client."""
    vm: str = ""
    round: int | None = None
    seq: int = 0
    """Order within the history, which also orders events of one tick."""


@dataclass
class _Pod:
    name: str
    side: Side
    kind: str
    vm: str
    round: int | None
    ready_at: int
    phase: Phase = Phase.PENDING
    deleted_at: int | None = None
    stuck: str = ""
    stuck_since: int = 0
    blocked: str = ""
    """Waiting for a volume another pod has attached (the kubelet's Multi-Attach error)."""
    copied: int = 0
    serves: frozenset[str] = frozenset()
    """Servers only: the VMs whose volumes it mounts."""
    stamp: Stamp | None = None
    """Clients only: the stamp it was made for."""
    writes_seen: int | None = None
    """Clients only: the VM's writes when the copy began to read."""


@dataclass
class _Vm:
    name: str
    disk_bytes: int
    source: Definition | None
    target: Definition | None = None
    volumes: bool = False
    data: Mode | None = None
    transfers: dict[Side, Transfer] = field(default_factory=dict)
    progress: int = 0
    """Ticks of the current live transfer."""
    uid: int = 1
    generation: int = 1
    version: int = 1
    writes: int = 0
    """What the VM has written to its disk: one a tick while it runs on the source."""
    target_writes: int | None = None
    """What of those the target's disks hold; None for a torn copy (the VM wrote during it)
    or none at all."""

    def stamp(self) -> Stamp:
        return Stamp(f"uid-{self.uid}", self.generation, str(self.version))


class World:
    """Both clusters of one migration. `driver(side)` gives each its ClusterDriver."""

    def __init__(
        self,
        vms: Mapping[str, bool],
        timing: Timing = Timing(),
        disk_bytes: int = 10 * GIB,
        shared_volumes: bool = False,
    ) -> None:
        """`vms`: namespace/name -> running at the start. `shared_volumes`: ReadWriteMany
        disks, which nothing keeps a client from reading while the VM runs."""
        self.timing = timing
        self.shared_volumes = shared_volumes
        self.now = 0
        self.history: list[Event] = []
        self.vms = {
            name: _Vm(name, disk_bytes, Definition(running, manifest=_manifest(name)))
            for name, running in vms.items()
        }
        self.pods: dict[str, _Pod] = {}
        self.named: set[str] = set()
        for name, running in vms.items():
            if running:
                self._create_pod(Side.SOURCE, "launcher", name, None, ready=True)

    def driver(self, side: Side) -> "SimulatedDriver":
        return SimulatedDriver(self, side)

    # What tests and injections use

    def pods_of(self, kind: str, vm: str = "", round_id: int | None = None) -> list[_Pod]:
        return [
            p
            for p in self.pods.values()
            if p.kind == kind
            and (not vm or p.vm == vm)
            and (round_id is None or p.round == round_id)
        ]

    def live_started(self, vm: str) -> bool:
        return Side.SOURCE in self.vms[vm].transfers

    def power(self, vm: str, running: bool, by_request: bool = False) -> None:
        """`by_request`: as runStrategy Manual does it, through a state change request in the
        VM's status, which leaves its generation alone."""
        state = self.vms[vm]
        source = state.source
        if source is None:
            return
        if running and (source.migrated_by or state.data == Mode.LIVE):
            self._log("power", vm, "start refused", vm=vm)
            return
        if source.running == running:
            return
        self._write(state, dataclasses.replace(source, running=running), spec=not by_request)
        self._log("power", vm, "start" if running else "stop", vm=vm)
        if running:
            if not self._launchers(Side.SOURCE, vm):
                self._create_pod(Side.SOURCE, "launcher", vm, None)
        else:
            for pod in self._launchers(Side.SOURCE, vm):
                self._delete(pod)

    def touch(self, vm: str) -> None:
        """A write to the VM's object that starts nothing (a label, say)."""
        state = self.vms[vm]
        if state.source is not None:
            self._write(state, state.source, spec=False)

    def delete_source(self, vm: str) -> None:
        state = self.vms[vm]
        if state.source is not None:
            state.source = None
            self._log("power", vm, "deleted", vm=vm)
            for pod in self._launchers(Side.SOURCE, vm):
                self._delete(pod)

    def lose_target(self, vm: str) -> None:
        """The target's definition deleted (by a person, a GitOps tool...): KubeVirt takes
        its VirtualMachineInstance and virt-launcher pod with it."""
        self.vms[vm].target = None
        self._log("lost", vm, "target definition deleted", vm=vm)
        for pod in self._launchers(Side.TARGET, vm):
            self._delete(pod)

    def _write(self, vm: _Vm, definition: Definition, spec: bool) -> None:
        vm.source = definition
        vm.version += 1
        vm.generation += spec

    def fail(self, pod_name: str, message: str = "injected failure") -> None:
        pod = self.pods.get(pod_name)
        if pod is not None and pod.phase in (Phase.PENDING, Phase.RUNNING):
            pod.phase = Phase.FAILED
            pod.stuck = message
            self._log_pod(pod, Phase.FAILED.value)

    def stick(self, pod_name: str, message: str) -> None:
        """Keep a Pending pod Pending, as the scheduler does when nothing fits."""
        pod = self.pods.get(pod_name)
        if pod is not None and pod.phase == Phase.PENDING:
            if not pod.stuck:
                pod.stuck_since = self.now
            pod.stuck = message

    def unstick(self, pod_name: str) -> None:
        pod = self.pods.get(pod_name)
        if pod is not None and pod.phase == Phase.PENDING:
            pod.stuck = ""

    def tick(self) -> None:
        self.now += 1
        for pod in list(self.pods.values()):
            self._advance_pod(pod)
        for vm in self.vms.values():
            self._advance_transfer(vm)
            self._keep_running(vm)
            self._run_target(vm)
            self._time_out_receiver(vm)
            if any(p.phase == Phase.RUNNING for p in self._launchers(Side.SOURCE, vm.name)):
                vm.writes += 1
        for vm in self.vms.values():
            self._check_hazard(vm)

    # Time

    def _advance_pod(self, pod: _Pod) -> None:
        if pod.deleted_at is not None:
            if self.now >= pod.deleted_at + self.timing.stop:
                del self.pods[pod.name]
                self._log_pod(pod, "gone")
            return
        if pod.phase == Phase.PENDING and not pod.stuck and self.now >= pod.ready_at:
            if pod.kind == "client" and not self._server_running(pod.round):
                return
            pod.blocked = self._attached_elsewhere(pod)
            if pod.blocked:
                return
            pod.phase = Phase.RUNNING
            if pod.kind == "client":
                pod.writes_seen = self.vms[pod.vm].writes
            self._log_pod(pod, Phase.RUNNING.value)
        elif pod.phase == Phase.RUNNING and pod.kind == "client":
            self._copy(pod)

    def _attached_elsewhere(self, pod: _Pod) -> str:
        """The kubelet's refusal to attach a ReadWriteOnce volume another pod has."""
        if self.shared_volumes or pod.side != Side.SOURCE:
            return ""
        other = ("client",) if pod.kind in ("launcher", "receiver") else ("launcher", "receiver")
        users = [
            p.name
            for p in self.pods.values()
            if p.side == Side.SOURCE
            and p.vm == pod.vm
            and p.kind in other
            and p.phase in (Phase.PENDING, Phase.RUNNING)  # a finished pod's are detached
        ]
        if not users:
            return ""
        return f"Multi-Attach error: Volume is already used by pod(s) {', '.join(users)}"

    def _copy(self, pod: _Pod) -> None:
        if not self._server_running(pod.round):
            return
        vm = self.vms[pod.vm]
        pod.copied = min(pod.copied + self.timing.copy_bytes_per_tick, vm.disk_bytes)
        if pod.copied >= vm.disk_bytes:
            pod.phase = Phase.SUCCEEDED
            self._log_pod(pod, Phase.SUCCEEDED.value)
            vm.data = Mode.OFFLINE
            vm.target_writes = pod.writes_seen if pod.writes_seen == vm.writes else None
            self._log("data", vm.name, Mode.OFFLINE.value, vm=vm.name)

    def _advance_transfer(self, vm: _Vm) -> None:
        sending, receiving = vm.transfers.get(Side.SOURCE), vm.transfers.get(Side.TARGET)
        if sending is None or receiving is None or sending.attempt != receiving.attempt:
            return
        if sending.phase not in (Phase.PENDING, Phase.RUNNING):
            return
        source = [p for p in self._launchers(Side.SOURCE, vm.name) if p.deleted_at is None]
        target = [p for p in self._launchers(Side.TARGET, vm.name) if p.deleted_at is None]
        if not source:
            self._end_transfer(vm, Phase.FAILED, "the source virt-launcher pod went away")
            return
        if all(p.phase == Phase.FAILED for p in source):
            self._end_transfer(vm, Phase.FAILED, "the source virt-launcher pod failed")
            return
        if not (source[0].phase == Phase.RUNNING and target and target[0].phase == Phase.RUNNING):
            return
        if sending.phase == Phase.PENDING:
            self._set_transfers(vm, Phase.RUNNING, "")
        vm.progress += 1
        if vm.progress >= self.timing.transfer:
            self._end_transfer(vm, Phase.SUCCEEDED, "")
            vm.target = Definition(running=True, manifest=_manifest(vm.name))
            vm.data = Mode.LIVE
            vm.target_writes = vm.writes
            if vm.source is not None:
                self._write(vm, dataclasses.replace(vm.source, running=False), spec=False)
            for pod in source:
                pod.phase = Phase.SUCCEEDED
                self._log_pod(pod, Phase.SUCCEEDED.value)
                self._delete(pod)
            target[0].kind = "launcher"
            self._log("data", vm.name, Mode.LIVE.value, vm=vm.name)

    def _run_target(self, vm: _Vm) -> None:
        """KubeVirt on the target starts a final definition that should run."""
        target = vm.target
        wanted = target is not None and target.running and not target.receiver
        if wanted and not self._launchers(Side.TARGET, vm.name):
            self._create_pod(Side.TARGET, "launcher", vm.name, None)

    def _keep_running(self, vm: _Vm) -> None:
        """KubeVirt starts a VM that should run once its previous pod is gone, and gives a
        VM whose pod failed a new one."""
        source = vm.source
        wanted = source is not None and source.running and vm.data != Mode.LIVE
        for pod in self._launchers(Side.SOURCE, vm.name):
            if wanted and pod.phase == Phase.FAILED:
                self._delete(pod)
        if wanted and not self._launchers(Side.SOURCE, vm.name):
            self._create_pod(Side.SOURCE, "launcher", vm.name, None)

    def _time_out_receiver(self, vm: _Vm) -> None:
        for pod in self._launchers(Side.TARGET, vm.name):
            waited = self.now - pod.stuck_since
            unschedulable = pod.phase == Phase.PENDING and pod.stuck and pod.kind == "receiver"
            if unschedulable and pod.deleted_at is None and waited >= self.timing.receiver_timeout:
                self._delete(pod)
                if vm.transfers:
                    message = f"unschedulable pod {pod.name} timeout period exceeded"
                    self._end_transfer(vm, Phase.FAILED, message)

    def _end_transfer(self, vm: _Vm, phase: Phase, message: str) -> None:
        self._set_transfers(vm, phase, message)
        self._log("live", vm.name, phase.value.lower(), vm=vm.name)

    def _set_transfers(self, vm: _Vm, phase: Phase, message: str) -> None:
        for side, transfer in vm.transfers.items():
            vm.transfers[side] = dataclasses.replace(transfer, phase=phase, message=message)

    def _check_hazard(self, vm: _Vm) -> None:
        on_source = any(p.phase == Phase.RUNNING for p in self._launchers(Side.SOURCE, vm.name))
        on_target = vm.target is not None and not vm.target.receiver and vm.target.running
        if on_source and on_target:
            self._log("hazard", vm.name, "running on both clusters", vm=vm.name)

    # Actions

    def apply(self, action: Action) -> None:
        match action:
            case PrepareVolumes(vm=name):
                self.vms[name].volumes = True
            case CreateReceiver(vm=name, attempt=attempt):
                self._receive(name, attempt)
            case StartSending(vm=name, attempt=attempt):
                vm = self.vms[name]
                if vm.transfers.get(Side.SOURCE, Transfer(0, Phase.PENDING)).attempt != attempt:
                    vm.transfers[Side.SOURCE] = Transfer(attempt, Phase.PENDING)
                    vm.progress = 0
                    self._log("live", name, f"started attempt {attempt}", vm=name)
            case StopSending(vm=name):
                self.vms[name].transfers.pop(Side.SOURCE, None)
            case StopReceiving(vm=name):
                self._stop_receiving(name)
            case CreateServer(round=round_id, vms=members):
                if not self.pods_of("server", round_id=round_id):
                    self._create_pod(Side.TARGET, "server", "", round_id)
                    for pod in self.pods_of("server", round_id=round_id):
                        pod.serves = frozenset(members)
                        self._log_pod(pod, f"serves {' '.join(sorted(members))}")
            case DeleteServer(round=round_id):
                for pod in self.pods_of("server", round_id=round_id):
                    self._delete(pod)
            case CreateClient(round=round_id, vm=name, stamp=stamp):
                if not self.pods_of("client", name, round_id):
                    self._check(name, stamp.version, idle=True)
                    self._create_pod(Side.SOURCE, "client", name, round_id)
                    for pod in self.pods_of("client", name, round_id):
                        pod.stamp = stamp
            case DeleteClient(round=round_id, vm=name):
                for pod in self.pods_of("client", name, round_id):
                    self._delete(pod)
            case FinalizeTarget(vm=name, running=running):
                self._finalize_target(name, running)
            case FinalizeSource(
                vm=name, job=job_id, delete=delete, version=version, running=running
            ):
                self._finalize_source(name, job_id, delete, version, running)
            case RemoveFromTarget(vm=name, keep_volumes=keep):
                vm = self.vms[name]
                vm.target, vm.volumes = None, vm.volumes and keep

    def _receive(self, name: str, attempt: int) -> None:
        vm = self.vms[name]
        if vm.target is not None and not vm.target.receiver and vm.target.running:
            raise RuntimeError(f"{name} already runs on the target; refusing to receive it")
        vm.target = Definition(running=False, receiver=True, manifest=_manifest(name))
        receiving = vm.transfers.get(Side.TARGET)
        if receiving is None or receiving.attempt != attempt:
            vm.transfers[Side.TARGET] = Transfer(attempt, Phase.PENDING)
        if not [p for p in self._launchers(Side.TARGET, name) if p.deleted_at is None]:
            self._create_pod(Side.TARGET, "receiver", name, None)

    def _stop_receiving(self, name: str) -> None:
        vm = self.vms[name]
        transfer = vm.transfers.pop(Side.TARGET, None)
        if transfer is not None and transfer.phase != Phase.SUCCEEDED:
            self._log("live", name, "cancelled", vm=name)
        if vm.target is None or vm.target.receiver:
            vm.target = None
            for pod in self._launchers(Side.TARGET, name):
                self._delete(pod)

    def _finalize_target(self, name: str, running: bool) -> None:
        vm = self.vms[name]
        vm.transfers.pop(Side.TARGET, None)
        wanted = Definition(running=running, manifest=_manifest(name))
        if vm.target != wanted:
            vm.target = wanted
            self._log("finalize", name, f"target {'running' if running else 'stopped'}", vm=name)

    def _check(self, name: str, version: str, idle: bool = False) -> None:
        """The API server's precondition on resourceVersion (and, for a client, the volume
        a virt-launcher pod has: the executor's own check before it makes one)."""
        vm = self.vms[name]
        if vm.source is not None and str(vm.version) != version:
            raise SupersededError(f"{name} changed (resourceVersion {vm.version}, not {version})")
        if idle and self._launchers(Side.SOURCE, name):
            raise SupersededError(f"{name} has a virt-launcher pod")

    def _finalize_source(
        self, name: str, job_id: str, delete: bool, version: str, running: bool
    ) -> None:
        vm = self.vms[name]
        vm.transfers.pop(Side.SOURCE, None)
        if vm.source is None:
            return
        if delete:
            self._check(name, version)
            vm.source = None
            self._log("finalize", name, "source deleted", vm=name)
        elif vm.source.migrated_by != job_id:
            self._check(name, version)
            marked = Definition(
                running=False,
                migrated_by=job_id,
                migrated_running=running,
                manifest=_manifest(name),
            )
            self._write(vm, marked, spec=True)
            self._log("finalize", name, "source marked migrated", vm=name)

    # Observation

    def observe(self, side: Side) -> ClusterState:
        vms = {name: self._objects(side, vm) for name, vm in self.vms.items()}
        found = [p for p in self.pods_of("server") if side == Side.TARGET and p.round]
        servers = {p.round: _pod(p) for p in found if p.round}
        serving = {p.round: p.serves for p in found if p.round}
        return ClusterState(vms=vms, servers=servers, serving=serving)

    def _objects(self, side: Side, vm: _Vm) -> VmObjects:
        launchers = tuple(_pod(p) for p in self._launchers(side, vm.name))
        client, stamp = None, None
        if side == Side.SOURCE:
            found = self.pods_of("client", vm.name)
            client = (found[0].round or 0, _pod(found[0])) if found else None
            stamp = found[0].stamp if found else None
        source = dataclasses.replace(vm.source, stamp=vm.stamp()) if vm.source else None
        return VmObjects(
            client_stamp=stamp,
            definition=source if side == Side.SOURCE else vm.target,
            launchers=launchers,
            transfer=vm.transfers.get(side),
            volumes_ready=vm.volumes if side == Side.TARGET else True,
            client=client,
        )

    # Pods

    def _launchers(self, side: Side, vm: str) -> list[_Pod]:
        kinds = ("launcher", "receiver")
        return [p for p in self.pods.values() if p.side == side and p.vm == vm and p.kind in kinds]

    def _server_running(self, round_id: int | None) -> bool:
        return any(
            p.phase == Phase.RUNNING and p.deleted_at is None
            for p in self.pods_of("server", round_id=round_id)
        )

    def _create_pod(
        self, side: Side, kind: str, vm: str, round_id: int | None, ready: bool = False
    ) -> None:
        suffix = f"-r{round_id}" if round_id is not None else ""
        base = f"{kind}-{vm.replace('/', '-')}{suffix}".rstrip("-")
        name, serial = base, 1
        while name in self.named:  # as with generateName, never a name used before
            serial += 1
            name = f"{base}-{serial}"
        self.named.add(name)
        pod = _Pod(name, side, kind, vm, round_id, ready_at=self.now + self.timing.start)
        if ready:
            pod.phase = Phase.RUNNING
        self.pods[name] = pod
        self._log_pod(pod, "created")

    def _delete(self, pod: _Pod) -> None:
        if pod.deleted_at is None:
            pod.deleted_at = self.now
            self._log_pod(pod, "deleting")

    def _log_pod(self, pod: _Pod, detail: str) -> None:
        self.history.append(
            Event(
                self.now,
                "pod",
                pod.name,
                detail,
                pod.side,
                pod.kind,
                pod.vm,
                pod.round,
                len(self.history),
            )
        )

    def _log(self, what: str, subject: str, detail: str, vm: str = "") -> None:
        self.history.append(Event(self.now, what, subject, detail, vm=vm, seq=len(self.history)))


class SimulatedDriver:
    """One side of a world, as the executor's `ClusterDriver`."""

    def __init__(self, world: World, side: Side) -> None:
        self.world, self.side = world, side

    def observe(self, job: Job) -> ClusterState:
        del job  # a world holds the clusters of one job
        return self.world.observe(self.side)

    def apply(self, job: Job, action: Action) -> None:
        del job  # a world holds the clusters of one job
        if action.side != self.side:
            raise ValueError(f"{type(action).__name__} belongs to the {action.side} cluster")
        self.world.apply(action)


def _pod(pod: _Pod) -> Pod:
    message = pod.stuck or pod.blocked
    return Pod(pod.name, pod.phase, pod.deleted_at is not None, message, pod.copied)


def _manifest(name: str) -> dict[str, object]:
    namespace, short = name.split("/", 1)
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"namespace": namespace, "name": short},
    }


class TickingDriver(SimulatedDriver):
    """The source end where nothing else moves the world's clock (the demo, the agent's job
    loop): every look at the clusters comes one tick later."""

    def observe(self, job: Job) -> ClusterState:
        self.world.tick()
        return super().observe(job)


def pair(world: World) -> tuple[SimulatedDriver, SimulatedDriver]:
    """Source and target drivers of a world whose time passes as the executor looks."""
    return TickingDriver(world, Side.SOURCE), world.driver(Side.TARGET)
