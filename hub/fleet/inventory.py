"""What the hub knows about every cluster right now: registration, newest report, live claims,
and the fit index built from them.

Indexes are rebuilt lazily: a report or claim change only marks its cluster dirty, and the
next check (or a background pass) rebuilds what is dirty. A burst of a thousand reports
therefore costs one rebuild, not a thousand.

Parsed reports are not kept: a thousand 100-node reports are a million objects, and the
collector's full passes over them stalled the hub for 400 ms. Reports stay as the gzipped
bytes received; what checks need lives in the numpy index, and the few parsed reports that
detail views and VM lookups need sit in a small LRU cache.
"""

import difflib
import logging
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from cachetools import LRUCache

from hub import payloads
from hub.capacity import drift, fleet, index, index_form
from hub.capacity.drift import Drifted
from hub.capacity.index import ClusterIndex
from hub.errors import Invalid, NotFound
from hub.models import report as report_model
from hub.models.api import VmReference
from hub.models.claim import Claim
from hub.models.report import CapacityReport
from hub.models.vm import VirtualMachine
from hub.models.wire.codes import ErrorCode

PARSED_KEPT = 32
"""Clusters whose newest report stays parsed; one report per cluster at most, so a cluster
sending large reports often holds one parsed copy, not one per report."""
log = logging.getLogger("cclm.hub")


@dataclass(frozen=True, slots=True)
class Entry:
    """A cluster as the hub knows it; the newest report is kept gzipped, as stored."""

    name: str
    labels: Mapping[str, str]
    registered_at: datetime
    generation: int = 0
    sequence: int | None = None
    body: bytes | None = field(default=None, repr=False)
    form: bytes | None = field(default=None, repr=False)
    """The report's unclaimed fit index, loaded instead of parsing the report."""
    received_at: datetime | None = None
    claims: tuple[Claim, ...] = ()

    @property
    def held_claims(self) -> tuple[Claim, ...]:
        """The claims as they hold against the newest report (see `Claim.held`)."""
        at = self.received_at
        return self.claims if at is None else tuple(c.held(at) for c in self.claims)


@dataclass(frozen=True, slots=True)
class Facts:
    """What summaries need from a report beyond the index, kept so they need no parse."""

    generated_at: datetime
    vms: int
    pending_launchers: int
    drift: tuple[Drifted, ...] = ()
    """VMs whose measured launcher overhead is above the model's (`hub.capacity.drift`)."""


