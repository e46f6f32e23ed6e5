"""The Kubernetes driver against kmock's Kubernetes emulator over real HTTP, with the
official client: the objects each action leaves, that repeating it changes nothing, what
observation reads back, and whole migrations run by the executor while the test plays
KubeVirt and CDI (`kubevirt_fake`)."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

import kmock
import pytest
from spoke_agent.drivers import ClusterDriver
from spoke_agent.drivers import kube_objects as ko
from spoke_agent.drivers.kube_rest import connect
from spoke_agent.drivers.kubernetes import DriverError, DriverSettings, KubernetesDriver
from spoke_agent.executor.journal import Journal
from spoke_agent.executor.model import (
    Action,
    CreateClient,
    CreateReceiver,
    CreateServer,
    DeleteClient,
    DeleteServer,
    FinalizeSource,
    FinalizeTarget,
    Job,
    Phase,
    Pod,
    PrepareVolumes,
    RemoveFromTarget,
    Side,
    StartSending,
    StopReceiving,
    StopSending,
    SupersededError,
)
from spoke_agent.executor.reconcile import Executor
from spoke_agent.executor.records import STALE, Applied, Ended

from tests.support import api_server
from tests.support import kubevirt_fake as fake
from tests.support.api_server import ApiServer
from tests.support.kubernetes import two_clusters

VM = f"{fake.NS}/web"
JOB = Job("job-7", (VM,), "east", storage_class_map={"fast": "premium"})
SETTINGS = DriverSettings(rsync_image="rsync:test", connect_url="sync.east.example:9185")
MIGRATIONS = "virtualmachineinstancemigrations"
SEEDED = ko.stamp(fake.vm("web", "Halted")["metadata"])
"""What the VM `fake.seed` makes has as its stamp."""
RESOURCES = (
    "virtualmachines",
    MIGRATIONS,
    "datavolumes",
    "pods",
    "services",
    "controllerrevisions",
)


@dataclass
class Clusters:
    source: kmock.KubernetesEmulator
    target: kmock.KubernetesEmulator
    drivers: dict[Side, KubernetesDriver]

    async def apply(self, action: Action, job: Job = JOB) -> None:
        """Twice: the second time must raise nothing and change nothing."""
        driver = self.drivers[action.side]
        await asyncio.to_thread(driver.apply, job, action)
        before = self.snapshot()
        await asyncio.to_thread(driver.apply, job, action)
        assert self.snapshot() == before

    def snapshot(self) -> dict[tuple[str, str], Any]:
        sides = {"source": self.source, "target": self.target}
        return {(s, r): fake.raw(e, r) for s, e in sides.items() for r in RESOURCES}


@pytest.fixture
async def clusters() -> AsyncIterator[Clusters]:
    async with two_clusters(ApiServer) as both:
        source, target = both.source, both.target
        source_api, target_api = both.source_api, both.target_api
        drivers = {
            Side.SOURCE: KubernetesDriver(source_api, Side.SOURCE, SETTINGS),
            Side.TARGET: KubernetesDriver(target_api, Side.TARGET, SETTINGS, source=source_api),
        }
        yield Clusters(source, target, drivers)


async def test_live_objects_have_the_shapes_kubevirt_and_cdi_read(clusters: Clusters) -> None:
    fake.seed(clusters.source, "web", running=True)
    await clusters.apply(PrepareVolumes(VM))
    volumes = fake.raw(clusters.target, "datavolumes")
    assert {n: v["spec"]["storage"] for n, v in volumes.items()} == {
        "web-root": {"resources": {"requests": {"storage": "10Gi"}}, "storageClassName": "premium"},
        "web-data": {"resources": {"requests": {"storage": "5Gi"}}, "storageClassName": "slow"},
    }
    assert all(v["spec"]["source"] == {"blank": {}} for v in volumes.values())
    assert all(v["metadata"]["labels"][ko.MIGRATION] == JOB.id for v in volumes.values())

    manifest = fake.vm("web", "Always")
    await clusters.apply(CreateReceiver(VM, 1, manifest))
    receiver = fake.raw(clusters.target, "virtualmachines")["web"]
    assert receiver["spec"]["runStrategy"] == "WaitAsReceiver"
    assert "dataVolumeTemplates" not in receiver["spec"]
    assert receiver["spec"]["template"] == manifest["spec"]["template"]
    assert receiver["metadata"]["annotations"] == {ko.RESTORE: "Always"}
    assert receiver["metadata"]["uid"] != "0f1e", "the source's uid is not copied"
    assert receiver["metadata"]["labels"] == {ko.MIGRATION: JOB.id, ko.ROLE: "vm", ko.VM: "web"}

    await clusters.apply(StartSending(VM, 1))
    (receiving,) = fake.raw(clusters.target, MIGRATIONS).values()
    (sending,) = fake.raw(clusters.source, MIGRATIONS).values()
    mid = ko.migration_id(JOB.id, VM, 1)
    assert receiving["spec"] == {"vmiName": "web", "receive": {"migrationID": mid}}
    assert sending["spec"] == {
        "vmiName": "web",
        "sendTo": {"migrationID": mid, "connectURL": SETTINGS.connect_url},
    }
    assert sending["metadata"]["labels"][ko.ATTEMPT] == "1"

    await clusters.apply(CreateReceiver(VM, 2, manifest))
    (receiving,) = fake.raw(clusters.target, MIGRATIONS).values()
    assert receiving["spec"]["receive"]["migrationID"] not in ("", mid)

    await clusters.apply(StopSending(VM))
    await clusters.apply(StopReceiving(VM))
    assert fake.raw(clusters.source, MIGRATIONS) == {}
    assert fake.raw(clusters.target, MIGRATIONS) == {}
    assert fake.raw(clusters.target, "virtualmachines") == {}


async def test_the_policys_receiver_timeouts_reach_kubevirt_on_the_migration_objects(
    clusters: Clusters,
) -> None:
    """KubeVirt reads `kubevirt.io/migrationUnschedulablePodTimeoutSeconds` and
    `kubevirt.io/migrationPendingPodTimeoutSeconds` off the VirtualMachineInstanceMigration
    (api/core/v1/types.go:1308-1314) instead of its 300 s and 900 s."""
    fake.seed(clusters.source, "web", running=True)
    job = replace(JOB, unschedulable_timeout=900, pending_timeout=1800)
    await clusters.apply(CreateReceiver(VM, 1, fake.vm("web", "Always")), job)
    await clusters.apply(StartSending(VM, 1), job)
    expected = {
        "kubevirt.io/migrationUnschedulablePodTimeoutSeconds": "900",
        "kubevirt.io/migrationPendingPodTimeoutSeconds": "1800",
    }
    for side in (clusters.target, clusters.source):
        (made,) = fake.raw(side, MIGRATIONS).values()
        assert made["metadata"]["annotations"] == expected


async def test_without_receiver_timeouts_kubevirts_own_hold(clusters: Clusters) -> None:
    fake.seed(clusters.source, "web", running=True)
    await clusters.apply(CreateReceiver(VM, 1, fake.vm("web", "Always")))
    await clusters.apply(StartSending(VM, 1))
    (made,) = fake.raw(clusters.target, MIGRATIONS).values()
    assert "annotations" not in made["metadata"]


async def test_a_vm_running_on_the_target_is_never_made_a_receiver(clusters: Clusters) -> None:
    fake.put(clusters.target, "virtualmachines", fake.vm("web", "Always"))
    with pytest.raises(DriverError, match="already runs"):
        await clusters.apply(CreateReceiver(VM, 1, fake.vm("web", "Always")))
    await clusters.apply(StopReceiving(VM))
    await clusters.apply(RemoveFromTarget(VM))
    assert fake.raw(clusters.target, "virtualmachines")["web"]["spec"]["runStrategy"] == "Always"


async def test_rsync_pods_mount_the_vms_claims_and_find_each_other(clusters: Clusters) -> None:
    fake.seed(clusters.source, "web", running=False)
    await clusters.apply(CreateServer(3, (VM,)))
    name = ko.server_name(JOB.id, 3)
    service = fake.raw(clusters.target, "services")[name]
    server = fake.raw(clusters.target, "pods")[name]
    assert service["spec"]["selector"] == server["metadata"]["labels"]
    assert server["metadata"]["labels"][ko.ROUND] == "3"
    assert server["metadata"]["annotations"][ko.SERVES] == VM
    assert _claims(server) == ["web-root", "web-data"]

    await clusters.apply(CreateClient(3, VM, SEEDED))
    pod = fake.raw(clusters.source, "pods")[ko.client_name(JOB.id, 3, VM)]
    assert _claims(pod) == ["web-root", "web-data"]
    assert all(v["persistentVolumeClaim"]["readOnly"] for v in pod["spec"]["volumes"])
    env = {
        e["name"]: e.get("value", e.get("valueFrom")) for e in pod["spec"]["containers"][0]["env"]
    }
    assert env["SERVER"] == f"{name}.{fake.NS}.svc.clusterset.local:873"
    # The image's entrypoint learns its own pod from the downward API, to report progress.
    assert env["POD_NAME"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["POD_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}
    assert pod["metadata"]["labels"] == {
        ko.MIGRATION: JOB.id,
        ko.ROLE: "client",
        ko.VM: "web",
        ko.ROUND: "3",
    }

    await clusters.apply(DeleteClient(3, VM))
    await clusters.apply(DeleteServer(3))
    assert not fake.raw(clusters.source, "pods")
    assert not fake.raw(clusters.target, "pods")
    assert not fake.raw(clusters.target, "services")


def _claims(pod: dict[str, Any]) -> list[str]:
    return [v["persistentVolumeClaim"]["claimName"] for v in pod["spec"]["volumes"]]


async def test_finalizing_leaves_one_running_copy_and_a_marked_source(clusters: Clusters) -> None:
    fake.seed(clusters.source, "web", running=True)
    await clusters.apply(CreateReceiver(VM, 1, fake.vm("web", "Always")))
    await clusters.apply(FinalizeTarget(VM, True, fake.vm("web", "Always")))
    final = fake.raw(clusters.target, "virtualmachines")["web"]
    assert final["spec"]["runStrategy"] == "Always"
    assert ko.RESTORE not in final["metadata"]["annotations"]
    assert not fake.raw(clusters.target, MIGRATIONS)

    await clusters.apply(FinalizeSource(VM, JOB.id, delete=False, version="42"))
    source = fake.raw(clusters.source, "virtualmachines")["web"]
    assert source["spec"]["runStrategy"] == "Halted"
    assert source["metadata"]["annotations"][ko.MIGRATED_BY] == JOB.id
    assert source["metadata"]["labels"][ko.MIGRATED_BY] == JOB.id
    version = source["metadata"]["resourceVersion"]
    await clusters.apply(FinalizeSource(VM, JOB.id, delete=True, version=version))
    assert not fake.raw(clusters.source, "virtualmachines")


async def test_removing_from_the_target_takes_what_the_job_made(clusters: Clusters) -> None:
    fake.seed(clusters.source, "web", running=False)
    fake.put(clusters.target, "datavolumes", {"metadata": {"name": "unrelated"}})
    await clusters.apply(PrepareVolumes(VM))
    await clusters.apply(FinalizeTarget(VM, False, fake.vm("web", "Halted")))
    await clusters.apply(RemoveFromTarget(VM))
    assert not fake.raw(clusters.target, "virtualmachines")
    assert list(fake.raw(clusters.target, "datavolumes")) == ["unrelated"]


def _pinned(strategy: str) -> dict[str, Any]:
    """The manifest as the executor captures it from the source's definition."""
    return dict(ko.definition(fake.vm("web", strategy)).manifest)


