"""Pharmacometric event tables: a plan (or a cohort) as NONMEM-style dosing records, for NONMEM, rxode2, mrgsolve
and Pharmpy.

One record per dose: ID, TIME (hours from the patient's first dose), AMT, RATE (amount per hour; 0 for a dose given
at once), DUR (hours; 0 for a dose given at once), EVID = 1 (a dose), MDV = 1 (no observation), DV '.', CMT (one
compartment number per drug, in the order the regimen first gives them), and the patient's covariates WT (kg), BSA
(m²) and AGE (years), '.' when not given. Observation records (EVID 0, MDV 0, DV '.', AMT, RATE and DUR 0) are added
at the hours of a sampling schedule the user gives (:func:`parse_samples`), so that Pharmpy's
``create_basic_pk_model`` reads the table as it is. A continuous infusion is one record over all its days: AMT is the
whole infusion, RATE its rate, DUR its hours, and AMT = RATE × DUR exactly in the written text: an infusion whose
rate has no exact decimal (4320 mg over 46 h) is written as two records, all but its last hour (or half hour, ...)
at the rate cut to 9 decimals and the rest at the rate that makes the amounts add to the dose exactly
(:func:`exact_records`). Records are sorted by ID, then TIME (an observation before a dose at the same time: a
trough), then CMT.

The data hold numbers only. What each column's unit is, which drug each CMT is, and every assumption made in
writing the table go to a separate description (:func:`describe`), written beside an ``-o`` file as
``FILE.txt``: a drug whose method the source does not state is written as given at once (RATE 0), and
without a time of day (``--time``) every dose of a treatment day is at the day's hour 0, several doses of a day
spread evenly over it.

Amounts are milligrams (a microgram dose is converted exactly); a dose in units of activity stays in units, said in
the description. Numbers are exact where they terminate within 12 decimals, else given to 12 significant digits.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regimen.clinical.options import ClinicalOptions
from regimen.clinical.patient import AGE, BSA, HEIGHT, WEIGHT
from regimen.clinical.prepare import computed_bsa
from regimen.engine.cohort.roster import ID_COLUMN, as_text, read_number, read_roster
from regimen.engine.cohort.runner import MemorySink, RunSummary, run
from regimen.engine.outcomes import settled_by
from regimen.engine.row_frames import frame_records
from regimen.engine.rows import row_records
from regimen.errors import RegimenError, option
from regimen.export.frames import write_errors
from regimen.export.io import write_atomic
from regimen.export.spreadsheet import safe_text
from regimen.model import Regimen
from regimen.quantities.exact import exact_decimal, format_decimal, is_terminating, round_significant

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from regimen.engine.plan import Plan

COLUMNS = ("ID", "TIME", "AMT", "RATE", "DUR", "EVID", "MDV", "DV", "CMT", "WT", "BSA", "AGE")
#: The most sampling times a schedule may give (a schedule is a few dozen times; this bounds the table's size).
MAX_SAMPLES = 10_000
INSTANT = ("bolus", "IV push")


@dataclass(frozen=True, slots=True)
class Event:
    """One dosing record, exact."""

    id: int
    time: Fraction  # hours from the patient's first dose
    amt: Fraction
    rate: Fraction  # amount per hour; 0 for a dose given at once
    dur: Fraction  # hours; 0 for a dose given at once
    cmt: int
    drug: str
    unit: str  # mg or units
    evid: int = 1  # 1 a dose, 0 an observation


def number(x: Fraction) -> str:
    """Exact when it terminates within 12 decimals, else 12 significant digits; never an exponent."""
    if is_terminating(x) and exact_decimal(x, 12) == x:
        return format_decimal(exact_decimal(x, 12), grouping=False)
    return format_decimal(round_significant(x, 12), grouping=False)


def _written(x: Fraction) -> bool:
    """True when :func:`number` writes ``x`` exactly."""
    return is_terminating(x) and exact_decimal(x, 12) == x


def exact_records(e: Event) -> list[Event]:
    """``e`` as records whose written AMT, RATE and DUR satisfy AMT = RATE × DUR exactly and add up to the dose.

    A rate with no exact decimal (4320 mg / 46 h = 93.913043478260869… mg/h) cannot be written so that RATE × DUR
    is AMT; the infusion is then two records: the rate cut to 9 decimals for all of it but a last piece of 1 h (or
    1/2, 1/4 … h when the infusion is shorter), and over that piece the rest of the dose (its rate terminates, as
    the piece's length is 1/2ⁿ h). Both rates are within 10⁻⁸ mg/h of the exact one per hour of the first piece."""
    if e.rate == 0 or _written(e.rate) or not (_written(e.amt) and _written(e.dur)):
        return [e]
    piece = Fraction(1)
    while piece >= e.dur:
        piece /= 2
    first_hours = e.dur - piece
    rate = Fraction(math.floor(e.rate * 10**9), 10**9)
    first = first_hours * rate
    last = e.amt - first
    split = [
        Event(e.id, e.time, first, rate, first_hours, e.cmt, e.drug, e.unit),
        Event(e.id, e.time + first_hours, last, last / piece, piece, e.cmt, e.drug, e.unit),
    ]
    if not all(_written(x) for r in split for x in (r.amt, r.rate, r.dur, r.time)) or last <= 0:
        return [e]  # pragma: no cover - the arithmetic above keeps every value a short decimal
    return split


def parse_samples(text: str) -> tuple[str | None, tuple[Fraction, ...]]:
    """A sampling schedule: hours from the first dose, '0.5,1,2,4,8,24', optionally for one drug's compartment
    ('oxaliplatin: 0.5,1,2'; default the first anticancer drug's). Refused, naming the value, when a time is not a
    number of hours or is negative."""
    drug, _, hours = text.rpartition(":")
    times: list[Fraction] = []
    for part in (p.strip() for p in hours.split(",")):
        try:
            value = Fraction(part)
        except (ValueError, ZeroDivisionError):
            raise RegimenError(
                f"sampling time {part!r} in {option('samples')} is not a number of hours (write e.g. 0.5,1,2,4)"
            ) from None
        if value < 0 or value > 10**6:
            raise RegimenError(f"sampling time {part!r} in {option('samples')} must be from 0 to 1,000,000 hours")
        times.append(value)
    if len(times) > MAX_SAMPLES:
        raise RegimenError(f"{option('samples')} gives {len(times):,} times; at most {MAX_SAMPLES:,}")
    return (drug.strip() or None), tuple(sorted(set(times)))


def with_samples(
    events: Sequence[Event],
    samples: tuple[str | None, Sequence[Fraction]] | None,
    anticancer: Collection[str] = (),
) -> list[Event]:
    """The dosing records (each in :func:`exact_records`) with an observation record at each sampling time, in the
    named drug's compartment or else the first anticancer drug's (an antiemetic given an hour before it comes first
    in the plan, but is not what a PK sample measures); the first compartment when none is named anticancer."""
    out = [r for e in events for r in exact_records(e)]
    if samples and samples[1] and out:
        drug, times = samples
        cmts = {e.drug: e.cmt for e in out}
        if drug is not None and drug not in cmts:
            known = ", ".join(cmts)
            raise RegimenError(f"{option('samples')} names {drug!r}, which this plan does not give (it gives {known})")
        cancer = [c for d, c in cmts.items() if d in anticancer]
        cmt = cmts[drug] if drug is not None else min(cancer or cmts.values())
        name = next(e.drug for e in out if e.cmt == cmt)
        out += [Event(out[0].id, t, Fraction(0), Fraction(0), Fraction(0), cmt, name, "", evid=0) for t in times]
    return sorted(out, key=lambda e: (e.id, e.time, e.evid, e.cmt))


def _fraction(value: Any) -> Fraction:
    if isinstance(value, Fraction):
        return value
    return Fraction(str(value))


def _in_mg(amount: Fraction, unit: str) -> tuple[Fraction, str]:
    if unit == "mcg":
        return amount / 1000, "mg"
    return amount, unit


def events_from_records(
    records: Sequence[Mapping[str, Any]], patient_id: int, times: Sequence[Fraction] | None = None
) -> list[Event]:
    """The dosing records of one patient from the row records of their plan (:func:`regimen.engine.rows.row_record`
    or a cohort frame's rows). ``times``: each row's start in hours from an origin (from the plan's instants),
    else from the course day (and the dose number of several a day)."""
    condition = next((str(r["condition"]) for r in records if r.get("condition")), None)
    if condition is not None:
        raise RegimenError(
            f"an event table needs one plan, and this one depends on a value not given ({condition}): give "
            f"{settled_by(condition)}"
        )
    cmts: dict[str, int] = {}
    out: list[Event] = []
    infusions: dict[tuple[Any, ...], list[tuple[int, Mapping[str, Any]]]] = {}
    for i, r in enumerate(records):
        cmts.setdefault(str(r["drug"]), len(cmts) + 1)
        if r.get("infusion_days") not in (None, "", 0):
            infusions.setdefault((r["phase"], r["cycle"], r["component"]), []).append((i, r))
            continue
        amount, unit = _in_mg(_fraction(r["dose_exact"]), str(r["dose_unit"]))
        duration = r.get("duration_h")
        if r.get("method") not in INSTANT and duration not in (None, "") and _fraction(duration) > 0:
            dur = _fraction(duration)
            rate = amount / dur
        else:  # given at once, or a method the source does not state (said in the description)
            dur, rate = Fraction(0), Fraction(0)
        out.append(Event(patient_id, _time(r, i, times), amount, rate, dur, cmts[str(r["drug"])], str(r["drug"]), unit))
    for rows in infusions.values():
        first_i, first = rows[0]
        amount = sum((_fraction(r["dose_exact"]) for _, r in rows), Fraction(0))
        amount, unit = _in_mg(amount, str(first["dose_unit"]))
        hours = sum((_fraction(r["duration_h"]) for _, r in rows), Fraction(0))
        out.append(
            Event(
                patient_id,
                _time(first, first_i, times),
                amount,
                amount / hours,
                hours,
                cmts[str(first["drug"])],
                str(first["drug"]),
                unit,
            )
        )
    if out:
        origin = min(e.time for e in out)
        out = [Event(e.id, e.time - origin, e.amt, e.rate, e.dur, e.cmt, e.drug, e.unit) for e in out]
    return sorted(out, key=lambda e: (e.id, e.time, e.cmt))


def _time(r: Mapping[str, Any], i: int, times: Sequence[Fraction] | None) -> Fraction:
    if times is not None:
        return times[i]
    day = Fraction(int(r["course_day"]) - 1) * 24
    n, k = r.get("doses_per_day"), r.get("dose_number")
    if n not in (None, "") and k not in (None, ""):
        day += Fraction(24, int(n)) * (int(k) - 1)
    return day


def plan_events(plan: Plan, patient_id: int = 1) -> list[Event]:
    """The plan's dosing records (exact), from the same row records as every other output."""
    records = row_records(plan)
    for rec, r in zip(records, plan.administrations, strict=True):
        rec["dose_exact"] = r.dose  # exact Fractions, not the rounded display
        rec["duration_h"] = r.duration_hours
    times: list[Fraction] | None = None
    if plan.time is not None and all(r.start is not None for r in plan.administrations):
        first = min(r.start for r in plan.administrations if r.start is not None)
        times = [Fraction(int((r.start - first).total_seconds()), 3600) for r in plan.administrations if r.start]
    return events_from_records(records, patient_id, times)


def _covariate(value: Fraction | None) -> str:
    return "." if value is None else number(value)


def events_csv(rows: Iterable[tuple[Event, Mapping[str, Fraction | None]]]) -> str:
    """The table as CSV: a header row of :data:`COLUMNS`, then one line per record (numbers only)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for e, cov in rows:
        writer.writerow(
            [
                e.id,
                number(e.time),
                number(e.amt),
                number(e.rate),
                number(e.dur),
                e.evid,
                1 if e.evid else 0,
                ".",
                e.cmt,
                _covariate(cov.get("WT")),
                _covariate(cov.get("BSA")),
                _covariate(cov.get("AGE")),
            ]
        )
    return out.getvalue()


def _anticancer(plan: Plan) -> frozenset[str]:
    return frozenset(a.drug for a in plan.administrations if a.role == "anticancer")


def plan_events_csv(plan: Plan, samples: tuple[str | None, Sequence[Fraction]] | None = None) -> str:
    """The plan's event table; ``samples`` (from :func:`parse_samples`) adds observation records."""
    p = plan.patient
    cov = {"WT": p.weight_kg, "BSA": p.bsa_m2, "AGE": p.age_years}
    return events_csv((e, cov) for e in with_samples(plan_events(plan), samples, _anticancer(plan)))


def describe(
    regimen_id: str, events: Sequence[Event], *, timed: bool, unstated: Sequence[str], ids: Mapping[int, str] | None
) -> str:
    """The description written beside the data: units, compartments, assumptions."""
    cmts = sorted({(e.cmt, e.drug, e.unit) for e in events})
    lines = [
        f"# Event table of {regimen_id} (regimen; research software: verify every dose against the protocol)",
        "# Columns: ID; TIME hours from the patient's first dose; AMT amount; RATE amount per hour (0: given at once);",
        "#   DUR hours (0: given at once); EVID 1 a dose, 0 an observation; MDV 1 a dose, 0 an observation;",
        "#   DV the observed value ('.': none yet); CMT compartment (below); WT kg; BSA m²; AGE years;",
        "#   '.' = not given.",
        "# A continuous infusion is one record, AMT = RATE × DUR exactly as written; when its rate has no exact",
        "#   decimal it is two records (the rate cut to 9 decimals, then the last hour or less at the rate that",
        "#   completes the dose), whose AMTs add to the dose exactly.",
        *(f"# CMT {cmt} = {safe_text(drug)} (AMT in {unit}, RATE in {unit}/h)" for cmt, drug, unit in cmts),
    ]
    if not timed:
        lines.append(
            "# No time of day was given (--time): each dose is at hour 0 of its treatment day (TIME = 24 × (course "
            "day - 1)); several doses of a day are spread evenly over it; order within a day is not represented."
        )
    lines += [
        f"# {safe_text(drug)}: the source does not state how it is given; written as given at once (RATE 0, DUR 0): "
        "set RATE or DUR for your model"
        for drug in unstated
    ]
    if ids:
        lines.append("# ID = patient_id: " + ", ".join(f"{k} = {safe_text(v)}" for k, v in sorted(ids.items())))
    return "\n".join(lines) + "\n"


def unstated_methods(records: Iterable[Mapping[str, Any]]) -> list[str]:
    """Drugs whose method the source leaves unstated and that have no duration: written as given at once."""
    found: dict[str, None] = {}
    for r in records:
        if r.get("method") in (None, "") and r.get("duration_h") in (None, "") and not r.get("infusion_days"):
            if r.get("route") in (None, "", "IV"):
                found[str(r["drug"])] = None
    return list(found)


def plan_description(plan: Plan, samples: tuple[str | None, Sequence[Fraction]] | None = None) -> str:
    records = row_records(plan)
    events = with_samples(plan_events(plan), samples, _anticancer(plan))
    about = describe(
        plan.regimen.id,
        [e for e in events if e.evid],
        timed=plan.time is not None,
        unstated=unstated_methods(records),
        ids=None,
    )
    observed = [e for e in events if not e.evid]
    if observed:
        times = ", ".join(number(e.time) for e in observed)
        where = f"CMT {observed[0].cmt} ({safe_text(observed[0].drug)})"
        about += f"# Observation records (EVID 0) in {where} at hours {times}\n"
    return about


def cohort_events(
    frame: pd.DataFrame, covariates: Mapping[str, Mapping[str, Fraction | None]], id_column: str = "patient_id"
) -> tuple[str, dict[int, str], list[Event]]:
    """A cohort's rows (a frame of the row schema with ``patient_id``) as one event table: IDs 1, 2, ... in roster
    order (NONMEM needs numbers; the description maps them to the patient ids); ``covariates``: per patient id, WT,
    BSA and AGE as read from the roster. Linear in the rows."""
    records = frame_records(frame)
    by_patient: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        by_patient.setdefault(str(rec[id_column]), []).append(rec)
    ids: dict[int, str] = {}
    rows: list[tuple[Event, Mapping[str, Fraction | None]]] = []
    everything: list[Event] = []
    for n, (pid, recs) in enumerate(by_patient.items(), start=1):
        ids[n] = pid
        events = with_samples(events_from_records(recs, n), None)
        everything += events
        rows += [(e, covariates.get(pid, {})) for e in events]
    return events_csv(rows), ids, everything


def write_cohort_events(
    regimen: Regimen,
    roster: str | Path,
    output: str | Path,
    options: ClinicalOptions | None,
    *,
    errors_path: str | Path,
    cycles: int | Mapping[str, int] | None = None,
    cycle_length: int | None = None,
    name: Callable[[str], str] | None = None,
) -> tuple[RunSummary, int]:
    """``regimen cohort --format nonmem``: the cohort's event table to ``output`` and its description beside it
    (``output.txt``), rejected rows to ``errors_path``. The rows are held in memory (the table is sorted by ID)."""
    frame_in = read_roster(roster)
    sink = MemorySink()
    summary = run(regimen, frame_in, sink, options, cycles=cycles, cycle_length=cycle_length, name=name)
    frame = sink.frame()
    covariates: dict[str, dict[str, Fraction | None]] = {}
    for _, row in frame_in.iterrows():
        pid = str(row.get(ID_COLUMN, ""))
        covariates[pid] = {key: _covariate_of(row, column, measure) for key, column, measure in _COVARIATES}
        if covariates[pid]["BSA"] is None:  # computed from height, as each row's dose was: the BSA used, not '.'
            covariates[pid]["BSA"] = _bsa_from_height(row, covariates[pid]["WT"], options)
    data, ids, events = cohort_events(frame, covariates)
    records = frame_records(frame.drop_duplicates(subset=["component"])) if len(frame) else []
    about = describe(regimen.id, events, timed=False, unstated=unstated_methods(records), ids=ids)
    write_atomic(f"{output}.txt", about)
    write_atomic(output, data)
    write_errors(summary.errors, errors_path)
    return summary, len(events)


_COVARIATES = (("WT", "weight_kg", WEIGHT), ("BSA", "bsa_m2", BSA), ("AGE", "age", AGE))


def _bsa_from_height(row: Any, weight: Fraction | None, options: ClinicalOptions | None) -> Fraction | None:
    height = _covariate_of(row, "height_cm", HEIGHT)
    if weight is None or height is None:
        return None
    sex = as_text(row.get("sex")) if "sex" in row.index else None
    try:
        return computed_bsa(weight, height, sex, (options or ClinicalOptions()).bsa_formula)[1]
    except RegimenError:  # a formula that needs the sex, without it: the row was rejected or had its BSA
        return None


def _covariate_of(row: Any, column: str, measure: Any) -> Fraction | None:
    text = as_text(row.get(column)) if column in row.index else None
    if text is None:
        return None
    try:
        return read_number(text, measure)
    except RegimenError:
        return None


__all__ = [
    "COLUMNS",
    "Event",
    "cohort_events",
    "describe",
    "events_csv",
    "events_from_records",
    "exact_records",
    "parse_samples",
    "plan_description",
    "plan_events",
    "plan_events_csv",
    "unstated_methods",
    "with_samples",
    "write_cohort_events",
]
