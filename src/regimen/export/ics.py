"""A plan as an iCalendar (RFC 5545) file that calendar clients read to the same instants.

One event per administration; a continuous infusion is one event from its start to start + its
exact elapsed hours. Elapsed time is computed in UTC: across a daylight-saving change a 96-hour
infusion still lasts 96 hours, and the wall clock shows 95 or 97. Every other event stays at
its local wall-clock time (``time`` in the plan's zone) on its administration date.

How times are written:

- with a time: ``DTSTART;TZID=...`` (and a ``VTIMEZONE`` for every TZID, from
  :mod:`regimen.export.vtimezone`, covering the years of the events), ``DTEND``
  computed as an instant in UTC and written in the same zone, or in UTC (``...Z``) when that
  local time is ambiguous (the repeated hour when clocks go back); a time that does not exist
  on a date (clocks go forward) moves forward by the gap, and the description says so. Never
  ``DURATION:P4D`` (four calendar days, not 96 hours) and never wall-clock arithmetic.
- an administration whose duration the source does not state is a point event (DTSTART, no
  DTEND), marked "duration not stated": no clinical duration is invented.
- without a time: all-day events (``DTSTART;VALUE=DATE``, ``DTEND`` exclusive, the next day);
  a continuous infusion spans its infusion days (days 1-4 of a 96-hour infusion).

UIDs are deterministic: ``regimen-<plan key>-<event key>``, where the plan key hashes the
regimen id, the patient values, the start date and the label, and the event key hashes phase,
cycle, component and day. Re-importing an updated plan updates events instead of duplicating
them. Given the previous file (``previous=``), an event whose content changed gets SEQUENCE + 1,
and an event of the same plan that is no longer in it is kept with STATUS:CANCELLED; the other events of
the file it replaces (the same patient's plan before a new weight) come back withdrawn. For a CalDAV
collection, :func:`plan_resources` gives one calendar per event, SEQUENCE set against the server's copies;
as a collection is shared, the earlier plan it withdraws is the one :func:`replaces` names: the same
regimen, start and label (``X-REGIMEN-SERIES``) under other patient values.

This module writes calendar bytes and nothing else: writing the file and publishing to a server are
:mod:`regimen.export.calendar`'s (the CalDAV client, :mod:`regimen.export.caldav`, knows nothing of plans).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import icalendar  # loaded only with a calendar: the command line imports this module only then

from regimen.engine.plan import Plan
from regimen.engine.preparations import preparations
from regimen.engine.timing import assign_times, elapsed
from regimen.errors import option
from regimen.export.folding import to_ical
from regimen.export.ics_text import FIXED_DOSE, description, summary
from regimen.export.io import write_atomic
from regimen.export.vtimezone import add_timezones
from regimen.quantities.clock import (
    UTC,
    UTC_KEYS,
    ClockError,
    is_ambiguous,
    local_zone_key,
    parse_time,
    start_instant,
    zone,
)
from regimen.quantities.limits import without_control_characters

PRODID = "-//regimen//regimen calendar export//EN"
UID_PREFIX = "regimen-"
CONTENT_PROPERTY = "X-REGIMEN-CONTENT"  # hash of an event's content, to tell whether SEQUENCE must rise
# the plan's identity less its patient values (regimen, start, label): a plan without a course key under new patient
# values (a new weight) has new UIDs, and this tells a CalDAV upload which earlier events it replaces
SERIES_PROPERTY = "X-REGIMEN-SERIES"


#: The calendar's errors are the clock's (one class: a time, zone, reminder, label or file that cannot be used).
CalendarError = ClockError

# ---- options -------------------------------------------------------------------------------------


_REMIND_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def clean_text(text: str, *, line: bool = False) -> str:
    """Text as it may stand in a calendar property: control characters (a CR that a naive reader takes for a new
    content line, a NUL, DEL, C1 controls, the Unicode line separators) removed; line breaks kept in a description
    (icalendar escapes them as ``\\n``) and turned into spaces in a one-line property (``line``). Every text that
    reaches a property passes through here, whatever its source (a regimen file, a label, a previous calendar)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if line:
        text = " ".join(text.split("\n"))
    return without_control_characters(text)


