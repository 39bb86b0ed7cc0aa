"""The terminal table: a header naming regimen, source, patient and start, the rows, totals and notes."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from regimen.engine.plan import drugs_of_several_components
from regimen.engine.timing import span_text
from regimen.export import DISCLAIMER as DISCLAIMER  # re-exported: where the outputs have found it
from regimen.model import Administration, how_given
from regimen.quantities.clock import tzinfo_for
from regimen.quantities.exact import amount_text, format_decimal, format_fraction

if TYPE_CHECKING:  # pragma: no cover
    from regimen.engine.plan import Plan

#: The narrowest the last (working) column is wrapped to before the other columns are wrapped too.
MIN_WRAP = 30
_NBSP = "\u00a0"
_NUMBER_UNIT = re.compile(r"(?<=\d) (?=[A-Za-zµ%°²])")  # '21.6 mg', '24 h': a number is never parted from its unit
_SHORT_ASIDE = re.compile(r"\([^()]{1,14}\)")  # '(from 168.72)', '(day 1 of 4)', '(+1 d)': kept on one line
_OPERATOR = re.compile(r"(?<=[×÷=]) ")  # '× 24 h': an operator never ends a line


def _unbreakable(text: str) -> str:
    """``text`` with the spaces it must not be wrapped at made no-break: a number and its unit, a short aside,
    an operator and what follows it."""
    text = _SHORT_ASIDE.sub(lambda m: m.group().replace(" ", _NBSP), text)
    return _OPERATOR.sub(_NBSP, _NUMBER_UNIT.sub(_NBSP, text))


def wrap(text: str, room: int, indent: str = "") -> list[str]:
    """``text`` wrapped at spaces to ``room`` columns, never between a number and its unit or inside a short aside,
    never cutting a word."""
    kept = _unbreakable(text)
    lines = textwrap.wrap(kept, room, subsequent_indent=indent, break_long_words=False, break_on_hyphens=False)
    return [line.replace(_NBSP, " ") for line in lines] or [text]


def _longest_word(text: str) -> int:
    """The narrowest ``text`` can be wrapped to: its longest run that is never parted (a word, a number and unit)."""
    return max((len(word) for word in _unbreakable(text).split(" ")), default=0)


def fitted_widths(headers: Sequence[str], rows: Sequence[Sequence[str]], room: int) -> list[int] | None:
    """Each column's width so that the columns fit in ``room`` characters (gaps left out), or None when they cannot
    without cutting a word. The last (working) column gives way first, down to ``MIN_WRAP``; then the widest of
    the others, one character at a time, so they end up balanced; then the last column down to its longest word."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    least = [max([_longest_word(h), *(_longest_word(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    excess = sum(widths) - room
    if excess <= 0:
        return widths
    floor = max(least[-1], min(widths[-1], MIN_WRAP))
    give = min(excess, widths[-1] - floor)
    widths[-1] -= give
    excess -= give
    while excess > 0:
        shrinkable = [i for i in range(len(widths) - 1) if widths[i] > least[i]]
        if not shrinkable:
            break
        widest = max(shrinkable, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    give = min(excess, widths[-1] - least[-1])
    widths[-1] -= give
    excess -= give
    return widths if excess <= 0 else None


def columns(
    headers: Sequence[str], rows: Sequence[Sequence[str]], gap: str = "  ", width: int | None = None
) -> list[str]:
    """Left-aligned text columns; the last column is not padded. With ``width`` (a terminal's) the table fits it:
    columns empty in every row are left out and cells are wrapped at spaces under their column (the last, the
    working, first), never between a number and its unit, nothing cut. The last column may instead go on its own
    lines under each row ("  Working: ..."): of the two layouts that fit, the one of fewer lines is shown. When
    neither fits (a narrow terminal), each row is one paragraph, its cells named by their columns."""
    if width is None:
        return _grid(headers, rows, [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)], gap)
    kept = [i for i in range(len(headers)) if any(r[i] for r in rows)] or list(range(len(headers)))
    headers = [headers[i] for i in kept]
    rows = [[r[i] for i in kept] for r in rows]
    layouts = []
    fitted = fitted_widths(headers, rows, width - len(gap) * (len(headers) - 1))
    if fitted is not None:
        layouts.append(_grid(headers, rows, fitted, gap))
    *firsts, last = headers
    fitted = fitted_widths(firsts, [r[:-1] for r in rows], width - len(gap) * (len(firsts) - 1))
    if len(firsts) > 1 and fitted is not None:
        below = _grid(firsts, [], fitted, gap)
        for r in rows:
            below += _line(r[:-1], fitted, gap)
            below += wrap(f"  {last}:{_NBSP}{r[-1]}", width, "    ") if r[-1] else []
        layouts.append(below)
    if not layouts:
        return [text for r in rows for text in wrap(_named(headers, r), width, "  ")]
    return min(layouts, key=len)


