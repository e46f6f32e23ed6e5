"""The collector reading a cluster through the official `kubernetes` client, served over real
HTTP by kmock's Kubernetes emulator: the report must be the one the same objects give when
read from memory."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import fields
from typing import Any

import kmock
import pytest
from kubernetes import client
from spoke_agent.report.collector import collect
from spoke_agent.report.kube_source import CUSTOM, RULES, KubernetesSource, _event
from spoke_agent.report.snapshot import Snapshot

from tests.spoke.test_collector import _snapshot
from tests.support.builders import NOW
from tests.support.kubernetes import api_client

RESOURCES = {
    "nodes": "v1/nodes",
    "pods": "v1/pods",
    "persistent_volume_claims": "v1/persistentvolumeclaims",
    "resource_quotas": "v1/resourcequotas",
    "storage_classes": "storage.k8s.io/v1/storageclasses",
    "csi_storage_capacities": "storage.k8s.io/v1/csistoragecapacities",
    "controller_revisions": "apps/v1/controllerrevisions",
    "runtime_classes": "node.k8s.io/v1/runtimeclasses",
    **{kind: "/".join(parts) for kind, parts in CUSTOM.items()},
}
CRDS = {
    "kubevirt.io/v1/kubevirts": "KubeVirt",
    "kubevirt.io/v1/virtualmachines": "VirtualMachine",
    "kubevirt.io/v1/virtualmachineinstances": "VirtualMachineInstance",
}


@pytest.fixture
async def cluster() -> AsyncIterator[tuple[kmock.KubernetesEmulator, client.ApiClient]]:
    async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
        yield emulator, api_client(server)


def _seed(emulator: kmock.KubernetesEmulator, snapshot: Snapshot, crds: bool = True) -> None:
    if crds:
        for resource, kind in CRDS.items():
            emulator.resources[resource] = {"kind": kind, "namespaced": True}
    for item in fields(Snapshot):
        for obj in getattr(snapshot, item.name):
            meta = obj["metadata"]
            emulator.objects[RESOURCES[item.name], meta.get("namespace"), meta["name"]] = obj


async def _read(api: client.ApiClient) -> Snapshot:
    return await asyncio.to_thread(KubernetesSource(api).snapshot)


async def test_the_api_and_memory_give_the_same_report(
    cluster: tuple[Any, client.ApiClient],
) -> None:
    emulator, api = cluster
    expected = _snapshot()
    _seed(emulator, expected)
    read = await _read(api)
    assert len(read.pods) == len(expected.pods)
    over_http = collect(read, "east", 3, NOW)
    in_memory = collect(expected, "east", 3, NOW)
    assert over_http.skipped == ()
    assert over_http.report == in_memory.report
    assert [v.key for v in over_http.report.vms] == ["shop/db", "shop/cache", "lab/idle"]
    assert emulator[kmock.resource("v1/pods")][-1].method == "GET"


async def test_a_cluster_without_kubevirt_reports_it_absent(
    cluster: tuple[Any, client.ApiClient],
) -> None:
    emulator, api = cluster
    _seed(emulator, Snapshot(nodes=_snapshot().nodes), crds=False)
    report = collect(await _read(api), "plain", 1, NOW).report
    assert not report.kubevirt.installed
    assert len(report.nodes) == 3


def test_the_rbac_rules_cover_every_kind_read_and_only_read() -> None:
    granted = {
        (group, resource)
        for rule in RULES
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    needed = set()
    for path in RESOURCES.values():
        parts = path.split("/")
        group = "" if len(parts) == 2 else parts[0]
        needed.add((group, parts[-1]))
    assert granted == needed
    assert all(set(rule["verbs"]) == {"get", "list", "watch"} for rule in RULES)


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        (b'{"type": "ERROR", "object": {"kind": "Status", "code": 410}}', "expired"),
        (b'{"type": "ERROR", "object": {"kind": "Status", "code": 500}}', "ERROR"),
        (b'{"type": "MODIFIED", "object": {}}', "MODIFIED"),
        (b"not json", "noise"),
    ],
)
def test_watch_events_are_told_apart(line: bytes, kind: str) -> None:
    assert _event(line) == kind
