"""How `cclm demo` stays up to explore once its tour is over: the hub keeps serving its API
and console, the example clusters keep reporting, every agent keeps running and serves its
`/metrics`, and the demo's folder gets a Prometheus configuration that scrapes the hub and
the agents and loads the shipped alert rules, beside the admin token (mode 0600)."""

import asyncio
import contextlib
import signal
import socket
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import yaml
from aiohttp import web
from spoke_agent import health
from spoke_agent.assemble import Spoke

REPORT_EVERY = 30.0
"""Seconds between the example clusters' reports, well inside the default soft staleness."""
SCRAPE_EVERY = "5s"
RULES = Path(__file__).resolve().parents[2] / "charts/hub/files/rules/cclm.rules.yaml"
"""The shipped alert rules, where a checkout (or an editable install) has them."""


def write_secret(path: Path, text: str) -> None:
    """Created owner-only from the start: a token is never readable by others."""
    path.unlink(missing_ok=True)
    path.touch(mode=0o600)
    path.write_text(text + "\n")


async def _serve_metrics(spoke: Spoke) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(health.app(spoke))
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    await web.SockSite(runner, sock).start()
    host, port = sock.getsockname()[:2]
    return runner, f"{host}:{port}"


def prometheus_config(hub: str, agents: Sequence[str]) -> dict[str, object]:
    config: dict[str, object] = {
        "global": {"scrape_interval": SCRAPE_EVERY, "evaluation_interval": SCRAPE_EVERY},
        "scrape_configs": [
            {"job_name": "cclm-hub", "static_configs": [{"targets": [hub]}]},
            {"job_name": "cclm-spoke-agent", "static_configs": [{"targets": list(agents)}]},
        ],
    }
    if RULES.exists():
        config["rule_files"] = [str(RULES)]
    return config


async def _every(seconds: float, act: Callable[[], Awaitable[None]]) -> None:
    while True:
        await asyncio.sleep(seconds)
        with contextlib.suppress(Exception):
            await act()


async def stay(
    url: str,
    home: Path,
    spokes: Sequence[Spoke],
    report: Callable[[], Awaitable[None]],
) -> None:
    """Until SIGINT or SIGTERM: serve, report, and say how to look around; the agents'
    own loops run meanwhile, started by the caller."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    served = [await _serve_metrics(spoke) for spoke in spokes]
    hub = url.removeprefix("http://")
    config = home / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(hub, [a for _, a in served])))
    tasks = [loop.create_task(_every(REPORT_EVERY, report))]
    print(
        f"\n== The demo stays up (Ctrl-C ends it)\n"
        f"  console        {url}/  (log in with the admin token)\n"
        f"  hub API        {url}/api/v1/openapi.json, {url}/metrics\n"
        f"  agents         {', '.join(f'http://{a}/metrics' for _, a in served)}\n"
        f"  admin token    {home / 'admin.token'}\n"
        f"  try            CCLM_HUB={url} cclm clusters --token-file {home / 'admin.token'}\n"
        f"  Prometheus     prometheus --config.file={config}\n"
        "  Grafana        import charts/hub/files/dashboards/cclm-fleet.json, pick that Prometheus",
        flush=True,
    )
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for runner, _ in served:
            await runner.cleanup()
