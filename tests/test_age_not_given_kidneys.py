"""A creatinine without the age: the doses of each span of ages the renal tables read alike, never the full dose.

Before, ``regimen expand capox --weight 70 --bsa 1.8 --sex male --scr 1.3`` (no ``--age``) planned capecitabine at
the full 1,800 mg with "kidney function not checked ... pass --age". The Cockcroft–Gault clearance at each whole age,
worked by hand: (140 − age) × 70 / (72 × 1.3) = (140 − age) × 0.747863…, rounded half up to 2 decimals:

* age 73: 67 × 0.747863 = 50.107 → 50.11 mL/min, above 50: the full dose; age 74: 66 × 0.747863 = 49.359 → 49.36,
  in 30–50 mL/min: 75 % (1,350 mg);
* age 99: 41 × 0.747863 = 30.662 → 30.66 (75 %); age 100: 40 × 0.747863 = 29.915 → 29.91, below 30:
  contraindicated, left out;
* so three spans: age ≤ 73 years (1,800 mg), 74 ≤ age ≤ 99 years (1,350 mg), age ≥ 100 years (none).
"""

from __future__ import annotations

from fractions import Fraction as F

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import CREATININES, check_each_span, examples, span_holds
from tests.test_sex_not_given import CAPOX, EP
from tests.test_sex_not_given import plan_of as sex_plan

import regimen
from regimen.cli import cli
from regimen.clinical.options import ClinicalOptions
from regimen.clinical.prepare import prepare
from regimen.clinical.renal_adjust import over_spans
from regimen.errors import PatientError


def plan_of(
    reg: regimen.Regimen, scr: str, age: str | None = None, weight: str = "70", sex: str = "male"
) -> regimen.Plan:
    """One cycle at 1.8 m², as tests/test_sex_not_given.py plans it, a man by default and the age not given."""
    return sex_plan(reg, scr, sex, age, weight)


def test_each_span_of_ages_gets_its_own_doses_marked() -> None:
    plan = plan_of(CAPOX, "1.3")
    capecitabine = {(r.dose, r.condition) for r in plan.administrations if r.drug == "capecitabine"}
    assert capecitabine == {(F(1800), "age ≤ 73 years"), (F(1350), "74 ≤ age ≤ 99 years")}
    totals = {t.condition: t.amount for t in plan.totals if t.cycle is None and t.drug == "capecitabine"}
    # 14 days × 2 doses: 28 × 1,800 = 50,400 mg; 28 × 1,350 = 37,800 mg; none from 100 years
    assert totals == {"age ≤ 73 years": F(50400), "74 ≤ age ≤ 99 years": F(37800), "age ≥ 100 years": F(0)}
    reduced = next(r for r in plan.administrations if r.condition == "74 ≤ age ≤ 99 years")
    assert (
        "renal: CrCl 30.66–49.36 mL/min (Cockcroft–Gault) at ages 74–99 (age not given) is 30–50 mL/min: 75 % of the "
        "dose" in reduced.calculation
    )
    assert plan.warnings[0].startswith("age not given: the Cockcroft–Gault clearance depends on it")
    assert plan.warnings[0] in plan.plan_warnings
    assert any(w.startswith("only if age ≥ 100 years: capecitabine left out of the plan") for w in plan.warnings)
    assert not any("kidney function not checked" in w for w in plan.warnings)
    strict = ["expand", "capox", "--weight", "70", "--bsa", "1.8", "--sex", "male", "--scr", "1.3", "--strict"]
    refused = CliRunner().invoke(cli, strict)
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1 and "Give --age to settle it" in refused.stderr


def test_every_age_reading_the_tables_alike_gives_one_plan() -> None:
    """120 kg, 0.45 mg/dL, male: (140 − age) × 120 / 32.4 is over 300 mL/min (impossible) below age 59; from 59 to
    125 it runs from 300 to 55.56 mL/min, above capecitabine's 50 at every age: one plan, at the full dose (2,200 mg
    at 2.2 m²... here 1.8 m²: 1,800 mg), said so in a note."""
    plan = plan_of(CAPOX, "0.45", weight="120")
    assert {(r.dose, r.condition) for r in plan.administrations if r.drug == "capecitabine"} == {(F(1800), None)}
    assert any(
        n.startswith("age not given: the Cockcroft–Gault clearance at any age from 59 to 125 years reads the renal")
        for n in plan.notes
    )


def test_the_command_and_a_cohort() -> None:
    args = ["expand", "capox", "--weight", "70", "--bsa", "1.8", "--sex", "male", "--scr", "1.3", "--cycles", "1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Cockcroft–Gault CrCl with the age not given = (140 − age) × 70 kg (actual weight) / (72 × 1.3 mg/dL)" in (
        result.stdout
    )
    assert "capecitabine  50,400 mg  age ≤ 73 years" in result.stdout


@settings(max_examples=examples(40), deadline=None)
@given(
    reg=st.sampled_from([CAPOX, EP]),
    weight=st.integers(35, 150),
    sex=st.sampled_from(["female", "male"]),
    scr=CREATININES,
)
def test_each_spans_rows_are_the_plan_at_an_age_of_the_span(
    reg: regimen.Regimen, weight: int, sex: str, scr: str
) -> None:
    """Whatever the values, each span's rows (unmarked and marked with its condition) are the doses of the plan
    with the age given, at the span's first and last age."""
    plan = plan_of(reg, scr, None, str(weight), sex)
    prepared = prepare(reg, regimen.make_patient(weight=str(weight), bsa="1.8", scr=scr, sex=sex), ClinicalOptions())
    found = over_spans(reg, prepared) if prepared.kidney_over else []
    ages = sorted({a for lo, hi in found for a in (lo, hi)}) or [F(18), F(60), F(90)]
    check_each_span(plan, "age", ages, lambda age: plan_of(reg, scr, str(age), str(weight), sex), PatientError)


def age_holds(condition: str, age: F) -> bool:
    """Whether a row's condition ('age ≤ 79 years or age ≥ 122 years', '68 ≤ age ≤ 85 years') holds at ``age``."""
    return span_holds(condition, "age", F(age))
