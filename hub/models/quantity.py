"""Kubernetes resource quantities, parsed exactly.

Floats would turn "0.1" CPU into 0.09999… and lose a millicore at a node's edge, so every
quantity becomes a `Fraction` and is rounded up only when it is turned into an integer unit,
the way the API server rounds (`MilliValue`/`Value` round towards +infinity).
"""

import functools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Annotated, Any

from pydantic import WithJsonSchema
from pydantic_core import core_schema

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 10**3),
    "": Fraction(1),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
}
_PATTERN = re.compile(
    r"^(?P<number>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))"
    r"(?:(?P<exp>[eE][+-]?[0-9]+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?)$"
)
_MAX_EXPONENT = 30
_WHOLE = re.compile(r"([0-9]{1,18})(Ki|Mi|Gi|Ti|Pi|Ei|[mkMGTPE]?)")
"""Whole numbers with an optional suffix: nearly every quantity a cluster holds, and exact in
integers, so they skip the Fraction arithmetic that costs ~8 µs a value."""
_MILLIS_PER = {
    "m": 1,
    **{suffix: int(scale * 1000) for suffix, scale in _DECIMAL.items() if scale >= 1},
    **{suffix: scale * 1000 for suffix, scale in _BINARY.items()},
}


class QuantityError(ValueError):
    """A string that is not a Kubernetes quantity; the message quotes it and shows the form."""


def parse(text: str | int) -> Fraction:
    """Parse a Kubernetes quantity ("1.5Gi", "500m", "1e3", "128974848") into an exact value."""
    if isinstance(text, bool):
        raise QuantityError(f"{text!r} is not a quantity")
    if isinstance(text, int):
        return Fraction(text)
    match = _PATTERN.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise QuantityError(
            f"{text!r} is not a Kubernetes quantity "
            "(examples: '500m', '2', '1.5Gi', '128974848', '1e3')"
        )
    number = Fraction(match["number"])
    if match["exp"]:
        exponent = int(match["exp"][1:])
        if abs(exponent) > _MAX_EXPONENT:
            raise QuantityError(f"{text!r} has an exponent beyond ±{_MAX_EXPONENT}")
        return number * Fraction(10) ** exponent
    suffix = match["suffix"] or ""
    return number * (_BINARY[suffix] if suffix in _BINARY else _DECIMAL[suffix])


@functools.lru_cache(maxsize=4096)
def millis(text: str | int) -> int:
    """CPU as integer millicores, rounded up like the API server's MilliValue. Memoized: a
    cluster's pods repeat a few dozen distinct quantities thousands of times."""
    if type(text) is str and (whole := _WHOLE.fullmatch(text)):
        return int(whole[1]) * _MILLIS_PER[whole[2]]
    return math.ceil(parse(text) * 1000)


@functools.lru_cache(maxsize=4096)
def units(text: str | int) -> int:
    """Bytes or a device count as an integer, rounded up like the API server's Value."""
    if type(text) is str and (whole := _WHOLE.fullmatch(text)):
        number, per = int(whole[1]), _MILLIS_PER[whole[2]]
        return -(-number * per // 1000)
    return math.ceil(parse(text))


def ceil(value: Fraction) -> int:
    """A quantity's `Value()`: whole units, rounded away from zero. (On numerator and
    denominator: sizing calls it thousands of times per check.)"""
    return _away(value.numerator, value.denominator)


def ceil_millis(value: Fraction) -> int:
    """A quantity's `MilliValue()`."""
    return _away(value.numerator * 1000, value.denominator)


def _away(numerator: int, denominator: int) -> int:
    if numerator >= 0:
        return -(-numerator // denominator)
    return numerator // denominator


def ceil_kilo(value: Fraction) -> int:
    """A quantity's `ScaledValue(resource.Kilo)`: whole kilobytes (1000 B), rounded up."""
    return ceil(value / 1000)


LARGEST = 2**53
"""8 PiB (or 8.7 trillion cores): far above any real figure, and small enough that sums over
a cluster's nodes stay exact in 64-bit arrays."""


def _non_negative(value: int) -> int:
    if value < 0:
        raise QuantityError(f"{value} is negative; a capacity cannot be below zero")
    if value > LARGEST:
        raise QuantityError(f"{value} is larger than {LARGEST} (8 PiB); not a real capacity")
    return value


_QUANTITY_PATTERN = (
    r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$"
)


def _schema(description: str) -> WithJsonSchema:
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": LARGEST},
                {"type": "string", "pattern": _QUANTITY_PATTERN},
            ],
            "description": description,
        }
    )


@dataclass(frozen=True, slots=True)
class _Quantity:
    """An integer field that also takes a quantity string.

    Integers are checked inside pydantic-core and never call into Python, which keeps
    validating a 5,000-node report fast; only strings are parsed here.
    """

    from_text: Callable[[str], int]
    expected: str

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.union_schema(
            [
                core_schema.int_schema(ge=0, le=LARGEST, strict=True),
                core_schema.no_info_after_validator_function(
                    lambda text: _non_negative(self.from_text(text)), core_schema.str_schema()
                ),
            ],
            custom_error_type="quantity",
            custom_error_message=self.expected,
        )


Millicores = Annotated[
    int,
    _Quantity(
        millis, "expected CPU as integer millicores (0 to 2^53) or a quantity such as '500m'"
    ),
    _schema("CPU: integer millicores, or a Kubernetes quantity string such as '2' or '500m'"),
]
"""CPU in millicores; accepts an integer (millicores) or a quantity string ("2", "500m")."""

Units = Annotated[
    int,
    _Quantity(units, "expected a non-negative integer (at most 2^53) or a quantity such as '8Gi'"),
    _schema("An integer (bytes or a count), or a Kubernetes quantity string such as '8Gi'"),
]
"""Bytes or a count; accepts an integer or a quantity string ("8Gi", "1e3")."""


def gib(value: int | Fraction) -> str:
    """Bytes as GiB with one decimal, rounded down so a shown free amount is never overstated."""
    tenths = math.floor(Fraction(value) * 10 / 2**30)
    return f"{tenths / 10:.1f} GiB"


def cores(value: int) -> str:
    """Millicores as cores, exact to the millicore ("2", "1.5", "0.125")."""
    whole, rest = divmod(value, 1000)
    return f"{whole}" if rest == 0 else f"{whole}.{rest:03d}".rstrip("0")


def human_bytes(value: int) -> str:
    """Bytes in the largest binary unit that keeps one decimal meaningful."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(value) >= size:
            tenths = math.floor(Fraction(value) * 10 / size)
            return f"{tenths / 10:.1f} {unit}"
    return f"{value} B"