def parse_remind(text: str) -> dt.timedelta:
    """'30m', '1h', '1d', '1h30m', '2w' -> how long before each event its reminder shows."""
    compact = text.strip().lower().replace(" ", "")
    parts = re.findall(r"(\d+)(min|m|h|d|w)", compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise CalendarError(f"{option('remind')} {text!r}: give a time before the event such as 30m, 1h, 1d or 1h30m")
    seconds = sum(int(n) * _REMIND_UNITS[u] for n, u in parts)
    if seconds > 4 * _REMIND_UNITS["w"]:
        raise CalendarError(
            f"{option('remind')} {text!r}: at most 4 weeks before the event, e.g. {option('remind')} 1d"
        )
    return dt.timedelta(seconds=seconds)


def check_label(label: str) -> str:
    """A label (e.g. a patient's name or bed) shown in every event: one line of text."""
    cleaned = " ".join(label.split())
    if not cleaned or any(ord(ch) < 32 or ord(ch) == 127 for ch in label.replace("\t", " ")):
        raise CalendarError(
            f"{option('label')} must be one non-empty line of text, e.g. {option('label')} 'J. Doe, bed 4'"
        )
    return cleaned


# ---- keys ----------------------------------------------------------------------------------------


def _digest(*parts: object, size: int) -> str:
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:size]


def plan_key(plan: Plan, label: str | None = None) -> str:
    """The key of every UID of the plan's events.

    A plan with a course key (a treatment course, or ``--course ID``): the regimen and that key only, never a dose
    or a patient value, so that a re-export after any change updates the same events. Otherwise: same regimen,
    patient values, start and label -> same key."""
    if plan.key is not None:
        return _digest(plan.regimen.id, "course", plan.key, size=16)
    p = plan.patient
    return _digest(
        plan.regimen.id,
        p.weight_kg,
        p.bsa_m2,
        p.age_years,
        p.height_cm,
        p.sex,
        plan.start.isoformat() if plan.start else None,
        label,
        size=16,
    )


def series_key(plan: Plan, label: str | None = None) -> str | None:
    """What a plan without a course key shares with its versions under other patient values: the regimen, the start
    and the label. None for a plan with a course key, whose UIDs already outlive any change."""
    if plan.key is not None:
        return None
    return _digest(plan.regimen.id, "series", plan.start.isoformat() if plan.start else None, label, size=16)


def uid_prefix(plan: Plan | Sequence[Plan], label: str | None = None) -> str:
    """What the UID of every event of this plan (and of no other) starts with: 'regimen-<plan key>-'."""
    return f"{UID_PREFIX}{plan_key(_parts(plan)[0], label)}-"


def event_uid(
    key: str,
    phase: str,
    cycle: int,
    component: str,
    day: int,
    dose_number: int | None = None,
    condition: str | None = None,
) -> str:
    """The event's UID; the dose of the day and the condition count only when there is one (UIDs of other events
    stay as they were)."""
    extra = (dose_number, condition) if dose_number is not None or condition is not None else ()
    return f"{UID_PREFIX}{key}-{_digest(phase, cycle, component, day, *extra, size=12)}"


# ---- events (what each says, its title and description, is regimen.export.ics_text's) ------------------


def _written(instant: dt.datetime, tz: dt.tzinfo) -> dt.datetime:
    """``instant`` in ``tz`` when that wall time names it unambiguously, else in UTC."""
    if tz is UTC:
        return instant
    local = instant.astimezone(tz)
    return instant if is_ambiguous(local) else local


def _content_hash(event: icalendar.Event) -> str:
    lines = [
        line
        for line in to_ical(event).splitlines()
        if not line.startswith((b"DTSTAMP", b"SEQUENCE", CONTENT_PROPERTY.encode()))
    ]
    return hashlib.sha256(b"\n".join(lines)).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Previous:
    """What an earlier export of the same plan said about one UID."""

    sequence: int
    content: str | None
    event: icalendar.Component


def read_previous(data: bytes | str | None, key: str | None = None) -> dict[str, Previous]:
    """Events of an earlier export (a file, or a server's copies), by UID; only plan ``key``'s when given (``""``:
    every event regimen wrote)."""
    if not data:
        return {}
    try:
        calendars = icalendar.Calendar.from_ical(data, multiple=True)
    except ValueError as exc:
        raise CalendarError(
            f"the existing calendar is not valid iCalendar ({exc}); choose another {option('ics')} file"
        ) from None
    found: dict[str, Previous] = {}
    for cal in calendars:
        for event in cal.walk("VEVENT"):
            uid = str(event.get("UID", ""))
            mine = f"{UID_PREFIX}{key}-" if key else UID_PREFIX
            if not uid or (key is not None and not uid.startswith(mine)):
                continue
            seq = event.get("SEQUENCE")
            found[uid] = Previous(
                sequence=int(seq) if seq is not None else 0,
                content=str(event[CONTENT_PROPERTY]) if CONTENT_PROPERTY in event else None,
                event=event,
            )
    return found


