"""The acceptance cases of `shared/scenarios/vm-state-changes.yaml`, loaded from where the
project keeps them (never copied): `$CCLM_SCENARIOS`, else `shared/scenarios` beside the
checkout, else the workspace's `/work/shared/scenarios`."""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

FILE = "vm-state-changes.yaml"
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Case:
    id: str
    vms: dict[str, bool]
    """short name -> running at the start"""
    when: str
    change: dict[str, bool]
    """short name -> running after the change"""
    expect: tuple[str, ...]


def directory() -> Path:
    candidates = [
        os.environ.get("CCLM_SCENARIOS", ""),
        str(ROOT.parent / "shared" / "scenarios"),
        "/work/shared/scenarios",
    ]
    for candidate in candidates:
        if candidate and (Path(candidate) / FILE).is_file():
            return Path(candidate)
    raise FileNotFoundError(
        f"{FILE} not found; set CCLM_SCENARIOS to the folder that holds it (looked in "
        f"{', '.join(c for c in candidates if c)})"
    )


def load() -> list[Case]:
    data: dict[str, Any] = yaml.safe_load((directory() / FILE).read_text())
    return [_case(raw) for raw in data["cases"]]


def _case(raw: dict[str, Any]) -> Case:
    def states(values: dict[str, str], on: str, off: str) -> dict[str, bool]:
        unknown = set(values.values()) - {on, off}
        if unknown:
            raise ValueError(f"case {raw['id']}: unknown state {unknown}")
        return {vm: value == on for vm, value in values.items()}

    return Case(
        id=raw["id"],
        vms=states(raw["vms"], "running", "stopped"),
        when=raw["when"],
        change=states(raw["change"], "start", "stop"),
        expect=tuple(raw["expect"]),
    )
