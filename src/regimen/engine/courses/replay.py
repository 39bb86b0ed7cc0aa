"""The course as it stands, replayed from its start and its changes: a pure function, one handler per kind.

Each cycle is expanded with the values and options in force for it (the same :func:`~regimen.engine.expand.expand`
as ``regimen expand``: nothing is computed twice), so every row keeps its working. The patient values are parsed
once per distinct set in force, not per cycle; a change voided by a correction is left out as if never recorded
(the history keeps both).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from regimen.clinical.anthracycline import course_exposure
from regimen.clinical.choices import build_options
from regimen.clinical.options import ClinicalOptions
from regimen.clinical.patient import make_patient
from regimen.clinical.pretreatment import Recorded, requirement_status
from regimen.clinical.rounding import deviation_percent, signed_percent
from regimen.engine.courses.describe import UNCHECKED, check_mark, cycle_name, cycles_text, mark, row_name
from regimen.engine.courses.events import (
    Delay,
    Dose,
    GateCheck,
    Given,
    Measure,
    Omit,
    RequirementRecord,
    Stop,
    Verification,
    Void,
)
from regimen.engine.courses.intensity import course_intensity
from regimen.engine.courses.records import CourseError, CourseStart
from regimen.engine.courses.row_changes import SINGLE, given_records
from regimen.engine.courses.state import Change, CourseRow, CourseState
from regimen.engine.courses.verified import verified
from regimen.engine.expand import expand
from regimen.engine.plan import Plan, compute_totals
from regimen.errors import option
from regimen.model import Administration, Patient, Regimen
from regimen.quantities.clock import parse_time, tzinfo_for
from regimen.quantities.exact import format_fraction

#: Options the course itself counts (over the doses given and still planned), never each part plan.
ANTHRACYCLINE_OPTIONS = ("anthracycline_table", "prior", "anthracycline_limit")
#: A change of more than this (%) in weight or BSA, from one cycle to the next or since the start, is flagged;
#: so is a dose recorded as given that differs from the planned dose by more than this.
FLAG_CHANGE = Fraction(10)

Values = tuple[tuple[str, Any], ...]  # patient values or options in force, frozen (sorted by name)


def _freeze(values: Mapping[str, Any]) -> Values:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in values.items() if v is not None))


def replayed_options(recorded: Mapping[str, Any]) -> dict[str, Any]:
    """A course's recorded options as a replay uses them. Every change of dose was checked (and confirmed where it
    had to be) when it was recorded, so the replay does not ask again. Courses recorded before issue 24 kept
    ``reduce`` ("75%" meaning: give 75 % of the dose): read as that, in the one reading used now."""
    out = dict(recorded)
    legacy = out.pop("reduce", None)
    if legacy:
        out["dose_percent"] = tuple(out.get("dose_percent") or ()) + tuple(
            f"{x}%" if not str(x).strip().endswith("%") else str(x) for x in legacy
        )
    if out.get("dose_percent"):
        out["confirm"] = True
    return out


class Planner:
    """The expansions of one course's start, each made once per distinct set of values and options in force (an
    append replays the course before and after the change with the same planner)."""

    def __init__(self, start: CourseStart) -> None:
        self.start = start
        self.regimen = start.regimen
        self._patients: dict[Values, Patient] = {}
        self._options: dict[Values, ClinicalOptions] = {}
        self._plans: dict[tuple[Values, Values], Plan] = {}

    def patient(self, values: Values) -> Patient:
        if values not in self._patients:
            self._patients[values] = make_patient(**dict(values))
        return self._patients[values]

    def options(self, values: Values) -> ClinicalOptions:
        if values not in self._options:
            self._options[values] = build_options({k: v for k, v in values if k not in ANTHRACYCLINE_OPTIONS})
        return self._options[values]

    def plan(self, patient: Values, options: Values) -> Plan:
        key = (patient, options)
        if key not in self._plans:
            s = self.start
            self._plans[key] = expand(
                self.regimen,
                self.patient(patient),
                start=s.start,
                cycles=s.cycles,
                cycle_length=s.cycle_length,
                options=self.options(options),
                time=parse_time(s.time) if s.time else None,
                tz=s.tz if s.time else None,
            )
        return self._plans[key]


@dataclass
class _Course:
    """What the lasting changes build, cycle by cycle, before anything is expanded."""

    regimen: Regimen
    order: list[tuple[str, int]]
    patients: list[dict[str, str]]
    options: list[dict[str, Any]]
    delays: list[int]
    marks: dict[tuple[str, int], list[tuple[str | None, str]]] = field(default_factory=dict)  # (drug or None, mark)
    notes: list[str] = field(default_factory=list)
    stopped: dt.date | None = None
    done: list[Change] = field(default_factory=list)  # omitted and given, applied to the rows in this order
    checks: dict[tuple[str, int], list[tuple[int, GateCheck]]] = field(default_factory=dict)  # by cycle, in order
    requirements: dict[str, Recorded] = field(default_factory=dict)  # the last record of each requirement
    verified: dict[tuple[str, int], list[tuple[int, Verification]]] = field(default_factory=dict)  # by cycle

    def index(self, key: tuple[str, int], what_: str) -> int:
        try:
            return self.order.index(key)
        except ValueError:
            raise CourseError(
                f"{what_}: the course has no {cycle_name(self.regimen, key)} (it plans {len(self.order)})"
            ) from None


def _delay(c: _Course, change: Change, e: Delay, index: int) -> None:
    for i in range(index, len(c.order)):
        c.delays[i] += e.days
    c.marks.setdefault((e.phase, e.cycle), []).append((None, mark(e, f"change {change.seq}")))


def _measure(c: _Course, change: Change, e: Measure, index: int) -> None:
    for i in range(index, len(c.order)):
        c.patients[i].update(dict(e.values))
    c.marks.setdefault((e.phase, e.cycle), []).append((None, mark(e, f"change {change.seq}")))
    said = dict(e.values)
    if "weight" in said and "bsa" not in said and c.patients[index].get("bsa"):
        c.notes.append(
            f"change {change.seq}: the weight changed but the BSA ({c.patients[index]['bsa']}) was given, not "
            f"computed; record a new BSA ({option('bsa')}) if it changed too"
        )


def _same_drug(entry: str, drug: str) -> bool:
    """Whether an option entry 'DRUG=VALUE' is of ``drug``."""
    return entry.partition("=")[0].strip().lower() == drug.lower()


def _dose(c: _Course, change: Change, e: Dose, index: int) -> None:
    for i in range(index, len(c.order)):
        opts = c.options[i]
        if e.level is not None:
            # a level of one drug replaces that drug's; a level of every drug replaces them all
            levels = [x for x in opts.get("dose_level") or () if e.drug and not _same_drug(x, e.drug)]
            levels.append(f"{e.drug}={e.level}" if e.drug else str(e.level))
            opts["dose_level"] = tuple(levels)
        elif e.change is not None and e.drug is not None:
            cuts = [x for x in opts.get("dose_percent") or () if not _same_drug(x, e.drug)]
            cuts.append(f"{e.drug}={e.change.to_dict()['dose_percent']}")
            opts["dose_percent"] = tuple(cuts)
            opts["confirm"] = True  # checked and confirmed when it was recorded
    c.marks.setdefault((e.phase, e.cycle), []).append((e.drug, mark(e, f"change {change.seq}")))


def _later(c: _Course, change: Change, e: Omit | Given, index: int) -> None:
    c.done.append(change)  # applied to the rows once they are expanded


def _check(c: _Course, change: Change, e: GateCheck, index: int) -> None:
    c.checks.setdefault((e.phase, e.cycle), []).append((change.seq, e))
    c.marks.setdefault((e.phase, e.cycle), []).append((None, check_mark(e, change.seq)))


def checked(
    regimen: Regimen, checks: Mapping[tuple[str, int], Sequence[tuple[int, GateCheck]]], key: tuple[str, int]
) -> bool:
    """Whether a cycle's gates are checked: the regimen states none for the cycle's phase, or the cycle's last check
    did not delay it (a delayed cycle is checked again on its new day)."""
    phase = key[0] if regimen.phased else None
    if not any(g.applies(phase) for g in regimen.gates) and not any(m.applies(phase) for m in regimen.modifications):
        return True
    found = checks.get(key) or ()
    return bool(found) and found[-1][1].decision != "delay"


def _verify(c: _Course, change: Change, e: Verification, index: int) -> None:
    c.verified.setdefault((e.phase, e.cycle), []).append((change.seq, e))


_LASTING: dict[type, Callable[[_Course, Change, Any, int], None]] = {
    Delay: _delay,
    Measure: _measure,
    Dose: _dose,
    Omit: _later,
    Given: _later,
    GateCheck: _check,
    Verification: _verify,
}


def _apply(c: _Course, change: Change) -> None:
    e = change.event
    if c.stopped is not None and not isinstance(e, Given):
        raise CourseError(
            f"the course was stopped from {c.stopped.isoformat()} (change {change.seq}); start a new course"
        )
    if isinstance(e, Stop):
        c.stopped = e.on
        return
    assert not isinstance(e, Void)  # corrections are resolved before (see live_changes)
    if isinstance(e, RequirementRecord):
        c.requirements[e.id] = Recorded(e.status, e.detail)  # type: ignore[arg-type]
        return
    index = c.index((e.phase, e.cycle), f"{e.kind} (change {change.seq})")
    _LASTING[type(e)](c, change, e, index)


def live_changes(changes: Sequence[Change]) -> tuple[list[Change], dict[int, int]]:
    """The changes in effect (neither a correction nor voided by one), and which correction voided which."""
    voided = {c.event.change: c.seq for c in changes if isinstance(c.event, Void)}
    return [c for c in changes if not isinstance(c.event, Void) and c.seq not in voided], voided


# ---- what happened to single administrations --------------------------------------------------


# ---- the replay ---------------------------------------------------------------------------------


def _shift(row: Administration, days: int, tz: str | None) -> Administration:
    """The row ``days`` later: same wall-clock time in the course's zone, same elapsed duration."""
    if days == 0:
        return row
    step = dt.timedelta(days=days)
    start = end = None
    if row.start is not None:
        zone = tzinfo_for(tz)
        local = row.start.astimezone(zone).replace(tzinfo=None) + step
        start = local.replace(tzinfo=zone).astimezone(dt.UTC)
        end = start + (row.end - row.start) if row.end is not None else None
    return row.moved(
        date=row.date + step if row.date is not None else None,
        course_day=row.course_day + days,
        start=start,
        end=end,
        infusion=dataclasses.replace(row.infusion, start_course_day=row.infusion.start_course_day + days)
        if row.infusion is not None
        else None,
    )


