"""Issue 29's figure 2 (one plan in process): each shortcut that makes a plan faster gives exactly what the plain
way gives, and each thing remembered answers for its own regimen, table, duration or patient alone (the speed code
is described in :mod:`regimen.engine.fastpath`).

The expected texts and numbers are worked out by hand in the comments."""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import BUNDLED_IDS
from tests.helpers import examples

import regimen
from regimen.clinical import anthracycline
from regimen.clinical.anthracycline import DEFAULT_LIMIT, DEFAULT_LIMIT_SOURCE, counted, load_table
from regimen.engine import cycles
from regimen.engine import expand as expand_module
from regimen.engine.doses import hours_text
from regimen.engine.fastpath import moved_infusion, moved_rows, new_infusion
from regimen.engine.plan import cycle_sums, new_total, totals_of_cycles
from regimen.model import Infusion, Regimen, Total
from regimen.protocol.loader import load_text
from regimen.quantities.exact import Rounding, amount_ratio_text, amount_text, format_fraction, ratio_text


def _regimen(body: str, rid: str = "issue-29") -> Regimen:
    head = f'id = "{rid}"\nname = "Issue 29"\ncycle_length = "21 days"\ncycles = 3\n[[source]]\ncitation = "test"\n'
    return load_text(head + body, "<test>")


_DOXORUBICIN = '[[component]]\ndrug = "doxorubicin"\ndose = "60 mg/m2"\nroute = "IV"\ndays = "1"\n'
_CYCLO = '[[component]]\ndrug = "cyclophosphamide"\ndose = "600 mg/m2"\nroute = "IV"\ndays = "1"\nduration = "1 h"\n'


# ---- numbers written from two integers ---------------------------------------------------------------------------


def test_a_number_written_from_its_two_integers_is_the_fractions_text_in_lowest_terms_or_not() -> None:
    assert ratio_text(151125, 1000) == format_fraction(Fraction(151125, 1000)) == "151.125"
    assert ratio_text(302250, 2000) == "151.125"  # not in lowest terms: the same number, the same text
    assert ratio_text(1, 3, 2) == "0.33" and ratio_text(2, 3, 2) == "0.67"  # half up at the second place
    assert amount_ratio_text(151125, 1000, "mg") == "151.1 mg (from 151.125)"
    assert amount_ratio_text(4, 10, "mg") == "400 mcg"  # under 1 mg: micrograms, as amount_text
    assert ratio_text(0, 5) == "0" and amount_ratio_text(0, 5, "mg") == amount_text(Fraction(0), "mg")
    rng = random.Random(29)
    for _ in range(3000):
        n, d, k = rng.randint(0, 10**9), rng.randint(1, 10**6), rng.randint(1, 10**4)
        x = Fraction(n, d)
        places = rng.choice([0, 2, 8])
        assert ratio_text(n * k, d * k, places) == format_fraction(x, places)
        for unit in ("mg", "mcg", "mg/h"):
            rounding = Rounding(rng.choice([3, 4]))
            assert amount_ratio_text(n * k, d * k, unit, rounding) == amount_text(x, unit, rounding)
    huge = 10**20 + 7  # beyond the integer path: by way of the Fraction, the same text
    assert ratio_text(huge, 3) == format_fraction(Fraction(huge, 3))


# ---- totals and infusions made by copying a dictionary -----------------------------------------------------------


def test_a_total_and_an_infusion_each_have_their_fields_in_a_dictionary_of_their_own() -> None:
    names = [f.name for f in dataclasses.fields(Total)]
    made = new_total("oxaliplatin", Fraction(153), "mg", "main", 3, None, None)
    assert list(made.__dict__) == names and made == Total("oxaliplatin", Fraction(153), "mg", "main", 3)
    infusion = new_infusion(15, Fraction(46), 2, 2, Fraction(4320), "the pump", None)
    assert list(infusion.__dict__) == [f.name for f in dataclasses.fields(Infusion)]
    later = moved_infusion(infusion, 21)  # the same pump three weeks on: day 36
    assert later == Infusion(36, Fraction(46), 2, 2, Fraction(4320), "the pump", None)
    assert later.__dict__ is not infusion.__dict__ and infusion.start_course_day == 15  # the first is unchanged
    assert later.hours_today == 22  # 46 h: 24 h, then 22 h


