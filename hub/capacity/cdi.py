"""How large CDI makes a blank DataVolume on the target, by the CDI release the target runs.

The executor asks for each disk as a DataVolume with `spec.storage` and the source's size;
CDI aligns that to 1 MiB and, for a Filesystem volume, adds the storage class's filesystem
overhead (`CDIConfig.status.filesystemOverhead`): up to v1.62 as size / (1 - overhead),
from v1.63.0 as size x (1 + overhead), in float64 and rounded up (`pkg/util/util.go`
`GetRequiredSpace`). From v1.63.0 the StorageProfile's
`cdi.kubevirt.io/minimumSupportedPvcSize` raises a smaller result to it.
"""

import math
from dataclasses import dataclass
from decimal import Decimal

from hub.capacity.kubevirt.release import Release, parse

MI = 2**20
NEW_FORMULA = Release(1, 63, 0)
"""Commit 26e34df4f (#3779): the overhead multiplied instead of divided, and the minimum size."""


@dataclass(frozen=True, slots=True)
class Sized:
    bytes: int
    step: str


def release(version: str | None) -> tuple[Release, str | None]:
    found = parse(version) if version else None
    if found is None:
        return (
            NEW_FORMULA,
            f"CDI version {'unknown' if not version else repr(version)}: sized with v1.63's rules",
        )
    return found, None


def required(
    size: int,
    overhead: Decimal | None,
    minimum: int | None,
    version: Release,
) -> Sized:
    """`overhead` None: a Block volume, which gets none."""
    aligned = math.ceil(float(size) / float(MI)) * MI
    new = version >= NEW_FORMULA
    if overhead is None:
        result, step = (
            aligned,
            f"{size} B aligned to 1 MiB = {aligned} B (block: no filesystem overhead)",
        )
    else:
        share = float(str(overhead))
        if new:
            result = math.ceil(float(aligned) * (1 + share))
            how = f"x (1 + {overhead})"
        else:
            result = math.ceil(float(aligned) / (1 - share))
            how = f"/ (1 - {overhead})"
        step = f"{size} B aligned to 1 MiB = {aligned} B {how} = {result} B (CDI {version})"
    if new and minimum is not None and result < minimum:
        return Sized(minimum, f"{step}; raised to the StorageProfile minimum {minimum} B")
    return Sized(result, step)
