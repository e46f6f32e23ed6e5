"""A fleet described by files: `fleet.yaml` lists clusters, their labels and report files.

This is how the example fleet ships and how a check can run with no hub at all; a report
file is read as if it had just been received, since the files carry no receipt time.
"""

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path

import pydantic
import yaml

from hub import validation
from hub.capacity import fleet, index
from hub.models import report
from hub.models.report import CapacityReport


class FleetFileError(ValueError):
    """A fleet or report file that cannot be used; the message names the file and the field."""


def example_fleet() -> Path:
    return Path(__file__).parent.parent / "examples" / "fleet" / "fleet.yaml"


def _read(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text())
    except OSError as error:
        raise FleetFileError(f"{path}: cannot read: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise FleetFileError(f"{path}: not valid YAML or JSON: {error}") from error


def read_report(path: Path) -> CapacityReport:
    try:
        return report.parse(_read(path))
    except pydantic.ValidationError as error:
        raise FleetFileError(validation.lines(error, str(path))) from error


def read(path: Path) -> list[tuple[CapacityReport, Mapping[str, str]]]:
    document = _read(path)
    entries = document.get("clusters") if isinstance(document, dict) else None
    if not isinstance(entries, list):
        raise FleetFileError(f"{path}: expected a mapping with a 'clusters' list")
    out: list[tuple[CapacityReport, Mapping[str, str]]] = []
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("report"), str):
            raise FleetFileError(
                f"{path}: clusters[{position}] needs 'name', 'labels' and 'report'"
            )
        report = read_report(path.parent / entry["report"])
        if report.cluster != entry.get("name"):
            raise FleetFileError(
                f"{path}: clusters[{position}] is named {entry.get('name')!r} "
                "but its report is for "
                f"{report.cluster!r}"
            )
        labels = entry.get("labels") or {}
        if not isinstance(labels, dict):
            raise FleetFileError(f"{path}: clusters[{position}].labels must be a mapping")
        out.append((report, {str(k): str(v) for k, v in labels.items()}))
    return out


def load(path: Path, received_at: datetime) -> tuple[fleet.FleetIndex, dict[str, CapacityReport]]:
    entries = read(path)
    indexes = [index.build(report, labels, received_at) for report, labels in entries]
    return fleet.build(indexes), {report.cluster: report for report, _ in entries}
