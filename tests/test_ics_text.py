"""Calendar text is always well-formed (issue 11.5): whatever text a regimen or a caller puts in a name, a drug, a
note or a label, every property of the .ics is one clean content line, and every reader reads the same events.

Before: a CR in a regimen's name reached X-WR-CALNAME raw (a naive reader saw an injected event) and a LF gave an
AssertionError. The loader now refuses control characters in regimen files; this tests the calendar's own
cleaning, which holds for regimens built in Python too."""

from __future__ import annotations

import dataclasses
import datetime as dt

import icalendar
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers import examples
from tests.test_ics import agreed

import regimen
from regimen.export.ics import clean_text, plan_to_ics
from regimen.quantities.limits import control_characters

STAMP = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
# any unicode, control characters (CR, LF, NUL, DEL, C1, U+2028) weighted in
texts = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        st.sampled_from(["\r", "\n", "\x00", "\x7f", "\x85", "\u2028", "\ufeff", "\t", ";", ",", "\\", ":"]),
    ),
    min_size=1,
    max_size=40,
).filter(lambda t: t.strip())


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=texts, drug=texts, note=texts, indication=texts, label=st.one_of(st.none(), texts))
def test_property_any_text_in_any_field_gives_a_clean_calendar_every_reader_agrees_on(
    name: str, drug: str, note: str, indication: str, label: str | None
) -> None:
    base = regimen.load("cenersen-arm3")
    phase = base.phases[0]
    first = dataclasses.replace(phase.components[0], drug=drug)
    hostile = dataclasses.replace(
        base,
        name=name,
        indication=indication,
        notes=(note,),
        phases=(dataclasses.replace(phase, components=(first, *phase.components[1:])),),
    )
    plan = regimen.expand(hostile, regimen.make_patient(weight="70", bsa="1.8", age="45"), start=dt.date(2026, 3, 1))
    label = clean_text(label, line=True).strip() if label else None  # a label is one line (check_label refuses more)
    raw = plan_to_ics(plan, time=dt.time(8, 0), tz="Europe/Berlin", label=label or None, dtstamp=STAMP)
    # a naive reader: split on CRLF, unfold; no content line carries a control character or a stray CR/LF
    lines = raw.decode("utf-8").split("\r\n")
    unfolded: list[str] = []
    for line in lines:
        if line.startswith((" ", "\t")) and unfolded:
            unfolded[-1] += line[1:]
        else:
            unfolded.append(line)
    assert all(not control_characters(line.replace("\t", "")) for line in unfolded), unfolded
    assert sum(line == "BEGIN:VEVENT" for line in unfolded) == len(icalendar.Calendar.from_ical(raw).walk("VEVENT"))
    assert agreed(raw)  # icalendar, vobject, ics.py and the VTIMEZONE alone read the same events
    calname = str(icalendar.Calendar.from_ical(raw)["X-WR-CALNAME"])
    assert "\n" not in calname and "\r" not in calname


def test_clean_text_keeps_line_breaks_only_where_a_description_can_have_them() -> None:
    assert clean_text("a\r\nb\rc\x00d\u2028e") == "a\nb\ncde"
    assert clean_text("a\r\nb\x7fc", line=True) == "a bc"
