"""The minter against kmock's Kubernetes emulator over real HTTP, with the official client:
the objects a grant leaves, that minting again and revoking again change nothing, that
another's objects are neither taken over nor deleted, and that no token or header reaches
an error or a repr. kmock has no TokenRequest API: `_token` plays it."""

import asyncio
import traceback
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import kmock
import pytest
from kubernetes import client
from spoke_agent.access.target_tokens import KubernetesMinter, Minted, MintError
from spoke_agent.drivers.kube_rest import connect

from tests.support.grant_api import RESOURCES, answer, declare
from tests.support.kubernetes import api_client

AGENT_NS = "cclm-system"
MIG, OTHER = "mig-0123456789abcdef", "mig-fedcba9876543210"
NAME = f"cclm-{MIG}"
LABELS = {"cclm.io/grant": MIG, "app.kubernetes.io/managed-by": "cclm"}
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
ACCOUNTS, BINDINGS = "serviceaccounts", "rolebindings"


@dataclass
class Cluster:
    emulator: kmock.KubernetesEmulator
    minter: KubernetesMinter

    async def mint(self, migration: str, namespaces: list[str], ttl: int = 900) -> Minted:
        return await asyncio.to_thread(self.minter.mint, migration, namespaces, ttl)

    async def revoke(self, migration: str, namespaces: list[str] | None = None) -> None:
        await asyncio.to_thread(self.minter.revoke, migration, namespaces or [])

    async def granted(self) -> set[str]:
        return await asyncio.to_thread(self.minter.granted)

    def live(self, plural: str) -> dict[tuple[str, str], dict[str, Any]]:
        """(namespace, name) -> the stored object of one resource, in every namespace."""
        return {
            (namespace, name): obj.raw
            for (resource, namespace, name), obj in self.emulator.objects.items()
            if resource.plural == plural and not obj.deleted
        }

    def put(self, plural: str, namespace: str, obj: dict[str, Any]) -> None:
        resource = next(r for r in RESOURCES if r.endswith(f"/{plural}"))
        self.emulator.objects[resource, namespace, obj["metadata"]["name"]] = obj

    def token_requests(self) -> list[kmock.Request]:
        return [r for r in self.emulator if r.subresource == "token"]


def _token(request: kmock.Request) -> dict[str, Any]:
    """The API server's answer: a new token (the request's number tells them apart) for the
    ServiceAccount of the path, expiring the seconds asked for after `NOW`."""
    return answer(request, f"{request.namespace}/{request.name}#{request.id}", NOW)


def _api(server: kmock.Server) -> client.ApiClient:
    return api_client(server)


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
        declare(emulator)
        emulator[kmock.subresource("token")] << _token
        yield Cluster(emulator, KubernetesMinter(_api(server), AGENT_NS))


async def test_a_grant_binds_an_account_in_each_namespace_and_asks_for_the_ttl(
    cluster: Cluster,
) -> None:
    minted = await cluster.mint(MIG, ["apps", "db", "apps"], ttl=900)

    account = cluster.live(ACCOUNTS)[AGENT_NS, NAME]
    assert account["metadata"]["labels"] == LABELS
    assert account["automountServiceAccountToken"] is False
    bindings = cluster.live(BINDINGS)
    assert sorted(bindings) == [("apps", NAME), ("db", NAME)]
    for binding in bindings.values():
        assert binding["metadata"]["labels"] == LABELS
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "cclm-migration-target",
        }
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": NAME, "namespace": AGENT_NS}
        ]

    (asked,) = cluster.token_requests()
    assert (asked.method, asked.namespace, asked.name) == ("POST", AGENT_NS, NAME)
    assert asked.data["spec"] == {"expirationSeconds": 900}
    assert minted.token == f"{AGENT_NS}/{NAME}#{asked.id}"
    assert minted.expires_at == NOW + timedelta(seconds=900)
    assert minted.expires_at.tzinfo == UTC
    assert minted.token not in repr(minted)
    assert str(minted.expires_at.year) in repr(minted)


async def test_minting_again_keeps_the_objects_and_gives_a_new_token(cluster: Cluster) -> None:
    first = await cluster.mint(MIG, ["apps"])
    before = (cluster.live(ACCOUNTS), cluster.live(BINDINGS))
    second = await cluster.mint(MIG, ["apps"], ttl=3600)
    assert (cluster.live(ACCOUNTS), cluster.live(BINDINGS)) == before
    assert list(cluster.live(ACCOUNTS)) == [(AGENT_NS, NAME)]
    assert second.token != first.token
    assert second.expires_at == NOW + timedelta(hours=1)


