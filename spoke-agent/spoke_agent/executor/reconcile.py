"""The thin loop around the state logic: observe both clusters, decide, write what was
decided, act. Level-triggered: each pass starts from what the clusters show and what the
journal holds, never from what an earlier pass remembered, so a restarted executor simply
carries on.
"""

from collections.abc import Callable

from spoke_agent.drivers import ClusterDriver
from spoke_agent.executor import records
from spoke_agent.executor.decide import decide
from spoke_agent.executor.journal import Journal
from spoke_agent.executor.model import (
    Action,
    Job,
    Observed,
    Side,
    StartSending,
    SupersededError,
)
from spoke_agent.executor.records import Ledger

MAX_FACT_ROUNDS = 50
"""Facts settle in a few rounds; more means the state logic contradicts itself."""

Checkpoint = Callable[[str], None]
"""Called before every durable step; crash tests raise from it to stop the executor there."""
Consent = Callable[[str], bool]
Tally = Callable[[str, bool], None]
"""Told of each action applied: its name, and whether the cluster took it."""
"""Asked before a VM's cutover begins (the sending migration object is made): from then on
a cancel no longer stops it, so the hub must know first. False: not now, ask again later."""


class Executor:
    """One job on one agent: the only place that joins the pure decisions to the journal
    and the drivers, so that what is written before each action, and the order of the two,
    is decided once for every driver."""

    def __init__(
        self,
        job: Job,
        journal: Journal,
        source: ClusterDriver,
        target: ClusterDriver,
        checkpoint: Checkpoint | None = None,
        cutover: Consent | None = None,
        tally: Tally | None = None,
    ) -> None:
        self.job, self.journal = job, journal
        self.drivers = {Side.SOURCE: source, Side.TARGET: target}
        self.checkpoint = checkpoint or (lambda _: None)
        self.cutover = cutover or (lambda _: True)
        self.tally = tally or (lambda _name, _ok: None)
        self.ledger = records.fold(Ledger.start(job.vms), journal.load(job.id))
        self.observed: Observed | None = None
        """What the last pass saw, for progress reports."""

    @property
    def ended(self) -> bool:
        return self.ledger.ended is not None

    def cancel(self, reason: str) -> None:
        """Stop the job as the hub asked: what has not begun its cutover is undone by the
        next passes. Repeating it, or cancelling a job that already failed, changes nothing."""
        if self.ledger.failing is None and not self.ended:
            self._write((records.Failing(reason, cancelled=True),))

    def step(self) -> None:
        """One pass: note what is new, then act on it."""
        if self.ended:
            return
        observed = Observed(
            self.drivers[Side.SOURCE].observe(self.job),
            self.drivers[Side.TARGET].observe(self.job),
        )
        self.observed = observed
        for _ in range(MAX_FACT_ROUNDS):
            decision = decide(self.job, self.ledger, observed)
            if not decision.records:
                break
            self._write(decision.records)
        else:
            raise RuntimeError(f"job {self.job.id}: the state logic did not settle")
        for action in decision.actions:
            try:
                self._act(action)
            except SupersededError:
                # What this pass saw has changed (a user's start, say): the rest of its
                # actions were chosen from a stale view, and the next pass decides anew.
                return

    def _write(self, batch: tuple[records.Record, ...]) -> None:
        self.checkpoint(f"record {type(batch[0]).__name__}")
        self.journal.append(self.job.id, batch)
        self.ledger = records.fold(self.ledger, batch)

    def _act(self, action: Action) -> None:
        if isinstance(action, StartSending) and not self.cutover(action.vm):
            return
        name = type(action).__name__
        self._write((records.Intent(action),))
        self.checkpoint(f"apply {name}")
        try:
            self.drivers[action.side].apply(self.job, action)
        except SupersededError:
            raise
        except Exception:
            self.tally(name, False)
            raise
        self.tally(name, True)
        self._write((records.Applied(action),))
