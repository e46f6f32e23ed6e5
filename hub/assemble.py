"""The hub's composition root: the one place a hub process is put together, whichever edge
starts it (`cclm hub serve`, the demo, the tests). It chooses the store adapter, loads the
packaged policy when none was given, and builds the HTTP application around the hub.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from aiohttp import web
from kubernetes import client, config

from hub import policy_files
from hub.access.kube_review import KubeReviewer
from hub.api import app as api
from hub.feeds.webhook import Alertmanagers
from hub.ocm.kube import HubCluster
from hub.ocm.sync import ManagedClusters
from hub.service import Hub
from hub.settings import HubSettings, SettingsError
from hub.store import Store, location, postgres
from hub.store.sqlite import SqliteStore

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Assembly:
    hub: Hub
    app: web.Application
    managed_clusters: ManagedClusters | None = None
    """What follows the ManagedClusters, for an edge that drives it itself (the tests)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def open_store(settings: HubSettings) -> Store:
    """PostgreSQL for a `postgresql://` URL, else the embedded SQLite file."""
    if isinstance(settings.database, str) and location.is_postgres(settings.database):
        return postgres.PostgresStore(settings.database)
    return SqliteStore(Path(settings.database))


def assemble(settings: HubSettings, clock: Clock = utc_now, store: Store | None = None) -> Assembly:
    """The hub and its application; `store` replaces the configured one (tests wrap it)."""
    policy = settings.policy or policy_files.load()
    hub = Hub(
        store or open_store(settings),
        clock,
        policy,
        settings.limits,
        policy_given=settings.policy is not None,
    )
    pushing = None
    if settings.alertmanagers:
        pushing = Alertmanagers(settings.alertmanagers, hub_url=settings.public_url)
    ocm = reviewer = None
    if settings.managed_clusters or settings.kube_auth:
        cluster_api = hub_cluster(settings.kubeconfig)
        ocm = ManagedClusters(HubCluster(cluster_api)) if settings.managed_clusters else None
        reviewer = KubeReviewer(cluster_api) if settings.kube_auth else None
    return Assembly(hub, api.build(hub, settings.maintain_every, pushing, ocm, reviewer), ocm)


def hub_cluster(kubeconfig: Path | None) -> client.ApiClient:
    """The hub cluster's API: from the kubeconfig given, else the pod's own credentials."""
    try:
        if kubeconfig is not None:
            return config.new_client_from_config(str(kubeconfig))
        configuration = client.Configuration()
        config.load_incluster_config(client_configuration=configuration)
        return client.ApiClient(configuration)
    except (config.ConfigException, OSError, ValueError, yaml.YAMLError) as error:
        where = str(kubeconfig) if kubeconfig else "the pod's service account (in-cluster)"
        raise SettingsError("kubeconfig", f"{where} cannot be used: {error}") from error
