"""Kubernetes quantities parse exactly, round up into integer units, and print conservatively."""

import math
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.models import quantity
from hub.models.quantity import QuantityError

KIB = 2**10
MIB = 2**20
GIB = 2**30
TIB = 2**40


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.5Gi", 1_610_612_736),
        ("500m", Fraction(1, 2)),
        ("1e3", 1000),
        ("1E3", 1000),
        ("1e-3", Fraction(1, 1000)),
        ("128974848", 128_974_848),
        ("0.1", Fraction(1, 10)),
        ("2E", 2 * 10**18),
        ("2Ei", 2 * 2**60),
        (".5", Fraction(1, 2)),
        ("1.", 1),
        ("+2", 2),
        ("-3Ki", -3 * KIB),
        ("100Mi", 100 * MIB),
        ("250n", Fraction(250, 10**9)),
        ("7u", Fraction(7, 10**6)),
        ("4k", 4000),
        ("1e30", 10**30),
        (" 8Gi ", 8 * GIB),
        (42, 42),
    ],
    ids=[
        "1.5Gi is exactly 1610612736 bytes",
        "500m is exactly one half",
        "1e3 is a thousand",
        "1E3 is a thousand too",
        "1e-3 is one thousandth",
        "a plain integer string is itself",
        "0.1 is exactly one tenth, not a float",
        "2E is two exa, a decimal suffix",
        "2Ei is two exbi",
        ".5 without a leading digit is one half",
        "1. with a trailing point is one",
        "+2 with an explicit sign is two",
        "-3Ki is negative",
        "100Mi is binary mebibytes",
        "250n is nano",
        "7u is micro",
        "4k is decimal kilo",
        "1e30 is the largest exponent allowed",
        "surrounding whitespace is stripped",
        "an int passes through",
    ],
)
def test_parse_is_exact(text: str | int, expected: int | Fraction) -> None:
    value = quantity.parse(text)

    assert isinstance(value, Fraction)
    assert value == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0001", 1),
        ("0.1", 100),
        ("100m", 100),
        ("1.0005", 1001),
        ("2", 2000),
        (2, 2000),
        ("250u", 1),
        ("1e-3", 1),
    ],
    ids=[
        "a tenth of a millicore rounds up to 1m",
        "0.1 is exactly 100m, where a float would round up to 101m",
        "100m stays 100m",
        "1.0005 cores round up to 1001m",
        "2 cores are 2000m",
        "an int 2 is 2 cores",
        "250u rounds up to 1m",
        "1e-3 is 1m",
    ],
)
def test_millis_rounds_up(text: str | int, expected: int) -> None:
    assert quantity.millis(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.5", 1),
        ("100m", 1),
        ("1.5Gi", 1_610_612_736),
        ("1k", 1000),
        ("1Ki", 1024),
        ("1.0000001", 2),
        ("8", 8),
    ],
    ids=[
        "half a unit rounds up to one",
        "100m of a byte rounds up to one",
        "1.5Gi is a whole number of bytes",
        "1k is a thousand",
        "1Ki is 1024",
        "just over one rounds up to two",
        "a whole count stays",
    ],
)
def test_units_rounds_up(text: str, expected: int) -> None:
    assert quantity.units(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1.5 Gi",
        "Gi",
        "1x",
        "--1",
        "1e99",
        "1e-31",
        True,
        False,
        None,
        1.5,
        "1Gi1",
        "0x10",
        "\u0661\u0662",
    ],
    ids=[
        "an empty string",
        "a space between number and suffix",
        "a suffix without a number",
        "an unknown suffix",
        "a doubled sign",
        "an exponent beyond 30",
        "a negative exponent beyond 30",
        "the boolean True",
        "the boolean False",
        "None",
        "a float",
        "trailing digits after the suffix",
        "a hexadecimal number",
        "digits other than ASCII",
    ],
)
def test_parse_rejects(text: object) -> None:
    with pytest.raises(QuantityError):
        quantity.parse(text)  # type: ignore[arg-type]


def test_rejection_quotes_the_text_and_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'1x'") as error:
        quantity.parse("1x")

    assert isinstance(error.value, QuantityError)


@given(
    number=st.integers(min_value=0, max_value=10**18 - 1),
    suffix=st.sampled_from(
        ["", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
    ),
)
def test_whole_numbers_take_the_integer_path_to_the_same_result(number: int, suffix: str) -> None:
    text = f"{number}{suffix}"

    assert quantity.millis(text) == math.ceil(quantity.parse(text) * 1000)
    assert quantity.units(text) == math.ceil(quantity.parse(text))


def test_millis_and_units_reject_what_parse_rejects() -> None:
    with pytest.raises(QuantityError):
        quantity.millis("1.5 m")
    with pytest.raises(QuantityError):
        quantity.units("Gi")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0.0 GiB"),
        (GIB, "1.0 GiB"),
        (GIB - 1, "0.9 GiB"),
        (1288 * GIB // 100, "12.8 GiB"),
        (Fraction(3, 2) * GIB, "1.5 GiB"),
        (Fraction(1299, 100) * GIB, "12.9 GiB"),
        (1024 * GIB, "1024.0 GiB"),
    ],
    ids=[
        "nothing is 0.0 GiB",
        "one GiB",
        "one byte short of a GiB shows 0.9",
        "12.88 GiB rounds down to 12.8",
        "a Fraction of 1.5 GiB",
        "12.99 GiB rounds down to 12.9, never up to 13.0",
        "a TiB stays in GiB",
    ],
)
def test_gib_rounds_down_to_one_decimal(value: int | Fraction, expected: str) -> None:
    assert quantity.gib(value) == expected


@pytest.mark.parametrize(
    ("millicores", "expected"),
    [
        (0, "0"),
        (2000, "2"),
        (1500, "1.5"),
        (125, "0.125"),
        (2050, "2.05"),
        (1001, "1.001"),
        (999, "0.999"),
    ],
    ids=[
        "zero",
        "whole cores have no decimals",
        "a half core",
        "an eighth of a core keeps three places",
        "trailing zeros are dropped",
        "a single millicore is kept",
        "just under a core",
    ],
)
def test_cores_is_exact_to_the_millicore(millicores: int, expected: str) -> None:
    assert quantity.cores(millicores) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (KIB, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (5 * MIB, "5.0 MiB"),
        (GIB - 1, "1023.9 MiB"),
        (1288 * GIB // 100, "12.8 GiB"),
        (2 * TIB, "2.0 TiB"),
        (2048 * TIB, "2048.0 TiB"),
    ],
    ids=[
        "zero bytes",
        "under a KiB stays in bytes",
        "exactly a KiB",
        "one and a half KiB",
        "five MiB",
        "one byte short of a GiB stays in MiB and rounds down",
        "12.88 GiB rounds down to 12.8",
        "two TiB",
        "TiB is the largest unit",
    ],
)
def test_human_bytes_picks_the_largest_unit(value: int, expected: str) -> None:
    assert quantity.human_bytes(value) == expected
