"""The terminal table: a header naming regimen, source, patient and start, the rows, totals and notes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from regimen.engine.plan import drugs_of_several_components
from regimen.engine.timing import span_text
from regimen.model import Administration, how_given
from regimen.quantities.clock import tzinfo_for
from regimen.quantities.exact import amount_text, format_decimal, format_fraction

if TYPE_CHECKING:  # pragma: no cover
    from regimen.engine.plan import Plan

DISCLAIMER = "Research software: verify every dose against the protocol and local policy before use."


def columns(headers: Sequence[str], rows: Sequence[Sequence[str]], gap: str = "  ") -> list[str]:
    """Left-aligned text columns; the last column is not padded."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        padded = [c.ljust(w) for c, w in zip(cells[:-1], widths[:-1], strict=True)] + [cells[-1]]
        return gap.join(padded).rstrip()

    return [line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)]


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
    lines.append(f"Patient: {patient_line(plan)}")
    for w in plan.patient.working:
        lines.append(f"  {w}")
    lines.append(f"Start: {plan.start.isoformat()}" if plan.start else "Start: no date given (use --start YYYY-MM-DD)")
    return lines


def _method(r: Administration) -> str:
    how = how_given(r.method, r.route)
    if how is None:
        return "not stated"
    if r.infusion is not None:
        return f"{how} (day {r.infusion.day_index} of {r.infusion.days})"
    if r.dose_number is not None:
        return f"{how} (dose {r.dose_number} of {r.doses_per_day})"
    return how


def render_table(plan: Plan) -> str:
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
            r.component if r.drug in shared else r.drug,
            amount_text(r.dose, r.dose_unit, rnd),
            *([r.condition or ""] if conditional else []),
            rate,
            r.route or "not stated",
            _method(r),
            r.calculation,
        ]
        rows.append(cells)
    out = [*header_lines(plan), "", *columns(headers, rows), ""]
    total_rows = [
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
    out += [
        "Totals per cycle:",
        *columns([*(["Phase"] if phased else []), "Cycle", "Drug", "Total", *only], total_rows),
        "",
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
    out += ["Totals for the course:", *columns(["Drug", "Total", *only], course), ""]
    if plan.warnings:
        out += ["Warnings:", *(f"- {w}" for w in plan.warnings), ""]
    out += ["Notes:", *(f"- {n}" for n in plan.notes), "", DISCLAIMER]
    return "\n".join(out) + "\n"