@dataclass
class Inventory:
    """The clusters as checks need them, held in memory: a check must answer in
    milliseconds across thousands of clusters, which reading the store cannot. The store
    stays the truth; this is rebuilt from it at start and kept in step by `Hub`."""

    _entries: dict[str, Entry] = field(default_factory=dict)
    _indexes: dict[str, index.ClusterIndex] = field(default_factory=dict)
    _facts: dict[str, Facts] = field(default_factory=dict)
    _parsed: LRUCache[str, tuple[int, CapacityReport]] = field(
        default_factory=lambda: LRUCache(maxsize=PARSED_KEPT)
    )
    _fleet: fleet.FleetIndex | None = None
    _changed: set[str] = field(default_factory=set)
    _reshaped: bool = False

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entries(self) -> list[Entry]:
        return [self._entries[name] for name in self.names()]

    def get(self, name: str) -> Entry | None:
        return self._entries.get(name)

    def require(self, name: str, role: str = "cluster") -> Entry:
        entry = self._entries.get(name)
        if entry is None:
            close = difflib.get_close_matches(name, self.names(), n=1)
            meant = f"; did you mean {close[0]!r}?" if close else ""
            known = self.names()
            listed = ", ".join(known[:20]) + (
                f" and {len(known) - 20} more" if len(known) > 20 else ""
            )
            raise NotFound(
                f"{role} {name!r} is not a registered cluster{meant} (known: {listed or 'none'})",
                details={"cluster": name, **({"did_you_mean": close[0]} if close else {})},
                code=ErrorCode.UNKNOWN_CLUSTER,
            )
        return entry

    def put(self, entry: Entry) -> None:
        previous = self._entries.get(entry.name)
        if previous is None or previous.registered_at != entry.registered_at:
            self._reshaped = True
            self._forget_parsed(entry.name)
        self._entries[entry.name] = entry
        self._dirty(entry.name)

    def remove(self, name: str) -> None:
        self._entries.pop(name, None)
        self._reshaped = True
        self._forget_parsed(name)
        self._dirty(name)

    def _forget_parsed(self, name: str) -> None:
        """A cluster registered again under a name starts its sequences over."""
        self._parsed.pop(name, None)

    def apply_report(
        self,
        cluster: str,
        sequence: int,
        body: bytes,
        received_at: datetime,
        parsed: CapacityReport | None = None,
        form: bytes | None = None,
    ) -> bool:
        """Keep a validated report if it is newer; `parsed` saves parsing it again, and its
        `form` (`hub.capacity.index_form`) indexing it."""
        entry = self._entries.get(cluster)
        if entry is None:
            return False
        if entry.sequence is not None and entry.sequence >= sequence:
            return False
        changes: dict[str, Any] = {
            "sequence": sequence,
            "body": body,
            "form": form,
            "received_at": received_at,
        }
        self.put(replace(entry, **changes))
        if parsed is not None:
            self._parsed[cluster] = (sequence, parsed)
        else:
            self._parsed.pop(cluster, None)
        return True

    def report(self, name: str) -> CapacityReport | None:
        """The cluster's newest report, parsed (and kept a while in a small cache)."""
        entry = self._entries.get(name)
        if entry is None or entry.body is None or entry.sequence is None:
            return None
        cached = self._parsed.get(name)
        if cached is not None and cached[0] == entry.sequence:
            return cached[1]
        body = entry.body
        raw = payloads.gunzip(body) if body.startswith(payloads.GZIP_MAGIC) else body
        parsed = report_model.parse_json(raw)
        self._parsed[name] = (entry.sequence, parsed)
        return parsed

    def facts(self, name: str) -> Facts | None:
        self.index(name)
        return self._facts.get(name)

    def set_claims(self, name: str, claims: Iterable[Claim], generation: int | None = None) -> None:
        entry = self._entries.get(name)
        if entry is None:
            return
        held = tuple(claims)
        changes: dict[str, Any] = {"claims": held}
        if generation is not None:
            changes["generation"] = generation
        if held == entry.claims:
            self._entries[name] = replace(entry, **changes)
        else:
            self.put(replace(entry, **changes))

    def advance(self, name: str, generation: int) -> None:
        """Record that the store's generation moved by a change this hub already applied
        (its own report), so the next refresh has nothing to reload."""
        entry = self._entries.get(name)
        if entry is not None and entry.generation == generation - 1:
            self._entries[name] = replace(entry, generation=generation)

    def _dirty(self, name: str) -> None:
        self._indexes.pop(name, None)
        self._facts.pop(name, None)
        self._changed.add(name)

    def index(self, name: str) -> index.ClusterIndex | None:
        built = self._indexes.get(name)
        if built is not None:
            return built
        entry = self._entries.get(name)
        if entry is None or entry.received_at is None or entry.body is None:
            return None
        unclaimed = self._unclaimed(entry, entry.received_at)
        if unclaimed is None:
            return None
        built = index.with_claims(unclaimed, entry.claims)
        self._indexes[name] = built
        return built

    def _unclaimed(self, entry: Entry, received_at: datetime) -> ClusterIndex | None:
        """From the report's form when there is one, else by parsing the report."""
        loaded = (
            None
            if entry.form is None
            else index_form.decode(entry.form, dict(entry.labels), received_at)
        )
        if loaded is not None and loaded.index.sequence == entry.sequence:
            pending = len(loaded.index.pending_launchers)
            self._facts[entry.name] = Facts(loaded.generated_at, loaded.vms, pending, loaded.drift)
            return loaded.index
        try:
            report = self.report(entry.name)
        except (ValueError, zlib.error):
            log.exception("the stored report of %s cannot be read; leaving it out", entry.name)
            return None
        if report is None:
            return None
        unclaimed = index.unclaimed(report, entry.labels, received_at)
        self._facts[entry.name] = Facts(
            report.generated_at,
            len(report.vms),
            len(report.pending_launchers),
            drift.drifted(report.vms, unclaimed.target),
        )
        return unclaimed

    def warm(self, limit: int) -> int:
        """Build up to `limit` indexes of changed clusters ahead of the next check; answers
        how many changed clusters still have none."""
        waiting = [
            name
            for name in sorted(self._changed)
            if name not in self._indexes and getattr(self._entries.get(name), "body", None)
        ]
        for name in waiting[:limit]:
            self.index(name)
        return max(len(waiting) - limit, 0)

    def fleet(self) -> fleet.FleetIndex:
        """The fleet index, patched in place of the clusters that changed when their shape
        allows, rebuilt otherwise."""
        if self._fleet is not None and not self._changed:
            return self._fleet
        patched = None
        if self._fleet is not None and not self._reshaped:
            changed = [self.index(name) for name in sorted(self._changed)]
            if all(c is not None for c in changed):
                patched = fleet.patch(self._fleet, [c for c in changed if c is not None])
        if patched is None:
            built = (self.index(name) for name in self.names())
            patched = fleet.build(i for i in built if i is not None)
        self._fleet = patched
        self._changed.clear()
        self._reshaped = False
        return patched

    def resolve(
        self, refs: Sequence[str], source: str | None
    ) -> tuple[str | None, list[VirtualMachine]]:
        """Turn `namespace/name` (in `source`) or `cluster/namespace/name` references into the
        VMs the source cluster reports; every reference must name one source cluster."""
        sources = {source} if source else set()
        vms = []
        for ref in refs:
            parsed = VmReference.parse(ref)
            if parsed is None:
                raise Invalid(
                    f"VM {ref!r}: write namespace/name or cluster/namespace/name",
                    details={"vm": ref},
                    code=ErrorCode.INVALID_VM_REFERENCE,
                )
            cluster = parsed.cluster or source
            if cluster is None:
                raise Invalid(
                    f"VM {ref!r}: write cluster/namespace/name, or give source_cluster",
                    details={"vm": ref},
                    code=ErrorCode.SOURCE_CLUSTER_REQUIRED,
                )
            sources.add(cluster)
            vms.append(self._find(cluster, parsed.namespace, parsed.name, ref))
        if len(sources) > 1:
            raise Invalid(
                f"all VMs must come from one source cluster, not {', '.join(sorted(sources))}",
                details={"clusters": sorted(sources)},
                code=ErrorCode.MIXED_SOURCES,
            )
        return (sources.pop() if sources else None), vms

    def _find(self, cluster: str, namespace: str, name: str, ref: str) -> VirtualMachine:
        self.require(cluster, "source cluster")
        report = self.report(cluster)
        if report is None:
            raise NotFound(
                f"VM {ref!r}: cluster {cluster} has not reported yet, so its VMs are unknown",
                details={"vm": ref, "cluster": cluster},
                code=ErrorCode.VM_NOT_FOUND,
            )
        for vm in report.vms:
            if vm.namespace == namespace and vm.name == name:
                return vm
        raise NotFound(
            f"VM {ref!r}: cluster {cluster} reports no VM {namespace}/{name}",
            details={"vm": ref, "cluster": cluster},
            code=ErrorCode.VM_NOT_FOUND,
        )
