"""Schemas, policy files, the example fleet and the CLI, as a user meets them."""

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from hub import cli, policy_files
from hub.cli import exits, fleet_files
from hub.models import schemas

POLICIES = Path(__file__).parents[2] / "policies"


@pytest.mark.parametrize("name", sorted(schemas.documents()))
def test_exported_schema_files_match_the_models(name):
    assert (POLICIES / name).read_text() == schemas.render(schemas.documents()[name]), (
        "out of date: run `cclm schemas --write`"
    )


def test_example_reports_validate_against_the_exported_report_schema():
    schema = json.loads((POLICIES / schemas.REPORT_SCHEMA).read_text())
    folder = fleet_files.example_fleet().parent
    reports = [p for p in folder.glob("*.yaml") if p.name != "fleet.yaml"]
    assert len(reports) == 4
    for path in reports:
        jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(path.read_text()))


def test_the_default_policy_loads():
    assert policy_files.load().max_suggestions == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "headroom_percent: {cpu: 150}",
            "at headroom_percent.cpu: 150 is greater than the maximum of 100 (rule: maximum)",
        ),
        (
            "scoring: {weights: {speed: 1}}",
            "at scoring.weights: unknown key 'speed'; the keys here are: balance, headroom, "
            "locality, n_plus_one",
        ),
        (
            "headroom_precent: {cpu: 10}",
            "at (top level): unknown key 'headroom_precent' (did you mean 'headroom_percent'?)",
        ),
        (
            "staleness: {soft_seconds: 600, hard_seconds: 60}",
            "hard_seconds must be greater than staleness.soft_seconds",
        ),
        ("version: 2", "at version: 1 was expected (rule: const)"),
        ("[not, a, mapping]", "at (top level): ['not', 'a', 'mapping'] is not of type 'object'"),
        ("headroom_percent: {cpu: [", "not valid YAML"),
    ],
    ids=[
        "a value out of range",
        "an unknown key",
        "a misspelt key",
        "a cross-field rule",
        "a wrong version",
        "not a mapping",
        "broken YAML",
    ],
)
def test_a_bad_policy_names_the_file_the_path_and_the_rule(text, expected):
    with pytest.raises(policy_files.PolicyError) as caught:
        policy_files.parse(text, "site.yaml")
    assert str(caught.value).startswith("site.yaml: ")
    assert expected in str(caught.value)


def test_cli_check_prints_the_verdict_and_suggestions(capsys):
    argv = ["check", "--example", "--vm", "prod-east/shop/db-large", "--target", "prod-west"]
    assert cli.main(argv) == exits.SHORT
    out = capsys.readouterr().out
    assert "prod-west: SHORT" in out
    assert "MEMORY_SHORT: shop/db-large needs 32.3 GiB on one node" in out
    assert "1. gpu-lab" in out


def test_cli_check_json_is_a_check_result(capsys):
    assert cli.main(["check", "--example", "--vm", "prod-east/shop/web-1", "-o", "json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["target"] is None
    assert {s["cluster"] for s in result["suggestions"]} == {
        "edge-fragmented",
        "gpu-lab",
        "prod-west",
    }
    assert [s["rank"] for s in result["suggestions"]] == [1, 2, 3]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["check", "--example"], "name at least one VM"),
        (["check", "--example", "--vm", "prod-east/db"], "expected CLUSTER/NAMESPACE/NAME"),
        (["check", "--example", "--vm", "mars/shop/db"], "no cluster 'mars' in the fleet"),
        (["check", "--example", "--vm", "prod-east/shop/nope"], "reports no VM shop/nope"),
        (
            ["check", "--example", "--vm", "prod-east/shop/web-1", "--target", "prod-east"],
            "is the VMs' source cluster",
        ),
        (
            ["check", "--example", "--vm", "prod-east/shop/web-1", "--map", "ceph"],
            "expected SOURCE_CLASS=TARGET_CLASS",
        ),
        (
            ["check", "--example", "--vm", "prod-east/shop/web-1", "--policy", "/none.yaml"],
            "cannot read policy file",
        ),
        (
            ["check", "--vm", "prod-east/shop/web-1", "--target", "new-spoke"],
            "say what to check against: --hub URL (or CCLM_HUB) for a running hub, --fleet "
            "FILE for a fleet described by files, or --example",
        ),
        (
            ["check", "--example", "--fleet", "f.yaml", "--vm", "prod-east/shop/web-1"],
            "--fleet or --example, not both",
        ),
        (
            ["check", "--hub", "http://127.0.0.1:9", "--example", "--vm", "prod-east/shop/web-1"],
            "--example checks without a hub",
        ),
    ],
    ids=[
        "no VM",
        "a malformed reference",
        "an unknown cluster",
        "an unknown VM",
        "target is source",
        "bad map",
        "missing policy",
        "no fleet named",
        "two fleets",
        "a hub and the example",
    ],
)
def test_cli_bad_input_is_one_clear_message(argv, message, capsys, monkeypatch):
    monkeypatch.delenv("CCLM_HUB", raising=False)
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_cli_schemas_reports_stale_files(tmp_path, capsys):
    assert cli.main(["schemas", "--dir", str(tmp_path)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert cli.main(["schemas", "--dir", str(tmp_path), "--write"]) == 0
    assert cli.main(["schemas", "--dir", str(tmp_path)]) == 0


def test_every_subcommand_has_help(capsys):
    for command in (["--help"], ["check", "--help"], ["schemas", "--help"], ["policy", "--help"]):
        with pytest.raises(SystemExit) as done:
            cli.main(command)
        assert done.value.code == 0
    assert "usage: cclm policy" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("verdict", "status"),
    [("fits", 0), ("fits-with-warnings", 0), ("short", 3), ("blocked", 4), ("unknown", 4)],
)
def test_a_checks_exit_status_says_its_verdict(verdict, status):
    from hub.models.check import CheckResult, TargetResult

    target = TargetResult.model_construct(cluster="west", verdict=verdict)
    assert exits.of_check(CheckResult.model_construct(target=target, suggestions=())) == status


def test_without_a_target_the_status_says_whether_any_cluster_takes_the_vms(tmp_path, capsys):
    assert cli.main(["check", "--example", "--vm", "prod-east/shop/web-1"]) == 0
    assert "1. " in capsys.readouterr().out
    huge = tmp_path / "huge.yaml"
    huge.write_text("name: huge\nnamespace: shop\nguest_memory_bytes: 64Ti\n")
    assert cli.main(["check", "--example", "--vm-file", str(huge)]) == exits.SHORT
    assert "1. " not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("status", "exit_status"),
    [(400, 2), (404, 2), (409, 2), (401, 1), (403, 1), (503, 1), (None, 1)],
)
def test_a_refusal_by_the_hub_exits_as_a_local_one_would(status, exit_status):
    assert exits.of_refusal(status) == exit_status
