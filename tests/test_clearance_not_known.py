"""A creatinine without both the age and the weight: the doses of each range of the clearance the renal tables read
alike, never the full dose.

Before, ``regimen expand capox --bsa 1.8 --scr 2`` (a BSA-dosed regimen: no weight needed for its doses) planned
capecitabine at the full 1,800 mg with a warning "kidney function not checked ... pass --age, --sex, --weight": a
warning under a number that is wrong for every patient whose clearance is 50 mL/min or less. The Cockcroft–Gault
clearance (140 − age) × weight / (72 × SCr) could be any value there, so the plan now shows each range of it that
the tables read differently, as the file's own bounds, worked out at 0.01 mL/min (the precision a clearance is
rounded to):

* CAPOX, capecitabine (US label 2.4 and 4.1): 30–50 mL/min (inclusive) 75 %, below 30 contraindicated:
  "CrCl ≤ 29.99 mL/min" left out, "30 ≤ CrCl ≤ 50 mL/min" 1,800 × 75 % = 1,350 mg, "CrCl ≥ 50.01 mL/min" 1,800 mg;
* mFOLFOX6, oxaliplatin (US label): below 30, 65 mg/m² in place of 85: 85 × 1.8 = 153 mg, 65 × 1.8 = 117 mg over 2 h
  (58.5 mg/h);
* cisplatin-etoposide (BC Cancer LUMMPG; etoposide product information): cisplatin 45 to under 60 80 % (80 mg/m² ×
  1.8 = 144 mg → 115.2 mg), under 45 left out; etoposide 15–50 75 % (180 mg → 135 mg).
"""

from __future__ import annotations

from fractions import Fraction as F

import pandas as pd
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tests.helpers import CREATININES, examples, shown_and_refused_under_strict, span_holds
from tests.test_sex_not_given import CAPOX, EP

import regimen
from regimen.clinical.options import ClinicalOptions
from regimen.clinical.prepare import prepare
from regimen.engine.cohort import cohort
from regimen.engine.courses.describe import measure_options
from regimen.engine.outcomes import condition_values, settled_by
from regimen.errors import PatientError, option, render

MFOLFOX6 = regimen.load("mfolfox6")


def plan_of(reg: regimen.Regimen, scr: str, **given: str) -> regimen.Plan:
    return regimen.expand(reg, regimen.make_patient(bsa="1.8", scr=scr, **given), cycles=1)


def doses(plan: regimen.Plan, drug: str) -> set[tuple[str | None, F]]:
    return {(r.condition, r.dose) for r in plan.administrations if r.drug == drug}


def test_each_range_of_the_clearance_gets_its_own_doses_marked() -> None:
    plan = plan_of(CAPOX, "2")
    assert doses(plan, "capecitabine") == {("30 ≤ CrCl ≤ 50 mL/min", F(1350)), ("CrCl ≥ 50.01 mL/min", F(1800))}
    assert doses(plan, "oxaliplatin") == {(None, F(234))}  # no renal table: the same dose in every range
    totals = {t.condition: t.amount for t in plan.totals if t.cycle is None and t.drug == "capecitabine"}
    # 14 days, twice a day: 28 doses
    assert totals == {"CrCl ≤ 29.99 mL/min": 0, "30 ≤ CrCl ≤ 50 mL/min": 28 * 1350, "CrCl ≥ 50.01 mL/min": 28 * 1800}
    reduced = next(r for r in plan.administrations if r.condition == "30 ≤ CrCl ≤ 50 mL/min")
    assert (
        "renal: CrCl 30–50 mL/min (Cockcroft–Gault; age and weight not given) is 30–50 mL/min: 75 % of the dose "
        "(capecitabine US prescribing information 2.4): 1,800 mg → 1,350 mg" in reduced.calculation
    )
    first = plan.warnings[0]
    assert first.startswith(
        "age and weight not given: the Cockcroft–Gault clearance cannot be worked out from the creatinine alone, "
        "and the renal table of capecitabine gives different doses by its value"
    )
    assert first.endswith(
        "(CrCl ≤ 29.99 mL/min, 30 ≤ CrCl ≤ 50 mL/min, CrCl ≥ 50.01 mL/min) (clearances to 0.01 mL/min). Give --age "
        "and --weight (or a measured --gfr) to settle it"
    )
    assert any(w.startswith("only if CrCl ≤ 29.99 mL/min: capecitabine left out of the plan") for w in plan.warnings)
    assert not any("kidney function not checked" in w for w in plan.warnings)
    assert any(
        w.startswith(
            "Cockcroft–Gault CrCl with the age and weight not given = (140 − age) × weight (actual) / (72 × 2 "
        )
        for w in plan.patient.working
    )


