"""Regimen + patient -> administrations: the heart of regimen. No I/O here.

For each phase and cycle, each component's variant is chosen by its rule (patient values and
the cycle number), its days are resolved (relative days follow their anchor), and each
treatment day becomes one :class:`~regimen.model.Administration` whose ``calculation`` shows
the working. All arithmetic is exact; rounding is applied only to numbers printed in the
working, and is stated in the plan's notes.

The work is in three modules below this one: :mod:`regimen.engine.doses` (a day's dose and its working),
:mod:`regimen.engine.requirements` (the patient values a regimen needs) and :mod:`regimen.engine.cycles` (the rows
of each cycle); this module checks the request, runs the cycles and gathers the plan's totals, notes and warnings.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Literal

from regimen.clinical import rate_escalation
from regimen.clinical.adjust import Adjustments, row_warnings
from regimen.clinical.anthracycline import anthracyclines_of, exposure
from regimen.clinical.lifetime import bleomycin_total
from regimen.clinical.options import ClinicalOptions, StrictError
from regimen.clinical.patient import AGE
from regimen.clinical.prepare import Prepared, body_values, prepare
from regimen.clinical.renal_adjust import ASSUMED, over_decides, over_spans, over_warning, sex_decides, sex_warning
from regimen.engine.cycles import Cycles
from regimen.engine.outcomes import expand_outcomes, merge, missing_names, missing_warning, outcomes
from regimen.engine.plan import Plan, totals_of_cycles
from regimen.engine.requirements import check_patient
from regimen.engine.timing import assign_times
from regimen.errors import PatientError, RegimenError, option
from regimen.model import Administration, Component, Patient, Phase, Regimen, Variant, completed_years
from regimen.quantities.clock import tzinfo_for
from regimen.quantities.days import describe_days
from regimen.quantities.exact import DEFAULT_ROUNDING, Rounding, format_fraction
from regimen.quantities.limits import MAX_COURSE_DAYS, MAX_CYCLES, MAX_ROWS, check_count, check_date

#: The options of a run that chooses none (frozen, and its mappings are only read): made once, not once per plan.
_NO_OPTIONS = ClinicalOptions()

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
    options = options or _NO_OPTIONS
    patient = _age_from_birth_date(patient, start)
    missing = missing_names(regimen, patient)

    def again() -> Callable[[Patient], Plan]:  # the same plan for another patient: each outcome of a value not given
        return functools.partial(
            _expand, regimen, start=start, cycles=cycles, cycle_length=cycle_length, rounding=rounding, options=options
        )

    if missing:
        return _every_outcome(regimen, patient, missing, cycles, options, again())
    prepared = prepare(regimen, patient, options, check_patient)
    if sex_decides(regimen, prepared):
        return _each_sex(regimen, patient, prepared, options, again())
    if over_decides(regimen, prepared):
        return _each_span(regimen, patient, prepared, options, again())
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
    cycles_of = Cycles(patient, rounding, adjust)
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
            if start is not None:  # else every cycle's start is None, as starts.get gives it
                starts[(phase.id, cycle)] = start + dt.timedelta(days=cycle_offset)
            rows.extend(cycles_of.rows(phase, cycle, cycle_offset, start, length))
            check_count(len(rows), "administrations in the plan", MAX_ROWS)
        offset += n * (length or 0)
    notes.extend(_component_notes(regimen, patient, counts, starts))
    escalated = regimen.once(rate_escalation.escalated)  # the regimen's part of the notes (fastpath, 2)
    if escalated:  # least times of rate-escalated infusions, from those components' rows alone
        mine = cycles_of.rows_with("rate-escalated", "component", escalated)
        notes.extend(rate_escalation.notes(regimen, mine, rounding, escalated))
    notes.extend(regimen.once(_before_first_dose))  # the regimen's alone (fastpath, 2)
    notes.extend(adjust.notes)
    plan_level = list(warnings)
    if cycles_of.flagged:  # else no row has a warning or a maximum dose that applied: none is read for them
        flagged = cycles_of.rows_flagged()
        warnings.extend(row_warnings(flagged))
        notes.extend(f"{line}, as the protocol states" for line in row_warnings(flagged, "caps"))
    # lifetime totals, always shown: anthracyclines (default table and limit when none is chosen), bleomycin
    drugs = cycles_of.drugs  # each drug once, without reading every row of every cycle
    administrations = tuple(rows)
    found = exposure(
        administrations,
        patient.bsa_m2,
        options.anthracycline_table,
        options.prior,
        options.anthracycline_limit,
        # with the default table, only the regimen's anthracyclines can count: those of the plan's drugs, without
        # asking of each drug for every plan whether it is one
        drugs & regimen.once(anthracyclines_of) if options.anthracycline_table is None else drugs,
        lambda names: cycles_of.rows_with(("drugs", names), "drug", names),
    )
    bleo_notes, bleo_warnings = bleomycin_total(administrations, drugs)  # the plan's tuple: not copied again
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
        administrations=administrations,
        totals=tuple(totals_of_cycles(cycles_of.sums)),
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
    cycles: int | Mapping[str, int] | None,
    options: ClinicalOptions,
    again: Callable[[Patient], Plan],
) -> Plan:
    """A rule's value is missing: the plan of each outcome (``again`` expands one), merged
    (:mod:`regimen.engine.outcomes`)."""
    body = body_values(regimen, patient, options, check_patient)  # the doses' values, a BSA from a height included
    counts, _ = _cycles_for(regimen, cycles)
    if options.strict:
        found = outcomes(regimen, patient, missing, max(counts.values()))
        raise StrictError(
            f"{option('strict')}: {missing_warning(regimen, missing, found)}; resolve the warning or run "
            f"without {option('strict')}"
        )

    plan = expand_outcomes(regimen, patient, missing, max(counts.values()), again)
    if not body.working:
        return plan
    # the plan's patient as every outcome has it: the BSA computed from the height, with its working (the values a
    # missing rule value decides, a clearance by age say, stay in each outcome's rows)
    return dataclasses.replace(plan, patient=body.shown())


def _each_sex(
    regimen: Regimen, patient: Patient, prepared: Prepared, options: ClinicalOptions, again: Callable[[Patient], Plan]
) -> Plan:
    """The sex is not given and decides a renal dose (:func:`regimen.clinical.renal_adjust.sex_decides`): the plan
    of each sex, merged as a missing rule value's outcomes are (rows given to one sex only are marked)."""
    conditions = list(_SEXES)
    assumed = [("sex", sex) for sex in _SEXES.values()]
    return _merged(patient, prepared, options, again, assumed, conditions, sex_warning(regimen, prepared, conditions))


