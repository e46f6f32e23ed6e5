"""charts/spoke-agent rendered by Helm (as a library) and validated against the Kubernetes
schemas of every supported version; its command line is one the agent accepts, its journal
is on a volume, and deploy/spoke-rbac.yaml is the rendering of its RBAC (tests/spoke/
test_rbac.py holds those rules to what the code asks)."""

from pathlib import Path
from typing import Any

import helm_python as helm
import pytest
from spoke_agent.cli import settings_of
from spoke_agent.drivers.kubernetes import DriverSettings

from hub.cli import parser
from hub.models.api import NAME_PATTERN
from tests.support import charts

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
EVERYTHING: dict[str, Any] = {
    **charts.SPOKE_REQUIRED,
    "hub": {"url": "https://cclm.apps.example.com", "caBundle": PEM},
    "apiServer": {"url": "https://api.east.example.com:6443"},
    "syncAddresses": {"west": "west-sync.example.com:9185"},
    "storagePools": {"ceph-rbd": "20Ti:8Ti"},
    "filesystemOverheads": {"nfs": 0.1},
    "persistence": {"size": "5Gi", "storageClass": "fast"},
    "rsync": {"image": "registry.example.com/cclm/rsync:1"},
    "metrics": {"serviceMonitor": {"enabled": True}},
}
CUSTOM_RESOURCES = {"ServiceMonitor"}
SERVICE_ACCOUNT_CA = Path("/var/run/secrets/kubernetes.io/serviceaccount/ca.crt")


def agent(documents: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = charts.one(documents, "Deployment")["spec"]["template"]["spec"]
    return found


@pytest.mark.parametrize("values", [charts.SPOKE_REQUIRED, EVERYTHING], ids=["least", "everything"])
@pytest.mark.parametrize("version", charts.KUBERNETES)
def test_every_object_is_valid_kubernetes(values: dict[str, Any], version: str) -> None:
    documents = charts.render(charts.SPOKE, values, namespace="cclm-system")
    checked = [d for d in documents if d["kind"] not in CUSTOM_RESOURCES]
    assert [e for d in checked if (e := charts.invalid(d, version))] == []


def test_one_agent_whose_journal_survives_it() -> None:
    documents = charts.render(charts.SPOKE, charts.SPOKE_REQUIRED)
    deployment = charts.one(documents, "Deployment")["spec"]
    assert deployment["replicas"] == 1
    assert deployment["strategy"] == {"type": "Recreate"}
    pod = agent(documents)
    args = parser().parse_args(pod["containers"][0]["args"])
    mounts = {m["mountPath"]: m["name"] for m in pod["containers"][0]["volumeMounts"]}
    claim = charts.one(documents, "PersistentVolumeClaim")["metadata"]["name"]
    assert {"name": mounts[str(args.state_dir)], "persistentVolumeClaim": {"claimName": claim}} in (
        pod["volumes"]
    )
    assert pod["serviceAccountName"] == "cclm-spoke"
    assert pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is True


@pytest.mark.parametrize("values", [charts.SPOKE_REQUIRED, EVERYTHING], ids=["least", "everything"])
def test_the_command_line_is_one_the_agent_accepts(values: dict[str, Any], tmp_path: Path) -> None:
    documents = charts.render(charts.SPOKE, values, namespace="virt-ops")
    pod = agent(documents)
    args = parser().parse_args(pod["containers"][0]["args"])
    mounts = {m["name"]: Path(m["mountPath"]) for m in pod["containers"][0]["volumeMounts"]}
    assert args.token_file.parent == mounts["token"]
    secret = next(v["secret"] for v in pod["volumes"] if v["name"] == "token")
    assert secret["items"] == [{"key": "token", "path": args.token_file.name}]
    # The files the kubelet would mount, so the agent's own checks of them run.
    args.token_file = tmp_path / "token"
    args.token_file.write_text("cclm_0123456789abcdef_secret\n")
    if args.ca_file:
        assert Path(args.ca_file).parent == mounts["ca"]
        args.ca_file = str(tmp_path / "ca.crt")
        Path(args.ca_file).write_text(values["hub"]["caBundle"])
    if args.api_ca_file:
        # The in-cluster CA, which the kubelet mounts into every pod of a ServiceAccount.
        assert args.api_ca_file == SERVICE_ACCOUNT_CA
        args.api_ca_file = tmp_path / "api-ca.crt"
        args.api_ca_file.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = settings_of(args)
    assert (settings.cluster, settings.hub.url) == ("east", values["hub"]["url"])
    assert settings.access.grant_namespace == "virt-ops"
    assert settings.driver.rsync_image == (values.get("rsync") or {}).get(
        "image", DriverSettings().rsync_image
    )
    if values is EVERYTHING:
        assert settings.access.api_url == "https://api.east.example.com:6443"
        assert settings.access.sync_addresses == {"west": "west-sync.example.com:9185"}


def test_rbac_follows_the_release_namespace() -> None:
    documents = charts.render(charts.SPOKE, charts.SPOKE_REQUIRED, namespace="virt-ops")
    for binding in charts.by_kind(documents, "ClusterRoleBinding") + charts.by_kind(
        documents, "RoleBinding"
    ):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": "cclm-spoke", "namespace": "virt-ops"}
        ]
    assert charts.one(documents, "Role")["metadata"]["namespace"] == "virt-ops"


def test_deploy_rbac_is_the_charts_rendering() -> None:
    assert charts.DEPLOY_RBAC.read_text() == charts.deploy_rbac(), (
        "deploy/spoke-rbac.yaml differs from charts/spoke-agent: run "
        "`python -m tests.support.charts` and commit the result"
    )


def test_the_cluster_name_rule_is_the_hubs() -> None:
    with charts.loaded(charts.SPOKE) as chart:
        chart.validate_schema({**charts.SPOKE_REQUIRED, "cluster": "prod-east.dc1"})
    pattern = NAME_PATTERN.removeprefix("^").removesuffix("$")
    schema = (charts.SPOKE / "values.schema.json").read_text()
    assert f"^({pattern})?$".replace("\\", "\\\\") in schema


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({}, "hub.url is required"),
        ({**charts.SPOKE_REQUIRED, "cluster": ""}, "cluster is required"),
        ({**charts.SPOKE_REQUIRED, "token": {}}, "token.existingSecret is required"),
        ({**charts.SPOKE_REQUIRED, "cluster": "East_1"}, "/cluster"),
        ({**charts.SPOKE_REQUIRED, "hub": {"url": "hub:8480"}}, "/hub/url"),
        ({**charts.SPOKE_REQUIRED, "hub": {"url": "https://h", "caBundle": "x"}}, "/hub/caBundle"),
        ({**charts.SPOKE_REQUIRED, "heartbeatSeconds": 0}, "/heartbeatSeconds"),
        ({**charts.SPOKE_REQUIRED, "storagePools": {"ceph": "lots"}}, "/storagePools/ceph"),
    ],
)
def test_a_bad_value_is_refused_naming_it(values: dict[str, Any], said: str) -> None:
    with pytest.raises((helm.HelmValuesError, helm.HelmRenderError)) as refused:
        charts.render(charts.SPOKE, values)
    assert said in str(refused.value)


def test_the_chart_lints_clean() -> None:
    report = helm.lint(charts.SPOKE, EVERYTHING, strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] >= 2] == []