@dataclass
class _Expanded:
    by_cycle: dict[tuple[str, int], Plan]
    parts: list[Plan]  # each distinct part plan once, in cycle order
    covers: dict[int, list[tuple[str, int]]]  # the cycles each part plan is used for (by id)
    rows: list[CourseRow]


def _expand(c: _Course, planner: Planner) -> _Expanded:
    """Each cycle expanded with what is in force for it, its rows moved by the delays and marked."""
    by_cycle: dict[tuple[str, int], Plan] = {}
    used: dict[int, Plan] = {}
    covers: dict[int, list[tuple[str, int]]] = {}
    for i, key in enumerate(c.order):
        plan = planner.plan(_freeze(c.patients[i]), _freeze(c.options[i]))
        by_cycle[key] = plan
        used.setdefault(id(plan), plan)
        covers.setdefault(id(plan), []).append(key)
    cycle_rows: dict[tuple[str, int], list[Administration]] = {}
    for plan in used.values():
        for a in plan.administrations:
            if by_cycle[a.phase, a.cycle] is plan:
                cycle_rows.setdefault((a.phase, a.cycle), []).append(a)
    tz = planner.start.tz if planner.start.time else None
    rows: list[CourseRow] = []
    for i, key in enumerate(c.order):
        for a in cycle_rows.get(key, []):
            mine = tuple(m for drug, m in c.marks.get(key, ()) if drug is None or _of_drug(a, drug))
            rows.append(CourseRow(row=_shift(a, c.delays[i], tz), status="planned", marks=mine))
    return _Expanded(by_cycle, list(used.values()), covers, rows)


