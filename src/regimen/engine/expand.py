"""Regimen + patient -> administrations: the heart of regimen. No I/O here.

For each phase and cycle, each component's variant is chosen by its rule (patient values and
the cycle number), its days are resolved (relative days follow their anchor), and each
treatment day becomes one :class:`~regimen.model.Administration` whose ``calculation`` shows
the working. All arithmetic is exact; rounding is applied only to numbers printed in the
working, and is stated in the plan's notes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from regimen.clinical import rate_escalation
from regimen.clinical.adjust import Adjustments, PendingRow, row_warnings
from regimen.clinical.anthracycline import exposure
from regimen.clinical.lifetime import bleomycin_total
from regimen.clinical.options import ClinicalOptions, StrictError
from regimen.clinical.patient import AGE
from regimen.clinical.prepare import Gfr, prepare
from regimen.engine import fastpath
from regimen.engine.fastpath import IdentityMemo, new_row
from regimen.engine.fastpath import moved_row as _moved
from regimen.engine.outcomes import expand_outcomes, missing_names, missing_warning, outcomes
from regimen.engine.plan import Plan, TotalKey, cycle_sums, totals_of
from regimen.engine.timing import assign_times
from regimen.errors import PatientError, RegimenError, option
from regimen.model import (
    Administration,
    AucDose,
    Component,
    Derivation,
    Infusion,
    Patient,
    Phase,
    Regimen,
    Variant,
    completed_years,
    resolve_days,
)
from regimen.quantities.clock import tzinfo_for
from regimen.quantities.days import describe_days, runs
from regimen.quantities.exact import (
    DEFAULT_ROUNDING,
    Rounding,
    amount_text,
    format_fraction,
)
from regimen.quantities.limits import MAX_COURSE_DAYS, MAX_CYCLES, MAX_ROWS, check_count, check_date
from regimen.quantities.units import ParsedDose

HOURS_PER_DAY = Fraction(24)


# ---- choosing variants and resolving days --------------------------------------------------------


def choose_variant(component: Component, patient: Patient, cycle: int, on: dt.date | None = None) -> Variant | None:
    """The variant whose rule holds for this patient and cycle (starting ``on``; rules are exclusive), or None."""
    values = patient.rule_values(cycle, on)
    for variant in component.variants:
        if variant.when.evaluate(values):
            return variant
    return None


def component_schedule(component: Component, variant: Variant | None) -> tuple[ParsedDose | AucDose, Fraction | None]:
    """The dose and duration (hours) ``component`` gives under ``variant``: the variant's where it states them."""
    dose = variant.dose if variant is not None and variant.dose is not None else component.dose
    duration = (
        variant.duration_hours
        if variant is not None and variant.duration_hours is not None
        else component.duration_hours
    )
    return dose, duration


# ---- doses ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _DoseWork:
    """One day's amount, its rate (if any), hours of delivery that day, and the working."""

    amount: Fraction
    rate: Fraction | None
    hours: Fraction | None
    calculation: str


def _basis(dose: ParsedDose, patient: Patient) -> tuple[Fraction, str]:
    """The patient factor for a dose and its text: (1.8, '× 1.8 m²')."""
    if dose.unit.basis == "weight":
        assert patient.weight_kg is not None
        return patient.weight_kg, f" × {format_fraction(patient.weight_kg)} kg"
    if dose.unit.basis == "bsa":
        assert patient.bsa_m2 is not None
        return patient.bsa_m2, f" × {format_fraction(patient.bsa_m2)} m²"
    return Fraction(1), ""


def _hours_text(hours: Fraction) -> str:
    if hours <= 1:
        return f"{format_fraction(hours * 60)} min"
    return f"{format_fraction(hours)} h"


def dose_for_day(
    dose: ParsedDose,
    continuous: bool,
    duration_hours: Fraction | None,
    patient: Patient,
    rounding: Rounding,
    hours_today: Fraction = HOURS_PER_DAY,
    body: tuple[Fraction, str] | None = None,
    infusion_hours: Fraction | None = None,
) -> _DoseWork:
    """The amount given on one treatment day, with the working a pharmacist can check by hand.

    ``body`` overrides the patient factor (a dosing weight or a capped BSA) with its working text. A continuous
    infusion's day is its share of the whole infusion (:func:`infusion_dose`, over ``infusion_hours``: by default its
    stated duration): the whole infusion's working, then this day's share of it (:func:`share_text`).
    """
    if continuous:
        whole = infusion_hours if infusion_hours is not None else duration_hours or hours_today
        work = infusion_dose(dose, duration_hours, whole, patient, rounding, body)
        assert work.rate is not None
        unit = dose.unit.output_unit
        share = work.rate * hours_today
        return _DoseWork(
            share, work.rate, hours_today, f"{work.calculation}; {share_text(work.rate, hours_today, unit, rounding)}"
        )
    unit = dose.unit.output_unit
    per, head, conversion, factor_text = _written(dose, patient, body)
    if dose.unit.time == "hour":
        assert duration_hours is not None
        amount = per * duration_hours
        calc = (
            f"{head}{conversion} = {amount_text(per, unit + '/h', rounding)}; × {_hours_text(duration_hours)} = "
            f"{amount_text(amount, unit, rounding)}"
        )
        return _DoseWork(amount, per, duration_hours, calc)
    calc = f"{head}{conversion} = {amount_text(per, unit, rounding)}" if factor_text or conversion else head
    return _timed(per, unit, duration_hours, calc, rounding)


