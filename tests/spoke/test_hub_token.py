"""`cclm spoke fetch-token` against an emulated OCM hub cluster over HTTP (official client):
the agent's token copied from its Secret, owner-only, and said plainly when it cannot be."""

import asyncio
import base64
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import kmock
import pytest

from hub.cli import main
from tests.support import charts
from tests.support import hub_cluster as hc
from tests.support.rbac import Grant, ask_of

TOKEN = "cclm_0123456789abcdef_the-secret-part"


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[tuple[kmock.KubernetesEmulator, Path]]:
    async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
        hc.declare(emulator)
        yield emulator, hc.kubeconfig(tmp_path / "hub.kubeconfig", server)


def put_secret(emulator: kmock.KubernetesEmulator, data: dict[str, str]) -> None:
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
    emulator.objects["v1/secrets", "east", "cclm-spoke-token"] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "cclm-spoke-token", "namespace": "east"},
        "data": encoded,
    }


async def fetch(kubeconfig: Path, out: Path, *extra: str) -> int:
    argv = ["spoke", "fetch-token", f"--kubeconfig={kubeconfig}", "--namespace=east"]
    return await asyncio.to_thread(main, [*argv, f"--out={out}", *extra])


async def test_the_token_is_copied_owner_only(
    cluster: tuple[kmock.KubernetesEmulator, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator, kubeconfig = cluster
    put_secret(emulator, {"token": TOKEN + "\n"})
    out = tmp_path / "token" / "token"
    assert await fetch(kubeconfig, out) == 0
    assert out.read_text() == TOKEN + "\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert f"token written to {out}" in capsys.readouterr().out
    assert await fetch(kubeconfig, out) == 0
    assert f"token unchanged in {out}" in capsys.readouterr().out
    put_secret(emulator, {"token": TOKEN + "-new"})
    assert await fetch(kubeconfig, out) == 0
    assert out.read_text() == TOKEN + "-new\n"
    assert [p.name for p in out.parent.iterdir()] == ["token"]


async def test_what_cannot_be_read_is_said_plainly(
    cluster: tuple[kmock.KubernetesEmulator, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    emulator, kubeconfig = cluster
    out = tmp_path / "token"
    assert await fetch(kubeconfig, out) == 1
    assert (
        "cannot read Secret east/cclm-spoke-token on the hub cluster: 404"
        in capsys.readouterr().out
    )
    put_secret(emulator, {"other": "x"})
    assert await fetch(kubeconfig, out) == 1
    assert "holds no key 'token'" in capsys.readouterr().out
    assert not out.exists()
    assert await fetch(tmp_path / "missing.kubeconfig", out) == 2
    assert "--kubeconfig" in capsys.readouterr().out
    assert await fetch(kubeconfig, out, "--every=0") == 2


async def test_it_asks_only_what_the_addons_hub_role_grants(
    cluster: tuple[kmock.KubernetesEmulator, Path], tmp_path: Path
) -> None:
    emulator, kubeconfig = cluster
    put_secret(emulator, {"token": TOKEN})
    assert await fetch(kubeconfig, tmp_path / "token") == 0
    values = {"hub": {"url": "https://cclm.example.com"}, "addon": {"enabled": True}}
    roles = charts.by_kind(charts.render(charts.SPOKE, values), "ClusterRole")
    (reader,) = [r for r in roles if r["metadata"]["name"] == "cclm-spoke-token-reader"]
    # OCM binds it in the cluster's own namespace on the hub cluster (CurrentCluster).
    held = [Grant("east", rule) for rule in reader["rules"]]
    asks = [ask_of(r) for r in emulator]
    assert asks
    assert [a for a in asks if not any(g.allows(a) for g in held)] == []
    assert [atom for g in held for atom in g.unused(asks)] == []
