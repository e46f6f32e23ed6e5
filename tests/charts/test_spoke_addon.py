"""charts/spoke-agent with addon.enabled: the agent as a template-based OCM addon. Its
objects are held to the OCM CRDs' schemas; the manifests OCM renders for a cluster (its
variables filled in) are valid Kubernetes for every supported version, are the same RBAC
and workload the chart installs directly, and run command lines the agent accepts; and the
hub-side rights are what `cclm spoke fetch-token` asks."""

import json
import re
from typing import Any

import helm_python as helm
import pytest

from hub.cli import parser
from tests.support import charts, ocm_schemas

ADDON: dict[str, Any] = {
    "hub": {"url": "https://cclm.apps.example.com"},
    "addon": {"enabled": True},
}
VARIABLES = {"CLUSTER_NAME": "east", "HUB_KUBECONFIG": "/managed/hub-kubeconfig/kubeconfig"}
"""What OCM's template agent fills in (ocm v1.3.1 pkg/addon/templateagent: CLUSTER_NAME
always, HUB_KUBECONFIG with a KubeClient registration)."""


def rendered(values: dict[str, Any] = ADDON) -> list[dict[str, Any]]:
    return charts.render(charts.SPOKE, values, namespace="open-cluster-management")


def manifests_for(cluster: str, documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The template's manifests as OCM renders them for one cluster."""
    template = charts.one(documents, "AddOnTemplate")
    text = json.dumps(template["spec"]["agentSpec"]["workload"]["manifests"])
    used = set(re.findall(r"\{\{(\w+)\}\}", text))
    assert used <= set(VARIABLES), f"variables OCM does not fill in: {used - set(VARIABLES)}"
    for name, value in {**VARIABLES, "CLUSTER_NAME": cluster}.items():
        text = text.replace("{{" + name + "}}", value)
    found: list[dict[str, Any]] = json.loads(text)
    return found


def test_the_addon_objects_are_what_ocm_takes() -> None:
    documents = rendered()
    kinds = sorted(d["kind"] for d in documents)
    assert kinds == [
        "AddOnDeploymentConfig",
        "AddOnTemplate",
        "ClusterManagementAddOn",
        "ClusterRole",
        "ClusterRole",
        "ClusterRoleBinding",
        "ManagedClusterSetBinding",
        "Placement",
    ]
    for document in documents:
        if document["kind"] in ocm_schemas.SCHEMAS:
            ocm_schemas.check(document)
    addon = charts.one(documents, "ClusterManagementAddOn")
    configs = {c["resource"]: c["defaultConfig"] for c in addon["spec"]["supportedConfigs"]}
    template = charts.one(documents, "AddOnTemplate")
    assert configs["addontemplates"] == {"name": template["metadata"]["name"]}
    assert template["spec"]["addonName"] == addon["metadata"]["name"]
    deployment_config = charts.one(documents, "AddOnDeploymentConfig")
    assert configs["addondeploymentconfigs"] == {
        "name": deployment_config["metadata"]["name"],
        "namespace": deployment_config["metadata"]["namespace"],
    }
    placement = charts.one(documents, "Placement")
    assert addon["spec"]["installStrategy"] == {
        "type": "Placements",
        "placements": [
            {"name": placement["metadata"]["name"], "namespace": placement["metadata"]["namespace"]}
        ],
    }
    binding = charts.one(documents, "ManagedClusterSetBinding")
    assert binding["spec"]["clusterSet"] == binding["metadata"]["name"] == "global"
    assert binding["metadata"]["namespace"] == placement["metadata"]["namespace"]
    assert addon["metadata"]["annotations"]["addon.open-cluster-management.io/lifecycle"] == (
        "addon-manager"
    )


@pytest.mark.parametrize("version", charts.KUBERNETES)
def test_what_ocm_applies_on_a_cluster_is_valid_kubernetes(version: str) -> None:
    applied = manifests_for("east", rendered())
    assert [e for d in applied if (e := charts.invalid(d, version))] == []


def test_the_addon_installs_the_same_rbac_and_workload_as_the_chart() -> None:
    namespace = "cclm-system"
    applied = manifests_for("east", rendered())
    orphan = {"addon.open-cluster-management.io/deletion-orphan": ""}
    assert applied[0] == {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "annotations": orphan},
    }
    direct = charts.render(charts.SPOKE, {**charts.SPOKE_REQUIRED, "hub": ADDON["hub"]}, namespace)
    assert charts.rbac(applied) == charts.rbac(direct)
    configs = charts.one(rendered(), "AddOnDeploymentConfig")["spec"]
    assert configs["agentInstallNamespace"] == namespace
    assert {d["metadata"].get("namespace", namespace) for d in applied[1:]} == {namespace}
    # The journal's volume (and its namespace) stay when the addon leaves the cluster.
    claim = charts.one(applied, "PersistentVolumeClaim")
    assert claim["spec"] == charts.one(direct, "PersistentVolumeClaim")["spec"]
    assert claim["metadata"]["annotations"].items() >= orphan.items()
    kept = [
        d["kind"]
        for d in applied
        if orphan.items() <= (d["metadata"].get("annotations") or {}).items()
    ]
    assert kept == ["Namespace", "PersistentVolumeClaim"]


