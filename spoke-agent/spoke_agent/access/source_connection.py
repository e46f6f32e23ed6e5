"""The connection to a job's target cluster as the target's agent grants it: API URL, CA
bundle and a short-lived token for that one migration. It lives in memory only: it is never
written to the journal, a log or an error, and a restarted agent fetches it again.
"""

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from kubernetes import client
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from spoke_agent.drivers import kube_rest

log = logging.getLogger("cclm.spoke.access")


class TargetAccess(BaseModel):
    """What a sealed grant holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    server: str = Field(min_length=1)
    ca_pem: str = ""
    token: str = Field(min_length=1, repr=False)
    expires_at: AwareDatetime

    def seal_text(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_text(cls, raw: bytes) -> "TargetAccess":
        return cls.model_validate(json.loads(raw))


Fetch = Callable[[], TargetAccess]
"""A fresh grant from the hub; blocking (it runs on the executor's thread)."""


@dataclass
class Credentials:
    """One job's target token, kept current: the Kubernetes client asks for it before each
    request, and once it is within `renew_within` of expiry a fresher grant is fetched (at
    most every `retry_every`). A failed fetch keeps the token it has."""

    access: TargetAccess
    fetch: Fetch
    clock: Callable[[], datetime]
    renew_within: timedelta = timedelta(minutes=15)
    retry_every: timedelta = timedelta(seconds=30)
    _tried: datetime | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def token(self) -> str:
        with self._lock:
            now = self.clock()
            if self.access.expires_at - now <= self.renew_within and self._may_try(now):
                self._tried = now
                self._renew()
            return self.access.token

    def _may_try(self, now: datetime) -> bool:
        return self._tried is None or now - self._tried >= self.retry_every

    def _renew(self) -> None:
        try:
            fresh = self.fetch()
        except Exception as error:
            log.warning("renewing the target token failed (%s); the current one is kept", error)
            return
        if fresh.expires_at > self.access.expires_at:
            self.access = fresh


def api_client(credentials: Credentials, ca_dir: Path, name: str) -> client.ApiClient:
    """A client for the target that sends the current token on every request. The CA
    bundle (public) goes to a file because urllib3 reads it from one."""
    access = credentials.access
    ca_file = None
    if access.ca_pem:
        ca_dir.mkdir(parents=True, exist_ok=True)
        ca_file = str(ca_dir / f"{name}.crt")
        Path(ca_file).write_text(access.ca_pem)
    api = kube_rest.connect(access.server.rstrip("/"), ca_file, access.token)

    def refresh(current: Any) -> None:
        current.api_key["authorization"] = credentials.token()

    api.configuration.refresh_api_key_hook = refresh
    return api