def _written(dose: ParsedDose, patient: Patient, body: tuple[Fraction, str] | None) -> tuple[Fraction, str, str, str]:
    """The dose times the patient factor (in the output unit, per day / per hour / per administration), the
    working's head ('2,400 mg/m² × 1.8 m²'), a conversion of the written unit ('= 1.8 g'), and the factor's text."""
    factor, factor_text = body if body is not None else _basis(dose, patient)
    per = dose.canonical * factor
    head = f"{dose.display}{factor_text}" if factor_text else f"{dose.display} (flat dose)"
    written_mass = dose.unit.symbol.split("/")[0]
    conversion = ""
    if written_mass != dose.unit.output_unit:  # e.g. 1 g/m²/day × 1.8 m² = 1.8 g = 1,800 mg
        time = {"day": "/day", "hour": "/h", "none": ""}[dose.unit.time]
        conversion = f" = {format_fraction(Fraction(dose.value) * factor)} {written_mass}{time}"
    return per, head, conversion, factor_text


def infusion_dose(
    dose: ParsedDose,
    duration_hours: Fraction | None,
    hours: Fraction,
    patient: Patient,
    rounding: Rounding,
    body: tuple[Fraction, str] | None = None,
) -> _DoseWork:
    """A whole continuous infusion running ``hours`` (elapsed): its amount, its rate and the working, as it is
    prepared (one pump or bag): "2,400 mg/m² × 1.8 m² = 4,320 mg over 46 h = 93.91 mg/h"."""
    unit = dose.unit.output_unit
    per, head, conversion, _ = _written(dose, patient, body)
    if dose.unit.time == "none":  # a total over the infusion's duration (an ambulatory pump)
        assert duration_hours is not None
        rate = per / duration_hours
        calc = (
            f"{head}{conversion} = {amount_text(per, unit, rounding)} over {_hours_text(duration_hours)} = "
            f"{amount_text(rate, unit + '/h', rounding)}"
        )
        return _DoseWork(per, rate, duration_hours, calc)
    if dose.unit.time == "hour":
        rate = per
        calc = f"{head}{conversion} = {amount_text(rate, unit + '/h', rounding)}"
    else:
        rate = per / HOURS_PER_DAY
        calc = (
            f"{head}{conversion} = {amount_text(per, unit + '/day', rounding)}, given as "
            f"{amount_text(rate, unit + '/h', rounding)}"
        )
    calc += f" continuously over {_hours_text(hours)} = {amount_text(rate * hours, unit, rounding)}"
    return _DoseWork(rate * hours, rate, hours, calc)


def share_text(rate: Fraction, hours_today: Fraction, unit: str, rounding: Rounding) -> str:
    """A day's share of a continuous infusion, in its working: "this day's share: 93.91 mg/h × 24 h = 2,254 mg"."""
    return (
        f"this day's share: {amount_text(rate, unit + '/h', rounding)} × {_hours_text(hours_today)} = "
        f"{amount_text(rate * hours_today, unit, rounding)}"
    )


def _timed(amount: Fraction, unit: str, duration_hours: Fraction | None, calc: str, rounding: Rounding) -> _DoseWork:
    """An amount given over a stated duration gets its rate ("over 60 min (1,800 mg/h)"); else none."""
    if duration_hours is None:
        return _DoseWork(amount, None, None, calc)
    rate = amount / duration_hours
    return _DoseWork(
        amount,
        rate,
        duration_hours,
        f"{calc} over {_hours_text(duration_hours)} ({amount_text(rate, unit + '/h', rounding)})",
    )


def auc_dose(dose: AucDose, gfr: Gfr, duration_hours: Fraction | None, rounding: Rounding) -> _DoseWork:
    """Calvert: dose (mg) = target AUC × (GFR + 25), with the GFR's source and cap in the working."""
    amount = Fraction(dose.value) * (gfr.used + 25)
    calc = f"{dose.display} × ({gfr.text} + 25) = {amount_text(amount, 'mg', rounding)} (Calvert)"
    return _timed(amount, "mg", duration_hours, calc, rounding)


#: One dose of a treatment day: (amount, rate, hours, working, dose number of several a day or None).
DayDose = tuple[Fraction, Fraction | None, Fraction | None, str, int | None]


def day_doses(
    comp: Component,
    dose: ParsedDose | AucDose,
    continuous: bool,
    duration: Fraction | None,
    hours_today: Fraction,
    patient: Patient,
    rounding: Rounding,
    *,
    level_step: str = "",
    body: tuple[Fraction, str] | None = None,
    gfr: Gfr | None = None,
    infusion_hours: Fraction | None = None,
) -> list[DayDose]:
    """The doses ``comp`` gives on one treatment day (one, or ``times_per_day`` of them), with their working: what a
    plan's rows and a cohort's rows are both made from. ``hours_today``: the day's hours of a continuous infusion
    (:attr:`Infusion.hours_today`), and ``infusion_hours`` the whole infusion's (:func:`dose_for_day`); ``gfr``: the
    patient's, for a target AUC."""
    if isinstance(dose, AucDose):
        assert gfr is not None
        work = auc_dose(dose, gfr, duration, rounding)
    else:
        work = dose_for_day(
            dose,
            continuous,
            duration,
            patient,
            rounding,
            hours_today=hours_today,
            body=body,
            infusion_hours=infusion_hours,
        )
    n = comp.times_per_day
    if n == 1:
        return [(work.amount, work.rate, work.hours, f"{level_step}{work.calculation}", None)]
    # several doses a day: a dose per day is shared among them, any other dose is each one's
    per_day = not isinstance(dose, AucDose) and dose.unit.time == "day"
    each = work.amount / n if per_day else work.amount
    unit = dose.unit.output_unit
    out: list[DayDose] = []
    for k in range(1, n + 1):
        split = (
            f" ÷ {n} doses = {amount_text(each, unit, rounding)} (dose {k} of {n})"
            if per_day
            else f" (dose {k} of {n}; {amount_text(each * n, unit, rounding)} a day)"
        )
        out.append((each, None, None, f"{level_step}{work.calculation}{split}", k))
    return out


