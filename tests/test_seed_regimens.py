"""Hand-computed expectations for every seed regimen (standard patient: 70 kg, 1.8 m²).

Each expected number below was worked out by hand from the protocol table, e.g.
idarubicin 12 mg/m²/day × 1.8 m² = 21.6 mg; cenersen 0.1 mg/kg/h × 70 kg = 7 mg/h, × 24 h = 168 mg.
"""

from __future__ import annotations

import datetime as dt
from fractions import Fraction as F

import pytest
from tests.helpers import days, doses, plan_for, rows

from regimen.cli.app import cli_message
from regimen.errors import PatientError, RegimenError

STD = {"weight": "70", "bsa": "1.8"}


def test_cenersen_arm3_under_60() -> None:
    plan = plan_for("cenersen-arm3", age="45", **STD)
    assert days(plan, "cenersen") == [1, 2, 3, 4]
    assert doses(plan, "cenersen") == {F(168)}
    assert {r.rate for r in rows(plan, "cenersen")} == {F(7)}
    assert {r.rate_unit for r in rows(plan, "cenersen")} == {"mg/h"}
    assert days(plan, "idarubicin") == [2, 3, 4]
    assert doses(plan, "idarubicin") == {F("21.6")}
    assert days(plan, "cytarabine") == [2, 3, 4, 5]
    assert doses(plan, "cytarabine") == {F(1800)}
    calc = rows(plan, "idarubicin")[0].calculation
    assert calc == "12 mg/m²/day × 1.8 m² = 21.6 mg"
    assert (
        rows(plan, "cenersen")[0].calculation
        == "0.1 mg/kg/h × 70 kg = 7 mg/h continuously over 96 h = 672 mg; this day's share: 7 mg/h × 24 h = 168 mg"
    )
    assert rows(plan, "cytarabine")[0].calculation == "1 g/m²/day × 1.8 m² = 1.8 g/day = 1,800 mg"


@pytest.mark.parametrize(
    ("age", "cytarabine_days"),
    [("60", [2, 3, 4, 5]), ("61", [2, 3, 4]), ("18", [2, 3, 4, 5]), ("85", [2, 3, 4])],
)
def test_cenersen_arm3_older_than_60_gets_three_days(age: str, cytarabine_days: list[int]) -> None:
    plan = plan_for("cenersen-arm3", age=age, **STD)
    assert days(plan, "cytarabine") == cytarabine_days
    assert days(plan, "idarubicin") == [2, 3, 4]  # idarubicin does not change with age


def test_a_fractional_age_is_refused_with_a_message_that_says_so() -> None:
    """Rules compare completed years: 60.5 is no age a protocol's 'older than 60' was written for."""
    with pytest.raises(PatientError, match=r"age 60.5 years: give the age in completed years \(a whole number") as e:
        plan_for("cenersen-arm3", age="60.5", **STD)
    assert "or the date of birth (--dob with --start)" in cli_message(e.value)


def test_cenersen_arm3_states_which_rule_applied() -> None:
    older = plan_for("cenersen-arm3", age="61", **STD)
    assert any("rule 'age > 60' applied" in n for n in older.notes)
    younger = plan_for("cenersen-arm3", age="45", **STD)
    assert any("rule 'age > 60' does not apply" in n for n in younger.notes)


def test_cenersen_arm1_has_no_cytarabine_and_needs_no_age() -> None:
    plan = plan_for("cenersen-arm1", **STD)
    assert {r.drug for r in plan.administrations} == {"cenersen", "idarubicin"}
    assert [t.amount for t in plan.totals if t.cycle is None] == [F(672), F("64.8")]


def test_cenersen_arm2_cytarabine_100_for_7_days() -> None:
    plan = plan_for("cenersen-arm2", **STD)
    assert days(plan, "cytarabine") == [2, 3, 4, 5, 6, 7, 8]
    assert doses(plan, "cytarabine") == {F(180)}


