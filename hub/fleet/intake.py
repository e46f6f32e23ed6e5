"""Report intake: inflate, validate, and compress for storage, in worker processes so ingest
uses more than one core.

Validating a 100-node report is most of what ingest costs; in one process it caps the hub
near 600 reports/s. Workers answer only what the hub needs right away (cluster, sequence, or
the problem) plus the report gzipped for the store; the hub parses a report again only when
a check or a summary needs that cluster, once per report.
"""

import multiprocessing
import os
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import pydantic

from hub import payloads, validation
from hub.capacity import drift, index, index_form
from hub.models import report as report_model
from hub.models.report import CapacityReport
from hub.models.wire.codes import ErrorCode
from hub.settings import Bounds

DEFAULT_BOUNDS = Bounds()


@dataclass(frozen=True, slots=True)
class Inspected:
    cluster: str = ""
    sequence: int = -1
    stored: bytes = b""
    error_code: str = ""
    error_message: str = ""
    problems: tuple[dict[str, Any], ...] = ()
    report: CapacityReport | None = None
    form: bytes = b""
    """The report's unclaimed fit index (`hub.capacity.index_form`), built here, off the
    hub's event loop: a 5,000-node report costs ~120 ms to parse and index, its form 0.4 ms
    to load."""


def _beyond(report: CapacityReport, bounds: Bounds) -> Inspected | None:
    for what, listed, most in (
        ("nodes", len(report.nodes), bounds.nodes),
        ("VMs", len(report.vms), bounds.vms),
        ("pending virt-launcher pods", len(report.pending_launchers), bounds.pending_launchers),
    ):
        if listed > most:
            return Inspected(
                error_code=ErrorCode.PAYLOAD_TOO_LARGE,
                error_message=f"the report lists {listed:,} {what}; this hub takes at most "
                f"{most:,} per report",
            )
    return None


def inspect(
    body: bytes,
    encoding: str,
    limit: int,
    keep_report: bool = False,
    bounds: Bounds = DEFAULT_BOUNDS,
) -> Inspected:
    try:
        raw = payloads.inflate(body, encoding, limit)
    except payloads.PayloadError as error:
        return Inspected(error_code=error.code, error_message=error.message)
    try:
        report = report_model.parse_json(raw)
    except pydantic.ValidationError as error:
        problems = validation.problems(error)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return Inspected(
            error_code=ErrorCode.INVALID_REPORT,
            error_message="the report does not match the CapacityReport schema (v2, or v1): "
            f"{problems[0]['field']}: {problems[0]['problem']}{more}",
            problems=tuple(problems),
        )
    beyond = _beyond(report, bounds)
    if beyond is not None:
        return beyond
    gzipped = encoding.strip().lower() == "gzip" and body.startswith(payloads.GZIP_MAGIC)
    stored = body if gzipped else None
    unclaimed = index.unclaimed(report, {}, report.generated_at)
    return Inspected(
        cluster=report.cluster,
        sequence=report.sequence,
        stored=stored or payloads.gzip(raw),
        report=report if keep_report else None,
        form=index_form.encode(
            unclaimed,
            report.generated_at,
            len(report.vms),
            drift.drifted(report.vms, unclaimed.target),
        ),
    )


def _follow_parent(parent: int) -> None:
    """Exit when the hub is gone, even if it was killed without a chance to stop us."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="follow-hub", daemon=True).start()


def pool(workers: int) -> Executor:
    """Fresh interpreters (`spawn`): forking a process that runs threads and an event loop is
    not safe. Workers leave with the hub, however it ends."""
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_follow_parent,
        initargs=(os.getpid(),),
    )