def additives_step(comp: Component) -> str | None:
    """The working's last step for what is added to a component's fluid, as the source states it (never calculated),
    or None: a plan's rows and a cohort's rows alike."""
    if not comp.additives:
        return None
    return f"with {', '.join(map(str, comp.additives))} added (as the source states; not calculated)"


# ---- patient requirements ------------------------------------------------------------------------

PATIENT_FIELDS = {"weight": "weight", "bsa": "body-surface area", "age": "age", "height": "height", "sex": "sex"}


def requirements(regimen: Regimen) -> list[str]:
    """Patient values this regimen needs: 'weight', 'bsa', 'age', 'height', 'sex' (in that order)."""
    needed: set[str] = set()
    for comp in regimen.components():
        for dose in [comp.dose, *(v.dose for v in comp.variants if v.dose is not None)]:
            if dose.unit.basis != "flat":
                needed.add(dose.unit.basis)  # "auc" is checked with the GFR, in clinical.prepare
        for v in comp.variants:
            needed.update(v.when.names - {"cycle"})
    return [k for k in PATIENT_FIELDS if k in needed]


def dose_requirements(regimen: Regimen) -> list[str]:
    """Patient values the doses need ('weight', 'bsa'): without them no dose can be shown."""
    needed = {d.unit.basis for c in regimen.components() for d in [c.dose, *(v.dose for v in c.variants if v.dose)]}
    return [k for k in PATIENT_FIELDS if k in needed]


def _asked(name: str, values: Mapping[str, object]) -> str:
    """How to give a missing value: the BSA directly, or the height from which (with the weight) it is computed."""
    if name != "bsa":
        return f"{option(name)} ..."
    weight = "" if values.get("weight") is not None else f" and {option('weight')} ..."
    return f"{option('bsa')} ... (or {option('height')} ...{weight}: the BSA is then computed, Mosteller by default)"


def check_patient(regimen: Regimen, patient: Patient) -> None:
    """Stop with one message naming every missing value the doses need (a rule's value may be missing: the plan
    then shows each outcome of the rule)."""
    values = {**patient.rule_values(1), "weight": patient.weight_kg, "bsa": patient.bsa_m2}
    missing = [k for k in dose_requirements(regimen) if values[k] is None]
    if missing:
        names = " and ".join(PATIENT_FIELDS[k] for k in missing)
        options = " ".join(_asked(k, values) for k in missing)
        optional = [k for k in requirements(regimen) if k not in missing and values[k] is None]
        more = (
            f" ({' and '.join(PATIENT_FIELDS[k] for k in optional)} decide{'s' if len(optional) == 1 else ''} a "
            f"rule: give {' '.join(f'{option(k)} ...' for k in optional)} too, or both outcomes are shown)"
            if optional
            else ""
        )
        raise PatientError(f"{regimen.id} needs the patient's {names}: pass {options}{more}")


# ---- the expansion -------------------------------------------------------------------------------


def _cycles_for(regimen: Regimen, cycles: int | Mapping[str, int] | None) -> tuple[dict[str, int], list[str]]:
    counts: dict[str, int] = {}
    notes: list[str] = []
    if isinstance(cycles, Mapping):
        unknown = set(cycles) - {p.id for p in regimen.phases}
        if unknown:
            raise RegimenError(
                f"unknown phase {sorted(unknown)[0]!r} in {option('cycles')}; phases of {regimen.id} "
                f"are {', '.join(p.id for p in regimen.phases)}"
            )
    for phase in regimen.phases:
        label = "" if phase.id == "main" else f"{phase.id}: "
        requested: int | None
        if isinstance(cycles, Mapping):
            requested = cycles.get(phase.id)
        elif cycles is not None and (len(regimen.phases) == 1 or phase.cycles is None):
            requested = cycles
        else:
            requested = None
        if requested is not None and requested < 1:
            raise RegimenError(f"{option('cycles')} must be at least 1, got {requested}")
        if requested is not None:
            check_count(requested, option("cycles"), MAX_CYCLES)
        if requested is None:
            if phase.cycles is None:
                counts[phase.id] = 1
                notes.append(f"{label}number of cycles not stated in the source; expanded 1 cycle (use --cycles N)")
            else:
                counts[phase.id] = phase.cycles
        else:
            counts[phase.id] = requested
    return counts, notes


