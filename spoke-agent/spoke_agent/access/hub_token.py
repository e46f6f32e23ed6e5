"""`cclm spoke fetch-token`: the agent's hub token, read from the Secret the hub keeps in
the cluster's namespace on the Open Cluster Management hub cluster (with the addon's hub
credentials) and written where the agent reads it (`--token-file`, read at every request,
so a token the hub replaced is used from the next one). Once for an init container, or
every few seconds beside the agent."""

import logging
import os
import tempfile
import time
from base64 import b64decode
from pathlib import Path

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

log = logging.getLogger("cclm.spoke.token")
TIMEOUT = 15.0


class TokenUnavailableError(RuntimeError):
    """The Secret cannot be read, or holds no token; the message says which and why."""


def fetch(api: client.ApiClient, namespace: str, secret: str, key: str) -> str:
    try:
        found = client.CoreV1Api(api).read_namespaced_secret(
            secret, namespace, _request_timeout=TIMEOUT
        )
    except ApiException as error:
        raise TokenUnavailableError(
            f"cannot read Secret {namespace}/{secret} on the hub cluster: {error.status} "
            f"{error.reason}"
        ) from None
    except (HTTPError, OSError) as error:
        raise TokenUnavailableError(f"cannot reach the hub cluster's API server: {error}") from None
    encoded = (found.data or {}).get(key)
    if not encoded:
        raise TokenUnavailableError(f"Secret {namespace}/{secret} holds no key {key!r} (yet)")
    return b64decode(encoded).decode().strip()


def write(out: Path, token: str) -> bool:
    """Replace `out` with `token` (owner-only, atomically); False when it already held it."""
    if out.is_file() and out.read_text().strip() == token:
        return False
    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=out.parent, prefix=".token-")
    with os.fdopen(descriptor, "w") as handle:
        handle.write(token + "\n")
    os.replace(temporary, out)
    return True


def follow(
    api: client.ApiClient, namespace: str, secret: str, key: str, out: Path, every: float
) -> None:
    """Keep `out` current until stopped; a failed read is logged and retried."""
    while True:
        try:
            if write(out, fetch(api, namespace, secret, key)):
                log.info("the hub token in %s was replaced from %s/%s", out, namespace, secret)
        except TokenUnavailableError as error:
            log.warning("%s; retrying in %.0f s", error, every)
        time.sleep(every)
