"""A treatment course: the plan as it stands after what happened (issue 12). No I/O here.

A course is its start (the regimen file's exact text, the patient values and options as typed, the date of
day 1) and an append-only list of changes, each with who, when and why. The course as it now stands is always
*replayed* from those records, never stored as a result, so nothing that was recorded is ever overwritten and a
later edit of the regimen file never changes a running course (its text was recorded at the start).

Changes, in the words of the day unit:

- ``delay``: cycle N (and every cycle after it) starts D days later;
- ``measure``: new weight, height, BSA, creatinine or GFR from cycle N on (doses recomputed from them; a change of
  more than 10 % in weight or BSA is flagged);
- ``dose``: a dose level or a reduction of a drug (or of the whole regimen) from cycle N on;
- ``omit``: a drug, a day, or a drug on a day, not given;
- ``given``: what was actually given (dose, time, lot) for one planned administration;
- ``stop``: no administration from a date on.

Each cycle is expanded with the values and options in force for it (the same :func:`~regimen.engine.expand.expand`
as ``regimen expand``: nothing is computed twice), so every row keeps its working.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from regimen.clinical.anthracycline import exposure
from regimen.clinical.choices import build_options
from regimen.clinical.patient import make_patient
from regimen.engine.expand import expand
from regimen.engine.plan import Plan, compute_totals
from regimen.errors import RegimenError, option
from regimen.model import Administration, Regimen
from regimen.protocol.loader import amount, load_text
from regimen.quantities.clock import parse_time, tzinfo_for
from regimen.quantities.exact import format_fraction
from regimen.quantities.units import factor

#: What a change may be.
KINDS = ("delay", "measure", "dose", "omit", "given", "stop")
#: Patient values a course records, as ``regimen expand`` takes them.
PATIENT_KEYS = ("weight", "bsa", "age", "dob", "height", "sex", "scr", "gfr")
#: Values a ``measure`` change may bring.
MEASURE_KEYS = ("weight", "height", "bsa", "scr", "gfr")
#: Clinical options a course records (values, not files: a file could change under a running course).
OPTION_KEYS = (
    "bsa_formula",
    "bsa_cap",
    "dosing_weight",
    "adjusted_factor",
    "gfr_method",
    "gfr_cap",
    "dose_level",
    "reduce",
    "round_to",
    "prior",
    "anthracycline_table",
    "anthracycline_limit",
)
FILE_OPTIONS = ("formulary", "vial_round", "band", "round_threshold")
#: A change of more than this in weight or BSA is flagged.
FLAG_CHANGE = Fraction(10)
MAX_DELAY_DAYS = 366
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_CYCLE = re.compile(r"^\s*(?:([A-Za-z][A-Za-z0-9_-]*)\s*:\s*)?(\d{1,4})\s*$")


class CourseError(RegimenError):
    """A course record or change that cannot be applied; nothing is recorded."""


def check_course_id(text: str) -> str:
    if not _ID.match(text or ""):
        raise CourseError(
            f"course id {text!r}: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit "
            f"(e.g. {option('course')} bed4-2026-12)"
        )
    return text


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class CourseStart:
    """What ``regimen course start`` records."""

    course_id: str
    regimen_text: str  # the regimen file's content when the course started
    regimen_file: str  # where it was read from (for the reader; the text is what counts)
    start: dt.date
    patient: Mapping[str, str] = field(default_factory=dict)  # PATIENT_KEYS -> value as typed
    options: Mapping[str, Any] = field(default_factory=dict)  # OPTION_KEYS -> value(s) as typed
    time: str | None = None  # HH:MM of the first drug of each treatment day
    tz: str | None = None
    cycles: int | None = None  # cycles to plan, when the regimen leaves the count open
    cycle_length: int | None = None

    @property
    def regimen_sha256(self) -> str:
        return text_hash(self.regimen_text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "course_id": self.course_id,
            "regimen_text": self.regimen_text,
            "regimen_file": self.regimen_file,
            "regimen_sha256": self.regimen_sha256,
            "start": self.start.isoformat(),
            "patient": dict(self.patient),
            "options": {k: list(v) if isinstance(v, tuple | list) else v for k, v in self.options.items()},
            "time": self.time,
            "tz": self.tz,
            "cycles": self.cycles,
            "cycle_length": self.cycle_length,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CourseStart:
        return cls(
            course_id=data["course_id"],
            regimen_text=data["regimen_text"],
            regimen_file=data["regimen_file"],
            start=dt.date.fromisoformat(data["start"]),
            patient=dict(data.get("patient") or {}),
            options={k: tuple(v) if isinstance(v, list) else v for k, v in (data.get("options") or {}).items()},
            time=data.get("time"),
            tz=data.get("tz"),
            cycles=data.get("cycles"),
            cycle_length=data.get("cycle_length"),
        )


@dataclass(frozen=True, slots=True)
class Change:
    """One recorded change: ``seq`` counts from 1 within the course, in the order they were recorded."""

    seq: int
    kind: str
    at: dt.datetime  # when it was recorded (UTC)
    who: str
    why: str
    data: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "who": self.who,
            "why": self.why,
            "data": dict(self.data),
        }


@dataclass(frozen=True, slots=True)
class Given:
    """What was actually given for one planned administration."""

    dose: Fraction  # in the row's dose unit
    unit: str
    text: str  # as typed
    at: dt.datetime | None  # the instant (UTC), when recorded
    lot: str | None
    change: int


@dataclass(frozen=True, slots=True)
class CourseRow:
    """One planned administration and what became of it: planned, given, omitted or stopped."""

    row: Administration
    status: str
    given: Given | None = None
    change: int | None = None  # the change that set the status
    marks: tuple[str, ...] = ()  # what changed this row: "delayed 7 days (change 2)"


@dataclass(frozen=True, slots=True)
class CourseView:
    """The course as it now stands."""

    start: CourseStart
    regimen: Regimen
    changes: tuple[Change, ...]
    rows: tuple[CourseRow, ...]
    plans: tuple[Plan, ...]  # one per distinct set of values and options in force, in cycle order
    warnings: tuple[str, ...]
    notes: tuple[str, ...]
    stopped: dt.date | None
    given_totals: tuple[tuple[str, Fraction, str], ...]  # drug, amount given, unit

    @property
    def course_id(self) -> str:
        return self.start.course_id

    @property
    def status(self) -> str:
        return "stopped" if self.stopped is not None else "active"

    def active_plans(self) -> list[Plan]:
        """The course's calendar: each part plan with its rows still to happen or already given (not omitted or
        stopped), keyed by the course (so that its events keep their identity through every change)."""
        live = {id(cr.row) for cr in self.rows if cr.status in ("planned", "given")}
        out = []
        for plan in self.plans:
            rows = [a for a in plan.administrations if id(a) in live]
            if rows:
                out.append(
                    dataclasses.replace(
                        plan, administrations=tuple(rows), totals=tuple(compute_totals(rows)), key=self.course_id
                    )
                )
        return out


@dataclass(frozen=True, slots=True)
class DueRow:
    """One administration due, as the worklist shows it."""

    course_id: str
    regimen_id: str
    date: dt.date
    start: dt.datetime | None
    tz: str | None  # the course's zone
    phase: str
    cycle: int
    day: int
    drug: str
    component: str
    dose: Fraction
    dose_text: str
    unit: str
    rate_text: str | None
    route: str | None
    method: str | None
    hours: Fraction | None
    preparation: str | None
    calculation: str
    warnings: str


# ---- reading a change's inputs -------------------------------------------------------------------


def parse_cycle(text: str | int, regimen: Regimen) -> tuple[str, int]:
    """'3' (a regimen of one phase) or 'consolidation:2' -> (phase id, cycle)."""
    match = _CYCLE.match(str(text))
    if match is None:
        raise CourseError(
            f"{option('cycle')} {text!r}: give a cycle number such as 3 (or PHASE:N in a regimen of phases)"
        )
    phase, number = match.group(1), int(match.group(2))
    ids = [p.id for p in regimen.phases]
    if phase is None:
        if len(ids) > 1:
            raise CourseError(
                f"{option('cycle')} {text!r}: {regimen.id} has phases ({', '.join(ids)}); "
                f"write PHASE:N, e.g. {ids[0]}:{number}"
            )
        phase = ids[0]
    if phase not in ids:
        raise CourseError(f"{option('cycle')} {text!r}: {regimen.id} has no phase {phase!r} (it has {', '.join(ids)})")
    if number < 1:
        raise CourseError(f"{option('cycle')} {text!r}: cycles count from 1")
    return phase, number


def _cycle_name(regimen: Regimen, key: tuple[str, int]) -> str:
    return f"cycle {key[1]}" if not regimen.phased else f"{key[0]} cycle {key[1]}"


def _instant(text: str, tz: str | None) -> dt.datetime:
    """'2026-12-01T09:30' in the course's zone (or with an offset) -> UTC."""
    try:
        value = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise CourseError(
            f"{option('at')} {text!r}: give the date and time as YYYY-MM-DDTHH:MM, e.g. 2026-12-01T09:30"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=tzinfo_for(tz))
    return value.astimezone(dt.UTC)