def test_each_cluster_runs_as_itself_with_its_token_from_the_hub() -> None:
    pod = charts.one(manifests_for("east", rendered()), "Deployment")["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    agent = parser().parse_args(containers["agent"]["args"])
    assert (agent.cluster, agent.hub) == ("east", "https://cclm.apps.example.com")
    first = parser().parse_args(pod["initContainers"][0]["args"])
    refresh = parser().parse_args(containers["token-refresh"]["args"])
    for fetch in (first, refresh):
        assert (fetch.action, fetch.namespace, fetch.out) == (
            "fetch-token",
            "east",
            agent.token_file,
        )
        assert str(fetch.kubeconfig) == VARIABLES["HUB_KUBECONFIG"]
    assert (first.every, refresh.every) == (None, 60.0)
    # OCM mounts its hub credentials into the containers only; the init container has them
    # from the same Secret by a volume of its own name (OCM adds one named hub-kubeconfig).
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "hub-kubeconfig" not in volumes
    assert volumes["hub-credentials"]["secret"]["secretName"] == "cclm-spoke-agent-hub-kubeconfig"
    mounts = {m["name"]: m["mountPath"] for m in pod["initContainers"][0]["volumeMounts"]}
    assert str(first.kubeconfig).startswith(mounts["hub-credentials"] + "/")


def test_the_addon_may_read_only_its_token_secret() -> None:
    documents = rendered()
    roles = {d["metadata"]["name"]: d for d in charts.by_kind(documents, "ClusterRole")}
    reader = roles["cclm-spoke-token-reader"]
    template = charts.one(documents, "AddOnTemplate")
    permission = template["spec"]["registration"][0]["kubeClient"]["hubPermissions"][0]
    assert permission == {
        "type": "CurrentCluster",
        "currentCluster": {"clusterRoleName": reader["metadata"]["name"]},
    }
    assert reader["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "verbs": ["get"],
            "resourceNames": ["cclm-spoke-token"],
        }
    ]


def test_an_existing_placement_can_be_named_and_a_selector_given() -> None:
    named = {
        **ADDON,
        "addon": {
            "enabled": True,
            "placement": {"name": "virt", "namespace": "fleet", "create": False},
        },
    }
    documents = rendered(named)
    assert charts.by_kind(documents, "Placement") == []
    addon = charts.one(documents, "ClusterManagementAddOn")
    assert addon["spec"]["installStrategy"]["placements"] == [
        {"name": "virt", "namespace": "fleet"}
    ]
    chosen = {
        **ADDON,
        "addon": {
            "enabled": True,
            "placement": {"clusterSets": ["prod"], "matchLabels": {"cnv": "true"}},
        },
    }
    placement = charts.one(rendered(chosen), "Placement")
    assert placement["spec"]["clusterSets"] == ["prod"]
    assert placement["spec"]["predicates"] == [
        {"requiredClusterSelector": {"labelSelector": {"matchLabels": {"cnv": "true"}}}}
    ]


def test_the_addon_needs_only_the_hub_url() -> None:
    with pytest.raises(helm.HelmRenderError, match=r"hub\.url is required"):
        rendered({"addon": {"enabled": True}})


def test_ocms_addon_manager_may_bind_that_role_and_no_other() -> None:
    documents = rendered()
    binding = charts.one(documents, "ClusterRoleBinding")
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": "addon-manager-controller-sa",
            "namespace": "open-cluster-management-hub",
        }
    ]
    roles = {d["metadata"]["name"]: d for d in charts.by_kind(documents, "ClusterRole")}
    assert roles[binding["roleRef"]["name"]]["rules"] == [
        {
            "apiGroups": ["rbac.authorization.k8s.io"],
            "resources": ["clusterroles"],
            "verbs": ["bind"],
            "resourceNames": ["cclm-spoke-token-reader"],
        }
    ]


def test_an_unreachable_cluster_keeps_its_agent() -> None:
    tolerated = charts.one(rendered(), "Placement")["spec"]["tolerations"]
    keys = {t["key"] for t in tolerated if t["operator"] == "Exists"}
    assert keys == {
        "cluster.open-cluster-management.io/unreachable",
        "cluster.open-cluster-management.io/unavailable",
    }