def expand(
    regimen: Regimen,
    patient: Patient,
    *,
    start: dt.date | None = None,
    cycles: int | Mapping[str, int] | None = None,
    cycle_length: int | None = None,
    rounding: Rounding = DEFAULT_ROUNDING,
    options: ClinicalOptions | None = None,
    time: dt.time | None = None,
    tz: str | None = None,
) -> Plan:
    """Expand ``regimen`` for ``patient``: one row per drug per treatment day.

    ``cycles`` overrides the regimen's cycle count (an int for a single-phase regimen or for the
    phases whose count the source leaves open; a mapping of phase id to count otherwise).
    ``cycle_length`` (days) is used only for phases whose source states none.
    ``options`` are the clinical choices of the run (BSA formula and cap, dosing weight, GFR, dose
    level, reductions, rounding, anthracycline table); the defaults change nothing.
    ``time`` (with ``start``) is the time of day the first drug of each treatment day starts, in the IANA zone
    ``tz`` (default UTC): every administration then has its start and end (:mod:`regimen.engine.timing`).
    """
    if tz is not None and time is None:
        raise RegimenError(f"a time zone needs a time of day: pass {option('time')} HH:MM too")
    if time is not None and start is None:
        raise RegimenError(f"a time of day needs the date of day 1: pass {option('start')} YYYY-MM-DD too")
    if start is not None:
        check_date(start, f"the start date ({option('start')})")
    tzinfo = tzinfo_for(tz) if time is not None else None
    plan = _expand(
        regimen, patient, start=start, cycles=cycles, cycle_length=cycle_length, rounding=rounding, options=options
    )
    if time is None or tzinfo is None:
        return plan
    rows = assign_times(regimen, list(plan.administrations), time, tzinfo)
    where = tz or "UTC"
    note = (
        f"times: the first drug of each treatment day starts at {time.strftime('%H:%M')} ({where}); a drug that "
        "follows another starts when it ends; a bolus, an IV push or an oral, SC or IM dose is given at its start"
    )
    return dataclasses.replace(
        plan, administrations=tuple(rows), time=time, tz=where, notes=(*plan.notes[:-1], note, plan.notes[-1])
    )


def _expand(
    regimen: Regimen,
    patient: Patient,
    *,
    start: dt.date | None,
    cycles: int | Mapping[str, int] | None,
    cycle_length: int | None,
    rounding: Rounding,
    options: ClinicalOptions | None,
) -> Plan:
    options = options or ClinicalOptions()
    patient = _age_from_birth_date(patient, start)
    missing = missing_names(regimen, patient)
    if missing:
        return _every_outcome(
            regimen,
            patient,
            missing,
            start=start,
            cycles=cycles,
            cycle_length=cycle_length,
            rounding=rounding,
            options=options,
        )
    prepared = prepare(regimen, patient, options, check_patient)
    patient = prepared.patient
    if cycle_length is not None and cycle_length < 1:
        raise RegimenError(f"{option('cycle_length')} must be at least 1 day, got {cycle_length}")
    adjust = Adjustments.for_run(regimen, options, prepared)
    counts, notes = _cycles_for(regimen, cycles)
    notes.extend(prepared.notes)
    warnings: list[str] = list(prepared.warnings)
    if regimen.shadows is not None:
        warnings.insert(
            0,
            f"{regimen.id} is read from {regimen.path}, which shadows the bundled {regimen.id} "
            f"({regimen.shadows}): check that this is the regimen you mean",
        )
    rows: list[Administration] = []
    starts: dict[tuple[str, int], dt.date | None] = {}
    cycles_of = _Cycles(patient, rounding, adjust)
    offset = 0  # course days before the current phase
    for p_index, phase in enumerate(regimen.phases):
        label = "" if phase.id == "main" else f"{phase.id}: "
        length = phase.cycle_length
        if length is None:
            if cycle_length is not None:
                length = cycle_length
                notes.append(
                    f"{label}cycle length not stated in the source; {cycle_length} days used as given "
                    "with --cycle-length"
                )
            else:
                notes.append(f"{label}cycle length not stated in the source")
        if phase.limit:
            notes.append(f"{label}the source limits this phase: {phase.limit}")
        n = counts[phase.id]
        if phase.cycles is not None and n > phase.cycles:
            warnings.append(f"{label}{n} cycles expanded; the source gives at most {phase.cycles}")
        if phase.max_duration is not None and length is not None and n * length > phase.max_duration[0]:
            limit_days, written = phase.max_duration
            warnings.append(
                f"{label}{n} cycles of {length} days ({n * length} days) run past the source's limit of "
                f"{written} ({format_fraction(limit_days)} days)"
            )
        needs_length = n > 1 or p_index < len(regimen.phases) - 1
        if length is None and needs_length:
            raise RegimenError(
                f"{regimen.id}: cycle length not stated in the source, so cycle 2 cannot be placed; pass "
                f"{option('cycle_length')} DAYS (from your local protocol) or expand one cycle"
            )
        check_count(offset + n * (length or 0), "days of the course", MAX_COURSE_DAYS)
        for cycle in range(1, n + 1):
            cycle_offset = offset + (cycle - 1) * (length or 0)
            starts[(phase.id, cycle)] = start + dt.timedelta(days=cycle_offset) if start is not None else None
            rows.extend(cycles_of.rows(phase, cycle, cycle_offset, start, length))
            check_count(len(rows), "administrations in the plan", MAX_ROWS)
        offset += n * (length or 0)
    notes.extend(_component_notes(regimen, patient, counts, starts))
    notes.extend(rate_escalation.notes(regimen, rows, rounding))  # least times of rate-escalated infusions
    notes.extend(
        f"before the first dose: {r.test}, before {', '.join(r.drugs)} ({r.source})" for r in regimen.requirements
    )
    if regimen.emetogenic_risk is not None:
        risk = regimen.emetogenic_risk
        notes.append(f"emetogenic risk {risk.level} ({risk.source}): the antiemetics follow it")
    notes.extend(adjust.notes)
    plan_level = list(warnings)
    warnings.extend(row_warnings(rows))
    notes.extend(f"{line}, as the protocol states" for line in row_warnings(rows, "caps"))
    # lifetime totals, always shown: anthracyclines (default table and limit when none is chosen), bleomycin
    found = exposure(
        tuple(rows), patient.bsa_m2, options.anthracycline_table, options.prior, options.anthracycline_limit
    )
    bleo_notes, bleo_warnings = bleomycin_total(rows)
    notes.extend([*found.lines, *bleo_notes])
    warnings.extend([*found.warnings, *bleo_warnings])
    plan_level.extend([*found.warnings, *bleo_warnings])
    notes.append(rounding.rule)
    warnings = list(dict.fromkeys(warnings))
    if options.strict and warnings:
        more = f" (and {len(warnings) - 1} more)" if len(warnings) > 1 else ""
        raise StrictError(
            f"{option('strict')}: {warnings[0]}{more}; resolve the warning or run without {option('strict')}"
        )
    return Plan(
        regimen=regimen,
        patient=patient,
        administrations=tuple(rows),
        totals=tuple(totals_of(cycles_of.sums)),
        notes=tuple(dict.fromkeys(notes)),
        cycles=counts,
        start=start,
        rounding=rounding,
        warnings=tuple(warnings),
        plan_warnings=tuple(dict.fromkeys(plan_level)),
    )