async def test_the_target_vm_keeps_the_instancetype_revision_it_runs_with(
    clusters: Clusters,
) -> None:
    fake.seed(clusters.source, "web", running=True)
    name = fake.revision_name("web")
    manifest = _pinned("Always")
    assert manifest["spec"]["instancetype"]["revisionName"] == name
    await clusters.apply(CreateReceiver(VM, 1, manifest))
    copied = fake.raw(clusters.target, "controllerrevisions")[name]
    stored = fake.revision("web")
    assert copied["data"] == stored["data"]
    assert copied["metadata"]["labels"] == {
        **stored["metadata"]["labels"],
        ko.MIGRATION: JOB.id,
        ko.ROLE: "revision",
        ko.VM: "web",
    }
    assert "ownerReferences" not in copied["metadata"], "a receiver removed would take it"
    receiver = fake.raw(clusters.target, "virtualmachines")["web"]
    assert receiver["spec"]["instancetype"] == {
        "name": "u1.medium",
        "kind": "VirtualMachineClusterInstancetype",
        "revisionName": name,
    }
    fake.live(clusters.target, "virtualmachines")["web"].patch({"metadata": {"uid": "9c3a"}})
    await clusters.apply(FinalizeTarget(VM, True, manifest))
    owned = fake.raw(clusters.target, "controllerrevisions")[name]["metadata"]["ownerReferences"]
    assert owned == [
        {
            "apiVersion": "kubevirt.io/v1",
            "kind": "VirtualMachine",
            "name": "web",
            "uid": "9c3a",
            "controller": True,
        }
    ]
    await clusters.apply(RemoveFromTarget(VM))
    assert not fake.raw(clusters.target, "controllerrevisions")


