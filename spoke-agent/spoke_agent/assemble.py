"""The spoke agent's composition root: the one place an agent is put together from its
settings and the parts of the cluster it runs in (the real API, or a simulation), used by
`cclm spoke run`, the demo and the tests alike."""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from spoke_agent.access.sealing import KeyPair
from spoke_agent.access.source_grants import Build, GrantedConnector
from spoke_agent.access.target_grants import AccessPoint, Granter, Minter
from spoke_agent.agent import Agent
from spoke_agent.client import HubClient
from spoke_agent.drivers import ClusterDriver
from spoke_agent.executor.jobs import Connector, JobRunner, Pause, StaticConnector
from spoke_agent.executor.journal import Journal
from spoke_agent.executor.model import Job
from spoke_agent.metrics import Metrics
from spoke_agent.report.sequence import Sequence
from spoke_agent.report.snapshot import Source
from spoke_agent.settings import SpokeSettings

log = logging.getLogger("cclm.spoke")
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ClusterParts:
    """What differs between a real cluster and a simulated one; the rest is the same agent."""

    build: Build
    """The drivers of a job, given the access its target's agent granted."""
    source: Source | None = None
    """What the report is read from; None: this agent sends no reports."""
    minter: Minter | None = None
    """Mints access for migrations coming to this cluster; None: it grants none."""
    access_point: AccessPoint | None = None
    """How other clusters reach this cluster's API, sealed into each grant."""
    static: StaticConnector | None = None
    """Drivers from operator-given credentials, for the targets in `static_targets`."""


@dataclass(frozen=True, slots=True)
class _Either:
    """An operator-given kubeconfig for a target wins over a grant from its agent: for a
    target whose agent cannot mint tokens, or runs an older version."""

    given: frozenset[str]
    static: StaticConnector
    granted: GrantedConnector

    def _pick(self, job: Job) -> Connector:
        return self.static if job.target in self.given else self.granted

    async def connect(self, job: Job) -> tuple[ClusterDriver, ClusterDriver]:
        return await self._pick(job).connect(job)

    async def release(self, job: Job) -> None:
        await self._pick(job).release(job)


@dataclass(frozen=True, slots=True)
class Spoke:
    """One agent, assembled: its report loop, job runner, granter and hub connection."""

    settings: SpokeSettings
    hub: HubClient
    keys: KeyPair
    runner: JobRunner
    agent: Agent | None
    granter: Granter | None
    metrics: Metrics

    async def register_key(self, stop: asyncio.Event) -> None:
        """Until the hub has this agent's key, no grant can be sealed to it: keep trying."""
        while not stop.is_set():
            try:
                await self.hub.register_key(self.settings.cluster, self.keys.public)
            except Exception as error:
                log.warning("registering the sealing key failed: %s", error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 60)
                continue
            log.info("sealing key registered with the hub")
            return

    def reporter(self) -> Agent:
        if self.agent is None:
            raise RuntimeError(f"the agent of {self.settings.cluster} was given no report source")
        return self.agent

    def grants(self) -> Granter:
        if self.granter is None:
            raise RuntimeError(f"the agent of {self.settings.cluster} was given no minter")
        return self.granter

    def loops(self, stop: asyncio.Event) -> list[Coroutine[Any, Any, None]]:
        loops = [self.runner.run(stop), self.register_key(stop)]
        if self.agent is not None:
            loops.append(self.agent.run(stop))
        if self.granter is not None:
            loops.append(self.granter.run(stop))
        return loops


def assemble(
    settings: SpokeSettings,
    parts: ClusterParts,
    clock: Clock = utc_now,
    pause: Pause = asyncio.sleep,
) -> Spoke:
    """`pause` is how a job waits between passes (the demo shows progress there)."""
    state = settings.state_dir
    state.mkdir(parents=True, exist_ok=True)
    link = settings.hub
    hub = HubClient(link.url, link.token_file, link.ca_file, first_delay=link.first_delay)
    keys = KeyPair.load_or_create(state / "sealing.key")
    granted = GrantedConnector(settings.cluster, hub, keys, parts.build, clock)
    given = frozenset(settings.access.target_kubeconfigs)
    connector: Connector = granted
    if parts.static is not None and given:
        connector = _Either(given, parts.static, granted)
    journal = Journal(state / "journal.db")
    metrics = Metrics()
    metrics.info.labels(settings.cluster).set(1)
    runner = JobRunner(
        settings.cluster, hub, journal, connector, settings.jobs, pause, metrics=metrics
    )
    metrics.follow(lambda: len(runner.running), journal.size)
    agent = None
    if parts.source is not None:
        sequence = Sequence(state / "sequence")
        agent = Agent(
            parts.source,
            settings.cluster,
            hub,
            sequence,
            clock,
            settings.collector,
            debounce=settings.debounce,
            heartbeat=settings.heartbeat,
            metrics=metrics,
        )
    granter = None
    if parts.minter is not None and parts.access_point is not None:
        granter = Granter(
            settings.cluster,
            hub,
            parts.minter,
            parts.access_point,
            poll_wait=settings.access.grant_poll_wait,
        )
    return Spoke(settings, hub, keys, runner, agent, granter, metrics)
