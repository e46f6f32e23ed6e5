"""`cclm spoke run`: the agent in a cluster (in-cluster config) or beside it (kubeconfig)."""

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import threading
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from aiohttp import web
from kubernetes import client, config

from hub.models.wire import quantity
from spoke_agent import health
from spoke_agent.access import hub_token, source_connection
from spoke_agent.access.target_grants import AccessPoint
from spoke_agent.access.target_tokens import KubernetesMinter
from spoke_agent.assemble import ClusterParts, Spoke, assemble
from spoke_agent.drivers import ClusterDriver
from spoke_agent.drivers.kubernetes import DriverSettings, KubernetesDriver
from spoke_agent.executor import jobs
from spoke_agent.executor.model import Job, Side
from spoke_agent.report.collector import Config
from spoke_agent.report.kube_source import KubernetesSource
from spoke_agent.settings import AccessSettings, HubConnection, SettingsError, SpokeSettings

log = logging.getLogger("cclm.spoke")


class SpokeUsageError(ValueError):
    """A bad option; printed as one line, exit status 2."""


def _pools(values: list[str]) -> dict[str, tuple[int, int]]:
    pools = {}
    for value in values:
        name, _, sizes = value.partition("=")
        capacity, _, available = sizes.partition(":")
        try:
            pools[name] = (quantity.units(capacity), quantity.units(available or capacity))
        except ValueError as error:
            raise SpokeUsageError(
                f"--storage-pool {value!r}: expected CLASS=CAPACITY[:AVAILABLE], e.g. nfs=10Ti:4Ti"
            ) from error
        if not name:
            raise SpokeUsageError(f"--storage-pool {value!r}: the class name is missing")
    return pools


def _overheads(values: list[str]) -> dict[str, Decimal]:
    found = {}
    for value in values:
        name, _, ratio = value.partition("=")
        try:
            found[name] = Decimal(ratio)
        except InvalidOperation as error:
            raise SpokeUsageError(
                f"--filesystem-overhead {value!r}: expected CLASS=RATIO, e.g. nfs=0.055"
            ) from error
    return found


def _pairs(values: list[str], option: str) -> dict[str, str]:
    found = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not (name and sep and rest):
            raise SpokeUsageError(f"{option} {value!r}: expected CLUSTER=VALUE")
        found[name] = rest
    return found


FLAGS = {
    "cluster": "--cluster",
    "hub.url": "--hub",
    "hub.token_file": "--token-file",
    "access.api_ca_file": "--api-ca-file",
    "heartbeat": "--heartbeat",
    "debounce": "--debounce",
    "health_port": "--health-port",
}


def settings_of(args: argparse.Namespace) -> SpokeSettings:
    """The flags as settings; a bad one is a `SpokeUsageError` that names the flag."""
    try:
        return SpokeSettings(
            cluster=args.cluster,
            hub=HubConnection(args.hub, args.token_file, args.ca_file),
            state_dir=args.state_dir,
            heartbeat=args.heartbeat,
            debounce=args.debounce,
            health_host=args.health_host,
            health_port=args.health_port,
            collector=Config(
                storage_pools=_pools(args.storage_pool),
                filesystem_overhead=_overheads(args.filesystem_overhead),
            ),
            access=AccessSettings(
                api_url=args.api_url,
                api_ca_file=args.api_ca_file,
                grant_namespace=args.grant_namespace,
                target_kubeconfigs=_pairs(args.target_kubeconfig, "--target-kubeconfig"),
                sync_addresses=_pairs(args.sync_address, "--sync-address"),
            ),
            driver=DriverSettings(rsync_image=args.rsync_image),
        )
    except SettingsError as error:
        flag = FLAGS.get(error.setting, error.setting)
        raise SpokeUsageError(f"{flag} {error.message}") from error