def test_a_plans_totals_are_the_totals_of_its_rows() -> None:
    """Each cycle repeated from the first makes its totals from what the first named: every total equals the one
    worked out row by row, in the same order, and none shares its dictionary with another."""
    for rid in ("r-chop-21", "mfolfox6", "capox", "dd-ac-t"):
        plan = regimen.expand(regimen.load(rid), regimen.make_patient(weight="70", bsa="1.83", age="50"))
        by_rows = totals_of_cycles([(None, cycle_sums(plan.administrations))])
        assert list(plan.totals) == by_rows
        assert len({id(t.__dict__) for t in plan.totals}) == len(plan.totals)


def test_a_cycles_sums_read_per_component_are_its_rows_sums(monkeypatch: pytest.MonkeyPatch) -> None:
    """engine.cycles._sums: the keys in the order the cycle's rows first give them, each the exact sum of its
    rows' doses (supportive care left out), for every cycle every bundled regimen expands."""
    seen: list[tuple[list[object], list[object]]] = []
    real = cycles.Cycles._expand_cycle

    def spy(self: cycles.Cycles, *args: object) -> object:
        rows, sums = real(self, *args)  # type: ignore[arg-type]
        seen.append((list(rows), list(sums)))
        return rows, sums

    monkeypatch.setattr(cycles.Cycles, "_expand_cycle", spy)
    for rid in BUNDLED_IDS:
        regimen.expand(regimen.load(rid), regimen.make_patient(weight="70", bsa="1.83", age="50"), cycle_length=28)
    assert seen
    for rows, sums in seen:
        assert sums == cycle_sums(rows)  # type: ignore[arg-type]


def test_a_cycle_without_dates_or_pumps_moves_its_rows_by_cycle_and_day_alone() -> None:
    plan = regimen.expand(regimen.load("r-chop-21"), regimen.make_patient(weight="70", bsa="1.8", age="50"))
    first = [r for r in plan.administrations if r.cycle == 1]
    moved = moved_rows(first, 2, 21, None, infused=False)
    assert moved == [r for r in plan.administrations if r.cycle == 2]
    assert moved == [dataclasses.replace(r, cycle=2, course_day=r.course_day + 21) for r in first]


# ---- what is remembered answers for its own objects alone --------------------------------------------------------


def test_a_durations_text_is_kept_for_that_duration_object_alone() -> None:
    hour, two = Fraction(1), Fraction(2)
    assert hours_text(hour) == "60 min" and hours_text(two) == "2 h"
    assert hours_text(Fraction(3, 2)) == "1.5 h" and hours_text(Fraction(1, 2)) == "30 min"
    assert hours_text(hour) == "60 min"  # again, from the memo
    # a regimen edited to another duration gets its own working: 600 mg/m² × 1.8 m² = 1,080 mg over 1 h, then 2 h
    one_hour = regimen.expand(_regimen(_CYCLO), regimen.make_patient(weight="70", bsa="1.8"))
    two_hours = regimen.expand(_regimen(_CYCLO.replace("1 h", "2 h")), regimen.make_patient(weight="70", bsa="1.8"))
    assert one_hour.administrations[0].calculation.endswith("= 1,080 mg over 60 min (1,080 mg/h)")
    assert two_hours.administrations[0].calculation.endswith("= 1,080 mg over 2 h (540 mg/h)")


def test_a_cycles_components_and_their_maxima_are_the_regimen_objects_own() -> None:
    """engine.cycles._given: what a cycle gives and whether the regimen caps it, once per process; the same regimen
    edited to a maximum dose caps its rows (1.4 mg/m² × 1.8 m² = 2.52 mg, capped at 2 mg), and a patient below the
    maximum is not capped."""
    vincristine = '[[component]]\ndrug = "vincristine"\ndose = "1.4 mg/m2"\nroute = "IV"\ndays = "1"\n'
    plain = regimen.expand(_regimen(vincristine), regimen.make_patient(weight="70", bsa="1.8"))
    assert [r.dose for r in plain.administrations] == [Fraction(252, 100)] * 3
    capped_reg = _regimen(vincristine + 'max_dose = "2 mg"\n')
    capped = regimen.expand(capped_reg, regimen.make_patient(weight="70", bsa="1.8"))
    assert [r.dose for r in capped.administrations] == [Fraction(2)] * 3
    assert capped.administrations[0].calculation.endswith(
        "capped at the regimen maximum 2 mg per administration: 2.52 mg → 2 mg"
    )
    small = regimen.expand(capped_reg, regimen.make_patient(weight="40", bsa="1.2"))  # 1.68 mg: under the cap
    assert [r.dose for r in small.administrations] == [Fraction(168, 100)] * 3 and not small.administrations[0].caps


