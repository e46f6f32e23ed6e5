"""The target cluster's half of a migration's trust: its agent mints, for the source's agent
that runs the migration, a short-lived credential for this cluster's API that reaches only
the migration's namespaces, and only as far as the ClusterRole `cclm-migration-target` goes.

A grant is a ServiceAccount `cclm-<migration id>` in the agent's namespace, a RoleBinding of
the same name binding the ClusterRole to it in each of the migration's namespaces, and tokens
from the TokenRequest API, which expire by themselves. Deleting the ServiceAccount
invalidates every token issued for it, so a revocation need not wait for the expiry.

Every object of a grant carries `cclm.io/grant=<migration id>` and
`app.kubernetes.io/managed-by=cclm`, and is only ever changed or deleted when it does: a
ServiceAccount or RoleBinding of the name that lacks them is someone else's. Requests go through
`kube_rest`, as the driver's do.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from kubernetes import client

from spoke_agent.drivers import kube_rest
from spoke_agent.drivers.kube_rest import KubeError

GRANT = "cclm.io/grant"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGER = "cclm"
_RBAC = "rbac.authorization.k8s.io"
_ALL_BINDINGS = f"/apis/{_RBAC}/v1/rolebindings"
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
"""A DNS label: what may go into a path segment, an object name and a label value alike."""

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Minted:
    """A bearer token for this cluster's API. `repr` leaves it out, so that logging a
    `Minted` shows only when it expires."""

    token: str = field(repr=False)
    expires_at: datetime
    """Aware, in UTC, as the API server set it: it may cap the time asked for."""


class MintError(KubeError):
    """A refused grant or a failed API call: the method, path, status and the server's
    message; never a header, so never a token."""


class KubernetesMinter:
    """Grants in the cluster the agent's own client (`api`) reaches; their ServiceAccounts
    live in `namespace`, the agent's."""

    def __init__(
        self,
        api: client.ApiClient,
        namespace: str,
        cluster_role: str = "cclm-migration-target",
    ) -> None:
        self.rest = kube_rest.Rest(api, MintError)
        self.namespace, self.cluster_role = namespace, cluster_role

    def mint(self, migration_id: str, namespaces: Sequence[str], ttl_seconds: int) -> Minted:
        """Repeatable: what a former call made is found and kept, and each call gets a new
        token. The API server refuses a `ttl_seconds` under 600."""
        name, wanted = _name(migration_id), _namespaces(namespaces)
        self._ensure(_accounts(self.namespace), self._account(migration_id))
        for namespace in sorted(wanted):
            self._ensure(_bindings(namespace), self._binding(migration_id, namespace))
        path = f"{_accounts(self.namespace)}/{name}/token"
        request = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": ttl_seconds},
        }
        return _minted(path, self.rest.call("POST", path, request))

    def granted(self) -> set[str]:
        """The migrations holding a grant here, whether their tokens expired or not: what a
        sweep compares with the migrations still going on, to revoke the others."""
        query = {"labelSelector": f"{MANAGED_BY}={MANAGER},{GRANT}"}
        items = self.rest.call("GET", _accounts(self.namespace), query=query)["items"]
        return {grant for item in items if (grant := _grant_of(item)) is not None}

    def revoke(self, migration_id: str, namespaces: Sequence[str] = ()) -> None:
        """Repeatable, and deletes only what is this grant's. The RoleBindings are those in
        `namespaces` and those a cluster-wide list finds by label (in namespaces the caller
        no longer knows of). The ServiceAccount goes last: until the RoleBindings are gone
        it keeps the grant in `granted`, so that a sweep tries again."""
        name, named = _name(migration_id), _namespaces(namespaces)
        query = {"labelSelector": f"{GRANT}={migration_id}"}
        listed = self.rest.call("GET", _ALL_BINDINGS, query=query)["items"]
        found = {b["metadata"]["namespace"] for b in listed if _grant_of(b) == migration_id}
        for namespace in named - found:
            if self._holds(_bindings(namespace), name, migration_id):
                found.add(namespace)
        for namespace in sorted(found):
            self.rest.call("DELETE", f"{_bindings(namespace)}/{name}", done=(404,))
        if self._holds(_accounts(self.namespace), name, migration_id):
            self.rest.call("DELETE", f"{_accounts(self.namespace)}/{name}", done=(404,))

    def _holds(self, collection: str, name: str, migration_id: str) -> bool:
        """Whether the object `name` of `collection` is there as this migration's grant."""
        found = self.rest.call("GET", f"{collection}/{name}", done=(404,))
        return _grant_of(found) == migration_id

    def _ensure(self, path: str, obj: Obj) -> None:
        """Created, or found there already as this grant's."""
        if self.rest.call("POST", path, obj, done=(409,)) is not None:
            return
        meta = obj["metadata"]
        if not self._holds(path, meta["name"], meta["labels"][GRANT]):
            where = f"{meta['namespace']}/{meta['name']}"
            raise MintError(f"{obj['kind']} {where} exists and is not cclm's grant", 409)

    def _account(self, migration_id: str) -> Obj:
        """Only for tokens asked for: no pod mounts one."""
        return {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(migration_id, self.namespace),
            "automountServiceAccountToken": False,
        }

    def _binding(self, migration_id: str, namespace: str) -> Obj:
        subject = {"kind": "ServiceAccount", "name": _name(migration_id)}
        return {
            "apiVersion": f"{_RBAC}/v1",
            "kind": "RoleBinding",
            "metadata": _meta(migration_id, namespace),
            "roleRef": {"apiGroup": _RBAC, "kind": "ClusterRole", "name": self.cluster_role},
            "subjects": [subject | {"namespace": self.namespace}],
        }


