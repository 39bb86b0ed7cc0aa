"""The terminal table: a header naming regimen, source, patient and start, the rows, totals and notes."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from regimen.engine.plan import drugs_of_several_components
from regimen.engine.timing import span_text
from regimen.model import Administration, how_given
from regimen.quantities.clock import tzinfo_for
from regimen.quantities.exact import amount_text, format_decimal, format_fraction

if TYPE_CHECKING:  # pragma: no cover
    from regimen.engine.plan import Plan

DISCLAIMER = "Research software: verify every dose against the protocol and local policy before use."


#: The narrowest the last (working) column is wrapped to: below this, lines run on rather than wrap word by word.
MIN_WRAP = 30
_NBSP = "\u00a0"
_NUMBER_UNIT = re.compile(r"(?<=\d) (?=[A-Za-zµ%°²])")  # '21.6 mg', '24 h': a number is never parted from its unit


def wrap(text: str, room: int, indent: str = "") -> list[str]:
    """``text`` wrapped at spaces to ``room`` columns, never between a number and its unit, never cutting a word."""
    kept = _NUMBER_UNIT.sub(_NBSP, text)
    lines = textwrap.wrap(kept, room, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)
    return [line.replace(_NBSP, " ") for line in lines] or [text]


def columns(
    headers: Sequence[str], rows: Sequence[Sequence[str]], gap: str = "  ", width: int | None = None
) -> list[str]:
    """Left-aligned text columns; the last column is not padded. With ``width`` (a terminal's), the last column is
    wrapped at spaces to fit, its continuation lines starting under it; nothing is cut."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    indent = sum(widths[:-1]) + len(gap) * (len(widths) - 1)
    room = None if width is None else max(width - indent, MIN_WRAP)

    def line(cells: Sequence[str]) -> list[str]:
        padded = [c.ljust(w) for c, w in zip(cells[:-1], widths[:-1], strict=True)]
        last = wrap(cells[-1], room) if room else [cells[-1]]
        first, rest = last[0], last[1:]
        return [gap.join([*padded, first]).rstrip(), *(" " * indent + more for more in rest)]

    rule = ["-" * w for w in widths[:-1]] + ["-" * min(widths[-1], room or widths[-1])]
    return [*line(headers), *line(rule), *(text for r in rows for text in line(r))]


def patient_line(plan: Plan) -> str:
    p = plan.patient
    parts = []
    if p.weight_kg is not None:
        parts.append(f"weight {format_fraction(p.weight_kg)} kg")
    if p.bsa_m2 is not None:
        parts.append(f"BSA {format_fraction(p.bsa_m2)} m²")
    if p.age_years is not None:
        parts.append(f"age {format_fraction(p.age_years)} years")
    if p.height_cm is not None:
        parts.append(f"height {format_fraction(p.height_cm)} cm")
    if p.sex is not None:
        parts.append(f"sex {p.sex}")
    return ", ".join(parts) or "no patient values needed"


def header_lines(plan: Plan) -> list[str]:
    reg = plan.regimen
    version = f", version {reg.version}" if reg.version else ""
    status = f" ({reg.status})" if reg.status else ""
    lines = [f"{reg.id}: {reg.name}{version}{status}"]
    if reg.indication:
        lines.append(f"Indication: {reg.indication}")
    lines.append(f"Source: {reg.citation}")
    if reg.shadows is not None:  # a user folder's file of a bundled id: say which file this is
        lines.append(f"File: {reg.path} (shadows the bundled {reg.id})")
    lines.append(f"Patient: {patient_line(plan)}")
    for w in plan.patient.working:
        lines.append(f"  {w}")
    lines.append(f"Start: {plan.start.isoformat()}" if plan.start else "Start: no date given (use --start YYYY-MM-DD)")
    return lines


def method_text(r: Administration) -> str:
    """How a row is given, as the table says it: "continuous infusion (day 1 of 4)", "not stated"."""
    how = how_given(r.method, r.route)
    if how is None:
        return "not stated"
    if r.infusion is not None:
        return f"{how} (day {r.infusion.day_index} of {r.infusion.days})"
    if r.dose_number is not None:
        return f"{how} (dose {r.dose_number} of {r.doses_per_day})"
    return how


@dataclass(frozen=True, slots=True)
class PlanTable:
    """The plan's table as cells of text, as the terminal shows it and the web page lays it out: one row per
    administration, the totals per cycle and for the course."""

    headers: list[str]
    rows: list[list[str]]
    conditions: list[str | None]  # each row's condition ("age ≤ 60 years"), None when it always applies
    cycle_headers: list[str]
    cycle_totals: list[list[str]]
    course_headers: list[str]
    course_totals: list[list[str]]


#: How a row of supportive care (premedication, hydration, growth factor...) is marked apart from the anticancer drugs.
SUPPORTIVE_MARK = " [supportive]"


def plan_table(plan: Plan) -> PlanTable:
    rnd = plan.rounding
    phased = plan.regimen.phased
    # a plan made without a value a rule needs marks the rows and totals of each outcome ("only if age ≤ 60")
    conditional = any(r.condition for r in plan.administrations) or any(t.condition for t in plan.totals)
    only = ["Only if"] if conditional else []
    timed = plan.time is not None  # with a time of day: when each administration starts and ends
    zone = tzinfo_for(plan.tz) if timed else None
    headers = [
        *(["Phase"] if phased else []),
        "Cycle",
        "Day",
        "Date",
        *(["Time"] if timed else []),
        "Drug",
        "Dose",
        *only,
        "Rate",
        "Route",
        "Method",
        "Working",
    ]
    # a drug given by several components (a bolus and a pump) is named by component
    shared = drugs_of_several_components(plan.administrations)
    rows = []
    for r in plan.administrations:
        rate = f"{format_decimal(rnd(r.rate))} {r.rate_unit}" if r.rate is not None else ""
        cells = [
            *([r.phase] if phased else []),
            str(r.cycle),
            str(r.day),
            r.date.isoformat() if r.date else "",
            *([span_text(r, zone) or "not known"] if zone is not None else []),
            (r.component if r.drug in shared else r.drug) + (SUPPORTIVE_MARK if r.role == "supportive" else ""),
            amount_text(r.dose, r.dose_unit, rnd),
            *([r.condition or ""] if conditional else []),
            rate,
            r.route or "not stated",
            method_text(r),
            r.calculation,
        ]
        rows.append(cells)
    cycle_totals = [
        [
            *([t.phase or ""] if phased else []),
            str(t.cycle),
            t.component or t.drug,
            amount_text(t.amount, t.unit, rnd),
            *([t.condition or ""] if conditional else []),
        ]
        for t in plan.totals
        if t.cycle is not None
    ]
    course = [
        [
            t.component or t.drug,
            amount_text(t.amount, t.unit, rnd),
            *([t.condition or ""] if conditional else []),
        ]
        for t in plan.totals
        if t.cycle is None
    ]
    return PlanTable(
        headers=headers,
        rows=rows,
        conditions=[r.condition for r in plan.administrations],
        cycle_headers=[*(["Phase"] if phased else []), "Cycle", "Drug", "Total", *only],
        cycle_totals=cycle_totals,
        course_headers=["Drug", "Total", *only],
        course_totals=course,
    )


def render_table(plan: Plan, width: int | None = None, emphasis: Callable[[str], str] | None = None) -> str:
    """The plan as a text table. ``width``: a terminal's columns, to which the working is wrapped; ``emphasis``:
    how a terminal marks the warnings (colour); the plain text by default, as files and pipes get it."""
    table = plan_table(plan)
    out = [*header_lines(plan), "", *columns(table.headers, table.rows, width=width), ""]
    if any(r.role == "supportive" for r in plan.administrations):
        out += [
            f"{SUPPORTIVE_MARK.strip()}: supportive care, not counted in the totals below (anticancer drugs only).",
            "",
        ]
    out += ["Totals per cycle:", *columns(table.cycle_headers, table.cycle_totals), ""]
    out += ["Totals for the course:", *columns(table.course_headers, table.course_totals), ""]

    def items(lines: Sequence[str]) -> list[str]:
        if width is None:
            return [f"- {text}" for text in lines]
        room = max(width, MIN_WRAP)
        return ["\n".join(wrap(f"- {text}", room, "  ")) for text in lines]

    if plan.warnings:
        mark = emphasis or (lambda text: text)
        out += [mark("Warnings:"), *(mark(item) for item in items(plan.warnings)), ""]
    out += ["Notes:", *items(plan.notes), "", DISCLAIMER]
    return "\n".join(out) + "\n"
