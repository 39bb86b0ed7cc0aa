"""A course in words: each change as the history says it, the marks it leaves on rows, names of cycles and rows,
and the worklist's rows. Every sentence about a course record is made here (the course view as a whole is
rendered by :mod:`regimen.export.course`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from fractions import Fraction

from regimen.engine.courses.events import (
    AnyEvent,
    Delay,
    Dose,
    GateCheck,
    Given,
    Measure,
    Omit,
    RequirementRecord,
    Stop,
    Verification,
)
from regimen.engine.courses.state import Change, CourseRow, CourseState, DueRow
from regimen.engine.outcomes import condition_values
from regimen.engine.preparations import Preparation, grouped, preparation_words
from regimen.engine.rows import exact_text
from regimen.errors import option
from regimen.model import Administration, Regimen, how_given
from regimen.quantities.clock import tzinfo_for

#: The mark on each planned row of a cycle (after the first) whose gates were not checked (issue 27): in
#: ``course show`` and the worklist's warnings.
UNCHECKED = "gates not checked: record 'regimen course check' before this cycle"


def check_mark(e: GateCheck, seq: int) -> str:
    """What a gate check says on the rows of its cycle: 'gates checked: GO (change 4)'."""
    if e.overridden:
        return f"gates checked: {e.decision.upper()} (proposal {e.proposal.upper()} overridden, change {seq})"
    return f"gates checked: {e.decision.upper()} (change {seq})"


def check_what(e: GateCheck) -> str:
    values = ", ".join(f"{k} {v}" for k, v in e.values) or "no values"
    decided = (
        f"{e.decision.upper()}, overriding the proposal {e.proposal.upper()}"
        if e.overridden
        else f"{e.decision.upper()} as proposed"
    )
    rules = f"; rules: {'; '.join(e.rules)}" if e.rules else ""
    return f"gates checked ({values}): {decided}{rules}"


def requirement_what(e: RequirementRecord) -> str:
    detail = f" ({e.detail})" if e.detail else ""
    return f"requirement {e.id}: {e.status}{detail}"


def verified_what(e: Verification) -> str:
    """'day 1 oxaliplatin 2431/20 mg, ...' as the figures of a verification, readable: '121.55 mg', exact, and in
    the notation of every dose regimen prints: '4,428 mg', its thousands separated (a fraction that does not end as
    a decimal stays 'n/d')."""
    out = []
    for name, figure in e.doses:
        number, _, unit = figure.partition(" ")
        out.append(f"{name} {exact_text(Fraction(number), grouping=True)} {unit}")
    return ", ".join(out)


def status_of(crs: Sequence[CourseRow]) -> str:
    """One preparation's status as the day unit says it (issue 28): planned, verified (checked by a pharmacist as
    planned now: a pump is verified whole), given, omitted or stopped; an infusion whose days differ: each, in day
    order."""
    said = ("verified" if cr.status == "planned" and cr.verified is not None else cr.status for cr in crs)
    return "+".join(dict.fromkeys(said))


def cycle_name(regimen: Regimen, key: tuple[str, int]) -> str:
    return f"cycle {key[1]}" if not regimen.phased else f"{key[0]} cycle {key[1]}"


def cycle_arg(regimen: Regimen, key: tuple[str, int]) -> str:
    """The cycle as the command takes it: '3', or 'ac:3' in a regimen of phases."""
    return f"{key[0]}:{key[1]}" if regimen.phased else str(key[1])


def cycles_text(regimen: Regimen, keys: Sequence[tuple[str, int]]) -> str:
    """'cycle 3', 'cycles 5-8', 'cycles 3-4, 7-8'; in a regimen of phases 'ac cycles 2-4, paclitaxel cycles 1-4'."""
    runs: list[tuple[str, int, int]] = []
    for phase, cycle in keys:
        if runs and runs[-1][0] == phase and runs[-1][2] == cycle - 1:
            runs[-1] = (phase, runs[-1][1], cycle)
        else:
            runs.append((phase, cycle, cycle))
    spans: dict[str, list[str]] = {}
    for phase, first, last in runs:
        spans.setdefault(phase, []).append(str(first) if first == last else f"{first}-{last}")
    out = []
    for phase, listed in spans.items():
        word = "cycle" if sum(1 for k in keys if k[0] == phase) == 1 else "cycles"
        out.append(f"{phase + ' ' if regimen.phased else ''}{word} {', '.join(listed)}")
    return ", ".join(out)


def row_name(regimen: Regimen, row: Administration) -> str:
    """'oxaliplatin cycle 1 day 1' (and 'dose 2' with several doses a day)."""
    dose = f" dose {row.dose_number}" if row.dose_number is not None and (row.doses_per_day or 0) > 1 else ""
    return f"{row.drug} {cycle_name(regimen, (row.phase, row.cycle))} day {row.day}{dose}"


def measure_options(conditions: Sequence[str]) -> str:
    """The options of 'course measure' that give the values ``conditions`` are on, each with its value to fill in
    ("--sex ... --age ...")."""
    names = dict.fromkeys(n for c in conditions for n in condition_values(c))
    return " ".join(f"{option(n)} ..." for n in names) or "..."


def what(regimen: Regimen, e: Omit | Given) -> str:
    """The administrations an omission or a dose given names: 'oxaliplatin cycle 2 day 1'."""
    parts = [cycle_name(regimen, (e.phase, e.cycle))]
    if e.day is not None:
        parts.append(f"day {e.day}")
    if e.drug:
        parts.insert(0, e.drug)
    if e.dose_number is not None:
        parts.append(f"dose {e.dose_number}")
    return " ".join(parts)


def dose_what(e: Dose) -> str:
    if e.level is not None:
        return f"dose level {e.level}"
    assert e.change is not None
    said = e.change.working()
    if e.legacy is not None:
        said += f" (recorded before issue 24 as 'reduce {e.legacy}', which meant: give {e.legacy})"
    return said


def measured(e: Measure) -> str:
    return ", ".join(f"{k} {v}" for k, v in e.values)


def describe(change: Change, regimen: Regimen, tz: str | None = None) -> str:
    """One line for the history; a time given in the course's zone ``tz`` (default UTC)."""
    return _said(change.event, regimen, tz)


