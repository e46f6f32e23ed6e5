"""The Open Cluster Management objects the charts render, held to the parts of their CRDs'
schemas that an install would trip on (open-cluster-management-io/api v1.3.0:
addon/v1alpha1/0000_0{0,2,3}_addon.open-cluster-management.io_*.crd.yaml,
cluster/v1beta1/0000_02_clusters.open-cluster-management.io_placements.crd.yaml,
cluster/v1beta2/0000_01_clusters.open-cluster-management.io_managedclustersetbindings.crd.yaml):
required fields, enums and types, written from those files; kubernetes-validate has no
schemas for other projects' kinds."""

from typing import Any

import jsonschema

_NAME = {"type": "string", "minLength": 1}
_REF = {"type": "object", "required": ["name"], "properties": {"name": _NAME, "namespace": _NAME}}


def _kind(version: str, kind: str, spec: dict[str, Any], namespaced: bool) -> dict[str, Any]:
    metadata: dict[str, Any] = {"type": "object", "required": ["name"]}
    if namespaced:
        metadata["required"] = ["name", "namespace"]
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {
            "apiVersion": {"const": version},
            "kind": {"const": kind},
            "metadata": metadata,
            "spec": spec,
        },
    }


ADDON = "addon.open-cluster-management.io/v1alpha1"
CLUSTER_V1BETA1 = "cluster.open-cluster-management.io/v1beta1"
CLUSTER_V1BETA2 = "cluster.open-cluster-management.io/v1beta2"
SCHEMAS = {
    "ClusterManagementAddOn": _kind(
        ADDON,
        "ClusterManagementAddOn",
        {
            "type": "object",
            "properties": {
                "addOnMeta": {
                    "type": "object",
                    "properties": {
                        "displayName": {"type": "string"},
                        "description": {"type": "string"},
                    },
                },
                "supportedConfigs": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["resource"],
                        "properties": {
                            "group": {"type": "string"},
                            "resource": _NAME,
                            "defaultConfig": _REF,
                        },
                    },
                },
                "installStrategy": {
                    "type": "object",
                    "properties": {
                        "type": {"enum": ["Manual", "Placements"]},
                        "placements": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["name", "namespace"],
                                "properties": {"name": _NAME, "namespace": _NAME},
                            },
                        },
                    },
                },
            },
        },
        namespaced=False,
    ),
    "AddOnTemplate": _kind(
        ADDON,
        "AddOnTemplate",
        {
            "type": "object",
            "required": ["addonName", "agentSpec"],
            "properties": {
                "addonName": _NAME,
                "agentSpec": {
                    "type": "object",
                    "properties": {
                        "workload": {
                            "type": "object",
                            "properties": {
                                "manifests": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["apiVersion", "kind", "metadata"],
                                    },
                                }
                            },
                        }
                    },
                },
                "registration": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["type"],
                        "properties": {
                            "type": {"enum": ["KubeClient", "CustomSigner"]},
                            "kubeClient": {
                                "type": "object",
                                "properties": {
                                    "hubPermissions": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["type"],
                                            "properties": {
                                                "type": {
                                                    "enum": ["CurrentCluster", "SingleNamespace"]
                                                },
                                                "currentCluster": {
                                                    "type": "object",
                                                    "required": ["clusterRoleName"],
                                                },
                                            },
                                        },
                                    }
                                },
                            },
                        },
                    },
                },
            },
        },
        namespaced=False,
    ),
    "AddOnDeploymentConfig": _kind(
        ADDON,
        "AddOnDeploymentConfig",
        {
            "type": "object",
            "properties": {
                "agentInstallNamespace": {
                    "type": "string",
                    "maxLength": 63,
                    "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                }
            },
        },
        namespaced=True,
    ),
    "Placement": _kind(
        CLUSTER_V1BETA1,
        "Placement",
        {
            "type": "object",
            "properties": {
                "clusterSets": {"type": "array", "items": {"type": "string"}},
                "predicates": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"requiredClusterSelector": {"type": "object"}},
                    },
                },
            },
        },
        namespaced=True,
    ),
    "ManagedClusterSetBinding": _kind(
        CLUSTER_V1BETA2,
        "ManagedClusterSetBinding",
        {"type": "object", "required": ["clusterSet"], "properties": {"clusterSet": _NAME}},
        namespaced=True,
    ),
}


def check(document: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(SCHEMAS[document["kind"]]).validate(document)
