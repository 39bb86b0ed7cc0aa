"""A treatment course and the day unit's worklist, as text, CSV, JSON and iCalendar (issue 12)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from regimen.engine.courses import CourseRow, CourseView, Rendered, history_line
from regimen.engine.courses.describe import status_of
from regimen.engine.plan import Plan, exact_sum
from regimen.engine.preparations import Preparation, grouped, preparation_words
from regimen.engine.rows import exact_text, preparation_record, row_record
from regimen.export.jsontext import indented_json
from regimen.export.table import DISCLAIMER, patient_line
from regimen.export.worklist import (  # the worklist's outputs, where its readers have found them
    DUE_HEADER,
    due_csv,
    due_ics,
    due_json,
    due_row,
    due_table,
    due_text,
    local_time,
)
from regimen.model import Administration
from regimen.quantities.clock import tzinfo_for
from regimen.quantities.exact import amount_text

STATUS_WORDS = {
    "planned": "planned",
    "verified": "verified",
    "given": "GIVEN",
    "omitted": "OMITTED",
    "stopped": "stopped",
}


def _row_of(cr: CourseRow) -> Administration:
    return cr.row


def _plan_of(view: CourseView) -> dict[int, Plan]:
    return {id(a): p for p in view.plans for a in p.administrations}


def _dose(prep: Preparation, crs: Sequence[CourseRow]) -> str:
    given = [cr.given for cr in crs if cr.given is not None]
    if given:
        return amount_text(exact_sum([g.dose for g in given]), given[0].unit, prep.rounding)
    return prep.dose_text


def _status(crs: Sequence[CourseRow]) -> str:
    """One preparation's status: its rows' (an infusion whose days differ: each, in day order); planned and
    verified by a pharmacist as it stands: verified (issue 28)."""
    return status_of(crs)


def _working(prep: Preparation, crs: Sequence[CourseRow], tz: str | None) -> str:
    parts = []
    cr = crs[0]
    planned = f"{prep.dose_text}: {prep.calculation}"
    if cr.given is not None:
        g = cr.given
        at = f" at {g.at.astimezone(tzinfo_for(tz)).strftime('%Y-%m-%d %H:%M')} ({tz or 'UTC'})" if g.at else ""
        lot = f", lot {g.lot}" if g.lot else ""
        parts.append(f"given{at}{lot} (change {g.change}); planned {planned}")
    elif cr.status == "omitted":
        parts.append(f"omitted (change {cr.change}); was {planned}")
    elif cr.status == "stopped":
        parts.append(f"course stopped; was {planned}")
    else:
        parts.append(prep.calculation)
    if prep.continuous:
        parts.append(preparation_words(prep, tz))
    parts.extend(dict.fromkeys(m for c in crs for m in c.marks))
    parts.extend(f"warning: {w}" for w in prep.warnings)
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class CourseParts:
    """The course as it stands, in the words of ``regimen course show``: for the terminal and for the web page."""

    header: list[str]
    warnings: list[str]
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]  # one per preparation (a continuous infusion's days are one), as ``columns`` orders
    statuses: list[str]  # each row's status: planned, given, omitted, stopped (of its first day)
    counts: str
    given: str
    notes: list[str]
    history: list[str]


def course_parts(view: CourseView, started: tuple[dt.datetime, str, str] | None = None) -> CourseParts:
    s, reg = view.start, view.regimen
    version = f", version {reg.version}" if reg.version else ""
    header = [
        f"Course {s.course_id}: {reg.id}{version} ({reg.name}); {view.status}",
        f"Regimen file recorded at the start: {s.regimen_file} (sha256 {s.regimen_sha256[:16]})",
        f"Source: {reg.citation}",
        f"Day 1: {s.start.isoformat()}" + (f", first drug at {s.time} ({s.tz or 'UTC'})" if s.time else ""),
        f"Patient values at the start: {patient_line(view.plans[0])}" if view.plans else "",
    ]
    if view.stopped is not None:
        header.append(f"Stopped from {view.stopped.isoformat()}")
    rows: list[tuple[str, ...]] = []
    statuses: list[str] = []
    counts: dict[str, int] = {}
    # a course started without a value a rule needs (an age) holds each outcome's rows, marked: the mark is a column
    # of its own beside the dose, as in 'regimen expand', so that no such row reads as a dose for every patient
    marked = any(cr.row.condition for cr in view.rows)
    # one line per preparation: a continuous infusion's days are one pump (issue 24)
    for prep, crs in grouped(view.rows, _row_of):
        r = prep.first
        cycle = str(r.cycle) if r.phase == "main" else f"{r.phase} {r.cycle}"
        status = _status(crs)
        rows.append(
            (
                "+".join(STATUS_WORDS[x] for x in status.split("+")),
                cycle,
                f"{prep.days[0]}-{prep.days[-1]}" if len(prep.days) > 1 else str(r.day),
                r.date.isoformat() if r.date else "",
                local_time(r.start, s.tz if s.time else None),
                r.drug,
                _dose(prep, crs),
                *((r.condition or "",) if marked else ()),
                _working(prep, crs, s.tz),
            )
        )
        statuses.append(status.split("+")[0])
        counts[status] = counts.get(status, 0) + 1
    if view.given_totals:
        rounding = view.plans[0].rounding
        given = ", ".join(f"{drug} {amount_text(amount, unit, rounding)}" for drug, amount, unit in view.given_totals)
        given_line = f"Given so far (cumulative, as recorded): {given}"
    else:
        given_line = "Given so far: nothing recorded as given"
    history = []
    if started is not None:
        at, who, why = started
        history.append(
            f"#0 {at.astimezone(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')} {who}: started {reg.id} from "
            f"{s.start.isoformat()} (why: {why})"
        )
    history.extend(history_line(view, c) for c in view.changes)
    return CourseParts(
        header=[x for x in header if x],
        warnings=list(view.warnings),
        columns=("Status", "Cycle", "Day", "Date", "Time", "Drug", "Dose", *(["Only if"] if marked else []), "Working"),
        rows=rows,
        statuses=statuses,
        counts="Administrations: " + ", ".join(f"{n} {k}" for k, n in counts.items()),
        given=given_line,
        notes=[*view.notes, *(f"relative dose intensity: {i.working()}" for i in view.intensity)],
        history=history,
    )


def course_text(view: CourseView, started: tuple[dt.datetime, str, str] | None = None) -> str:
    """The course as it stands: header, warnings, every row with its status and working, given totals, history."""
    parts = course_parts(view, started)
    lines = [*parts.header, *(f"WARNING: {w}" for w in parts.warnings), ""]
    table = [parts.columns, *parts.rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(parts.columns) - 1)]
    for row in table:
        lines.append("  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths, strict=True)) + "  " + row[-1])
    lines += ["", parts.counts, parts.given, *(f"Note: {n}" for n in parts.notes), "", "History (append-only):"]
    lines += [*parts.history, "", DISCLAIMER]
    return "\n".join(lines) + "\n"


def course_record(view: CourseView, records: Mapping[str, Any]) -> dict[str, Any]:
    """The course as JSON: its records (start and changes, as stored) and the plan as it stands."""
    plan_of = _plan_of(view)
    rows = []
    for cr in view.rows:
        rec = row_record(plan_of[id(cr.row)], cr.row)
        rec["status"] = cr.status
        rec["status_change"] = cr.change
        rec["verified"] = cr.verified  # the pharmacist's verification of this dose as planned now (issue 28)
        rec["marks"] = list(cr.marks)
        rec["given"] = (
            {
                "dose": exact_text(cr.given.dose),
                "unit": cr.given.unit,
                "as_recorded": cr.given.text,
                "at": cr.given.at.isoformat() if cr.given.at else None,
                "lot": cr.given.lot,
                "change": cr.given.change,
            }
            if cr.given is not None
            else None
        )
        rows.append(rec)
    return {
        "course_id": view.course_id,
        "status": view.status,
        "stopped_from": view.stopped.isoformat() if view.stopped else None,
        "regimen": {"id": view.regimen.id, "version": view.regimen.version, "sha256": view.start.regimen_sha256},
        "records": dict(records),
        "rows": rows,
        "given_totals": [{"drug": d, "amount_exact": exact_text(a), "unit": u} for d, a, u in view.given_totals],
        # what is prepared and given, with its status: a continuous infusion once, whole (issue 24)
        "preparations": [
            {
                **preparation_record(prep, view.start.tz if view.start.time else None),
                "status": _status(crs),
                "given_exact": exact_text(exact_sum([cr.given.dose for cr in crs if cr.given is not None]))
                if any(cr.given is not None for cr in crs)
                else None,
            }
            for prep, crs in grouped(view.rows, _row_of)
        ],
        "warnings": list(view.warnings),
        "notes": list(view.notes),
        "dose_intensity": [
            {"drug": i.drug, "rdi_percent": exact_text(i.rdi * 100), "working": i.working()} for i in view.intensity
        ],
        "disclaimer": DISCLAIMER,
    }


def course_json(view: CourseView, records: Mapping[str, Any]) -> str:
    return indented_json(course_record(view, records))


def rendered(view: CourseView, records: Mapping[str, Any]) -> Rendered:
    """What ``course show`` prints (text, JSON and warnings), as the course book caches it with each change."""
    started = (dt.datetime.fromisoformat(records["started_at"]), records["started_by"], records["reason"])
    return Rendered(course_text(view, started), course_json(view, records), tuple(view.warnings))


# ---- the worklist ----------------------------------------------------------------------------------

__all__ = [
    "DUE_HEADER",
    "CourseParts",
    "course_json",
    "course_parts",
    "course_record",
    "course_text",
    "due_csv",
    "due_ics",
    "due_json",
    "due_row",
    "due_table",
    "due_text",
    "preparation_words",
    "rendered",
]