async def test_the_revision_is_found_on_the_target_once_the_source_lost_it(
    clusters: Clusters,
) -> None:
    fake.seed(clusters.source, "web", running=True)
    await clusters.apply(CreateReceiver(VM, 1, _pinned("Always")))
    del clusters.source.objects[
        next(k for k in clusters.source.objects if k[0].plural == "controllerrevisions")
    ]
    await clusters.apply(FinalizeTarget(VM, True, _pinned("Always")))
    assert fake.revision_name("web") in fake.raw(clusters.target, "controllerrevisions")


async def test_a_revision_on_neither_cluster_or_another_on_the_target_is_refused(
    clusters: Clusters,
) -> None:
    fake.put(clusters.source, "virtualmachines", fake.vm("web", "Always"))
    with pytest.raises(DriverError, match="is on neither cluster"):
        await clusters.apply(CreateReceiver(VM, 1, _pinned("Always")))
    assert not fake.raw(clusters.target, "virtualmachines"), "no VM without its revision"
    fake.put(clusters.source, "controllerrevisions", fake.revision("web"))
    fake.put(clusters.target, "controllerrevisions", fake.revision("web", memory="8Gi"))
    with pytest.raises(DriverError, match="differs from the one apps/web runs with"):
        await clusters.apply(CreateReceiver(VM, 1, _pinned("Always")))
    fake.put(clusters.target, "controllerrevisions", fake.revision("web"))
    await clusters.apply(CreateReceiver(VM, 1, _pinned("Always")))
    assert "web" in fake.raw(clusters.target, "virtualmachines")


