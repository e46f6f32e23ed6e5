"""`cclm alerts` and `cclm recommendations` against a real hub process, as on-call would
type them; `--watch` follows the hub's event stream."""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_cli import Served, serve, stop


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Served]:
    served = serve(tmp_path)
    yield served
    stop(served)


def test_alerts_list_and_watch_a_cluster_that_never_reports(
    hub: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = hub.cli(capsys, "alerts")
    assert (status, out.strip()) == (0, "no alerts")
    command = [sys.executable, "-m", "hub.cli", "alerts", "--watch"]
    command += ["--hub", hub.url, "--token-file", str(hub.admin)]
    watching = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    try:
        assert watching.stdout is not None
        assert watching.stdout.readline().strip() == "no alerts", "the list comes first"
        status, _, _ = hub.cli(capsys, "clusters", "register", "edge-9")
        assert status == 0
        line = watching.stdout.readline()  # raised by the hub's next evaluation (every 5 s)
        assert line.startswith("RAISED   critical spoke-silent"), line
        assert "edge-9" in line
        assert "has never reported" in line
    finally:
        watching.send_signal(signal.SIGINT)
        _, err = watching.communicate(timeout=10)
    assert watching.returncode == 0, err
    assert "Traceback" not in err
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status, out, _ = hub.cli(capsys, "alerts", "--cluster", "edge-9", "-o", "json")
        if '"spoke-silent"' in out:
            break
    assert '"fingerprint": "spoke-silent:edge-9"' in out
    status, out, _ = hub.cli(capsys, "recommendations")
    assert (status, out.strip()) == (0, "no recommendations")


def test_a_bad_filter_is_a_usage_error_naming_the_flag(
    hub: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        hub.cli(capsys, "alerts", "--state", "firing")
    assert refused.value.code == 2
    assert "--state" in capsys.readouterr().err
