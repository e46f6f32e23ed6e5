"""The part of a Kubernetes API server that grants use, as tests play it on a kmock
emulator: ServiceAccounts and RoleBindings are stored objects; kmock has no TokenRequest
API, so `answer` is what the server would say to one."""

from datetime import datetime, timedelta
from typing import Any

import kmock

RESOURCES = {
    "v1/serviceaccounts": "ServiceAccount",
    "rbac.authorization.k8s.io/v1/rolebindings": "RoleBinding",
}


def declare(emulator: kmock.KubernetesEmulator) -> None:
    for resource, kind in RESOURCES.items():
        emulator.resources[resource] = {"kind": kind, "namespaced": True}


def answer(request: kmock.Request, token: str, now: datetime) -> dict[str, Any]:
    """`token`, expiring the seconds the request asked for after `now`."""
    spec = request.data["spec"]
    expiry = now + timedelta(seconds=spec["expirationSeconds"])
    return {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": spec,
        "status": {
            "token": token,
            "expirationTimestamp": expiry.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    }
