"""Calendars of plans that show every outcome, and of drugs given several times a day (issues 9.1 and 9.4)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import icalendar
import vobject
from click.testing import CliRunner

import regimen
from regimen.cli import cli
from regimen.export.ics import plan_to_ics
from regimen.protocol.loader import load_text

STAMP = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def events(data: bytes) -> list[icalendar.Event]:
    return list(icalendar.Calendar.from_ical(data).walk("VEVENT"))


def test_events_of_a_conditional_row_are_tentative_and_say_the_condition() -> None:
    plan = regimen.expand(
        regimen.load("cenersen-arm3"), regimen.make_patient(weight="70", bsa="1.8"), start=dt.date(2026, 12, 1)
    )
    found = events(plan_to_ics(plan, time=dt.time(8), tz="Europe/Berlin", dtstamp=STAMP))
    tentative = [e for e in found if e.get("STATUS") == "TENTATIVE"]
    assert len(tentative) == 1
    event = tentative[0]
    assert str(event["SUMMARY"]).startswith("Only if age ≤ 60 years: Cytarabine 1,800 mg IV — C1 D5")
    assert "Given only if age ≤ 60 years" in str(event["DESCRIPTION"])
    assert all("STATUS" not in e for e in found if e is not event)
    assert len({str(e["UID"]) for e in found}) == len(found)


def test_the_headline_command_writes_a_calendar_without_the_age(tmp_path: Path) -> None:
    out = tmp_path / "plan.ics"
    result = CliRunner().invoke(
        cli, ["expand", "cenersen-arm3", "--weight", "70", "--bsa", "1.8", "--start", "2026-12-01", "--ics", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes().count(b"STATUS:TENTATIVE") == 1


def test_twice_daily_doses_are_separate_events_with_their_own_uids() -> None:
    text = (
        'id = "c"\nname = "c"\ncycle_length = 21\n[[source]]\ncitation = "t"\n[[component]]\n'
        'drug = "capecitabine"\ndose = "1000 mg/m²"\nroute = "oral"\ntimes_per_day = 2\ndays = "1-2"\n'
    )
    plan = regimen.expand(load_text(text), regimen.make_patient(bsa="1.8"), start=dt.date(2026, 3, 2))
    data = plan_to_ics(plan, dtstamp=STAMP)
    found = events(data)
    assert len(found) == 4 and len({str(e["UID"]) for e in found}) == 4
    assert [str(e["SUMMARY"]) for e in found[:2]] == [
        "Capecitabine 1,800 mg oral (dose 1 of 2) — C1 D1",
        "Capecitabine 1,800 mg oral (dose 2 of 2) — C1 D1",
    ]
    assert "By mouth" in str(found[0]["DESCRIPTION"])
    assert len(next(vobject.readComponents(data.decode())).vevent_list) == 4
