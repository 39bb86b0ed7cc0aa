"""A creatinine without the weight: the doses of each span of weights the renal tables read alike, never the full dose.

Before, ``regimen expand capox --bsa 1.8 --age 70 --sex male --scr 1.5`` (a BSA given, no ``--weight``) planned
capecitabine at the full 1,800 mg with "kidney function not checked ... pass --weight". Worked by hand, the
Cockcroft–Gault clearance (140 − 70) × weight / (72 × 1.5) = weight × 0.648148…, to 2 decimals, at each 0.1 kg:

* 46.2 kg: 29.944 → 29.94 mL/min, below 30: contraindicated, left out; 46.3 kg: 30.009 → 30.01, in 30–50: 75 %
  (1,350 mg);
* 77.1 kg: 49.972 → 49.97 (75 %); 77.2 kg: 50.037 → 50.04, over 50: the full 1,800 mg.
"""

from __future__ import annotations

from fractions import Fraction as F

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import CREATININES, check_each_span, examples, shown_and_refused_under_strict
from tests.test_sex_not_given import CAPOX, EP

import regimen
from regimen.clinical.options import ClinicalOptions
from regimen.clinical.prepare import prepare
from regimen.clinical.renal_adjust import over_spans
from regimen.engine.cohort import cohort
from regimen.errors import PatientError


def plan_of(
    reg: regimen.Regimen, scr: str, weight: str | None = None, age: str = "70", sex: str = "male"
) -> regimen.Plan:
    return regimen.expand(reg, regimen.make_patient(bsa="1.8", weight=weight, age=age, sex=sex, scr=scr), cycles=1)


def test_each_span_of_weights_gets_its_own_doses_marked() -> None:
    plan = plan_of(CAPOX, "1.5")
    capecitabine = {(r.condition, r.dose) for r in plan.administrations if r.drug == "capecitabine"}
    assert capecitabine == {("46.3 ≤ weight ≤ 77.1 kg", F(1350)), ("weight ≥ 77.2 kg", F(1800))}
    totals = {t.condition: t.amount for t in plan.totals if t.cycle is None and t.drug == "capecitabine"}
    assert totals == {"weight ≤ 46.2 kg": F(0), "46.3 ≤ weight ≤ 77.1 kg": F(37800), "weight ≥ 77.2 kg": F(50400)}
    reduced = next(r for r in plan.administrations if r.condition == "46.3 ≤ weight ≤ 77.1 kg")
    assert (
        "renal: CrCl 30.01–49.97 mL/min (Cockcroft–Gault) at weights 46.3–77.1 kg (weight not given) is 30–50 mL/min: "
        "75 % of the dose" in reduced.calculation
    )
    first = plan.warnings[0]
    assert first.startswith("weight not given: the Cockcroft–Gault clearance depends on it")
    assert "(weight ≤ 46.2 kg, 46.3 ≤ weight ≤ 77.1 kg, weight ≥ 77.2 kg) (weights to 0.1 kg). Give --weight" in first
    assert any(w.startswith("only if weight ≤ 46.2 kg: capecitabine left out of the plan") for w in plan.warnings)
    assert not any("kidney function not checked" in w for w in plan.warnings)
    assert any(
        w.startswith("Cockcroft–Gault CrCl with the weight not given = (140 − 70) × weight")
        for w in (plan.patient.working)
    )


def test_the_command_strict_and_a_cohort_row() -> None:
    shown_and_refused_under_strict(
        ["expand", "capox", "--bsa", "1.8", "--age", "70", "--sex", "male", "--scr", "1.5", "--cycles", "1"],
        "capecitabine  37,800 mg  46.3 ≤ weight ≤ 77.1 kg",
        "Give --weight to settle it",
    )
    roster = pd.DataFrame([{"patient_id": "a", "bsa_m2": "1.8", "age": "70", "sex": "male", "scr_mgdl": "1.5"}])
    found = cohort(CAPOX, roster, cycles=1)
    assert found.rejected == 1 and found.errors["problem"][0].endswith("fill in weight_kg")


