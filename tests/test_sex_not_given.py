"""A creatinine without the sex: the doses each sex's clearance gives, never the full dose by default.

Before, ``regimen expand capox --weight 70 --bsa 1.8 --age 70 --scr 1.5`` (no ``--sex``) planned capecitabine at
the full 1,800 mg with "kidney function not checked ... pass --sex", although either sex's clearance falls in the
product information's 75 % band. Worked by hand (Cockcroft–Gault, actual weight, 2 decimals, half up):

* age 70, 70 kg, SCr 1.5 mg/dL: male (140 − 70) × 70 / (72 × 1.5) = 4,900 / 108 = 45.370… → 45.37 mL/min;
  female × 0.85 = 38.564… → 38.56 mL/min. Capecitabine (CAPOX, 30–50 mL/min: 75 %): 1,000 mg/m² × 1.8 m² =
  1,800 mg → 1,350 mg for both. Cisplatin (EP, 45 to under 60: 80 %; below 45: avoid): 144 mg → 115.2 mg if male,
  left out if female; etoposide (15–50: 75 %): 180 mg → 135 mg for both.
* age 70, 70 kg, SCr 1.3: male 4,900 / 93.6 = 52.350… → 52.35 mL/min (capecitabine above 50: the full 1,800 mg);
  female 44.497… → 44.5 mL/min (75 %: 1,350 mg).
"""

from __future__ import annotations

from fractions import Fraction as F

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import CREATININES, examples

import regimen
from regimen.cli import cli
from regimen.clinical.options import ClinicalOptions, StrictError
from regimen.errors import PatientError

CAPOX = regimen.load("capox")
EP = regimen.load("cisplatin-etoposide")


def plan_of(
    reg: regimen.Regimen, scr: str, sex: str | None = None, age: str | None = "70", weight: str = "70"
) -> regimen.Plan:
    patient = regimen.make_patient(weight=weight, bsa="1.8", age=age, scr=scr, sex=sex)
    return regimen.expand(reg, patient, cycles=1)


def doses(plan: regimen.Plan, drug: str) -> set[tuple[F, str | None]]:
    return {(r.dose, r.condition) for r in plan.administrations if r.drug == drug}


def test_when_both_sexes_read_the_renal_table_alike_the_plan_gives_that_dose_unmarked() -> None:
    plan = plan_of(CAPOX, "1.5")
    assert doses(plan, "capecitabine") == {(F(1350), None)}
    assert all(r.condition is None for r in plan.administrations)
    first = next(r for r in plan.administrations if r.drug == "capecitabine")
    assert (
        "renal: CrCl 38.56 mL/min if female, 45.37 mL/min if male (Cockcroft–Gault; sex not given) is 30–50 mL/min: "
        "75 % of the dose" in first.calculation
    )
    assert any(
        n.startswith(
            "sex not given: the Cockcroft–Gault clearance of either sex (38.56 mL/min if female, 45.37 mL/min "
            "if male) reads the renal table of capecitabine the same way"
        )
        for n in plan.notes
    )
    assert not any("kidney function not checked" in w for w in (*plan.warnings, *plan.notes))
    working = " ".join(plan.patient.working)
    assert "CrCl if female = (140 − 70) × 70 kg (actual weight) / (72 × 1.5 mg/dL) × 0.85 (female)" in working
    assert "= 38.56 mL/min" in working and "= 45.37 mL/min" in working
    # the sex given: the same doses, the plan's own value in the working
    for sex in ("female", "male"):
        assert doses(plan_of(CAPOX, "1.5", sex), "capecitabine") == {(F(1350), None)}


