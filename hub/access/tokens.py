"""Bearer tokens: `cclm_<id>_<secret>`. The hub keeps the id and a hash of the secret only.

The secret is 256 random bits, so a plain SHA-256 is enough: there is nothing to brute-force
that a slow password hash would protect. The id lets the hub find the record without a scan.
"""

import hashlib
import hmac
import secrets
from datetime import datetime

from hub.models.api import Role
from hub.store import TokenRecord

PREFIX = "cclm"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def mint(
    name: str, role: Role, now: datetime, cluster: str | None = None
) -> tuple[str, TokenRecord]:
    token_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    record = TokenRecord(token_id, name, role, _digest(secret), now, cluster)
    return f"{PREFIX}_{token_id}_{secret}", record


def split(token: str) -> tuple[str, str] | None:
    if not token.isascii():
        return None
    prefix, _, rest = token.partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not token_id or not secret:
        return None
    return token_id, secret


def matches(record: TokenRecord, secret: str) -> bool:
    return hmac.compare_digest(record.secret_hash, _digest(secret))
