"""The import-linter contracts in pyproject.toml catch what their names forbid: a copy of the
source with one forbidden import planted fails `lint-imports`, naming the contract, and the
contract that keeps the spoke to the hub's wire models lists every other hub module."""

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _contracts() -> dict[str, dict[str, Any]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {c["name"]: c for c in config["tool"]["importlinter"]["contracts"]}


SPOKE = "The spoke agent uses from hub only the shared wire models"
WIRE = "The spoke agent reaches the hub's models only through the wire package"
PLANTS = [
    ("spoke-agent/spoke_agent/executor/jobs.py", "import hub.service", SPOKE),
    ("spoke-agent/spoke_agent/agent.py", "from hub.models.api import Role", WIRE),
    ("hub/access/grants.py", "import sqlite3", "SQL is spoken by the store adapters"),
    (
        "hub/migration/transitions.py",
        "import hub.store.sqlite",
        "Only the composition root chooses the store",
    ),
    ("hub/migration/transitions.py", "import time", "State transitions are pure"),
    ("spoke-agent/spoke_agent/executor/rounds.py", "import time", "The executor's state logic"),
    ("hub/capacity/fit.py", "import aiohttp", "The capacity engine and the feeds' logic are pure"),
    ("hub/fleet/inventory.py", "import hub.api.app", "The hub's layers"),
    ("hub/models/vm.py", "import hub.capacity.fit", "The hub's layers"),
    ("hub/migration/accept.py", "from hub.access import tokens", "Migration does not import"),
    ("hub/fleet/summaries.py", "import hub.migration.queries", "Fleet does not import"),
    ("hub/access/grants.py", "import hub.fleet.inventory", "Access does not import"),
    ("hub/api/jobs.py", "import hub.assemble", "The composition root is used by the process"),
]


def test_the_spoke_contract_forbids_every_hub_module_but_the_wire_models() -> None:
    hub = ROOT / "hub"
    modules = {
        f"hub.{p.stem}" if p.is_file() else f"hub.{p.name}"
        for p in hub.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    assert set(_contracts()[SPOKE]["forbidden_modules"]) == modules - {"hub.models"}


def test_the_wire_contract_forbids_every_model_module_but_the_wire_package() -> None:
    models = ROOT / "hub" / "models"
    modules = {
        f"hub.models.{p.stem}" if p.is_file() else f"hub.models.{p.name}"
        for p in models.iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()
    }
    assert set(_contracts()[WIRE]["forbidden_modules"]) == modules - {"hub.models.wire"}


@pytest.mark.parametrize(
    ("path", "line", "contract"), PLANTS, ids=[p[1] + " in " + p[0] for p in PLANTS]
)
def test_a_planted_forbidden_import_breaks_its_contract(
    tmp_path: Path, path: str, line: str, contract: str
) -> None:
    assert any(name.startswith(contract) for name in _contracts()), contract
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "hub", tmp_path / "hub", ignore=ignore)
    shutil.copytree(ROOT / "spoke-agent", tmp_path / "spoke-agent", ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    planted = tmp_path / path
    assert planted.is_file(), path
    planted.write_text(planted.read_text() + f"\n{line}  # planted\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{tmp_path / 'spoke-agent'}"}
    done = subprocess.run(
        [str(LINT), "--no-cache", "--config", "pyproject.toml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    broken = [row for row in done.stdout.splitlines() if row.endswith("BROKEN")]
    assert any(row.startswith(contract) for row in broken), done.stdout


def test_no_http_handler_reaches_into_the_store() -> None:
    """Handlers call use cases; an import contract cannot see `call.hub.store`, this can."""
    reaching = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path in sorted((ROOT / "hub" / "api").glob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr == "store"
    ]
    assert reaching == []
