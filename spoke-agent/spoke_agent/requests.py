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


def container_requests(container: Mapping[str, Any]) -> dict[str, int]:
    resources = container.get("resources") or {}
    limits = resources.get("limits") or {}
    requests = {**limits, **(resources.get("requests") or {})}
    return {name: _amount(name, value) for name, value in requests.items()}


def _add(total: dict[str, int], more: Mapping[str, int]) -> None:
    for name, amount in more.items():
        total[name] = total.get(name, 0) + amount


def _max(total: dict[str, int], other: Mapping[str, int]) -> None:
    for name, amount in other.items():
        total[name] = max(total.get(name, 0), amount)


def pod_requests(pod: Object) -> dict[str, int]:
    """Resource name to amount (millicores for cpu, bytes or counts otherwise)."""
    body = spec(pod)
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
    steady = dict(sidecars)
    for container in _containers(body.get("containers")):
        _add(steady, container_requests(container))
    _max(effective, steady)
    for name, value in (body.get("overhead") or {}).items():
        effective[name] = effective.get(name, 0) + _amount(name, value)
    return effective


def _containers(value: object) -> Iterable[Mapping[str, Any]]:
    if not isinstance(value, list):
        return ()
    return [c for c in value if isinstance(c, dict)]