def _age_from_birth_date(patient: Patient, start: dt.date | None) -> Patient:
    """With a date of birth, the age at the start (completed years) for everything but rules, which see the age
    at each cycle's start."""
    born = patient.birth_date
    if born is None:
        return patient
    if start is None:
        raise PatientError(
            f"the date of birth needs the start date: pass {option('start')} (the age is counted in "
            "completed years at each cycle's start)"
        )
    if born > start:
        raise PatientError(
            f"date of birth {born.isoformat()} is after the start {start.isoformat()}: check {option('dob')}"
        )
    age = completed_years(born, start)
    if age > AGE.high:  # the limit of --age (regimen.clinical.patient)
        raise PatientError(
            f"date of birth {born.isoformat()} gives an age of {age} years, which is impossible: check {option('dob')}"
        )
    working = f"age {age} years at the start {start.isoformat()} (born {born.isoformat()}, completed years)"
    if working in patient.working:  # already worked out (each outcome of a rule expands again)
        return patient
    return dataclasses.replace(patient, age_years=Fraction(age), working=(*patient.working, working))


def _every_outcome(
    regimen: Regimen,
    patient: Patient,
    missing: list[str],
    *,
    start: dt.date | None,
    cycles: int | Mapping[str, int] | None,
    cycle_length: int | None,
    rounding: Rounding,
    options: ClinicalOptions,
) -> Plan:
    """A rule's value is missing: the plan of each outcome, merged (:mod:`regimen.engine.outcomes`)."""
    check_patient(regimen, patient)
    counts, _ = _cycles_for(regimen, cycles)
    if options.strict:
        found = outcomes(regimen, patient, missing, max(counts.values()))
        raise StrictError(
            f"{option('strict')}: {missing_warning(regimen, missing, found)}; resolve the warning or run "
            f"without {option('strict')}"
        )

    def one(assumed: Patient) -> Plan:
        return _expand(
            regimen, assumed, start=start, cycles=cycles, cycle_length=cycle_length, rounding=rounding, options=options
        )

    return expand_outcomes(regimen, patient, missing, max(counts.values()), one)


#: What :func:`_layout` gives: (dose, duration, continuous, [(day, infusion, hours given that day)]).
_Layout = tuple[ParsedDose | AucDose, Fraction | None, bool, tuple[tuple[int, Infusion | None, Fraction], ...]]

# Cycles with the same variants reuse the first such cycle's rows, moved to their own days, and each distinct
# treatment day's dose is worked out once (:class:`_Cycles`), while :data:`regimen.engine.fastpath.REUSE` holds:
# only the tests turn it off, to compare every plan with one worked out row by row.


