"""A creatinine without the age or the sex: each sex's doses by span of ages, never the full dose unchecked.

Before, ``regimen expand capox --weight 70 --bsa 1.8 --scr 1.3`` (neither ``--age`` nor ``--sex``) planned
capecitabine at the full 1,800 mg with "kidney function not checked ... pass --age, --sex". Worked by hand, the
Cockcroft–Gault clearance (140 − age) × 70 / (72 × 1.3) = (140 − age) × 0.747863… (× 0.85 for a woman), to 2 decimals:

* a woman: at 61, 79 × 0.747863 × 0.85 = 50.219 → 50.22 (over 50: the full dose); at 62, 49.583 → 49.58 (30–50:
  75 %, 1,350 mg); at 92, 30.513 → 30.51 (75 %); at 93, 29.877 → 29.88 (below 30: contraindicated, left out);
* a man: at 73, 50.11 (full); at 74, 49.36 (75 %); at 99, 30.66 (75 %); at 100, 29.91 (left out)
  (tests/test_age_not_given_kidneys.py).
"""

from __future__ import annotations

import re
from fractions import Fraction as F

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import CREATININES, examples, shown_and_refused_under_strict
from tests.test_age_not_given_kidneys import age_holds
from tests.test_sex_not_given import CAPOX, EP, plan_of

import regimen
from regimen.clinical.options import ClinicalOptions
from regimen.clinical.prepare import prepare
from regimen.clinical.renal_adjust import over_spans
from regimen.engine.cohort.expander import undecided
from regimen.errors import PatientError

SPANS = {
    "sex female and age ≤ 61 years": F(1800),
    "sex female and 62 ≤ age ≤ 92 years": F(1350),
    "sex male and age ≤ 73 years": F(1800),
    "sex male and 74 ≤ age ≤ 99 years": F(1350),
}


def test_each_sex_and_span_of_ages_gets_its_own_doses_marked() -> None:
    plan = plan_of(CAPOX, "1.3", sex=None, age=None)
    capecitabine = {(r.condition, r.dose) for r in plan.administrations if r.drug == "capecitabine"}
    assert capecitabine == set(SPANS.items())
    oxaliplatin = {(r.condition, r.dose) for r in plan.administrations if r.drug == "oxaliplatin"}
    assert oxaliplatin == {(None, F(234))}  # 130 mg/m² × 1.8 m², no renal table: one row for every outcome
    # 14 days × 2 doses: 28 × 1,800 = 50,400 mg; 28 × 1,350 = 37,800 mg; none where it is left out
    totals = {t.condition: t.amount for t in plan.totals if t.cycle is None and t.drug == "capecitabine"}
    assert totals == {
        **{condition: 28 * dose for condition, dose in SPANS.items()},
        "sex female and age ≥ 93 years": F(0),
        "sex male and age ≥ 100 years": F(0),
    }
    assert [t.amount for t in plan.totals if t.cycle is None and t.drug == "oxaliplatin"] == [F(234)]
    reduced = next(r for r in plan.administrations if r.condition == "sex female and 62 ≤ age ≤ 92 years")
    assert "renal: CrCl 30.51–49.58 mL/min (Cockcroft–Gault) at ages 62–92 (age not given) is 30–50 mL/min" in (
        reduced.calculation
    )
    first = plan.warnings[0]
    assert first.startswith("age and sex not given: the Cockcroft–Gault clearance depends on both")
    assert first in plan.plan_warnings and first.endswith("Give --age and --sex to settle it")
    # an outcome's own warning says every condition it holds under, once
    assert any(w.startswith("only if sex female and age ≥ 93 years: capecitabine left out") for w in plan.warnings)
    assert not any("only if sex female: only if" in w for w in plan.warnings)
    assert not any("kidney function not checked" in w for w in plan.warnings)
    worked = [w for w in plan.patient.working if "with the age not given" in w]
    assert [w.split(" with")[0] for w in worked] == ["Cockcroft–Gault CrCl if female", "Cockcroft–Gault CrCl if male"]


def test_the_command_strict_and_a_cohort_row() -> None:
    shown_and_refused_under_strict(
        ["expand", "capox", "--weight", "70", "--bsa", "1.8", "--scr", "1.3", "--cycles", "1"],
        "capecitabine  37,800 mg  sex female and 62 ≤ age ≤ 92 years",
        "Give --age and --sex to settle it",
    )
    try:
        undecided(plan_of(CAPOX, "1.3", sex=None, age=None))
    except PatientError as exc:
        assert exc.message.endswith("fill in sex and age")
    else:  # pragma: no cover - the assertion's message
        raise AssertionError("a cohort row without sex and age was taken as one plan")


def test_every_age_and_sex_reading_the_tables_alike_gives_one_plan() -> None:
    """120 kg, 0.3 mg/dL: (140 − age) × 120 / 21.6 is over 300 mL/min (impossible) below 87 years for a man, 77 for
    a woman; at 125 it is 83.33 (man) and 70.83 mL/min (woman): over capecitabine's 50 everywhere: one plan at the
    full dose, said so in a note."""
    plan = plan_of(CAPOX, "0.3", sex=None, age=None, weight="120")
    assert {(r.dose, r.condition) for r in plan.administrations if r.drug == "capecitabine"} == {(F(1800), None)}
    assert any(n.startswith("age and sex not given: the Cockcroft–Gault clearance at any age from") for n in plan.notes)
    assert not any("not given" in w for w in plan.warnings)


def _holds(condition: str, sex: str, age: int) -> bool:
    """Whether a row's condition ('sex female and 62 ≤ age ≤ 92 years', '(sex female or sex male) and age ≤ 61
    years', 'sex male', 'age ≥ 93 years or ...') holds for ``sex`` at ``age``."""
    sexes = re.findall(r"sex (female|male)", condition)
    if sexes and sex not in sexes:
        return False
    ages = re.sub(r"^\(?sex (female|male)( or sex (female|male))*\)?( and )?", "", condition)
    return not ages or age_holds(ages, age)


@settings(max_examples=examples(30), deadline=None)
@given(
    reg=st.sampled_from([CAPOX, EP]),
    weight=st.integers(35, 150),
    scr=CREATININES,
)
def test_each_outcomes_rows_are_the_plan_with_that_sex_and_age_given(
    reg: regimen.Regimen, weight: int, scr: str
) -> None:
    """Whatever the values, the rows that hold for a sex and an age (at the first and last age of each span that
    sex's clearance gives) are the doses of the plan with both given."""
    plan = plan_of(reg, scr, sex=None, age=None, weight=str(weight))

    def key(r: regimen.Administration) -> tuple[object, ...]:
        return (r.cycle, r.day, r.component, r.dose_number, r.dose)

    for sex in ("female", "male"):
        patient = regimen.make_patient(weight=str(weight), bsa="1.8", scr=scr, sex=sex)
        prepared = prepare(reg, patient, ClinicalOptions())
        found = over_spans(reg, prepared) if prepared.kidney_over else []
        for age in sorted({a for lo, hi in found for a in (lo, hi)}) or [18, 60, 90]:
            mine = sorted(key(r) for r in plan.administrations if r.condition is None or _holds(r.condition, sex, age))
            try:
                decided = plan_of(reg, scr, sex=sex, age=str(age), weight=str(weight))
            except PatientError:  # a clearance over 300 mL/min at this age: no such patient
                continue
            assert mine == sorted(key(r) for r in decided.administrations), (sex, age)