def test_a_regimens_anthracyclines_and_notes_before_the_first_dose_are_that_regimen_objects_own() -> None:
    patient = regimen.make_patient(weight="70", bsa="1.8")
    without = regimen.expand(_regimen(_CYCLO), patient)
    assert not any("doxorubicin-equivalent" in n for n in without.notes)
    with_doxorubicin = regimen.expand(_regimen(_CYCLO + _DOXORUBICIN), patient)
    # 3 cycles of 60 mg/m² × 1.8 m² = 108 mg: 324 mg ÷ 1.8 m² = 180 mg/m²
    assert "planned doxorubicin: 324 mg ÷ 1.8 m² (BSA, uncapped) = 180 mg/m²" in with_doxorubicin.notes
    assert "cumulative (planned + prior): 180 mg/m² doxorubicin-equivalent" in with_doxorubicin.notes
    echo = '[[requirement]]\nid = "echo"\ntest = "echocardiogram"\nbefore = ["doxorubicin"]\nsource = "test"\n'
    required = regimen.expand(_regimen(_DOXORUBICIN + echo), patient)
    assert "before the first dose: echocardiogram, before doxorubicin (test)" in required.notes
    assert not any(n.startswith("before the first dose") for n in with_doxorubicin.notes)


def test_the_rounding_rule_is_said_for_each_number_of_figures() -> None:
    assert Rounding(3).rule == (
        "Amounts are computed exactly and rounded once, for display, to 3 significant figures (half up)."
    )
    assert Rounding().rule.endswith("to 4 significant figures (half up).")


# ---- a plan's anthracycline total, written straight ---------------------------------------------------------------


def _rows(drug: str, amounts: list[Fraction], unit: str = "mg") -> list[regimen.Administration]:
    plan = regimen.expand(_regimen(_DOXORUBICIN), regimen.make_patient(weight="70", bsa="1.8"))
    row = plan.administrations[0]
    return [dataclasses.replace(row, drug=drug, dose=a, dose_unit=unit, cycle=i + 1) for i, a in enumerate(amounts)]


@pytest.mark.parametrize(
    ("rows", "bsa", "limit"),
    [
        (_rows("doxorubicin", [Fraction(108)] * 3), Fraction(18, 10), None),  # 180 mg/m², within 450
        (_rows("doxorubicin", [Fraction(270)] * 3), Fraction(18, 10), None),  # 450 mg/m²: at the limit
        (_rows("doxorubicin", [Fraction(300)] * 3), Fraction(18, 10), None),  # 500 mg/m²: over it
        (_rows("epirubicin", [Fraction(180)] * 2) + _rows("doxorubicin", [Fraction(90)]), Fraction(2), Fraction(400)),
        (_rows("idarubicin", [Fraction(21600, 1000)], "mcg"), Fraction(18, 10), None),  # in micrograms
        (_rows("doxorubicin", [Fraction(108)]), None, None),  # no BSA: not expressed in mg/m²
        (_rows("mitoxantrone", [Fraction(20)]) + _rows("doxorubicin", [Fraction(90)]), Fraction(2), None),
        (_rows("cyclophosphamide", [Fraction(1000)]), Fraction(2), None),  # no anthracycline: nothing said
    ],
)
def test_a_plans_anthracycline_total_is_the_general_ways(
    rows: list[regimen.Administration], bsa: Fraction | None, limit: Fraction | None
) -> None:
    """anthracycline._planned (the plan's own doses, no prior) says what counted() says of them, line for line."""
    for table_name in ("esc-2022", *anthracycline.bundled_tables()):
        table = load_table(table_name)
        limit_of = (limit, "--anthracycline-limit") if limit is not None else (DEFAULT_LIMIT, DEFAULT_LIMIT_SOURCE)
        general = counted([("planned", [(r, bsa) for r in rows])], table, (), *limit_of)
        assert anthracycline._planned(rows, bsa, table, limit_of) == general


_DRUGS = ["doxorubicin", "epirubicin", "daunorubicin", "idarubicin", "mitoxantrone", "Doxorubicin", "cyclophosphamide"]