async def test_a_foreign_datavolume_is_not_written_into(clusters: Clusters) -> None:
    fake.seed(clusters.source, "web", running=False)
    fake.put(clusters.target, "datavolumes", {"metadata": {"name": "web-data"}})
    with pytest.raises(DriverError, match="not ours"):
        await clusters.apply(PrepareVolumes(VM))


async def test_observation_reads_back_what_the_clusters_hold(clusters: Clusters) -> None:
    fake.seed(clusters.source, "web", running=False)
    await clusters.apply(CreateClient(2, VM, SEEDED))
    fake.put(clusters.source, "pods", fake.launcher("web", "virt-launcher-web-src"))
    marked = fake.vm("web", "Halted")
    marked["metadata"]["annotations"] = {ko.MIGRATED_BY: "job-1"}
    fake.put(clusters.source, "virtualmachines", marked)
    unscheduled = {
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "False", "message": "0/3 nodes fit"}],
    }
    fake.put(clusters.source, "pods", fake.launcher("web", "virt-launcher-web-src", unscheduled))
    stopping = fake.launcher("web", "virt-launcher-web-old")
    stopping["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    fake.put(clusters.source, "pods", stopping)
    fake.put(clusters.source, "pods", fake.launcher("other", "virt-launcher-other"))
    client_pod = fake.live(clusters.source, "pods")[ko.client_name(JOB.id, 2, VM)]
    client_pod.patch(
        {"status": {"phase": "Running"}, "metadata": {"annotations": {ko.BYTES_COPIED: "4096"}}}
    )
    await clusters.apply(CreateReceiver(VM, 1, fake.vm("web", "Always")))
    await clusters.apply(CreateServer(2, (VM,)))
    fake.play(clusters.source, clusters.target)

    source = (await _observe(clusters, Side.SOURCE)).vm(VM)
    assert source.definition is not None
    assert (source.definition.running, source.definition.migrated_by) == (False, "job-1")
    assert sorted(source.launchers, key=lambda p: p.name) == [
        Pod("virt-launcher-web-old", Phase.RUNNING, deleting=True),
        Pod("virt-launcher-web-src", Phase.PENDING, message="0/3 nodes fit"),
    ]
    copying = Pod(client_pod["metadata"]["name"], Phase.RUNNING, bytes_copied=4096)
    assert source.client == (2, copying)
    assert source.client_stamp == SEEDED, "the stamp it was made for, read off the pod"

    target = await _observe(clusters, Side.TARGET)
    assert target.servers == {2: Pod(ko.server_name(JOB.id, 2), Phase.RUNNING)}
    assert target.serving == {2: frozenset({VM})}
    received = target.vm(VM)
    assert received.definition is not None
    assert received.definition.receiver
    assert [p.name for p in received.launchers] == ["virt-launcher-web-dst"]
    assert received.transfer is not None
    assert received.transfer.attempt == 1
    assert not received.volumes_ready
    await clusters.apply(PrepareVolumes(VM))
    assert not (await _observe(clusters, Side.TARGET)).vm(VM).volumes_ready
    fake.play(clusters.source, clusters.target)
    assert (await _observe(clusters, Side.TARGET)).vm(VM).volumes_ready


async def _observe(clusters: Clusters, side: Side) -> Any:
    return await asyncio.to_thread(clusters.drivers[side].observe, JOB)


@pytest.mark.parametrize(
    ("spec", "status", "running"),
    [
        ({"runStrategy": "Always"}, {}, True),
        ({"runStrategy": "RerunOnFailure"}, {}, True),
        ({"runStrategy": "RerunOnFailure"}, {"printableStatus": "Running"}, True),
        # A guest shut down: the instance is final, and nothing restarts it.
        ({"runStrategy": "RerunOnFailure"}, {"printableStatus": "Stopped"}, False),
        ({"runStrategy": "Manual"}, {"created": True, "printableStatus": "Stopped"}, False),
        ({"runStrategy": "Halted"}, {"created": True}, False),
        ({"runStrategy": "Manual"}, {"created": True}, True),
        ({"runStrategy": "Manual"}, {}, False),
        ({"running": True}, {}, True),
        ({"running": False}, {}, False),
    ],
)
def test_run_strategies_read_as_running(
    spec: dict[str, Any], status: dict[str, Any], running: bool
) -> None:
    assert ko.definition({"metadata": {}, "spec": spec, "status": status}).running is running


@pytest.mark.parametrize(("running", "final"), [(True, "Always"), (False, "Halted")])
async def test_a_whole_migration_runs_and_leaves_nothing_behind(
    clusters: Clusters, running: bool, final: str
) -> None:
    """Live when the VM runs, an offline copy in an rsync round when it does not."""
    fake.seed(clusters.source, "web", running=running)
    drivers = clusters.drivers
    tallied: list[tuple[str, bool]] = []
    journal = Journal(":memory:")
    executor = Executor(
        JOB,
        journal,
        drivers[Side.SOURCE],
        drivers[Side.TARGET],
        tally=lambda name, ok: tallied.append((name, ok)),
    )
    for _ in range(40):
        await asyncio.to_thread(executor.step)
        if executor.ended:
            break
        fake.play(clusters.source, clusters.target)
    applied = [type(r.action).__name__ for r in journal.load(JOB.id) if isinstance(r, Applied)]
    assert tallied == [(name, True) for name in applied], "each action applied is counted"
    assert executor.ledger.ended is not None
    assert executor.ledger.ended.failed is None
    assert fake.raw(clusters.target, "virtualmachines")["web"]["spec"]["runStrategy"] == final
    assert sorted(fake.raw(clusters.target, "datavolumes")) == ["web-data", "web-root"]
    marked = fake.raw(clusters.source, "virtualmachines")["web"]["metadata"]["annotations"]
    assert marked[ko.MIGRATED_BY] == JOB.id
    for emulator in (clusters.source, clusters.target):
        for plural in ("pods", "services", MIGRATIONS):
            left = fake.raw(emulator, plural).values()
            assert not [o for o in left if ko.matches(o, {ko.MIGRATION: JOB.id})]
    assert bool(fake.raw(clusters.target, "pods")) is running


class FailsOnce:
    """The target driver, but its first apply fails the way an API outage does."""

    def __init__(self, inner: ClusterDriver) -> None:
        self.inner, self.failed = inner, False

    def observe(self, job: Job) -> Any:
        return self.inner.observe(job)

    def apply(self, job: Job, action: Any) -> None:
        if not self.failed:
            self.failed = True
            raise RuntimeError("the target's API is down")
        self.inner.apply(job, action)


async def test_an_action_the_cluster_refuses_is_counted_as_an_error_and_retried(
    clusters: Clusters,
) -> None:
    fake.seed(clusters.source, "web", running=False)
    drivers = clusters.drivers
    tallied: list[tuple[str, bool]] = []
    target = FailsOnce(drivers[Side.TARGET])
    executor = Executor(
        JOB,
        Journal(":memory:"),
        drivers[Side.SOURCE],
        target,  # type: ignore[arg-type]
        tally=lambda name, ok: tallied.append((name, ok)),
    )

    def retried() -> bool:
        failures = [i for i, (_, ok) in enumerate(tallied) if not ok]
        return bool(failures) and tallied[failures[0]][0] in {
            name for name, ok in tallied[failures[0] + 1 :] if ok
        }

    for _ in range(40):
        with contextlib.suppress(RuntimeError):
            await asyncio.to_thread(executor.step)
        if retried():
            break
        fake.play(clusters.source, clusters.target)
    assert [ok for _, ok in tallied].count(False) == 1
    assert retried(), "the action that failed is counted, then applied by a later pass"


async def test_the_token_stays_out_of_reprs_logs_and_errors(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = "s3cr3t-t0ken-value"
    async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
        api = connect(str(server.url).rstrip("/"), None, token)
        driver = KubernetesDriver(api, Side.SOURCE, SETTINGS)
        with caplog.at_level(logging.DEBUG), pytest.raises(DriverError) as raised:
            await asyncio.to_thread(driver.observe, JOB)
        assert list(emulator)[-1].headers["Authorization"] == f"Bearer {token}"
    assert raised.value.status == 404
    shown = [str(raised.value), repr(raised.value), repr(api.configuration), repr(api), caplog.text]
    assert "404" in shown[0]
    assert all(token not in text for text in shown)


async def test_finalizing_a_source_that_changed_since_it_was_seen_is_refused(
    clusters: Clusters,
) -> None:
    """The decision saw resourceVersion 42; a user's start moved it. Neither the mark nor
    the delete lands on top of the start: the API server refuses both (409)."""
    fake.seed(clusters.source, "web", running=False)
    stored = fake.live(clusters.source, "virtualmachines")["web"]
    api_server.write(stored, {"spec": {"runStrategy": "Always"}})
    for delete in (False, True):
        with pytest.raises(SupersededError, match="apps/web"):
            await asyncio.to_thread(
                clusters.drivers[Side.SOURCE].apply,
                JOB,
                FinalizeSource(VM, JOB.id, delete=delete, version="42"),
            )
    after = fake.raw(clusters.source, "virtualmachines")["web"]
    assert after["spec"]["runStrategy"] == "Always", "the user's start stands"
    assert ko.MIGRATED_BY not in (after["metadata"].get("labels") or {})
    current = after["metadata"]["resourceVersion"]
    await clusters.apply(FinalizeSource(VM, JOB.id, delete=False, version=current))
    marked = fake.raw(clusters.source, "virtualmachines")["web"]
    assert marked["spec"]["runStrategy"] == "Halted"


async def test_a_client_is_made_only_while_the_vm_is_as_decided_and_stopped(
    clusters: Clusters,
) -> None:
    fake.seed(clusters.source, "web", running=False)
    driver = clusters.drivers[Side.SOURCE]
    changed = ko.stamp({**fake.vm("web", "Halted")["metadata"], "resourceVersion": "41"})
    with pytest.raises(SupersededError, match="changed"):
        await asyncio.to_thread(driver.apply, JOB, CreateClient(1, VM, changed))
    fake.put(clusters.source, "virtualmachineinstances", {"metadata": {"name": "web"}})
    with pytest.raises(SupersededError, match="runs"):
        await asyncio.to_thread(driver.apply, JOB, CreateClient(1, VM, SEEDED))
    assert not fake.raw(clusters.source, "pods")
    del clusters.source.objects[
        next(k for k in clusters.source.objects if k[0].plural == "virtualmachineinstances")
    ]
    await clusters.apply(CreateClient(1, VM, SEEDED))
    (pod,) = fake.raw(clusters.source, "pods").values()
    assert ko.stamp_of(pod) == SEEDED
    (term,) = pod["spec"]["affinity"]["podAntiAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]
    assert term == {
        "labelSelector": {
            "matchLabels": {"kubevirt.io": "virt-launcher", "vm.kubevirt.io/name": "web"}
        },
        "topologyKey": "kubernetes.io/hostname",
    }


async def test_a_copy_of_a_vm_written_meanwhile_is_redone_not_finalized(
    clusters: Clusters,
) -> None:
    """A write to the VM while its client copies (a label here; a start by state change
    request looks the same) moves its resourceVersion: the finished copy is not trusted,
    a second round copies it again, and only that copy is finalized."""
    fake.seed(clusters.source, "web", running=False)
    drivers = clusters.drivers
    journal = Journal(":memory:")
    executor = Executor(JOB, journal, drivers[Side.SOURCE], drivers[Side.TARGET])
    touched = False
    for _ in range(60):
        await asyncio.to_thread(executor.step)
        if executor.ended:
            break
        if not touched and fake.raw(clusters.source, "pods"):
            stored = fake.live(clusters.source, "virtualmachines")["web"]
            api_server.write(stored, {"metadata": {"labels": {"team": "shop"}}})
            touched = True
        fake.play(clusters.source, clusters.target)
    assert executor.ledger.ended == Ended()
    rounds = executor.ledger.rounds
    assert [x.id for x in rounds] == [1, 2]
    assert rounds[0].ended[VM].startswith(STALE)
    assert "resourceVersion" in rounds[0].ended[VM]
    assert rounds[1].ended[VM] == "succeeded"
