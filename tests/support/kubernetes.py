"""Two emulated Kubernetes API servers over real HTTP (kmock), a source and a target with
KubeVirt's and CDI's kinds declared, and the official client pointed at each: what the
driver and RBAC tests run the real code against."""

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import kmock
from kubernetes import client

from tests.support import kubevirt_fake as fake


def api_client(server: kmock.Server) -> client.ApiClient:
    return client.ApiClient(client.Configuration(host=str(server.url).rstrip("/")))


@dataclass(frozen=True)
class TwoClusters:
    source: kmock.KubernetesEmulator
    target: kmock.KubernetesEmulator
    source_api: client.ApiClient
    target_api: client.ApiClient


@contextlib.asynccontextmanager
async def two_clusters(
    emulator: type[kmock.KubernetesEmulator] = kmock.KubernetesEmulator,
) -> AsyncIterator[TwoClusters]:
    """`emulator` may be a subclass (`tests.support.api_server.ApiServer` adds optimistic
    concurrency)."""
    async with (
        emulator() as source,
        kmock.Server(source) as source_server,
        emulator() as target,
        kmock.Server(target) as target_server,
    ):
        fake.declare(source)
        fake.declare(target)
        yield TwoClusters(source, target, api_client(source_server), api_client(target_server))
