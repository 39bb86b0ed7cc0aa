"""A total dose over a duration: the ambulatory pump ("fluorouracil 2400 mg/m² continuous IV over 46 h", issue 9.2).

Hand-computed at 1.8 m²: 2,400 mg/m² × 1.8 m² = 4,320 mg over 46 h = 4,320/46 mg/h = 93.913… mg/h; day 1 (24 h)
4,320 × 24/46 = 2,253.913… mg, day 2 (22 h) 4,320 × 22/46 = 2,066.087… mg; together exactly 4,320 mg.
The bolus: 400 mg/m² × 1.8 m² = 720 mg.
"""

from __future__ import annotations

import json
from fractions import Fraction as F
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import examples

import regimen
from regimen.cli import cli
from regimen.errors import RegimenFileError
from regimen.protocol.loader import load_text

PUMP = """id = "pump"
name = "bolus and pump"
cycle_length = 14
[[source]]
citation = "test"
[[component]]
id = "fluorouracil-bolus"
drug = "fluorouracil"
dose = "400 mg/m²"
route = "IV"
method = "bolus"
days = "1"
[[component]]
id = "fluorouracil-pump"
drug = "fluorouracil"
dose = "{dose}"
route = "IV"
method = "continuous infusion"
duration = "{duration}"
days = "{days}"
"""


def plan(dose: str = "2400 mg/m²", duration: str = "46 h", days: str = "1-2", bsa: str = "1.8") -> regimen.Plan:
    return regimen.expand(
        load_text(PUMP.format(dose=dose, duration=duration, days=days)), regimen.make_patient(bsa=bsa)
    )


def test_the_pump_total_is_shared_by_calendar_day_and_shown_with_its_rate() -> None:
    p = plan()
    pump = [r for r in p.administrations if r.component == "fluorouracil-pump"]
    assert [(r.day, r.duration_hours, r.rate, r.dose) for r in pump] == [
        (1, 24, F(4320, 46), F(4320 * 24, 46)),
        (2, 22, F(4320, 46), F(4320 * 22, 46)),
    ]
    assert sum(r.dose for r in pump) == 4320
    assert pump[0].calculation == (
        "2,400 mg/m² × 1.8 m² = 4,320 mg over 46 h = 93.91 mg/h (from 93.9130434783…); "
        "this day's share: 93.91 mg/h (from 93.9130434783…) × 24 h = 2,254 mg (from 2,253.9130434783…)"
    )


def test_a_bolus_and_a_pump_of_one_drug_stay_two_rows_and_two_totals() -> None:
    p = plan()
    day1 = [(r.component, r.dose) for r in p.administrations if r.day == 1]
    assert day1 == [("fluorouracil-bolus", F(720)), ("fluorouracil-pump", F(4320 * 24, 46))]
    course = {t.component: t.amount for t in p.totals if t.cycle is None}
    assert course == {"fluorouracil-bolus": F(720), "fluorouracil-pump": F(4320)}


def test_the_table_and_json_name_the_components(tmp_path: Path) -> None:
    path = tmp_path / "pump.toml"
    path.write_text(PUMP.format(dose="2400 mg/m²", duration="46 h", days="1-2"))
    table = CliRunner().invoke(cli, ["expand", str(path), "--bsa", "1.8"]).output
    assert "fluorouracil-bolus  720 mg" in table and "fluorouracil-pump   4,320 mg" in table
    data = json.loads(CliRunner().invoke(cli, ["expand", str(path), "--bsa", "1.8", "--format", "json"]).output)
    assert {(t["component"], t["amount"]) for t in data["totals"]["course"]} == {
        ("fluorouracil-bolus", 720),
        ("fluorouracil-pump", 4320),
    }


