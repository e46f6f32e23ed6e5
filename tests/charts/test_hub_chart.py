"""charts/hub rendered by Helm (as a library) with its defaults and with everything on, each
object validated against the Kubernetes schemas of every supported version, and the parts
that must agree with the code checked against the code: the command line the pod runs, the
probes' routes, the rules and dashboard it installs."""

import json
import subprocess
from datetime import timedelta
from typing import Any

import celpy
import helm_python as helm
import pytest
import yaml

from hub import policy_files
from hub.api.app import routes
from hub.cli import parser
from tests.support import charts
from tests.support.tools import DASHBOARD, RULES, tool

EVERYTHING: dict[str, Any] = {
    "replicaCount": 3,
    "database": {"existingSecret": "cclm-db", "existingSecretKey": "uri"},
    "tls": {"existingSecret": "cclm-hub-tls"},
    "policy": {"version": 1, "headroom_percent": {"cpu": 20, "memory": 15, "storage": 10}},
    "alertmanagers": ["http://alertmanager-operated.monitoring:9093"],
    "publicUrl": "https://cclm.apps.example.com",
    "metrics": {
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "prometheusRule": {"enabled": True},
        "dashboard": {"enabled": True},
    },
    "ingress": {"enabled": True, "host": "cclm.example.com", "tlsSecret": "cclm-ingress-tls"},
    "route": {"enabled": True, "host": "cclm.apps.example.com"},
    "networkPolicy": {"from": [{"namespaceSelector": {"matchLabels": {"team": "virt"}}}]},
    "nodeSelector": {"node-role.kubernetes.io/infra": ""},
    "managedClusters": {"enabled": True},
    "kubeAuth": {"enabled": True},
    "claimTtlSeconds": 1_000_000,
}
CUSTOM_RESOURCES = {"ServiceMonitor", "PrometheusRule", "Route"}
"""Kinds of other projects' CRDs, whose schemas kubernetes-validate does not have: held to
their parts by the tests below instead (promtool for the rules)."""


def container(documents: list[dict[str, Any]]) -> dict[str, Any]:
    spec = charts.one(documents, "Deployment")["spec"]["template"]["spec"]
    found: dict[str, Any] = spec["containers"][0]
    return found


def env(documents: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container(documents)["env"]}


@pytest.mark.parametrize("values", [{}, EVERYTHING], ids=["defaults", "everything"])
@pytest.mark.parametrize("version", charts.KUBERNETES)
def test_every_object_is_valid_kubernetes(values: dict[str, Any], version: str) -> None:
    if values and version < "1.30":
        # ValidatingAdmissionPolicy is GA from 1.30; before, the value turns it off.
        values = {**values, "managedClusters": {"enabled": True, "admissionPolicy": False}}
    documents = charts.render(charts.HUB, values)
    checked = [d for d in documents if d["kind"] not in CUSTOM_RESOURCES]
    assert checked
    assert [e for d in checked if (e := charts.invalid(d, version))] == []