def _sequence(content: str, previous: Previous | None) -> int:
    if previous is None:
        return 0
    return previous.sequence if previous.content == content else previous.sequence + 1


def _cancelled(old: Previous, dtstamp: dt.datetime) -> icalendar.Component:
    event = old.event.copy()
    event.subcomponents = []  # no reminder for an event that will not happen
    if str(event.get("STATUS", "")).upper() != "CANCELLED":
        for name in ("STATUS", "SEQUENCE", "DTSTAMP", "SUMMARY"):
            event.pop(name, None)
        event.add("summary", clean_text(f"CANCELLED: {old.event.get('SUMMARY', '')}", line=True))
        event.add("status", "CANCELLED")
        event.add("sequence", old.sequence + 1)
        event.add("dtstamp", dtstamp)
    return event


def _withdrawn(old: Previous, dtstamp: dt.datetime) -> icalendar.Component:
    """An event of another plan in the file being replaced (the same patient before a new weight, or someone else):
    cancelled, so that a client that imported it removes it, and stripped of everything it said (no dose, no
    patient value of that plan is carried into this file)."""
    event = icalendar.Event()
    event.add("uid", str(old.event["UID"]))
    if "DTSTART" in old.event:
        event.add("dtstart", old.event.decoded("DTSTART"))
    event.add("summary", "Cancelled: replaced by a new regimen plan")
    event.add("status", "CANCELLED")
    if str(old.event.get("STATUS", "")).upper() == "CANCELLED" and "DTSTAMP" in old.event:  # withdrawn already
        event.add("sequence", old.sequence)
        event.add("dtstamp", old.event.decoded("DTSTAMP"))
    else:
        event.add("sequence", old.sequence + 1)
        event.add("dtstamp", dtstamp)
    return event