def test_cenersen_fcr() -> None:
    plan = plan_for("cenersen-fcr", **STD)
    assert doses(plan, "cenersen") == {F(168)}  # 2.4 mg/kg/day × 70 kg
    assert {r.rate for r in rows(plan, "cenersen")} == {F(7)}  # 168 mg/day ÷ 24 h
    assert days(plan, "fludarabine") == [2, 3, 4] and doses(plan, "fludarabine") == {F(45)}
    assert days(plan, "cyclophosphamide") == [2, 3, 4] and doses(plan, "cyclophosphamide") == {F(450)}
    assert days(plan, "rituximab") == [2] and doses(plan, "rituximab") == {F(675)}
    assert "cycle length not stated in the source" in plan.notes
    assert any("number of cycles not stated" in n for n in plan.notes)


def test_cenersen_fcr_refuses_a_second_cycle_without_a_cycle_length() -> None:
    with pytest.raises(RegimenError, match="pass cycle_length DAYS") as e:
        plan_for("cenersen-fcr", cycles=2, **STD)
    assert "pass --cycle-length DAYS" in cli_message(e.value)
    plan = plan_for("cenersen-fcr", cycles=2, cycle_length=28, start=dt.date(2026, 1, 5), **STD)
    second = rows(plan, "rituximab", cycle=2)
    assert second[0].date == dt.date(2026, 2, 3)  # day 2 of cycle 2 = course day 30
    assert any("28 days used as given" in n for n in plan.notes)


def test_oblimersen_fc_starts_four_days_before_fludarabine() -> None:
    plan = plan_for("oblimersen-fc", start=dt.date(2026, 3, 2), **STD)
    assert days(plan, "oblimersen") == [1, 2, 3, 4, 5, 6, 7]
    assert doses(plan, "oblimersen") == {F(210)}  # 3 mg/kg/day × 70 kg
    assert {r.rate for r in rows(plan, "oblimersen")} == {F("8.75")}
    assert days(plan, "fludarabine") == [5, 6, 7] and doses(plan, "fludarabine") == {F(45)}
    assert days(plan, "cyclophosphamide") == [5, 6, 7] and doses(plan, "cyclophosphamide") == {F(450)}
    assert plan.cycles == {"main": 6}
    assert {r.cycle for r in plan.administrations} == {1, 2, 3, 4, 5, 6}
    cycle2 = rows(plan, "oblimersen", cycle=2)[0]
    assert (cycle2.course_day, cycle2.date) == (29, dt.date(2026, 3, 30))


def test_oblimersen_dtic() -> None:
    plan = plan_for("oblimersen-dtic", **STD)
    assert days(plan, "oblimersen") == [1, 2, 3, 4, 5]
    assert doses(plan, "oblimersen") == {F(490)}
    assert {r.rate for r in rows(plan, "oblimersen")} == {F(490, 24)}  # exact, shown as 20.42 mg/h
    infusion = rows(plan, "oblimersen")[0].infusion
    assert infusion is not None and infusion.hours == 120  # ends at the start of day 6
    dtic = rows(plan, "dacarbazine")
    assert [r.day for r in dtic if r.cycle == 1] == [6]
    assert dtic[0].dose == 1800 and dtic[0].rate == 1800 and dtic[0].duration_hours == 1
    assert dtic[0].calculation == "1,000 mg/m² × 1.8 m² = 1,800 mg over 60 min (1,800 mg/h)"
    assert plan.cycles == {"main": 8}
    assert rows(plan, "dacarbazine", cycle=8)[0].course_day == 7 * 21 + 6


def test_oblimersen_dex_phases() -> None:
    plan = plan_for("oblimersen-dex", start=dt.date(2026, 1, 1), cycles=3, **STD)
    assert plan.cycles == {"induction": 1, "maintenance": 3}
    assert days(plan, "oblimersen", phase="induction") == [*range(1, 8), *range(15, 22)]
    assert days(plan, "dexamethasone", phase="induction") == [4, 5, 6, 7, 11, 12, 13, 14, 18, 19, 20, 21]
    infusions = {
        (r.infusion.start_course_day, r.infusion.days)
        for r in rows(plan, "oblimersen", phase="induction")
        if r.infusion
    }
    assert infusions == {(1, 7), (15, 7)}  # two separate 7-day infusions, not one
    assert days(plan, "oblimersen", phase="maintenance") == [1, 2, 3, 4, 5, 6, 7]
    assert days(plan, "dexamethasone", phase="maintenance") == [4, 5, 6, 7]
    assert doses(plan, "dexamethasone") == {F(40)}
    assert doses(plan, "oblimersen") == {F(490)}
    first_maintenance = rows(plan, "oblimersen", cycle=1, phase="maintenance")[0]
    assert (first_maintenance.course_day, first_maintenance.date) == (29, dt.date(2026, 1, 29))
    third = rows(plan, "oblimersen", cycle=3, phase="maintenance")[0]
    assert third.course_day == 28 + 2 * 21 + 1
    assert any("up to 1 year" in n for n in plan.notes)


