"""The spoke agent's RBAC (charts/spoke-agent, rendered: the rules' one source) against what
the code asks of the API servers. kmock records the driver's requests while it takes every
action on both sides of a migration, and the minter's while it mints, lists and revokes;
the collector's are its `RULES`. Each identity must be allowed all it asks for and granted
nothing it never asks for. A pass over the driver's source checks that the recorded run
makes every kind of call the driver has."""

import ast
import asyncio
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kmock
import pytest
from spoke_agent.access.target_tokens import KubernetesMinter
from spoke_agent.drivers import kube_objects as ko
from spoke_agent.drivers import kubernetes as driver_module
from spoke_agent.drivers.kubernetes import DriverSettings, KubernetesDriver
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
    PrepareVolumes,
    RemoveFromTarget,
    Side,
    StartSending,
    StopReceiving,
    StopSending,
)
from spoke_agent.report import kube_source

from tests.support import charts
from tests.support import kubevirt_fake as fake
from tests.support.grant_api import declare
from tests.support.kubernetes import api_client, two_clusters
from tests.support.rbac import Ask, Atom, Grant, ask_of

RBAC = "rbac.authorization.k8s.io"
DOCS = charts.rbac(charts.render(charts.SPOKE, charts.SPOKE_REQUIRED, namespace="cclm-system"))
"""The chart's rules, their one source (deploy/spoke-rbac.yaml is their rendering)."""
AGENT = ("cclm-system", "cclm-spoke")
VM = f"{fake.NS}/web"
JOB = Job("job-1", (VM,), "east")
VERBS = {"get": "get", "select": "list", "create": "create", "patch": "patch", "delete": "delete"}
"""The driver's calls (`_Rest`'s methods) and the RBAC verb each is checked for."""


@dataclass(frozen=True)
class Recorded:
    source: list[Ask]
    """Of the source cluster, by its agent, which runs both sides of the migration."""
    target: list[Ask]
    """Of the target cluster, by the source's agent with the minted credential."""
    minting: list[Ask]
    """Of the target cluster, by its own agent."""