class _Cycles:
    """The rows of each cycle of one expansion (one patient, one run's options and rounding).

    A cycle's rows depend on the cycle only through the variants its rules choose: the doses, the working, the
    adjustments (levels, reductions, caps, rounding) are the same in every cycle that chooses the same variants,
    and only the cycle number, the course days, the dates and the infusions' first course days move. So the
    first cycle of each choice of variants is expanded (each distinct day's dose worked out once), and later
    ones are that cycle's rows moved to their days: the same numbers and text, without recomputing them for
    every cycle (capecitabine twice daily for 14 days of 8 cycles is 232 rows, four distinct workings).
    The memos live as long as one expansion, so keys by identity (of the regimen's own objects) are safe."""

    def __init__(self, patient: Patient, rounding: Rounding, adjust: Adjustments) -> None:
        self.patient = patient
        self.rounding = rounding
        self.adjust = adjust
        self._first: dict[tuple[int, ...], tuple[int, list[Administration], list[tuple[TotalKey, Fraction]]]] = {}
        # the sums of each cycle's doses (:func:`cycle_sums`), cycle after cycle: the plan's totals (totals_of)
        self.sums: list[tuple[TotalKey, Fraction]] = []
        self._days: dict[tuple[object, ...], list[DayDose]]
        self._days = {}
        self._bodies: dict[tuple[int, int], tuple[Fraction, str] | None] = {}

    def rows(
        self, phase: Phase, cycle: int, offset: int, start: dt.date | None, length: int | None
    ) -> list[Administration]:
        on = start + dt.timedelta(days=offset) if start is not None else None
        chosen = {c.id: choose_variant(c, self.patient, cycle, on) if c.variants else None for c in phase.components}
        # the components a cycle gives (a test dose only in cycle 1) are part of what makes its rows
        key = (id(phase), *map(id, chosen.values()), *(c.given_in(cycle) for c in phase.components))
        first = self._first.get(key) if fastpath.REUSE else None
        if first is None:
            rows = self._expand_cycle(phase, cycle, offset, start, length, chosen)
            sums = cycle_sums(rows)
            self._first[key] = (offset, rows, sums)
            self.sums += sums
            return rows
        moved_by, template, sums = first
        shift = offset - moved_by
        # the same doses as the earlier cycle: the same sums, in this cycle
        self.sums += [((p, cycle, drug, comp, unit), amount) for (p, _, drug, comp, unit), amount in sums]
        return [_moved(r, cycle, shift, start) for r in template]

    def _body(self, comp: Component, dose: ParsedDose) -> tuple[Fraction, str] | None:
        key = (id(comp), id(dose))
        if key not in self._bodies:
            self._bodies[key] = self.adjust.body_factor(comp, dose)
        return self._bodies[key]

    def _derivation(self, comp: Component, dose: ParsedDose | AucDose) -> Derivation:
        """The dose as written and the patient value this component's doses are multiplied by."""
        if isinstance(dose, AucDose):
            gfr = self.adjust.gfr
            assert gfr is not None
            return Derivation(dose, gfr.used + 25, "mL/min", f"{gfr.text} + 25")
        body = self._body(comp, dose)
        if body is None:
            factor, text = _basis(dose, self.patient)
            if not text:
                return Derivation(dose, None, None)
            return Derivation(dose, factor, {"weight": "kg", "bsa": "m²"}[dose.unit.basis])
        factor, text = body
        unit = {"weight": "kg", "bsa": "m²"}[dose.unit.basis]
        plain = f" × {format_fraction(factor)} {unit}"
        return Derivation(dose, factor, unit, None if text == plain else text.removeprefix(" × "))

    def _day(
        self,
        comp: Component,
        dose: ParsedDose | AucDose,
        level_step: str,
        continuous: bool,
        duration: Fraction | None,
        hours_today: Fraction,
    ) -> list[DayDose]:
        """One treatment day's doses (amount, rate, hours, working, dose number), worked out once per distinct day."""
        body = None if isinstance(dose, AucDose) else self._body(comp, dose)
        # the regimen's objects and the remembered body factor by identity; the hours by value, as two ints (a
        # Fraction's own hash is a modular inverse: most of the cost of a key)
        key = (id(comp), id(dose), level_step, id(duration), hours_today.numerator, hours_today.denominator, id(body))
        found = self._days.get(key) if fastpath.REUSE else None
        if found is None:
            found = self._days[key] = day_doses(
                comp,
                dose,
                continuous,
                duration,
                hours_today,
                self.patient,
                self.rounding,
                level_step=level_step,
                body=body,
                gfr=self.adjust.gfr,
            )
        return found

    def _expand_cycle(
        self,
        phase: Phase,
        cycle: int,
        offset: int,
        start: dt.date | None,
        length: int | None,
        chosen: Mapping[str, Variant | None],
    ) -> list[Administration]:
        adjust, rounding = self.adjust, self.rounding
        rows: list[Administration] = []
        for comp in phase.components:
            if not comp.given_in(cycle):
                continue
            dose, duration, continuous, layout = _layout(phase, comp, chosen, offset, length)
            level_dose, level_step = adjust.level(comp, dose)
            derivation = self._derivation(comp, level_dose)
            unit = dose.unit.output_unit
            if continuous:  # one preparation per infusion, adjusted as a whole, then shared out over its days
                assert not isinstance(level_dose, AucDose)
                whole = self._infusions(comp, level_dose, level_step, duration, layout)
                adjust.apply(comp, whole, unit, continuous)
                shares = _shares(whole, layout, unit, rounding)
                rows.extend(_administrations(phase, cycle, offset, start, comp, shares, unit, rounding, derivation))
                continue
            pending: list[PendingRow] = []
            n = comp.times_per_day
            # a day's doses by its hours (the layout's own objects): most days of a component share one working
            by_hours: dict[int, list[DayDose]] = {}
            for day, infusion, hours_today in layout:
                doses = by_hours.get(id(hours_today))
                if doses is None:
                    doses = by_hours[id(hours_today)] = self._day(
                        comp, level_dose, level_step, continuous, duration, hours_today
                    )
                for amount, rate, hours_given, calc, k in doses:
                    pending.append(
                        PendingRow(
                            day=day,
                            infusion=infusion if k is None else None,
                            amount=amount,
                            rate=rate,
                            hours=hours_given,
                            steps=[calc],
                            dose_number=k,
                            doses_per_day=n if k is not None else None,
                        )
                    )
            adjust.apply(comp, pending, unit, continuous)
            added = additives_step(comp)
            if added is not None:
                for row in pending:
                    row.steps.append(added)
            rows.extend(_administrations(phase, cycle, offset, start, comp, pending, unit, rounding, derivation))
        order = component_order(phase)
        rows.sort(key=lambda r: (r.day, order[r.component], r.dose_number or 0))
        return rows

    def _infusions(
        self,
        comp: Component,
        dose: ParsedDose,
        level_step: str,
        duration: Fraction | None,
        layout: tuple[tuple[int, Infusion | None, Fraction], ...],
    ) -> list[PendingRow]:
        """One row per continuous infusion of ``comp`` in the cycle: the whole infusion's amount, rate and working."""
        out: list[PendingRow] = []
        seen: set[int] = set()
        for day, infusion, _ in layout:
            assert infusion is not None
            if infusion.start_course_day in seen:
                continue
            seen.add(infusion.start_course_day)
            work = infusion_dose(dose, duration, infusion.hours, self.patient, self.rounding, self._body(comp, dose))
            steps = [f"{level_step}{work.calculation}"]
            out.append(
                PendingRow(
                    day=day, infusion=infusion, amount=work.amount, rate=work.rate, hours=work.hours, steps=steps
                )
            )
        return out


