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
    significant_text,
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


# ---- the integer arithmetic gives what the plain fraction arithmetic gives (issue 15) -------------------------
# The reference implementations below are the earlier ones, written with Fraction at every step: slower, and
# obviously right. The fast ones must agree with them on every value, to the last digit and exponent.


def _reference_to_decimal(x: Fraction, places: int) -> Decimal:
    scaled = x * Fraction(10) ** places
    whole = scaled.numerator // scaled.denominator
    if scaled - whole >= Fraction(1, 2):
        whole += 1
    return Decimal(whole).scaleb(-places)


def _reference_round_significant(x: Fraction, digits: int) -> Decimal:
    if x == 0:
        return Decimal(0)
    mag = abs(x)
    exponent = 0
    while mag >= Fraction(10) ** (exponent + 1):
        exponent += 1
    while mag < Fraction(10) ** exponent:
        exponent -= 1
    places = digits - 1 - exponent
    if places >= 0:
        out = _reference_to_decimal(mag, places)
    else:
        unit = 10**-places
        out = _reference_to_decimal(mag / unit, 0) * Decimal(unit)
    return out.copy_negate() if x < 0 else out


def _reference_format_decimal(d: Decimal, grouping: bool) -> str:
    from decimal import localcontext

    with localcontext() as ctx:
        ctx.prec = 50
        d = d.normalize() if d != 0 else Decimal(0)
        return f"{d:,f}" if grouping else f"{d:f}"


_fractions = st.fractions(min_value=Fraction(-(10**12)), max_value=Fraction(10**12), max_denominator=10**9)
# the boundaries where a fast path could be off by one: powers of ten and exact halves, either side
_edges = st.builds(
    lambda k, sign, nudge: sign * (Fraction(10) ** k + nudge),
    st.integers(-9, 12),
    st.sampled_from([1, -1]),
    st.sampled_from([Fraction(0), Fraction(1, 10**15), -Fraction(1, 10**15), Fraction(1, 2), -Fraction(1, 2)]),
)


@given(st.one_of(_fractions, _edges), st.integers(-6, 12))
def test_to_decimal_agrees_with_fraction_arithmetic(x: Fraction, places: int) -> None:
    got, want = to_decimal(x, places), _reference_to_decimal(x, places)
    assert (got, str(got)) == (want, str(want))


@given(st.one_of(_fractions, _edges), st.integers(1, 8))
def test_round_significant_agrees_with_fraction_arithmetic(x: Fraction, digits: int) -> None:
    got, want = round_significant(x, digits), _reference_round_significant(x, digits)
    assert (got, str(got)) == (want, str(want))


@given(st.one_of(_fractions, _edges), st.integers(0, 12), st.booleans())
def test_format_decimal_agrees_with_the_wide_context(x: Fraction, places: int, grouping: bool) -> None:
    d = _reference_to_decimal(x, places)
    assert format_decimal(d, grouping=grouping) == _reference_format_decimal(d, grouping)


@given(st.one_of(_fractions, _edges), st.integers(1, 6))
def test_amount_text_marks_rounding_exactly(x: Fraction, digits: int) -> None:
    from regimen.quantities.exact import amount_text

    text = amount_text(x, "mg", Rounding(digits))
    shown = x * 1000 if 0 < abs(x) < 1 else x
    rounded = _reference_round_significant(shown, digits)
    assert ("(from" in text) == (Fraction(rounded) != shown)


@given(st.one_of(_fractions, _edges), st.integers(0, 12))
def test_exact_decimal_agrees_with_fraction_arithmetic(x: Fraction, places: int) -> None:
    want = _reference_to_decimal(x, places).normalize() if x != 0 else Decimal(0)
    got = exact_decimal(x, places)
    assert (got, str(got)) == (want, str(want))


# The integer paths of format_fraction and amount_text (issue 29) must write exactly the text the decimal path
# writes: the references below are that path, written with the reference functions above.


def _reference_format_fraction(x: Fraction, places: int, grouping: bool) -> str:
    exact = _reference_to_decimal(x, places).normalize() if x != 0 else Decimal(0)
    return _reference_format_decimal(exact, grouping)


