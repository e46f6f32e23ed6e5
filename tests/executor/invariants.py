"""I1-I5 of `vm-state-changes.yaml`, checked on a simulated run's history. (I6, restarts,
is the crash test's: the outcome with crashes equals the outcome without.)"""

from collections.abc import Iterable

from spoke_agent.drivers.simulated import Event, World
from spoke_agent.executor.model import Mode, Side
from spoke_agent.executor.records import Ledger

LAUNCHERS = ("launcher", "receiver")
FOREVER = 10**9


def pod_lives(history: Iterable[Event], seq: bool = False) -> dict[str, tuple[Event, int]]:
    """Pod name -> (its creation event, the tick it was gone or FOREVER); with `seq`, the
    gone event's place in the history instead of its tick."""
    lives: dict[str, tuple[Event, int]] = {}
    for event in history:
        if event.what != "pod":
            continue
        if event.detail == "created":
            lives[event.subject] = (event, FOREVER)
        elif event.detail == "gone":
            lives[event.subject] = (lives[event.subject][0], event.seq if seq else event.tick)
    return lives


def live_starts(history: Iterable[Event], vm: str) -> list[int]:
    return [
        e.tick
        for e in history
        if e.what == "live" and e.vm == vm and e.detail.startswith("started")
    ]


def live_periods(world: World, vm: str) -> list[tuple[int, int]]:
    """From the receiving pod's creation to the migration's success or the pod being gone."""
    periods = []
    successes = [
        e.tick for e in world.history if e.what == "live" and e.vm == vm and e.detail == "succeeded"
    ]
    for created, gone in pod_lives(world.history).values():
        if created.vm == vm and created.kind == "receiver":
            ends = [t for t in successes if t >= created.tick]
            periods.append((created.tick, min([gone, *ends])))
    return periods


def _round_of(lives: dict[str, tuple[Event, int]], client: Event) -> list[int]:
    """When each pod of the client's round was gone: the pods of its round id whose lives
    chain into one another (a journal-less executor may use an id again, for a later round
    that starts once every pod of the earlier one is gone)."""
    pods = sorted(
        (c.tick, g)
        for c, g in lives.values()
        if c.round == client.round and c.kind in ("server", "client")
    )
    runs: list[list[tuple[int, int]]] = []
    for created, gone in pods:
        if runs and created < max(g for _, g in runs[-1]):
            runs[-1].append((created, gone))
        else:
            runs.append([(created, gone)])
    mine = next(run for run in runs if any(c == client.tick for c, _ in run))
    return [g for _, g in mine]


def _serves(event: Event, vm: str) -> bool:
    """A server pod's note of the VMs whose volumes it was made with."""
    words = event.detail.split()
    return words[:1] == ["serves"] and vm in words


def check(world: World, ledger: Ledger) -> None:
    history = world.history
    lives = pod_lives(history)
    for vm in world.vms:
        clients = [(c, g) for c, g in lives.values() if c.kind == "client" and c.vm == vm]
        # I1: a live migration and an rsync client of the VM never overlap.
        for start, end in live_periods(world, vm):
            for client, gone in clients:
                assert not (client.tick < end and start < gone), (
                    f"I1: {vm}: client {client.subject} ({client.tick}-{gone}) overlaps a "
                    f"live migration ({start}-{end})"
                )
        # I2: live starts only once every round the VM had a client in is over.
        for started in live_starts(history, vm):
            for client, _ in clients:
                if client.tick >= started:
                    continue
                round_pods = _round_of(lives, client)
                assert max(round_pods) <= started, (
                    f"I2: {vm} started live at {started} while round {client.round} "
                    f"still had pods (gone at {sorted(round_pods)})"
                )
        # I3: rsync pods of the VM only once its virt-launcher pods are gone.
        ordered = pod_lives(history, seq=True).values()
        mounting = {e.subject for e in history if _serves(e, vm)}
        servers = [c for c, _ in ordered if c.kind == "server" and c.subject in mounting]
        ordered_launchers = [(c, g) for c, g in ordered if c.kind in LAUNCHERS and c.vm == vm]
        for client, _ in clients:
            created = [client.seq, *[s.seq for s in servers if s.round == client.round]]
            for at in created:
                alive = [c.subject for c, g in ordered_launchers if c.seq <= at < g]
                assert not alive, f"I3: rsync pods for {vm} at {at} while {alive} exist"
        # I4: a live migration is cancelled only for a change to that VM.
        for event in history:
            if event.what == "live" and event.vm == vm and event.detail == "cancelled":
                own = [
                    e
                    for e in history
                    if e.vm == vm
                    and e.tick <= event.tick
                    and (
                        (e.what == "power" and e.detail in ("stop", "deleted"))
                        or e.what == "lost"
                        or (e.what == "live" and e.detail == "failed")
                        or (e.what == "pod" and e.detail == "Failed")
                    )
                ]
                assert own or ledger.failing, (
                    f"I4: {vm}'s live migration was cancelled at {event.tick} with no change to it"
                )
    _check_once(world, ledger)
    if not world.shared_volumes:
        _check_attachment(world)