async def test_granted_lists_the_grants_and_nothing_of_anothers(cluster: Cluster) -> None:
    cluster.put(ACCOUNTS, AGENT_NS, {"metadata": {"name": "default"}})
    foreign = {"cclm.io/grant": "mig-1", "app.kubernetes.io/managed-by": "helm"}
    cluster.put(ACCOUNTS, AGENT_NS, {"metadata": {"name": "cclm-mig-1", "labels": foreign}})
    renamed = {"metadata": {"name": "cclm-mig-3", "labels": {**LABELS, "cclm.io/grant": "mig-2"}}}
    cluster.put(ACCOUNTS, AGENT_NS, renamed)
    cluster.put(ACCOUNTS, "elsewhere", {"metadata": {"name": "cclm-mig-4", "labels": LABELS}})
    assert await cluster.granted() == set()
    await cluster.mint(MIG, ["apps"])
    await cluster.mint(OTHER, [])
    assert await cluster.granted() == {MIG, OTHER}


async def test_revoking_removes_the_bindings_then_the_account_and_repeats(
    cluster: Cluster,
) -> None:
    await cluster.mint(MIG, ["apps", "db"])
    await cluster.mint(OTHER, ["apps"])
    cluster.put(BINDINGS, "apps", {"metadata": {"name": "admins"}})
    await cluster.revoke(MIG, ["apps"])
    assert sorted(cluster.live(BINDINGS)) == [("apps", "admins"), ("apps", f"cclm-{OTHER}")]
    assert list(cluster.live(ACCOUNTS)) == [(AGENT_NS, f"cclm-{OTHER}")]
    assert await cluster.granted() == {OTHER}
    deletes = [(r.namespace, r.name) for r in cluster.emulator if r.method == "DELETE"]
    assert deletes == [("apps", NAME), ("db", NAME), (AGENT_NS, NAME)]

    await cluster.revoke(MIG, ["apps", "db"])
    await cluster.revoke("mig-never-minted")
    assert sorted(cluster.live(BINDINGS)) == [("apps", "admins"), ("apps", f"cclm-{OTHER}")]


async def test_anothers_account_of_the_grants_name_is_refused_and_kept(cluster: Cluster) -> None:
    cluster.put(ACCOUNTS, AGENT_NS, {"metadata": {"name": NAME}})
    cluster.put(BINDINGS, "apps", {"metadata": {"name": NAME}, "roleRef": {"name": "admin"}})
    with pytest.raises(MintError, match=f"ServiceAccount {AGENT_NS}/{NAME} .* not cclm's"):
        await cluster.mint(MIG, ["apps"])
    assert not cluster.token_requests()
    await cluster.revoke(MIG, ["apps"])
    assert cluster.live(ACCOUNTS)[AGENT_NS, NAME] == {"metadata": {"name": NAME}}
    assert list(cluster.live(BINDINGS)) == [("apps", NAME)]


async def test_anothers_binding_of_the_grants_name_is_refused(cluster: Cluster) -> None:
    cluster.put(BINDINGS, "db", {"metadata": {"name": NAME}, "roleRef": {"name": "admin"}})
    with pytest.raises(MintError, match=f"RoleBinding db/{NAME} .* not cclm's"):
        await cluster.mint(MIG, ["apps", "db"])
    assert not cluster.token_requests()


@pytest.mark.parametrize("bad", [("../../secrets", ["apps"]), (MIG, ["apps/../kube-system"])])
async def test_what_is_no_dns_label_never_reaches_a_path(
    cluster: Cluster, bad: tuple[str, list[str]]
) -> None:
    with pytest.raises(MintError, match="not a DNS label"):
        await cluster.mint(*bad)
    with pytest.raises(MintError, match="not a DNS label"):
        await cluster.revoke(*bad)
    assert not [r for r in cluster.emulator if r.method != "GET"]


async def test_a_refused_call_says_what_failed_without_headers_or_tokens() -> None:
    agent_token, marker = "agent-s3cr3t", "header-only-value"
    refusal = {
        "kind": "Status",
        "status": "Failure",
        "code": 403,
        "reason": "Forbidden",
        "message": "serviceaccounts/token is forbidden",
    }
    async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
        declare(emulator)
        traced = kmock.headers(f"X-Trace: {marker}")
        emulator[kmock.subresource("token")] << 403 << traced << refusal
        minter = KubernetesMinter(connect(str(server.url).rstrip("/"), None, agent_token), "ns")
        with pytest.raises(MintError) as raised:
            await asyncio.to_thread(minter.mint, MIG, ["apps"], 900)
        (asked,) = [r for r in emulator if r.subresource == "token"]
        assert asked.headers["Authorization"] == f"Bearer {agent_token}"
    assert raised.value.status == 403
    text = str(raised.value)
    assert f"POST /api/v1/namespaces/ns/serviceaccounts/{NAME}/token: 403" in text
    assert refusal["message"] in text
    shown = "".join(traceback.format_exception(raised.value)) + repr(raised.value)
    for secret in (agent_token, marker, "Authorization", "X-Trace", "HTTP response headers"):
        assert secret not in shown