# ---- replaying a course --------------------------------------------------------------------------


def _freeze(values: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in values.items() if v is not None))


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


def _matches(row: Administration, data: Mapping[str, Any]) -> bool:
    if (row.phase, row.cycle) != (data["phase"], data["cycle"]):
        return False
    if data.get("day") is not None and row.day != data["day"]:
        return False
    drug = data.get("drug")
    if drug is not None and drug.lower() not in (row.drug.lower(), row.component.lower()):
        return False
    return data.get("dose_number") is None or row.dose_number == data["dose_number"]


class _Replay:
    """Replays a course's changes over its regimen."""

    def __init__(self, start: CourseStart) -> None:
        self.start = start
        self.regimen = load_text(start.regimen_text, start.regimen_file)
        self._plans: dict[tuple[Any, ...], Plan] = {}

    def plan(self, patient: Mapping[str, str], options: Mapping[str, Any]) -> Plan:
        key = (_freeze(patient), _freeze(options))
        plan = self._plans.get(key)
        if plan is None:
            s = self.start
            plan = expand(
                self.regimen,
                make_patient(**{k: v for k, v in patient.items() if v is not None}),
                start=s.start,
                cycles=s.cycles,
                cycle_length=s.cycle_length,
                options=build_options(dict(options)),
                time=parse_time(s.time) if s.time else None,
                tz=s.tz if s.time else None,
            )
            self._plans[key] = plan
        return plan


