"""What sizing by KubeVirt's own rules needs from a cluster: the instancetype and preference
each VM runs with (from the ControllerRevision it names, else the object), the CDI release
and filesystem overheads, StorageProfiles, RuntimeClass overheads, NetworkAttachment
resources, node pod counts and the overhead KubeVirt measured; read in memory and through
the official client from kmock's emulated API server."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import fields
from decimal import Decimal
from typing import Any

import kmock
import pytest
from kubernetes import client
from spoke_agent.report.collector import collect
from spoke_agent.report.kube_source import KubernetesSource
from spoke_agent.report.snapshot import Snapshot
from spoke_agent.sim import objects as m

from hub.models import kubevirt as k
from hub.models.vm import VolumeMode
from tests.spoke.test_collector import _snapshot
from tests.spoke.test_kube_source import RESOURCES
from tests.support.builders import GIB, NOW
from tests.support.kubernetes import api_client

U1_MEDIUM = m.instancetype("u1.medium", 1, "4Gi")
EDITED = m.instancetype("u1.medium", 2, "8Gi")
"""The same cluster instancetype, edited after a VM started using it."""
FEDORA = m.preference("fedora", devices={"preferredAutoattachGraphicsDevice": False})
LOCAL = m.instancetype("small", 2, "2Gi", namespace="shop", overcommit=50)


def _vms() -> list[dict[str, Any]]:
    plain = m.virtual_machine("shop", "web", domain={"devices": {}})
    plain["spec"]["template"]["spec"]["domain"].pop("cpu")
    plain["spec"]["template"]["spec"]["domain"].pop("memory")
    web = m.uses(plain, U1_MEDIUM, FEDORA, ("web-u1.medium-1", "web-fedora-1"))
    live = m.virtual_machine("shop", "api", domain={"devices": {}})
    live["spec"]["template"]["spec"]["domain"].pop("cpu")
    live["spec"]["template"]["spec"]["domain"].pop("memory")
    api = m.uses(live, LOCAL)
    lost = m.virtual_machine("shop", "lost", domain={"devices": {}})
    lost["spec"]["template"]["spec"]["domain"].pop("cpu")
    lost["spec"]["template"]["spec"]["domain"].pop("memory")
    lost = m.uses(lost, m.instancetype("gone", 1, "1Gi"))
    return [web, api, lost]


def _cluster() -> Snapshot:
    launcher = m.launcher("shop", "web", "w1", "1", "4Gi")
    launcher["metadata"]["annotations"] = {"kubevirt.io/memory-overhead-bytes": "281018368"}
    return _snapshot(
        pods=[*_snapshot().pods, launcher],
        virtual_machines=_vms(),
        virtual_machine_instances=[m.instance("shop", "web", "w1")],
        virtual_machine_cluster_instancetypes=[EDITED],
        virtual_machine_instancetypes=[LOCAL],
        virtual_machine_cluster_preferences=[FEDORA],
        controller_revisions=[
            m.controller_revision("shop", "web-u1.medium-1", U1_MEDIUM),
            m.controller_revision("shop", "web-fedora-1", FEDORA),
        ],
        cdis=[m.cdi("v1.62.0")],
        cdi_configs=[m.cdi_config("0.055", {"nfs": "0.1"})],
        storage_profiles=[
            m.storage_profile("ceph-rbd", "Block"),
            m.storage_profile("nfs", "Filesystem", minimum="4Gi"),
        ],
        runtime_classes=[m.runtime_class("kata", {"cpu": "250m", "memory": "160Mi"})],
        network_attachment_definitions=[
            m.network_attachment("shop", "sriov-net", "intel.com/sriov_netdevice")
        ],
    )


def test_a_vm_runs_with_the_revision_it_names_not_the_edited_object() -> None:
    collected = collect(_cluster(), "east", 1, NOW)
    vms = {v.key: v for v in collected.report.vms}
    web = vms["shop/web"]
    assert web.instancetype is not None
    assert (web.instancetype.kind, web.instancetype.name, web.instancetype.revision) == (
        "VirtualMachineClusterInstancetype",
        "u1.medium",
        "web-u1.medium-1",
    )
    assert web.instancetype.spec.cpu.guest == 1, "the revision's 1 vCPU, not the edited 2"
    assert web.instancetype.spec.memory.guest == "4Gi"
    assert web.preference is not None
    assert web.preference.spec.devices == k.PreferenceDevices(
        preferred_autoattach_graphics_device=False
    )
    assert web.measured_overhead_bytes == 281_018_368


def test_without_a_revision_the_object_itself_is_read_and_a_missing_one_skips_the_vm() -> None:
    collected = collect(_cluster(), "east", 1, NOW)
    vms = {v.key: v for v in collected.report.vms}
    api = vms["shop/api"]
    assert api.instancetype is not None
    assert (api.instancetype.kind, api.instancetype.revision) == (
        "VirtualMachineInstancetype",
        None,
    )
    assert api.instancetype.spec.memory.overcommit_percent == 50
    assert "shop/lost" not in vms
    assert any("VirtualMachine shop/lost" in s and "gone" in s for s in collected.skipped)


def test_cdi_storage_profiles_runtime_classes_and_network_attachments() -> None:
    report = collect(_cluster(), "east", 1, NOW).report
    assert (report.cdi.installed, report.cdi.version) == (True, "v1.62.0")
    classes = {c.name: c for c in report.storage_classes}
    assert classes["ceph-rbd"].filesystem_overhead == Decimal("0.055"), "CDIConfig's global"
    assert classes["nfs"].filesystem_overhead == Decimal("0.1"), "CDIConfig's for the class"
    assert classes["ceph-rbd"].volume_mode == VolumeMode.BLOCK
    assert (classes["nfs"].volume_mode, classes["nfs"].minimum_pvc_size_bytes) == (
        VolumeMode.FILESYSTEM,
        4 * GIB,
    )
    assert classes["local"].minimum_pvc_size_bytes is None
    assert report.kubevirt.runtime_classes == {"kata": {"cpu": "250m", "memory": "160Mi"}}
    assert report.network_attachments == {"shop/sriov-net": "intel.com/sriov_netdevice"}


def test_nodes_count_their_pods_against_allocatable_pods() -> None:
    report = collect(_cluster(), "east", 1, NOW).report
    w1, w2, _ = report.nodes
    # on w1: web-1 and the two virt-launchers of db and web; the finished job-1 does not count
    assert (w1.pods_allocatable, w1.pods) == (250, 3)
    assert w2.pods == 1


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[kmock.KubernetesEmulator, client.ApiClient]]:
    async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
        yield emulator, api_client(server)


async def test_the_api_serves_the_same_revisions_as_memory(
    cluster: tuple[kmock.KubernetesEmulator, client.ApiClient],
) -> None:
    emulator, api = cluster
    expected = _cluster()
    for item in fields(Snapshot):
        for obj in getattr(expected, item.name):
            meta = obj["metadata"]
            emulator.objects[RESOURCES[item.name], meta.get("namespace"), meta["name"]] = obj
    read = await asyncio.to_thread(KubernetesSource(api).snapshot)
    assert len(read.controller_revisions) == 2
    over_http = collect(read, "east", 3, NOW)
    assert over_http.report == collect(expected, "east", 3, NOW).report
    [listed] = emulator[kmock.resource("apps/v1/controllerrevisions")]
    assert listed.params == {"labelSelector": "instancetype.kubevirt.io/object-kind"}