def test_the_bounds_of_a_span_are_the_tables_bounds_in_0_1_kg() -> None:
    """Age 20, 0.4 mg/dL, a man: (140 − 20) × weight / (72 × 0.4) = 4.1667 × weight, possible up to 72 kg (300
    mL/min). 7.1 kg: 29.58 (below 30); 7.2 kg: 30 (30–50: 75 %); 12 kg: 50, still in 30–50 (its bound is
    inclusive); 12.1 kg: 50.42, the full dose."""
    plan = plan_of(CAPOX, "0.4", age="20")
    assert {(r.condition, r.dose) for r in plan.administrations if r.drug == "capecitabine"} == {
        ("7.2 ≤ weight ≤ 12 kg", F(1350)),
        ("weight ≥ 12.1 kg", F(1800)),
    }
    assert "(weight ≤ 7.1 kg, 7.2 ≤ weight ≤ 12 kg, weight ≥ 12.1 kg) (weights to 0.1 kg)" in plan.warnings[0]
    assert "1.25 mL/min at 0.3 kg to 300 mL/min at 72)" in plan.warnings[0]  # 4.1667 × 0.3 = 1.25


@settings(max_examples=examples(30), deadline=None)
@given(
    reg=st.sampled_from([CAPOX, EP]),
    age=st.integers(20, 95),
    sex=st.sampled_from(["female", "male"]),
    scr=CREATININES,
)
def test_each_spans_rows_are_the_plan_at_a_weight_of_the_span(
    reg: regimen.Regimen, age: int, sex: str, scr: str
) -> None:
    """Whatever the values, each span's rows (unmarked and marked with its condition) are the doses of the plan with
    the weight given, at the span's first and last weight."""
    plan = plan_of(reg, scr, age=str(age), sex=sex)
    prepared = prepare(reg, regimen.make_patient(bsa="1.8", age=str(age), scr=scr, sex=sex), ClinicalOptions())
    found = over_spans(reg, prepared) if prepared.kidney_over else []
    weights = sorted({w for lo, hi in found for w in (lo, hi)}) or [F(70)]
    check_each_span(plan, "weight", weights, lambda w: plan_of(reg, scr, str(w), str(age), sex), PatientError)


def test_without_the_weight_and_the_sex_each_sexs_spans_of_weights() -> None:
    """Age 70, 1.5 mg/dL, neither weight nor sex: a man's spans as above; a woman's clearance is × 0.85, 0.550926 ×
    weight: 54.4 kg 29.97 (left out), 54.5 kg 30.03 (75 %), 90.7 kg 49.97, 90.8 kg 50.02 (full). Each row says both
    values; the warning names --weight and --sex."""
    plan = regimen.expand(CAPOX, regimen.make_patient(bsa="1.8", age="70", scr="1.5"), cycles=1)
    assert {(r.condition, r.dose) for r in plan.administrations if r.drug == "capecitabine"} == {
        ("sex female and 54.5 ≤ weight ≤ 90.7 kg", F(1350)),
        ("sex female and weight ≥ 90.8 kg", F(1800)),
        ("sex male and 46.3 ≤ weight ≤ 77.1 kg", F(1350)),
        ("sex male and weight ≥ 77.2 kg", F(1800)),
    }
    assert plan.warnings[0].startswith("weight and sex not given: the Cockcroft–Gault clearance depends on both")
    assert plan.warnings[0].endswith("Give --weight and --sex to settle it")
    for sex in ("female", "male"):  # each sex's rows are the plan with that sex given (its spans as above)
        mine = {
            (r.day, r.dose_number, r.dose, r.condition.removeprefix(f"sex {sex} and ") if r.condition else None)
            for r in plan.administrations
            if r.condition is None or r.condition.startswith(f"sex {sex} and")
        }
        alone = plan_of(CAPOX, "1.5", sex=sex)
        assert mine == {(r.day, r.dose_number, r.dose, r.condition) for r in alone.administrations}
