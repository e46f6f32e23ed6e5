"""kmock's Kubernetes emulator with the API server's optimistic concurrency, which kmock
leaves out (it merges dicts): the driver's preconditions are only proven against a server
that refuses them. As the Kubernetes API conventions ("Concurrency Control and Consistency")
and the API server's handlers have it: a create gives the object a uid, every write a new
`metadata.resourceVersion`, a write that changes `spec` a new `metadata.generation`; a PATCH
whose body names a resourceVersion, or a DELETE whose DeleteOptions carry a resourceVersion
precondition, is refused with 409 Conflict once the object has moved on.

Writes the test makes in the emulator's memory (what KubeVirt or a user would do) go
through `write`, which moves the same fields."""

import uuid
from collections.abc import Mapping
from typing import Any

import aiohttp.web
import kmock


class ConflictError(kmock.KubernetesError):
    pass


class ApiServer(kmock.KubernetesEmulator):
    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        data = request.data if isinstance(request.data, dict) else None
        if request.resource is not None and request.action == kmock.action.CREATE and data:
            meta = data.setdefault("metadata", {})
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("resourceVersion", "1")
            meta.setdefault("generation", 1)
        elif request.resource is not None and request.name is not None:
            key = (request.resource, request.namespace, request.name)
            stored = self.objects[key] if key in self.objects else None  # noqa: SIM401 (no .get)
            if stored is not None and not stored.deleted:
                current = dict(stored.raw)
                _check(request.action, data, current)
                if request.action == kmock.action.UPDATE and data is not None:
                    _advance(data, current)
        return await super()._handle(request)


def _check(
    action: kmock.action, data: Mapping[str, Any] | None, current: Mapping[str, Any]
) -> None:
    version = str((current.get("metadata") or {}).get("resourceVersion") or "")
    if data is None:
        return
    if action == kmock.action.UPDATE:
        wanted = (data.get("metadata") or {}).get("resourceVersion")
    elif action == kmock.action.DELETE:
        wanted = (data.get("preconditions") or {}).get("resourceVersion")
    else:
        return
    if wanted is not None and str(wanted) != version:
        raise ConflictError(
            status=409,
            reason="Conflict",
            message=(
                "Operation cannot be fulfilled: the object has been modified; please apply "
                f"your changes to the latest version (resourceVersion {version}, not {wanted})"
            ),
        )


def _merged(value: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(value) if isinstance(value, dict) else {}
    for key, change in patch.items():
        if change is None:
            merged.pop(key, None)
        else:
            merged[key] = _merged(merged.get(key), change)
    return merged


def _advance(patch: dict[str, Any], current: Mapping[str, Any]) -> None:
    """Sets in `patch` the fields the write moves: none for a write that changes nothing
    (the API server does not store it), the generation only for one that changes spec."""
    meta = dict(current.get("metadata") or {})
    patch.setdefault("metadata", {}).pop("resourceVersion", None)
    after = _merged(current, patch)
    if after == _merged(current, {"metadata": {"resourceVersion": meta.get("resourceVersion")}}):
        return
    moved = patch["metadata"]
    moved["resourceVersion"] = str(int(meta.get("resourceVersion") or 0) + 1)
    if after.get("spec") != current.get("spec"):
        moved["generation"] = int(meta.get("generation") or 0) + 1


def write(stored: Any, patch: dict[str, Any]) -> None:
    """A change made in the emulator's memory, as another client of the API server would
    make it: the resourceVersion moves, and the generation with a spec change."""
    _advance(patch, dict(stored.raw))
    stored.patch(patch)
