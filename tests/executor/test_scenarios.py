"""The nine cases of `vm-state-changes.yaml`, read from the file: each runs the executor
against the simulated pair, makes the power change at the moment the case names, and checks
the case's expectations and the invariants I1-I5 on the recorded history."""

import re
from collections.abc import Callable

import pytest
from spoke_agent.drivers.simulated import World
from spoke_agent.executor.model import Mode, Phase

from tests.executor import harness, invariants, scenarios
from tests.executor.harness import Run, full, short

CASES = scenarios.load()


def _exists(world: World, kind: str, vm: str = "") -> bool:
    return any(p.deleted_at is None for p in world.pods_of(kind, full(vm) if vm else ""))


def _receiving(world: World, vm: str, phase: Phase) -> bool:
    return any(p.phase == phase for p in world.pods_of("receiver", full(vm)))


MOMENTS: dict[str, Callable[[World], bool]] = {
    "after the rsync server and client for a exist (pending or running)": lambda w: (
        _exists(w, "server") and _exists(w, "client", "a")
    ),
    "after cutover started and the receiving virt-launcher pod is running": lambda w: (
        w.live_started(full("a")) and _receiving(w, "a", Phase.RUNNING)
    ),
    "after cutover started and before the receiving virt-launcher pod is running": lambda w: (
        w.live_started(full("a")) and _receiving(w, "a", Phase.PENDING)
    ),
    "after the rsync server and both clients exist (pending or running)": lambda w: (
        _exists(w, "server") and _exists(w, "client", "a") and _exists(w, "client", "b")
    ),
    "after both live migrations started": lambda w: (
        w.live_started(full("a")) and w.live_started(full("b"))
    ),
    "after a's live migration and b's offline copy both started": lambda w: (
        w.live_started(full("a")) and _exists(w, "client", "b")
    ),
}
"""'Cutover started' is read as: the sending migration object exists (the migration runs)."""


class History:
    def __init__(self, result: Run) -> None:
        self.result = result
        self.events = result.world.history
        self.lives = invariants.pod_lives(self.events)
        assert result.changed_at is not None, "the moment of the change never came"
        self.changed_at = result.changed_at

    def pods(
        self, kind: str, vm: str = "", round_id: int | None = None
    ) -> list[tuple[str, int, int]]:
        """(name, created, gone) of matching pods, oldest first."""
        return sorted(
            (
                (c.subject, c.tick, g)
                for c, g in self.lives.values()
                if c.kind == kind
                and (not vm or c.vm == full(vm))
                and (round_id is None or c.round == round_id)
            ),
            key=lambda p: p[1],
        )

    def details(self, pod: str) -> list[str]:
        return [e.detail for e in self.events if e.what == "pod" and e.subject == pod]

    def stopped(self, pod: str) -> bool:
        """Deleted after the change without having completed."""
        details = self.details(pod)
        deleting = [e.tick for e in self.events if e.subject == pod and e.detail == "deleting"]
        return "Succeeded" not in details and any(t >= self.changed_at for t in deleting)

    def completed(self, pod: str) -> bool:
        return "Succeeded" in self.details(pod)

    def live_starts(self, vm: str) -> list[int]:
        return invariants.live_starts(self.events, full(vm))

    def mode(self, vm: str) -> Mode | None:
        return self.result.world.vms[full(vm)].data

    def launchers_at_change(self, vm: str) -> list[tuple[str, int, int]]:
        return [
            p
            for kind in ("launcher", "receiver")
            for p in self.pods(kind, vm)
            if p[1] <= self.changed_at < p[2]
        ]

    def rounds(self) -> list[int]:
        return sorted({c.round for c, _ in self.lives.values() if c.kind == "server" and c.round})


def _completes(h: History, vms: dict[str, Mode]) -> None:
    for vm, mode in vms.items():
        assert h.mode(vm) == mode, f"{vm} completed by {h.mode(vm)}, expected {mode}"
        assert h.result.ledger.vms[full(vm)].done


