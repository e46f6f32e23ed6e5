"""Raw calls to a Kubernetes API through the official client (paths and dicts,
`_preload_content=False`), shared by the executor's driver and the grant minter.

A failed call raises the caller's error type with the method, path, status and the
server's message only. The client's exception is not chained: its text carries the
response's headers, which may echo what authenticated the request.
"""

import json
from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException


class KubeError(RuntimeError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def connect(url: str, ca_bundle: str | None, token: str) -> client.ApiClient:
    """A client for the cluster at `url`, verified against the CA file `ca_bundle` (None:
    the system's). The token sits only in the configuration's `api_key`, which neither its
    repr nor the client's logging shows; httplib's debug output would, so it stays off."""
    configuration = client.Configuration(
        host=url, api_key={"authorization": token}, api_key_prefix={"authorization": "Bearer"}
    )
    configuration.verify_ssl = True
    configuration.ssl_ca_cert = ca_bundle
    configuration.debug = False
    return client.ApiClient(configuration)


class Rest:
    """Calls through `api` that fail with `error`, the caller's own kind of KubeError."""

    def __init__(self, api: client.ApiClient, error: type[KubeError]) -> None:
        self.api, self.error = api, error

    def call(
        self,
        method: str,
        path: str,
        body: object = None,
        query: Mapping[str, str] | None = None,
        done: tuple[int, ...] = (),
    ) -> Any:
        """The answer as JSON, or None for a status in `done` (the state asked for)."""
        content = "application/merge-patch+json" if method == "PATCH" else "application/json"
        try:
            response = self.api.call_api(
                path,
                method,
                query_params=list((query or {}).items()),
                header_params={"Accept": "application/json", "Content-Type": content},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _return_http_data_only=True,
            )
        except ApiException as failed:
            if failed.status in done:
                return None
            raise self.error(f"{method} {path}: {_reason(failed)}", failed.status) from None
        return json.loads(response.data or b"null")


def _reason(error: ApiException) -> str:
    try:
        message = json.loads(error.body or b"{}").get("message", "")
    except (ValueError, AttributeError):
        message = ""
    return f"{error.status} {error.reason}: {message}"