def _reference_amount_text(x: Fraction, unit: str, digits: int) -> str:
    if unit == "mg" and 0 < abs(x) < 1:
        x, unit = x * 1000, "mcg"
    rounded = _reference_round_significant(x, digits)
    if Fraction(rounded) == x:
        return f"{_reference_format_decimal(rounded, True)} {unit}"
    exact = _reference_to_decimal(x, 10)
    mark = "" if Fraction(exact) == x else "…"
    return f"{_reference_format_decimal(rounded, True)} {unit} (from {_reference_format_fraction(x, 10, True)}{mark})"


@given(st.one_of(_fractions, _edges), st.integers(0, 12), st.booleans())
def test_format_fraction_agrees_with_the_decimal_path(x: Fraction, places: int, grouping: bool) -> None:
    assert format_fraction(x, places, grouping=grouping) == _reference_format_fraction(x, places, grouping)


@given(st.one_of(_fractions, _edges), st.integers(1, 6), st.sampled_from(["mg", "mg/h", "mL"]))
def test_amount_text_agrees_with_the_decimal_path(x: Fraction, digits: int, unit: str) -> None:
    from regimen.quantities.exact import amount_text

    assert amount_text(x, unit, Rounding(digits)) == _reference_amount_text(x, unit, digits)


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (Fraction(4320, 46), "mg/h", "93.91 mg/h (from 93.9130434783…)"),  # 4,320 mg over 46 h, by hand
        (Fraction(2520, 1000), "mg", "2.52 mg"),
        (Fraction(12345), "mg", "12,350 mg (from 12,345)"),  # half up to 4 figures, the whole part grouped
        (Fraction(1, 3), "mg", "333.3 mcg (from 333.3333333333…)"),  # under 1 mg: micrograms
        (Fraction(1350), "mg", "1,350 mg"),
    ],
)
def test_amount_text_by_hand(value: Fraction, unit: str, expected: str) -> None:
    from regimen.quantities.exact import amount_text

    assert amount_text(value, unit) == expected


@given(st.one_of(_fractions, _edges), st.integers(1, 12))
def test_significant_text_agrees_with_the_decimal_path(x: Fraction, digits: int) -> None:
    # the cumulative anthracycline dose in mg/m² is printed to 4 figures through it (issue 29: in integers)
    assert significant_text(x, digits) == _reference_format_decimal(_reference_round_significant(x, digits), True)


def test_significant_text_by_hand() -> None:
    assert significant_text(Fraction(400), 4) == "400"  # 8 cycles of 50 mg/m²
    assert significant_text(Fraction(12345), 4) == "12,350"  # half up, grouped
    assert significant_text(Fraction(1, 3), 4) == "0.3333"
    assert significant_text(Fraction(-5, 2), 1) == "-3"  # the decimal path: half up away from zero


# ---- the array forms: the same texts and numbers for many exact decimals at once (a cohort's Calvert doses) -------


@given(
    st.lists(
        st.one_of(st.integers(0, 10**6), st.integers(0, 10**18), st.sampled_from([5, 95, 99995, 10**6])), max_size=30
    ),
    st.integers(0, 12),
    st.integers(1, 16),
    st.sampled_from(["mg", "mg/h", "mL"]),
)
def test_decimal_amounts_are_amount_text_and_the_rounded_number(
    q: list[int], places: int, digits: int, unit: str
) -> None:
    """Each q × 10^-places: the text amount_text gives and the number a row's dose column holds
    (decimal_to_json of the rounding), whether worked in the arrays (4 significant figures, up to 10 places) or
    handed to the scalar functions (zero, under 1 mg, 18 digits or more, more places, more figures)."""
    import numpy as np

    from regimen.quantities.exact import amount_text, decimal_amounts, decimal_to_json

    rounding = Rounding(digits)
    q = [x for x in q if x < 2**63]
    found = decimal_amounts(np.asarray(q, dtype=np.int64), places, unit, rounding)
    for x, text, number in zip(q, found.texts, found.rounded.tolist(), strict=True):
        exact = Fraction(x, 10**places)
        assert text == amount_text(exact, unit, rounding)
        assert number == float(decimal_to_json(rounding(exact)))