def _administrations(
    phase: Phase,
    cycle: int,
    offset: int,
    start: dt.date | None,
    comp: Component,
    pending: list[PendingRow],
    unit: str,
    rounding: Rounding,
    derivation: Derivation,
) -> list[Administration]:
    """The administrations of ``comp``'s adjusted rows in this cycle."""
    rows: list[Administration] = []
    rate_unit = f"{unit}/h"
    for row in pending:
        course_day = offset + row.day
        # Administration(...) with every field named, written into its __dict__ (regimen.engine.fastpath, 3)
        new = new_row(
            {
                "phase": phase.id,
                "cycle": cycle,
                "day": row.day,
                "course_day": course_day,
                "date": start + dt.timedelta(days=course_day - 1) if start is not None else None,
                "drug": comp.drug,
                "component": comp.id,
                "dose": row.amount,
                "dose_unit": unit,
                "route": comp.route,
                "method": comp.method,
                "rate": row.rate,
                "rate_unit": rate_unit if row.rate is not None else None,
                "duration_hours": row.hours,
                "calculation": "; ".join(row.steps),
                "infusion": row.infusion,
                "warnings": tuple(row.warnings),
                "dose_calculated": row.calculated,
                "condition": None,
                "caps": tuple(row.caps),
                "dose_number": row.dose_number,
                "doses_per_day": row.doses_per_day,
                "start": None,
                "end": None,
                "time_note": None,
                "rounding": rounding,
                "derivation": derivation,
                "role": comp.role,
            }
        )
        rows.append(new)
    return rows


def _shares(
    whole: list[PendingRow],
    layout: tuple[tuple[int, Infusion | None, Fraction], ...],
    unit: str,
    rounding: Rounding,
) -> list[PendingRow]:
    """Each adjusted infusion of ``whole`` shared out over its days: a day's share is the infusion's rate times the
    hours it runs that day, and its working is the whole infusion's, then the share. The infusion's warnings and the
    maximum doses that applied to it are on its first day's row (the day it is connected)."""
    by_start = {row.infusion.start_course_day: row for row in whole if row.infusion is not None}
    out: list[PendingRow] = []
    for day, infusion, hours_today in layout:
        assert infusion is not None
        row = by_start.get(infusion.start_course_day)
        if row is None:  # left out (a renal table's 'avoid'): none of its days is given
            continue
        assert row.rate is not None and row.hours is not None
        working = "; ".join(row.steps)
        if len(row.steps) > 1:  # adjusted: the rate it runs at now
            rate = amount_text(row.rate, unit + "/h", rounding)
            working += f"; {amount_text(row.amount, unit, rounding)} over {_hours_text(row.hours)} = {rate}"
        first = infusion.day_index == 1
        out.append(
            PendingRow(
                day=day,
                infusion=dataclasses.replace(
                    infusion, amount=row.amount, calculation=working, amount_calculated=row.calculated
                ),
                amount=row.rate * hours_today,
                rate=row.rate,
                hours=hours_today,
                steps=[working, share_text(row.rate, hours_today, unit, rounding)],
                warnings=list(row.warnings) if first else [],
                calculated=row.calculated * hours_today / row.hours if row.calculated is not None else None,
                caps=list(row.caps) if first else [],
            )
        )
    return out


#: One component's days in a cycle, and where each sits in its infusion, by what decides them: the phase, the
#: variants chosen for its components (a day may be relative to another component's), the component, the cycle's
#: first course day and its length. None of it depends on the patient, so it is worked out once per process, not
#: once per plan (issue 15: a sixth of a plan of 37 rows). The entries hold the objects they were made from, so
#: that a key of identities is never taken for another regimen's after one is freed; the memo is emptied when full.
_LAYOUTS: IdentityMemo[_Layout] = IdentityMemo(max_entries=4096)


