"""`cclm hub serve`: run the hub on the embedded SQLite store."""

import argparse
import asyncio
import gc
import ipaddress
import logging
import os
import signal
import ssl
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

from aiohttp import web

from hub import policy_files
from hub.api import app as api
from hub.api import connections
from hub.api.access_log import AccessLogger
from hub.assemble import assemble
from hub.cli import process
from hub.cli.usage import UsageError, duration, port
from hub.service import Hub
from hub.settings import HubSettings, Limits, SettingsError
from hub.store.location import redacted

DEFAULT_PORT = 8480


def home() -> Path:
    """Where the embedded hub keeps its database and bootstrap token."""
    if os.environ.get("CCLM_HOME"):
        return Path(os.environ["CCLM_HOME"])
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "cclm"


def admin_token_path() -> Path:
    return home() / "admin.token"


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _tls(args: argparse.Namespace) -> ssl.SSLContext | None:
    if bool(args.tls_cert) != bool(args.tls_key):
        raise UsageError("--tls-cert and --tls-key go together")
    if not args.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(args.tls_cert, args.tls_key)
    except (OSError, ssl.SSLError) as error:
        raise UsageError(f"cannot load the TLS certificate or key: {error}") from error
    return context


FLAGS = {
    "claim_ttl": "--claim-ttl",
    "intake_workers": "--intake-workers",
    "database": "--db",
    "alertmanagers": "--alertmanager-url",
    "public_url": "--public-url",
    "kubeconfig": "--kubeconfig",
}


def _assembled(args: argparse.Namespace) -> tuple[Hub, web.Application]:
    policy = policy_files.load(args.policy) if args.policy else None
    try:
        limits = Limits(claim_ttl=args.claim_ttl, intake_workers=args.intake_workers)
        settings = HubSettings(
            args.db,
            policy,
            limits,
            alertmanagers=tuple(args.alertmanager_url),
            public_url=args.public_url,
            managed_clusters=args.managed_clusters,
            kube_auth=args.kube_auth,
            kubeconfig=args.kubeconfig,
        )
        assembly = assemble(settings)
    except SettingsError as error:
        raise UsageError(f"{FLAGS.get(error.setting, error.setting)} {error.message}") from error
    return assembly.hub, assembly.app


def serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("aiohttp.server").addFilter(process.MalformedRequests())
    context = _tls(args)
    if context is None and not _loopback(args.host):
        print(
            "\n" + "!" * 78 + f"\nWARNING: serving on {args.host} WITHOUT TLS. Bearer tokens and "
            "capacity data\nwill cross the network in clear text. Use --tls-cert and --tls-key.\n"
            + "!" * 78
            + "\n",
            file=sys.stderr,
        )
    if args.max_connections_per_client < 1:
        raise UsageError("--max-connections-per-client must be 1 or more")
    if not 0 < args.idle_timeout <= 3600:
        raise UsageError("--idle-timeout must be more than 0 and at most 3600 seconds")
    hub, app = _assembled(args)
    token_file: Path = args.admin_token_file

    before, after = process.raise_open_files()
    if after > before:
        print(f"cclm hub: open files limit raised from {before} to {after}", flush=True)

    async def bootstrap(_app: web.Application) -> AsyncIterator[None]:
        asyncio.get_running_loop().set_exception_handler(process.Quieted())
        saved = await hub.bootstrap_admin(token_file)
        if saved is not None:
            print(f"cclm hub: first start; admin token saved to {saved} (mode 0600)", flush=True)
        # The fleet loaded at start is long-lived; keeping it out of the collector's full
        # passes keeps those passes from stalling requests for tens of milliseconds.
        gc.freeze()
        yield

    app.cleanup_ctx.append(bootstrap)
    admission = connections.Admission(args.max_connections_per_client, connections.total_for(after))
    asyncio.run(_run(app, args, context, admission))
    return 0


