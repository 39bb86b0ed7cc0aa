"""A cohort's doses by weight or BSA worked out for many body values at once (issue 29): the dose fields of every
bundled regimen's rows equal those of the plan's own arithmetic (day_doses) for each value, rounding ties included,
and a few worked by hand."""

from __future__ import annotations

import dataclasses
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import examples

from regimen import expand, load, make_patient
from regimen.engine.cohort import cohort
from regimen.engine.cohort import templates as cohort_templates
from regimen.engine.cohort.dose_columns import dose_columns, dose_shape
from regimen.engine.cohort.templates import _row_rule
from regimen.engine.doses import additives_step
from regimen.engine.rows import DOSE_FIELDS, dose_fields
from regimen.model import Patient
from regimen.protocol.catalog import regimen_ids
from regimen.quantities.exact import DEFAULT_ROUNDING, Rounding

EXAMPLES = sorted(str(p) for p in (Path(__file__).parent.parent / "examples").glob("*.toml"))


def _rules(regimen_id: str) -> list[tuple[Any, str]]:
    """Each distinct row rule of the regimen's plan (a patient of 70 kg, 1.8 m², 45 years) and its basis."""
    reg = load(regimen_id)
    patient = make_patient(weight="70", bsa="1.8", age="45", sex="female", scr="1", height="170")
    plan = expand(reg, patient)
    found: dict[tuple[Any, ...], tuple[Any, str]] = {}
    for row in plan.administrations:
        rule, basis = _row_rule(reg, row, patient)
        found.setdefault(rule.key, (rule, basis))
    return list(found.values())


def _scalar(rule: Any, basis: str, factor: Fraction, rounding: Rounding) -> dict[str, Any]:
    """The dose fields of one value as a plan makes them (the rule's day_doses, then dose_fields)."""
    field = "weight_kg" if basis == "weight" else "bsa_m2"
    amount, rate, hours, calculation, _ = rule.work(dataclasses.replace(Patient(), **{field: factor}), rounding)
    return dose_fields(rounding, amount, rate, hours, calculation)


def _columns(rule: Any, basis: str, factors: list[Fraction], rounding: Rounding) -> list[dict[str, Any]] | None:
    """The dose fields of each value as the cohort works them out in arrays, as records (None: not covered)."""
    shape = dose_shape(
        rule.dose, rule.continuous, rule.duration, rule.hours_today, rule.infusion_hours, rule.comp.times_per_day
    )
    if shape is None:
        return None
    found = dose_columns(shape, basis, factors, rounding, additives_step(rule.comp))
    assert found is not None
    out = []
    for k in range(len(factors)):
        record = {}
        for name in DOSE_FIELDS:
            value = found[name]
            value = value[k] if isinstance(value, (list, np.ndarray)) else value
            record[name] = value.item() if isinstance(value, np.generic) else value
        out.append(record)
    return out


def _same(found: dict[str, Any], expected: dict[str, Any]) -> None:
    for name in DOSE_FIELDS:
        want = expected[name]
        if want is None:  # a rate or duration the row does not have: NaN in the arrays
            assert np.isnan(found[name]), name
        else:
            assert found[name] == want, (name, found[name], want)


#: Values at the edges of the rounding: x.xx5 amounts (8.7625 mg/h for 70.1 kg of 3 mg/kg/day), whole numbers,
#: the least and most a roster holds, and values whose doses do not terminate (1/23 of a pump's 46 h).
EDGES = [Fraction(t) for t in ("70", "70.1", "1.83", "1.805", "1.87", "35", "199.9", "2.8", "1.2", "0.3", "71.3")]

COVERED = ["cenersen-arm1", "cenersen-arm3", "cenersen-fcr", "oblimersen-mono", "folfiri", "gemcitabine-d1-8-15"]