def _find(kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    (found,) = [
        d
        for d in DOCS
        if (d["kind"], d["metadata"]["name"], d["metadata"].get("namespace"))
        == (kind, name, namespace)
    ]
    return found


def _grants_of(account: tuple[str, str]) -> list[Grant]:
    """Through the bindings that name the ServiceAccount: a ClusterRoleBinding's rules hold
    everywhere, a RoleBinding's in its namespace."""
    found = []
    for binding in DOCS:
        if binding["kind"] not in ("ClusterRoleBinding", "RoleBinding"):
            continue
        subjects = [(s.get("namespace"), s["name"]) for s in binding["subjects"]]
        if account not in subjects:
            continue
        namespace, ref = binding["metadata"].get("namespace"), binding["roleRef"]
        role = _find(ref["kind"], ref["name"], namespace if ref["kind"] == "Role" else None)
        found += [Grant(namespace, rule) for rule in role["rules"]]
    return found


def _target_grants() -> list[Grant]:
    """Bound by the minter's RoleBindings in the VMs' namespaces only."""
    return [Grant(fake.NS, rule) for rule in _find("ClusterRole", "cclm-migration-target")["rules"]]


def _asks(emulator: kmock.KubernetesEmulator) -> list[Ask]:
    """Its requests, and the `bind` on the role that creating a RoleBinding is checked for
    when the creator does not hold every right of the role itself."""
    binds = [
        Ask("bind", RBAC, "clusterroles", r.namespace, r.data["roleRef"]["name"])
        for r in emulator
        if r.method == "POST" and r.resource is not None and r.resource.plural == "rolebindings"
    ]
    return [ask_of(r) for r in emulator] + binds


def _every_action() -> list[Action]:
    """Each action, some twice or in an order that makes the driver take its other path: a
    volume or VM that exists, a migration object of another attempt, a receiver to remove."""
    manifest = ko.definition(fake.vm("web", "Always")).manifest
    return [
        PrepareVolumes(VM),
        PrepareVolumes(VM),
        CreateReceiver(VM, 1, manifest),
        CreateReceiver(VM, 2, manifest),
        StartSending(VM, 1),
        StartSending(VM, 2),
        StopSending(VM),
        CreateServer(1, (VM,)),
        CreateClient(1, VM, ko.stamp(fake.vm("web", "Halted")["metadata"])),
        DeleteClient(1, VM),
        DeleteServer(1),
        StopReceiving(VM),
        FinalizeTarget(VM, True, manifest),
        FinalizeSource(VM, JOB.id, delete=False, version="42"),
        FinalizeSource(VM, JOB.id, delete=True, version="42"),
        RemoveFromTarget(VM),
    ]


async def _migrate() -> tuple[list[Ask], list[Ask]]:
    async with two_clusters() as both:
        source, target = both.source, both.target
        fake.seed(source, "web", running=False)
        source_api, target_api = both.source_api, both.target_api
        settings = DriverSettings()
        drivers = {
            Side.SOURCE: KubernetesDriver(source_api, Side.SOURCE, settings),
            Side.TARGET: KubernetesDriver(target_api, Side.TARGET, settings, source=source_api),
        }
        for action in _every_action():
            await asyncio.to_thread(drivers[action.side].apply, JOB, action)
        for driver in drivers.values():
            await asyncio.to_thread(driver.observe, JOB)
        return _asks(source), _asks(target)


async def _mint() -> list[Ask]:
    """Twice, the second time finding what the first made; then listed and revoked."""
    expiring = {"token": "t", "expirationTimestamp": "2026-01-01T00:00:00Z"}
    async with kmock.KubernetesEmulator() as cluster, kmock.Server(cluster) as server:
        declare(cluster)
        cluster[kmock.subresource("token")] << {"spec": {}, "status": expiring}
        minter = KubernetesMinter(api_client(server), AGENT[0])
        for _ in range(2):
            await asyncio.to_thread(minter.mint, "mig-1", [fake.NS], 600)
        await asyncio.to_thread(minter.granted)
        await asyncio.to_thread(minter.revoke, "mig-1", [fake.NS])
        return _asks(cluster)


@pytest.fixture(scope="module")
def recorded() -> Recorded:
    source, target = asyncio.run(_migrate())
    return Recorded(source, target, asyncio.run(_mint()))


def _collecting() -> list[Ask]:
    return [
        Ask(verb, group, resource)
        for rule in kube_source.RULES
        for verb, group, resource in itertools.product(
            rule["verbs"], rule["apiGroups"], rule["resources"]
        )
    ]


def _driver_calls() -> set[tuple[str, str, str]]:
    """Verb, group and resource of each `self.rest.<call>(KIND, ...)` and
    `self.source.<call>(KIND, ...)` in the driver's source."""
    found = set()
    for node in ast.walk(ast.parse(Path(driver_module.__file__).read_text())):
        match node:
            case ast.Call(
                func=ast.Attribute(
                    value=ast.Attribute(value=ast.Name(id="self"), attr="rest" | "source"),
                    attr=call,
                ),
                args=[ast.Name(id=constant), *_],
            ):
                kind = getattr(driver_module, constant)
                group = kind.prefix.split("/")[2] if kind.prefix.startswith("/apis/") else ""
                found.add((VERBS[call], group, kind.plural))
    return found


def _unallowed(grants: list[Grant], asks: list[Ask]) -> list[Ask]:
    return sorted({ask for ask in asks if not any(g.allows(ask) for g in grants)}, key=repr)


def _unused(grants: list[Grant], asks: list[Ask]) -> list[Atom]:
    return [atom for grant in grants for atom in grant.unused(asks)]


def test_the_recorded_run_makes_every_call_of_the_driver(recorded: Recorded) -> None:
    made = {(a.verb, a.group, a.resource) for a in recorded.source + recorded.target}
    assert _driver_calls() == made


def test_the_minted_credential_allows_the_target_side_and_no_more(recorded: Recorded) -> None:
    assert recorded.target
    assert _unallowed(_target_grants(), recorded.target) == []
    assert _unused(_target_grants(), recorded.target) == []


def test_the_minted_credential_reaches_no_secret_account_or_rbac() -> None:
    """Even were the driver to ask: with these it could widen itself or outlive its grant."""
    kinds = {"secrets", "serviceaccounts", "roles", "rolebindings", "clusterroles"}
    kinds |= {"clusterrolebindings"}
    for grant in _target_grants():
        for verb, group, resource, _ in grant.atoms():
            assert "*" not in (verb, group, resource)
            assert resource.split("/")[0] not in kinds
            assert group != RBAC
            assert verb not in ("bind", "escalate", "impersonate")


def test_the_agent_is_allowed_all_it_asks_of_its_own_cluster(recorded: Recorded) -> None:
    grants = _grants_of(AGENT)
    assert recorded.source
    assert recorded.minting
    assert _unallowed(grants, recorded.source) == []
    assert _unallowed(grants, recorded.minting) == []
    assert _unallowed(grants, _collecting()) == []


def test_the_agent_is_granted_nothing_it_never_asks_for(recorded: Recorded) -> None:
    asks = recorded.source + recorded.minting + _collecting()
    assert _unused(_grants_of(AGENT), asks) == []


def test_the_agents_grant_accounts_are_its_namespaces_only(recorded: Recorded) -> None:
    """ServiceAccounts and their tokens through a Role: nowhere but in cclm-system."""
    accounts = [a for a in recorded.minting if a.resource.startswith("serviceaccounts")]
    assert accounts
    for ask in accounts:
        elsewhere = Ask(ask.verb, ask.group, ask.resource, "kube-system", ask.name)
        assert not any(g.allows(elsewhere) for g in _grants_of(AGENT))
