"""The rsync image's entrypoint, run for real: a real rsync daemon (the server pod's
configuration) and a real rsync client sending two volumes with the client pod's own command,
behind `cclm-rsync-progress`, which writes the bytes sent to the pod's annotation on an
emulated API server (kmock) through the official client."""

import asyncio
import os
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

import kmock
import pytest
import yaml
from spoke_agent.drivers import kube_objects as ko
from spoke_agent.rsync.progress import Tally, lines

NS = "vms"
POD = "cclm-0123456789-r1-rsync-web"
RSYNC = shutil.which("rsync")


def test_progress_lines_sum_over_runs() -> None:
    # rsync 3.2's --info=progress2 output: CR between updates, LF at a run's end.
    output = (
        "      1,048,576  33%   10.00MB/s    0:00:00 (xfr#1, to-chk=1/2)\r"
        "      3,145,728 100%   10.00MB/s    0:00:00 (xfr#2, to-chk=0/2)\n"
        "sending incremental file list\n"
        "        524,288  50%    5.00MB/s    0:00:00 (xfr#1, to-chk=0/1)\r"
        "      1,048,576 100%    5.00MB/s    0:00:00 (xfr#1, to-chk=0/1)\n"
        "        262,1"
    )
    whole, rest = lines(output)
    assert rest == "        262,1"
    tally = Tally()
    changed = [tally.feed(line) for line in whole]
    assert changed == [True, True, False, True, True]
    assert tally.total == 3_145_728 + 1_048_576


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _kubeconfig(path: Path, server: kmock.Server) -> Path:
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": str(server.url).rstrip("/")}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "c",
    }
    path.write_text(yaml.safe_dump(document))
    return path


def _client_command(data: Path) -> list[str]:
    """The client pod's own command, its volumes under `data` instead of /data."""
    container: dict[str, Any] = ko.client_pod(
        "job", 1, f"{NS}/web", ["root", "disk"], "rsync", "127.0.0.1", ko.Stamp("u", 1, "1")
    )["spec"]["containers"][0]
    assert container["args"][:2] == ["sh", "-c"]
    # The first /data/ is the client's own mount; the second, the server's module.
    return ["sh", "-c", container["args"][2].replace('"/data/', f'"{data}/', 1)]


async def _daemon(tmp_path: Path, port: int) -> asyncio.subprocess.Process:
    received = tmp_path / "received"
    for volume in ("root", "disk"):
        (received / volume).mkdir(parents=True)
    config = tmp_path / "rsyncd.conf"
    # The server pod's module (kube_objects' _SERVE), rooted here, as whoever runs the test.
    ids = f"uid = {os.getuid()}\ngid = {os.getgid()}\n"
    chroot = "" if os.getuid() == 0 else "use chroot = false\n"
    config.write_text(f"[data]\npath = {received}\nread only = false\n{ids}{chroot}")
    daemon = await asyncio.create_subprocess_exec(
        RSYNC or "rsync",
        "--daemon",
        "--no-detach",
        f"--port={port}",
        f"--config={config}",
        "--address=127.0.0.1",
    )
    for _ in range(100):
        try:
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return daemon
        except OSError:
            await asyncio.sleep(0.05)
    daemon.kill()
    pytest.fail("the rsync daemon did not start")


async def test_a_real_copy_reports_every_byte_on_its_pod(tmp_path: Path) -> None:
    if RSYNC is None:
        pytest.fail("rsync is not installed: apt-get install rsync (.ci/run does)", pytrace=False)
    sizes = {"root": 3 * 2**20 + 17, "disk": 5 * 2**20}
    data = tmp_path / "data"
    for volume, size in sizes.items():
        (data / volume).mkdir(parents=True)
        (data / volume / "disk.img").write_bytes(os.urandom(size))
    port = _free_port()
    daemon = await _daemon(tmp_path, port)
    try:
        async with kmock.KubernetesEmulator() as emulator, kmock.Server(emulator) as server:
            emulator.objects["v1/pods", NS, POD] = {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": POD, "namespace": NS},
            }
            env = {
                **os.environ,
                "KUBECONFIG": str(_kubeconfig(tmp_path / "kubeconfig", server)),
                "POD_NAME": POD,
                "POD_NAMESPACE": NS,
                "SERVER": f"127.0.0.1:{port}",
                "VOLUMES": "root disk",
            }
            wrapper = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "spoke_agent.rsync.wrapper",
                *_client_command(data),
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await wrapper.communicate()
            assert wrapper.returncode == 0, (out + err).decode()
            pod = emulator.objects["v1/pods", NS, POD].raw
    finally:
        daemon.terminate()
        await daemon.wait()
    assert pod["metadata"]["annotations"][ko.BYTES_COPIED] == str(sum(sizes.values()))
    for volume in sizes:
        sent = (data / volume / "disk.img").read_bytes()
        assert (tmp_path / "received" / volume / "disk.img").read_bytes() == sent
    assert b"100%" in out


async def entrypoint(*command: str, **env: str) -> asyncio.subprocess.Process:
    """`cclm-rsync-progress COMMAND...` as the image runs it, its output piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "spoke_agent.rsync.wrapper",
        *command,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_a_failed_copy_fails_the_pod() -> None:
    wrapper = await entrypoint("sh", "-c", "echo no route; exit 12", POD_NAME="", POD_NAMESPACE="")
    out, _err = await wrapper.communicate()
    assert wrapper.returncode == 12
    assert out == b"no route\n"


async def test_no_command_is_a_usage_error() -> None:
    wrapper = await entrypoint()
    _out, err = await wrapper.communicate()
    assert wrapper.returncode == 2
    assert b"usage: cclm-rsync-progress COMMAND" in err


async def test_a_pod_being_deleted_stops_the_copy_at_once() -> None:
    wrapper = await entrypoint("sh", "-c", "echo up; sleep 60 & wait")
    assert wrapper.stdout is not None
    # Passed through as the command writes it: once it is read, the command runs.
    assert await asyncio.wait_for(wrapper.stdout.readline(), timeout=10) == b"up\n"
    wrapper.terminate()
    status = await asyncio.wait_for(wrapper.wait(), timeout=10)
    # Forwarded to the command's group, which ended at once; the entrypoint exits with
    # the shell's status for it (killed by the signal itself, it would be -15).
    assert status == 128 + 15