def component_order(phase: Phase) -> dict[str, tuple[int, int, int]]:
    """The order of a phase's components within a day: as the file lists them, except that a component given
    ``before`` another comes just before it (premedication before the drug it prepares for)."""
    ids = {c.id for c in phase.components}
    ordered = [c.id for c in phase.components if c.before not in ids]
    pending = [c for c in phase.components if c.before in ids]
    while pending:  # each just before its target, following chains (pre-hydration before mannitol before cisplatin)
        placed = [c for c in pending if c.before in ordered]
        if not placed:  # a loop of 'before': the loader refuses it; kept in file order here
            ordered += [c.id for c in pending]
            break
        for c in placed:
            assert c.before is not None
            ordered.insert(ordered.index(c.before), c.id)
            pending.remove(c)
    return {cid: (i, 0, 0) for i, cid in enumerate(ordered)}


def _layout(
    phase: Phase, comp: Component, chosen: Mapping[str, Variant | None], offset: int, length: int | None
) -> _Layout:
    """``comp``'s dose, duration, whether it is continuous, and each of its days in this cycle with its infusion
    and the hours given that day."""
    held = (phase, comp, *chosen.values())
    extra = (offset, -1 if length is None else length)
    found = _LAYOUTS.get(held, extra)
    if found is not None:
        return found
    dose, duration = component_schedule(comp, chosen[comp.id])
    days = resolve_days(phase, comp.id, lambda c: chosen[c.id])
    if length is not None and days[-1] > length:
        raise RegimenError(f"{comp.id} falls on day {days[-1]}, after the end of the {length}-day cycle")
    continuous = comp.method == "continuous infusion"
    infusions: list[tuple[int, int, Fraction]] = []  # (first day, treatment days, elapsed hours)
    if continuous:
        for a, b in runs(days):
            if duration is None:  # one infusion over the whole run of days
                infusions.append((a, b - a + 1, (b - a + 1) * HOURS_PER_DAY))
                continue
            size = math.ceil(duration / HOURS_PER_DAY)  # 46 h runs on 2 treatment days: 24 h, then 22 h
            infusions.extend((d, size, duration) for d in range(a, b + 1, size))
    layout: list[tuple[int, Infusion | None, Fraction]] = []
    for day in days:
        infusion = None
        hours_today = HOURS_PER_DAY
        if continuous:
            first, size, hours = next((f, s, h) for f, s, h in infusions if f <= day < f + s)
            infusion = Infusion(start_course_day=offset + first, hours=hours, day_index=day - first + 1, days=size)
            hours_today = infusion.hours_today
        layout.append((day, infusion, hours_today))
    made: _Layout = (dose, duration, continuous, tuple(layout))
    return _LAYOUTS.put(held, extra, made)


def _component_notes(
    regimen: Regimen, patient: Patient, counts: Mapping[str, int], starts: Mapping[tuple[str, int], dt.date | None]
) -> list[str]:
    """What the source leaves unstated, and which variants applied, in words."""
    notes: list[str] = []
    for phase in regimen.phases:
        for comp in phase.components:
            if comp.route is None:
                notes.append(f"{comp.drug}: route not stated in the source")
            if comp.how is None:
                notes.append(
                    f"{comp.drug}: administration method (bolus or infusion, and its duration) not stated in the source"
                )
            elif comp.method == "infusion" and comp.duration_hours is None and not comp.rate_escalation:
                notes.append(f"{comp.drug}: infusion duration not stated in the source")
            if comp.supportive:
                when = (f", {comp.timing}" if comp.timing else "") + comp.cycles_text
                notes.append(f"{comp.drug}: supportive care ({comp.kind}{when}); not counted in the anticancer totals")
            if comp.note:
                notes.append(f"{comp.drug}: {comp.note}")
            for v in comp.variants:
                applied = [
                    c
                    for c in range(1, counts[phase.id] + 1)
                    if v.when.evaluate(patient.rule_values(c, starts.get((phase.id, c))))
                ]
                what = v.note or _variant_change(comp, v)
                if not applied:
                    if v.when.names - {"cycle"}:
                        notes.append(f"{comp.drug}: rule '{v.when.text}' does not apply to this patient ({what})")
                    continue
                where = (
                    ""
                    if len(applied) == counts[phase.id]
                    else f" in cycle{'s' if len(applied) > 1 else ''} {describe_days(applied).split(' ', 1)[1]}"
                )
                notes.append(f"{comp.drug}: rule '{v.when.text}' applied{where}: {what}")
    return notes


def _variant_change(comp: Component, v: Variant) -> str:
    parts = []
    if v.dose is not None:
        parts.append(f"dose {v.dose.display} instead of {comp.dose.display}")
    if v.days is not None:
        parts.append(f"{v.days.describe()} instead of {comp.days.describe()}")
    if v.duration_text is not None:
        parts.append(f"duration {v.duration_text} instead of {comp.duration_text or 'unstated'}")
    return "; ".join(parts)


__all__ = [
    "additives_step",
    "check_patient",
    "choose_variant",
    "component_schedule",
    "day_doses",
    "dose_for_day",
    "dose_requirements",
    "expand",
    "requirements",
]