def test_decimal_amounts_by_hand() -> None:
    """7.5 × (100.01 + 25) = 937.575 mg shows 937.6 (from 937.575); 7.5 × 75 = 562.5 mg exactly; 99.995 mg rounds
    half up to 100 mg; 0.5 mg is 500 mcg; 12,345,678 mg is 12,350,000."""
    import numpy as np

    from regimen.quantities.exact import decimal_amounts

    found = decimal_amounts(np.array([937575, 562500, 99995, 500, 12345678000]), 3, "mg")
    assert found.texts == [
        "937.6 mg (from 937.575)",
        "562.5 mg",
        "100 mg (from 99.995)",
        "500 mcg",
        "12,350,000 mg (from 12,345,678)",
    ]
    assert found.rounded.tolist() == [937.6, 562.5, 100.0, 0.5, 12350000.0]


_numerators = st.one_of(st.integers(0, 10**7), st.integers(0, 10**18), st.sampled_from([5, 95, 875, 99995, 10**6]))
_denominators = st.one_of(st.integers(1, 10**4), st.sampled_from([23, 24, 46, 3 * 10**7, 2**20, 10**17]))


@given(
    st.lists(st.tuples(_numerators, _denominators), max_size=30),
    st.integers(1, 16),
    st.sampled_from(["mg", "mg/h", "mL"]),
)
def test_fraction_amounts_are_amount_text_and_the_rounded_number(
    values: list[tuple[int, int]], digits: int, unit: str
) -> None:
    """Each n / d (a cohort's doses by weight or BSA, their rates and shares): the text amount_text gives and the
    number a row's column holds, whether worked in the arrays or handed to the scalar functions."""
    import numpy as np

    from regimen.quantities.exact import amount_text, decimal_to_json, fraction_amounts

    rounding = Rounding(digits)
    n = np.asarray([a for a, _ in values], dtype=np.int64)
    d = np.asarray([b for _, b in values], dtype=np.int64)
    found = fraction_amounts(n, d, unit, rounding)
    for (a, b), text, number in zip(values, found.texts, found.rounded.tolist(), strict=True):
        assert text == amount_text(Fraction(a, b), unit, rounding)
        assert number == float(decimal_to_json(rounding(Fraction(a, b))))


def test_fraction_amounts_by_hand() -> None:
    """210.3 / 24 = 8.7625 mg/h, a tie, shows 8.763 (half up); 107712 / 46 = 2,341.565217... mg shows 2,342 (from
    2,341.5652173913…, marked: not exact at ten places); 1 / 3 mg is 333.3 mcg; 9,999.5 mg rounds up to 10,000."""
    import numpy as np

    from regimen.quantities.exact import exact_texts, fraction_amounts, fraction_texts

    found = fraction_amounts(np.array([2103, 107712, 1, 19999]), np.array([240, 46, 3, 2]), "mg")
    assert found.texts == [
        "8.763 mg (from 8.7625)",
        "2,342 mg (from 2,341.5652173913…)",
        "333.3 mcg (from 333.3333333333…)",
        "10,000 mg (from 9,999.5)",
    ]
    assert found.rounded.tolist() == [8.763, 2342.0, 0.3333, 10000.0]
    assert fraction_texts(np.array([1805, 1, 2]), np.array([1000, 3, 3])) == ["1.805", "0.33333333", "0.66666667"]
    assert exact_texts(np.array([53856, 2103, 1805, 1]), np.array([23, 10, 1, 1024])) == [
        "53856/23",
        "210.3",
        "1805",
        "0.0009765625",
    ]


