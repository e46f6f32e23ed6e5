"""The hub's outgoing webhook against a real Alertmanager (Debian's prometheus-alertmanager):
the alerts arrive grouped and notified once, a hub restart (which sends them all again)
notifies nobody twice, and a resolved alert arrives resolved."""

import gzip
import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.test_cli import Served, serve, stop
from tests.support import ports
from tests.support.builders import NodeBuilder, report
from tests.support.tools import tool


class Receiver:
    """Alertmanager's webhook receiver: keeps every notification it is sent."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        kept = self.notifications

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                kept.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def about(self, cluster: str, status: str) -> list[dict[str, Any]]:
        return [
            n
            for n in self.notifications
            if n["groupLabels"].get("cluster") == cluster and n["status"] == status
        ]


def _wait(check: Any, what: str, seconds: float = 40) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"waited {seconds:.0f} s for {what}"
        time.sleep(0.2)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.server.shutdown()


@pytest.fixture
def alertmanager(tmp_path: Path, receiver: Receiver) -> Iterator[str]:
    config = {
        "route": {
            "receiver": "hook",
            "group_by": ["alertname", "cluster"],
            "group_wait": "1s",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {"name": "hook", "webhook_configs": [{"url": receiver.url, "send_resolved": True}]}
        ],
    }
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
    url = f"http://127.0.0.1:{ports.free()}"
    command = [tool("prometheus-alertmanager"), f"--config.file={tmp_path / 'alertmanager.yml'}"]
    command += [f"--storage.path={tmp_path / 'am'}", f"--web.listen-address={url[7:]}"]
    command += ["--cluster.listen-address="]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as answer:
                return answer.status == 200
        except OSError:
            return False

    try:
        _wait(ready, "Alertmanager to start", 30)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=30)


def _post(hub: Served, path: str, token: str, body: bytes, gzipped: bool = False) -> Any:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    request = urllib.request.Request(hub.url + path, body, headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.loads(answer.read())


def test_alerts_reach_alertmanager_grouped_once_across_a_restart_and_then_resolve(
    tmp_path: Path, alertmanager: str, receiver: Receiver
) -> None:
    home = tmp_path / "hub"
    extra = ("--alertmanager-url", alertmanager, "--public-url", "https://cclm.example")
    hub = serve(home, *extra)
    _wait(lambda: (home / "admin.token").exists(), "the admin token", 10)
    admin = (home / "admin.token").read_text().strip()
    tokens = {}
    for name in ("edge-1", "edge-2"):
        body = json.dumps({"name": name, "labels": {}}).encode()
        tokens[name] = _post(hub, "/api/v1/clusters", admin, body)["token"]
    _wait(
        lambda: receiver.about("edge-1", "firing") and receiver.about("edge-2", "firing"),
        "both clusters' alerts to be notified",
    )
    [first] = receiver.about("edge-1", "firing")
    [alert] = first["alerts"]
    assert alert["labels"]["alertname"] == "CclmSpokeSilent"
    assert alert["labels"]["severity"] == "critical"
    assert alert["labels"]["fingerprint"] == "spoke-silent:edge-1"
    assert "edge-1 has never reported" in alert["annotations"]["summary"]
    assert alert["generatorURL"].startswith("https://cclm.example/api/v1/alerts/spoke-silent")

    stop(hub)
    hub = serve(home, *extra)  # sends every open alert again, as each round does
    try:
        time.sleep(6)  # a restart, a leader's first round, a push, Alertmanager's group_interval
        assert len(receiver.about("edge-1", "firing")) == 1, "no second notification"
        assert len(receiver.about("edge-2", "firing")) == 1
        nodes = [NodeBuilder("edge-1-n1").cpu("8").memory("32Gi").build()]
        sent = report("edge-1", nodes).model_dump_json().encode()
        _post(hub, "/api/v1/clusters/edge-1/reports", tokens["edge-1"], gzip.compress(sent), True)
        _wait(lambda: receiver.about("edge-1", "resolved"), "edge-1's alert to resolve")
        [resolved] = receiver.about("edge-1", "resolved")
        assert resolved["alerts"][0]["labels"]["fingerprint"] == "spoke-silent:edge-1"
        assert receiver.about("edge-2", "resolved") == []
    finally:
        _, err = stop(hub)
    assert "Traceback" not in err
