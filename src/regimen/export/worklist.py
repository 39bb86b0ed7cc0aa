"""The worklist as it is written (``regimen due``: CSV, JSON, the table, a calendar; the web app's worklist page):
one module apart from the course's own outputs (:mod:`regimen.export.course`), so that a worklist is written without
loading the plan engine (issue 29)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import operator
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from regimen.engine.courses.worklist import DueRow
from regimen.export import DISCLAIMER
from regimen.export.folding import to_ical
from regimen.export.jsontext import indented_json
from regimen.quantities.clock import tzinfo_for
from regimen.quantities.exact import decimal_to_json, exact_decimal, exact_text


def local_time(instant: dt.datetime | None, tz: str | None) -> str:
    if instant is None:
        return ""
    return instant.astimezone(tzinfo_for(tz)).strftime("%H:%M")


#: The worklist's columns (CSV and JSON): one type each. ``dose`` and ``rate`` are numbers rounded by the plan's rule
#: (in ``dose_unit`` and ``rate_unit``), as ``regimen expand`` writes them; the exact dose is ``dose_exact`` (text)
#: and ``dose_exact_num`` / ``dose_exact_den`` (integers, lowest terms); what the table shows ("1,800 mg",
#: "400 mcg") is ``dose_text`` and ``rate_text``, apart (issue 26).
DUE_COLUMNS = (
    "date",
    "time_utc",
    "time_local",
    "tz",
    "course",
    "regimen",
    "phase",
    "cycle",
    "day",
    "drug",
    "component",
    "dose_number",
    "dose",
    "dose_exact",
    "dose_unit",
    "rate",
    "rate_unit",
    "route",
    "method",
    "duration_h",
    "preparation",
    "calculation",
    "condition",
    "warnings",
    "dose_text",
    "rate_text",
    "dose_exact_num",
    "dose_exact_den",
    "role",
)


def due_record(r: DueRow) -> dict[str, Any]:
    return {
        "date": r.date.isoformat(),
        "time_utc": r.start.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if r.start else None,
        "time_local": local_time(r.start, r.tz) or None,
        "tz": r.tz,
        "course": r.course_id,
        "regimen": r.regimen_id,
        "phase": r.phase,
        "cycle": r.cycle,
        "day": r.day,
        "drug": r.drug,
        "component": r.component,
        "dose_number": r.dose_number,
        "dose": _number(r.dose_shown),
        "dose_exact": exact_text(r.dose),
        "dose_unit": r.unit,
        "rate": _number(r.rate_shown),
        "rate_unit": r.rate_unit,
        "route": r.route,
        "method": r.method,
        "duration_h": _number(exact_decimal(r.hours, 6)) if r.hours is not None else None,
        "preparation": r.preparation,
        "calculation": r.calculation,
        "condition": r.condition,
        "warnings": r.warnings,
        "dose_text": r.dose_text,
        "rate_text": r.rate_text,
        "dose_exact_num": r.dose.numerator,
        "dose_exact_den": r.dose.denominator,
        "role": r.role,
    }


def _number(d: Decimal | None) -> int | float | None:
    return None if d is None else decimal_to_json(d)


def due_csv(rows: Sequence[DueRow]) -> str:
    # each record's values in the columns' order, by one itemgetter: the same bytes as csv.DictWriter, which checks
    # every record's keys and looks each value up one by one (a quarter of the CSV of a worklist of 12,000 rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(DUE_COLUMNS)
    writer.writerows(map(_IN_COLUMNS, map(due_record, rows)))
    return out.getvalue()


_IN_COLUMNS = operator.itemgetter(*DUE_COLUMNS)


def due_json(rows: Sequence[DueRow], first: dt.date, last: dt.date) -> str:
    data = {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "administrations": [due_record(r) for r in rows],
        "disclaimer": DISCLAIMER,
    }
    return indented_json(data)


DUE_HEADER = ("Date", "Time", "Course", "Drug", "Dose", "Route", "Preparation", "Working")


def due_table(rows: Sequence[DueRow]) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    """The worklist's header and rows (the terminal's and the web page's): :data:`DUE_HEADER`, with a column "Only if"
    beside the dose when a row is given only if a rule holds (a course started without the age its rule needs holds
    each outcome's rows), so that no such row reads as a dose for every patient."""
    marked = any(r.condition for r in rows)
    header = (*DUE_HEADER[:5], "Only if", *DUE_HEADER[5:]) if marked else DUE_HEADER
    return header, [due_row(r, marked) for r in rows]


def due_row(r: DueRow, marked: bool = False) -> tuple[str, ...]:
    """One administration of the worklist, in the order of :func:`due_table`'s header; ``marked``: with the column
    "Only if"."""
    return (
        r.date.isoformat(),
        local_time(r.start, r.tz) + (f" {r.tz}" if r.start and r.tz else ""),
        r.course_id,
        r.drug if r.role == "anticancer" else f"{r.drug} [supportive]",
        r.dose_text,
        *((r.condition or "",) if marked else ()),
        r.route or "",
        r.preparation or "",
        r.calculation + (f"; {r.warnings}" if r.warnings else ""),
    )


def due_text(rows: Sequence[DueRow], first: dt.date, last: dt.date) -> str:
    span = first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"
    lines = [f"Due {span}: {len(rows)} administration(s) across {len({r.course_id for r in rows})} course(s)", ""]
    if rows:
        header, cells = due_table(rows)
        table = [header, *cells]
        widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
        for row in table:
            lines.append("  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1])
        lines.append("")
        if any(r.role != "anticancer" for r in rows):
            lines += [
                "[supportive]: supportive care (premedication, hydration, ...), given with the anticancer drugs.",
                "",
            ]
    lines.append(DISCLAIMER)
    return "\n".join(lines) + "\n"


def due_ics(
    rows: Sequence[DueRow], dtstamp: dt.datetime | None = None, revisions: Mapping[str, int] | None = None
) -> bytes:
    """The worklist as a calendar: one event per administration, its UID from the course, phase, cycle, day, drug
    and dose of the day (never a date, a dose or a patient value), so that a later export updates each event, and
    two doses of one drug on one day are two events. ``revisions``: each course's number of recorded changes, the
    events' SEQUENCE."""
    import hashlib

    import icalendar

    from regimen.export.ics import clean_text, new_calendar  # lazy: icalendar only for this format

    stamp = (dtstamp or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(microsecond=0)
    cal = new_calendar("regimen worklist")
    for r in rows:
        event = icalendar.Event()
        key = "\x1f".join(
            (r.course_id, r.phase, str(r.cycle), str(r.day), r.component, str(r.dose_number or ""), r.condition or "")
        )
        event.add("uid", f"regimen-due-{hashlib.sha256(key.encode()).hexdigest()[:24]}")
        if r.start is not None:
            event.add("dtstart", r.start.astimezone(dt.UTC))
            if r.hours:
                event.add("dtend", r.start.astimezone(dt.UTC) + dt.timedelta(seconds=float(r.hours * 3600)))
        else:
            event.add("dtstart", r.date)
            event.add("dtend", r.date + dt.timedelta(days=1))
        # the condition first, as the plan's own calendar writes it: a calendar that cuts a long title keeps it
        only = f"Only if {r.condition}: " if r.condition else ""
        event.add("summary", clean_text(f"{only}{r.course_id}: {r.drug} {r.dose_text}", line=True))
        text = [f"Course {r.course_id} ({r.regimen_id}), cycle {r.cycle} day {r.day}", f"Working: {r.calculation}"]
        if r.condition:  # an outcome of a rule whose value the course lacks, as the plan's calendar marks it
            text.append(f"Only if {r.condition}: given only to a patient for whom this holds")
            event.add("status", "TENTATIVE")
        if r.preparation:
            text.append(f"Preparation: {r.preparation}")
        if r.warnings:
            text.append(f"Warnings: {r.warnings}")
        text.append(DISCLAIMER)
        event.add("description", clean_text("\n".join(text)))
        # SEQUENCE: the course's number of recorded changes. The worklist is written afresh each time (a file or
        # standard output), with no earlier copy to compare with, so it is derived from the course's records: every
        # change to an event (a delay, new patient values, a dose change, an omission, a stop) is a new record, so
        # the number rises whenever the event changes, and it is the same on every run and every workstation. It
        # also rises when only another event of the course changed (a client then reads an unchanged event again,
        # which is harmless); telling those apart would need every earlier state of the course replayed.
        event.add("sequence", (revisions or {}).get(r.course_id, 0))
        event.add("dtstamp", stamp)
        cal.add_component(event)
    return to_ical(cal)


__all__ = [
    "DUE_COLUMNS",
    "DUE_HEADER",
    "due_csv",
    "due_ics",
    "due_json",
    "due_record",
    "due_row",
    "due_table",
    "due_text",
    "local_time",
]
