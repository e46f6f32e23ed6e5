"""`--managed-clusters`: the fleet's registrations kept as the hub cluster's ManagedClusters
are, by the replica that holds the sweep lease, every `every` seconds. Each cluster's spoke
token lives in a Secret in its namespace there (where the addon's agent reads it); a Secret
that is missing or holds a token that no longer works gets a new token. The hub owns the
tokens of these clusters: one issued by hand is replaced at the next pass."""

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import pydantic

from hub.models.api import ClusterRegistration, Role
from hub.models.ocm import placement_label
from hub.ocm import managed
from hub.ocm.kube import TOKEN_SECRET, HubCluster
from hub.service import Hub

log = logging.getLogger("cclm.ocm")
RETIRED = "its ManagedCluster is gone from the hub cluster"


@dataclass(slots=True)
class ManagedClusters:
    cluster: HubCluster
    every: float = 30.0
    refused: set[str] = field(default_factory=set)
    """ManagedCluster names the hub cannot register, logged once each."""

    async def reconcile(self, hub: Hub) -> managed.Plan:
        clusters = [
            managed.managed(o) for o in await asyncio.to_thread(self.cluster.managed_clusters)
        ]
        sets = [managed.cluster_set(o) for o in await asyncio.to_thread(self.cluster.cluster_sets)]
        registered = {n: hub.inventory.require(n).labels for n in hub.inventory.names()}
        plan = managed.plan(clusters, registered, sets, await self._placements(hub))
        for name, labels in plan.register:
            await self._register(hub, name, labels)
        for name, labels in plan.relabel:
            await hub.relabel(name, labels)
            log.info("%s: labels now those of its ManagedCluster", name)
        for name in plan.retire:
            await hub.retire(name, RETIRED)
        for name in plan.keep:
            if hub.inventory.get(name) is not None:
                await self._keep_token(hub, name)
        return plan

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

    async def _register(self, hub: Hub, name: str, labels: Mapping[str, str]) -> None:
        try:
            registration = ClusterRegistration(name=name, labels=dict(labels))
        except pydantic.ValidationError as error:
            if name not in self.refused:
                self.refused.add(name)
                log.warning("ManagedCluster %r cannot be registered: %s", name, error)
            return
        registered = await hub.register(registration)
        await asyncio.to_thread(self.cluster.put_token, name, registered.token)
        log.info("%s: registered from its ManagedCluster; token in %s/%s", name, name, TOKEN_SECRET)

    async def _keep_token(self, hub: Hub, name: str) -> None:
        token = await asyncio.to_thread(self.cluster.token, name)
        holder = None if token is None else hub.authenticate(token.strip())
        if holder is not None and holder.role == Role.SPOKE and holder.cluster == name:
            return
        rotated = await hub.rotate(name)
        await asyncio.to_thread(self.cluster.put_token, name, rotated.token)
        log.info(
            "%s: a new spoke token written to its Secret (%s)",
            name,
            "missing" if token is None else "replaced",
        )