@settings(max_examples=examples(60), deadline=None)
@given(total=st.integers(1, 10_000), hours=st.integers(1, 24 * 7), bsa=st.decimals("0.5", "3", places=2))
def test_property_the_pump_gives_its_total_at_its_rate(total: int, hours: int, bsa: object) -> None:
    """Sum of the day shares = total × BSA = rate × hours, exactly, for any duration."""
    days = -(-hours // 24)
    p = plan(dose=f"{total} mg/m²", duration=f"{hours} h", days=f"1-{days}", bsa=str(bsa))
    pump = [r for r in p.administrations if r.component == "fluorouracil-pump"]
    expected = F(total) * F(str(bsa))
    assert sum(r.dose for r in pump) == expected
    assert all(r.rate == expected / hours for r in pump)
    assert sum(r.duration_hours or 0 for r in pump) == hours


def test_a_total_without_a_duration_is_refused_and_no_unit_is_suggested() -> None:
    """The old message suggested '2400 mg/m²/day', which a user who follows it turns into 1.92× the dose."""
    with pytest.raises(RegimenFileError) as e:
        load_text(PUMP.format(dose="2400 mg/m²", duration="46 h", days="1-2").replace('duration = "46 h"\n', ""))
    message = str(e.value)
    assert 'needs the time it runs, e.g. duration = "46 h"' in message
    assert "/day" not in message and "/h" not in message and "mg/m²/" not in message


AGE_PUMP = """id = "age-pump"
name = "a pump whose days depend on age"
cycle_length = 28
[[source]]
citation = "test"
[[component]]
drug = "cytarabine"
dose = "100 mg/m²/day"
route = "IV"
method = "continuous infusion"
duration = "3 days"
days = "1-3"
[[component.variant]]
when = "age > 60"
days = "1-2"
duration = "2 days"
note = "2 days instead of 3 for patients older than 60"
"""


def test_without_the_age_each_branch_of_a_pump_is_its_own_event_and_order_never_their_sum() -> None:
    """Age not given: the plan shows both pumps, marked. Hand-computed at 1.8 m²: 100 mg/m²/day × 1.8 m² = 180 mg
    a day; over 72 h (age ≤ 60) 540 mg, over 48 h (age > 60) 360 mg. The calendar once made one event of the five
    day shares ("Only if age > 60 years: Cytarabine 900 mg ... over 48 h"), and the order check one order of 900 mg:
    every output now counts preparations one way (engine.preparations)."""
    import datetime as dt

    from regimen.engine.verify import orderable
    from regimen.export.ics import plan_to_ics

    p = regimen.expand(load_text(AGE_PUMP), regimen.make_patient(bsa="1.8"), start=dt.date(2026, 12, 10))
    orders = sorted((e.condition, e.dose, e.hours, e.days) for e in orderable(p))
    assert orders == [("age > 60 years", 360, 48, (1, 2)), ("age ≤ 60 years", 540, 72, (1, 2, 3))]
    text = plan_to_ics(p).decode().replace("\r\n ", "")
    summaries = sorted(line for line in text.splitlines() if line.startswith("SUMMARY:"))
    assert summaries == [
        "SUMMARY:Only if age > 60 years: Cytarabine 360 mg IV continuous over 48 h\\, 7.5 mg/h — C1 D1–2",
        "SUMMARY:Only if age ≤ 60 years: Cytarabine 540 mg IV continuous over 72 h\\, 7.5 mg/h — C1 D1–3",
    ]
    assert text.count("STATUS:TENTATIVE") == 2 and "900 mg" not in text
    # all day (no time given): each event ends the day after its last share
    assert "DTEND;VALUE=DATE:20261212" in text and "DTEND;VALUE=DATE:20261213" in text


def test_with_a_time_each_branch_of_a_pump_runs_its_own_hours() -> None:
    """Both branches start on day 1 at 09:00 (UTC); the 72 h pump's third day runs 09:00 to 09:00 the next day. The
    timing once gave the two branches one event, so the 72 h pump ended at the 48 h one's end: its day 3 share
    started and ended at the same instant."""
    import datetime as dt

    p = regimen.expand(
        load_text(AGE_PUMP), regimen.make_patient(bsa="1.8"), start=dt.date(2026, 12, 10), time=dt.time(9, 0)
    )
    ends = {(r.condition, r.day): (r.start, r.end) for r in p.administrations}
    nine = dt.datetime(2026, 12, 12, 9, tzinfo=dt.UTC)
    assert ends[("age ≤ 60 years", 3)] == (nine, nine + dt.timedelta(days=1))
    assert ends[("age > 60 years", 2)] == (nine - dt.timedelta(days=1), nine)