def _checked(value: str, what: str) -> str:
    """Ids and namespaces go into paths: one that is no DNS label could point elsewhere."""
    if not _LABEL.fullmatch(value):
        raise MintError(f"{what} {value!r} is not a DNS label")
    return value


def _namespaces(namespaces: Sequence[str]) -> set[str]:
    return {_checked(namespace, "namespace") for namespace in namespaces}


def _name(migration_id: str) -> str:
    return f"cclm-{_checked(migration_id, 'migration id')}"


def _meta(migration_id: str, namespace: str) -> Obj:
    labels = {GRANT: migration_id, MANAGED_BY: MANAGER}
    return {"name": _name(migration_id), "namespace": namespace, "labels": labels}


def _grant_of(obj: Any) -> str | None:
    """The migration whose grant `obj` is: labelled by cclm and named for it. Checked on
    what a list returns too, as test servers ignore `labelSelector`."""
    meta = (obj or {}).get("metadata") or {}
    labels = meta.get("labels") or {}
    grant = labels.get(GRANT)
    if not isinstance(grant, str) or labels.get(MANAGED_BY) != MANAGER:
        return None
    return grant if meta.get("name") == f"cclm-{grant}" else None


def _accounts(namespace: str) -> str:
    return f"/api/v1/namespaces/{namespace}/serviceaccounts"


def _bindings(namespace: str) -> str:
    return f"/apis/{_RBAC}/v1/namespaces/{namespace}/rolebindings"


def _minted(path: str, answer: Any) -> Minted:
    status = (answer or {}).get("status") or {}
    token, expires_at = status.get("token"), _instant(status.get("expirationTimestamp"))
    if not isinstance(token, str) or not token or expires_at is None:
        raise MintError(f"POST {path}: the answer lacks a token or a zoned expiry")
    return Minted(token, expires_at)


def _instant(text: Any) -> datetime | None:
    """RFC 3339 as Kubernetes writes it (`2026-01-01T00:00:00Z`, which `fromisoformat`
    reads from Python 3.11 on), in UTC; None for anything else: a time without a zone
    would be a guess."""
    try:
        found = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    return found.astimezone(UTC) if found.tzinfo is not None else None