def _of_drug(row: Administration, drug: str) -> bool:
    return drug.lower() in (row.drug.lower(), row.component.lower())


def replay(start: CourseStart, changes: Sequence[Change], planner: Planner | None = None) -> CourseState:
    """The course as it stands after ``changes`` (in their order); raises :class:`CourseError` for a change that
    cannot apply, naming it. ``planner``: the expansions of an earlier replay of the same start."""
    planner = planner if planner is not None else Planner(start)
    base = planner.plan(_freeze(start.patient), _freeze(replayed_options(start.options)))
    order = list(dict.fromkeys((a.phase, a.cycle) for a in base.administrations))
    if not order:
        raise CourseError(f"{planner.regimen.id}: the plan has no administrations to follow")
    course = _Course(
        regimen=planner.regimen,
        order=order,
        patients=[dict(start.patient) for _ in order],
        options=[replayed_options(start.options) for _ in order],
        delays=[0] * len(order),
    )
    live, voided = live_changes(changes)
    for change in live:
        _apply(course, change)
    x = _expand(course, planner)
    rows = x.rows
    for change in course.done:
        SINGLE[type(change.event)](rows, change, change.event, course.regimen)
    if course.stopped is not None:
        rows = [_stopped(cr, course.stopped) for cr in rows]
    if course.verified:
        verified(rows, course.verified)
    unchecked = {k for k in order[1:] if not checked(course.regimen, course.checks, k)}
    rows = [_unchecked(cr) if (cr.row.phase, cr.row.cycle) in unchecked else cr for cr in rows]
    warnings, notes = _said(course, x, base, rows, start)
    return CourseState(
        start=start,
        regimen=course.regimen,
        changes=tuple(changes),
        rows=tuple(rows),
        plans=tuple(_plans_with_rows(x, rows)),
        warnings=tuple(dict.fromkeys(warnings)),
        notes=tuple(dict.fromkeys(notes)),
        stopped=course.stopped,
        given_totals=_given_totals(rows),
        cycles=tuple(order),
        patients={key: plan.patient for key, plan in x.by_cycle.items()},
        voided=voided,
        checks={k: tuple(v) for k, v in course.checks.items()},
        requirements=tuple(requirement_status(course.regimen, course.requirements)),
        intensity=tuple(course_intensity(base, rows, order, course.delays, start)),
    )


