"""Reading a patient's values in integers (issue 29): the limits of what is possible are compared as integers, and a
value's unit is found character by character in C; both say what the Fraction comparisons and the character loop
said, at every edge. A sum of one dose is that dose."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

import regimen
from regimen.clinical import patient as patient_module
from regimen.clinical.patient import AGE, BSA, GFR, HEIGHT, WEIGHT, Measure
from regimen.errors import PatientError
from regimen.quantities.exact import exact_sum

MEASURES = [WEIGHT, BSA, AGE, HEIGHT, GFR]


@pytest.mark.parametrize("m", MEASURES, ids=lambda m: m.option)
def test_the_limits_hold_at_their_edges(m: Measure) -> None:
    tiny = Fraction(1, 10**12)
    assert not patient_module._possible(m.low, m)  # the lower limit is not possible (exclusive)
    assert patient_module._possible(m.low + tiny, m)
    assert patient_module._possible(m.high, m)  # the upper one is (inclusive)
    assert not patient_module._possible(m.high + tiny, m)
    assert not patient_module._possible(m.low - 1, m)


@given(st.fractions(min_value=-5, max_value=1000, max_denominator=10**6), st.sampled_from(MEASURES))
def test_the_limits_in_integers_are_the_fraction_comparisons(value: Fraction, m: Measure) -> None:
    assert patient_module._possible(value, m) == (m.low < value <= m.high)


@pytest.mark.parametrize(
    ("raw", "unit"),
    [
        ("70", False),
        ("1.82", False),
        ("70 kg", True),
        ("154lb", True),
        ("5'9\"", True),
        ("1.8 m²", True),
        ("5ft9in", True),
        ("", False),
        ("1,80", False),
        ("µ", True),
        ("70 Kg", True),
    ],
)
def test_a_unit_is_a_letter_or_a_mark(raw: str, unit: bool) -> None:
    assert patient_module._has_unit(raw) is unit
    assert patient_module._has_unit(raw) == any(ch.isalpha() or ch in "'\"²" for ch in raw)


def test_values_at_the_limits_through_make_patient() -> None:
    # 650 kg is the heaviest possible weight, 650.1 kg is not; a BSA of 0.02 m² is not possible, 0.021 m² is
    assert regimen.make_patient(weight="650").weight_kg == 650
    with pytest.raises(PatientError, match=r"weight 650\.1 kg is impossible: give a value between 0\.2 and 650 kg"):
        regimen.make_patient(weight="650.1")
    with pytest.raises(PatientError, match=r"body-surface area 0\.02 m² is impossible"):
        regimen.make_patient(bsa="0.02")
    assert regimen.make_patient(bsa="0.021").bsa_m2 == Fraction(21, 1000)
    assert regimen.make_patient(age="0").age_years == 0
    for age in ("-1", "-0.5", "125.5"):  # -0.5 is above AGE's limit of -1, but an age below 0 is impossible
        with pytest.raises(PatientError, match=rf"age {age} years is impossible: give a value between 0 and 125"):
            regimen.make_patient(age=age)
    patient = regimen.make_patient(weight="154 lb")
    assert patient.working == ("weight 154 lb = 69.85322498 kg",)  # 154 × 0.45359237 kg, 8 places


def test_a_sum_of_one_dose_is_that_dose_and_of_one_int_a_fraction() -> None:
    dose = Fraction(13671, 10)
    assert exact_sum([dose]) is dose
    one = exact_sum([3])  # type: ignore[list-item]
    assert one == 3 and type(one) is Fraction
    assert exact_sum([dose, dose]) == Fraction(13671, 5) and exact_sum([]) == 0
