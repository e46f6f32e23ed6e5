"""How soon `cclm demo` can be explored: starts it as a person does (a process, a fresh
folder, offline) `--runs` times with its tour and without, and prints when its console first
answers and when the demo stays up (the tour over, the agents running), as the median and
the worst of the runs, then one JSON line. The target is a console within 5 s.

    python tests/bench/bench_demo.py --runs 5
"""

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as answer:
            return bool(answer.status == 200)
    except OSError:
        return False


def once(*args: str) -> tuple[float, float]:
    """Seconds until the console answers, and until the demo stays up."""
    port, home = _free_port(), Path(tempfile.mkdtemp(prefix="bench-demo-"))
    command = [sys.executable, "-m", "hub.cli", "demo", "--home", str(home), "--port", str(port)]
    began = time.monotonic()
    process = subprocess.Popen([*command, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while not _answers(f"http://127.0.0.1:{port}/"):
            if process.poll() is not None:
                raise SystemExit(f"the demo ended early: {process.communicate()[1]!r}")
            time.sleep(0.02)
        console = time.monotonic() - began
        while not (home / "prometheus.yml").exists():
            time.sleep(0.02)
        return console, time.monotonic() - began
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    figures = {}
    for name, args in (("tour", ()), ("no-tour", ("--no-tour",))):
        timed = [once(*args) for _ in range(runs)]
        console, up = [t[0] for t in timed], [t[1] for t in timed]
        figures[name] = {
            "console_median_s": round(statistics.median(console), 2),
            "console_max_s": round(max(console), 2),
            "up_median_s": round(statistics.median(up), 2),
            "up_max_s": round(max(up), 2),
        }
        f = figures[name]
        print(
            f"{name:>8}: console answers after {f['console_median_s']} s (worst "
            f"{f['console_max_s']} s); stays up after {f['up_median_s']} s "
            f"(worst {f['up_max_s']} s)"
        )
    print(json.dumps({"runs": runs, **figures}))


if __name__ == "__main__":
    main()
