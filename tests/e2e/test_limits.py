"""`cclm hub serve` against the common default open-files limit (1,024 soft): 1,100 idle
connections used to exhaust the descriptors, lock every other client out and fill the log
with 28,000 tracebacks in 15 s."""

import re
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.support import ports


def _healthz(url: str, source: str = "127.0.0.1") -> int:
    """From `source`: loopback has every 127.x address, so a test can be another client."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10, source_address=(source, 0)) as s:
        s.sendall(f"GET /healthz HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        return int(s.recv(64).split()[1])


def _serve(tmp_path: Path, soft: int, hard: int, *extra: str) -> tuple[str, subprocess.Popen[str]]:
    port = ports.free()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "hub.cli", "hub", "serve", "--port", str(port)]
    command += ["--db", str(tmp_path / "hub.db"), "--intake-workers", "0"]
    command += ["--admin-token-file", str(tmp_path / "admin.token")]
    command += list(extra)
    hub = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)),
    )
    for _ in range(300):
        try:
            if _healthz(url) == 200:
                break
        except OSError:
            time.sleep(0.1)
    return url, hub


def _idle(url: str, count: int) -> list[socket.socket]:
    host, port = url.removeprefix("http://").split(":")
    return [socket.create_connection((host, int(port))) for _ in range(count)]


def _stop(hub: subprocess.Popen[str], idle: list[socket.socket]) -> tuple[str, str]:
    for connection in idle:
        connection.close()
    hub.terminate()
    out, err = hub.communicate(timeout=30)
    assert hub.returncode == 0, err
    return out, err


def test_idle_connections_beyond_the_soft_limit_lock_nobody_out(tmp_path: Path) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert hard >= 2048, f"the hard open-files limit ({hard}) leaves the hub no room to raise"
    url, hub = _serve(tmp_path, 1024, hard, "--max-connections-per-client", "2000")
    idle: list[socket.socket] = []
    try:
        idle = _idle(url, 1100)
        assert _healthz(url) == 200, "answered while 1,100 connections sat idle"
    finally:
        out, err = _stop(hub, idle)
    assert "open files limit raised from 1024" in out
    assert "Too many open files" not in err


def test_one_client_holding_idle_connections_cannot_use_up_a_hard_limit(tmp_path: Path) -> None:
    """1,024 descriptors in all: one client's 1,100 idle connections are cut at 256, so
    another client is served, and the refusals are said in a line, not a traceback each."""
    url, hub = _serve(tmp_path, 1024, 1024)
    idle: list[socket.socket] = []
    try:
        idle = _idle(url, 1100)
        assert _healthz(url, source="127.0.0.2") == 200, "another client is served"
    finally:
        _, err = _stop(hub, idle)
    assert "Too many open files" not in err
    assert "closed 1 new connection(s): past 256 per client" in err
    assert len(err.splitlines()) < 20, err[-2000:]


def _closed_within(connection: socket.socket, seconds: float) -> bool:
    """Whether the hub closes `connection` (an end of stream) within `seconds`."""
    connection.settimeout(seconds)
    try:
        return connection.recv(64) == b""
    except TimeoutError:
        return False


def test_connections_that_send_no_whole_request_are_closed_after_the_idle_timeout(
    tmp_path: Path,
) -> None:
    """Silent, slow-header and idle keep-alive connections each go after `--idle-timeout`,
    so held connections free their descriptors without waiting for a cap."""
    url, hub = _serve(tmp_path, 1024, 1024, "--idle-timeout", "1")
    silent, slow, kept = _idle(url, 3)
    try:
        slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        kept.settimeout(10)
        assert kept.recv(4096).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert all(_closed_within(c, 10) for c in (silent, slow, kept))
        assert time.monotonic() - started < 5, "closed about a second after the last byte"
    finally:
        _stop(hub, [silent, slow, kept])


def test_a_nonsense_idle_timeout_is_refused_naming_the_flag(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "hub.cli", "hub", "serve", "--idle-timeout", "0"]
    command += ["--db", str(tmp_path / "hub.db")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "--idle-timeout must be more than 0" in done.stderr
    assert "Traceback" not in done.stderr


def _metrics(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as answer:
        return str(answer.read().decode())


def test_the_event_loop_lag_is_measured_for_prometheus(tmp_path: Path) -> None:
    """How late the hub's loop runs its timers, so an operator sees work that blocks it."""
    url, hub = _serve(tmp_path, 1024, 1024)
    try:
        for _ in range(200):
            found = re.search(r"^cclm_hub_event_loop_lag_seconds_count (\S+)$", _metrics(url), re.M)
            if found and float(found.group(1)) >= 3:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("no loop lag was measured")
        assert 'cclm_hub_event_loop_lag_seconds_bucket{le="0.005"}' in _metrics(url)
    finally:
        _stop(hub, [])