def _said(e: AnyEvent, regimen: Regimen, tz: str | None) -> str:
    confirmed = " (confirmed as typed)" if e.confirmed and not isinstance(e, Dose) else ""
    if isinstance(e, Delay):
        return f"{cycle_name(regimen, (e.phase, e.cycle))} delayed {e.days} days{confirmed}"
    if isinstance(e, Measure):
        return f"{measured(e)} from {cycle_name(regimen, (e.phase, e.cycle))}{confirmed}"
    if isinstance(e, Dose):
        return f"{e.drug or 'all drugs'}: {dose_what(e)} from {cycle_name(regimen, (e.phase, e.cycle))}"
    if isinstance(e, Omit):
        return f"omitted: {what(regimen, e)}{confirmed}"
    if isinstance(e, Given):
        at = ""
        if e.at is not None:
            at = f" at {e.at.astimezone(tzinfo_for(tz)).strftime('%Y-%m-%d %H:%M')} ({tz or 'UTC'})"
        lot = f", lot {e.lot}" if e.lot else ""
        return f"given: {what(regimen, e)} {e.dose}{at}{lot}{confirmed}"
    if isinstance(e, Stop):
        return f"stopped from {e.on.isoformat()}{confirmed}"
    if isinstance(e, GateCheck):
        return f"{cycle_name(regimen, (e.phase, e.cycle))}: {check_what(e)}"
    if isinstance(e, RequirementRecord):
        return requirement_what(e)
    if isinstance(e, Verification):
        return f"{cycle_name(regimen, (e.phase, e.cycle))}: doses verified against the protocol ({verified_what(e)})"
    return f"correction: change {e.change} was entered in error and is void"


def mark(e: Delay | Measure | Dose, label: str) -> str:
    """What a lasting change says on each row it changes: 'delayed 7 days from this cycle on (change 2)'."""
    if isinstance(e, Delay):
        return f"delayed {e.days} days from this cycle on ({label})"
    if isinstance(e, Measure):
        return f"{measured(e)} from this cycle on ({label})"
    return f"{e.drug or 'all drugs'}: {dose_what(e)} from this cycle on ({label})"


def voided_mark(state: CourseState, change: Change) -> str:
    """' [VOID: entered in error, #5]' after a change a correction undid; '' otherwise."""
    by = state.voided.get(change.seq)
    return f" [VOID: entered in error, #{by}]" if by is not None else ""


def history_line(state: CourseState, change: Change) -> str:
    at = change.at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    said = describe(change, state.regimen, state.start.tz)
    return f"#{change.seq} {at} {change.who}: {said}{voided_mark(state, change)} (why: {change.why})"


def due_rows(state: CourseState) -> list[DueRow]:
    """The course's planned administrations that have a date, as the worklist lists them: one row per preparation
    (a continuous infusion's days are one pump, issue 24)."""
    notes = {c.id: c.note for c in state.regimen.components()}
    tz = state.start.tz if state.start.time else None
    listed = [cr for cr in state.rows if _on_worklist(cr)]
    return [
        _due_row(state, prep, crs, notes.get(prep.component), tz) for prep, crs in grouped(listed, lambda cr: cr.row)
    ]


def _on_worklist(cr: CourseRow) -> bool:
    """Planned, and (for the worklist page's status, issue 28) given or omitted: 'regimen due' lists the planned."""
    return cr.status in ("planned", "given", "omitted") and cr.row.date is not None


def _due_row(
    state: CourseState, prep: Preparation, crs: Sequence[CourseRow], note: str | None, tz: str | None
) -> DueRow:
    r = prep.first
    assert r.date is not None
    how = [preparation_words(prep, tz)] if prep.continuous else [h] if (h := how_given(r.method, r.route)) else []
    if r.duration_hours is not None and not prep.continuous:
        how.append(f"over {exact_text(r.duration_hours)} h")
    return DueRow(
        course_id=state.course_id,
        regimen_id=state.regimen.id,
        date=r.date,
        start=r.start,
        tz=tz,
        phase=r.phase,
        cycle=r.cycle,
        day=r.day,
        drug=r.drug,
        component=r.component,
        dose=prep.dose,
        dose_text=prep.dose_text,
        unit=r.dose_unit,
        rate_text=r.rate_text if r.rate is not None else None,
        route=r.route,
        method=str(r.method) if r.method is not None else None,
        hours=prep.hours,
        preparation="; ".join(x for x in (*how, note) if x) or None,
        calculation=prep.calculation,
        warnings="; ".join(dict.fromkeys((*prep.warnings, *(m for cr in crs for m in cr.marks)))),
        dose_number=r.dose_number,
        condition=r.condition,
        dose_shown=prep.rounding(prep.dose),
        rate_shown=prep.rounding(r.rate) if r.rate is not None else None,
        rate_unit=r.rate_unit if r.rate is not None else None,
        status=status_of(crs),
        role=r.role,
    )


__all__ = [
    "UNCHECKED",
    "check_mark",
    "check_what",
    "cycle_arg",
    "cycle_name",
    "cycles_text",
    "describe",
    "dose_what",
    "due_rows",
    "history_line",
    "mark",
    "requirement_what",
    "row_name",
    "status_of",
    "verified_what",
    "voided_mark",
    "what",
]