@settings(max_examples=examples(200), deadline=None)
@given(
    doses=st.lists(
        st.tuples(
            st.sampled_from(_DRUGS),
            st.fractions(min_value=Fraction(1, 1000), max_value=Fraction(2000), max_denominator=1000),
            st.sampled_from(["mg", "mcg"]),
            st.integers(1, 8),  # the same dose object in that many cycles, as a plan's later cycles repeat it
        ),
        min_size=1,
        max_size=12,
    ),
    bsa=st.none() | st.fractions(min_value=Fraction(1, 2), max_value=Fraction(3), max_denominator=1000),
    limit=st.none() | st.fractions(min_value=Fraction(1), max_value=Fraction(1000), max_denominator=100),
    table_name=st.sampled_from(("esc-2022", *anthracycline.bundled_tables())),
)
def test_property_a_plans_anthracycline_total_is_the_general_ways(
    doses: list[tuple[str, Fraction, str, int]], bsa: Fraction | None, limit: Fraction | None, table_name: str
) -> None:
    """The same as above over drawn plans: any mix of anthracyclines (in any case), other drugs, mg and mcg, any BSA
    or none, the default limit or a chosen one at, under or over the total, and every table: _planned's lines,
    warnings and total are counted()'s, so the cumulative-dose check that a plan prints has one meaning."""
    rows = [r for drug, dose, unit, times in doses for r in _rows(drug, [dose] * times, unit)]
    table = load_table(table_name)
    limit_of = (limit, "--anthracycline-limit") if limit is not None else (DEFAULT_LIMIT, DEFAULT_LIMIT_SOURCE)
    assert anthracycline._planned(rows, bsa, table, limit_of) == counted(
        [("planned", [(r, bsa) for r in rows])], table, (), *limit_of
    )


# ---- course totals counted by cycle, a cap set straight, a cycle's parts remembered --------------------------------


def _course(plan: regimen.Plan) -> dict[tuple[str, str | None, str], Fraction]:
    return {(t.drug, t.component, t.unit): t.amount for t in plan.totals if t.cycle is None}


def test_a_course_total_counts_the_cycles_that_repeat_its_sums() -> None:
    """plan.totals_of_cycles: a course total is its amount in a cycle times the cycles that give it, one Fraction
    (R-CHOP-21 at 1.8 m², 8 cycles: rituximab 375 × 1.8 = 675 mg, 5,400 mg; cyclophosphamide 750 × 1.8 = 1,350 mg,
    10,800 mg; doxorubicin 50 × 1.8 = 90 mg, 720 mg; vincristine 2.52 mg capped at 2 mg, 16 mg; prednisone 100 mg on
    5 days, 4,000 mg); and where cycles differ, each list of sums is counted for its own cycles."""
    plan = regimen.expand(regimen.load("r-chop-21"), regimen.make_patient(weight="70", bsa="1.8", age="50"))
    assert _course(plan) == {
        ("rituximab", None, "mg"): Fraction(5400),
        ("cyclophosphamide", None, "mg"): Fraction(10800),
        ("doxorubicin", None, "mg"): Fraction(720),
        ("vincristine", None, "mg"): Fraction(16),
        ("prednisone", None, "mg"): Fraction(4000),
    }
    # 60 mg/m² in cycles 1-2, 45 mg/m² from cycle 3 (a variant), 1.8 m²: 108 + 108 + 81 = 297 mg in 3 cycles
    changing = _DOXORUBICIN + '[[component.variant]]\nwhen = "cycle >= 3"\ndose = "45 mg/m2"\n'
    varied = regimen.expand(_regimen(changing), regimen.make_patient(weight="70", bsa="1.8"))
    assert [r.dose for r in varied.administrations] == [Fraction(108), Fraction(108), Fraction(81)]
    assert _course(varied) == {("doxorubicin", None, "mg"): Fraction(297)}
    assert [t.amount for t in varied.totals if t.cycle is not None] == [Fraction(108), Fraction(108), Fraction(81)]


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_every_course_total_is_the_plain_sum_of_its_rows(regimen_id: str) -> None:
    """Each course total of every bundled plan is the sum, added one by one, of the doses of its drug (by component
    where a drug has several) and unit, anticancer rows alone."""
    plan = regimen.expand(regimen.load(regimen_id), regimen.make_patient(weight="93.7", bsa="2.13", age="71"))
    for key, amount in _course(plan).items():
        drug, component, unit = key
        doses = [
            r.dose
            for r in plan.administrations
            if r.role == "anticancer" and r.drug == drug and r.dose_unit == unit and component in (None, r.component)
        ]
        assert amount == sum(doses, Fraction(0)), key


