"""Warnings (issue 4) reach the calendar: every event's description repeats its row's and the plan's warnings."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import icalendar

import regimen
from regimen.clinical.prepare import ClinicalOptions
from regimen.export.ics import plan_to_ics


def descriptions(ics: bytes) -> dict[str, str]:
    cal = icalendar.Calendar.from_ical(ics)
    return {str(e["SUMMARY"]): str(e["DESCRIPTION"]) for e in cal.walk("VEVENT")}


def test_capped_bsa_and_eligibility_warnings_appear_in_event_descriptions() -> None:
    reg = regimen.load("cenersen-arm3")
    patient = regimen.make_patient(weight="120", bsa="2.4", age="17")
    plan = regimen.expand(reg, patient, start=dt.date(2026, 12, 1), options=ClinicalOptions(bsa_cap=Fraction(2)))
    assert plan.warnings, "the cap and the age outside eligibility must warn"
    events = descriptions(plan_to_ics(plan, dtstamp=dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
    idarubicin = next(text for summary, text in events.items() if summary.startswith("Idarubicin"))
    for warning in plan.warnings:
        assert f"Warning: {warning}" in idarubicin.replace("\r\n", "\n").replace("\n ", "")


def test_no_warning_lines_without_warnings() -> None:
    plan = regimen.expand(
        regimen.load("cenersen-arm1"), regimen.make_patient(weight="70", bsa="1.8"), start=dt.date(2026, 12, 1)
    )
    assert not plan.warnings
    assert all("Warning:" not in text for text in descriptions(plan_to_ics(plan)).values())