def plan_events(
    plan: Plan,
    *,
    time: dt.time | None = None,
    tz: str | None = None,
    remind: dt.timedelta | None = None,
    label: str | None = None,
    dtstamp: dt.datetime | None = None,
    previous: Mapping[str, Previous] | None = None,
) -> list[icalendar.Event]:
    """The plan's events, in plan order, with SEQUENCE set against ``previous`` (by UID)."""
    if plan.start is None:
        raise CalendarError(f"a calendar needs dates: pass {option('start')} YYYY-MM-DD (the date of day 1 of cycle 1)")
    label = check_label(label) if label is not None else None
    tz = tz if tz is not None else plan.tz  # a plan made with a time of day has its zone
    tzinfo: dt.tzinfo = UTC if tz is None or tz in UTC_KEYS else zone(tz)
    if time is not None and plan.time is None:  # the times of the protocol's order within the day, as expand gives
        rows = assign_times(plan.regimen, list(plan.administrations), time, tzinfo)
        plan = dataclasses.replace(plan, administrations=tuple(rows), time=time, tz=tz or "UTC")
    stamp = (dtstamp or dt.datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    key = plan_key(plan, label)
    series = series_key(plan, label)
    events = []
    for prep in preparations(plan.administrations):  # one event per preparation: a pump is one event
        r = prep.first
        assert r.date is not None
        event = icalendar.Event()
        event.add("uid", event_uid(key, r.phase, r.cycle, r.component, r.day, r.dose_number, r.condition))
        time_note = None
        timed = time is not None or plan.time is not None
        if r.start is not None:  # the plan has its times: the order within the day is the protocol's
            event.add("dtstart", _written(r.start, tzinfo))
            end = prep.rows[-1].end if prep.continuous else r.end
            if end is not None and end != r.start:
                event.add("dtend", _written(end, tzinfo))
            time_note = r.time_note
        elif time is None or plan.time is not None:  # no time, or a time this event cannot have: all day
            event.add("dtstart", r.date)
            event.add("dtend", r.date + dt.timedelta(days=len(prep.days)))
            time_note = r.time_note
            timed = False
        else:
            begin, time_note = start_instant(r.date, time, tzinfo)
            event.add("dtstart", _written(begin, tzinfo))
            if prep.hours is not None:
                event.add("dtend", _written(begin + elapsed(prep.hours), tzinfo))
        event.add("summary", clean_text(summary(plan, prep, label), line=True))
        event.add("description", clean_text(description(plan, prep, timed=timed, time_note=time_note, label=label)))
        event.add("transp", "OPAQUE")
        if r.condition is not None:
            event.add("status", "TENTATIVE")
        if remind is not None:
            alarm = icalendar.Alarm()
            alarm.add("action", "DISPLAY")
            alarm.add("description", clean_text(summary(plan, prep, label), line=True))
            alarm.add("trigger", -remind)
            event.add_component(alarm)
        content = _content_hash(event)
        old = (previous or {}).get(str(event["UID"]))
        event.add("sequence", _sequence(content, old))
        # an unchanged event keeps its stamp, so that a re-export leaves it byte for byte as it was
        kept = old.event.get("DTSTAMP") if old is not None and old.content == content else None
        event.add("dtstamp", old.event.decoded("DTSTAMP") if kept is not None and old is not None else stamp)
        event.add(CONTENT_PROPERTY, content)
        if series is not None:
            event.add(SERIES_PROPERTY, series)
        events.append(event)
    return events


def new_calendar(name: str) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("x-wr-calname", clean_text(name, line=True))
    return cal


def calendar_name(plan: Plan, label: str | None) -> str:
    return f"{plan.regimen.name} — {label}" if label else plan.regimen.name


def _parts(plan: Plan | Sequence[Plan]) -> list[Plan]:
    """A plan, or the part plans of a treatment course (one per set of patient values in force), which share their
    course key: each event is written from its own part (its patient values, its working)."""
    parts = [plan] if isinstance(plan, Plan) else list(plan)
    if not parts:
        raise CalendarError("the calendar has no events: nothing is planned")
    return parts


def events_of(plan: Plan | Sequence[Plan], **options: Any) -> list[icalendar.Event]:
    return [e for part in _parts(plan) for e in plan_events(part, **options)]


def plan_to_ics(
    plan: Plan | Sequence[Plan],
    *,
    time: dt.time | None = None,
    tz: str | None = None,
    remind: dt.timedelta | None = None,
    label: str | None = None,
    dtstamp: dt.datetime | None = None,
    previous: bytes | str | None = None,
) -> bytes:
    """The plan as an .ics file (bytes, CRLF, folded at 75 octets).

    ``tz`` is an IANA zone name (default UTC) used with ``time``; without ``time`` events are all-day.
    ``previous`` is an earlier export (e.g. the file about to be replaced): changed events of the
    same plan get SEQUENCE + 1 and events no longer in the plan come back as cancelled.
    """
    label = check_label(label) if label is not None else None
    parts = _parts(plan)
    # every regimen event of the file being replaced: those of this plan update by UID, and the rest (the same
    # patient's plan under an earlier identity, e.g. before a new weight without --course) come back cancelled
    earlier = read_previous(previous, "")
    stamp = (dtstamp or dt.datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    events = events_of(parts, time=time, tz=tz, remind=remind, label=label, dtstamp=stamp, previous=earlier)
    cal = new_calendar(calendar_name(parts[0], label))
    uids = {str(e["UID"]) for e in events}
    for event in events:
        cal.add_component(event)
    mine = uid_prefix(parts[0], label)
    for uid, old in earlier.items():
        if uid not in uids:
            cal.add_component(_cancelled(old, stamp) if uid.startswith(mine) else _withdrawn(old, stamp))
    add_timezones(cal)
    return to_ical(cal)


def plan_resources(
    plan: Plan | Sequence[Plan],
    stored: Mapping[str, bytes | str],
    *,
    time: dt.time | None = None,
    tz: str | None = None,
    remind: dt.timedelta | None = None,
    label: str | None = None,
    dtstamp: dt.datetime | None = None,
) -> dict[str, tuple[bytes, bool]]:
    """The plan as one calendar per event (for a CalDAV collection): UID -> (calendar, changed), in plan order.

    ``stored`` holds the copies of this plan's events already stored (UID -> calendar data), and of the events of
    the plan it replaces (:func:`replaces`): an event whose content differs from its copy gets SEQUENCE + 1 and
    ``changed``; one whose content is the same is not ``changed`` (its copy can stay). An event without a copy is
    ``changed``. A stored event no longer in the plan comes back cancelled (STATUS:CANCELLED, SEQUENCE + 1),
    ``changed`` unless it already was; one of the replaced plan comes back withdrawn (cancelled and stripped of
    what it said), as in a file that replaces an earlier one. Each calendar has the VTIMEZONE of its own event's
    years. Options are those of :func:`plan_to_ics`.
    """
    label = check_label(label) if label is not None else None
    previous: dict[str, Previous] = {}
    for uid, data in stored.items():
        previous.update({k: v for k, v in read_previous(data).items() if k == uid})
    parts = _parts(plan)
    mine = uid_prefix(parts[0], label)
    own = {uid: old for uid, old in previous.items() if uid.startswith(mine)}
    events = events_of(parts, time=time, tz=tz, remind=remind, label=label, dtstamp=dtstamp, previous=own)
    resources: dict[str, tuple[bytes, bool]] = {}
    for event in events:
        uid = str(event["UID"])
        old = previous.get(uid)
        cal = new_calendar(calendar_name(parts[0], label))
        cal.add_component(event)
        add_timezones(cal)
        # a copy uploaded before events named their series is rewritten (same SEQUENCE), so a new weight finds it
        unmarked = old is not None and SERIES_PROPERTY in event and SERIES_PROPERTY not in old.event
        resources[uid] = (to_ical(cal), old is None or old.content != str(event[CONTENT_PROPERTY]) or unmarked)
    # an event that left the plan stays on the server as cancelled (SEQUENCE + 1), as in a re-exported file
    stamp = (dtstamp or dt.datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    for uid, old in previous.items():
        if uid not in resources:
            cal = new_calendar(calendar_name(parts[0], label))
            cal.add_component(_cancelled(old, stamp) if uid in own else _withdrawn(old, stamp))
            add_timezones(cal)
            resources[uid] = (to_ical(cal), uid not in own or str(old.event.get("STATUS", "")).upper() != "CANCELLED")
    return resources


def replaces(plan: Plan | Sequence[Plan], label: str | None = None) -> Callable[[bytes], bool] | None:
    """Which stored events (by their calendar data) an upload of ``plan`` replaces: those of the same regimen, start
    and label under other patient values (before a new weight), as the file an export replaces is replaced whole.
    None for a plan with a course key: its own UIDs already hold every version of it."""
    first = _parts(plan)[0]
    series, mine = series_key(first, label), uid_prefix(first, label)
    if series is None:
        return None
    marker = SERIES_PROPERTY.encode()

    def replaced(data: bytes) -> bool:
        if marker not in data:  # not a regimen event of a plan without a course key: no need to read it
            return False
        try:
            events = read_previous(data)
        except CalendarError:
            return False
        return any(
            not uid.startswith(mine) and str(old.event.get(SERIES_PROPERTY, "")) == series
            for uid, old in events.items()
        )

    return replaced


def patient_values(data: bytes | str) -> list[str]:
    """The "Patient values used" of the events in ``data``, each once (to name the plan an upload replaces)."""
    found = []
    for old in read_previous(data).values():
        for line in str(old.event.get("DESCRIPTION", "")).splitlines():
            value = line.removeprefix("Patient values used: ")
            if value != line and value != FIXED_DOSE and value not in found:
                found.append(value)
    return found


def dtstamp_from_env(environ: Mapping[str, str] | None = None) -> dt.datetime | None:
    """SOURCE_DATE_EPOCH (seconds since 1970), for reproducible files; None when unset."""
    env = os.environ if environ is None else environ
    value = env.get("SOURCE_DATE_EPOCH")
    if value is None:
        return None
    try:
        return dt.datetime.fromtimestamp(int(value), UTC)
    except (ValueError, OverflowError, OSError):
        raise CalendarError(f"SOURCE_DATE_EPOCH={value!r}: give whole seconds since 1970, or unset it") from None


def existing_calendar(path: str | Path) -> bytes | None:
    """The calendar file about to be replaced (for SEQUENCE); refuses to replace anything else."""
    target = Path(path)
    if not target.is_file():
        return None
    data = target.read_bytes()
    if not data.lstrip().upper().startswith(b"BEGIN:VCALENDAR"):
        raise CalendarError(f"{target} exists and is not an iCalendar file; choose another {option('ics')} path")
    return data


def write_ics(path: str | Path, plan: Plan | Sequence[Plan], **options: Any) -> None:
    """Write the plan's calendar to ``path`` atomically, reading the file it replaces for SEQUENCE."""
    write_atomic(path, plan_to_ics(plan, previous=existing_calendar(path), **options))


__all__ = [
    "CalendarError",
    "local_zone_key",
    "parse_remind",
    "parse_time",
    "patient_values",
    "plan_events",
    "plan_key",
    "plan_resources",
    "plan_to_ics",
    "read_previous",
    "replaces",
    "series_key",
    "uid_prefix",
    "write_ics",
    "zone",
]