def _unchecked(cr: CourseRow) -> CourseRow:
    """A planned row of a cycle (after the first) whose gates were not checked is marked (issue 27)."""
    return dataclasses.replace(cr, marks=(*cr.marks, UNCHECKED)) if cr.status == "planned" else cr


def _stopped(cr: CourseRow, stopped: dt.date) -> CourseRow:
    if cr.status == "planned" and cr.row.date is not None and cr.row.date >= stopped:
        return dataclasses.replace(cr, status="stopped")
    return cr


def _plans_with_rows(x: _Expanded, rows: list[CourseRow]) -> list[Plan]:
    """Each part plan with its own cycles' rows, as the course places them (delays applied)."""
    out = []
    for plan in x.parts:
        mine = [cr.row for cr in rows if x.by_cycle[cr.row.phase, cr.row.cycle] is plan]
        out.append(dataclasses.replace(plan, administrations=tuple(mine), totals=tuple(compute_totals(mine))))
    return out  # the rows of the view are those of the part plans (the same objects)


def _given_totals(rows: Sequence[CourseRow]) -> tuple[tuple[str, Fraction, str], ...]:
    totals: dict[tuple[str, str], Fraction] = {}
    for cr in rows:
        if cr.given is not None:
            key = (cr.row.drug, cr.given.unit)
            totals[key] = totals.get(key, Fraction(0)) + cr.given.dose
    return tuple((drug, amt, unit) for (drug, unit), amt in totals.items())


