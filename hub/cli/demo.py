"""`cclm demo`: a hub on its embedded SQLite store with a fleet of example and simulated
clusters, each with an agent, a guided tour of what the product does, and then the hub and
the agents stay up with the web console to explore, until Ctrl-C.

The tour registers the clusters and sends their reports the way spoke agents do, checks a
VM against a full cluster, tries to migrate it (refused until the shortfall is
acknowledged), migrates it where it fits instead and follows the task; then a VM stopped
mid-flight switches to an offline copy, and a migration to a cluster that fills up
meanwhile stalls with the scheduler's message and raises an alert and a recommendation.
Everything runs on this machine, offline; the clusters are simulated.
"""

import argparse
import asyncio
import contextlib
import signal
import socket
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from spoke_agent.assemble import Spoke

from hub.api import app as api
from hub.assemble import assemble
from hub.cli import demo_tour
from hub.cli.client import Connection
from hub.cli.demo_fleet import Agents, feed_examples, simulated_agents
from hub.cli.demo_serve import stay, write_secret
from hub.cli.demo_worlds import Worlds
from hub.cli.usage import UsageError, port
from hub.models.api import Role
from hub.settings import HubSettings, Limits

STALL_AFTER = timedelta(seconds=3)
"""The demo's hub calls a Pending receiving pod stalled this soon (45 s by default), so
the tour's stall shows within seconds."""

SHUTDOWN_WAIT = 1.0
"""Seconds the hub gives open requests when the demo ends: its agents' long polls are
what is open then, and the agents are already stopped."""


@dataclass(frozen=True, slots=True)
class Options:
    home: Path
    tour: bool = True
    stay: bool = True
    port: int = 0
    clusters: int = 3
    """Simulated clusters besides the four examples."""
    seed: int = 7


def _listen(number: int) -> socket.socket:
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", number))
    except OSError as error:
        sock.close()
        raise UsageError(
            f"cannot listen on 127.0.0.1:{number} ({error.strerror}); pick another --port, "
            "or 0 for any free one"
        ) from None
    return sock


def _run_agents(spokes: list[Spoke], stop: asyncio.Event) -> list[asyncio.Task[None]]:
    loop = asyncio.get_running_loop()
    return [loop.create_task(run) for spoke in spokes for run in spoke.loops(stop)]


async def run(options: Options) -> int:
    home = options.home
    sock = _listen(options.port)
    settings = HubSettings(home / "hub.db", limits=Limits(stall_after=STALL_AFTER))
    assembly = assemble(settings)
    runner = web.AppRunner(assembly.app, shutdown_timeout=SHUTDOWN_WAIT, **api.SERVER_OPTIONS)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    spokes: list[Spoke] = []
    running = asyncio.current_task()
    if running is not None:  # until it stays up, a SIGTERM ends the demo as Ctrl-C does
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, running.cancel)
    try:
        token = (await assembly.hub.mint("demo", Role.ADMIN)).token
        write_secret(home / "admin.token", token)
        admin = Connection(url, token)
        print(f"cclm demo: hub and console on {url}/, store {home / 'hub.db'}")
        print(f"  admin token in {home / 'admin.token'} (readable by you only)")
        demo_tour.say("Spoke agents register and report")
        tokens, report_again = await feed_examples(url, admin)
        if options.tour:
            migration = await demo_tour.walkthrough(admin)
            demo_tour.say(
                f"The {migration.source_cluster} agent pulls the job, gets access to "
                f"{migration.target_cluster} from its agent and migrates the VM live "
                "(simulated clusters)"
            )
            await demo_tour.execute(url, admin, tokens, home, migration)
        worlds = Worlds()
        agents = Agents(url, home, worlds)
        if options.clusters:
            demo_tour.say("Spoke agents on simulated clusters report the same way")
        spokes += await simulated_agents(agents, admin, options.clusters, options.seed)
        spokes += [agents.agent(name, secret) for name, secret in tokens.items()]
        tasks = _run_agents(spokes, stop)
        if options.tour:
            await demo_tour.scenes(admin, worlds)
        if options.stay:
            await stay(url, home, spokes, report_again)
            print(f"\ncclm demo: stopped; {home} keeps its database and tokens")
    finally:
        await _stop_agents(stop, tasks)
        for spoke in spokes:
            spoke.runner.journal.close()
        await runner.cleanup()
    return 0


async def _stop_agents(stop: asyncio.Event, tasks: list[asyncio.Task[None]]) -> None:
    """Told to stop, the agents end their loops; what has not ended a moment later is
    cancelled (a long poll at the hub, a job between passes: each resumes from its journal)."""
    stop.set()
    if tasks:
        await asyncio.wait(tasks, timeout=SHUTDOWN_WAIT)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def demo(args: argparse.Namespace) -> int:
    home = args.home or Path(tempfile.mkdtemp(prefix="cclm-demo-"))
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    options = Options(home, not args.no_tour, not args.exit, args.port, args.clusters, args.seed)
    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        return asyncio.run(run(options))
    print(f"\ncclm demo: interrupted; everything it started is stopped ({home} is kept)")
    return 130


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value <= 50:
        raise argparse.ArgumentTypeError(f"{value} is not between 0 and 50")
    return value


def add_commands(commands: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    command = commands.add_parser(
        "demo",
        help="run a hub with example and simulated clusters: a guided tour, then the "
        "console to explore (Ctrl-C ends it)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    command.add_argument(
        "--home",
        type=Path,
        help="directory for the demo's database and tokens (default: a new temp dir)",
    )
    command.add_argument("--no-tour", action="store_true", help="skip the tour: set up and stay up")
    command.add_argument(
        "--exit", action="store_true", help="end after the tour instead of staying up (scripts)"
    )
    command.add_argument(
        "--clusters",
        type=_count,
        default=3,
        metavar="N",
        help="simulated clusters besides the four examples (default 3, at most 50)",
    )
    command.add_argument(
        "--seed",
        type=int,
        default=7,
        help="what the simulated clusters are made from; "
        "the same seed gives the same fleet (default 7)",
    )
    command.add_argument(
        "--port", type=port, default=0, help="the hub's port on 127.0.0.1 (default: any free one)"
    )
    command.set_defaults(run=demo)