@given(st.lists(st.tuples(_numerators, _denominators), max_size=30), st.integers(0, 8))
def test_fraction_texts_and_exact_texts_are_the_scalar_texts(values: list[tuple[int, int]], places: int) -> None:
    import numpy as np

    from regimen.engine.rows import exact_text
    from regimen.quantities.exact import exact_texts, fraction_texts

    n = np.asarray([a for a, _ in values], dtype=np.int64)
    d = np.asarray([b for _, b in values], dtype=np.int64)
    assert fraction_texts(n, d, places) == [format_fraction(Fraction(a, b), places) for a, b in values]
    lowest = [Fraction(a, b) for a, b in values]
    num = np.asarray([x.numerator for x in lowest], dtype=np.int64)
    den = np.asarray([x.denominator for x in lowest], dtype=np.int64)
    assert exact_texts(num, den) == [exact_text(x) for x in lowest]


@given(st.lists(st.integers(0, 10**15), max_size=20), st.integers(0, 8), st.booleans())
def test_decimal_texts_are_format_fraction_and_exact_text(q: list[int], places: int, grouping: bool) -> None:
    from regimen.engine.rows import exact_text
    from regimen.quantities.exact import decimal_texts

    texts = decimal_texts(q, places, grouping=grouping)
    assert texts == [format_fraction(Fraction(x, 10**places), grouping=grouping) for x in q]
    if not grouping:
        assert texts == [exact_text(Fraction(x, 10**places)) for x in q]


def test_decimal_texts_to_three_places_look_their_fractions_up_as_written() -> None:
    """Up to 3 places decimal_texts looks the digits after the point up in a table (issue 29: a cohort's GFRs in
    hundredths and Calvert doses in thousandths): every fraction of 0 to 3 places, past a whole 1,000 (grouped or
    not), is format_fraction's text; by hand, 6,611 hundredths are 66.11, 7,510 are 75.1, 683,325 thousandths
    683.325 and 1,125,000 are 1,125."""
    from regimen.quantities.exact import decimal_texts

    for places in range(4):
        q = [*range(0, 3 * 10**places), *range(1000 * 10**places - 5, 1000 * 10**places + 5)]
        for grouping in (True, False):
            want = [format_fraction(Fraction(x, 10**places), grouping=grouping) for x in q]
            assert decimal_texts(q, places, grouping=grouping) == want
    assert decimal_texts([6611, 7510], 2) == ["66.11", "75.1"]
    assert decimal_texts([683325, 1125000], 3) == ["683.325", "1,125"]
    assert decimal_texts([1125000], 3, grouping=False) == ["1125"]


def test_numbers_scaled_by_a_power_of_ten_past_the_table_of_powers() -> None:
    """The integer path keeps 10^0 .. 10^63 made once and computes a larger power (issue 29): a number printed to
    more places than that is written all the same (by hand: a third to 70 places, an eighth exact)."""
    assert format_fraction(Fraction(1, 3), 70) == "0." + "3" * 70
    assert format_fraction(Fraction(2, 3), 64) == "0." + "6" * 63 + "7"  # half up in the last place
    assert format_fraction(Fraction(1, 8), 70) == "0.125"
    assert significant_text(Fraction(1, 3 * 10**17), 20) == "0." + "0" * 17 + "3" * 20  # 36 places
    assert format_fraction(Fraction(12345678, 1000), 3) == "12,345.678"  # the whole part grouped
    assert format_fraction(Fraction(999), 0) == "999" and format_fraction(Fraction(1000), 0) == "1,000"


@given(st.integers(1, 10**17 - 1), st.integers(0, 12), st.booleans())
def test_a_whole_number_is_written_as_the_decimal_path_writes_it(n: int, places: int, grouping: bool) -> None:
    """format_fraction writes a whole number from its digits alone (issue 29: most doses, factors and limits are
    whole): the decimal path's text, grouped in threes or not."""
    assert format_fraction(Fraction(n), places, grouping=grouping) == _reference_format_fraction(
        Fraction(n), places, grouping
    )


def test_whole_numbers_by_hand() -> None:
    assert format_fraction(Fraction(2)) == "2" and format_fraction(Fraction(999)) == "999"
    assert format_fraction(Fraction(2400)) == "2,400" and format_fraction(Fraction(2400), grouping=False) == "2400"
    assert format_fraction(Fraction(1234567)) == "1,234,567"
    assert format_fraction(Fraction(453, 5)) == "90.6" and format_fraction(Fraction(1, 8)) == "0.125"
