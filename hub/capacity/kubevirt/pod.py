"""The whole pod as the kube-scheduler counts it against a node (`k8s.io/component-helpers/
resource/helpers.go` `PodRequests`): per resource, the larger of (app containers + sidecar
init containers) and each plain init container with the sidecars started before it; then
the pod overhead. Sums are exact; the scheduler rounds the total up once (`MilliValue` for
CPU, `Value` for the rest)."""

from collections.abc import Iterable, Mapping
from fractions import Fraction

from hub.capacity.kubevirt.support import Container
from hub.models import quantity

_ZERO = Fraction(0)


def _add(total: dict[str, Fraction], more: Mapping[str, Fraction]) -> None:
    for name, value in more.items():
        total[name] = total.get(name, _ZERO) + value


def requests(
    containers: Iterable[Container], overhead: Mapping[str, Fraction]
) -> dict[str, Fraction]:
    steady: dict[str, Fraction] = {}
    sidecars: dict[str, Fraction] = {}
    peak: dict[str, Fraction] = {}
    for container in containers:
        if not container.init:
            _add(steady, container.requests)
            continue
        if container.restartable:
            _add(steady, container.requests)
            _add(sidecars, container.requests)
            during = dict(sidecars)
        else:
            during = dict(sidecars)
            _add(during, container.requests)
        for name, value in during.items():
            peak[name] = max(peak.get(name, _ZERO), value)
    for name, value in peak.items():
        steady[name] = max(steady.get(name, _ZERO), value)
    _add(steady, overhead)
    return steady


def whole(amounts: Mapping[str, Fraction]) -> dict[str, int]:
    """CPU in millicores, everything else in units, each rounded up as the scheduler does."""
    return {
        name: quantity.ceil_millis(value) if name == "cpu" else quantity.ceil(value)
        for name, value in amounts.items()
    }
