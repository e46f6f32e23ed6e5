"""The agent's job loop: pull the migrations this cluster is the source of, run one executor
per job, report its progress, and pass a cancel from the hub on to it.

A job is delivered at least once (the hub lists it until it ends) and executed once: its id
keys the journal, so a job pulled again, or found unfinished in the journal after a
restart, carries on from where its executor stopped. The journal also keeps the job itself,
so a restart finishes cleaning up a job the hub has meanwhile stopped listing (cancelled).
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from hub.models.wire import (
    MAX_MESSAGE,
    JobList,
    Migration,
    Progress,
    ProgressReceipt,
    ProgressState,
    VmPhase,
)
from spoke_agent.client import RefusedError
from spoke_agent.drivers import ClusterDriver
from spoke_agent.executor.journal import Journal
from spoke_agent.executor.model import Job
from spoke_agent.executor.progress import summarize
from spoke_agent.executor.reconcile import Executor
from spoke_agent.metrics import Metrics

log = logging.getLogger("cclm.spoke.jobs")

Drivers = Callable[[Job], tuple[ClusterDriver, ClusterDriver]]
"""The source and target drivers of a job: this cluster, and the target through the job's
connection."""
Pause = Callable[[float], Awaitable[None]]


class Unanswered(Enum):
    """Why a progress report got no receipt."""

    UNREACHABLE = "the hub could not be told; the next pass tries again"
    GONE = "the hub does not know the job, which is then stopped like a cancelled one"


class NoConnectionError(Exception):
    """This agent has no way to reach the job's target cluster: the job fails."""


class AccessPendingError(Exception):
    """The job's target access is not granted yet: the job waits, and says why."""


class Connector(Protocol):
    async def connect(self, job: Job) -> tuple[ClusterDriver, ClusterDriver]:
        """The job's drivers; NoConnectionError or AccessPendingError."""
        ...

    async def release(self, job: Job) -> None:
        """The job has ended here: its access to the target may be revoked."""
        ...


@dataclass(frozen=True, slots=True)
class StaticConnector:
    """Drivers made at once, from what this agent was given (a simulation, or credentials
    the operator gave it); there is no access to release."""

    drivers: Drivers

    async def connect(self, job: Job) -> tuple[ClusterDriver, ClusterDriver]:
        return self.drivers(job)

    async def release(self, _job: Job) -> None:
        return None


class JobHub(Protocol):
    async def jobs(self, cluster: str, wait: int, known: Collection[str] = ()) -> JobList: ...
    async def progress(self, cluster: str, job: str, progress: Progress) -> ProgressReceipt: ...


@dataclass(frozen=True, slots=True)
class JobSettings:
    poll_wait: int = 30
    """Seconds a pull waits at the hub for a new job."""
    poll_pause: float = 5.0
    """Seconds between pulls while every listed job already runs here (the hub answers at
    once while it lists any job)."""
    interval: float = 2.0
    """Seconds between passes of a running job: the level-triggered timer."""
    heartbeat: float = 30.0
    """Progress is sent at least this often, which keeps the job's reservation alive."""
    access_wait: float = 900.0
    """Seconds a new job waits for its target's agent to grant access before it fails."""


def said(state: ProgressState, message: str, base: Progress | None = None) -> Progress:
    """Progress with `message`, cut to what the hub accepts: a long reason (a server's
    message, a hub's answer quoted in it) must not get the report refused."""
    update = {"state": state, "message": message[:MAX_MESSAGE]}
    return (base or Progress(state=state)).model_copy(update=update)


def job_of(migration: Migration) -> Job:
    return Job(
        id=migration.id,
        vms=migration.vms,
        target=migration.target_cluster,
        delete_source=migration.delete_source,
        storage_class_map=dict(migration.storage_class_map),
        unschedulable_timeout=migration.receiver_timeouts.unschedulable_seconds,
        pending_timeout=migration.receiver_timeouts.pending_seconds,
    )