def _known(key: tuple[str, int], order: Sequence[tuple[str, int]], regimen: Regimen, what: str) -> int:
    try:
        return order.index(key)
    except ValueError:
        raise CourseError(f"{what}: the course has no {_cycle_name(regimen, key)} (it plans {len(order)})") from None


def replay(start: CourseStart, changes: Sequence[Change]) -> CourseView:
    """The course as it stands after ``changes`` (in their order); raises :class:`CourseError` for a change
    that cannot apply, naming it."""
    r = _Replay(start)
    regimen = r.regimen
    base = r.plan(start.patient, start.options)
    order = list(dict.fromkeys((a.phase, a.cycle) for a in base.administrations))
    if not order:
        raise CourseError(f"{regimen.id}: the plan has no administrations to follow")
    patients: list[dict[str, str]] = [dict(start.patient) for _ in order]
    options: list[dict[str, Any]] = [dict(start.options) for _ in order]
    delays = [0] * len(order)
    marks: dict[tuple[str, int], list[str]] = {}
    warnings: list[str] = []
    notes: list[str] = []
    stopped: dt.date | None = None
    given_changes: list[Change] = []
    omit_changes: list[Change] = []
    for change in changes:
        d = change.data
        label = f"change {change.seq}"
        if stopped is not None and change.kind != "given":
            raise CourseError(f"the course was stopped from {stopped.isoformat()} ({label}); start a new course")
        if change.kind in ("delay", "measure", "dose", "omit", "given"):
            key = (d["phase"], d["cycle"])
            index = _known(key, order, regimen, f"{change.kind} ({label})")
        if change.kind == "delay":
            for i in range(index, len(order)):
                delays[i] += d["days"]
            marks.setdefault(key, []).append(f"delayed {d['days']} days from this cycle on ({label})")
        elif change.kind == "measure":
            for i in range(index, len(order)):
                patients[i].update({k: v for k, v in d["values"].items() if v is not None})
            said = ", ".join(f"{k} {v}" for k, v in d["values"].items() if v is not None)
            marks.setdefault(key, []).append(f"{said} from this cycle on ({label})")
            if "weight" in d["values"] and "bsa" not in d["values"] and patients[index].get("bsa"):
                notes.append(
                    f"{label}: the weight changed but the BSA ({patients[index]['bsa']}) was given, not computed; "
                    f"record a new BSA ({option('bsa')}) if it changed too"
                )
        elif change.kind == "dose":
            for i in range(index, len(order)):
                if d.get("level") is not None:
                    levels = [x for x in options[i].get("dose_level") or () if not _same_drug(x, d.get("drug"))]
                    levels.append(f"{d['drug']}={d['level']}" if d.get("drug") else str(d["level"]))
                    options[i]["dose_level"] = tuple(levels)
                if d.get("reduce") is not None:
                    cuts = [x for x in options[i].get("reduce") or () if not _same_drug(x, d["drug"])]
                    cuts.append(f"{d['drug']}={d['reduce']}")
                    options[i]["reduce"] = tuple(cuts)
            what = f"dose level {d['level']}" if d.get("level") is not None else f"reduced to {d['reduce']}"
            marks.setdefault(key, []).append(f"{d.get('drug') or 'all drugs'}: {what} from this cycle on ({label})")
        elif change.kind == "omit":
            omit_changes.append(change)
        elif change.kind == "given":
            given_changes.append(change)
        elif change.kind == "stop":
            stopped = dt.date.fromisoformat(d["from"])
    # expand each cycle with what is in force for it
    by_cycle: dict[tuple[str, int], Plan] = {}
    used: list[Plan] = []
    for i, key in enumerate(order):
        plan = r.plan(patients[i], options[i])
        by_cycle[key] = plan
        if plan not in used:
            used.append(plan)
    rows: list[CourseRow] = []
    cycle_rows: dict[tuple[str, int], list[Administration]] = {}
    for plan in used:
        for a in plan.administrations:
            if by_cycle[a.phase, a.cycle] is plan:
                cycle_rows.setdefault((a.phase, a.cycle), []).append(a)
    for i, key in enumerate(order):
        for a in cycle_rows.get(key, []):
            row = _shift(a, delays[i], start.tz if start.time else None)
            rows.append(CourseRow(row=row, status="planned", marks=tuple(marks.get(key, ()) if a.day else ())))
    shifted_plans = _plans_with_rows(used, by_cycle, rows)
    # omitted and given
    for change in omit_changes:
        hit = False
        for n, cr in enumerate(rows):
            if _matches(cr.row, change.data) and cr.status == "planned":
                rows[n] = dataclasses.replace(cr, status="omitted", change=change.seq)
                hit = True
        if not hit:
            raise CourseError(
                f"omit (change {change.seq}): {_what(regimen, change.data)} is not planned (or not any more)"
            )
    for change in given_changes:
        rows = _record_given(rows, change, regimen, start.tz)
    if stopped is not None:
        rows = [
            dataclasses.replace(cr, status="stopped")
            if cr.status == "planned" and cr.row.date is not None and cr.row.date >= stopped
            else cr
            for cr in rows
        ]
    warnings.extend(_flags(order, by_cycle, regimen))
    for plan in used:
        warnings.extend(plan.plan_warnings)
        notes.extend(plan.notes)
    given_rows = [cr.row.moved(dose=cr.given.dose) for cr in rows if cr.given is not None]
    totals: dict[tuple[str, str], Fraction] = {}
    for g in given_rows:
        totals[g.drug, g.dose_unit] = totals.get((g.drug, g.dose_unit), Fraction(0)) + g.dose
    if given_rows:
        opts = build_options(dict(options[-1]))
        found = exposure(
            tuple(given_rows), base.patient.bsa_m2, opts.anthracycline_table, opts.prior, opts.anthracycline_limit
        )
        notes.extend(f"given so far: {line}" for line in found.lines)
        warnings.extend(found.warnings)
    return CourseView(
        start=start,
        regimen=regimen,
        changes=tuple(changes),
        rows=tuple(rows),
        plans=tuple(shifted_plans),
        warnings=tuple(dict.fromkeys(warnings)),
        notes=tuple(dict.fromkeys(notes)),
        stopped=stopped,
        given_totals=tuple((drug, amt, unit) for (drug, unit), amt in totals.items()),
    )


