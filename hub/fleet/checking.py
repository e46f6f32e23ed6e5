"""The check use case: VMs given by reference, spec or manifest, validated the way KubeVirt
would admit them, then run through the engine against the fleet as the hub knows it now.

The HTTP handlers only parse and answer; what a check means lives here, beside the
inventory it reads.
"""

from hub.capacity import engine
from hub.capacity.kubevirt import render
from hub.capacity.kubevirt.admission import RejectedError
from hub.errors import Invalid
from hub.fleet import advisor, manifests
from hub.models.api import CheckAnswer, CheckBody
from hub.models.check import CheckRequest
from hub.models.vm import VirtualMachine, VmSpec
from hub.models.wire.codes import ErrorCode
from hub.models.wizard import MigrationTargets
from hub.service import Hub


def _distinct(vms: list[VirtualMachine]) -> None:
    keys = [vm.key for vm in vms]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise Invalid(
            f"VMs named more than once: {', '.join(twice)}",
            details={"vms": twice},
            code=ErrorCode.DUPLICATE_VM,
        )


def _manifests(body: CheckBody) -> list[VirtualMachine]:
    if not body.manifests:
        return []
    try:
        return manifests.machines(body.manifests, "manifests", indexed=True)
    except manifests.ManifestError as error:
        raise Invalid(
            str(error), details={"field": "manifests"}, code=ErrorCode.INVALID_MANIFEST
        ) from error


def _admissible(vms: list[VirtualMachine], hub: Hub, target: str | None) -> None:
    """A VM given here that KubeVirt would refuse (by the target's rules, else the newest)
    is a bad request, with the field; one read from a cluster was admitted there."""
    index = hub.inventory.index(target) if target else None
    to = index.target if index is not None else render.default_target()
    for vm in vms:
        try:
            render.render(vm, to)
        except RejectedError as error:
            raise Invalid(
                str(error),
                details={
                    "vm": vm.key,
                    "causes": [
                        {"field": f"spec.{c.field}", "problem": c.message} for c in error.causes
                    ],
                },
                code=ErrorCode.VM_REJECTED,
            ) from error


def _validate_clusters(hub: Hub, source: str | None, target: str | None) -> None:
    if source:
        hub.inventory.require(source, "source cluster")
    if target:
        hub.inventory.require(target, "target")
    if target and target == source:
        raise Invalid(
            f"target {target!r} is the VMs' source cluster; name another cluster, or leave the "
            "target out to rank every cluster",
            details={"target": target},
            code=ErrorCode.TARGET_IS_SOURCE,
        )


def check(hub: Hub, body: CheckBody) -> CheckAnswer:
    refs = [v for v in body.vms if isinstance(v, str)]
    specs = [
        v.machine() if isinstance(v, VmSpec) else v for v in body.vms if not isinstance(v, str)
    ]
    source, resolved = hub.inventory.resolve(refs, body.source_cluster)
    given = specs + _manifests(body)
    _admissible(given, hub, body.target)
    vms = resolved + given
    _distinct(vms)
    _validate_clusters(hub, source, body.target)
    request = CheckRequest(
        vms=tuple(vms),
        source_cluster=source,
        target=body.target,
        storage_class_map=body.storage_class_map,
        max_suggestions=body.max_suggestions,
    )
    result = engine.run(
        hub.inventory.fleet(), request, hub.policy, hub.clock(), list_excluded=body.list_excluded
    )
    return CheckAnswer(**dict(result), source_cluster=source, vms=tuple(vm.key for vm in vms))


def migration_targets(hub: Hub, cluster: str, namespace: str, name: str) -> MigrationTargets:
    """The console wizard's question about one VM: every cluster, ranked and explained."""
    source, vms = hub.inventory.resolve([f"{cluster}/{namespace}/{name}"], None)
    request = CheckRequest(vms=tuple(vms), source_cluster=source)
    result = engine.run(hub.inventory.fleet(), request, hub.policy, hub.clock(), True)
    source_index = hub.inventory.index(cluster)
    default_class = source_index.default_storage_class if source_index else None
    return advisor.answer(vms[0], cluster, default_class, result, hub.inventory.index)
