"""`cclm demo` as a person runs it: a process that stays up until it is told to stop."""

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def wait(condition: Callable[[], bool], what: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {seconds:.0f} s for {what}")
        time.sleep(0.2)


@contextmanager
def running(home: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """The demo, once it stays up (its Prometheus configuration is written then); on exit,
    stopped as Ctrl-C would, and checked to have ended cleanly."""
    command = [sys.executable, "-m", "hub.cli", "demo", "--home", str(home), *args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        up = lambda: (home / "prometheus.yml").exists() or process.poll() is not None  # noqa: E731
        wait(up, "the demo to stay up", 120)
        assert process.poll() is None, process.communicate()[0][-3000:]
        yield process
    finally:
        process.terminate()
        out, _ = process.communicate(timeout=30)
    assert process.returncode == 0, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
