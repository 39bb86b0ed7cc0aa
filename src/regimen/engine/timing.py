"""Times of day: when each administration starts and ends, and the order the protocol gives within a day.

Given a time of day and a zone, the first drug of each treatment day starts at that wall-clock time on its date;
a component with ``after`` starts when the latest administration of the component it follows (in the same
cycle, on or before its day) ends, plus its ``gap``, and never before its own day's time. "Dacarbazine on day 6
after the 5-day oblimersen infusion" therefore starts 120 hours of elapsed time after the infusion started when
that is later than 08:00 on day 6 (09:00 on the day clocks go forward), and at 08:00 when the infusion ended
before it (07:00 on the day clocks go back): never during the infusion, always on its own day.

An administration ends after its stated duration (a continuous infusion's elapsed hours, an infusion's
duration). A bolus, an IV push or an oral, SC or IM dose is given at its start (it ends when it starts). An
infusion whose duration the source does not state has no end, so whatever follows it has no start: the plan says
so rather than guess. Only the first dose of a drug given several times a day gets a time (the source gives the
others none).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction

from regimen.engine.preparations import infusion_key
from regimen.model import Administration, Component, Regimen
from regimen.quantities.clock import start_instant

DAY = dt.timedelta(hours=24)


def elapsed(hours: Fraction) -> dt.timedelta:
    """Exact hours as a timedelta of whole seconds (calendars hold whole seconds)."""
    return dt.timedelta(seconds=round(hours * 3600))


def _instant_dose(comp: Component) -> bool:
    """Given at once: a bolus, an IV push, or a drug whose route says how (oral, SC, IM) with no method."""
    return comp.method in ("bolus", "IV push") or (comp.method is None and comp.how is not None)


@dataclass(slots=True)
class _Event:
    """One administration as an event: a row, or the first row of a continuous infusion."""

    row: Administration
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    note: str | None = None
    done: bool = False


def assign_times(regimen: Regimen, rows: list[Administration], time: dt.time, tz: dt.tzinfo) -> list[Administration]:
    """The rows with their start and end instants (UTC) and how each start was found."""
    components = {(p.id, c.id): c for p in regimen.phases for c in p.components}
    events: dict[tuple[object, ...], _Event] = {}
    key_of: list[tuple[object, ...]] = []
    for r in rows:
        # one event per preparation: a pump's day shares (of one branch, when a rule's value is not given) are one
        key = infusion_key(r) or ("row", r.phase, r.cycle, r.component, r.day, r.dose_number, r.condition)
        events.setdefault(key, _Event(r))
        key_of.append(key)
    by_component: dict[tuple[str, int, str], list[_Event]] = {}
    for ev in events.values():
        by_component.setdefault((ev.row.phase, ev.row.cycle, ev.row.component), []).append(ev)

    def resolve(ev: _Event, stack: tuple[int, ...] = ()) -> None:
        if ev.done:
            return
        r = ev.row
        comp = components[(r.phase, r.component)]
        assert r.date is not None
        if r.dose_number is not None and r.dose_number > 1:
            ev.note = f"dose {r.dose_number} of {r.doses_per_day} a day: the source gives no time for it"
        elif comp.before is not None and id(ev) not in stack:
            _precede(ev, comp, stack)
            ev.done = True
            return
        elif comp.after is None or id(ev) in stack:
            ev.start, note = start_instant(r.date, time, tz)
            ev.note = note
        else:
            before = [
                e
                for e in by_component.get((r.phase, r.cycle, comp.after), [])
                if e.row.course_day <= r.course_day and (r.condition is None or e.row.condition in (None, r.condition))
            ]
            if not before:  # what it follows is not given in this cycle: it starts the day, said so
                ev.start, note = start_instant(r.date, time, tz)
                ev.note = _absent(comp.after, "in this cycle", note)
            else:
                pred = max(before, key=lambda e: (e.row.course_day, e.row.dose_number or 0))
                resolve(pred, (*stack, id(ev)))
                gap = elapsed(comp.gap_hours) if comp.gap_hours is not None else dt.timedelta(0)
                wait = f" + {comp.gap_text}" if comp.gap_text else ""
                if pred.end is None:
                    ev.note = f"after {comp.after}, whose duration the source does not state: start not known"
                else:
                    own, own_note = start_instant(r.date, time, tz)  # never before its own day's time
                    if pred.end + gap >= own:
                        ev.start, ev.note = pred.end + gap, f"starts when {comp.after} ends{wait}"
                    else:
                        ev.start, ev.note = own, own_note
        if ev.start is not None:
            if r.infusion is not None:
                ev.end = ev.start + elapsed(r.infusion.hours)
            elif r.duration_hours is not None:
                ev.end = ev.start + elapsed(r.duration_hours)
            elif _instant_dose(comp):
                ev.end = ev.start
        ev.done = True

    def _precede(ev: _Event, comp: Component, stack: tuple[int, ...]) -> None:
        """A component given before another ends ``gap`` before that one starts (premedication, pre-hydration)."""
        r = ev.row
        assert comp.before is not None
        target = [e for e in by_component.get((r.phase, r.cycle, comp.before), []) if e.row.course_day == r.course_day]
        if not target:  # not given that day (left out, say): the day's time, said so
            assert r.date is not None
            ev.start, note = start_instant(r.date, time, tz)
            ev.note = _absent(comp.before, "on this day", note)
            return
        nxt = min(target, key=lambda e: e.row.dose_number or 0)
        resolve(nxt, (*stack, id(ev)))
        gap = elapsed(comp.gap_hours) if comp.gap_hours is not None else dt.timedelta(0)
        own = elapsed(r.duration_hours) if r.duration_hours is not None else None
        if nxt.start is None or (own is None and not _instant_dose(comp)):
            ev.note = f"before {comp.before}, whose start (or this one's duration) is not known: start not known"
            return
        ev.start = nxt.start - gap - (own or dt.timedelta(0))
        ev.end = nxt.start - gap
        wait = f"{comp.gap_text} " if comp.gap_text else ""
        ev.note = f"ends {wait}before {comp.before} starts"

    for ev in events.values():
        resolve(ev)
    out = []
    for r, key in zip(rows, key_of, strict=True):
        ev = events[key]
        start, end = ev.start, ev.end
        if r.infusion is not None and start is not None:  # this day's part of the infusion
            start = start + DAY * (r.infusion.day_index - 1)
            end = min(start + DAY, ev.end) if ev.end is not None else None
        # the row with its instants, as dataclasses.replace gives it without running the constructor for each row
        # (more than half of a timed plan's time; regimen.engine.fastpath, point 3)
        out.append(r.moved(start=start, end=end, time_note=ev.note))
    return out


def wall(instant: dt.datetime, tz: dt.tzinfo) -> str:
    """An instant as the wall clock shows it in ``tz``, ISO 8601 with its offset: 2026-12-01T08:00:00+01:00."""
    return instant.astimezone(tz).isoformat()


def span_text(r: Administration, tz: dt.tzinfo) -> str:
    """'08:00–10:00', '08:00' (given at once), '08:00–08:00 (+1 d)' for the table; '' without a time."""
    if r.start is None:
        return ""
    begin = r.start.astimezone(tz)
    text = begin.strftime("%H:%M")
    if r.date is not None and begin.date() != r.date:
        # a drug that starts when what it follows ends may start past midnight (a DST change within a 120 h
        # infusion begun at 23:00): the table says so beside the row's day
        shift = (begin.date() - r.date).days
        text += f" (next day, {begin.date().isoformat()})" if shift == 1 else f" ({begin.date().isoformat()})"
    if r.end is None or r.end == r.start:
        return text
    finish = r.end.astimezone(tz)
    days = (finish.date() - begin.date()).days
    later = f" (+{days} d)" if days else ""
    return f"{text}–{finish.strftime('%H:%M')}{later}"


__all__ = ["assign_times", "elapsed", "span_text", "wall"]


def _absent(anchor: str, when: str, note: str | None) -> str:
    """The time note of a row timed before or after ``anchor``, which is not given ``when``: at the day's time."""
    said = f"{anchor} is not given {when}: at the day's time"
    return f"{said}; {note}" if note else said
