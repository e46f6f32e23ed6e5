"""A hub started with `--managed-clusters` and `--kube-auth` on an emulated hub cluster, on
each store; the tests drive the ManagedClusters pass themselves (no timers)."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import kmock
import pytest

from hub.ocm.sync import ManagedClusters
from tests.support import databases, hub_cluster
from tests.support.clock import FakeClock
from tests.support.hub_env import LENIENT, Env


@dataclass
class Ocm:
    env: Env
    cluster: kmock.KubernetesEmulator

    @property
    def follower(self) -> ManagedClusters:
        assert self.env.managed_clusters is not None
        return self.env.managed_clusters

    async def follow(self) -> None:
        await self.follower.reconcile(self.env.hub)


@pytest.fixture(params=databases.STORES)
async def ocm(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Ocm]:
    async with hub_cluster.HubClusterApi() as emulator, kmock.Server(emulator) as server:
        hub_cluster.declare(emulator)
        with databases.database(request.param, tmp_path) as location:
            env = Env(location, FakeClock(), LENIENT)
            env.hub_cluster = hub_cluster.kubeconfig(tmp_path / "hub.kubeconfig", server)
            await env.start()
            yield Ocm(env, emulator)
            await env.stop()