def _same_drug(entry: str, drug: str | None) -> bool:
    if drug is None:
        return "=" not in entry
    return entry.partition("=")[0].strip().lower() == drug.lower()


def _plans_with_rows(used: list[Plan], by_cycle: Mapping[tuple[str, int], Plan], rows: list[CourseRow]) -> list[Plan]:
    """Each part plan with its own cycles' rows, as the course places them (delays applied)."""
    out = []
    for plan in used:
        mine = [cr.row for cr in rows if by_cycle[cr.row.phase, cr.row.cycle] is plan]
        out.append(dataclasses.replace(plan, administrations=tuple(mine), totals=tuple(compute_totals(mine))))
    return out  # the rows of the view are those of the part plans (the same objects)


def _what(regimen: Regimen, data: Mapping[str, Any]) -> str:
    parts = [_cycle_name(regimen, (data["phase"], data["cycle"]))]
    if data.get("day") is not None:
        parts.append(f"day {data['day']}")
    if data.get("drug"):
        parts.insert(0, data["drug"])
    return " ".join(parts)


def _record_given(rows: list[CourseRow], change: Change, regimen: Regimen, tz: str | None) -> list[CourseRow]:
    d = change.data
    found = [n for n, cr in enumerate(rows) if _matches(cr.row, d)]
    what = _what(regimen, d)
    if not found:
        raise CourseError(f"given (change {change.seq}): the course has no {what} to record")
    if len(found) > 1:
        drugs = ", ".join(dict.fromkeys(rows[n].row.component for n in found))
        raise CourseError(
            f"given (change {change.seq}): {what} matches {len(found)} administrations ({drugs}); name the drug "
            f"with {option('drug')} and the day with {option('day')}"
        )
    n = found[0]
    cr = rows[n]
    if cr.status == "omitted":
        raise CourseError(f"given (change {change.seq}): {what} was omitted (change {cr.change}); it cannot be given")
    if cr.status == "given":
        raise CourseError(f"given (change {change.seq}): {what} is already recorded as given (change {cr.change})")
    given_amount = amount(d["dose"], f"{option('dose')}")
    try:
        dose = given_amount.value * factor(given_amount.unit, cr.row.dose_unit)
    except Exception:
        raise CourseError(
            f"{option('dose')} {d['dose']!r}: {cr.row.drug} is planned in {cr.row.dose_unit}; give the dose in "
            f"{cr.row.dose_unit} (e.g. {option('dose')} '{format_fraction(cr.row.dose)} {cr.row.dose_unit}')"
        ) from None
    at = dt.datetime.fromisoformat(d["at"]) if d.get("at") else None
    given = Given(dose=dose, unit=cr.row.dose_unit, text=d["dose"], at=at, lot=d.get("lot"), change=change.seq)
    mark = []
    if dose != cr.row.dose:
        pct = (dose - cr.row.dose) / cr.row.dose * 100
        mark.append(
            f"given {format_fraction(dose)} {cr.row.dose_unit}, planned "
            f"{format_fraction(cr.row.dose)} {cr.row.dose_unit} ({'+' if pct > 0 else ''}{float(pct):.1f} %)"
        )
    rows[n] = dataclasses.replace(cr, status="given", given=given, change=change.seq, marks=(*cr.marks, *mark))
    return rows


