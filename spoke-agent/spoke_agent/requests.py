"""A pod's requests as the scheduler counts them against a node.

Per resource: the larger of (app containers + restartable "sidecar" init containers) and,
for each ordinary init container, its own request plus the sidecars started before it; then
the pod overhead on top. Limits stand in for requests that are not set, as the API server
defaults them.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from hub.models import quantity
from spoke_agent.snapshot import Object, spec

CPU = "cpu"
MEMORY = "memory"


def _amount(resource: str, value: object) -> int:
    text = value if isinstance(value, str | int) else str(value)
    return quantity.millis(text) if resource == CPU else quantity.units(text)


def amounts(values: Mapping[str, Any]) -> dict[str, int]:
    """Quantities by resource name as integers (millicores for cpu)."""
    return {name: _amount(name, value) for name, value in values.items()}


def container_requests(container: Mapping[str, Any]) -> dict[str, int]:
    resources = container.get("resources") or {}
    limits = resources.get("limits")
    requests = resources.get("requests") or {}
    return amounts({**limits, **requests} if limits else requests)


def _add(total: dict[str, int], more: Mapping[str, int]) -> None:
    for name, amount in more.items():
        total[name] = total.get(name, 0) + amount


def _max(total: dict[str, int], other: Mapping[str, int]) -> None:
    for name, amount in other.items():
        total[name] = max(total.get(name, 0), amount)


def pod_requests(pod: Object) -> dict[str, int]:
    """Resource name to amount (millicores for cpu, bytes or counts otherwise)."""
    body = spec(pod)
    if not body.get("initContainers") and not body.get("overhead"):
        return _steady(body.get("containers"), {})
    effective: dict[str, int] = {}
    sidecars: dict[str, int] = {}
    for init in _containers(body.get("initContainers")):
        wanted = container_requests(init)
        if init.get("restartPolicy") == "Always":
            _add(sidecars, wanted)
        else:
            during = dict(sidecars)
            _add(during, wanted)
            _max(effective, during)
    _max(effective, _steady(body.get("containers"), dict(sidecars)))
    for name, value in (body.get("overhead") or {}).items():
        effective[name] = effective.get(name, 0) + _amount(name, value)
    return effective


def _steady(containers: object, total: dict[str, int]) -> dict[str, int]:
    """The app containers' requests added to `total`: the whole pod for most pods, which
    have neither init containers nor overhead."""
    for container in _containers(containers):
        _add(total, container_requests(container))
    return total


def _containers(value: object) -> Iterable[Mapping[str, Any]]:
    if not isinstance(value, list):
        return ()
    return [c for c in value if isinstance(c, dict)]
