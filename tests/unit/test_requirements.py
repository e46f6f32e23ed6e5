"""Hand-computed virt-launcher pod requests for VMs of many shapes.

Every expected figure below is worked out by hand from KubeVirt's sizing rules; none is
produced by the code under test. Overhead terms, in MiB unless stated otherwise:

    guest / 512 (page tables) + 240 (fixed) + 8 x vCPUs + 8 (IOThread) + 32 (video)
    + 1024 (host devices) + 100 (dedicated CPUs) + 53 (TPM) + 256 (SEV) + 128 (arm64)
    + 250 (passt), times the additional overhead ratio, rounded up at the end.
"""

from typing import Any, NamedTuple

import pydantic
import pytest

from hub.capacity.requirements import pod_request
from hub.models.report import KubeVirtSettings
from hub.models.vm import VmSpec

MIB = 2**20
GIB = 2**30


def vm_spec(**fields: Any) -> VmSpec:
    return VmSpec.model_validate({"name": "vm", "namespace": "ns", **fields})


class Case(NamedTuple):
    name: str
    vm: dict[str, Any]
    kubevirt: dict[str, Any]
    cpu_millis: int
    memory_bytes: int
    overhead_bytes: int
    scalar: dict[str, int]


CASES = [
    Case(
        "2 vCPU, 4Gi guest, default settings",
        {"cpu": {"cores": 2}, "guest_memory_bytes": "4Gi"},
        {},
        # 2 vCPU x 1000m / allocation ratio 10
        cpu_millis=200,
        # 4Gi / 512 = 8 MiB page tables; + fixed 240 + 2 x 8 + IOThread 8 + video 32
        overhead_bytes=(8 + 240 + 16 + 8 + 32) * MIB,
        # guest at 100% overcommit, plus the overhead
        memory_bytes=4 * GIB + (8 + 240 + 16 + 8 + 32) * MIB,
        scalar={},
    ),
    Case(
        "2 sockets x 4 cores x 2 threads is 16 vCPU with a 16Gi guest",
        {"cpu": {"sockets": 2, "cores": 4, "threads": 2}, "guest_memory_bytes": "16Gi"},
        {},
        # 2 x 4 x 2 = 16 vCPU; 16 x 1000m / 10
        cpu_millis=1600,
        # 16Gi / 512 = 32 MiB; + 240 + 16 x 8 = 128 + 8 + 32
        overhead_bytes=(32 + 240 + 128 + 8 + 32) * MIB,
        memory_bytes=16 * GIB + (32 + 240 + 128 + 8 + 32) * MIB,
        scalar={},
    ),
    Case(
        "an explicit cpu request of 1500m wins over the allocation ratio",
        {"cpu": {"cores": 4}, "guest_memory_bytes": "8Gi", "requests_cpu_millis": "1500m"},
        {},
        # requests.cpu taken as is (the ratio would have given 400m)
        cpu_millis=1500,
        # 8Gi / 512 = 16 MiB; + 240 + 4 x 8 = 32 + 8 + 32
        overhead_bytes=(16 + 240 + 32 + 8 + 32) * MIB,
        memory_bytes=8 * GIB + (16 + 240 + 32 + 8 + 32) * MIB,
        scalar={},
    ),
    Case(
        "3 vCPU at allocation ratio 4 divide evenly",
        {"cpu": {"cores": 3}, "guest_memory_bytes": "2Gi"},
        {"cpu_allocation_ratio": 4},
        # 3000m / 4 = 750m exactly
        cpu_millis=750,
        # 2Gi / 512 = 4 MiB; + 240 + 3 x 8 = 24 + 8 + 32
        overhead_bytes=(4 + 240 + 24 + 8 + 32) * MIB,
        memory_bytes=2 * GIB + (4 + 240 + 24 + 8 + 32) * MIB,
        scalar={},
    ),
    Case(
        "1 vCPU at allocation ratio 3 rounds the cpu request up",
        {"guest_memory_bytes": "2Gi"},
        {"cpu_allocation_ratio": 3},
        # 1000m / 3 = 333.33...m, rounded up to 334m
        cpu_millis=334,
        # 2Gi / 512 = 4 MiB; + 240 + 1 x 8 + 8 + 32
        overhead_bytes=(4 + 240 + 8 + 8 + 32) * MIB,
        memory_bytes=2 * GIB + (4 + 240 + 8 + 8 + 32) * MIB,
        scalar={},
    ),
    Case(
        "4 dedicated vCPU ignore both the cpu request and the allocation ratio",
        {
            "cpu": {"cores": 4},
            "guest_memory_bytes": "8Gi",
            "dedicated_cpu": True,
            "requests_cpu_millis": "500m",
        },
        {},
        # dedicated: whole cores, 4 x 1000m
        cpu_millis=4000,
        # 8Gi / 512 = 16 MiB; + 240 + 4 x 8 = 32 + 8 + 32 + dedicated 100
        overhead_bytes=(16 + 240 + 32 + 8 + 32 + 100) * MIB,
        memory_bytes=8 * GIB + (16 + 240 + 32 + 8 + 32 + 100) * MIB,
        scalar={},
    ),
    Case(
        "2 dedicated vCPU with an isolated emulator thread take a third core",
        {
            "cpu": {"cores": 2},
            "guest_memory_bytes": "4Gi",
            "dedicated_cpu": True,
            "isolate_emulator_thread": True,
        },
        {},
        # (2 vCPU + 1 emulator thread) x 1000m
        cpu_millis=3000,
        # 4Gi / 512 = 8 MiB; + 240 + 2 x 8 + 8 + 32 + dedicated 100
        overhead_bytes=(8 + 240 + 16 + 8 + 32 + 100) * MIB,
        memory_bytes=4 * GIB + (8 + 240 + 16 + 8 + 32 + 100) * MIB,
        scalar={},
    ),
    Case(
        "6Gi guest at 150% memory overcommit requests 4Gi plus overhead",
        {"guest_memory_bytes": "6Gi"},
        {"memory_overcommit_percent": 150},
        cpu_millis=100,
        # 6Gi / 512 = 12 MiB; + 240 + 8 + 8 + 32
        overhead_bytes=(12 + 240 + 8 + 8 + 32) * MIB,
        # 6Gi x 100 / 150 = 4Gi exactly
        memory_bytes=4 * GIB + (12 + 240 + 8 + 8 + 32) * MIB,
        scalar={},
    ),
    Case(
        "1Gi guest at 150% memory overcommit rounds the base up to a whole byte",
        {"guest_memory_bytes": "1Gi"},
        {"memory_overcommit_percent": 150},
        cpu_millis=100,
        # 1Gi / 512 = 2 MiB; + 240 + 8 + 8 + 32
        overhead_bytes=(2 + 240 + 8 + 8 + 32) * MIB,
        # 1073741824 x 100 / 150 = 715827882.67, rounded up to 715827883
        memory_bytes=715_827_883 + (2 + 240 + 8 + 8 + 32) * MIB,
        scalar={},
    ),
    Case(
        "overcommitGuestOverhead reports the overhead but does not request it",
        {"cpu": {"cores": 2}, "guest_memory_bytes": "4Gi", "overcommit_guest_overhead": True},
        {},
        cpu_millis=200,
        # same as the default 2 vCPU / 4Gi VM: 8 + 240 + 16 + 8 + 32
        overhead_bytes=(8 + 240 + 16 + 8 + 32) * MIB,
        # the guest memory alone
        memory_bytes=4 * GIB,
        scalar={},
    ),
    Case(
        "8Gi guest on 1Gi hugepages requests only the overhead as memory",
        {"cpu": {"cores": 4}, "guest_memory_bytes": "8Gi", "hugepages_page_size": "1Gi"},
        {},
        cpu_millis=400,
        # 8Gi / 512 = 16 MiB; + 240 + 4 x 8 = 32 + 8 + 32
        overhead_bytes=(16 + 240 + 32 + 8 + 32) * MIB,
        # the guest comes out of hugepages-1Gi, the pod's memory is the overhead
        memory_bytes=(16 + 240 + 32 + 8 + 32) * MIB,
        scalar={"hugepages-1Gi": 8 * GIB},
    ),
    Case(
        "2Gi guest on 2Mi hugepages with overcommitted overhead requests no memory at all",
        {
            "guest_memory_bytes": "2Gi",
            "hugepages_page_size": "2Mi",
            "overcommit_guest_overhead": True,
        },
        {},
        cpu_millis=100,
        # 2Gi / 512 = 4 MiB; + 240 + 8 + 8 + 32
        overhead_bytes=(4 + 240 + 8 + 8 + 32) * MIB,
        # hugepages carry the guest and the overhead is overcommitted
        memory_bytes=0,
        scalar={"hugepages-2Mi": 2 * GIB},
    ),
    Case(
        "8 vCPU, 32Gi guest with 2 GPUs adds the host-device overhead",
        {"cpu": {"cores": 8}, "guest_memory_bytes": "32Gi", "host_devices": {"nvidia.com/gpu": 2}},
        {},
        cpu_millis=800,
        # 32Gi / 512 = 64 MiB; + 240 + 8 x 8 = 64 + 8 + 32 + host devices 1024
        overhead_bytes=(64 + 240 + 64 + 8 + 32 + 1024) * MIB,
        memory_bytes=32 * GIB + (64 + 240 + 64 + 8 + 32 + 1024) * MIB,
        scalar={"nvidia.com/gpu": 2},
    ),
    Case(
        "a headless VM without graphics saves the video overhead",
        {"cpu": {"cores": 2}, "guest_memory_bytes": "4Gi", "autoattach_graphics": False},
        {},
        cpu_millis=200,
        # 8 + 240 + 16 + 8, no video 32
        overhead_bytes=(8 + 240 + 16 + 8) * MIB,
        memory_bytes=4 * GIB + (8 + 240 + 16 + 8) * MIB,
        scalar={},
    ),
    Case(
        "TPM and SEV add 53 MiB and 256 MiB",
        {"cpu": {"cores": 2}, "guest_memory_bytes": "4Gi", "tpm": True, "sev": True},
        {},
        cpu_millis=200,
        # 8 + 240 + 16 + 8 + 32 + TPM 53 + SEV 256
        overhead_bytes=(8 + 240 + 16 + 8 + 32 + 53 + 256) * MIB,
        memory_bytes=4 * GIB + (8 + 240 + 16 + 8 + 32 + 53 + 256) * MIB,
        scalar={},
    ),
    Case(
        "an arm64 VM adds 128 MiB",
        {"cpu": {"cores": 2}, "guest_memory_bytes": "4Gi", "architecture": "arm64"},
        {},
        cpu_millis=200,
        # 8 + 240 + 16 + 8 + 32 + arm64 128
        overhead_bytes=(8 + 240 + 16 + 8 + 32 + 128) * MIB,
        memory_bytes=4 * GIB + (8 + 240 + 16 + 8 + 32 + 128) * MIB,
        scalar={},
    ),
    Case(
        "a passt network binding adds 250 MiB",
        {"cpu": {"cores": 2}, "guest_memory_bytes": "4Gi", "passt_binding": True},
        {},
        cpu_millis=200,
        # 8 + 240 + 16 + 8 + 32 + passt 250
        overhead_bytes=(8 + 240 + 16 + 8 + 32 + 250) * MIB,
        memory_bytes=4 * GIB + (8 + 240 + 16 + 8 + 32 + 250) * MIB,
        scalar={},
    ),
    Case(
        "additional overhead ratio 1.5 scales the whole overhead",
        {"cpu": {"cores": 2}, "guest_memory_bytes": "4Gi"},
        {"additional_guest_memory_overhead_ratio": "1.5"},
        cpu_millis=200,
        # (8 + 240 + 16 + 8 + 32) = 304 MiB x 1.5 = 456 MiB
        overhead_bytes=456 * MIB,
        memory_bytes=4 * GIB + 456 * MIB,
        scalar={},
    ),
    Case(
        "additional overhead ratio 1.1 rounds the scaled overhead up to a whole byte",
        {"cpu": {"cores": 2}, "guest_memory_bytes": "4Gi"},
        {"additional_guest_memory_overhead_ratio": "1.1"},
        cpu_millis=200,
        # 304 MiB = 318_767_104 B; x 1.1 = 350_643_814.4 B, rounded up
        overhead_bytes=350_643_815,
        memory_bytes=4 * GIB + 350_643_815,
        scalar={},
    ),
    Case(
        "a decimal 1500M guest makes fractional page tables, rounded up at the end",
        {"guest_memory_bytes": "1500M"},
        {},
        cpu_millis=100,
        # 1_500_000_000 / 512 = 2_929_687.5 B; + (240 + 8 + 8 + 32) MiB = 301_989_888 B
        # = 304_919_575.5 B, rounded up
        overhead_bytes=304_919_576,
        memory_bytes=1_500_000_000 + 304_919_576,
        scalar={},
    ),
    Case(
        "requests.memory alone is the guest size and ignores the overcommit setting",
        {"cpu": {"cores": 2}, "requests_memory_bytes": "4Gi"},
        {"memory_overcommit_percent": 150},
        cpu_millis=200,
        # guest = requests.memory = 4Gi: 8 + 240 + 16 + 8 + 32
        overhead_bytes=(8 + 240 + 16 + 8 + 32) * MIB,
        # base is requests.memory, not 4Gi x 100 / 150
        memory_bytes=4 * GIB + (8 + 240 + 16 + 8 + 32) * MIB,
        scalar={},
    ),
    Case(
        "an 8Gi guest with a 4Gi memory request sizes overhead on the guest",
        {"cpu": {"cores": 2}, "guest_memory_bytes": "8Gi", "requests_memory_bytes": "4Gi"},
        {},
        cpu_millis=200,
        # page tables from the guest: 8Gi / 512 = 16 MiB; + 240 + 16 + 8 + 32
        overhead_bytes=(16 + 240 + 16 + 8 + 32) * MIB,
        # base is requests.memory 4Gi
        memory_bytes=4 * GIB + (16 + 240 + 16 + 8 + 32) * MIB,
        scalar={},
    ),
    Case(
        "limits.memory only is both the guest size and the base",
        {"limits_memory_bytes": "2Gi"},
        {},
        cpu_millis=100,
        # 2Gi / 512 = 4 MiB; + 240 + 8 + 8 + 32
        overhead_bytes=(4 + 240 + 8 + 8 + 32) * MIB,
        memory_bytes=2 * GIB + (4 + 240 + 8 + 8 + 32) * MIB,
        scalar={},
    ),
    Case(
        "a VM with no memory at all still pays the fixed overhead",
        {},
        {},
        cpu_millis=100,
        # 0 / 512 = 0; + 240 + 8 + 8 + 32
        overhead_bytes=(240 + 8 + 8 + 32) * MIB,
        memory_bytes=(240 + 8 + 8 + 32) * MIB,
        scalar={},
    ),
    Case(
        "arm64, 4 dedicated vCPU plus emulator thread, GPU and 2Mi hugepages at ratio 1.5",
        {
            "cpu": {"cores": 2, "threads": 2},
            "guest_memory_bytes": "8Gi",
            "architecture": "arm64",
            "dedicated_cpu": True,
            "isolate_emulator_thread": True,
            "hugepages_page_size": "2Mi",
            "host_devices": {"nvidia.com/gpu": 1},
        },
        {"additional_guest_memory_overhead_ratio": "1.5", "cpu_allocation_ratio": 2},
        # 2 x 2 = 4 dedicated vCPU + 1 emulator thread, the allocation ratio does not apply
        cpu_millis=5000,
        # 8Gi / 512 = 16; + 240 + 4 x 8 = 32 + 8 + 32 + GPU 1024 + dedicated 100 + arm64 128
        # = 1580 MiB; x 1.5 = 2370 MiB
        overhead_bytes=2370 * MIB,
        # hugepages: memory is the overhead only
        memory_bytes=2370 * MIB,
        scalar={"hugepages-2Mi": 8 * GIB, "nvidia.com/gpu": 1},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_pod_request(case: Case) -> None:
    request = pod_request(vm_spec(**case.vm), KubeVirtSettings(**case.kubevirt))

    assert request.cpu_millis == case.cpu_millis
    assert request.overhead_bytes == case.overhead_bytes
    assert request.memory_bytes == case.memory_bytes
    assert request.scalar_dict() == case.scalar
    assert list(request.scalar) == sorted(request.scalar)
    assert request.arithmetic
    assert all(step for step in request.arithmetic)


def test_arithmetic_shows_the_final_figures() -> None:
    request = pod_request(vm_spec(cpu={"cores": 2}, guest_memory_bytes="4Gi"), KubeVirtSettings())

    shown = "\n".join(request.arithmetic)
    assert "200m" in shown
    assert f"overhead = {304 * MIB} B" in shown
    assert f"{4 * GIB + 304 * MIB} B" in shown


def test_sizes_differ_per_target_setting() -> None:
    vm = vm_spec(cpu={"cores": 4}, guest_memory_bytes="4Gi")

    # 4000m / 10 = 400m, 4000m / 1 = 4000m
    assert pod_request(vm, KubeVirtSettings()).cpu_millis == 400
    assert pod_request(vm, KubeVirtSettings(cpu_allocation_ratio=1)).cpu_millis == 4000


def test_bad_guest_memory_quantity_names_the_field() -> None:
    with pytest.raises(pydantic.ValidationError) as error:
        vm_spec(guest_memory_bytes="8Gx")

    assert "guest_memory_bytes" in str(error.value)
    assert [e["loc"] for e in error.value.errors()] == [("guest_memory_bytes",)]


def test_bad_hugepages_page_size_is_rejected() -> None:
    with pytest.raises(pydantic.ValidationError, match="hugepages_page_size"):
        vm_spec(guest_memory_bytes="4Gi", hugepages_page_size="4Ki")