def _grid(headers: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int], gap: str) -> list[str]:
    """The header, a rule under each column, the rows."""
    lines = [*_line(headers, widths, gap), *_line(["-" * w for w in widths], widths, gap)]
    return lines + [text for r in rows for text in _line(r, widths, gap)]


def _line(cells: Sequence[str], widths: Sequence[int], gap: str) -> list[str]:
    """One row's text: each cell wrapped to its column's width (only when longer), the lines side by side; the last
    column is not padded."""
    parts = [wrap(c, w) if len(c) > w else [c] for c, w in zip(cells, widths, strict=True)]
    depth = max(len(p) for p in parts)
    padded = [[*p, *[""] * (depth - len(p))] for p in parts]
    return [
        gap.join([*(p[k].ljust(w) for p, w in zip(padded[:-1], widths[:-1], strict=True)), padded[-1][k]]).rstrip()
        for k in range(depth)
    ]


def _named(headers: Sequence[str], cells: Sequence[str]) -> str:
    """A row as one paragraph: "Cycle: 1; Day: 1; Drug: ...", empty cells left out."""
    return "; ".join(f"{h}:{_NBSP}{c}" for h, c in zip(headers, cells, strict=True) if c)


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
    if p.scr_mg_dl is not None:  # the kidney values as given: the working shows what was made of them
        parts.append(f"serum creatinine {format_fraction(p.scr_mg_dl)} mg/dL")
    if p.gfr_ml_min is not None:
        parts.append(f"GFR {format_fraction(p.gfr_ml_min)} mL/min (measured, --gfr)")
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
    """The plan as a text table. ``width``: a terminal's columns, to which everything is fitted (see ``columns``);
    ``emphasis``: how a terminal marks the warnings (colour); the plain text by default, as files and pipes get it."""
    table = plan_table(plan)

    def fitted(lines: Sequence[str], indent: str) -> list[str]:
        if width is None:
            return list(lines)
        room = max(width, MIN_WRAP)
        return ["\n".join(wrap(text, room, indent + " " * (len(text) - len(text.lstrip())))) for text in lines]

    out = [*fitted(header_lines(plan), "  "), "", *columns(table.headers, table.rows, width=width), ""]
    if any(r.role == "supportive" for r in plan.administrations):
        legend = f"{SUPPORTIVE_MARK.strip()}: supportive care, not counted in the totals below (anticancer drugs only)."
        out += [*fitted([legend], ""), ""]
    out += ["Totals per cycle:", *columns(table.cycle_headers, table.cycle_totals, width=width), ""]
    out += ["Totals for the course:", *columns(table.course_headers, table.course_totals, width=width), ""]
    if plan.warnings:
        mark = emphasis or (lambda text: text)
        out += [mark("Warnings:"), *(mark(item) for item in fitted([f"- {w}" for w in plan.warnings], "  ")), ""]
    out += ["Notes:", *fitted([f"- {n}" for n in plan.notes], "  "), "", *fitted([DISCLAIMER], "")]
    return "\n".join(out) + "\n"