async def _run(
    app: web.Application,
    args: argparse.Namespace,
    context: ssl.SSLContext | None,
    admission: connections.Admission,
) -> None:
    """The server until SIGINT or SIGTERM, its connections counted per client and in all."""
    runner = web.AppRunner(
        app,
        access_log=logging.getLogger("aiohttp.access") if args.access_log else None,
        access_log_class=AccessLogger,
        keepalive_timeout=args.idle_timeout,
        **api.SERVER_OPTIONS,
    )
    await runner.setup()
    try:
        if runner.server is not None:
            connections.install(runner.server, admission)
        try:
            await web.TCPSite(runner, args.host, args.port, ssl_context=context).start()
        except OSError as error:
            raise UsageError(
                f"cannot listen on {args.host}:{args.port}: {error.strerror or error}; "
                "another process may hold it: pick another --port (or --host)"
            ) from None
        scheme = "https" if context else "http"
        store, url = redacted(args.db), f"{scheme}://{args.host}:{args.port}"
        print(f"cclm hub: store {store}; serving {url}", flush=True)
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    hub = commands.add_parser("hub", help="run the hub service", description="The hub service.")
    actions = hub.add_subparsers(dest="action", required=True, metavar="ACTION")
    run = actions.add_parser(
        "serve",
        help="serve the API on the embedded SQLite store",
        description="Serve the hub API. On first start an admin token is created and saved "
        "(mode 0600); its path is printed.",
    )
    run.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    run.add_argument("--port", type=port, default=DEFAULT_PORT, help=f"default {DEFAULT_PORT}")
    run.add_argument(
        "--db",
        default=os.environ.get("CCLM_DB") or str(home() / "hub.db"),
        help="a SQLite file, or a postgresql:// URL for several replicas on one database "
        "(env CCLM_DB; default $CCLM_HOME/hub.db)",
    )
    run.add_argument("--policy", type=Path, help="policy YAML; stored and used from then on")
    run.add_argument("--tls-cert", help="PEM certificate chain")
    run.add_argument("--tls-key", help="PEM private key")
    run.add_argument(
        "--claim-ttl",
        type=duration,
        default=timedelta(minutes=15),
        help="how long a reservation lives without progress: seconds or a duration such as "
        "15m (default 15m)",
    )
    run.add_argument(
        "--admin-token-file",
        type=Path,
        default=admin_token_path(),
        help="where the first-start admin token is written (default $CCLM_HOME/admin.token)",
    )
    run.add_argument(
        "--intake-workers",
        type=int,
        default=min(4, os.cpu_count() or 1),
        help="processes that validate reports (0: in the hub's process); default: one per "
        "core, up to 4 (the hub's own process mostly waits on the network and the store)",
    )
    run.add_argument(
        "--max-connections-per-client",
        type=int,
        default=256,
        help="connections one address may hold at once; more are closed at once (default 256)",
    )
    run.add_argument(
        "--idle-timeout",
        type=float,
        default=15.0,
        help="seconds a connection may wait without a whole request, whether it never sent "
        "one, sends its headers slowly or sits idle between requests, before it is closed "
        "(default 15; a long poll in progress is not idle)",
    )
    run.add_argument(
        "--access-log", action="store_true", help="log every request (costs ~0.2 ms each)"
    )
    run.add_argument(
        "--alertmanager-url",
        action="append",
        default=[],
        metavar="URL",
        help="push the alerts to this Alertmanager (POST URL/api/v2/alerts), whenever they "
        "change and every 30 s; repeat for several",
    )
    run.add_argument(
        "--public-url",
        metavar="URL",
        help="the hub's URL as alert receivers reach it, for links back to each alert",
    )
    run.add_argument(
        "--managed-clusters",
        action="store_true",
        help="keep the fleet as the hub cluster's Open Cluster Management ManagedClusters "
        "are: register each, mirror its labels, cluster sets and availability, write its "
        "spoke token to Secret cclm-spoke-token in its namespace, retire the removed",
    )
    run.add_argument(
        "--kube-auth",
        action="store_true",
        help="accept the hub cluster's own tokens too (a console proxy forwarding its "
        "user's): checked with a TokenReview, their role with SubjectAccessReviews",
    )
    run.add_argument(
        "--kubeconfig",
        type=Path,
        help="how the hub reaches its own cluster for --managed-clusters and --kube-auth "
        "(default: the pod's service account)",
    )
    run.set_defaults(run=serve)
