"""`cclm size` on manifests as users write them, and `cclm check --vm-file` on the same.

The figures are worked by hand (kubevirt/kubevirt; see tests/unit/test_sizing.py for the
rules' lines): the example VM uses u1.medium (1 vCPU, 4Gi guest) and a preference that
turns on a TPM.
"""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub import cli

EXAMPLES = Path(__file__).parents[2] / "hub" / "examples" / "manifests"
WEB = str(EXAMPLES / "web.yaml")
CR = str(EXAMPLES / "kubevirt.yaml")
MI = 2**20
GUEST = 4 * 2**30
# GetMemoryOverhead: launcher monitor 25, launcher 100, virtlogd 25, virtqemud 40, qemu 30,
# 1 vCPU x 8, IOThread 8, video 32, swtpm 53 (MiB); no VMI memory request, no page tables.
OVERHEAD = (25 + 100 + 25 + 40 + 30 + 8 + 8 + 32 + 53) * MI
CONSOLE = (5, 35 * 10**6)  # guest-console-log requests (serialconsolelog.go)
VIRT = {
    "devices.kubevirt.io/kvm": 1,
    "devices.kubevirt.io/tun": 1,
    "devices.kubevirt.io/vhost-net": 1,
}


def _size(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    status = cli.main(["size", "--vm-file", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_json_is_exactly_the_documented_shape_with_kubevirts_defaults(capsys) -> None:
    status, out, _ = _size(capsys, WEB, "-o", "json")
    assert status == 0
    [vm] = json.loads(out)["vms"]
    assert set(vm) == {"vm", "pod", "containers", "node_selector", "arithmetic"}
    compute_cpu = 100  # 1 vCPU / cpuAllocationRatio 10 (WithoutDedicatedCPU)
    compute_memory = GUEST + OVERHEAD  # request = guest at render time (WithMemoryRequests)
    assert vm["vm"] == "shop/web"
    assert vm["pod"] == {
        "cpu_millis": compute_cpu + CONSOLE[0],
        "memory_bytes": compute_memory + CONSOLE[1],
        "resources": VIRT,
    }
    assert vm["containers"] == [
        {"name": "compute", "cpu_millis": compute_cpu, "memory_bytes": compute_memory},
        {"name": "guest-console-log", "cpu_millis": CONSOLE[0], "memory_bytes": CONSOLE[1]},
    ]
    assert vm["node_selector"] == {
        "kubernetes.io/arch": "amd64",
        "kubevirt.io/schedulable": "true",
        "machine-type.node.kubevirt.io/q35": "true",
    }
    assert vm["arithmetic"][0] == "KubeVirt v1.9.0 rules"


def test_the_crs_settings_and_its_observed_release(capsys) -> None:
    status, out, _ = _size(capsys, WEB, "--kubevirt", CR, "-o", "json")
    assert status == 0
    [vm] = json.loads(out)["vms"]
    # v1.8.2 (status.observedKubeVirtVersion): request = floor(4Gi x 100 / memoryOvercommit 125);
    # the overhead in whole kB rounded up, x (1.2 - 1) truncated, added (MultiplyMemory).
    request = GUEST * 100 // 125
    kilo = -(-OVERHEAD // 1000)
    overhead = OVERHEAD + int(float(kilo) * (1.2 - 1.0)) * 1000
    # cpuRequest 200m becomes the VMI's request (setDefaultResourceRequests) and wins.
    assert vm["pod"]["cpu_millis"] == 200 + CONSOLE[0]
    assert vm["pod"]["memory_bytes"] == request + overhead + CONSOLE[1]
    assert vm["arithmetic"][0] == "KubeVirt v1.8.0-v1.8.4 rules", "v1.8.2 sizes as its line does"


def test_the_version_flag_wins_over_the_crs_status(capsys) -> None:
    status, out, _ = _size(
        capsys, WEB, "--kubevirt", CR, "--kubevirt-version", "v1.6.3", "-o", "json"
    )
    assert status == 0
    [vm] = json.loads(out)["vms"]
    assert vm["arithmetic"][0] == "KubeVirt v1.6.0-v1.6.1, v1.6.3 rules", "v1.6.2 differs"


def test_yaml_is_the_json_document(capsys) -> None:
    _, as_json, _ = _size(capsys, WEB, "-o", "json")
    status, as_yaml, _ = _size(capsys, WEB, "-o", "yaml")
    assert status == 0
    assert yaml.safe_load(as_yaml) == json.loads(as_json)


def test_text_shows_each_container_and_the_arithmetic(capsys) -> None:
    status, out, _ = _size(capsys, WEB)
    assert status == 0
    total = GUEST + OVERHEAD + CONSOLE[1]
    assert out.splitlines()[0] == f"shop/web: cpu 0.105 (105m), memory 4.3 GiB ({total} B)"
    assert "    compute                      cpu    100m" in out
    assert "VirtualMachineClusterInstancetype u1.medium: 1 vCPU" in out
    assert "TPM (swtpm) 55574528" in out
    assert "note: its source node is unknown" in out


def _write(tmp_path: Path, *documents: dict[str, Any]) -> str:
    path = tmp_path / "vms.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    return str(path)


def _vm(**spec: Any) -> dict[str, Any]:
    template = spec.pop("template", {"domain": {"cpu": {"cores": 2}, "memory": {"guest": "2Gi"}}})
    return {
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": "db", "namespace": "shop"},
        "spec": {"template": {"spec": template}, **spec},
    }


@pytest.mark.parametrize(
    ("documents", "flags", "message"),
    [
        (
            [_vm(instancetype={"name": "u1.small"})],
            (),
            "names VirtualMachineClusterInstancetype 'u1.small', which is not among the documents",
        ),
        (
            [
                _vm(
                    template={
                        "domain": {
                            "cpu": {"cores": 2, "dedicatedCpuPlacement": True},
                            "memory": {"guest": "2Gi"},
                            "resources": {"requests": {"cpu": "1500m"}},
                        }
                    }
                )
            ],
            (),
            "spec.template.spec.domain",
        ),
        (
            [_vm()],
            ("--kubevirt-version", "newest"),
            "--kubevirt-version 'newest': expected a release",
        ),
        ([{"kind": "ConfigMap", "apiVersion": "v1"}], (), "no VirtualMachine"),
    ],
    ids=[
        "a missing instancetype",
        "dedicated CPUs with a fractional request",
        "bad version",
        "no VM",
    ],
)
def test_bad_input_is_one_clear_message_and_exit_2(
    tmp_path: Path, capsys, documents: list[dict[str, Any]], flags: tuple[str, ...], message: str
) -> None:
    status, out, err = _size(capsys, _write(tmp_path, *documents), *flags)
    assert status == 2
    assert message in err
    assert "Traceback" not in err
    assert out == ""


def test_a_kubevirt_file_that_is_not_one_cr(tmp_path: Path, capsys) -> None:
    status, _, err = _size(capsys, WEB, "--kubevirt", _write(tmp_path, _vm()))
    assert status == 2
    assert err.startswith("cclm: --kubevirt ")


def test_check_reads_the_same_manifests(capsys) -> None:
    capsys.readouterr()
    argv = ["check", "--example", "--vm-file", WEB, "--target", "prod-west", "-o", "json"]
    assert cli.main(argv) == 0
    target = json.loads(capsys.readouterr().out)["target"]
    [placement] = target["placements"]
    # prod-west runs v1.7.4, whose rules give this VM the same pod as v1.9.0's.
    assert (placement["cpu_millis"], placement["memory_bytes"]) == (
        105,
        GUEST + OVERHEAD + CONSOLE[1],
    )
    assert placement["volumes"] == [
        {"disk": "root", "storage_class": "ceph-rbd", "size_bytes": 30 * 2**30}
    ]
    assert "SOURCE_NODE_UNKNOWN" in {f["code"] for f in target["findings"]}
