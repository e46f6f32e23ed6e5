"""The launcher pod's containers besides `compute`, which the scheduler counts too.

- `guest-console-log` (`services/serialconsolelog.go`): an app container up to v1.5, the
  first init container with `restartPolicy: Always` (a sidecar) from v1.6.0.
- containerDisk containers and their init containers (`pkg/container-disk/`), or with the
  ImageVolume gate one init container per disk (v1.7+) or none (v1.6).
- one virtiofs container per shared filesystem (`services/virtiofs.go`, `pkg/virtiofs/`).
- hook sidecars (`hooks.kubevirt.io/hookSidecars`) and one sidecar per network binding
  plugin with a `sidecarImage` (`services/renderresources.go` `sidecarResources`).

Each takes `spec.configuration.supportContainerResources` overrides (zero values ignored);
with dedicated CPUs or a Guaranteed VM, requests equal limits.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from hub.capacity.kubevirt import compute, gates, qos
from hub.capacity.kubevirt.release import Release, since
from hub.capacity.kubevirt.vmi import Vmi
from hub.models import kubevirt as k
from hub.models import quantity

HOOK_SIDECARS = "hooks.kubevirt.io/hookSidecars"
M = 10**6


@dataclass(frozen=True, slots=True)
class Container:
    name: str
    requests: Mapping[str, Fraction]
    limits: Mapping[str, Fraction]
    init: bool = False
    restartable: bool = False


def _override(
    config: k.KubeVirtConfiguration, kind: str, side: str, resource: str
) -> Fraction | None:
    """`GetSupportContainerRequest` / `GetSupportContainerLimit`: a zero value is no value."""
    for entry in config.support_container_resources:
        if entry.type == kind:
            text = getattr(entry.resources, side).get(resource)
            value = quantity.parse(text) if text is not None else Fraction(0)
            if value != 0:
                return value
    return None


def _sized(
    config: k.KubeVirtConfiguration,
    kind: str,
    requests: Mapping[str, Fraction],
    limits: Mapping[str, Fraction],
    strict: bool = False,
) -> tuple[dict[str, Fraction], dict[str, Fraction]]:
    """KubeVirt's figures for a support container, as `supportContainerResources` overrides
    them; `strict` (dedicated CPUs or QoS Guaranteed): its requests are its limits."""
    sized_limits = {
        name: _override(config, kind, "limits", name) or value for name, value in limits.items()
    }
    if strict:
        return dict(sized_limits), sized_limits
    sized_requests = {
        name: _override(config, kind, "requests", name) or value for name, value in requests.items()
    }
    return sized_requests, sized_limits


def containers(vmi: Vmi, release: Release, config: k.KubeVirtConfiguration) -> list[Container]:
    strict = qos.dedicated_or_guaranteed(vmi, release)
    found: list[Container] = []
    found += _container_disks(vmi, release, config, strict)
    found += _virtiofs(vmi, release, config, strict)
    console = _console_log(vmi, release, config, strict)
    if console is not None:
        found.insert(0, console) if console.init else found.append(console)
    found += _sidecars(vmi, config, strict)
    return found


def _console_log(
    vmi: Vmi, release: Release, config: k.KubeVirtConfiguration, strict: bool
) -> Container | None:
    if vmi.autoattach_serial_console is False:
        return None
    if vmi.log_serial_console is not None:
        wanted = vmi.log_serial_console
    else:
        options = config.virtual_machine_options
        wanted = not (options and options.disable_serial_console_log is not None)
    if not wanted:
        return None
    requests, limits = _sized(
        config,
        "guest-console-log",
        {"cpu": Fraction(5, 1000), "memory": Fraction(35 * M)},
        {"cpu": Fraction(15, 1000), "memory": Fraction(60 * M)},
        strict,
    )
    sidecar = since(release, "1.6.0")
    return Container("guest-console-log", requests, limits, init=sidecar, restartable=sidecar)


def _disk_resources(
    config: k.KubeVirtConfiguration, strict: bool
) -> tuple[dict[str, Fraction], dict[str, Fraction]]:
    requests, limits = _sized(
        config,
        "container-disk",
        {"cpu": Fraction(1, 1000), "memory": Fraction(1 * M)},
        {"cpu": Fraction(10, 1000), "memory": Fraction(40 * M)},
        strict,
    )
    requests[compute.EPHEMERAL] = compute.EPHEMERAL_OVERHEAD
    return requests, limits


def _container_disks(
    vmi: Vmi, release: Release, config: k.KubeVirtConfiguration, strict: bool
) -> list[Container]:
    if not vmi.container_disks and not vmi.kernel_boot_container:
        return []
    disks = [f"volume{name}" for name in vmi.container_disks]
    kernel = ["volumekernel-boot-volume"] if vmi.kernel_boot_container else []
    requests, limits = _disk_resources(config, strict)
    if gates.enabled("ImageVolume", release, config.developer_configuration):
        if not since(release, "1.7.0"):
            return []
        return [Container(name, requests, limits, init=True) for name in disks + kernel]
    binary_requests, binary_limits = _sized(
        config,
        "container-disk",
        {"cpu": Fraction(10, 1000), "memory": Fraction(1 * M)},
        {"cpu": Fraction(100, 1000), "memory": Fraction(40 * M)},
    )
    if strict:
        strict_limits = {
            "cpu": _override(config, "container-disk", "limits", "cpu") or Fraction(10, 1000),
            "memory": _override(config, "container-disk", "limits", "memory") or Fraction(40 * M),
        }
        binary_requests, binary_limits = dict(strict_limits), dict(strict_limits)
    apps = [Container(name, requests, limits) for name in disks + kernel]
    inits = [Container("container-disk-binary", binary_requests, binary_limits, init=True)]
    inits += [Container(f"{name}-init", requests, limits, init=True) for name in disks + kernel]
    return apps + inits


def _virtiofs(
    vmi: Vmi, release: Release, config: k.KubeVirtConfiguration, strict: bool
) -> list[Container]:
    found = []
    for name in vmi.filesystems:
        if since(release, "1.8.0") and name in vmi.container_paths:
            continue
        requests, limits = _sized(
            config,
            "virtiofs",
            {"cpu": Fraction(10, 1000), "memory": Fraction(1 * M)},
            {"cpu": Fraction(100, 1000), "memory": Fraction(80 * M)},
            strict,
        )
        found.append(Container(f"virtiofs-{name}", requests, limits))
    return found


def _sidecars(vmi: Vmi, config: k.KubeVirtConfiguration, strict: bool) -> list[Container]:
    count = _hook_count(vmi.annotations) + len(_plugin_sidecars(vmi, config))
    if not count:
        return []
    requests = {
        name: value
        for name in ("cpu", "memory")
        if (value := _override(config, "sidecar", "requests", name)) is not None
    }
    limits = {
        name: value
        for name in ("cpu", "memory")
        if (value := _override(config, "sidecar", "limits", name)) is not None
    }
    if strict:
        limits = {
            "cpu": limits.get("cpu", Fraction(200, 1000)),
            "memory": limits.get("memory", Fraction(64 * M)),
        }
        requests = dict(limits)
    return [Container(f"hook-sidecar-{i}", requests, limits) for i in range(count)]


def _hook_count(annotations: Mapping[str, str]) -> int:
    text = annotations.get(HOOK_SIDECARS)
    if not text:
        return 0
    try:
        hooks = json.loads(text)
    except ValueError:
        return 0
    return len(hooks) if isinstance(hooks, list) else 0


def _plugin_sidecars(vmi: Vmi, config: k.KubeVirtConfiguration) -> list[str]:
    bindings = config.network.binding if config.network else {}
    used = sorted({i.binding.name for i in vmi.interfaces if i.binding and i.binding.name})
    return [name for name in used if (b := bindings.get(name)) is not None and b.sidecar_image]
