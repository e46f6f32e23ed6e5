"""A claim: capacity promised to an accepted migration on its target, until it ends or expires.

The engine subtracts live claims from what a report says is free, so two checks cannot
promise the same last slot. Expiry is decided by the caller, who owns the clock.
"""

from pydantic import AwareDatetime, Field

from hub.models.report import Resources
from hub.models.vm import Wire


class Claim(Wire):
    id: str = Field(min_length=1)
    cluster: str = Field(min_length=1)
    expires_at: AwareDatetime
    nodes: dict[str, Resources] = Field(default_factory=dict)
    storage_bytes: dict[str, int] = Field(
        default_factory=dict, description="per target storage class"
    )
    quota: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="per namespace, per quota resource name"
    )