def _flags(order: Sequence[tuple[str, int]], by_cycle: Mapping[tuple[str, int], Plan], regimen: Regimen) -> list[str]:
    """A change of more than 10 % in weight or BSA from one cycle to the next is flagged."""
    out = []
    for before, after in itertools.pairwise(order):
        a, b = by_cycle[before].patient, by_cycle[after].patient
        for name, old, new, unit in (
            ("weight", a.weight_kg, b.weight_kg, "kg"),
            ("BSA", a.bsa_m2, b.bsa_m2, "m²"),
        ):
            if old and new and old != new:
                pct = (new - old) / old * 100
                if abs(pct) > FLAG_CHANGE:
                    out.append(
                        f"{name} changed from {format_fraction(old)} {unit} to {format_fraction(new)} {unit} "
                        f"({'+' if pct > 0 else ''}{float(pct):.1f} %) from {_cycle_name(regimen, after)}: more than "
                        f"{format_fraction(FLAG_CHANGE)} %; check the doses with the prescriber"
                    )
    return out


# ---- building changes (checked against the course before they are recorded) -------------------------------


def change_data(kind: str, regimen: Regimen, **given: Any) -> dict[str, Any]:
    """The data of a change of ``kind`` from the command's values, checked for form (the replay checks the rest)."""
    if kind not in KINDS:
        raise CourseError(f"unknown change {kind!r}")
    data: dict[str, Any] = {}
    if kind != "stop":
        phase, cycle = parse_cycle(given["cycle"], regimen)
        data.update(phase=phase, cycle=cycle)
    if kind == "delay":
        days = _delay_days(given["by"])
        data["days"] = days
    elif kind == "measure":
        values = {k: given.get(k) for k in MEASURE_KEYS if given.get(k) is not None}
        if not values:
            raise CourseError("measure: give at least one of " + ", ".join(option(k) for k in MEASURE_KEYS))
        make_patient(**values)  # implausible values are refused here, before anything is recorded
        data["values"] = values
    elif kind == "dose":
        level, reduce = given.get("level"), given.get("reduce")
        if (level is None) == (reduce is None):
            raise CourseError(f"dose: give one of {option('level')} N (e.g. -1) or {option('reduce')} PCT (e.g. 75%)")
        if reduce is not None and not given.get("drug"):
            raise CourseError(f"dose {option('reduce')}: name the drug with {option('drug')}")
        if level is not None:
            try:
                data["level"] = int(str(level).strip())
            except ValueError:
                raise CourseError(f"{option('level')} {level!r}: give a whole number such as -1") from None
        else:
            data["reduce"] = str(reduce).strip()
        data["drug"] = given.get("drug")
    elif kind == "omit":
        if given.get("day") is None and not given.get("drug"):
            raise CourseError(f"omit: name the drug ({option('drug')}), the day ({option('day')}) or both")
        data.update(day=given.get("day"), drug=given.get("drug"))
    elif kind == "given":
        if not given.get("dose"):
            raise CourseError(f"given: give the dose given, with its unit ({option('dose')} '650 mg')")
        try:
            amount(given["dose"], f"{option('dose')}")
        except ValueError as exc:
            raise CourseError(str(exc)) from None
        data.update(day=given.get("day"), drug=given.get("drug"), dose=str(given["dose"]).strip())
        data["dose_number"] = given.get("dose_number")
        if given.get("at"):
            data["at"] = _instant(given["at"], given.get("tz")).isoformat()
        if given.get("lot"):
            lot = " ".join(str(given["lot"]).split())
            if not lot or len(lot) > 64:
                raise CourseError(f"{option('lot')}: one line of at most 64 characters")
            data["lot"] = lot
    elif kind == "stop":
        data["from"] = given["on"].isoformat()
    return data