@pytest.mark.parametrize("regimen_id", [*regimen_ids(), *EXAMPLES])
def test_dose_columns_are_the_plans_doses_for_every_bundled_regimen(regimen_id: str) -> None:
    covered = 0
    for rule, basis in _rules(regimen_id):
        if basis not in ("weight", "bsa"):
            continue
        found = _columns(rule, basis, EDGES, DEFAULT_ROUNDING)
        if found is None:  # several doses a day: worked out one value at a time
            assert rule.comp.times_per_day != 1
            continue
        covered += 1
        for factor, record in zip(EDGES, found, strict=True):
            _same(record, _scalar(rule, basis, factor, DEFAULT_ROUNDING))
    if regimen_id in COVERED:
        assert covered, "the regimen's doses by weight or BSA should be worked out in arrays"


@settings(max_examples=examples(200), deadline=None)
@given(
    st.sampled_from(COVERED),
    st.lists(st.integers(1, 4000), min_size=1, max_size=8),
    st.sampled_from([1, 10, 100, 1000]),
    st.integers(1, 8),
)
def test_dose_columns_are_the_plans_doses_for_any_value(
    regimen_id: str, numerators: list[int], denominator: int, digits: int
) -> None:
    """Any value to 0, 1, 2 or 3 places, any significant figures of the rounding: the same fields as the plan's."""
    rounding = Rounding(digits)
    factors = [Fraction(n, denominator) for n in numerators]
    for rule, basis in _rules(regimen_id):
        if basis not in ("weight", "bsa"):
            continue
        found = _columns(rule, basis, factors, rounding)
        if found is None:
            continue
        for factor, record in zip(factors, found, strict=True):
            _same(record, _scalar(rule, basis, factor, rounding))


def _cohort_rows(regimen_id: str, roster: pd.DataFrame, drug: str) -> list[dict[str, Any]]:
    frame = cohort(load(regimen_id), roster).frame
    return frame[frame["drug"] == drug][["patient_id", *DOSE_FIELDS]].to_dict("records")


