"""VTIMEZONE components (RFC 5545 §3.6.5) for the zones a calendar's events use, over the years they span.

A VTIMEZONE must describe its zone's rules for every date-time of the calendar that uses its TZID.
Each one written here covers **whole calendar years, from the year before the calendar's earliest
event to the year after its latest** (from 1 January of the year before the first DTSTART/DTEND
to 1 January two years after the last; cancelled events kept from an earlier file count too):

- the events are the date-times that need it; the year each side is the margin for values near
  the ends that are not an event's start or end: a reminder fires up to 4 weeks before its event,
  a client may show a time a few hours either side of the events when it converts between zones,
  and an event in the first or last days of a year has its neighbouring year covered. DTSTAMP is
  written in UTC and needs no VTIMEZONE;
- whole years make the definition depend only on the years of the plan, not its days: plans in the
  same years get byte-identical VTIMEZONEs (one cached definition per zone and span, stable
  golden files), and a zone with daylight saving costs two transitions a year, so a plan of a few
  months gets about 8 transitions (some 600 bytes) per zone rather than the ~250 (some 6 kB) of a
  fixed 1970-2100 span.

The price of a span per file: a reader that keeps the first VTIMEZONE it sees of a TZID and reuses
it for later files (vobject does, for the life of the process) misreads a later file of the same
TZID whose events lie outside the first file's years. Readers that resolve an IANA TZID through
their own zone database (icalendar, ics.py) are unaffected. The tests read each file with vobject
in a fresh state.

Transitions are found here rather than by icalendar's ``Timezone.from_tzinfo``, which searches in
steps of 64 days and so drops short periods (Cairo's daylight time resumed for 20 days after
Ramadan 2010 is missing from its output): the zone is sampled every 12 hours and each change
bisected to the second. RDATEs go one per line: vobject misreads the comma-separated list form.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable

import icalendar

from regimen.errors import RegimenError
from regimen.export.folding import to_ical

UTC = dt.UTC
MARGIN_YEARS = 1  # whole years covered before the first event and after the last


def span(events: Iterable[icalendar.Component]) -> tuple[dt.date, dt.date] | None:
    """The dates a VTIMEZONE must cover for ``events``: 1 January of the year before the first to
    1 January two years after the last (exclusive), i.e. whole years with a year's margin each side.
    None when no event has a DTSTART or DTEND."""
    years = [event.decoded(name).year for event in events for name in ("DTSTART", "DTEND") if name in event]
    if not years:
        return None
    first = max(dt.MINYEAR + 1, min(years) - MARGIN_YEARS)  # room for the zone's offset at the ends
    last = min(dt.MAXYEAR - 1, max(years) + MARGIN_YEARS + 1)
    return dt.date(first, 1, 1), dt.date(last, 1, 1)


def add_timezones(cal: icalendar.Calendar) -> None:
    """A VTIMEZONE, first in the calendar, for every TZID its events use, covering the years they span."""
    events = cal.walk("VEVENT")
    missing = sorted(cal.get_missing_tzids()) if events else []
    dates = span(events)
    if not missing or dates is None:
        return
    for index, tzid in enumerate(missing):
        cal.subcomponents.insert(index, icalendar.Timezone.from_ical(vtimezone(tzid, *dates)))


def _zone(tzid: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(tzid)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, IsADirectoryError):
        raise RegimenError(
            f"time zone {tzid!r} of the calendar is not in this machine's time zone database; "
            "install the tzdata package or choose another zone"
        ) from None


@functools.lru_cache(maxsize=64)
def vtimezone(tzid: str, first: dt.date, last: dt.date) -> bytes:
    """The VTIMEZONE of IANA zone ``tzid`` from ``first`` to ``last``: every transition, one RDATE per line."""
    tz = _zone(tzid)

    def state(instant: dt.datetime) -> tuple[dt.timedelta, bool, str]:
        local = instant.astimezone(tz)
        offset = local.utcoffset()
        assert offset is not None
        return offset, bool(local.dst()), local.tzname() or str(offset)

    step = dt.timedelta(hours=12)
    moment = dt.datetime(first.year, first.month, first.day, tzinfo=UTC)
    end = dt.datetime(last.year, last.month, last.day, tzinfo=UTC)
    initial = before = state(moment)
    starts: dict[tuple[dt.timedelta, dt.timedelta, str, bool], list[dt.datetime]] = {}
    while moment < end:
        after = state(moment + step)
        if after != before:
            low, high = moment, moment + step  # state(low) == before, state(high) == after
            while high - low > dt.timedelta(seconds=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if state(middle) == before else (low, middle)
            high = high.replace(microsecond=0)
            local_start = (high + before[0]).replace(tzinfo=None)  # wall time before the change, as RFC 5545 says
            starts.setdefault((before[0], after[0], after[2], after[1]), []).append(local_start)
        before = after
        moment += step
    rules = {(initial[0], initial[0], initial[2], initial[1]): [dt.datetime(first.year, first.month, first.day)]}
    rules.update(starts)
    out = icalendar.Timezone()
    out.add("tzid", tzid)
    out.add("comment", f"Rules of the IANA time zone {tzid} from {first} to {last}.")
    for (offset_from, offset_to, name, daylight), dates in rules.items():
        rule = icalendar.TimezoneDaylight() if daylight else icalendar.TimezoneStandard()
        rule.add("dtstart", dates[0])
        for date in dates[1:]:
            rule.add("rdate", date)
        rule.add("tzname", name)
        rule.add("tzoffsetfrom", offset_from)
        rule.add("tzoffsetto", offset_to)
        out.add_component(rule)
    return to_ical(out)


__all__ = ["add_timezones", "span", "vtimezone"]