def _delay_days(text: str | int) -> int:
    match = re.fullmatch(r"\s*(\d{1,4})\s*(d|day|days|w|wk|week|weeks)?\s*", str(text))
    if match is None:
        raise CourseError(
            f"{option('by')} {text!r}: give the delay in days or weeks, e.g. {option('by')} 7d or {option('by')} 1w"
        )
    days = int(match.group(1)) * (7 if (match.group(2) or "d").startswith("w") else 1)
    if not 1 <= days <= MAX_DELAY_DAYS:
        raise CourseError(f"{option('by')} {text!r}: a delay is 1 to {MAX_DELAY_DAYS} days")
    return days


def describe(change: Change, regimen: Regimen) -> str:
    """One line for the history."""
    d = change.data
    if change.kind == "delay":
        return f"{_cycle_name(regimen, (d['phase'], d['cycle']))} delayed {d['days']} days"
    if change.kind == "measure":
        said = ", ".join(f"{k} {v}" for k, v in d["values"].items())
        return f"{said} from {_cycle_name(regimen, (d['phase'], d['cycle']))}"
    if change.kind == "dose":
        what = f"dose level {d['level']}" if d.get("level") is not None else f"reduced to {d['reduce']}"
        return f"{d.get('drug') or 'all drugs'}: {what} from {_cycle_name(regimen, (d['phase'], d['cycle']))}"
    if change.kind == "omit":
        return f"omitted: {_what(regimen, d)}"
    if change.kind == "given":
        at = f" at {d['at']}" if d.get("at") else ""
        lot = f", lot {d['lot']}" if d.get("lot") else ""
        return f"given: {_what(regimen, d)} {d['dose']}{at}{lot}"
    return f"stopped from {d['from']}"


