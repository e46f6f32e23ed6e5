"""A real Prometheus scrapes `cclm demo` (a hub and its agents, with the example
fleet, a finished migration and simulated clusters) with the configuration the demo writes,
and loads the shipped rules. Every dashboard panel's query must run and return series, every
series the rules select must exist, and every rule must evaluate without error: what a
newcomer pointing Prometheus and Grafana at the demo would see filled."""

import json
import re
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support import ports
from tests.support.demo import running as running_demo
from tests.support.tools import DASHBOARD, RULES, tool

GRAFANA = {"$__rate_interval": "15s", "$__range": "5m", "$__interval": "5s", "$cluster": ".*"}
SELECTOR = re.compile(r'\b((?:cclm_|up\b)[a-z0-9_]*)\s*(\{(?:[^}"]|"[^"]*")*\})?')
"""A metric and its matchers; a quoted value may hold braces (a route's `{name}`)."""
EXACT = re.compile(r'[a-z_]+\s*=\s*"[^"]*"')
MATCHER = re.compile(r'([a-z_]+)\s*(=~|!~|!=|=)\s*"')


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def _wait(check: Any, what: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        try:
            result = check()
            if result:
                return result
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds:.0f} s for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("demo")
    with running_demo(home):
        yield home


@pytest.fixture(scope="module")
def prometheus(demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prometheus on the demo's own configuration, scraping every second for the test."""
    where = tmp_path_factory.mktemp("prometheus")
    config = yaml.safe_load((demo / "prometheus.yml").read_text())
    assert config["rule_files"] == [str(RULES)], "the demo loads the shipped rules"
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    (where / "prometheus.yml").write_text(yaml.safe_dump(config))
    url = f"http://127.0.0.1:{ports.free()}"
    command = [tool("prometheus"), f"--config.file={where / 'prometheus.yml'}"]
    command += [f"--storage.tsdb.path={where / 'data'}", f"--web.listen-address={url[7:]}"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        targets = len(config["scrape_configs"][0]["static_configs"][0]["targets"]) + len(
            config["scrape_configs"][1]["static_configs"][0]["targets"]
        )

        def scraped_thrice() -> bool:
            found = _get(f"{url}/api/v1/query?query=count_over_time(up[1m])")["data"]["result"]
            return len(found) == targets and all(float(r["value"][1]) >= 8 for r in found)

        _wait(scraped_thrice, "Prometheus to scrape the hub and every agent", 60)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=30)


def _query(url: str, expr: str) -> Any:
    answer = _get(f"{url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
    assert answer["status"] == "success", (expr, answer)
    return answer["data"]["result"]


def _panels() -> Iterator[tuple[str, str]]:
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", ()):
            expr = target["expr"]
            for variable, value in GRAFANA.items():
                expr = expr.replace(variable, value)
            yield panel["title"], expr


def _rule_exprs() -> list[str]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def test_every_target_is_up(prometheus: str) -> None:
    up = _query(prometheus, "up")
    assert {r["metric"]["job"] for r in up} == {"cclm-hub", "cclm-spoke-agent"}
    assert all(r["value"][1] == "1" for r in up), up


def test_every_dashboard_panel_query_returns_series(prometheus: str) -> None:
    empty = [(title, expr) for title, expr in _panels() if not _query(prometheus, expr)]
    assert empty == [], "panels a newcomer would see empty"


def test_the_cluster_variable_lists_the_demo_fleet(prometheus: str) -> None:
    query = urllib.parse.urlencode({"match[]": "cclm_cluster_freshness"})
    values = _get(f"{prometheus}/api/v1/label/cluster/values?{query}")["data"]
    assert {"prod-east", "gpu-lab", "sim-000"} <= set(values)


def test_every_series_a_rule_selects_exists(prometheus: str) -> None:
    """A rule on a misspelled metric or label value never fires: each selector must match,
    but for its regular-expression matchers (`status=~"5.."` rightly matches nothing in a
    healthy demo; the next test checks their label names)."""
    missing = []
    for expr in _rule_exprs():
        for name, matchers in SELECTOR.findall(expr):
            exact = EXACT.findall(matchers)
            selector = name + ("{" + ", ".join(exact) + "}" if exact else "")
            if not _query(prometheus, selector):
                missing.append(selector)
    assert missing == []


def test_every_rule_evaluates_without_error(prometheus: str) -> None:
    def evaluated() -> list[Any]:
        groups = _get(f"{prometheus}/api/v1/rules")["data"]["groups"]
        rules = [rule for group in groups for rule in group["rules"]]
        return (
            rules if all(rule.get("lastEvaluation", "").startswith("2") for rule in rules) else []
        )

    rules = _wait(evaluated, "every rule to be evaluated")
    assert len(rules) == len(_rule_exprs())
    assert [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"] == []


def _exported(demo: Path) -> dict[str, set[str]]:
    """Every metric the demo's hub and agents export, with the label names it carries."""
    config = yaml.safe_load((demo / "prometheus.yml").read_text())
    names: dict[str, set[str]] = {}
    for job in config["scrape_configs"]:
        for target in job["static_configs"][0]["targets"]:
            with urllib.request.urlopen(f"http://{target}/metrics", timeout=10) as answer:
                text = answer.read().decode()
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    names.setdefault(sample.name, set()).update(sample.labels)
    return names


def test_every_metric_the_dashboard_and_rules_name_is_exported_with_its_labels(
    demo: Path,
) -> None:
    exported = _exported(demo)
    queries = [expr for _, expr in _panels()] + _rule_exprs()
    wrong = []
    for expr in queries:
        for name, matchers in SELECTOR.findall(expr):
            if name == "up":
                continue
            labels = {label for label, _ in MATCHER.findall(matchers)}
            if name not in exported or not labels <= exported[name]:
                wrong.append(f"{name}{matchers}")
    by_clause = re.compile(r"\b(?:by|on|without)\s*\(([^)]*)\)")
    used = {
        label.strip()
        for expr in queries
        for group in by_clause.findall(expr)
        for label in group.split(",")
    }
    every = set().union(*exported.values()) | {"instance", "job", ""}
    assert wrong == [], "selectors naming a metric or label nothing exports"
    assert used - every == set(), "grouping labels nothing exports"


def test_the_demo_stays_up_with_an_admin_token_only_its_owner_reads(demo: Path) -> None:
    for token in [demo / "admin.token", *demo.glob("*.token")]:
        assert token.stat().st_mode & 0o077 == 0, token
    config = yaml.safe_load((demo / "prometheus.yml").read_text())
    hub = config["scrape_configs"][0]["static_configs"][0]["targets"][0]
    request = urllib.request.Request(
        f"http://{hub}/api/v1/clusters",
        headers={"Authorization": f"Bearer {(demo / 'admin.token').read_text().strip()}"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        names = {c["name"] for c in json.loads(answer.read())["items"]}
    assert {"prod-east", "prod-west", "gpu-lab", "sim-000"} <= names