def _round_stopped(h: History, vms: str) -> None:
    server = h.pods("server")[0]
    assert h.stopped(server[0]), f"the rsync server was not stopped: {h.details(server[0])}"
    for vm in vms:
        client = h.pods("client", vm)[0]
        assert h.stopped(client[0]), f"{vm}'s client was not stopped: {h.details(client[0])}"


def _live_after_rsync_gone(h: History, vms: str) -> None:
    first_round = [g for kind in ("server", "client") for _, _, g in h.pods(kind, round_id=1)]
    for vm in vms:
        starts = [t for t in h.live_starts(vm) if t >= h.changed_at]
        assert starts, f"{vm} never started live after the change"
        assert starts[0] >= max(first_round), f"{vm} started live before the round was over"


def _launchers_stopped(h: History, vms: str) -> None:
    for vm in vms:
        pods = h.launchers_at_change(vm)
        assert pods, f"{vm} had no virt-launcher pod at the change"
        for name, _, gone in pods:
            assert gone < invariants.FOREVER, f"{name} was never stopped"


def _rsync_after_launchers(h: History, vm: str) -> None:
    gone = max(g for _, _, g in h.launchers_at_change(vm))
    [(client, created, _)] = [p for p in h.pods("client", vm) if p[1] >= h.changed_at]
    servers = [p for p in h.pods("server") if p[1] >= h.changed_at]
    assert created >= gone, f"{client} created at {created}, launchers gone at {gone}"
    assert all(s[1] >= gone for s in servers), "a server was created before the launchers were gone"


def _two_stopped_rounds(h: History) -> None:
    """One round takes both VMs, unless its server was already Running when the second VM
    became ready for a copy (both of its virt-launcher pods gone)."""
    rounds = h.rounds()
    members = {r: {c for c, _, _ in h.pods("client", round_id=r)} for r in rounds}
    if len(rounds) == 1:
        assert len(members[rounds[0]]) == 2, f"one round, clients {members}"
        return
    assert len(rounds) == 2, f"rounds: {members}"
    late = next(c.vm for c, _ in h.lives.values() if c.kind == "client" and c.round == rounds[1])
    ready = max(g for kind in ("launcher", "receiver") for _, _, g in h.pods(kind, short(late)))
    running = [
        e.tick
        for server, _, _ in h.pods("server", round_id=rounds[0])
        for e in h.events
        if e.subject == server and e.detail == "Running"
    ]
    assert running, "the first round's server never ran"
    assert min(running) <= ready, f"a second round though the server ran only at {running}"


EXACT: dict[str, Callable[[History], None]] = {
    "the rsync server and client are stopped": lambda h: _round_stopped(h, "a"),
    "a's live migration starts only after both rsync pods are gone": lambda h: (
        _live_after_rsync_gone(h, "a")
    ),
    "both virt-launcher pods are stopped": lambda h: _launchers_stopped(h, "a"),
    "the virt-launcher pods are stopped": lambda h: _launchers_stopped(h, "a"),
    "the rsync server and client are created only after both launcher pods are gone": lambda h: (
        _rsync_after_launchers(h, "a")
    ),
    "the rsync server and client are created only after the launcher pods are gone": lambda h: (
        _rsync_after_launchers(h, "a")
    ),
    "a's client is stopped at once": lambda h: _stopped_at_once(h, "a"),
    "b's client runs to completion": lambda h: _client_completes(h, "b"),
    "a's live migration starts only after the round is over (server and b's client gone)": (
        lambda h: _live_after_rsync_gone(h, "a")
    ),
    "both clients and the server are stopped": lambda h: _round_stopped(h, "ab"),
    "the live migrations start only after every rsync pod is gone": lambda h: (
        _live_after_rsync_gone(h, "ab")
    ),
    "b's live migration is not disturbed and completes": lambda h: _undisturbed(h, "b"),
    "a's launcher pods are stopped; then an rsync server and a client for a are created": (
        lambda h: (_launchers_stopped(h, "a"), _rsync_after_launchers(h, "a"))
    ),
    "every virt-launcher pod is stopped": lambda h: _launchers_stopped(h, "ab"),
    "an rsync server with two clients copies both VMs; only if the server was already Running "
    "when the second VM stopped does a second round (new server and client) copy the second VM": (
        _two_stopped_rounds
    ),
    "the rsync server and b's client are stopped": lambda h: _round_stopped(h, "b"),
    "b's live migration starts after the rsync pods are gone": lambda h: _live_after_rsync_gone(
        h, "b"
    ),
    "a's virt-launcher pods are stopped": lambda h: _launchers_stopped(h, "a"),
    "the running round (server and b's client) runs to completion": lambda h: (
        _client_completes(h, "b"),
        _not_stopped(h, h.pods("server", round_id=1)[0][0]),
    ),
    "only after that round is over are a new rsync server and a client for a created": (
        lambda h: _after_round_one(h, "a")
    ),
}


