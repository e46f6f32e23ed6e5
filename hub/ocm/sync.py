"""`--managed-clusters`: the fleet's registrations kept as the hub cluster's ManagedClusters
are, by the replica that holds the sweep lease, every `every` seconds. Each cluster's spoke
token lives in a Secret in its namespace there (where the addon's agent reads it); a Secret
that is missing or holds a token that no longer works gets a new token. The hub owns the
tokens of these clusters: one issued by hand is replaced at the next pass. One cluster that
cannot be brought in line is logged and left for the next pass; the others go on."""

import asyncio
import logging
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field

import pydantic
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from hub.errors import HubError
from hub.models.api import ClusterRegistration, Role
from hub.models.ocm import placement_label
from hub.ocm import managed
from hub.ocm.kube import TOKEN_SECRET, ForeignSecretError, HubCluster
from hub.service import Hub

log = logging.getLogger("cclm.ocm")
RETIRED = "its ManagedCluster is gone from the hub cluster"
FAILURES = (ApiException, HTTPError, OSError, HubError, ForeignSecretError)
"""What one cluster's step may meet; anything else is a defect, logged by the caller."""


@dataclass(slots=True)
class ManagedClusters:
    cluster: HubCluster
    every: float = 30.0
    refused: set[str] = field(default_factory=set)
    """ManagedCluster names the hub cannot register, logged once each."""
    absent: tuple[str, ...] = ()
    """Clusters of ours missing on the last pass: retired if still missing on this one."""

    async def reconcile(self, hub: Hub) -> managed.Plan:
        clusters = [
            managed.managed(o) for o in await asyncio.to_thread(self.cluster.managed_clusters)
        ]
        sets = self._sets(await asyncio.to_thread(self.cluster.cluster_sets))
        registered = {n: hub.inventory.require(n).labels for n in hub.inventory.names()}
        placements = await self._placements(hub)
        plan = managed.plan(clusters, registered, sets, placements, self.absent)
        self.absent = plan.absent
        if not clusters and registered:
            log.warning("the hub cluster lists no ManagedCluster; retiring none this pass")
        for name in plan.adopt:
            log.warning(
                "%s was registered by hand; its ManagedCluster now names it, so the hub takes it "
                "over: its labels become the ManagedCluster's, and its agent's token is replaced "
                "by the one in %s/%s",
                name,
                name,
                TOKEN_SECRET,
            )
        for name, labels in plan.register:
            await self._step(name, self._register(hub, name, labels))
        for name, labels in plan.relabel:
            await self._step(name, self._relabel(hub, name, labels))
        for name in plan.retire:
            await self._step(name, hub.retire(name, RETIRED))
        for name in plan.keep:
            if hub.inventory.get(name) is not None:
                await self._step(name, self._keep_token(hub, name))
        return plan

    async def _step(self, name: str, step: Awaitable[object]) -> None:
        try:
            await step
        except FAILURES as error:
            log.warning("%s: left for the next pass: %s", name, error)

    def _sets(self, listed: list[dict[str, object]]) -> list[managed.ClusterSet]:
        found = []
        for obj in listed:
            try:
                found.append(managed.cluster_set(obj))
            except pydantic.ValidationError as error:
                log.warning("a ManagedClusterSet's selector is not one the hub can read: %s", error)
        return found

    async def _placements(self, hub: Hub) -> dict[str, frozenset[str]]:
        wanted = hub.policy.eligible_targets.placement
        if wanted is None:
            return {}
        listed = await asyncio.to_thread(
            self.cluster.placement_decisions, wanted.namespace, wanted.name
        )
        return {
            placement_label(wanted.namespace, wanted.name): managed.decided(listed, wanted.name)
        }

    def _registration(self, name: str, labels: Mapping[str, str]) -> ClusterRegistration | None:
        try:
            return ClusterRegistration(name=name, labels=dict(labels))
        except pydantic.ValidationError as error:
            if name not in self.refused:
                self.refused.add(name)
                log.warning("ManagedCluster %r cannot be registered: %s", name, error)
            return None

    async def _register(self, hub: Hub, name: str, labels: Mapping[str, str]) -> None:
        registration = self._registration(name, labels)
        if registration is None:
            return
        registered = await hub.register(registration)
        await asyncio.to_thread(self.cluster.put_token, name, registered.token)
        log.info("%s: registered from its ManagedCluster; token in %s/%s", name, name, TOKEN_SECRET)

    async def _relabel(self, hub: Hub, name: str, labels: Mapping[str, str]) -> None:
        registration = self._registration(name, labels)
        if registration is not None:
            await hub.relabel(name, registration.labels)
            log.info("%s: labels now those of its ManagedCluster", name)

    async def _keep_token(self, hub: Hub, name: str) -> None:
        token = await asyncio.to_thread(self.cluster.token, name)
        holder = None if token is None else hub.authenticate(token.strip())
        if holder is not None and holder.role == Role.SPOKE and holder.cluster == name:
            return
        rotated = await hub.rotate(name)
        await asyncio.to_thread(self.cluster.put_token, name, rotated.token)
        why = "missing" if token is None else "replaced"
        log.info("%s: a new spoke token written to its Secret (%s)", name, why)
