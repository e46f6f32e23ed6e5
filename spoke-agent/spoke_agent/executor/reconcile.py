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
from spoke_agent.executor.model import Action, Job, Observed, Side
from spoke_agent.executor.records import Ledger

MAX_FACT_ROUNDS = 50
"""Facts settle in a few rounds; more means the state logic contradicts itself."""

Checkpoint = Callable[[str], None]
"""Called before every durable step; crash tests raise from it to stop the executor there."""


class Executor:
    def __init__(
        self,
        job: Job,
        journal: Journal,
        source: ClusterDriver,
        target: ClusterDriver,
        checkpoint: Checkpoint | None = None,
    ) -> None:
        self.job, self.journal = job, journal
        self.drivers = {Side.SOURCE: source, Side.TARGET: target}
        self.checkpoint = checkpoint or (lambda _: None)
        self.ledger = records.fold(Ledger.start(job.vms), journal.load(job.id))

    @property
    def ended(self) -> bool:
        return self.ledger.ended is not None

    def step(self) -> None:
        """One pass: note what is new, then act on it."""
        if self.ended:
            return
        observed = Observed(
            self.drivers[Side.SOURCE].observe(self.job),
            self.drivers[Side.TARGET].observe(self.job),
        )
        for _ in range(MAX_FACT_ROUNDS):
            decision = decide(self.job, self.ledger, observed)
            if not decision.records:
                break
            self._write(decision.records)
        else:
            raise RuntimeError(f"job {self.job.id}: the state logic did not settle")
        for action in decision.actions:
            self._act(action)

    def _write(self, batch: tuple[records.Record, ...]) -> None:
        self.checkpoint(f"record {type(batch[0]).__name__}")
        self.journal.append(self.job.id, batch)
        self.ledger = records.fold(self.ledger, batch)

    def _act(self, action: Action) -> None:
        name = type(action).__name__
        self._write((records.Intent(action),))
        self.checkpoint(f"apply {name}")
        self.drivers[action.side].apply(self.job, action)
        self._write((records.Applied(action),))
