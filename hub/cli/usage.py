"""Argument errors and the small parsers the subcommands share."""

from collections.abc import Sequence


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
