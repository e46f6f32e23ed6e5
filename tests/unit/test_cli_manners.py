"""The command line as a person meets it: the hub's answers in its terms (a flag or a command,
never a request field or an endpoint), its help, its output forms."""

import pytest

from hub.cli import hints
from hub.cli.client import ClientError
from hub.cli.usage import UsageError


def test_acknowledgements_are_flags() -> None:
    refused = ClientError(
        409,
        "acknowledgement_required",
        "the check of prod-west found what must be acknowledged to proceed: MEMORY_SHORT "
        "(...). To proceed anyway, repeat the request with acknowledge: ['MEMORY_SHORT', "
        "'STORAGE_SHORT']",
        {"acknowledge": ["MEMORY_SHORT", "STORAGE_SHORT"]},
    )
    said = hints.said(refused)
    assert said.endswith("run it again with --ack MEMORY_SHORT --ack STORAGE_SHORT")
    assert "acknowledge:" not in said


def test_an_endpoint_is_the_command_that_calls_it() -> None:
    taken = ClientError(
        409,
        "cluster_exists",
        "cluster 'prod-east' is already registered; to issue a new token use POST "
        "/api/v1/clusters/prod-east/token",
    )
    assert hints.said(taken).endswith("to issue a new token run: cclm clusters token prod-east")


def test_a_missing_token_names_the_flag_and_the_variable() -> None:
    said = hints.said(
        ClientError(401, "missing_token", "send a token: Authorization: Bearer <token>")
    )
    assert "--token-file FILE or CCLM_TOKEN" in said


def test_an_untrusted_certificate_names_ca_file() -> None:
    unreachable = ClientError(
        0,
        "unreachable",
        "cannot reach the hub at https://hub:8480: Cannot connect to host hub:8480 ssl:True "
        "[SSLCertVerificationError: (1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify "
        "failed: self-signed certificate')]",
    )
    said = hints.said(unreachable)
    assert said.startswith("cannot reach the hub at https")
    assert "--ca-file FILE" in said


@pytest.mark.parametrize(
    ("given", "meant"),
    [("127.0.0.1:8480", "http://127.0.0.1:8480"), ("hub.example:8480", "http://hub.example:8480")],
)
def test_a_hub_without_a_scheme_shows_the_url_meant(given: str, meant: str) -> None:
    with pytest.raises(
        UsageError, match=f"--hub '{given}': give the URL with its scheme, such as {meant}"
    ):
        hints.hub_url(given)
    assert hints.hub_url(meant) == meant


def test_a_tasks_text_shows_each_vms_message() -> None:
    from datetime import UTC, datetime

    from hub.cli import render
    from hub.models.api import State, Task, TaskVm
    from hub.models.check import Mode

    now = datetime(2026, 12, 2, tzinfo=UTC)
    vm = TaskVm(vm="shop/db", mode=Mode.OFFLINE, message="switched to an offline copy: stopped")
    shown = render.task(
        Task(
            id="task-1",
            migration_id="mig-1",
            source_cluster="east",
            target_cluster="west",
            state=State.RUNNING,
            message="copying",
            progress=40,
            vms=(vm,),
            created_at=now,
            updated_at=now,
        )
    )
    assert "shop/db [offline] pending; switched to an offline copy: stopped" in shown


def test_version_says_the_release(capsys: pytest.CaptureFixture[str]) -> None:
    from hub.cli import main

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("cclm 0.")


def test_yaml_output_is_the_same_data_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import yaml

    from hub.cli import main

    argv = ["check", "--example", "--vm", "prod-east/shop/web-1"]
    assert main([*argv, "-o", "json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert main([*argv, "-o", "yaml"]) == 0
    assert yaml.safe_load(capsys.readouterr().out) == as_json


@pytest.mark.parametrize(
    ("command", "actions"),
    [
        ("migrations", ["list", "show", "cancel"]),
        ("tasks", ["list", "show"]),
        ("tokens", ["list", "create", "revoke"]),
    ],
)
def test_help_lists_every_subcommand(
    command: str, actions: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from hub.cli import main

    with pytest.raises(SystemExit):
        main([command, "--help"])
    listed = capsys.readouterr().out
    for action in actions:
        assert f"\n    {action} " in listed, action


@pytest.mark.parametrize(
    ("vm", "meant"),
    [
        ("prod-est/shop/web-1", "(did you mean 'prod-east' or 'prod-west'?)"),
        ("prod-east/shop/web1", "(did you mean 'shop/web-1'"),
    ],
)
def test_a_near_miss_says_what_was_likely_meant(
    vm: str, meant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from hub.cli import main

    assert main(["check", "--example", "--vm", vm]) == 2
    assert meant in capsys.readouterr().err


async def test_the_hub_says_which_cluster_was_likely_meant() -> None:
    from datetime import UTC, datetime

    from hub.errors import NotFound
    from hub.fleet.inventory import Entry, Inventory

    inventory = Inventory()
    for name in ("prod-east", "prod-west", "lab"):
        inventory.put(Entry(name, {}, datetime(2026, 12, 2, tzinfo=UTC)))
    with pytest.raises(NotFound) as missing:
        inventory.require("prod-wset", "target")
    assert "did you mean 'prod-west'?" in missing.value.message
    assert missing.value.details["did_you_mean"] == "prod-west"


@pytest.mark.parametrize(
    ("selector", "labels", "selected"),
    [
        ("env=prod", {"env": "prod"}, True),
        ("env==prod,tier!=db", {"env": "prod", "tier": "db"}, False),
        ("region in (east, west)", {"region": "west"}, True),
        ("region notin (east,west)", {"region": "west"}, False),
        ("gpu", {"gpu": "true"}, True),
        ("!legacy,env=prod", {"env": "prod", "legacy": "1"}, False),
    ],
)
def test_a_selector_reads_as_kubectl_does(
    selector: str, labels: dict[str, str], selected: bool
) -> None:
    from hub.capacity.constraints import requirement_holds
    from hub.cli import selectors

    assert all(requirement_holds(r, labels) for r in selectors.parse(selector)) is selected


@pytest.mark.parametrize("selector", ["env=(a)", "region in ()", "a b"])
def test_a_selector_it_cannot_read_says_the_syntax(selector: str) -> None:
    from hub.cli import selectors

    with pytest.raises(UsageError, match="-l"):
        selectors.parse(selector)
