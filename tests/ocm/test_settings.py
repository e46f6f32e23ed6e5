"""The hub cluster's credentials, refused at start in the flag's terms when unusable."""

from pathlib import Path

import pytest

from hub.assemble import assemble
from hub.cli.serve import FLAGS
from hub.settings import HubSettings, SettingsError


@pytest.mark.parametrize("given", ["missing", "garbage"])
def test_an_unusable_kubeconfig_is_refused_naming_the_flag(tmp_path: Path, given: str) -> None:
    kubeconfig = tmp_path / "hub.kubeconfig"
    if given == "garbage":
        kubeconfig.write_text("clusters: [")
    settings = HubSettings(tmp_path / "hub.db", managed_clusters=True, kubeconfig=kubeconfig)
    with pytest.raises(SettingsError) as refused:
        assemble(settings)
    assert FLAGS[refused.value.setting] == "--kubeconfig"
    assert str(kubeconfig) in refused.value.message


def test_outside_a_pod_without_a_kubeconfig_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    settings = HubSettings(tmp_path / "hub.db", kube_auth=True)
    with pytest.raises(SettingsError) as refused:
        assemble(settings)
    assert "the pod's service account (in-cluster) cannot be used" in refused.value.message


def test_a_kubeconfig_for_nothing_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as refused:
        HubSettings(tmp_path / "hub.db", kubeconfig=tmp_path / "hub.kubeconfig")
    assert FLAGS[refused.value.setting] == "--kubeconfig"
    assert "--managed-clusters or --kube-auth" in refused.value.message
