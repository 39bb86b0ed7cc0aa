"""A treatment course: the plan as it stands after what happened (issue 12). No I/O here.

A course is its start (the regimen file's exact text, the patient values and options as typed, the date of
day 1) and an append-only list of changes, each with who, when and why. The course as it now stands is always
*replayed* from those records, never stored as a result, so nothing that was recorded is ever overwritten and a
later edit of the regimen file never changes a running course (its text was recorded at the start).

Changes, in the words of the day unit:

- ``delay``: cycle N (and every cycle after it) starts D days later;
- ``measure``: new weight, height, BSA, creatinine or GFR from cycle N on (doses recomputed from them; a change of
  more than 10 % in weight or BSA is flagged);
- ``dose``: a dose level of a drug (or of the whole regimen), or a change of a drug's dose ("80 % of the dose
  (reduced by 20 %)", :mod:`regimen.clinical.dose_change`) from cycle N on;
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

from regimen.clinical.anthracycline import course_exposure
from regimen.clinical.choices import build_options
from regimen.clinical.dose_change import DoseChange, parse_change, refuse_old_reduce
from regimen.clinical.patient import make_patient
from regimen.clinical.rounding import deviation_percent, signed_percent
from regimen.engine.expand import expand
from regimen.engine.plan import Plan, compute_totals, exact_sum
from regimen.engine.preparations import grouped, infusion_key
from regimen.errors import RegimenError, option
from regimen.model import Administration, Patient, Regimen
from regimen.protocol.loader import amount, load_text
from regimen.quantities.clock import parse_time, tzinfo_for
from regimen.quantities.exact import format_decimal, format_fraction, to_decimal
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
    "dose_percent",
    "reduce_by",
    "confirm",
    "round_to",
    "prior",
    "anthracycline_table",
    "anthracycline_limit",
)
FILE_OPTIONS = ("formulary", "vial_round", "band", "round_threshold")
#: Options the course itself counts (over the doses given and still planned), never each part plan.
ANTHRACYCLINE_OPTIONS = ("anthracycline_table", "prior", "anthracycline_limit")
#: A change of more than this (%) in weight or BSA, from one cycle to the next or since the start, is flagged;
#: so is a dose recorded as given that differs from the planned dose by more than this.
FLAG_CHANGE = Fraction(10)
#: A new weight or BSA of less than 1/RATIO or more than RATIO times the one in force, or a dose given of RATIO
#: times the planned dose or more, is refused unless confirmed: between two cycles it is almost always a slip (a unit,
#: a decimal point), and the records cannot be corrected afterwards, only added to.
IMPLAUSIBLE_RATIO = Fraction(2)
#: A dose recorded as given at a time later than now by more than this is refused (clocks of workstations differ).
CLOCK_SLACK = dt.timedelta(minutes=15)
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
    cycles: tuple[tuple[str, int], ...] = ()  # (phase, cycle) in course order
    patients: Mapping[tuple[str, int], Patient] = field(default_factory=dict)  # the values in force for each cycle

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
    dose_number: int | None = None  # with several doses a day: which
    condition: str | None = None  # given only if this holds


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


def _of_drug(row: Administration, drug: str) -> bool:
    return drug.lower() in (row.drug.lower(), row.component.lower())


def _matches(row: Administration, data: Mapping[str, Any]) -> bool:
    if (row.phase, row.cycle) != (data["phase"], data["cycle"]):
        return False
    if data.get("day") is not None and row.day != data["day"]:
        return False
    drug = data.get("drug")
    if drug is not None and not _of_drug(row, drug):
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
                options=build_options({k: v for k, v in options.items() if k not in ANTHRACYCLINE_OPTIONS}),
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


def replay(start: CourseStart, changes: Sequence[Change], cache: _Replay | None = None) -> CourseView:
    """The course as it stands after ``changes`` (in their order); raises :class:`CourseError` for a change
    that cannot apply, naming it. ``cache``: the expansions of an earlier replay of the same start."""
    r = cache if cache is not None else _Replay(start)
    regimen = r.regimen
    recorded = _replayed_options(start.options)
    base = r.plan(start.patient, recorded)
    order = list(dict.fromkeys((a.phase, a.cycle) for a in base.administrations))
    if not order:
        raise CourseError(f"{regimen.id}: the plan has no administrations to follow")
    patients: list[dict[str, str]] = [dict(start.patient) for _ in order]
    options: list[dict[str, Any]] = [dict(recorded) for _ in order]
    delays = [0] * len(order)
    marks: dict[tuple[str, int], list[tuple[str | None, str]]] = {}  # cycle -> (the drug it is of, or None; mark)
    warnings: list[str] = []
    notes: list[str] = []
    stopped: dt.date | None = None
    done_changes: list[Change] = []  # omitted and given, in the order recorded
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
            marks.setdefault(key, []).append((None, f"delayed {d['days']} days from this cycle on ({label})"))
        elif change.kind == "measure":
            for i in range(index, len(order)):
                patients[i].update({k: v for k, v in d["values"].items() if v is not None})
            said = ", ".join(f"{k} {v}" for k, v in d["values"].items() if v is not None)
            marks.setdefault(key, []).append((None, f"{said} from this cycle on ({label})"))
            if "weight" in d["values"] and "bsa" not in d["values"] and patients[index].get("bsa"):
                notes.append(
                    f"{label}: the weight changed but the BSA ({patients[index]['bsa']}) was given, not computed; "
                    f"record a new BSA ({option('bsa')}) if it changed too"
                )
        elif change.kind == "dose":
            for i in range(index, len(order)):
                if d.get("level") is not None:
                    # a level of one drug replaces that drug's; a level of every drug replaces them all
                    levels = [
                        x for x in options[i].get("dose_level") or () if d.get("drug") and not _same_drug(x, d["drug"])
                    ]
                    levels.append(f"{d['drug']}={d['level']}" if d.get("drug") else str(d["level"]))
                    options[i]["dose_level"] = tuple(levels)
                change_of_dose = _recorded_change(d)
                if change_of_dose is not None:
                    cuts = [x for x in options[i].get("dose_percent") or () if not _same_drug(x, d["drug"])]
                    cuts.append(f"{d['drug']}={change_of_dose.to_dict()['dose_percent']}")
                    options[i]["dose_percent"] = tuple(cuts)
                    options[i]["confirm"] = True  # checked, and confirmed where it had to be, when recorded
            what = _dose_what(d)
            marks.setdefault(key, []).append(
                (d.get("drug"), f"{d.get('drug') or 'all drugs'}: {what} from this cycle on ({label})")
            )
        elif change.kind in ("omit", "given"):
            done_changes.append(change)
        elif change.kind == "stop":
            stopped = dt.date.fromisoformat(d["from"])
    # expand each cycle with what is in force for it
    by_cycle: dict[tuple[str, int], Plan] = {}
    used: dict[int, Plan] = {}  # by id: each distinct part plan once, in cycle order
    covers: dict[int, list[tuple[str, int]]] = {}  # the cycles each part plan is used for
    for i, key in enumerate(order):
        plan = r.plan(patients[i], options[i])
        by_cycle[key] = plan
        used.setdefault(id(plan), plan)
        covers.setdefault(id(plan), []).append(key)
    parts = list(used.values())
    rows: list[CourseRow] = []
    cycle_rows: dict[tuple[str, int], list[Administration]] = {}
    for plan in parts:
        for a in plan.administrations:
            if by_cycle[a.phase, a.cycle] is plan:
                cycle_rows.setdefault((a.phase, a.cycle), []).append(a)
    for i, key in enumerate(order):
        for a in cycle_rows.get(key, []):
            row = _shift(a, delays[i], start.tz if start.time else None)
            mine = tuple(m for drug, m in marks.get(key, ()) if drug is None or _of_drug(a, drug))
            rows.append(CourseRow(row=row, status="planned", marks=mine))
    shifted_plans = _plans_with_rows(parts, by_cycle, rows)
    # omitted and given, in the order recorded
    for change in done_changes:
        if change.kind == "given":
            rows = _record_given(rows, change, regimen, start.tz)
            continue
        hit = [n for n, cr in enumerate(rows) if _matches(cr.row, change.data)]
        for n in hit:
            if rows[n].status == "planned":
                rows[n] = dataclasses.replace(rows[n], status="omitted", change=change.seq)
        if not any(rows[n].change == change.seq for n in hit):
            given = [rows[n] for n in hit if rows[n].status == "given"]
            why = (
                f"is recorded as given (change {given[0].change}); a dose given cannot be omitted"
                if given
                else "is not planned (or not any more)"
            )
            raise CourseError(f"omit (change {change.seq}): {_what(regimen, change.data)} {why}")
    if stopped is not None:
        rows = [
            dataclasses.replace(cr, status="stopped")
            if cr.status == "planned" and cr.row.date is not None and cr.row.date >= stopped
            else cr
            for cr in rows
        ]
    warnings.extend(_flags(order, by_cycle, base.patient, regimen))
    # what a part plan says of itself holds for its own cycles: said so, unless the plan of the start says it too
    first = parts[0]
    for plan in parts:
        where = "" if plan is first else f"{_cycles_text(regimen, covers[id(plan)])}: "
        warnings.extend(w if w in first.plan_warnings else where + w for w in plan.plan_warnings)
        notes.extend(n if n in first.notes else where + n for n in plan.notes)
    warnings.extend(_off_plan(rows, regimen))
    opts = build_options(_replayed_options(start.options))
    bsa = {key: plan.patient.bsa_m2 for key, plan in by_cycle.items()}
    found = course_exposure(
        [(cr.row.moved(dose=cr.given.dose), bsa[cr.row.phase, cr.row.cycle]) for cr in rows if cr.given is not None],
        [(cr.row, bsa[cr.row.phase, cr.row.cycle]) for cr in rows if cr.status == "planned"],
        opts.anthracycline_table,
        opts.prior,
        opts.anthracycline_limit,
    )
    notes.extend(found.lines)
    warnings.extend(found.warnings)
    totals: dict[tuple[str, str], Fraction] = {}
    for cr in rows:
        if cr.given is not None:
            totals[cr.row.drug, cr.given.unit] = totals.get((cr.row.drug, cr.given.unit), Fraction(0)) + cr.given.dose
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
        cycles=tuple(order),
        patients={key: plan.patient for key, plan in by_cycle.items()},
    )


def append(start: CourseStart, changes: Sequence[Change], new: Change) -> CourseView:
    """The course after ``new``, recorded after ``changes``; raises :class:`CourseError` when ``new`` cannot apply
    or would contradict what is already recorded (:func:`check_new`)."""
    cache = _Replay(start)
    before = replay(start, changes, cache)
    after = replay(start, [*changes, new], cache)
    check_new(before, after, new)
    return after


def _cycle_arg(regimen: Regimen, key: tuple[str, int]) -> str:
    """The cycle as the command takes it: '3', or 'ac:3' in a regimen of phases."""
    return f"{key[0]}:{key[1]}" if regimen.phased else str(key[1])


def _given_on(cr: CourseRow, tz: str | None) -> dt.date | None:
    """The day a dose recorded as given was given: of its time when recorded, else its planned date."""
    if cr.given is not None and cr.given.at is not None:
        return cr.given.at.astimezone(tzinfo_for(tz)).date()
    return cr.row.date


def check_new(before: CourseView, after: CourseView, change: Change) -> None:
    """What a new change must not do to what is already recorded, or record without a confirmation; raises
    :class:`CourseError`. Checked when the change is recorded, never on replay (what was recorded stays readable).

    - a delay, a new weight or a dose change from a cycle in which a dose is already recorded as given: it would
      move that dose or change the plan it was given under (it applies from a cycle with nothing given yet);
    - a dose given on or after the day the course was stopped from, or a stop from before a dose given or day 1;
    - a dose given of twice the planned dose or more, a weight or BSA halved or doubled: unless confirmed.
    """
    d, regimen, tz = change.data, after.regimen, after.start.tz
    label = f"{change.kind} (change {change.seq})"
    if change.kind in ("delay", "measure", "dose"):
        index = before.cycles.index((d["phase"], d["cycle"]))
        later = set(before.cycles[index:])
        done = [cr for cr in before.rows if cr.given is not None and (cr.row.phase, cr.row.cycle) in later]
        if done:
            last = max(before.cycles.index((cr.row.phase, cr.row.cycle)) for cr in done)
            after_last = before.cycles[last + 1] if last + 1 < len(before.cycles) else None
            hint = (
                f"; record it from {_cycle_name(regimen, after_last)} ({option('cycle')} "
                f"{_cycle_arg(regimen, after_last)})"
                if after_last is not None
                else ""
            )
            assert done[0].given is not None
            raise CourseError(
                f"{label}: {_row_name(regimen, done[0].row)} is recorded as given (change {done[0].given.change}); "
                f"a {change.kind} from {_cycle_name(regimen, (d['phase'], d['cycle']))} would change what it was "
                f"given under{hint}"
            )
    if change.kind == "measure" and not d.get("confirmed"):
        key = (d["phase"], d["cycle"])
        old, new = before.patients[key], after.patients[key]
        for name, a, b, unit in (("weight", old.weight_kg, new.weight_kg, "kg"), ("BSA", old.bsa_m2, new.bsa_m2, "m²")):
            if a and b and (b >= a * IMPLAUSIBLE_RATIO or b * IMPLAUSIBLE_RATIO <= a):
                raise CourseError(
                    f"{label}: {name} {format_fraction(b)} {unit} from {_cycle_name(regimen, key)} is "
                    f"{'twice or more' if b > a else 'half or less'} the {format_fraction(a)} {unit} in force: not a "
                    f"plausible change between cycles; check the value and its unit, and if it is right record it "
                    f"with {option('confirm')}"
                )
    if change.kind == "given":
        g, cr, given, planned = next(x for x in _given_records(after.rows) if x[0].change == change.seq)
        on = _given_on(cr, tz)
        if before.stopped is not None and on is not None and on >= before.stopped:
            raise CourseError(
                f"{label}: {_row_name(regimen, cr.row)} falls on {on.isoformat()}, after the course was stopped "
                f"(from {before.stopped.isoformat()}); a dose given after a stop is not part of this course"
            )
        if planned and given >= planned * IMPLAUSIBLE_RATIO and not d.get("confirmed"):
            raise CourseError(
                f"{label}: {format_fraction(given)} {g.unit} given is "
                f"{format_decimal(to_decimal(given / planned, 1))} times the planned "
                f"{format_fraction(planned)} {cr.row.dose_unit} for {_row_name(regimen, cr.row)}: check the dose and "
                f"its unit; if that much really was given, record it with {option('confirm')}"
            )
    if change.kind == "stop":
        stop = dt.date.fromisoformat(d["from"])
        if stop < before.start.start:
            raise CourseError(
                f"{label}: {stop.isoformat()} is before day 1 ({before.start.start.isoformat()}); to stop a course "
                f"before anything is given, stop it from day 1 ({option('on')} {before.start.start.isoformat()})"
            )
        for cr in before.rows:
            on = _given_on(cr, tz) if cr.given is not None else None
            if on is not None and on >= stop and cr.given is not None:
                raise CourseError(
                    f"{label}: {_row_name(regimen, cr.row)} is recorded as given on {on.isoformat()} (change "
                    f"{cr.given.change}); the course cannot be stopped from {stop.isoformat()}, before it"
                )


def _cycles_text(regimen: Regimen, keys: Sequence[tuple[str, int]]) -> str:
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


def _row_name(regimen: Regimen, row: Administration) -> str:
    """'oxaliplatin cycle 1 day 1' (and 'dose 2' with several doses a day)."""
    dose = f" dose {row.dose_number}" if row.dose_number is not None and (row.doses_per_day or 0) > 1 else ""
    return f"{row.drug} {_cycle_name(regimen, (row.phase, row.cycle))} day {row.day}{dose}"


def _off_plan(rows: Sequence[CourseRow], regimen: Regimen) -> list[str]:
    """A dose recorded as given that differs from the planned dose by more than FLAG_CHANGE %."""
    out = []
    for g, cr, given, planned in _given_records(rows):
        if not planned or abs(given - planned) * 100 <= FLAG_CHANGE * planned:
            continue
        out.append(
            f"{_row_name(regimen, cr.row)}: given {format_fraction(given)} {g.unit}, planned "
            f"{format_fraction(planned)} {cr.row.dose_unit} ({signed_percent(deviation_percent(planned, given))}, "
            f"change {g.change}): more than {format_fraction(FLAG_CHANGE)} % from the plan; check the record and the "
            "next doses"
        )
    return out


def _given_records(rows: Sequence[CourseRow]) -> list[tuple[Given, CourseRow, Fraction, Fraction]]:
    """Each record of a dose given: its first row, and the amounts given and planned (a whole infusion's, when the
    record is of a continuous infusion's day shares)."""
    by_change: dict[int, list[CourseRow]] = {}
    for cr in rows:
        if cr.given is not None:
            by_change.setdefault(cr.given.change, []).append(cr)
    out = []
    for crs in by_change.values():
        g = crs[0].given
        assert g is not None
        given = exact_sum([cr.given.dose for cr in crs if cr.given is not None])
        out.append((g, crs[0], given, exact_sum([cr.row.dose for cr in crs])))
    return out


def _same_drug(entry: str, drug: str) -> bool:
    """Whether an option entry 'DRUG=VALUE' is of ``drug``."""
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
    if data.get("dose_number") is not None:
        parts.append(f"dose {data['dose_number']}")
    return " ".join(parts)


def _record_given(rows: list[CourseRow], change: Change, regimen: Regimen, tz: str | None) -> list[CourseRow]:
    d = change.data
    found = _whole_infusions(rows, [n for n, cr in enumerate(rows) if _matches(cr.row, d)])
    what = _what(regimen, d)
    if not found:
        raise CourseError(f"given (change {change.seq}): the course has no {what} to record")
    # a continuous infusion is given as a whole (one pump): its day shares are one administration (issue 24)
    preps = grouped(found, lambda n: rows[n].row)
    if len(preps) > 1:
        drugs = ", ".join(dict.fromkeys(p.component for p, _ in preps))
        if len({(p.component, p.days) for p, _ in preps}) == 1:  # one drug on one day, several doses
            which = f"name the dose with {option('dose_number')} (1 to {len(preps)})"
        else:
            which = f"name the drug with {option('drug')} and the day with {option('day')}"
        raise CourseError(
            f"given (change {change.seq}): {what} matches {len(preps)} administrations ({drugs}); {which}"
        )
    prep, members = preps[0]
    for cr in (rows[n] for n in members):
        if cr.status == "omitted":
            raise CourseError(
                f"given (change {change.seq}): {what} was omitted (change {cr.change}); it cannot be given"
            )
        if cr.status == "given":
            raise CourseError(f"given (change {change.seq}): {what} is already recorded as given (change {cr.change})")
    unit = prep.dose_unit
    given_amount = amount(d["dose"], f"{option('dose')}")
    try:
        dose = given_amount.value * factor(given_amount.unit, unit)
    except Exception:
        raise CourseError(
            f"{option('dose')} {d['dose']!r}: {prep.drug} is planned in {unit}; give the dose in "
            f"{unit} (e.g. {option('dose')} '{format_fraction(prep.dose)} {unit}')"
        ) from None
    at = dt.datetime.fromisoformat(d["at"]) if d.get("at") else None
    mark = []
    if dose != prep.dose:
        off = signed_percent(deviation_percent(prep.dose, dose))
        mark.append(f"given {format_fraction(dose)} {unit}, planned {format_fraction(prep.dose)} {unit} ({off})")
    for n in members:
        cr = rows[n]
        # an infusion's day shares each hold their share of what was given (the sums stay exact)
        share = dose if len(members) == 1 else dose * cr.row.dose / prep.dose
        given = Given(dose=share, unit=unit, text=d["dose"], at=at, lot=d.get("lot"), change=change.seq)
        rows[n] = dataclasses.replace(cr, status="given", given=given, change=change.seq, marks=(*cr.marks, *mark))
    return rows


def _whole_infusions(rows: Sequence[CourseRow], found: list[int]) -> list[int]:
    """``found`` with every day share of each continuous infusion one of them is a share of (issue 24)."""
    keys = {k for n in found if (k := infusion_key(rows[n].row)) is not None}
    if not keys:
        return found
    return [n for n, cr in enumerate(rows) if n in found or infusion_key(cr.row) in keys]


def _flags(
    order: Sequence[tuple[str, int]], by_cycle: Mapping[tuple[str, int], Plan], start: Patient, regimen: Regimen
) -> list[str]:
    """A change of more than 10 % in weight or BSA is flagged: from one cycle to the next, and since the start (a
    loss in small steps, none of them over 10 %, is flagged at the cycle where the whole passes 10 %)."""
    out = []
    limit = format_fraction(FLAG_CHANGE)
    for before, after in itertools.pairwise(order):
        a, b = by_cycle[before].patient, by_cycle[after].patient
        for name, old, new, first, unit in (
            ("weight", a.weight_kg, b.weight_kg, start.weight_kg, "kg"),
            ("BSA", a.bsa_m2, b.bsa_m2, start.bsa_m2, "m²"),
        ):
            if not old or not new or old == new:
                continue
            step = deviation_percent(old, new)
            if abs(step) > FLAG_CHANGE:
                out.append(
                    f"{name} changed from {format_fraction(old)} {unit} to {format_fraction(new)} {unit} "
                    f"({signed_percent(step)}) from {_cycle_name(regimen, after)}: more than {limit} %; check the "
                    "doses with the prescriber"
                )
            elif first and abs(deviation_percent(first, new)) > FLAG_CHANGE >= abs(deviation_percent(first, old)):
                out.append(
                    f"{name} {format_fraction(new)} {unit} from {_cycle_name(regimen, after)} is "
                    f"{signed_percent(deviation_percent(first, new))} from the {format_fraction(first)} {unit} at "
                    f"the start: more than {limit} % since the start; check the doses with the prescriber"
                )
    return out


# ---- building changes (checked against the course before they are recorded) -------------------------------


def change_data(kind: str, regimen: Regimen, now: dt.datetime | None = None, **given: Any) -> dict[str, Any]:
    """The data of a change of ``kind`` from the command's values, checked for form (the replay and
    :func:`check_new` check the rest). ``now``: when it is recorded (UTC; default: the clock)."""
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
        if given.get("confirm"):
            data["confirmed"] = True
    elif kind == "dose":
        _dose_data(data, given)
        _check_dose(regimen, data)
    elif kind == "omit":
        if given.get("day") is None and not given.get("drug"):
            raise CourseError(f"omit: name the drug ({option('drug')}), the day ({option('day')}) or both")
        data.update(day=given.get("day"), drug=given.get("drug"))
        if given.get("dose_number") is not None:
            data["dose_number"] = given["dose_number"]
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
            at = _instant(given["at"], given.get("tz"))
            clock = now if now is not None else dt.datetime.now(dt.UTC)
            if at > clock + CLOCK_SLACK:
                local = clock.astimezone(tzinfo_for(given.get("tz"))).strftime("%Y-%m-%d %H:%M")
                raise CourseError(
                    f"{option('at')} {given['at']!r} is in the future (it is now {local} "
                    f"{given.get('tz') or 'UTC'}): record a dose when it has been given"
                )
            data["at"] = at.isoformat()
        if given.get("confirm"):
            data["confirmed"] = True
        if given.get("lot"):
            lot = " ".join(str(given["lot"]).split())
            if not lot or len(lot) > 64:
                raise CourseError(f"{option('lot')}: one line of at most 64 characters")
            data["lot"] = lot
    elif kind == "stop":
        data["from"] = given["on"].isoformat()
    return data


def _check_dose(regimen: Regimen, data: Mapping[str, Any]) -> None:
    """A dose change names a drug of the regimen, a level it defines, a reduction above 0 and at most 100 %: said in
    the words of 'course dose' (the expansion would say it in those of 'expand')."""
    comps = list(regimen.components())
    drug = data.get("drug")
    mine = [c for c in comps if drug is None or drug.lower() in (c.id.lower(), c.drug.lower())]
    if not mine:
        names = ", ".join(dict.fromkeys(c.drug for c in comps))
        raise CourseError(f"{option('drug')} {drug!r}: {regimen.id} has no such drug; its drugs are {names}")
    level = data.get("level")
    if level is not None and level != 0:
        targets = mine if drug is not None else [c for c in comps if c.levels]
        if not targets:
            raise CourseError(
                f"{option('level')} {level}: {regimen.id} defines no dose levels; for a change the protocol does "
                f"not tabulate, give {option('drug')} and {option('dose_percent')} PCT% or {option('reduce_by')} PCT%"
            )
        for c in targets:
            if not any(x.level == level for x in c.levels):
                defined = ", ".join(str(x.level) for x in c.levels) or "none"
                raise CourseError(
                    f"{option('level')} {level}: {c.drug} has no dose level {level} in {regimen.id} (its levels: "
                    f"{defined})"
                )


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


def describe(change: Change, regimen: Regimen, tz: str | None = None) -> str:
    """One line for the history; a time given in the course's zone ``tz`` (default UTC)."""
    d = change.data
    confirmed = " (confirmed as typed)" if d.get("confirmed") else ""
    if change.kind == "delay":
        return f"{_cycle_name(regimen, (d['phase'], d['cycle']))} delayed {d['days']} days"
    if change.kind == "measure":
        said = ", ".join(f"{k} {v}" for k, v in d["values"].items())
        return f"{said} from {_cycle_name(regimen, (d['phase'], d['cycle']))}{confirmed}"
    if change.kind == "dose":
        return f"{d.get('drug') or 'all drugs'}: {_dose_what(d)} from {_cycle_name(regimen, (d['phase'], d['cycle']))}"
    if change.kind == "omit":
        return f"omitted: {_what(regimen, d)}"
    if change.kind == "given":
        at = ""
        if d.get("at"):
            local = dt.datetime.fromisoformat(d["at"]).astimezone(tzinfo_for(tz))
            at = f" at {local.strftime('%Y-%m-%d %H:%M')} ({tz or 'UTC'})"
        lot = f", lot {d['lot']}" if d.get("lot") else ""
        return f"given: {_what(regimen, d)} {d['dose']}{at}{lot}{confirmed}"
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
    refuse_old_reduce(values.get("reduce"))
    changes = build_options(dict(kept)).dose_changes  # refuse what 'regimen expand' would refuse
    # recorded in one reading ("give N %"), whichever was typed; the confirmation is kept with them
    kept.pop("reduce_by", None)
    if changes:
        kept["dose_percent"] = tuple(f"{k}={c.to_dict()['dose_percent']}" for k, c in changes.items())
    return {k: tuple(v) if isinstance(v, list | tuple) else v for k, v in kept.items()}


def _replayed_options(recorded: Mapping[str, Any]) -> dict[str, Any]:
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


def _recorded_change(d: Mapping[str, Any]) -> DoseChange | None:
    """The change of dose a ``dose`` record holds (a record before issue 24 kept ``reduce``, meaning "give")."""
    if d.get("dose_percent") is not None:
        return parse_change("dose_percent", d["dose_percent"], confirm=True)
    if d.get("reduce") is not None:
        text = str(d["reduce"]).strip()
        return parse_change("dose_percent", text if text.endswith("%") else text + "%", confirm=True)
    return None


def _dose_what(d: Mapping[str, Any]) -> str:
    if d.get("level") is not None:
        return f"dose level {d['level']}"
    change = _recorded_change(d)
    assert change is not None
    said = change.working()
    if d.get("reduce") is not None:
        said += f" (recorded before issue 24 as 'reduce {d['reduce']}', which meant: give {d['reduce']})"
    return said


def _dose_data(data: dict[str, Any], given: Mapping[str, Any]) -> None:
    """A ``dose`` record: a dose level, or a change of the drug's dose in one reading (issue 24)."""
    refuse_old_reduce(given.get("reduce"))
    level = given.get("level")
    readings = [r for r in ("dose_percent", "reduce_by") if given.get(r) is not None]
    if (level is None) == (not readings) or len(readings) > 1:
        raise CourseError(
            f"dose: give one of {option('level')} N (e.g. -1), {option('dose_percent')} PCT% (e.g. 80%: give 80 % "
            f"of the dose) or {option('reduce_by')} PCT% (e.g. 20%: give 80 %)"
        )
    if readings and not given.get("drug"):
        raise CourseError(f"dose {option(readings[0])}: name the drug with {option('drug')}")
    if level is not None:
        try:
            data["level"] = int(str(level).strip())
        except ValueError:
            raise CourseError(f"{option('level')} {level!r}: give a whole number such as -1") from None
    else:
        reading = readings[0]
        change = parse_change(reading, given[reading], confirm=bool(given.get("confirm")), drug=given.get("drug"))
        data["dose_percent"] = change.to_dict()["dose_percent"]
        data["as_typed"] = f"{reading} {str(given[reading]).strip()}"
        if change.needs_confirming:
            data["confirmed"] = True
    data["drug"] = given.get("drug")


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
    "append",
    "change_data",
    "check_course_id",
    "check_new",
    "describe",
    "parse_cycle",
    "replay",
    "rows_due",
    "start_options",
]
