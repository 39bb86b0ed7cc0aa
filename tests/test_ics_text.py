"""Calendar text is always well-formed (issue 11.5): whatever a regimen's name, a drug, a note, a citation or a
warning holds (control characters, line and paragraph separators, any unicode), every reader sees exactly the
plan's events, each text property on its own line, and the text as written less its control characters."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import icalendar
import vobject
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.test_ics import STAMP, agreed, make_plan

from regimen.engine.plan import Plan
from regimen.export.ics import clean_text, plan_to_ics, slots
from regimen.model import Source

#: Any unicode, with the characters that break a line or a property made likely.
HOSTILE = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from('\r\n\t\x00\x0b\x0c\x1b\x7f\x85\u2028\u2029\ufeff:;,\\"='),
    ),
    min_size=1,
    max_size=40,
)
INJECTION = "x\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:evil\r\nSUMMARY:injected\r\nDTSTART:20260101T000000Z"

BASE = make_plan("cenersen-arm1", dt.date(2026, 6, 1))
#: A line of an unfolded iCalendar file: a property name (with parameters), then ':' and its value.
PROPERTY_LINE = re.compile(r"^[A-Z][A-Z0-9-]*(;[^:]*)?:")


def hostile_plan(name: str, drug: str, note: str, citation: str, warning: str) -> Plan:
    reg = dataclasses.replace(
        BASE.regimen, name=name, notes=(note,), sources=(Source(citation=citation, registry=None),)
    )
    rows = tuple(dataclasses.replace(r, drug=drug + r.drug) for r in BASE.administrations)
    return dataclasses.replace(BASE, regimen=reg, administrations=rows, notes=(note,), warnings=(warning,))


def check(plan: Plan, texts: list[str], **options: object) -> None:
    raw = plan_to_ics(plan, dtstamp=STAMP, **options)  # type: ignore[arg-type]
    unfolded = raw.decode("utf-8").replace("\r\n ", "").split("\r\n")[:-1]
    assert all(PROPERTY_LINE.match(line) for line in unfolded), [ln for ln in unfolded if not PROPERTY_LINE.match(ln)]
    naive = raw.decode("utf-8").splitlines()  # a reader that breaks lines at any line break sees no extra event
    assert sum(line == "BEGIN:VEVENT" for line in naive) == len(slots(plan))
    times = agreed(raw)  # icalendar, vobject, ics.py and the VTIMEZONE alone agree
    assert len(times) == len(slots(plan))
    cal = icalendar.Calendar.from_ical(raw)
    assert str(cal["X-WR-CALNAME"]) == clean_text(plan.regimen.name)
    for event in cal.walk("VEVENT"):
        summary, description = str(event["SUMMARY"]), str(event["DESCRIPTION"])
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]", summary)
        assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]", description)
        for text in texts:
            assert clean_text(text, one_line=False) in description or clean_text(text) in summary
    vcal = vobject.readOne(raw.decode("utf-8"))
    assert len(vcal.vevent_list) == len(slots(plan))
    assert vcal.x_wr_calname.value == clean_text(plan.regimen.name)


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(name=HOSTILE, drug=HOSTILE, note=HOSTILE, citation=HOSTILE, warning=HOSTILE)
def test_any_text_in_any_field_reads_the_same_in_every_reader(
    name: str, drug: str, note: str, citation: str, warning: str
) -> None:
    plan = hostile_plan(name, drug, note, citation, warning)
    check(plan, [note, citation, warning], time=dt.time(8), tz="Europe/Berlin", remind=dt.timedelta(hours=1))


def test_a_carriage_return_in_the_name_injects_no_event() -> None:
    plan = hostile_plan(INJECTION, INJECTION, INJECTION, "Cortes J\r\nX-EVIL:1", "w\n")
    raw = plan_to_ics(plan, dtstamp=STAMP)
    lines = raw.replace(b"\r\n ", b"").split(b"\r\n")
    assert not any(line.startswith((b"UID:evil", b"X-EVIL", b"SUMMARY:injected")) for line in lines)
    check(plan, [INJECTION])


def test_clean_text() -> None:
    assert clean_text("a\r\nb\rc\nd\te\x00f\u2028g") == "a b c d e f g"
    assert clean_text("a\r\nb\rc\nd\te\x00f", one_line=False) == "a\nb\nc\nd e f"
    assert clean_text("Idarubicin 12 mg/m² — β") == "Idarubicin 12 mg/m² — β"