def test_when_the_sexes_read_it_differently_each_sexs_doses_are_shown_marked() -> None:
    plan = plan_of(CAPOX, "1.3")
    assert doses(plan, "capecitabine") == {(F(1350), "sex female"), (F(1800), "sex male")}
    assert doses(plan, "oxaliplatin") == {(F(234), None)}  # 130 mg/m² × 1.8 m², no renal table: once, unmarked
    assert plan.warnings[0].startswith(
        "sex not given: the Cockcroft–Gault clearance is 44.5 mL/min if female and 52.35 mL/min if male, and the "
        "renal table of capecitabine reads them differently"
    )
    assert plan.warnings[0] in plan.plan_warnings  # the plan's as a whole: every CSV row and a course carry it
    totals = {(t.drug, t.condition): t.amount for t in plan.totals if t.cycle is None}
    # 14 days × 2 doses: 28 × 1,350 = 37,800 mg; 28 × 1,800 = 50,400 mg
    assert totals[("capecitabine", "sex female")] == F(37800) and totals[("capecitabine", "sex male")] == F(50400)
    female = next(r for r in plan.administrations if r.condition == "sex female")
    assert "renal: CrCl 44.5 mL/min (Cockcroft–Gault) if female is 30–50 mL/min" in female.calculation


def test_a_drug_left_out_for_one_sex_says_so_for_that_sex_only() -> None:
    plan = plan_of(EP, "1.5")
    assert doses(plan, "cisplatin") == {(F("115.2"), "sex male")}
    assert doses(plan, "etoposide") == {(F(135), None)}
    assert (
        "only if sex female: cisplatin left out of the plan: CrCl 38.56 mL/min (Cockcroft–Gault) if female is below "
        "45 mL/min, where its source says avoid" in " ".join(plan.warnings)
    )


def test_the_command_shows_the_only_if_column_and_strict_refuses() -> None:
    args = ["expand", "capox", "--weight", "70", "--bsa", "1.8", "--age", "70", "--scr", "1.3", "--cycles", "1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    day1 = [line for line in result.stdout.splitlines() if line.startswith("1      1 ") and "capecitabine" in line]
    assert len(day1) == 4 and sum("1,350 mg" in x and "sex female" in x for x in day1) == 2
    assert sum("1,800 mg" in x and "sex male" in x for x in day1) == 2
    strict = CliRunner().invoke(cli, [*args, "--strict"])
    assert strict.exit_code == 1 and "Traceback" not in strict.output
    assert strict.stderr.count("\n") == 1 and "Give --sex to settle it" in strict.stderr
    with pytest.raises(StrictError):
        regimen.expand(
            CAPOX,
            regimen.make_patient(weight="70", bsa="1.8", age="70", scr="1.3"),
            options=ClinicalOptions(strict=True),
        )


def test_a_measured_gfr_needs_no_sex() -> None:
    plan = regimen.expand(CAPOX, regimen.make_patient(bsa="1.8", gfr="45"), cycles=1)
    assert doses(plan, "capecitabine") == {(F(1350), None)} and not any("sex" in w for w in plan.warnings)


@settings(max_examples=examples(60), deadline=None)
@given(
    reg=st.sampled_from([CAPOX, EP]),
    age=st.integers(18, 95),
    weight=st.integers(35, 150),
    scr=CREATININES,
)
def test_each_sexs_rows_are_the_plan_with_that_sex_given(reg: regimen.Regimen, age: int, weight: int, scr: str) -> None:
    """Whatever the values, the plan without the sex holds, for each sex, exactly the doses of the plan with that sex
    given: its unmarked rows and those marked with that sex. Values that give a man an impossible clearance (over
    300 mL/min: 18 years, 71 kg, 0.4 mg/dL) are refused with the sex given, and so without it."""

    def key(r: regimen.Administration) -> tuple[object, ...]:
        return (r.cycle, r.day, r.component, r.dose_number, r.dose)

    decided = {}
    for sex in ("female", "male"):
        try:
            decided[sex] = plan_of(reg, scr, sex, str(age), str(weight))
        except PatientError as e:
            assert "is impossible" in str(e)
            with pytest.raises(PatientError, match="is impossible"):
                plan_of(reg, scr, None, str(age), str(weight))
            return
    undecided = plan_of(reg, scr, None, str(age), str(weight))
    assert all(r.condition in (None, "sex female", "sex male") for r in undecided.administrations)
    for sex, plan in decided.items():
        mine = [key(r) for r in undecided.administrations if r.condition in (None, f"sex {sex}")]
        assert sorted(mine) == sorted(key(r) for r in plan.administrations)
