"""The hub over real HTTP (aiohttp's test server) on a SQLite file, with a clock the test
moves, assembled by the hub's own composition root. Every answer is checked against the
hub's OpenAPI document."""

import gzip
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import jsonschema
from aiohttp.test_utils import TestClient, TestServer

from hub.api import app as api
from hub.assemble import assemble, open_store
from hub.models.api import Role
from hub.models.policy import Headroom, Policy
from hub.models.report import CapacityReport
from hub.ocm.sync import ManagedClusters
from hub.service import Hub
from hub.settings import HubSettings, Limits
from hub.store import Store
from tests.support import databases
from tests.support.clock import FakeClock

LENIENT = Policy(
    headroom_percent=Headroom(cpu=0, memory=0, storage=0), survive_largest_node_loss=False
)


class Answer:
    def __init__(self, status: int, body: Any, headers: Any) -> None:
        self.status = status
        self.body = body
        self.headers = headers

    @property
    def code(self) -> str:
        return str(self.body["error"]["code"])

    @property
    def message(self) -> str:
        return str(self.body["error"]["message"])


def _template(spec: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    for template, operations in spec["paths"].items():
        pattern = "^" + re.sub(r"{\w+}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return dict(operations[method.lower()])
    raise AssertionError(f"{method} {path} is not in the OpenAPI document")


def check_against_spec(spec: dict[str, Any], method: str, path: str, answer: Answer) -> None:
    operation = _template(spec, method, path)
    responses = operation["responses"]
    key = str(answer.status)
    if key not in responses:
        key = f"{str(answer.status)[0]}XX"
    assert key in responses, f"{method} {path} answered {answer.status}, not documented"
    content = responses[key].get("content")
    if content is None:
        assert answer.body is None, f"{method} {path} {answer.status} should have no body"
        return
    schema = {**content["application/json"]["schema"], "components": spec["components"]}
    jsonschema.validate(answer.body, schema, cls=jsonschema.Draft202012Validator)


class Api:
    def __init__(self, client: TestClient[Any, Any], spec: dict[str, Any]) -> None:
        self.client = client
        self.spec = spec

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Answer:
        sent = dict(headers or {})
        if token:
            sent["Authorization"] = f"Bearer {token}"
        if body is not None:
            raw = json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        response = await self.client.request(method, path, data=raw, headers=sent, params=params)
        text = await response.text()
        answer = Answer(response.status, json.loads(text) if text else None, response.headers)
        assert answer.status != 500, f"{method} {path} answered 500: {text}"
        if path.startswith("/api/v1/") or path in ("/healthz", "/readyz"):
            check_against_spec(self.spec, method, path, answer)
        return answer


class Env:
    """One hub on one database (a SQLite file or a PostgreSQL URL); `restart` replaces it
    with a fresh process's view."""

    def __init__(self, db: Path | str, clock: FakeClock, policy: Policy | None) -> None:
        self.db = db
        self.clock = clock
        self.policy = policy
        self.hub: Hub
        self.api: Api
        self.admin = ""
        self.settings = Limits()
        self.wrap: Callable[[Store], Store] = lambda store: store
        """Wraps the store the hub is given (the race tests gate it)."""
        self.maintain_every: float | None = None
        """None: the test drives sweeps and catch-ups; seconds: the hub runs them itself."""
        self.managed_clusters: ManagedClusters | None = None
        self.hub_cluster: Path | None = None
        """A kubeconfig of the hub cluster (an emulated one): the hub starts with
        `--managed-clusters` and `--kube-auth` on it."""
        self._client: TestClient[Any, Any] | None = None

    async def start(self) -> None:
        settings = HubSettings(
            self.db,
            self.policy,
            self.settings,
            self.maintain_every,
            managed_clusters=self.hub_cluster is not None,
            kube_auth=self.hub_cluster is not None,
            kubeconfig=self.hub_cluster,
        )
        assembly = assemble(settings, self.clock, self.wrap(open_store(settings)))
        self.hub, app = assembly.hub, assembly.app
        self.managed_clusters = assembly.managed_clusters
        server = TestServer(app)
        await server.start_server(**api.SERVER_OPTIONS)
        self._client = TestClient(server)
        await self._client.start_server()
        self.api = Api(self._client, api.spec())
        if not self.admin:
            self.admin = (await self.hub.mint("test-admin", Role.ADMIN)).token

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    def sql(self, statement: str, parameters: Sequence[Any] = ()) -> list[Any]:
        return databases.sql(self.db, statement, parameters)

    def dump(self) -> str:
        return databases.dump(self.db)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def token(self, role: str) -> str:
        answer = await self.api.call(
            "POST", "/api/v1/tokens", self.admin, {"name": f"test-{role}", "role": role}
        )
        assert answer.status == 201, answer.body
        return str(answer.body["token"])

    async def register(self, name: str, labels: dict[str, str] | None = None) -> str:
        answer = await self.api.call(
            "POST", "/api/v1/clusters", self.admin, {"name": name, "labels": labels or {}}
        )
        assert answer.status == 201, answer.body
        return str(answer.body["token"])

    async def report(self, token: str, report: CapacityReport, gzipped: bool = False) -> Answer:
        raw = report.model_dump_json().encode()
        headers = {"Content-Type": "application/json"}
        if gzipped:
            raw = gzip.compress(raw)
            headers["Content-Encoding"] = "gzip"
        return await self.api.call(
            "POST", f"/api/v1/clusters/{report.cluster}/reports", token, raw=raw, headers=headers
        )
