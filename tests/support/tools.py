"""The real tools the operations artifacts and the console are checked with, from Debian's
packages (`prometheus`, `prometheus-alertmanager`, `chromium`), which `.ci/run` installs. A
missing tool fails the test that needs it, saying how to get it: never a silent skip."""

import shutil
from pathlib import Path

import pytest

PACKAGES = {
    "promtool": "prometheus",
    "prometheus": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "chromium": "chromium",
}
CHARTS = Path(__file__).resolve().parents[2] / "charts"
RULES = CHARTS / "hub" / "files" / "rules" / "cclm.rules.yaml"
RULE_TESTS = CHARTS / "hub" / "files" / "rules" / "tests"
DASHBOARD = CHARTS / "hub" / "files" / "dashboards" / "cclm-fleet.json"


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"{name} is not installed: apt-get install {PACKAGES[name]} (.ci/run does)",
            pytrace=False,
        )
    return found
