"""Namespace ResourceQuotas on the target: every quota object in the VM's namespace must
still hold after the batch, the way the API server's quota admission counts."""

from collections.abc import Iterable, Mapping, Sequence

from hub.capacity.index import ClusterIndex
from hub.capacity.requirements import PodRequest
from hub.models import quantity
from hub.models.check import Code, Finding, Severity, VolumePlan
from hub.models.vm import VirtualMachine

_STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"


def usage(
    vms: Sequence[tuple[VirtualMachine, PodRequest]], volumes: Mapping[str, tuple[VolumePlan, ...]]
) -> dict[str, dict[str, int]]:
    """What the batch adds to each namespace, under every quota resource name it touches.

    Limits quotas count the compute container's limits where KubeVirt renders them;
    otherwise its requests, the least the pod can be charged (KubeVirt may set higher
    limits when a quota demands them).
    """
    per_namespace: dict[str, dict[str, int]] = {}
    for vm, request in vms:
        bucket = per_namespace.setdefault(vm.namespace, {})
        limits_cpu = request.limits_cpu_millis or request.cpu_millis
        limits_memory = request.limits_memory_bytes or request.memory_bytes
        charges = {
            "pods": 1,
            "count/pods": 1,
            "cpu": request.cpu_millis,
            "requests.cpu": request.cpu_millis,
            "limits.cpu": limits_cpu,
            "memory": request.memory_bytes,
            "requests.memory": request.memory_bytes,
            "limits.memory": limits_memory,
        }
        for name, amount in request.scalar:
            charges[f"requests.{name}"] = amount
            if name.startswith("hugepages-"):
                charges[name] = amount
        for volume in volumes.get(vm.key, ()):
            prefix = f"{volume.storage_class}{_STORAGE_CLASS_SUFFIX}"
            for name, amount in (
                ("requests.storage", volume.size_bytes),
                ("persistentvolumeclaims", 1),
                ("count/persistentvolumeclaims", 1),
                (f"{prefix}requests.storage", volume.size_bytes),
                (f"{prefix}persistentvolumeclaims", 1),
            ):
                charges[name] = charges.get(name, 0) + amount
        for name, amount in charges.items():
            bucket[name] = bucket.get(name, 0) + amount
    return per_namespace


def merged(parts: Iterable[Mapping[str, Mapping[str, int]]]) -> dict[str, dict[str, int]]:
    total: dict[str, dict[str, int]] = {}
    for part in parts:
        for namespace, charges in part.items():
            bucket = total.setdefault(namespace, {})
            for name, amount in charges.items():
                bucket[name] = bucket.get(name, 0) + amount
    return total


def check(index: ClusterIndex, demand: Mapping[str, Mapping[str, int]]) -> list[Finding]:
    findings = []
    for namespace, adds in sorted(demand.items()):
        claimed = index.quota_claimed.get(namespace, {})
        for quota in index.quotas.get(namespace, ()):
            for resource, hard in sorted(quota.hard.items()):
                add = adds.get(resource)
                if add is None:
                    continue
                used = quota.used.get(resource, 0) + claimed.get(resource, 0)
                if used + add > hard:
                    findings.append(_exceeded(namespace, quota.name, resource, hard, used, add))
    return findings


def _show(resource: str, amount: int) -> str:
    if resource in ("cpu", "requests.cpu", "limits.cpu"):
        return f"{quantity.cores(amount)} cores"
    if "storage" in resource or "memory" in resource or "hugepages" in resource:
        return quantity.human_bytes(amount)
    return str(amount)


def _exceeded(namespace: str, quota: str, resource: str, hard: int, used: int, add: int) -> Finding:
    return Finding(
        code=Code.QUOTA_EXCEEDED,
        severity=Severity.CRITICAL,
        resource=resource,
        message=(
            f"quota {namespace}/{quota}: {resource} would reach {_show(resource, used + add)} "
            f"of {_show(resource, hard)} (used {_show(resource, used)}, this batch adds "
            f"{_show(resource, add)}; short {_show(resource, used + add - hard)})"
        ),
        details={
            "namespace": namespace,
            "quota": quota,
            "hard": hard,
            "used": used,
            "adds": add,
            "shortfall": used + add - hard,
        },
    )
