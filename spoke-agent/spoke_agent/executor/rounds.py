"""Offline copies in rounds: one rsync server on the target, one client per VM. A round
takes every VM stopped before its server is Running; the server is made (again, when a
member joins while it is not Running) once every member's pods are gone and its volumes
exist; each client is made with the VM's stamp, recorded just before. Rounds the clusters
hold and the ledger does not (the journal was lost) are carried on, never opened twice."""

from collections.abc import Iterator

from spoke_agent.executor import records as r
from spoke_agent.executor.budget import MAX_FAILURES, MAX_STALE
from spoke_agent.executor.model import (
    Action,
    CreateClient,
    CreateServer,
    DeleteClient,
    DeleteServer,
    Observed,
    Phase,
    PrepareVolumes,
)
from spoke_agent.executor.view import VmView, bound_for_offline


def round_facts(
    ledger: r.Ledger, vms: list[VmView], observed: Observed, failing: bool
) -> Iterator[r.Record]:
    current = ledger.open_round
    if current is not None:
        left = tuple(_out_of_round(ledger, current))
        if left:
            yield from left
            return
        server = observed.target.servers.get(current.id)
        if server is not None and server.phase == Phase.FAILED:
            for name in current.active:
                yield r.ClientEnded(current.id, name, f"rsync server failed: {server.message}")
        if not current.active and not _round_leftovers(current.id, observed):
            yield r.RoundClosed(current.id)
        elif current.active and not failing:
            yield from _membership(current, vms, observed)
            yield from _stamps(current, vms, observed)
        return
    if failing:
        return
    yield from _too_many(vms)
    bound = [vm for vm in vms if bound_for_offline(vm)]
    if bound:
        yield r.RoundOpened(_next_round(ledger, observed), tuple(vm.name for vm in bound))


def _out_of_round(ledger: r.Ledger, current: r.RoundLedger) -> Iterator[r.Record]:
    """Members no longer due for this round's copy: deleted on the source, or (in a round
    carried on after the journal was lost) copied, migrated or being migrated live."""
    for name in current.active:
        led = ledger.vms[name]
        if led.gone:
            yield r.ClientEnded(current.id, name, r.GONE)
        elif led.done or led.copied is not None or led.live_open:
            yield r.ClientEnded(current.id, name, "abandoned")


def _too_many(vms: list[VmView]) -> Iterator[r.Record]:
    """A VM due for a copy after too many failed or distrusted ones fails the job."""
    for vm in vms:
        led = vm.ledger
        due = not led.done and led.copied is None and not led.live_open and not vm.wants_running
        if due and led.copy_failures >= MAX_FAILURES:
            yield r.Failing(
                f"{vm.name}: {led.copy_failures} offline copies failed: {led.last_failure}"
            )
            return
        if due and led.stale_copies >= MAX_STALE:
            yield r.Failing(
                f"{vm.name}: its object changed during each of {led.stale_copies} offline "
                f"copies ({led.last_failure}); stop whatever keeps writing it, or start it and "
                "migrate it live"
            )
            return


def _observed_rounds(observed: Observed) -> set[int]:
    clients = {o.client[0] for o in observed.source.vms.values() if o.client}
    return clients | set(observed.target.servers)


def _next_round(ledger: r.Ledger, observed: Observed) -> int:
    """Never an id the clusters already hold pods of, journal or not."""
    known = {x.id for x in ledger.rounds} | _observed_rounds(observed)
    return max(known, default=0) + 1


def found_rounds(ledger: r.Ledger, vms: list[VmView], observed: Observed) -> Iterator[r.Record]:
    """Rounds whose pods the clusters hold and the ledger does not know (the journal was
    lost): carried on with the members their pods name, so nothing healthy is deleted and
    no second round runs beside them."""
    known = {x.id for x in ledger.rounds}
    for round_id in sorted(_observed_rounds(observed) - known):
        serving = observed.target.serving.get(round_id, frozenset())
        members = tuple(
            vm.name
            for vm in vms
            if vm.name in serving or (vm.source.client and vm.source.client[0] == round_id)
        )
        yield r.RoundFound(round_id, members)


def _stamps(current: r.RoundLedger, vms: list[VmView], observed: Observed) -> Iterator[r.Record]:
    """Once the server runs, each member about to get its client has its stamp recorded,
    then and not before; a member whose client is not made yet is stamped again if its
    object changed meanwhile (no copy has begun)."""
    server = observed.target.servers.get(current.id)
    if server is None or not server.running:
        return
    by_name = {vm.name: vm for vm in vms}
    serving = observed.target.serving.get(current.id)
    for name in current.active:
        if serving is not None and name not in serving:
            continue  # late: it waits for the next round
        vm = by_name[name]
        stamp = vm.stamp
        ready = vm.quiet and vm.target.volumes_ready and vm.source.client is None
        fresh = stamp is not None and current.stamps.get(name) != stamp
        if fresh and stamp is not None and ready and not vm.wants_running:
            yield r.CopyBegun(current.id, name, stamp)


def _membership(
    current: r.RoundLedger, vms: list[VmView], observed: Observed
) -> Iterator[r.Record]:
    """Until its server runs, a round takes every VM that becomes ready for a copy; once it
    runs, a member its server was not made for waits for the next round."""
    server = observed.target.servers.get(current.id)
    serving = observed.target.serving.get(current.id)
    if server is not None and server.running:
        for name in current.active:
            if serving is not None and name not in serving:
                yield r.ClientEnded(current.id, name, r.LATE)
        return
    if server is not None and server.phase != Phase.PENDING:
        return
    for vm in vms:
        if vm.name not in current.vms and bound_for_offline(vm, current.id):
            yield r.RoundJoined(current.id, vm.name)


def _round_leftovers(round_id: int, observed: Observed) -> bool:
    """Pods of the round still there, in either cluster."""
    clients = [o.client for o in observed.source.vms.values() if o.client]
    return round_id in observed.target.servers or any(c[0] == round_id for c in clients)


def round_actions(
    current: r.RoundLedger, vms: list[VmView], observed: Observed
) -> Iterator[Action]:
    """Volumes first (the server mounts them), the server once every member is quiet, the
    clients once it runs, each with the stamp recorded for it."""
    server = observed.target.servers.get(current.id)
    by_name = {vm.name: vm for vm in vms}
    members = [by_name[name] for name in current.active]
    if members:
        for vm in members:
            if not vm.target.volumes_ready:
                yield PrepareVolumes(vm.name)
        settled = all(vm.quiet and vm.target.volumes_ready for vm in members)
        if server is None:
            if settled:
                yield CreateServer(current.id, current.active)
            return
        serving = observed.target.serving.get(current.id)
        if serving is not None and not set(current.active) <= serving and not server.running:
            if not server.deleting:
                yield DeleteServer(current.id)
            return
        if not server.running:
            return
        for vm in members:
            stamp = current.stamps.get(vm.name)
            if vm.source.client is None and vm.quiet and stamp is not None:
                yield CreateClient(current.id, vm.name, stamp)
        return
    for vm in vms:
        client = vm.source.client
        if client is not None and client[0] == current.id and not client[1].deleting:
            yield DeleteClient(current.id, vm.name)
    if server is not None and not server.deleting:
        yield DeleteServer(current.id)
