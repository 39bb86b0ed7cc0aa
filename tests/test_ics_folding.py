"""regimen writes a calendar's bytes with its own line folding (:mod:`regimen.export.folding`): the bytes must be
icalendar's own, for any text, because an event's content hash (which decides SEQUENCE) is taken from them and
calendars already on devices and servers were written by icalendar."""

from __future__ import annotations

import datetime as dt

import icalendar
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import examples

import regimen
from regimen.export.folding import fold, to_ical
from regimen.export.ics import plan_to_ics

#: text of any kind a description can hold: ASCII, accented letters, symbols of 2 and 3 octets (m², ×, –, →), a
#: 4-octet emoji, and the escapes' first characters (backslash, caret) that icalendar never leaves at a piece's end
characters = st.one_of(
    st.sampled_from(list('ab ,;:\\^"²×–→é𝄞\t')),
    st.characters(blacklist_categories=("Cs", "Cc")),
)
texts = st.text(characters, max_size=400)


def icalendars(line: str) -> bytes:
    """icalendar's own folding of one content line."""
    return icalendar.parser.Contentline(line).to_ical()  # type: ignore[no-any-return]


@settings(max_examples=examples(300), deadline=None)
@given(line=texts)
def test_a_line_is_folded_as_icalendar_folds_it(line: str) -> None:
    assert fold(line) == icalendars(line)


@settings(max_examples=examples(60), deadline=None)
@given(summary=texts, description=texts, location=texts)
def test_an_event_is_written_as_icalendar_writes_it(summary: str, description: str, location: str) -> None:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//test//")
    cal.add("version", "2.0")
    event = icalendar.Event()
    event.add("uid", "x@example.org")
    event.add("summary", summary)
    event.add("description", description)
    event.add("location", location)
    event.add("dtstart", dt.date(2026, 12, 1))
    cal.add_component(event)
    assert to_ical(cal) == cal.to_ical()
    assert to_ical(event) == event.to_ical()


def test_the_pieces_by_hand() -> None:
    # 74 octets stay one line; the 75th starts a second piece after CRLF and a space
    assert fold("a" * 74) == b"a" * 74
    assert fold("a" * 75) == b"a" * 74 + b"\r\n a"
    assert fold("a" * 150) == b"a" * 74 + b"\r\n " + b"a" * 74 + b"\r\n aa"
    # '²' is 2 octets: at octets 74-75 it would be cut in half, so the piece ends before it (73 octets)
    assert fold("a" * 73 + "²b") == b"a" * 73 + b"\r\n " + "²b".encode()
    # a backslash that would end a piece moves to the next one, with the character it escapes
    assert fold("a" * 73 + "\\,b") == b"a" * 73 + b"\r\n \\,b"
    # a caret (RFC 6868's escape in a parameter) likewise
    assert fold("a" * 73 + "^nb") == b"a" * 73 + b"\r\n ^nb"


def test_a_plans_calendar_is_icalendars_byte_for_byte() -> None:
    # R-CHOP-21: 2,354 content lines, descriptions of several hundred octets with m², × and dashes
    plan = regimen.expand(
        regimen.load("r-chop-21"),
        regimen.make_patient(weight="70", bsa="1.8", age="50", height="170"),
        start=dt.date(2026, 12, 1),
    )
    stamp = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    data = plan_to_ics(plan, time=dt.time(8), tz="Europe/Berlin", dtstamp=stamp)
    assert data == icalendar.Calendar.from_ical(data).to_ical()
    assert max(len(line) for line in data.split(b"\r\n")) == 75