def test_a_capped_dose_with_a_rate_is_scaled_and_one_without_is_the_cap() -> None:
    """adjust._cap: a dose with no rate is set to the cap (the number scaling gives); one given over a stated time
    is scaled with its rate. 1.4 mg/m² × 1.8 m² = 2.52 mg, capped at 2 mg; over 10 min the rate 15.12 mg/h becomes
    2.52 mg × (2 / 2.52) over 1/6 h = 12 mg/h."""
    vincristine = '[[component]]\ndrug = "vincristine"\ndose = "1.4 mg/m2"\nroute = "IV"\ndays = "1"\n'
    vincristine += 'max_dose = "2 mg"\n'
    patient = regimen.make_patient(weight="70", bsa="1.8")
    bolus = regimen.expand(_regimen(vincristine), patient).administrations[0]
    assert (bolus.dose, bolus.rate) == (Fraction(2), None)
    assert bolus.caps == ("dose capped at the regimen maximum 2 mg per administration (calculated 2.52 mg)",)
    timed = regimen.expand(_regimen(vincristine + 'duration = "10 min"\n'), patient).administrations[0]
    assert (timed.dose, timed.rate) == (Fraction(2), Fraction(12))
    assert timed.calculation == (
        "1.4 mg/m² × 1.8 m² = 2.52 mg over 10 min (15.12 mg/h); capped at the regimen maximum 2 mg per "
        "administration: 2.52 mg → 2 mg over 10 min (12 mg/h)"
    )  # the rate it runs at after the cap, as the working's first part gave the rate before it


def test_a_cycles_parts_and_choice_are_the_regimen_objects_own() -> None:
    """engine.cycles._cycle_parts and _same_every_cycle: once a regimen's cycles are remembered, the same regimen
    edited (another route, a variant in cycle 3) gets its own rows; the first regimen's plan is unchanged."""
    patient = regimen.make_patient(weight="70", bsa="1.8")
    first = regimen.expand(_regimen(_DOXORUBICIN), patient)
    assert {r.route for r in first.administrations} == {"IV"}
    oral = regimen.expand(_regimen(_DOXORUBICIN.replace('route = "IV"', 'route = "oral"')), patient)
    assert {r.route for r in oral.administrations} == {"oral"}
    varied = _regimen(_DOXORUBICIN + '[[component.variant]]\nwhen = "cycle >= 3"\ndose = "45 mg/m2"\n')
    assert [r.dose for r in regimen.expand(varied, patient).administrations][2] == Fraction(81)  # 45 × 1.8
    assert regimen.expand(_regimen(_DOXORUBICIN), patient) == first


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_a_regimens_component_notes_without_variants_are_the_general_ways(
    monkeypatch: pytest.MonkeyPatch, regimen_id: str
) -> None:
    """expand._unstated_alone: a regimen none of whose components has a variant says each component's notes
    straight; the plan's notes are the ones the general way (each variant's rule asked) gives, for every bundled
    regimen, with a start date and without."""
    reg = regimen.load(regimen_id)
    patient = regimen.make_patient(weight="70", bsa="1.8", age="64")
    for start in (None, dt.date(2027, 3, 22)):
        straight = regimen.expand(reg, patient, start=start, cycle_length=21)
        with monkeypatch.context() as m:
            m.setattr(expand_module, "_unstated_alone", lambda r: None)
            general = regimen.expand(reg, patient, start=start, cycle_length=21)
        assert straight.notes == general.notes


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_a_timed_plans_rows_are_its_untimed_rows_with_their_instants(regimen_id: str) -> None:
    """A plan with a time of day makes each row again with its start, end and how the start was found, by
    ``Administration.moved`` rather than ``dataclasses.replace``: each is the row ``replace`` gives, its fields in
    the class's order, in a dictionary of its own (the untimed row is untouched)."""
    from regimen.model import Administration

    reg = regimen.load(regimen_id)
    patient = regimen.make_patient(weight="70", bsa="1.8", age="50")
    untimed = regimen.expand(reg, patient, start=dt.date(2027, 3, 26))  # the clocks go forward on the 28th
    timed = regimen.expand(reg, patient, start=dt.date(2027, 3, 26), time=dt.time(2, 30), tz="Europe/Berlin")
    names = [f.name for f in dataclasses.fields(Administration)]
    assert len(timed.administrations) == len(untimed.administrations)
    for u, t in zip(untimed.administrations, timed.administrations, strict=True):
        assert t == dataclasses.replace(u, start=t.start, end=t.end, time_note=t.time_note)
        assert list(t.__dict__) == names and t.__dict__ is not u.__dict__
        assert u.start is None and u.time_note is None
    assert all(t.start is not None or t.time_note for t in timed.administrations)  # a start, or why it is not known