def test_a_dose_of_its_own_and_three_bands() -> None:
    oxaliplatin = doses(plan_of(MFOLFOX6, "1.3"), "oxaliplatin")
    assert oxaliplatin == {("CrCl ≤ 29.99 mL/min", F(117)), ("CrCl ≥ 30 mL/min", F(153))}
    low = next(r for r in plan_of(MFOLFOX6, "1.3").administrations if r.condition == "CrCl ≤ 29.99 mL/min")
    assert low.rate == F(117, 2) and low.calculation.endswith("153 mg → 117 mg over 2 h (58.5 mg/h)")
    ep = plan_of(EP, "1.3")
    assert doses(ep, "cisplatin") == {("45 ≤ CrCl ≤ 59.99 mL/min", F("115.2")), ("CrCl ≥ 60 mL/min", F(144))}
    assert doses(ep, "etoposide") == {
        ("15 ≤ CrCl ≤ 50 mL/min", F(135)),
        ("CrCl ≤ 14.99 mL/min or CrCl ≥ 50.01 mL/min", F(180)),
    }
    # below 15 mL/min the etoposide table states no dose: the full dose is planned there with that said
    assert any(
        w.startswith(
            "only if CrCl ≤ 14.99 mL/min: etoposide: CrCl ≤ 14.99 mL/min (Cockcroft–Gault; age and weight not "
            "given) is below 15 mL/min, the lowest value its renal table states"
        )
        for w in ep.warnings
    )


def test_the_sex_does_not_narrow_it_and_a_gfr_settles_it() -> None:
    """Without the sex either, the ranges are the same (any clearance is still possible); a measured GFR is read as it
    is, with no range."""
    assert doses(plan_of(CAPOX, "2", sex="male"), "capecitabine") == doses(plan_of(CAPOX, "2"), "capecitabine")
    measured = regimen.expand(CAPOX, regimen.make_patient(bsa="1.8", scr="2", gfr="40"), cycles=1)
    assert doses(measured, "capecitabine") == {(None, F(1350))}


def test_the_command_strict_a_cohort_row_and_what_settles_it() -> None:
    shown_and_refused_under_strict(
        ["expand", "capox", "--bsa", "1.8", "--scr", "2", "--cycles", "1"],
        "capecitabine  37,800 mg  30 ≤ CrCl ≤ 50 mL/min",
        "Give --age and --weight (or a measured --gfr) to settle it",
    )
    roster = pd.DataFrame([{"patient_id": "a", "bsa_m2": "1.8", "scr_mgdl": "2"}])
    found = cohort(CAPOX, roster, cycles=1)
    assert found.rejected == 1 and found.errors["problem"][0].endswith("fill in age and weight_kg")
    assert condition_values("30 ≤ CrCl ≤ 50 mL/min") == ["age", "weight"]
    assert condition_values("sex female and CrCl ≥ 50.01 mL/min") == ["sex", "age", "weight"]
    assert settled_by("CrCl ≤ 29.99 mL/min") == f"{option('age')} and {option('weight')}"
    # a course started so: 'course given' of such a dose names the values 'course measure' takes
    assert render(measure_options(["30 ≤ CrCl ≤ 50 mL/min", "CrCl ≥ 50.01 mL/min"])) == "age ... weight ..."


@settings(max_examples=examples(40), deadline=None)
@given(
    reg=st.sampled_from([CAPOX, EP, MFOLFOX6]),
    age=st.integers(18, 99),
    tenths=st.integers(300, 1500),
    sex=st.sampled_from(["female", "male"]),
    scr=CREATININES,
)
def test_the_range_a_patients_clearance_falls_in_holds_that_patients_plan(
    reg: regimen.Regimen, age: int, tenths: int, sex: str, scr: str
) -> None:
    """Whatever the patient, the rows of the plan without the age and weight that hold at the patient's own
    clearance (unmarked, or marked with a range holding it) are the doses of the plan with every value given."""
    weight = f"{tenths // 10}.{tenths % 10}"
    given_all = {"age": str(age), "weight": weight, "sex": sex}
    try:
        prepared = prepare(reg, regimen.make_patient(bsa="1.8", scr=scr, **given_all), ClinicalOptions())
    except PatientError:  # a clearance no patient has (over 300 mL/min)
        assume(False)
    assert prepared.kidney is not None
    clearance = prepared.kidney.ml_min
    unknown = plan_of(reg, scr)

    def key(r: regimen.Administration) -> tuple[object, ...]:
        return (r.cycle, r.day, r.component, r.dose_number, r.dose)

    mine = sorted(
        key(r) for r in unknown.administrations if not r.condition or span_holds(r.condition, "CrCl", clearance)
    )
    assert mine == sorted(key(r) for r in plan_of(reg, scr, **given_all).administrations), clearance