def test_defaults_are_one_hub_on_its_own_volume() -> None:
    documents = charts.render(charts.HUB)
    kinds = sorted(d["kind"] for d in documents)
    assert kinds == [
        "Deployment",
        "NetworkPolicy",
        "PersistentVolumeClaim",
        "PodDisruptionBudget",
        "Service",
        "ServiceAccount",
    ]
    deployment = charts.one(documents, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert env(documents)["CCLM_DB"] == "/var/lib/cclm/hub.db"
    claim = charts.one(documents, "PersistentVolumeClaim")["metadata"]["name"]
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": claim}} in volumes


def test_replicas_share_postgresql_from_the_secret() -> None:
    documents = charts.render(charts.HUB, EVERYTHING)
    deployment = charts.one(documents, "Deployment")
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"] == {"type": "RollingUpdate"}
    assert env(documents)["CCLM_DB"] == {"secretKeyRef": {"name": "cclm-db", "key": "uri"}}
    assert charts.by_kind(documents, "PersistentVolumeClaim") == []


def test_the_pod_is_locked_down() -> None:
    documents = charts.render(charts.HUB)
    pod = charts.one(documents, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    hardened = container(documents)["securityContext"]
    assert hardened["readOnlyRootFilesystem"] is True
    assert hardened["allowPrivilegeEscalation"] is False
    assert hardened["capabilities"] == {"drop": ["ALL"]}
    assert container(documents)["resources"]["requests"]


def test_probes_ask_the_routes_the_hub_serves() -> None:
    served = {r.path for r in routes() if r.method == "GET"}
    for values, scheme in (({}, "HTTP"), (EVERYTHING, "HTTPS")):
        hub = container(charts.render(charts.HUB, values))
        assert hub["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert hub["readinessProbe"]["httpGet"]["path"] == "/readyz"
        for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
            assert hub[probe]["httpGet"]["path"] in served
            assert hub[probe]["httpGet"]["scheme"] == scheme


@pytest.mark.parametrize("values", [{}, EVERYTHING], ids=["defaults", "everything"])
def test_the_command_line_is_one_the_hub_accepts(values: dict[str, Any]) -> None:
    args = parser().parse_args(container(charts.render(charts.HUB, values))["args"])
    assert (args.command, args.action, args.host) == ("hub", "serve", "0.0.0.0")
    if values:
        assert args.tls_cert == "/etc/cclm/tls/tls.crt"
        assert args.alertmanager_url == EVERYTHING["alertmanagers"]
        assert args.public_url == EVERYTHING["publicUrl"]
        assert (args.managed_clusters, args.kube_auth, args.kubeconfig) == (True, True, None)
        assert args.claim_ttl == timedelta(seconds=1_000_000)  # an integer, not Helm's 1e+06


def test_the_policy_value_is_the_policy_the_hub_loads() -> None:
    documents = charts.render(charts.HUB, EVERYTHING)
    maps = [d["data"] for d in charts.by_kind(documents, "ConfigMap") if "policy.yaml" in d["data"]]
    text = maps[0]["policy.yaml"]
    policy = policy_files.parse(text, "the chart's policy")
    assert (policy.headroom_percent.cpu, policy.headroom_percent.memory) == (20, 15)
    assert "--policy=/etc/cclm/policy/policy.yaml" in container(documents)["args"]


def test_rules_and_dashboard_are_the_shipped_files(tmp_path: Any) -> None:
    documents = charts.render(charts.HUB, EVERYTHING)
    rule = charts.one(documents, "PrometheusRule")
    assert rule["spec"] == yaml.safe_load(RULES.read_text())
    extracted = tmp_path / "rules.yaml"
    extracted.write_text(yaml.safe_dump(rule["spec"]))
    checked = subprocess.run(
        [tool("promtool"), "check", "rules", str(extracted)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    maps = charts.by_kind(documents, "ConfigMap")
    dashboards = [d for d in maps if "cclm-fleet.json" in d["data"]]
    assert json.loads(dashboards[0]["data"]["cclm-fleet.json"]) == json.loads(DASHBOARD.read_text())
    assert dashboards[0]["metadata"]["labels"]["grafana_dashboard"] == "1"


def test_the_scrape_job_is_the_one_the_rules_select() -> None:
    monitor = charts.one(charts.render(charts.HUB, EVERYTHING), "ServiceMonitor")
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["path"] == "/metrics"
    assert endpoint["scheme"] == "https"
    assert {"targetLabel": "job", "replacement": "cclm-hub"} in endpoint["relabelings"]
    assert 'job="cclm-hub"' in RULES.read_text()
    assert monitor["metadata"]["labels"]["release"] == "prometheus"


def test_route_and_ingress_reach_the_service() -> None:
    documents = charts.render(charts.HUB, EVERYTHING)
    service = charts.one(documents, "Service")["metadata"]["name"]
    route = charts.one(documents, "Route")["spec"]
    assert route["to"] == {"kind": "Service", "name": service}
    assert route["tls"]["termination"] == "reencrypt"
    backend = charts.one(documents, "Ingress")["spec"]["rules"][0]["http"]["paths"][0]
    assert backend["backend"]["service"]["name"] == service


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ({"replicaCount": 2}, "replicaCount 2 needs database.existingSecret"),
        ({"replicaCount": "three"}, "/replicaCount"),
        ({"replicaCount": 0}, "/replicaCount"),
        ({"replicas": 3}, "replicas"),
        ({"service": {"port": 80}}, "/service/port"),
        ({"alertmanagers": ["alertmanager:9093"]}, "/alertmanagers/0"),
        ({"database": {"existingSecret": "Not_A_Name"}}, "/database/existingSecret"),
        ({"ingress": {"enabled": True}}, "ingress.enabled needs ingress.host"),
        ({"persistence": {"enabled": False}}, "persistence.enabled=false needs database"),
    ],
)
def test_a_bad_value_is_refused_naming_it(values: dict[str, Any], said: str) -> None:
    with pytest.raises((helm.HelmValuesError, helm.HelmRenderError)) as refused:
        charts.render(charts.HUB, values)
    assert said in str(refused.value)


def test_the_chart_lints_clean() -> None:
    for values in ({}, EVERYTHING):
        report = helm.lint(charts.HUB, values, strict=True)
        assert report["errors"] == []
        assert [m for m in report["messages"] if m["severity"] >= 2] == []


def _admits(policy: dict[str, Any], request: dict[str, Any]) -> bool | None:
    """The policy's verdict on a request, by a CEL interpreter: None when it does not apply
    (its match conditions are false), else whether every validation holds."""
    env = celpy.Environment()
    activation = {name: celpy.json_to_cel(value) for name, value in request.items()}

    def holds(expression: str) -> bool:
        return bool(env.program(env.compile(expression)).evaluate(activation))

    if not all(holds(c["expression"]) for c in policy["spec"]["matchConditions"]):
        return None
    return all(holds(v["expression"]) for v in policy["spec"]["validations"])


def test_the_hubs_secret_writes_are_held_to_its_token_secrets() -> None:
    documents = charts.render(charts.HUB, {"managedClusters": {"enabled": True}})
    policy = charts.one(documents, "ValidatingAdmissionPolicy")
    binding = charts.one(documents, "ValidatingAdmissionPolicyBinding")
    assert binding["spec"] == {
        "policyName": policy["metadata"]["name"],
        "validationActions": ["Deny"],
    }
    hub = {"userInfo": {"username": "system:serviceaccount:cclm:cclm-hub"}}
    cluster_namespace = {
        "metadata": {"labels": {"open-cluster-management.io/cluster-name": "east"}}
    }
    token = {"metadata": {"name": "cclm-spoke-token"}, "type": "Opaque"}
    assert _admits(policy, {"request": hub, "object": token, "namespaceObject": cluster_namespace})
    stolen = {**token, "type": "kubernetes.io/service-account-token"}
    assert not _admits(
        policy, {"request": hub, "object": stolen, "namespaceObject": cluster_namespace}
    )
    other = {**token, "metadata": {"name": "bootstrap-token-abcdef"}}
    assert not _admits(
        policy, {"request": hub, "object": other, "namespaceObject": cluster_namespace}
    )
    system = {"metadata": {"name": "kube-system"}}
    assert not _admits(policy, {"request": hub, "object": token, "namespaceObject": system})
    someone = {"userInfo": {"username": "system:serviceaccount:kube-system:deployer"}}
    assert (
        _admits(policy, {"request": someone, "object": stolen, "namespaceObject": system}) is None
    )
    account = charts.one(documents, "ServiceAccount")["metadata"]["name"]
    assert hub["userInfo"]["username"] == f"system:serviceaccount:cclm:{account}"