def _stopped_at_once(h: History, vm: str) -> None:
    client = h.pods("client", vm)[0][0]
    deleting = [e.tick for e in h.events if e.subject == client and e.detail == "deleting"]
    assert deleting == [h.changed_at + 1] or deleting == [h.changed_at], (
        f"{client} deleted at {deleting}, the change was at {h.changed_at}"
    )


def _client_completes(h: History, vm: str) -> None:
    [(client, _, _)] = h.pods("client", vm)
    assert h.completed(client), f"{client}: {h.details(client)}"


def _not_stopped(h: History, pod: str) -> None:
    assert "Running" in h.details(pod)
    assert not h.stopped(pod) or all(h.completed(c) for c, _, _ in h.pods("client", round_id=1))


def _undisturbed(h: History, vm: str) -> None:
    assert len(h.live_starts(vm)) == 1, f"{vm} started live {len(h.live_starts(vm))} times"
    cancelled = [e for e in h.events if e.vm == full(vm) and e.detail == "cancelled"]
    assert not cancelled
    assert h.mode(vm) == Mode.LIVE


def _after_round_one(h: History, vm: str) -> None:
    round_one = max(g for kind in ("server", "client") for _, _, g in h.pods(kind, round_id=1))
    [(_, created, _)] = h.pods("client", vm)
    later_servers = [p for p in h.pods("server") if p[1] > h.changed_at]
    assert created >= round_one
    assert later_servers
    assert all(s[1] >= round_one for s in later_servers)


MODES = {"live migration": Mode.LIVE, "offline copy": Mode.OFFLINE}
PATTERNS: list[tuple[re.Pattern[str], Callable[[History, re.Match[str]], None]]] = [
    (
        re.compile(r"(\w) completes by (live migration|offline copy)"),
        lambda h, m: _completes(h, {m[1]: MODES[m[2]]}),
    ),
    (
        re.compile(r"(\w) and (\w) complete by (live migration|offline copy)"),
        lambda h, m: _completes(h, {m[1]: MODES[m[3]], m[2]: MODES[m[3]]}),
    ),
    (
        re.compile(
            r"(\w) completes by (live migration|offline copy), "
            r"(\w) by (live migration|offline copy)"
        ),
        lambda h, m: _completes(h, {m[1]: MODES[m[2]], m[3]: MODES[m[4]]}),
    ),
]


def _expectation(text: str) -> Callable[[History], object]:
    if text in EXACT:
        return EXACT[text]
    for pattern, check in PATTERNS:
        if match := pattern.fullmatch(text):
            return lambda h: check(h, match)
    raise AssertionError(f"no check for the expectation {text!r}; the scenario file changed?")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_scenario(case: scenarios.Case) -> None:
    assert case.when in MOMENTS, f"no moment for {case.when!r}; the scenario file changed?"
    result = harness.run(case.vms, MOMENTS[case.when], case.change)
    history = History(result)
    assert result.ledger.ended is not None
    assert result.ledger.ended.failed is None, result.ledger.ended.failed
    invariants.check(result.world, result.ledger)
    for text in case.expect:
        _expectation(text)(history)


def test_every_case_and_expectation_has_a_check() -> None:
    """A reworded case in the file fails here by name, not silently."""
    for case in CASES:
        assert case.when in MOMENTS, case.when
        for text in case.expect:
            _expectation(text)