def _merged(
    patient: Patient,
    prepared: Prepared,
    options: ClinicalOptions,
    again: Callable[[Patient], Plan],
    assumed: Sequence[tuple[str, str]],
    conditions: list[str],
    warning: str,
) -> Plan:
    """The plan of each outcome of a kidney value's missing input (``again`` expands one, with each of ``assumed``),
    merged under ``conditions`` with ``warning``; an error under --strict. ``patient`` as given, ``prepared`` from it:
    the merged plan's patient, with the working of every outcome's clearance."""
    if options.strict:
        raise StrictError(f"{option('strict')}: {warning}; resolve the warning or run without {option('strict')}")
    plans = [again(dataclasses.replace(patient, assumed=(*patient.assumed, pair))) for pair in assumed]
    return merge(plans, conditions, prepared.patient, warning, [])


def _each_span(
    regimen: Regimen, patient: Patient, prepared: Prepared, options: ClinicalOptions, again: Callable[[Patient], Plan]
) -> Plan:
    """The age (or the weight) is not given and decides a renal dose
    (:func:`regimen.clinical.renal_adjust.over_decides`): the plan of each span of its values at which the tables read
    the clearance alike, merged as a missing rule value's outcomes are; a row of neighbouring spans says the one span
    they make ("68 ≤ age ≤ 85 years", "46.3 ≤ weight ≤ 77.1 kg")."""
    over = prepared.kidney_over
    assert over is not None
    spans = over_spans(regimen, prepared)
    first, last = spans[0][0], spans[-1][1]
    name, unit = over.name, over.unit

    def span(lo: Fraction, hi: Fraction) -> str:
        low, high = format_fraction(lo), format_fraction(hi)
        if lo == first:
            return f"{name} ≤ {high} {unit}"
        return f"{name} ≥ {low} {unit}" if hi == last else f"{low} ≤ {name} ≤ {high} {unit}"

    conditions = [span(lo, hi) for lo, hi in spans]
    assumed = [(ASSUMED, f"{lo}:{hi}") for lo, hi in spans]
    warning = over_warning(regimen, prepared, conditions)
    plan = _merged(patient, prepared, options, again, assumed, conditions, warning)
    index = {c: i for i, c in enumerate(conditions)}

    def joined(condition: str) -> str:
        at = [index.get(part) for part in condition.split(" or ")]
        if None in at:  # pragma: no cover - a condition of an outcome of another value's (nested): as it is
            return condition
        runs: list[list[int]] = []
        for i in sorted(a for a in at if a is not None):
            if runs and runs[-1][1] == i - 1:
                runs[-1][1] = i
            else:
                runs.append([i, i])
        return " or ".join(span(spans[a][0], spans[b][1]) for a, b in runs)

    rows = tuple(
        dataclasses.replace(r, condition=joined(r.condition)) if r.condition else r for r in plan.administrations
    )
    return dataclasses.replace(plan, administrations=rows)