def start_options(values: Mapping[str, Any]) -> dict[str, Any]:
    """The clinical options a course records, checked; file-based ones are refused (a file could change)."""
    for name in FILE_OPTIONS:
        if values.get(name):
            raise CourseError(
                f"{option(name)}: a course records values, not files that could change under it; start the course "
                f"without it (rounding to an increment: {option('round')} DRUG=AMOUNT)"
            )
    kept = {k: values[k] for k in OPTION_KEYS if values.get(k) not in (None, (), [], "")}
    build_options(dict(kept))  # refuse what 'regimen expand' would refuse
    return {k: tuple(v) if isinstance(v, list | tuple) else v for k, v in kept.items()}


def rows_due(views: Iterable[CourseView], first: dt.date, last: dt.date) -> list[tuple[CourseView, CourseRow]]:
    """Planned administrations dated ``first`` to ``last`` across ``views``, by date, time, course."""
    out = [
        (v, cr)
        for v in views
        for cr in v.rows
        if cr.status == "planned" and cr.row.date is not None and first <= cr.row.date <= last
    ]
    out.sort(key=lambda p: (p[1].row.date, p[1].row.start or dt.datetime.min.replace(tzinfo=dt.UTC), p[0].course_id))
    return out


__all__ = [
    "KINDS",
    "Change",
    "CourseError",
    "CourseRow",
    "CourseStart",
    "CourseView",
    "DueRow",
    "Given",
    "change_data",
    "check_course_id",
    "describe",
    "parse_cycle",
    "replay",
    "rows_due",
    "start_options",
]
