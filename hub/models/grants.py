"""Target access grants on the wire. The source agent of a migration reaches the target
cluster's API with a short-lived token that the target's agent mints for that migration
alone; the target agent seals it to the source agent's public key, so the hub stores and
relays ciphertext only. These are the bodies of that exchange; none holds a secret in clear.
"""

import base64
import binascii

from pydantic import AwareDatetime, Field, field_validator

from hub.models.vm import MAX_MESSAGE, Wire

KEY_BYTES = 32
MAX_SEALED = 1024 * 1024
"""Room for a CA bundle of several hundred certificates."""


def _decoded(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as error:
        raise ValueError(f"{what} must be URL-safe base64") from error


class SealingKey(Wire):
    """A spoke agent's public key, to which grants for its migrations are sealed."""

    public_key: str = Field(
        description="X25519 public key, 32 bytes, URL-safe base64",
        json_schema_extra={"pattern": "^[A-Za-z0-9_-]{43}=$"},
    )

    @field_validator("public_key")
    @classmethod
    def _x25519(cls, value: str) -> str:
        raw = _decoded(value, "public_key")
        if len(raw) != KEY_BYTES:
            raise ValueError(f"public_key must decode to {KEY_BYTES} bytes, not {len(raw)}")
        return value


class SealingKeyReceipt(Wire):
    cluster: str
    public_key: str
    changed: bool = Field(
        description="A new key: grants sealed to the old one are dropped and minted again"
    )


class GrantRequest(Wire):
    migration_id: str
    source_cluster: str
    namespaces: tuple[str, ...] = Field(description="Where the migration's VMs land")
    recipient_key: str = Field(description="The source agent's public key: seal to it")
    ttl_seconds: int = Field(ge=600, description="How long the minted token should live")


class GrantList(Wire):
    cluster: str
    requests: tuple[GrantRequest, ...] = Field(
        description="Grants to mint now: new ones, and those due for renewal"
    )
    open: tuple[str, ...] = Field(
        description="Every migration whose grant must stay valid; revoke the others"
    )


class SealedGrant(Wire):
    """The target connection (API URL, CA bundle, token), sealed by the target agent."""

    sealed: str = Field(min_length=1, max_length=MAX_SEALED)
    expires_at: AwareDatetime = Field(description="When the sealed token expires")
    recipient_key: str = Field(
        description="The key it was sealed to: a box for a key the source has since replaced "
        "is refused, since it would not open"
    )

    @field_validator("sealed")
    @classmethod
    def _base64(cls, value: str) -> str:
        _decoded(value, "sealed")
        return value


class GrantFailure(Wire):
    """Why the target's agent could not mint a grant; the source's task shows it."""

    message: str = Field(min_length=1, max_length=MAX_MESSAGE)


class GrantReceipt(Wire):
    migration_id: str
    expires_at: AwareDatetime
