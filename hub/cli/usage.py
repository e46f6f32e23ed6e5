"""Argument errors and the small parsers the subcommands share."""

import argparse
import re
from collections.abc import Sequence
from datetime import timedelta

import durationpy
import pydantic

from hub.models.api import VmRef

_VM_REF = pydantic.TypeAdapter(VmRef)


class UsageError(ValueError):
    """Bad arguments or input files; printed as one message, exit status 2."""


def pairs(values: Sequence[str], flag: str, example: str) -> dict[str, str]:
    """`KEY=VALUE` arguments (storage class maps, labels) as a mapping."""
    mapping = {}
    for pair in values:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"{flag} {pair!r}: expected {example}")
        mapping[key] = value
    return mapping


def duration(text: str) -> timedelta:
    """Seconds (`900`) or a Go duration as kubectl takes them (`15m`, `1h30m`), more than
    zero; for argparse's `type=`, so a bad one is a usage error naming the flag."""
    plain = text.isascii() and text.replace(".", "", 1).isdigit()
    try:
        given = timedelta(seconds=float(text)) if plain else durationpy.from_str(text)
    except durationpy.DurationError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a duration: give seconds (900) or a duration such as 15m or 1h30m"
        ) from None
    if given <= timedelta(0):
        raise argparse.ArgumentTypeError(f"{text!r}: give a duration of more than zero")
    return given


def vm_refs(values: Sequence[str]) -> list[str]:
    """`--vm` values checked here, as the hub would check them, so a mistyped one is told
    of by its flag rather than by the request field the hub names."""
    for value in values:
        try:
            _VM_REF.validate_python(value)
        except pydantic.ValidationError:
            raise UsageError(
                f"--vm {value!r}: write CLUSTER/NAMESPACE/NAME (or NAMESPACE/NAME with "
                "--source), each part lowercase letters, digits, '-' and '.', such as "
                "prod-east/shop/web-1"
            ) from None
    return list(values)


def port(text: str) -> int:
    """A TCP port for argparse's `type=` (0: any free one)."""
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (0 to 65535)")
    return int(text)


_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def segment(text: str) -> str:
    """A name or id that goes into a request's path, for argparse's `type=`: one path
    segment, so `../tokens` or `x?y` cannot make the request ask for something else."""
    if not _SEGMENT.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a name or id: letters, digits, '-', '.' and '_', starting with "
            "a letter or digit"
        )
    return text
