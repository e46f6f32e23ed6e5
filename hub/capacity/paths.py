"""How each VM would move: live if it runs and can, offline copy if it is stopped and its
disks can be copied; otherwise there is no path and the check is blocked for that VM."""

from hub.models.check import Code, Finding, Mode, Severity
from hub.models.vm import VirtualMachine


def migration_mode(vm: VirtualMachine) -> tuple[Mode, list[Finding]]:
    copyable = all(d.copyable for d in vm.disks)
    uncopyable = ", ".join(d.name for d in vm.disks if not d.copyable)
    if vm.running and vm.live_migratable:
        return Mode.LIVE, []
    if copyable and not vm.running:
        return Mode.OFFLINE, []
    if copyable:
        return Mode.OFFLINE, [
            Finding(
                code=Code.NOT_LIVE_MIGRATABLE,
                severity=Severity.WARNING,
                vm=vm.key,
                message=(
                    f"{vm.key} runs but is not live-migratable; it will be stopped during an "
                    "offline copy"
                ),
            )
        ]
    why = "is not live-migratable" if vm.running else "is stopped"
    return Mode.OFFLINE, [
        Finding(
            code=Code.NO_MIGRATION_PATH,
            severity=Severity.BLOCKER,
            vm=vm.key,
            message=f"{vm.key} {why} and its disks ({uncopyable}) cannot be copied offline",
            details={"uncopyable_disks": [d.name for d in vm.disks if not d.copyable]},
        )
    ]
