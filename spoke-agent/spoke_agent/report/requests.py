"""A bound pod's requests as the scheduler counts them against its node.

The rules of `PodRequests` in kubernetes/component-helpers (resource/helpers.go, v0.33 to
v0.36), as the scheduler calls it for pods already on a node (`UseStatusResources`):

- Per container, with in-place resize: the larger of its spec, what the kubelet actuated
  (`status.containerStatuses[].resources.requests`) and what it allocated
  (`allocatedResources`); a resize marked Infeasible drops the spec. App containers and
  restartable ("sidecar") init containers; ordinary init containers use their spec.
- Per resource: the larger of (app containers + sidecars) and, for each ordinary init
  container, its own request plus the sidecars started before it.
- Pod-level `spec.resources.requests` (PodLevelResources, beta in 1.34) replace the sum for
  cpu, memory and hugepages; with pod-level in-place resize the pod's own status joins the
  same max.
- The pod overhead on top.

Not counted: the DRA node-allocatable claims v0.36 adds to the sum. The pod's own
`status.resources` is read whenever the kubelet reports it, which it does only with the
InPlacePodLevelResourcesVerticalScaling gate on.

Limits stand in for requests that are not set, as the API server defaults a Pod's
containers; that keeps pods read from a source that skips defaulting counted the same.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from hub.models.wire import quantity
from spoke_agent.report.snapshot import Object, spec, status

CPU = "cpu"
MEMORY = "memory"
_POD_LEVEL = (CPU, MEMORY)
_HUGEPAGES = "hugepages-"
Amounts = dict[str, int]


def _amount(resource: str, value: object) -> int:
    text = value if isinstance(value, str | int) else str(value)
    return quantity.millis(text) if resource == CPU else quantity.units(text)


def amounts(values: object) -> Amounts:
    """Quantities by resource name as integers (millicores for cpu)."""
    if not isinstance(values, dict):
        return {}
    return {name: _amount(name, value) for name, value in values.items()}


def _declared(resources: object) -> Amounts:
    """`requests`, with `limits` for those unset, of a `resources` block."""
    if not isinstance(resources, dict):
        return {}
    return {**amounts(resources.get("limits")), **amounts(resources.get("requests"))}


def _max(total: Amounts, *others: Mapping[str, int]) -> Amounts:
    for other in others:
        for name, amount in other.items():
            total[name] = max(total.get(name, 0), amount)
    return total


def _add(total: Amounts, more: Mapping[str, int]) -> None:
    for name, amount in more.items():
        total[name] = total.get(name, 0) + amount


def _infeasible(pod: Object) -> bool:
    """`IsPodResizeInfeasible`: the first PodResizePending condition has reason Infeasible."""
    for condition in _items(status(pod).get("conditions")):
        if condition.get("type") == "PodResizePending":
            return condition.get("reason") == "Infeasible"
    return False


def _effective(declared: Amounts, actual: object, allocated: object, infeasible: bool) -> Amounts:
    """`determineEffectiveRequests`: max(spec, actuated, allocated); no spec if Infeasible."""
    start = {} if infeasible else dict(declared)
    return _max(start, amounts(actual), amounts(allocated))


def _statuses(pod: Object) -> dict[str, Mapping[str, Any]]:
    found = status(pod)
    return {
        str(s.get("name")): s
        for s in [
            *_items(found.get("containerStatuses")),
            *_items(found.get("initContainerStatuses")),
        ]
    }


def _resized(
    container: Mapping[str, Any], statuses: Mapping[str, Mapping[str, Any]], infeasible: bool
) -> Amounts:
    declared = _declared(container.get("resources"))
    seen = statuses.get(str(container.get("name")))
    if seen is None or not isinstance(seen.get("resources"), dict):
        return declared
    return _effective(
        declared, seen["resources"].get("requests"), seen.get("allocatedResources"), infeasible
    )


def pod_requests(pod: Object) -> Amounts:
    """Resource name to amount (millicores for cpu, bytes or counts otherwise)."""
    body = spec(pod)
    infeasible = _infeasible(pod)
    statuses = _statuses(pod)
    total: Amounts = {}
    for container in _items(body.get("containers")):
        _add(total, _resized(container, statuses, infeasible))
    sidecars: Amounts = {}
    inits: Amounts = {}
    for init in _items(body.get("initContainers")):
        if init.get("restartPolicy") == "Always":
            wanted = _resized(init, statuses, infeasible)
            _add(total, wanted)
            _add(sidecars, wanted)
            _max(inits, sidecars)
        else:
            during = dict(sidecars)
            _add(during, _declared(init.get("resources")))
            _max(inits, during)
    _max(total, inits)
    _pod_level(pod, total, infeasible)
    _add(total, amounts(body.get("overhead")))
    return total


def _pod_level(pod: Object, total: Amounts, infeasible: bool) -> None:
    """Pod-level requests replace the containers' sum for the resources they may name."""
    resources = spec(pod).get("resources")
    if not isinstance(resources, dict):
        return
    declared = {
        name: amount
        for name, amount in amounts(resources.get("requests")).items()
        if name in _POD_LEVEL or name.startswith(_HUGEPAGES)
    }
    if not declared:
        return
    found = status(pod)
    if isinstance(found.get("resources"), dict):
        resized = _effective(
            declared,
            found["resources"].get("requests"),
            found.get("allocatedResources"),
            infeasible,
        )
        declared = {name: resized.get(name, 0) for name in declared}
    total.update(declared)


def _items(value: object) -> Iterable[Mapping[str, Any]]:
    if not isinstance(value, list):
        return ()
    return [c for c in value if isinstance(c, dict)]
