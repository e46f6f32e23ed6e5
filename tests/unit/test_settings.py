"""Settings are validated once, where they are built, and each edge says a bad one in its own
terms: the hub's and the agent's commands name the flag, not the setting."""

from datetime import timedelta
from pathlib import Path

import pytest
from spoke_agent.assemble import ClusterParts, assemble
from spoke_agent.settings import HubConnection, SettingsError, SpokeSettings
from spoke_agent.sim import fleets

from hub.cli import main, parser
from hub.settings import HubSettings, Limits
from hub.settings import SettingsError as HubSettingsError


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ({"claim_ttl": timedelta(0)}, "claim_ttl"),
        ({"stall_after": timedelta(seconds=-1)}, "stall_after"),
        ({"list_limit": 0}, "list_limit"),
        ({"intake_workers": -1}, "intake_workers"),
    ],
    ids=["a claim that expires at once", "a negative stall", "empty lists", "negative workers"],
)
def test_a_hub_limit_out_of_range_names_itself(change: dict[str, object], setting: str) -> None:
    with pytest.raises(HubSettingsError) as raised:
        Limits(**change)  # type: ignore[arg-type]
    assert raised.value.setting == setting


def test_the_hub_maintains_itself_at_a_positive_pace_or_not_at_all() -> None:
    assert HubSettings(Path("hub.db"), maintain_every=None).maintain_every is None
    with pytest.raises(HubSettingsError, match="maintain_every"):
        HubSettings(Path("hub.db"), maintain_every=0)


@pytest.mark.parametrize(
    ("given", "said"),
    [("0", "give a duration of more than zero"), ("15 min", "give seconds (900) or a duration")],
)
def test_hub_serve_names_the_flag_of_a_bad_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], given: str, said: str
) -> None:
    with pytest.raises(SystemExit) as refused:
        main(["hub", "serve", "--db", str(tmp_path / "hub.db"), "--claim-ttl", given])
    assert refused.value.code == 2
    err = capsys.readouterr().err
    assert "argument --claim-ttl" in err
    assert said in err


@pytest.mark.parametrize(("given", "seconds"), [("900", 900), ("15m", 900), ("1h30m", 5400)])
def test_a_duration_is_seconds_or_as_kubectl_writes_it(given: str, seconds: int) -> None:
    assert parser().parse_args(["hub", "serve", "--claim-ttl", given]).claim_ttl == timedelta(
        seconds=seconds
    )


def _spoke_args(tmp_path: Path, *extra: str) -> list[str]:
    token = tmp_path / "token"
    token.write_text("cclm_x_y\n")
    return ["spoke", "run", "--hub", "https://hub.example:8480", "--cluster", "east",
            "--token-file", str(token), "--state-dir", str(tmp_path / "state"), *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        (("--hub", "hub.example:8480"), "--hub must be an http:// or https:// URL"),
        (("--token-file", "/nonexistent/token"), "--token-file /nonexistent/token: no such file"),
        (("--heartbeat", "0"), "--heartbeat must be more than zero"),
        (("--health-port", "70000"), "--health-port 70000 is not a TCP port"),
        (("--cluster", " "), "--cluster must not be empty"),
    ],
    ids=["a hub without a scheme", "a missing token", "no heartbeat", "no port", "no name"],
)
def test_spoke_run_names_the_flag_of_a_bad_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], said: str
) -> None:
    assert main([*_spoke_args(tmp_path), *extra]) == 2
    assert said in capsys.readouterr().out


def test_an_assembled_spoke_reports_only_with_a_source_and_grants_only_with_a_minter(
    tmp_path: Path,
) -> None:
    token = tmp_path / "token"
    token.write_text("cclm_x_y\n")
    settings = SpokeSettings("sim-000", HubConnection("http://127.0.0.1:1", token), tmp_path)
    cluster = fleets.fleet(1, fleets.FleetShape(clusters=1, nodes=1))[0]

    def build(*_: object) -> tuple[object, object]:
        raise AssertionError("no job runs here")

    bare = assemble(settings, ClusterParts(build))
    assert bare.agent is None
    assert bare.granter is None
    with pytest.raises(RuntimeError, match="no report source"):
        bare.reporter()
    with pytest.raises(RuntimeError, match="no minter"):
        bare.grants()
    reporting = assemble(settings, ClusterParts(build, source=cluster))
    assert reporting.reporter().cluster == "sim-000"
    assert (tmp_path / "sealing.key").is_file()


def test_spoke_settings_refuse_a_blank_cluster_before_anything_is_built(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t")
    with pytest.raises(SettingsError) as raised:
        SpokeSettings("", HubConnection("https://hub", token))
    assert raised.value.setting == "cluster"
