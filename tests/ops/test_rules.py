"""The shipped alert rules, checked by Prometheus' own tool: they load, every alert fires in
a unit test on the series that should raise it (and stays quiet on the rest), and each test
checks the text on-call reads."""

import subprocess

import yaml

from tests.support.tools import RULE_TESTS, RULES, tool


def test_the_rules_load() -> None:
    done = subprocess.run(
        [tool("promtool"), "check", "rules", str(RULES)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_passes_its_unit_tests() -> None:
    files = sorted(RULE_TESTS.glob("*.yaml"))
    assert files
    done = subprocess.run(
        [tool("promtool"), "test", "rules", *map(str, files)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_alert_has_a_test_that_expects_it_to_fire_with_its_text() -> None:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    alerts = {rule["alert"] for group in groups for rule in group["rules"] if "alert" in rule}
    fired: set[str] = set()
    for path in RULE_TESTS.glob("*.yaml"):
        for case in yaml.safe_load(path.read_text())["tests"]:
            for expectation in case.get("alert_rule_test", ()):
                expected = expectation.get("exp_alerts") or []
                if any("exp_annotations" in e for e in expected):
                    fired.add(expectation["alertname"])
    assert alerts - fired == set(), "alerts no test expects to fire, with their annotations"


def test_every_alert_says_how_bad_and_what_to_do() -> None:
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
            assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
