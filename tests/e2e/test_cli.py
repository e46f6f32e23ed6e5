"""`cclm hub serve` as a real process, driven by the `cclm` commands a person would type."""

import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from hub.cli import main
from hub.cli.fleet_files import example_fleet
from tests.support import ports


class Served:
    def __init__(self, url: str, home: Path, process: subprocess.Popen[str]) -> None:
        self.url = url
        self.home = home
        self.process = process

    @property
    def admin(self) -> Path:
        return self.home / "admin.token"

    def cli(self, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        status = main([*args, "--hub", self.url, "--token-file", str(self.admin)])
        out, err = capsys.readouterr()
        return status, out, err

    def post(self, path: str, token: str, body: bytes, encoding: str = "") -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        if encoding:
            headers["Content-Encoding"] = encoding
        request = urllib.request.Request(self.url + path, body, headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10, context=None) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


def serve(home: Path, *extra: str, scheme: str = "http") -> Served:
    port = ports.free()
    process = subprocess.Popen(
        [sys.executable, "-m", "hub.cli", "hub", "serve", "--port", str(port), *extra],
        env={**os.environ, "CCLM_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    return Served(f"{scheme}://127.0.0.1:{port}", home, process)


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = stat.read_text().rsplit(")", 1)[1].split()[1]
        except OSError:
            continue
        if parent == str(pid):
            found.append(int(stat.parent.name))
    return found


def stop(served: Served) -> tuple[str, str]:
    served.process.terminate()
    out, err = served.process.communicate(timeout=30)
    return out, err


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Served]:
    served = serve(tmp_path, "--intake-workers", "0")
    yield served
    stop(served)


def _load_example_fleet(hub: Served, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = yaml.safe_load(example_fleet().read_text())
    for entry in fleet["clusters"]:
        labels = [f"--label={k}={v}" for k, v in entry["labels"].items()]
        status, out, _ = hub.cli(
            capsys, "clusters", "register", entry["name"], *labels, "--output", "json"
        )
        assert status == 0
        token = json.loads(out)["token"]
        report = yaml.safe_load((example_fleet().parent / entry["report"]).read_text())
        body = gzip.compress(json.dumps(report).encode())
        path = f"/api/v1/clusters/{entry['name']}/reports"
        assert hub.post(path, token, body, "gzip")[0] == 202


def test_first_start_prints_where_the_admin_token_is(hub: Served) -> None:
    out, _ = stop(hub)
    assert f"admin token saved to {hub.admin} (mode 0600)" in out
    assert oct(hub.admin.stat().st_mode & 0o777) == "0o600"
    assert hub.admin.read_text().startswith("cclm_")


def test_a_check_through_the_hub_reads_like_the_check_on_files(
    hub: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    _load_example_fleet(hub, capsys)
    vm = ("--vm", "prod-east/shop/db-large", "--target", "prod-west")
    status, remote, _ = hub.cli(capsys, "check", *vm)
    assert status == 3  # short, through the hub as on files
    capsys.readouterr()
    assert main(["check", "--example", *vm]) == 3
    local = capsys.readouterr().out
    assert remote.strip() == local.strip()
    assert "MEMORY_SHORT" in remote


def test_migrate_acknowledge_list_and_cancel(
    hub: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    _load_example_fleet(hub, capsys)
    args = ("migrate", "--vm", "prod-east/shop/db-large", "--target", "prod-west")
    status, _, err = hub.cli(capsys, *args)
    assert status == 2  # refused by the hub as a wrong command: acknowledge with --ack
    assert "409 acknowledgement_required" in err
    assert "run it again with --ack MEMORY_SHORT" in err
    acks = ["--ack=MEMORY_SHORT", "--ack=STORAGE_SHORT", "--ack=PENDING_LAUNCHERS"]
    status, out, err = hub.cli(capsys, *args, *acks, "--output", "json")
    assert status == 0, err
    migration = json.loads(out)
    status, out, _ = hub.cli(capsys, "tasks", "--state", "queued")
    assert migration["task_id"] in out
    assert "shop/db-large[live]=pending" in out
    status, out, _ = hub.cli(capsys, "migrations", "cancel", migration["id"])
    assert "CANCELLED" in out
    assert "released (cancelled)" in out
    status, out, _ = hub.cli(capsys, "clusters")
    assert out.splitlines()[0].startswith("CLUSTER")
    assert any(
        line.startswith("prod-west") and line.split()[-1] == "0" for line in out.splitlines()
    )


def test_tokens_and_wrong_credentials(
    hub: Served, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, _ = hub.cli(capsys, "tokens", "create", "dashboards", "--role", "viewer")
    assert status == 0
    viewer = tmp_path / "viewer.token"
    viewer.write_text(out.splitlines()[0])
    capsys.readouterr()
    denied = main(["clusters", "register", "x", "--hub", hub.url, "--token-file", str(viewer)])
    assert denied == 1
    assert "403 forbidden" in capsys.readouterr().err
    assert main(["clusters", "--hub", hub.url, "--token-file", str(viewer)]) == 0


def test_the_served_hub_inflates_bodies_itself(
    hub: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = hub.cli(capsys, "clusters", "register", "edge", "--output", "json")
    token = json.loads(out)["token"]
    answer = hub.post(
        "/api/v1/clusters/edge/reports", token, b"\x1f\x8b\x08" + b"\x00" * 20, "gzip"
    )
    assert answer == (400, answer[1])
    assert answer[1]["error"]["code"] == "invalid_encoding"


def test_an_admin_resets_a_clusters_sequence_from_the_command_line(
    hub: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, _ = hub.cli(capsys, "clusters", "register", "edge", "--output", "json")
    token = json.loads(out)["token"]
    report = yaml.safe_load((example_fleet().parent / "prod-east.yaml").read_text())
    report = {**report, "cluster": "edge", "sequence": int(time.time() * 1000) + 60_000}
    path = "/api/v1/clusters/edge/reports"
    assert hub.post(path, token, gzip.compress(json.dumps(report).encode()), "gzip")[0] == 202
    status, out, _ = hub.cli(capsys, "clusters", "reset-sequence", "edge")
    assert status == 0
    assert out.startswith(f"the report sequence of edge was reset (it was {report['sequence']})")
    report["sequence"] = 3
    assert hub.post(path, token, gzip.compress(json.dumps(report).encode()), "gzip")[0] == 202


def test_an_unreachable_hub_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["clusters", "--hub", f"http://127.0.0.1:{ports.free()}"])
    assert status == 1
    assert "cannot reach the hub" in capsys.readouterr().err


def test_tls_and_the_warning_for_clear_text_on_the_network(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    secure = serve(
        tmp_path / "tls",
        "--intake-workers",
        "0",
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
        scheme="https",
    )
    try:
        capsys.readouterr()
        token = str(secure.admin)
        assert (
            main(["clusters", "--hub", secure.url, "--token-file", token, "--ca-file", str(cert)])
            == 0
        )
        assert main(["clusters", "--hub", secure.url, "--token-file", token]) == 1
        assert "certificate" in capsys.readouterr().err.lower()
    finally:
        _, err = stop(secure)
    assert "WITHOUT TLS" not in err
    exposed = serve(tmp_path / "open", "--intake-workers", "0", "--host", "0.0.0.0")
    _, err = stop(exposed)
    assert "WARNING: serving on 0.0.0.0 WITHOUT TLS" in err


def test_the_demo_walks_through_check_refusal_and_migration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "--home", str(tmp_path), "--exit"]) == 0
    out = capsys.readouterr().out
    assert "prod-west: SHORT" in out
    assert "Migrate to prod-west: refused (409 acknowledgement_required)" in out
    assert "Migrate to gpu-lab, the top suggestion: accepted" in out
    assert "memory         allocatable 1.6 TiB, requested 352.0 GiB, reserved 32.3 GiB" in out
    assert (tmp_path / "hub.db").is_file()
    assert "shop/db-large [live] cutover" in out
    assert "FINISHED 100%  finished: 1 of 1 VMs migrated" in out
    assert "shop/db-large [live] migrated on lab-w" in out
    assert "waiting: the agent of target cluster 'gpu-lab' has not granted access" in out
    assert "gpu-lab's agent granted access: service account cclm-mig-" in out
    assert "prod-east's agent released the access; gpu-lab's agent: revoked" in out
    assert out.count("agent sent report #") == 3
    assert re.search(r"^sim-002 +fresh ", out, re.MULTILINE)
    stopped = out[out.index("its owner stops it mid-flight") :]
    assert "shop/web-1 [live] receiving" in stopped
    assert "shop/web-1 [offline] copying" in stopped
    assert "shop/web-1 [offline] migrated on lab-w" in stopped
    stall = out[out.index("the cluster fills up meanwhile") :]
    assert "Pending: 0/4 nodes are available: 4 Insufficient memory." in stall
    assert "stalled: shop/web-2: receiving pod receiver-shop-web-2 has been Pending for" in stall
    assert "alert critical: migration mig-" in stall
    assert "recommendation: migration mig-" in stall
    assert "its VMs fit now on" in stall
    assert (tmp_path / "admin.token").stat().st_mode & 0o077 == 0


def test_the_demo_without_its_tour_sets_up_the_fleet_it_is_asked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["demo", "--home", str(tmp_path), "--no-tour", "--exit", "--clusters", "1"]
    assert main([*args, "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "Check prod-east" not in out
    assert "mid-flight" not in out
    assert out.count("agent sent report #") == 1
    assert "sim-000" in out
    assert "sim-001" not in out
    assert "hub and console on http://127.0.0.1:" in out


def test_the_demo_on_a_port_in_use_is_one_line_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["demo", "--home", str(tmp_path), "--exit", "--port", str(port)]) == 2
    out, err = capsys.readouterr()
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "pick another --port" in err
    assert "Traceback" not in out + err


def _refused_by_argparse(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What the command line printed when it refused `argv` as a wrong command (status 2)."""
    with pytest.raises(SystemExit) as refused:
        main(argv)
    assert refused.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("command", [["demo", "--exit"], ["hub", "serve"]])
def test_a_port_that_is_no_port_is_refused_naming_the_flag(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused_by_argparse([*command, "--port", "70000"], capsys)
    assert "--port: '70000' is not a TCP port (0 to 65535)" in err


@pytest.mark.parametrize(
    "command", [["clusters", "show", "../tokens"], ["migrations", "show", "x?state=queued"]]
)
def test_a_name_that_would_change_the_request_is_refused(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused_by_argparse([*command, "--hub", "http://127.0.0.1:9"], capsys)
    assert f"{command[-1]!r} is not a name or id" in err


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_the_demo_stopped_during_its_tour_stops_everything_it_started(
    tmp_path: Path, signum: int
) -> None:
    port = ports.free()
    command = [sys.executable, "-u", "-m", "hub.cli", "demo", "--home", str(tmp_path)]
    process = subprocess.Popen(
        [*command, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        if "Spoke agents register and report" in line:
            break  # the tour has begun
    process.send_signal(signum)
    out = line + process.communicate(timeout=30)[0]
    assert process.returncode == 130, out
    assert "interrupted; everything it started is stopped" in out
    assert "Traceback" not in out
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "the hub was stopped"


def test_the_demo_refuses_a_fleet_size_it_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _refused_by_argparse(["demo", "--home", str(tmp_path), "--clusters", "51"], capsys)
    assert "--clusters: 51 is not between 0 and 50" in err


def test_a_killed_hub_restarts_with_its_migrations_and_reservations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = serve(tmp_path, "--intake-workers", "1")
    try:
        _load_example_fleet(first, capsys)
        args = ("migrate", "--vm", "prod-east/shop/db-large", "--target", "gpu-lab")
        status, out, err = first.cli(capsys, *args, "--output", "json")
        assert status == 0, err
        migration = json.loads(out)
        workers = _children(first.process.pid)
        assert workers, "the hub runs a validation worker"
    finally:
        first.process.kill()
        first.process.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "workers outlived the hub"
    second = serve(tmp_path, "--intake-workers", "0")
    try:
        status, out, _ = second.cli(
            capsys, "migrations", "show", migration["id"], "--output", "json"
        )
        assert status == 0
        again = json.loads(out)
        assert again["state"] == "queued"
        assert again["reservation"]["released_at"] is None
        status, out, _ = second.cli(capsys, "clusters", "show", "gpu-lab", "--output", "json")
        reserved = json.loads(out)["resources"]["memory_bytes"]["reserved"]
        assert reserved == migration["check"]["placements"][0]["memory_bytes"]
        status, _, err = second.cli(capsys, *args)
        assert status == 2
        assert "vm_busy" in err
    finally:
        stop(second)


def test_a_port_in_use_is_one_line_naming_the_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CCLM_HOME", str(tmp_path))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status = main(["hub", "serve", "--port", str(port), "--db", str(tmp_path / "hub.db")])
    out, err = capsys.readouterr()
    assert status == 2
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert "pick another --port" in err
    assert "serving" not in out
    assert "Traceback" not in out + err


@pytest.mark.parametrize("kubeconfig", [None, "missing", "garbage"])
def test_a_spoke_without_a_usable_kubeconfig_is_one_line(
    kubeconfig: str | None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    token = tmp_path / "token"
    token.write_text("cclm_0123456789abcdef_secret\n")
    argv = ["spoke", "run", "--hub", "http://127.0.0.1:9", "--cluster", "east"]
    argv += ["--token-file", str(token), "--state-dir", str(tmp_path / "state")]
    if kubeconfig is not None:
        path = tmp_path / "kubeconfig"
        if kubeconfig == "garbage":
            path.write_text("clusters: [")
        argv += ["--kubeconfig", str(path)]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    said = "--kubeconfig" if kubeconfig else "outside a pod, give --kubeconfig PATH"
    assert said in out


def test_clusters_show_lists_each_node_with_its_free_block(
    hub: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    _load_example_fleet(hub, capsys)
    status, out, _ = hub.cli(capsys, "clusters", "show", "prod-west")
    assert status == 0
    # hub/examples/fleet/prod-west.yaml: west-w1 has 16 cores and 64 GiB, 14.2 cores and
    # 58 GiB requested: 1.8 cores and 6.0 GiB free, the most of any node (w2 has 1.6 and 5).
    assert re.search(r"west-w1 +usable +1\.8\* +6\.0 GiB\*", out), out
    assert re.search(r"west-w2 +usable +1\.6  +5\.0 GiB$", out, re.MULTILINE), out
    assert "* the largest free block: what one VM can get" in out


def test_a_mistyped_vm_is_told_of_by_its_flag_not_by_the_request_field(
    hub: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (("check",), ("migrate", "--source", "prod-east")):
        status, _, err = hub.cli(capsys, *command, "--vm", "Prod/shop/x", "--target", "gpu-lab")
        assert status == 2
        assert "--vm 'Prod/shop/x': write CLUSTER/NAMESPACE/NAME" in err
        assert "pattern" not in err
        assert "vms.0" not in err


def test_the_hubs_policy_is_shown_and_replaced_by_a_file_checked_first(
    hub: Served, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, out, _ = hub.cli(capsys, "policy", "-o", "json")
    assert status == 0
    assert json.loads(out)["max_suggestions"] != 2
    good = tmp_path / "policy.yaml"
    good.write_text("max_suggestions: 2\n")
    status, out, err = hub.cli(capsys, "policy", str(good), "--apply")
    assert status == 0, err
    assert f"policy applied from {good}" in out
    assert "max_suggestions: 2" in out
    typo = tmp_path / "typo.yaml"
    typo.write_text("max_sugestions: 3\n")
    status, _, err = hub.cli(capsys, "policy", str(typo), "--apply")
    assert status == 2
    assert f"{typo}: at (top level): unknown key 'max_sugestions'" in err
    assert "did you mean 'max_suggestions'?" in err
    status, out, _ = hub.cli(capsys, "policy", "-o", "json")
    assert json.loads(out)["max_suggestions"] == 2, "the refused file changed nothing"
    status, _, err = hub.cli(capsys, "policy", str(good))
    assert status == 2
    assert "applied only with --apply" in err


def test_applying_a_policy_needs_a_hub(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    good = tmp_path / "policy.yaml"
    good.write_text("max_suggestions: 2\n")
    assert main(["policy", str(good), "--apply"]) == 2
    assert "name it with --hub URL (or CCLM_HUB)" in capsys.readouterr().err
    assert main(["policy", str(good)]) == 0
    assert "max_suggestions: 2" in capsys.readouterr().out


def test_lists_take_wide_output_and_say_when_empty_as_kubectl_does(
    hub: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = hub.cli(capsys, "migrations")
    assert (status, out, err.strip()) == (0, "", "No migrations found.")
    _load_example_fleet(hub, capsys)
    status, out, _ = hub.cli(capsys, "clusters", "-o", "wide")
    assert status == 0
    header, *rows = out.splitlines()
    assert header.split() == [
        "CLUSTER", "FRESHNESS", "AGE", "NODES", "FREE", "CPU", "FREE", "MEMORY", "CLAIMS",
        "VMS", "FREE", "STORAGE", "KUBEVIRT", "LABELS",
    ]  # fmt: skip
    west = next(row for row in rows if row.startswith("prod-west "))
    # hub/examples/fleet/prod-west.yaml: KubeVirt v1.7.4, ceph-rbd with 300 GiB available.
    assert "v1.7.4" in west
    assert "300.0 GiB" in west
    assert west.endswith("env=prod,topology.kubernetes.io/region=us-west")
    status, out, _ = hub.cli(capsys, "clusters")
    assert "LABELS" not in out
    status, _, err = hub.cli(capsys, "migrations", "--watch", "-o", "json")
    assert status == 2
    assert "--watch prints tables" in err


def test_a_watch_prints_the_list_then_a_line_for_a_new_migration_until_ctrl_c(
    hub: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    _load_example_fleet(hub, capsys)
    command = [sys.executable, "-m", "hub.cli", "migrations", "-w"]
    watching = subprocess.Popen(
        [*command, "--hub", hub.url, "--token-file", str(hub.admin)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout = watching.stdout
    assert stdout is not None
    with ThreadPoolExecutor(1) as reader:
        try:
            header = reader.submit(stdout.readline).result(timeout=30)
            assert header.split()[:2] == ["MIGRATION", "STATE"]
            args = ("migrate", "--vm", "prod-east/shop/db-large", "--target", "gpu-lab")
            status, out, err = hub.cli(capsys, *args, "-o", "json")
            assert status == 0, err
            started = json.loads(out)["id"]
            line = reader.submit(stdout.readline).result(timeout=30)  # the next read, 2 s on
            assert line.split()[:4] == [started, "queued", "prod-east", "gpu-lab"]
        finally:
            watching.send_signal(signal.SIGINT)  # Ctrl-C
            _, err = watching.communicate(timeout=30)
    assert watching.returncode == 0
    assert "Traceback" not in err


def test_a_cluster_that_never_reported_says_so(
    hub: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = hub.cli(capsys, "clusters", "register", "quiet")
    assert status == 0, err
    status, out, _ = hub.cli(capsys, "clusters", "show", "quiet")
    assert status == 0
    assert "quiet (missing; no report yet: its agent has not reported" in out
    assert "None" not in out


def test_a_fleet_is_registered_in_one_command_its_tokens_kept_owner_only(
    hub: Served, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    listed = tmp_path / "clusters.yaml"
    listed.write_text("- name: east-1\n  labels: {topology.kubernetes.io/region: east}\n- west-1\n")
    tokens = tmp_path / "tokens"
    status, out, err = hub.cli(
        capsys,
        "clusters",
        "register",
        "lab-1",
        "--file",
        str(listed),
        "-l",
        "team=virt",
        "--token-dir",
        str(tokens),
    )
    assert status == 0, err
    assert sorted(p.name for p in tokens.iterdir()) == [
        "east-1.token",
        "lab-1.token",
        "west-1.token",
    ]
    for path in tokens.iterdir():
        assert oct(path.stat().st_mode & 0o777) == "0o600"
        assert path.read_text().startswith("cclm_")
    assert "cclm_" not in out  # written, never printed
    status, out, _ = hub.cli(capsys, "clusters", "show", "east-1", "-o", "json")
    assert json.loads(out)["labels"] == {"topology.kubernetes.io/region": "east", "team": "virt"}
    # A manifest per cluster for the agent chart's token.existingSecret; one name taken
    # does not stop the others, and the command says which and why.
    secrets = tmp_path / "secrets"
    status, _, err = hub.cli(
        capsys,
        "clusters",
        "register",
        "east-1",
        "north-1",
        "--secret-dir",
        str(secrets),
        "--secret-namespace",
        "virt-ops",
    )
    assert status == 2
    assert "east-1 not registered" in err
    assert "run: cclm clusters token east-1" in err
    manifest = yaml.safe_load((secrets / "north-1.yaml").read_text())
    assert manifest["metadata"] == {"name": "cclm-spoke-token", "namespace": "virt-ops"}
    assert manifest["stringData"]["token"].startswith("cclm_")
    assert not (secrets / "east-1.yaml").exists()


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ((), "name the clusters to register"),
        (("a", "a"), "cluster 'a' is named twice"),
    ],
)
def test_a_register_with_nothing_or_twice_is_refused(
    hub: Served, capsys: pytest.CaptureFixture[str], extra: tuple[str, ...], said: str
) -> None:
    status, _, err = hub.cli(capsys, "clusters", "register", *extra)
    assert status == 2
    assert said in err


def test_clusters_filter_by_label_and_list_their_vms(
    hub: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    _load_example_fleet(hub, capsys)
    status, out, _ = hub.cli(
        capsys, "clusters", "-l", "topology.kubernetes.io/region", "-o", "json"
    )
    assert status == 0
    everyone = {c["name"] for c in json.loads(out)["items"]}
    status, out, _ = hub.cli(capsys, "clusters", "-l", "cclm.example/none=x", "-o", "json")
    assert json.loads(out)["items"] == []
    assert everyone
    status, out, _ = hub.cli(capsys, "clusters", "vms", "prod-east")
    assert status == 0
    assert out.splitlines()[0].split()[:2] == ["VM", "RUNNING"]
    assert "shop/db-large" in out
    status, _, err = hub.cli(capsys, "clusters", "-l", "a b")
    assert status == 2
    assert "expected KEY=VALUE" in err