def _point(api: client.ApiClient, settings: SpokeSettings) -> AccessPoint | None:
    """This cluster grants access as a migration target only when the operator said how
    other clusters reach its API. They verify it with --api-ca-file, or else with the CA
    bundle this agent itself trusts for it (in-cluster or from its kubeconfig)."""
    access = settings.access
    if not access.api_url:
        log.warning(
            "no --api-url: this cluster grants no access to its API, so migrations to it "
            "need --target-kubeconfig on their source agents"
        )
        return None
    ca_file = access.api_ca_file or api.configuration.ssl_ca_cert
    ca_pem = Path(ca_file).read_text() if ca_file else ""
    return AccessPoint(access.api_url, ca_pem)


def kubernetes_parts(
    api: client.ApiClient, settings: SpokeSettings, source: KubernetesSource
) -> ClusterParts:
    """The real cluster: its API for the report and the drivers, and its token API for the
    access this agent grants."""
    access, driver = settings.access, settings.driver

    def drivers(job: Job, target_api: client.ApiClient) -> tuple[ClusterDriver, ClusterDriver]:
        sending = dataclasses.replace(driver, connect_url=access.sync_addresses.get(job.target, ""))
        return (
            KubernetesDriver(api, Side.SOURCE, sending),
            KubernetesDriver(target_api, Side.TARGET, driver, source=api),
        )

    ca_dir = settings.state_dir / "target-ca"
    given = access.target_kubeconfigs
    static = jobs.StaticConnector(
        lambda job: drivers(job, config.new_client_from_config(config_file=given[job.target]))
    )
    point = _point(api, settings)
    return ClusterParts(
        build=lambda job, creds: drivers(job, source_connection.api_client(creds, ca_dir, job.id)),
        source=source,
        minter=KubernetesMinter(api, access.grant_namespace) if point else None,
        access_point=point,
        static=static if given else None,
    )


def _api(kubeconfig: Path | None) -> client.ApiClient:
    if kubeconfig is None:
        config.load_incluster_config()
    else:
        config.load_kube_config(config_file=str(kubeconfig))
    return client.ApiClient()


async def _serve(spoke: Spoke, source: KubernetesSource) -> None:
    settings, agent = spoke.settings, spoke.reporter()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = web.AppRunner(health.app(spoke))
    await runner.setup()
    await web.TCPSite(runner, settings.health_host, settings.health_port).start()
    halt = threading.Event()
    watchers = [
        threading.Thread(
            target=source.watch, args=(kind, agent.notify, halt), name=f"watch-{kind}", daemon=True
        )
        for kind in source.kinds
    ]
    for watcher in watchers:
        watcher.start()
    try:
        await asyncio.gather(*spoke.loops(stop))
    finally:
        halt.set()
        spoke.runner.journal.close()
        with contextlib.suppress(Exception):
            await runner.cleanup()


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # Its retries are the client's own, one line each; the watch says what failed, once.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)
    try:
        settings = settings_of(args)
    except SpokeUsageError as error:
        print(f"cclm spoke: {error}")
        return 2
    try:
        api = _api(args.kubeconfig)
    except (config.ConfigException, OSError, ValueError, yaml.YAMLError) as error:
        where = (
            f"--kubeconfig {args.kubeconfig}" if args.kubeconfig else "the in-cluster configuration"
        )
        hint = "" if args.kubeconfig else " (outside a pod, give --kubeconfig PATH)"
        print(f"cclm spoke: {where} cannot be used: {error}{hint}")
        return 2
    source = KubernetesSource(api)
    asyncio.run(_serve(assemble(settings, kubernetes_parts(api, settings, source)), source))
    return 0