def test_a_continuous_infusion_by_weight_worked_by_hand(monkeypatch: pytest.MonkeyPatch) -> None:
    """Oblimersen 3 mg/kg/day over 120 h for 70.1 kg: 210.3 mg/day, 8.7625 mg/h (a tie: shown 8.763, half up), the
    whole infusion 1,051.5 mg (shown 1,052), the day's 24 h 210.3 mg; 80 kg: 240 mg/day, 10 mg/h, 1,200 mg. Worked
    in the arrays: the plan's own arithmetic is not called for them."""

    def not_called(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("worked out one value at a time")

    monkeypatch.setattr(cohort_templates._DayRule, "work", not_called)
    roster = pd.DataFrame({"patient_id": ["a", "b"], "weight_kg": ["70.1", "80"], "age": ["45", "70"]})
    rows = _cohort_rows("oblimersen-mono", roster, "oblimersen")
    assert len(rows) == 10  # 5 days each
    a = (
        "3 mg/kg/day × 70.1 kg = 210.3 mg/day, given as 8.763 mg/h (from 8.7625) continuously over 120 h = "
        "1,052 mg (from 1,051.5); this day's share: 8.763 mg/h (from 8.7625) × 24 h = 210.3 mg"
    )
    b = (
        "3 mg/kg/day × 80 kg = 240 mg/day, given as 10 mg/h continuously over 120 h = 1,200 mg; "
        "this day's share: 10 mg/h × 24 h = 240 mg"
    )
    assert rows[0] == {
        "patient_id": "a",
        "dose": 210.3,
        "dose_exact": "210.3",
        "rate": 8.763,
        "duration_h": 24.0,
        "calculation": a,
        "dose_exact_num": 2103,
        "dose_exact_den": 10,
    }
    assert rows[5] == {
        "patient_id": "b",
        "dose": 240.0,
        "dose_exact": "240",
        "rate": 10.0,
        "duration_h": 24.0,
        "calculation": b,
        "dose_exact_num": 240,
        "dose_exact_den": 1,
    }


def test_a_pump_by_bsa_whose_dose_does_not_terminate_worked_by_hand() -> None:
    """FOLFIRI's fluorouracil 2,400 mg/m² over 46 h for 1.87 m²: 4,488 mg at 4488/46 = 97.565217... mg/h; day 1's
    24 h is 53856/23 = 2,341.565217391... mg, shown 2,342 (from 2,341.5652173913…, ten places, marked inexact);
    day 2's 22 h is 49368/23 = 2,146.434782608... mg, shown 2,146."""
    roster = pd.DataFrame({"patient_id": ["a"], "weight_kg": ["70"], "bsa_m2": ["1.87"], "age": ["50"]})
    rows = [r for r in _cohort_rows("folfiri", roster, "fluorouracil") if r["rate"] == r["rate"]][:2]  # the pump
    head = "2,400 mg/m² × 1.87 m² = 4,488 mg over 46 h = 97.57 mg/h (from 97.5652173913…)"
    assert [(r["dose"], r["dose_exact"], r["rate"], r["duration_h"]) for r in rows] == [
        (2342.0, "53856/23", 97.57, 24.0),
        (2146.0, "49368/23", 97.57, 22.0),
    ]
    assert [(r["dose_exact_num"], r["dose_exact_den"]) for r in rows] == [(53856, 23), (49368, 23)]
    assert rows[0]["calculation"] == (
        f"{head}; this day's share: 97.57 mg/h (from 97.5652173913…) × 24 h = 2,342 mg (from 2,341.5652173913…)"
    )
    assert rows[1]["calculation"] == (
        f"{head}; this day's share: 97.57 mg/h (from 97.5652173913…) × 22 h = 2,146 mg (from 2,146.4347826087…)"
    )


def test_a_dose_written_in_grams_by_bsa_worked_by_hand() -> None:
    """Cytarabine 1 g/m²/day for 1.805 m²: 1.805 g/day = 1,805 mg, shown whole; idarubicin 12 mg/m²/day for 1.805 m²
    is 21.66 mg exactly."""
    roster = pd.DataFrame({"patient_id": ["a"], "weight_kg": ["70"], "bsa_m2": ["1.805"], "age": ["50"]})
    cytarabine = _cohort_rows("cenersen-arm3", roster, "cytarabine")[0]
    assert cytarabine["calculation"] == "1 g/m²/day × 1.805 m² = 1.805 g/day = 1,805 mg"
    assert (cytarabine["dose"], cytarabine["dose_exact"]) == (1805.0, "1805")
    idarubicin = _cohort_rows("cenersen-arm3", roster, "idarubicin")[0]
    assert idarubicin["calculation"] == "12 mg/m²/day × 1.805 m² = 21.66 mg"
    assert (idarubicin["dose"], idarubicin["dose_exact"], idarubicin["dose_exact_den"]) == (21.66, "21.66", 50)


def test_a_regimen_with_dose_levels_is_plain_dosing_in_a_run_without_options(monkeypatch: pytest.MonkeyPatch) -> None:
    """FOLFIRI defines irinotecan's dose levels; a run that asks for none gives the protocol's doses, so its rows are
    worked out in arrays, not by a plan per distinct BSA (40 here); each patient's rows are still expand()'s."""
    from regimen.engine.cohort.expander import CohortExpander

    plans = 0
    original = CohortExpander._expand

    def counted(self: CohortExpander, *args: Any, **kwargs: Any) -> Any:
        nonlocal plans
        plans += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(CohortExpander, "_expand", counted)
    bsas = [f"{1.5 + i / 100:.2f}" for i in range(40)]
    roster = pd.DataFrame({"patient_id": [f"p{i}" for i in range(40)], "bsa_m2": bsas, "weight_kg": "70", "age": "50"})
    result = cohort(load("folfiri"), roster)
    assert plans < 10  # the template and the sample check's patients
    assert not any("one patient at a time" in n for n in result.notes)
    frame = result.frame
    for i in (0, 17, 39):
        plan = expand(load("folfiri"), make_patient(bsa=bsas[i], weight="70", age="50"))
        mine = frame[frame["patient_id"] == f"p{i}"]
        assert mine["calculation"].tolist() == [a.calculation for a in plan.administrations]
