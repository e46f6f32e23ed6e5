"""Schemathesis against `cclm hub serve`, on each store, with a fixed budget and seed: the
hub answers no 5xx, every answer matches the OpenAPI document (status, headers, body),
whatever the document forbids is refused, and every route asks for its token. Once with
an admin token over every operation, once with a spoke's token over the routes of its own
cluster, and the hub's log holds no traceback after either.

One check stays off: `positive_data_acceptance`, which expects every request the document
allows to succeed. Some refusals depend on more than one field or on the fleet (a target
that is the source, a token revoking itself, a `Gt` expression with a non-integer value),
which a JSON schema cannot say; each such refusal is a 4xx with a message, and the other
checks hold those answers to the document."""

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import databases, ports

EXAMPLES = "12"
SEED = "20261202"
CHECKS = ["--checks", "all", "--exclude-checks", "positive_data_acceptance"]
CHECKS += ["--exclude-path", "/api/v1/events"]
"""The event stream answers for as long as its client reads: schemathesis would wait on each
example for ever. tests/api/test_feeds.py checks what it refuses."""
# One worker: Python 3.11's `ast` is not safe across threads, and hypothesis parses the
# source of its filters ("AST constructor recursion depth mismatch").
SPOKE_TAGS = ("jobs", "grants", "reports")
OWN_CLUSTER = """
# A spoke's routes are its own cluster's: any other name is refused before anything else.
# Long polls answer at once, so the budget is not spent waiting.
[parameters]
"path.cluster" = "fuzz"
"path.name" = "fuzz"
"query.wait" = 0
"""


def _request(url: str, token: str, body: dict[str, Any]) -> Any:
    sent = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(sent, timeout=10) as answer:
        return json.loads(answer.read())


def _ready(url: str, hub: subprocess.Popen[str]) -> None:
    for _ in range(300):
        assert hub.poll() is None, "the hub exited before it was ready"
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the hub was not ready within 30 s")


@pytest.fixture(params=databases.STORES)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    with databases.database(request.param, tmp_path) as location:
        port = ports.free()
        url = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "hub.cli", "hub", "serve", "--port", str(port)]
        command += ["--db", str(location), "--admin-token-file", str(tmp_path / "admin.token")]
        command += ["--intake-workers", "0"]
        log = tmp_path / "hub.log"
        with log.open("w") as out:
            hub = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, text=True)
            try:
                _ready(url, hub)
                yield url, tmp_path
            finally:
                hub.terminate()
                hub.wait(timeout=30)
        text = log.read_text()
        assert "Traceback" not in text, text[-3000:]


def _fuzz(url: str, token: str, config: Path, *only: str) -> None:
    script = Path(sys.executable).with_name("st")
    assert script.exists(), f"schemathesis is not installed next to {sys.executable}"
    command = [str(script), "--config-file", str(config), "run", f"{url}/api/v1/openapi.json"]
    command += ["-H", f"Authorization: Bearer {token}", *CHECKS, "--no-color"]
    command += ["--max-examples", EXAMPLES, "--seed", SEED, "--workers", "1"]
    for tag in only:
        command += ["--include-tag", tag]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=config.parent)
    said = config.parent / f"schemathesis-{config.stem}.txt"
    said.write_text(done.stdout + done.stderr)
    assert done.returncode == 0, (
        f"all of it in {said}\n" + done.stdout[-6000:] + done.stderr[-2000:]
    )


def test_the_hub_keeps_to_its_document_under_fuzzing(served: tuple[str, Path]) -> None:
    url, home = served
    admin = (home / "admin.token").read_text().strip()
    registered = _request(f"{url}/api/v1/clusters", admin, {"name": "fuzz"})
    anywhere, own = home / "anywhere.toml", home / "own.toml"
    anywhere.write_text("")
    own.write_text(OWN_CLUSTER)
    _fuzz(url, admin, anywhere)
    _fuzz(url, registered["token"], own, *SPOKE_TAGS)