#: The outcomes of a sex not given, and the sex each assumes.
_SEXES: dict[str, Literal["female", "male"]] = {"sex female": "female", "sex male": "male"}


def _component_notes(
    regimen: Regimen, patient: Patient, counts: Mapping[str, int], starts: Mapping[tuple[str, int], dt.date | None]
) -> list[str]:
    """What the source leaves unstated, and which variants applied, in words."""
    plain = regimen.once(_unstated_alone)
    if plain is not None:  # no component has a variant: the notes are the regimen's alone
        return list(plain)
    said = regimen.once(_unstated)  # the regimen's part, once per regimen object (regimen.engine.fastpath, 2)
    notes: list[str] = []
    for phase, comp, unstated, variants in said:
        notes.extend(unstated)
        for v, what in variants:
            applied = [
                c
                for c in range(1, counts[phase.id] + 1)
                if v.when.evaluate(patient.rule_values(c, starts.get((phase.id, c))))
            ]
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


def _before_first_dose(regimen: Regimen) -> tuple[str, ...]:
    """The notes on what must be known before the first dose, and on the emetogenic risk the antiemetics follow."""
    notes = [f"before the first dose: {r.test}, before {', '.join(r.drugs)} ({r.source})" for r in regimen.requirements]
    if regimen.emetogenic_risk is not None:
        risk = regimen.emetogenic_risk
        notes.append(f"emetogenic risk {risk.level} ({risk.source}): the antiemetics follow it")
    return tuple(notes)


#: Each component's notes that depend on the regimen alone, and each variant with the change it makes in words.
_Said = tuple[tuple[Phase, Component, tuple[str, ...], tuple[tuple[Variant, str], ...]], ...]


def _unstated(regimen: Regimen) -> _Said:
    """For each component (in order): what the source leaves unstated, its supportive role and its note; and each
    of its variants with the change it makes (its note, or :func:`_variant_change`)."""
    out = []
    for phase in regimen.phases:
        for comp in phase.components:
            notes: list[str] = []
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
            variants = tuple((v, v.note or _variant_change(comp, v)) for v in comp.variants)
            out.append((phase, comp, tuple(notes), variants))
    return tuple(out)


def _unstated_alone(regimen: Regimen) -> tuple[str, ...] | None:
    """:func:`_component_notes` of a regimen none of whose components has a variant (every component's notes of
    :func:`_unstated`, in order: no rule to ask of the patient), or None when one has."""
    said = regimen.once(_unstated)
    if any(variants for _, _, _, variants in said):
        return None
    return tuple(note for _, _, unstated, _ in said for note in unstated)


def _variant_change(comp: Component, v: Variant) -> str:
    parts = []
    if v.dose is not None:
        parts.append(f"dose {v.dose.display} instead of {comp.dose.display}")
    if v.days is not None:
        parts.append(f"{v.days.describe()} instead of {comp.days.describe()}")
    if v.duration_text is not None:
        parts.append(f"duration {v.duration_text} instead of {comp.duration_text or 'unstated'}")
    return "; ".join(parts)


__all__ = ["expand"]