def running_periods(history: Iterable[Event]) -> dict[str, tuple[Event, int, int]]:
    """Pod name -> (its creation event, the tick it ran from, the tick it stopped running)."""
    periods: dict[str, tuple[Event, int, int]] = {}
    created: dict[str, Event] = {}
    for event in history:
        if event.what != "pod":
            continue
        if event.detail == "created":
            created[event.subject] = event
        elif event.detail == "Running":
            periods[event.subject] = (created[event.subject], event.tick, FOREVER)
        elif event.detail in ("Succeeded", "Failed", "gone") and event.subject in periods:
            first, start, end = periods[event.subject]
            periods[event.subject] = (first, start, min(end, event.tick))
    return periods


def _check_attachment(world: World) -> None:
    """ReadWriteOnce: an rsync client never reads a disk while the VM runs from it."""
    periods = running_periods(world.history).values()
    for vm in world.vms:
        clients = [(s, e) for c, s, e in periods if c.vm == vm and c.kind == "client"]
        launchers = [
            (s, e)
            for c, s, e in periods
            if c.vm == vm and c.kind in LAUNCHERS and c.side == Side.SOURCE
        ]
        for start, end in clients:
            for up, down in launchers:
                assert not (start < down and up < end), (
                    f"{vm}: its rsync client ran ({start}-{end}) while it ran ({up}-{down})"
                )


def _check_once(world: World, ledger: Ledger) -> None:
    """I5: each VM ends migrated exactly once, and never runs on both clusters."""
    hazards = [e for e in world.history if e.what == "hazard"]
    assert not hazards, f"I5: {hazards[0].vm} ran on both clusters at {hazards[0].tick}"
    assert ledger.ended is not None
    for name, vm in world.vms.items():
        finals = [
            e.detail
            for e in world.history
            if e.what == "finalize" and e.vm == name and e.detail.startswith("source")
        ]
        if ledger.vms[name].gone:
            assert vm.source is None
            amnesia = any(e.what == "agent" for e in world.history)
            assert amnesia or not finals, f"{name} was deleted on its source, yet finalized there"
            assert vm.target is None, f"{name} was deleted on its source, yet made on the target"
            unknown = ledger.vms[name].attempt == 0 and ledger.vms[name].round is None
            if ledger.vms[name].copied == Mode.OFFLINE:
                assert vm.volumes, f"{name}: the complete copy of its disks was removed"
            elif not unknown:
                assert not vm.volumes, f"{name}: the disks of an incomplete copy were left"
        elif ledger.vms[name].done:
            deleted = any(
                e.what == "power" and e.vm == name and e.detail == "deleted" for e in world.history
            )
            expected = (0, 1) if deleted else (1,)  # landed live, then deleted by its owner
            assert len(finals) in expected, f"I5: {name}'s source was finalized {len(finals)} times"
            assert vm.data is not None, f"I5: {name} finalized without its data on the target"
            assert vm.target_writes == vm.writes, (
                f"{name}: its target holds {vm.target_writes} of its {vm.writes} writes "
                "(a stale or torn copy was finalized)"
            )
            assert vm.target is not None
            assert not vm.target.receiver
            assert vm.target.running == (vm.data == Mode.LIVE)
            assert vm.source is None or (vm.source.migrated_by and not vm.source.running)
        else:
            assert ledger.ended.failed, f"{name} is not migrated, yet the job finished"
            assert not finals, f"{name} was finalized on the source but not migrated"
            assert vm.target is None, f"{name}: its definition was left on the target"
            assert not vm.volumes, f"{name}: its volumes were left on the target"
    left = [p.name for p in world.pods.values() if p.kind in ("server", "client", "receiver")]
    assert not left, f"pods left behind: {left}"