def _said(
    c: _Course, x: _Expanded, base: Plan, rows: list[CourseRow], start: CourseStart
) -> tuple[list[str], list[str]]:
    """The course's warnings and notes: changes of weight or BSA, what each part plan says of itself, doses given
    off the plan, and the anthracycline total over the doses given and still planned."""
    warnings = _flags(c.order, x.by_cycle, base.patient, c.regimen)
    notes = list(c.notes)
    # what a part plan says of itself holds for its own cycles: said so, unless the plan of the start says it too
    first = x.parts[0]
    for plan in x.parts:
        where = "" if plan is first else f"{cycles_text(c.regimen, x.covers[id(plan)])}: "
        warnings.extend(w if w in first.plan_warnings else where + w for w in plan.plan_warnings)
        notes.extend(n if n in first.notes else where + n for n in plan.notes)
    warnings.extend(_off_plan(rows, c.regimen))
    opts = build_options(replayed_options(start.options))
    bsa = {key: plan.patient.bsa_m2 for key, plan in x.by_cycle.items()}
    found = course_exposure(
        [(cr.row.moved(dose=cr.given.dose), bsa[cr.row.phase, cr.row.cycle]) for cr in rows if cr.given is not None],
        [(cr.row, bsa[cr.row.phase, cr.row.cycle]) for cr in rows if cr.status == "planned"],
        opts.anthracycline_table,
        opts.prior,
        opts.anthracycline_limit,
    )
    notes.extend(found.lines)
    warnings.extend(found.warnings)
    return warnings, notes


def _off_plan(rows: Sequence[CourseRow], regimen: Regimen) -> list[str]:
    """A dose recorded as given that differs from the planned dose by more than FLAG_CHANGE % (a pump: its whole)."""
    out = []
    for g, cr, given, planned in given_records(rows):
        if not planned or abs(given - planned) * 100 <= FLAG_CHANGE * planned:
            continue
        out.append(
            f"{row_name(regimen, cr.row)}: given {format_fraction(given)} {g.unit}, planned "
            f"{format_fraction(planned)} {cr.row.dose_unit} ({signed_percent(deviation_percent(planned, given))}, "
            f"change {g.change}): more than {format_fraction(FLAG_CHANGE)} % from the plan; check the record and the "
            "next doses"
        )
    return out


def _flags(
    order: Sequence[tuple[str, int]], by_cycle: Mapping[tuple[str, int], Plan], start: Patient, regimen: Regimen
) -> list[str]:
    """A change of more than 10 % in weight or BSA is flagged: from one cycle to the next, and since the start (a
    loss in small steps, none of them over 10 %, is flagged at the cycle where the whole passes 10 %)."""
    out = []
    for before, after in itertools.pairwise(order):
        a, b = by_cycle[before].patient, by_cycle[after].patient
        for name, old, new, first, unit in (
            ("weight", a.weight_kg, b.weight_kg, start.weight_kg, "kg"),
            ("BSA", a.bsa_m2, b.bsa_m2, start.bsa_m2, "m²"),
        ):
            if old and new and old != new:
                out.extend(_flag(name, old, new, first, unit, cycle_name(regimen, after)))
    return out


def _flag(name: str, old: Fraction, new: Fraction, first: Fraction | None, unit: str, when: str) -> list[str]:
    limit = format_fraction(FLAG_CHANGE)
    step = deviation_percent(old, new)
    if abs(step) > FLAG_CHANGE:
        return [
            f"{name} changed from {format_fraction(old)} {unit} to {format_fraction(new)} {unit} "
            f"({signed_percent(step)}) from {when}: more than {limit} %; check the doses with the prescriber"
        ]
    if first and abs(deviation_percent(first, new)) > FLAG_CHANGE >= abs(deviation_percent(first, old)):
        return [
            f"{name} {format_fraction(new)} {unit} from {when} is {signed_percent(deviation_percent(first, new))} "
            f"from the {format_fraction(first)} {unit} at the start: more than {limit} % since the start; check the "
            "doses with the prescriber"
        ]
    return []


__all__ = [
    "FLAG_CHANGE",
    "Planner",
    "live_changes",
    "replay",
    "replayed_options",
]
