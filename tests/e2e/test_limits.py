"""`cclm hub serve` against the common default open-files limit (1,024 soft): 1,100 idle
connections used to exhaust the descriptors, lock every other client out and fill the log
with 28,000 tracebacks in 15 s."""

import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthz(url: str) -> int:
    with urllib.request.urlopen(f"{url}/healthz", timeout=10) as answer:
        return int(answer.status)


def test_idle_connections_beyond_the_soft_limit_lock_nobody_out(tmp_path: Path) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard >= 2048, f"the hard open-files limit ({hard}) leaves the hub no room to raise"
    port = _port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "hub.cli", "hub", "serve", "--port", str(port)]
    command += ["--db", str(tmp_path / "hub.db"), "--intake-workers", "0"]
    command += ["--admin-token-file", str(tmp_path / "admin.token")]
    hub = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard)),
    )
    idle: list[socket.socket] = []
    try:
        for _ in range(300):
            try:
                if _healthz(url) == 200:
                    break
            except OSError:
                time.sleep(0.1)
        for _ in range(1100):
            idle.append(socket.create_connection(("127.0.0.1", port)))
        assert _healthz(url) == 200, "answered while 1,100 connections sat idle"
    finally:
        for connection in idle:
            connection.close()
        hub.terminate()
        out, err = hub.communicate(timeout=30)
    assert "open files limit raised from 1024" in out
    assert "Too many open files" not in err
