"""The hub's answers said in the command line's terms: the hub speaks of request fields and
endpoints, a person at a terminal needs the flag or command that does the same. Pure: a
refusal in, the line to print out."""

import re
from urllib.parse import urlsplit

from hub.cli.client import ClientError
from hub.cli.usage import UsageError

_ACK = re.compile(r"To proceed anyway, repeat the request with acknowledge: \[.*\]$")
_ENDPOINT = re.compile(r"use POST /api/v1/clusters/([^/\s]+)/token")


def said(error: ClientError) -> str:
    """The hub's message, with its API terms replaced by the CLI's."""
    message = error.message
    details = error.details if isinstance(error.details, dict) else {}
    codes = details.get("acknowledge")
    if error.code == "acknowledgement_required" and isinstance(codes, list):
        flags = " ".join(f"--ack {code}" for code in codes)
        message = _ACK.sub(f"To proceed anyway, run it again with {flags}", message)
    message = _ENDPOINT.sub(r"run: cclm clusters token \1", message)
    if error.status == 401:
        message += (
            ". Give the token with --token-file FILE or CCLM_TOKEN (a local hub's admin token "
            "is in $CCLM_HOME/admin.token)"
        )
    if error.code == "unreachable" and "CERTIFICATE_VERIFY_FAILED" in message:
        message = (
            f"{message.split(':', 1)[0]}: its TLS certificate is not signed by a CA this "
            "machine trusts; give the hub's CA bundle with --ca-file FILE"
        )
    return message


def hub_url(given: str, flag: str = "--hub") -> str:
    """A hub URL with its scheme, or a usage error that shows the one meant."""
    parts = urlsplit(given)
    if parts.scheme in ("http", "https") and parts.netloc:
        return given
    meant = given if "//" in given else f"http://{given}"
    raise UsageError(f"{flag} {given!r}: give the URL with its scheme, such as {meant}")