def fetch_token(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.every is not None and args.every <= 0:
        print("cclm spoke: --every must be more than 0 seconds")
        return 2
    try:
        api = client.ApiClient(_configuration(args.kubeconfig))
    except (config.ConfigException, OSError, ValueError, yaml.YAMLError) as error:
        print(f"cclm spoke: --kubeconfig {args.kubeconfig} cannot be used: {error}")
        return 2
    try:
        written = hub_token.write(
            args.out, hub_token.fetch(api, args.namespace, args.secret, args.key)
        )
    except hub_token.TokenUnavailableError as error:
        if args.every is None:
            print(f"cclm spoke: {error}")
            return 1
        log.warning("%s; retrying", error)
    else:
        print(f"cclm spoke: token {'written to' if written else 'unchanged in'} {args.out}")
    if args.every is not None:
        with contextlib.suppress(KeyboardInterrupt):
            hub_token.follow(api, args.namespace, args.secret, args.key, args.out, args.every)
    return 0


def _configuration(kubeconfig: Path) -> client.Configuration:
    configuration = client.Configuration()
    config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    return configuration


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    spoke = commands.add_parser("spoke", help="the agent that reports a cluster to the hub")
    actions = spoke.add_subparsers(dest="action", required=True, metavar="ACTION")
    agent = actions.add_parser(
        "run",
        help="collect this cluster's capacity and report it to the hub",
        description="Watch the cluster and report its capacity to the hub on every change "
        "(debounced) and at least every --heartbeat seconds.",
    )
    agent.add_argument("--kubeconfig", type=Path, help="default: the in-cluster configuration")
    agent.add_argument("--hub", required=True, help="hub URL, e.g. https://hub.example:8480")
    agent.add_argument("--cluster", required=True, help="this cluster's registered name")
    agent.add_argument("--token-file", type=Path, required=True, help="the cluster's token")
    agent.add_argument("--ca-file", help="CA bundle to verify the hub's certificate")
    agent.add_argument("--state-dir", type=Path, default=Path("/var/lib/cclm-spoke"))
    agent.add_argument("--heartbeat", type=float, default=30.0, help="seconds (default 30)")
    agent.add_argument("--debounce", type=float, default=1.0, help="seconds (default 1)")
    agent.add_argument("--health-host", default="0.0.0.0", help="/healthz and /metrics address")
    agent.add_argument("--health-port", type=int, default=8481)
    agent.add_argument(
        "--storage-pool",
        action="append",
        default=[],
        metavar="CLASS=CAPACITY[:AVAILABLE]",
        help="pool size of a class whose driver publishes no CSIStorageCapacity",
    )
    agent.add_argument("--filesystem-overhead", action="append", default=[], metavar="CLASS=RATIO")
    agent.add_argument(
        "--target-kubeconfig",
        action="append",
        default=[],
        metavar="CLUSTER=PATH",
        help="reach a target's API with these credentials instead of a grant from its agent",
    )
    agent.add_argument(
        "--api-url",
        help="how other clusters' agents reach this cluster's API server; without it this "
        "agent grants no access to migrations coming here",
    )
    agent.add_argument(
        "--api-ca-file", type=Path, help="CA bundle of this cluster's API server, for --api-url"
    )
    agent.add_argument(
        "--grant-namespace",
        default="cclm-system",
        help="where this agent creates the service accounts of the access it grants",
    )
    agent.add_argument(
        "--sync-address",
        action="append",
        default=[],
        metavar="CLUSTER=URL",
        help="a target KubeVirt's synchronization address (status.synchronizationAddresses)",
    )
    agent.add_argument("--rsync-image", default=DriverSettings().rsync_image)
    agent.set_defaults(run=run)
    fetch = actions.add_parser(
        "fetch-token",
        help="copy this cluster's hub token from its Secret on the OCM hub cluster",
        description="Read the token the hub keeps in Secret cclm-spoke-token in this "
        "cluster's namespace on the Open Cluster Management hub cluster, and write it to "
        "--out (mode 0600) for `cclm spoke run --token-file`; with --every, keep it current.",
    )
    fetch.add_argument(
        "--kubeconfig", type=Path, required=True, help="credentials for the hub cluster"
    )
    fetch.add_argument(
        "--namespace", required=True, help="this cluster's namespace on the hub cluster"
    )
    fetch.add_argument("--secret", default="cclm-spoke-token", help="default cclm-spoke-token")
    fetch.add_argument("--key", default="token", help="the Secret's key (default token)")
    fetch.add_argument("--out", type=Path, required=True, help="where the token is written")
    fetch.add_argument(
        "--every", type=float, help="seconds between reads; without it, read once and exit"
    )
    fetch.set_defaults(run=fetch_token)
