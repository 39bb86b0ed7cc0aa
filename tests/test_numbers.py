"""Exact rounding and ISMP-safe number text."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regimen.quantities.exact import (
    Rounding,
    exact_decimal,
    format_decimal,
    format_fraction,
    round_significant,
    to_decimal,
)


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (Fraction("21.817428"), 4, "21.82"),
        (Fraction("1818.119"), 4, "1818"),
        (Fraction(490, 24), 4, "20.42"),
        (Fraction("0.0123456"), 4, "0.01235"),
        (Fraction("2.5"), 1, "3"),  # half up, not half even
        (Fraction("3.5"), 1, "4"),
        (Fraction("0.125"), 2, "0.13"),
        (Fraction("99995"), 4, "1.000E+5"),
        (Fraction(168), 4, "168"),
        (Fraction("-21.817428"), 4, "-21.82"),
    ],
)
def test_round_significant_half_up(value: Fraction, digits: int, expected: str) -> None:
    assert round_significant(value, digits) == Decimal(expected)


def test_to_decimal_is_exact_for_halves() -> None:
    # a float would give 2.67499999... and round down; the exact fraction rounds up
    assert to_decimal(Fraction("2.675"), 2) == Decimal("2.68")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("21.6", "21.6"),
        ("1800", "1,800"),
        ("0.5", "0.5"),
        ("5.0", "5"),
        ("5.000", "5"),
        ("1E+3", "1,000"),
        ("0.00", "0"),
        ("12345.5", "12,345.5"),
    ],
)
def test_format_decimal_follows_ismp(text: str, expected: str) -> None:
    assert format_decimal(Decimal(text)) == expected


def test_format_without_grouping_for_machine_output() -> None:
    assert format_decimal(Decimal("1800"), grouping=False) == "1800"


def test_exact_decimal_keeps_terminating_values() -> None:
    assert format_fraction(Fraction("69.85322498")) == "69.85322498"
    assert exact_decimal(Fraction(1, 3), 4) == Decimal("0.3333")


def test_rounding_rule_is_stated() -> None:
    assert "4 significant figures" in Rounding().rule


@given(st.fractions(min_value=Fraction(1, 10**6), max_value=Fraction(10**7)), st.integers(1, 6))
def test_rounding_error_is_at_most_half_a_unit_in_the_last_place(x: Fraction, digits: int) -> None:
    r = Fraction(round_significant(x, digits))
    exponent = len(str(int(x))) - 1 if x >= 1 else -len(str(Fraction(1) / x).split(".")[0])
    assert abs(r - x) <= abs(x) * Fraction(1, 10 ** (digits - 1)) / 2 + Fraction(1, 10**12)
    del exponent


@given(st.decimals(min_value=Decimal("0.001"), max_value=Decimal("100000"), places=3))
def test_formatted_numbers_have_no_float_artefacts(d: Decimal) -> None:
    text = format_decimal(d)
    assert "e" not in text.lower()
    assert not text.startswith(".")
    if "." in text:
        assert not text.endswith("0")
    assert Decimal(text.replace(",", "")) == d