@dataclass
class JobRunner:
    """The agent's side of the job protocol: jobs arrive at least once and progress must
    keep reaching the hub (it holds the reservation), so pulling, running each job's
    executor and reporting live together, apart from the executor's own logic."""

    cluster: str
    hub: JobHub
    journal: Journal
    connector: Connector
    settings: JobSettings = field(default_factory=JobSettings)
    pause: Pause = asyncio.sleep
    clock: Callable[[], float] = field(default=lambda: asyncio.get_running_loop().time())
    running: dict[str, "asyncio.Task[None]"] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)

    async def run(self, stop: asyncio.Event) -> None:
        await self.resume()
        stopped = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                polling = asyncio.ensure_future(self.poll_once(stop))
                try:
                    await asyncio.wait({polling, stopped}, return_when=asyncio.FIRST_COMPLETED)
                finally:  # also when the agent itself is cancelled: no pull outlives it
                    polling.cancel()
        finally:
            stopped.cancel()
            for task in self.running.values():
                task.cancel()
            await asyncio.gather(*self.running.values(), return_exceptions=True)

    async def resume(self) -> None:
        """Carry on with the jobs the journal holds unfinished, whatever the hub lists."""
        for job in await asyncio.to_thread(self.journal.unfinished):
            self.start(job, begun=True)

    async def poll_once(self, stop: asyncio.Event) -> None:
        asked = self.clock()
        try:
            listed = await self.hub.jobs(self.cluster, self.settings.poll_wait, set(self.running))
        except Exception as error:
            log.warning("pulling jobs failed: %s", error)
            await self._pause_unless(stop, self.settings.poll_pause)
            return
        new = [job_of(m) for m in listed.items if m.id not in self.running]
        for job in new:
            self.start(job)
        if not new and self.clock() - asked < 1.0:
            await self._pause_unless(stop, self.settings.poll_pause)

    def start(self, job: Job, begun: bool = False) -> None:
        """A job runs once at a time here; its entry goes when it is done, and the journal
        keeps a job that ended from running again when a late pull lists it."""
        if job.id not in self.running:
            log.info("job %s: %d VM(s) to %s", job.id, len(job.vms), job.target)
            task = asyncio.create_task(self.execute(job, begun), name=job.id)
            self.running[job.id] = task
            task.add_done_callback(lambda _done: self.running.pop(job.id, None))

    async def execute(self, job: Job, begun: bool = False) -> None:
        """A job that fails here in a way nobody foresaw is logged, not lost silently: it
        runs again at the next pull that lists it, or at the next start if it had begun."""
        try:
            if await asyncio.to_thread(self.journal.ended, job.id):
                await self.connector.release(job)
                return
            drivers = await self._connect(job, begun)
            if drivers is None:
                return
            await self._carry_out(job, *drivers)
            await self.connector.release(job)
        except Exception:
            log.exception("job %s stopped on an unexpected error", job.id)

    async def _connect(self, job: Job, begun: bool) -> tuple[ClusterDriver, ClusterDriver] | None:
        """Waits for the target's access. A job not yet begun here fails once the wait is
        too long, and stops if it is cancelled meanwhile; a begun one (resumed from the
        journal) waits on, since only that access lets it finish or undo its work."""
        started = self.clock()
        while True:
            try:
                return await self.connector.connect(job)
            except NoConnectionError as missing:
                if begun:
                    await self._stranded(job, str(missing))
                else:
                    await self._refuse(job, str(missing))
                return None
            except AccessPendingError as pending:
                waited = self.clock() - started
                if not begun and waited >= self.settings.access_wait:
                    await self._refuse(
                        job, f"no access to target {job.target} after {waited:.0f} s: {pending}"
                    )
                    return None
                log.info("job %s: %s", job.id, pending)
                waiting = said(ProgressState.RUNNING, f"waiting: {pending}")
                with contextlib.suppress(Exception):
                    receipt = await self.hub.progress(self.cluster, job.id, waiting)
                    if not begun and (receipt.cancel or not receipt.state.active):
                        await self._refuse(job, "cancelled before it began; nothing to undo")
                        return None
            await self.pause(self.settings.poll_pause)

    async def _carry_out(self, job: Job, source: ClusterDriver, target: ClusterDriver) -> None:
        await asyncio.to_thread(self.journal.remember, job)
        consent = _Consent(self, job, asyncio.get_running_loop())
        executor = await asyncio.to_thread(
            Executor, job, self.journal, source, target, cutover=consent, tally=self.metrics.step
        )
        consent.executor = executor
        sent: Progress | None = None
        sent_at = float("-inf")
        while True:
            error = await self._step(executor)
            progress = summarize(job, executor.ledger, executor.observed, sent)
            if error:
                progress = said(progress.state, f"retrying: {error}", progress)
            due = self.clock() - sent_at >= self.settings.heartbeat
            if progress != sent or due:
                receipt = await self._report(job, progress, executor)
                if receipt is Unanswered.GONE and executor.ended:
                    return
                if isinstance(receipt, ProgressReceipt):
                    sent, sent_at = progress, self.clock()
                    if executor.ended and not receipt.state.active:
                        log.info("job %s: %s", job.id, progress.message)
                        return
            await self.pause(self.settings.interval)

    async def _refuse(self, job: Job, reason: str) -> None:
        """A job not begun here ends at once, with the reason: nothing was touched."""
        log.error("job %s: %s", job.id, reason)
        with contextlib.suppress(Exception):
            await self.hub.progress(
                self.cluster, job.id, said(ProgressState.FAILED, f"failed: {reason}")
            )
        await self.connector.release(job)

    async def _stranded(self, job: Job, reason: str) -> None:
        """A begun job this agent can no longer reach the target for: it says so and stays
        unfinished in the journal, for a restart with a connection. It does not claim to
        have ended, since what it made on the target may still be there."""
        message = (
            f"cannot finish or undo: {reason}; what it made on {job.target} is labelled "
            f"cclm.io/migration={job.id}"
        )
        log.error("job %s: %s", job.id, message)
        with contextlib.suppress(Exception):
            await self.hub.progress(self.cluster, job.id, said(ProgressState.RUNNING, message))

    async def _step(self, executor: Executor) -> str:
        try:
            await asyncio.to_thread(executor.step)
        except Exception as error:
            log.warning("job %s: a pass failed (%s); it is retried", executor.job.id, error)
            return str(error)
        return ""

    async def _report(
        self, job: Job, progress: Progress, executor: Executor
    ) -> ProgressReceipt | Unanswered:
        try:
            receipt = await self.hub.progress(self.cluster, job.id, progress)
        except RefusedError as refused:
            log.warning("job %s: the hub refused its progress: %s", job.id, refused)
            if refused.status != 404:
                return Unanswered.UNREACHABLE
            await asyncio.to_thread(executor.cancel, "the hub no longer knows this migration")
            return Unanswered.GONE
        except Exception as error:
            log.warning("job %s: reporting progress failed: %s", job.id, error)
            return Unanswered.UNREACHABLE
        if receipt.cancel:
            await asyncio.to_thread(executor.cancel, "cancelled on the hub")
        return receipt

    async def _pause_unless(self, stop: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)


@dataclass
class _Consent:
    """Asks the hub before a VM's cutover: the hub records the VM as in cutover, which
    refuses later cancels, or answers that the job was cancelled, and the cutover does not
    begin. With the hub out of reach the cutover waits. Runs on the executor's thread."""

    runner: JobRunner
    job: Job
    loop: asyncio.AbstractEventLoop
    executor: Executor | None = None
    timeout: float = 300.0

    def __call__(self, vm: str) -> bool:
        executor = self.executor
        if executor is None:
            return False
        base = summarize(self.job, executor.ledger, executor.observed)
        vms = tuple(
            v.model_copy(update={"phase": VmPhase.CUTOVER}) if v.vm == vm else v for v in base.vms
        )
        asked = self.runner.hub.progress(
            self.runner.cluster, self.job.id, base.model_copy(update={"vms": vms})
        )
        try:
            receipt = asyncio.run_coroutine_threadsafe(asked, self.loop).result(self.timeout)
        except Exception as error:
            log.warning(
                "job %s: %s waits for the hub before its cutover: %s", self.job.id, vm, error
            )
            return False
        return receipt.state.active and not receipt.cancel