def test_oblimersen_dex_cycles_by_phase() -> None:
    plan = plan_for("oblimersen-dex", cycles={"maintenance": 2}, **STD)
    assert plan.cycles == {"induction": 1, "maintenance": 2}
    with pytest.raises(RegimenError, match="unknown phase"):
        plan_for("oblimersen-dex", cycles={"consolidation": 2}, **STD)


def test_oblimersen_dex_needs_only_weight() -> None:
    plan = plan_for("oblimersen-dex", weight="70")
    assert plan.administrations


def test_oblimersen_mono_five_days_then_seven() -> None:
    plan = plan_for("oblimersen-mono", weight="70", cycles=3)
    assert days(plan, "oblimersen", cycle=1) == [1, 2, 3, 4, 5]
    assert days(plan, "oblimersen", cycle=2) == [1, 2, 3, 4, 5, 6, 7]
    assert days(plan, "oblimersen", cycle=3) == [1, 2, 3, 4, 5, 6, 7]
    assert rows(plan, "oblimersen", cycle=1)[0].infusion.hours == 120  # type: ignore[union-attr]
    assert rows(plan, "oblimersen", cycle=2)[0].infusion.hours == 168  # type: ignore[union-attr]
    assert doses(plan, "oblimersen") == {F(210)}
    assert rows(plan, "oblimersen", cycle=2)[0].course_day == 22
    assert any("cycles 2–3" in n or "cycles 2" in n for n in plan.notes)


def test_one_cycle_by_default_when_the_source_gives_no_count() -> None:
    plan = plan_for("oblimersen-mono", weight="70")
    assert plan.cycles == {"main": 1}
    assert any("number of cycles not stated in the source; expanded 1 cycle" in n for n in plan.notes)


def test_more_cycles_than_the_source_allows_is_a_warning() -> None:
    plan = plan_for("oblimersen-fc", cycles=7, **STD)
    assert any("at most 6" in w for w in plan.warnings)


@pytest.mark.parametrize(
    ("regimen_id", "missing"), [("cenersen-arm3", "--age"), ("cenersen-arm1", "--bsa"), ("oblimersen-mono", "--weight")]
)
def test_missing_patient_values_are_named(regimen_id: str, missing: str) -> None:
    with pytest.raises(PatientError, match=missing.removeprefix("--")) as e:
        plan_for(regimen_id)
    assert missing in cli_message(e.value)


def test_unstated_methods_are_said_not_guessed() -> None:
    plan = plan_for("cenersen-arm3", age="45", **STD)
    idarubicin = rows(plan, "idarubicin")[0]
    assert idarubicin.method is None and idarubicin.rate is None
    assert any("idarubicin: administration method" in n and "not stated" in n for n in plan.notes)


def test_totals_per_cycle_and_course() -> None:
    plan = plan_for("oblimersen-fc", cycles=2, **STD)
    per_cycle = {(t.cycle, t.drug): t.amount for t in plan.totals if t.cycle is not None}
    assert per_cycle[(1, "oblimersen")] == 7 * 210
    assert per_cycle[(2, "fludarabine")] == 3 * 45
    course = {t.drug: t.amount for t in plan.totals if t.cycle is None}
    assert course == {"oblimersen": 2 * 7 * 210, "fludarabine": 2 * 3 * 45, "cyclophosphamide": 2 * 3 * 450}


def test_pounds_give_exact_kilograms_in_the_working() -> None:
    plan = plan_for("cenersen-arm1", weight="154 lb", bsa="1.8")
    row = rows(plan, "cenersen")[0]
    assert row.dose == F("0.1") * F("69.85322498") * 24
    assert "69.85322498 kg" in row.calculation
    assert plan.patient.working == ("weight 154 lb = 69.85322498 kg",)
