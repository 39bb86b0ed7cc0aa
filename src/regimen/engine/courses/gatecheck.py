"""A cycle's gates checked with a course's values in force, and the changes a decision records (issue 27): the one
call ``regimen course check`` and the course page's form both make. No I/O here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from regimen.clinical import renal
from regimen.clinical.gates import STRENGTH, CycleCheck, evaluate, refuse_nothing_to_check, step_share
from regimen.clinical.options import ClinicalOptions
from regimen.clinical.patient import AGE, WEIGHT, read_measure, read_scr, read_sex
from regimen.clinical.prepare import exact_places, prepare
from regimen.engine.courses.describe import cycle_arg
from regimen.engine.courses.records import CourseError, parse_cycle
from regimen.engine.courses.state import CourseState
from regimen.errors import RegimenError, option
from regimen.model import Patient, Step
from regimen.protocol.describe import step_text
from regimen.quantities.exact import format_fraction
from regimen.quantities.labs import LabValue, read

Entry = tuple[str, str, dict[str, Any]]  # kind, why, values: as CourseBook.changes takes them


def crcl_value(scr: str, age: str | None, weight: str | None, sex: str | None) -> tuple[LabValue, str]:
    """The Cockcroft-Gault CrCl from a serum creatinine and the patient's age, weight and sex, and its working."""
    if age is None or weight is None or sex is None:
        raise RegimenError(
            f"{option('scr')} gives the CrCl (Cockcroft-Gault) with {option('age')}, {option('weight')} and "
            f"{option('sex')}; or give {option('crcl')}"
        )
    scr_mg, _ = read_scr(scr)
    kg, _ = read_measure(weight, WEIGHT)
    years, _ = read_measure(age, AGE)
    who = read_sex(sex)
    value = exact_places(renal.cockcroft_gault(float(years), float(kg), float(scr_mg), who), 2)
    female = " × 0.85" if who == "female" else ""
    line = (
        f"CrCl (Cockcroft–Gault) = (140 − {format_fraction(years)}) × {format_fraction(kg)} kg / (72 × "
        f"{format_fraction(scr_mg)} mg/dL){female} = {format_fraction(value)} mL/min"
    )
    return read("crcl", format_fraction(value, grouping=False)), line


def either_sex(scr: str, age: str, weight: str, run: Callable[[LabValue], CycleCheck]) -> tuple[LabValue, list[str]]:
    """A creatinine, age and weight without the sex: the check ``run`` with each sex's CrCl. When both propose the
    same, the lower CrCl (the woman's: × 0.85) and the working of both; else an error naming each and --sex."""
    found = {sex: crcl_value(scr, age, weight, sex) for sex in ("female", "male")}
    results = {sex: run(value) for sex, (value, _) in found.items()}
    (female, f_line), (male, m_line) = found["female"], found["male"]
    if _decision(results["female"]) != _decision(results["male"]):
        raise RegimenError(
            f"sex not given: the CrCl (Cockcroft–Gault) is {female.shown} if female (proposal "
            f"{results['female'].proposal}) and {male.shown} if male ({results['male'].proposal}): the gates and the "
            f"table read them differently; give {option('sex')}"
        )
    said = f"sex not given: the CrCl of either sex gives the same proposal; the lower ({female.shown}) is shown"
    return female, [f"{f_line} (if female)", f"{m_line} (if male)", said]


def _decision(result: CycleCheck) -> tuple[Any, ...]:
    """What a check proposes, without the values it read: the same for two values the rules read alike."""
    return (
        result.proposal,
        result.delay_days,
        tuple((d.component, d.proposal, d.undecided, tuple(f.line() for f in d.steps)) for d in result.drugs),
        tuple((c.condition.text, c.met) for c in result.checks),
    )


def _crcl_of(
    patient: Patient,
    scr: str | None,
    age: str | None,
    weight: str | None,
    sex: str | None,
    run: Callable[[LabValue], CycleCheck],
) -> tuple[LabValue, list[str]] | None:
    """The CrCl from ``scr`` (or the creatinine in force) with the patient's values in force where not typed, and its
    working (each sex's, without the sex: :func:`either_sex`); None when a value is missing and none was typed."""
    scr = scr or (format_fraction(patient.scr_mg_dl, grouping=False) if patient.scr_mg_dl else None)
    age = age or (format_fraction(patient.age_years, grouping=False) if patient.age_years is not None else None)
    weight = weight or (format_fraction(patient.weight_kg, grouping=False) if patient.weight_kg else None)
    sex = sex or patient.sex
    if scr is None or age is None or weight is None:
        return None
    return crcl_of(scr, age, weight, sex, run)


def crcl_of(
    scr: str, age: str | None, weight: str | None, sex: str | None, run: Callable[[LabValue], CycleCheck]
) -> tuple[LabValue, list[str]]:
    """The CrCl and its working: of each sex when only the sex is missing (:func:`either_sex`), else
    :func:`crcl_value`'s (which refuses a missing age or weight)."""
    if sex is None and age is not None and weight is not None:
        return either_sex(scr, age, weight, run)
    value, line = crcl_value(scr, age, weight, sex)
    return value, [line]


@dataclass(frozen=True, slots=True)
class CourseCheck:
    """A cycle's values against the gates: the proposal, the values as typed, and the working of a computed CrCl."""

    key: tuple[str, int]
    arg: str  # the cycle as the command takes it
    result: CycleCheck
    typed: dict[str, str]
    working: list[str]


def course_check(
    state: CourseState,
    cycle: str,
    tests: Mapping[str, str | None],
    *,
    scr: str | None = None,
    age: str | None = None,
    weight: str | None = None,
    sex: str | None = None,
) -> CourseCheck:
    """Cycle ``cycle``'s values (``tests``, as typed) against the course's regimen's gates and modification table,
    with the course's patient values in force (a CrCl computed from the creatinine when a gate needs one)."""
    reg = state.regimen
    refuse_nothing_to_check(reg)
    key = parse_cycle(cycle, reg)
    if key not in state.cycles:
        raise CourseError(f"{option('cycle')} {cycle}: the course has no such cycle (it plans {len(state.cycles)})")
    values: dict[str, LabValue] = {t: read(t, raw) for t, raw in tests.items() if raw not in (None, "")}
    typed = {t: str(raw) for t, raw in tests.items() if raw not in (None, "")}
    extra: list[str] = []
    phase = key[0] if reg.phased else None
    delayed = sum(1 for _, c in state.checks.get(key, ()) if c.decision == "delay")

    planned = _planned_kidney(state, key)

    def run(crcl: LabValue | None = None) -> CycleCheck:
        read = values if crcl is None else {**values, "crcl": crcl}
        return evaluate(reg, key[1], read, {m.text: delayed for m in reg.modifications}, key[0], planned)

    if ("crcl" not in values and any(g.condition.test == "crcl" and g.applies(phase) for g in reg.gates)) or scr:
        found = _crcl_of(state.patients[key], scr or None, age or None, weight or None, sex or None, run)
        if found is not None:
            values["crcl"], lines = found
            typed["crcl"] = values["crcl"].shown
            extra.extend(lines)
    result = run()
    return CourseCheck(key, cycle_arg(reg, key), result, typed, extra)


def _planned_kidney(state: CourseState, key: tuple[str, int]) -> Fraction | None:
    """The kidney value the cycle's planned doses read the renal tables at (the measured GFR or Cockcroft-Gault CrCl
    of the values in force), or None when they read none (no creatinine, or no one value: the sex not given)."""
    if not any(c.renal for c in state.regimen.components()):
        return None
    kidney = prepare(state.regimen, state.patients[key], ClinicalOptions()).kidney
    return kidney.ml_min if kidney is not None else None


def decision_entries(
    state: CourseState, found: CourseCheck, *, accept: bool, override: str | None, reason: str | None
) -> list[Entry]:
    """The changes a decision records: the check itself, and with ``accept`` the delay, dose change, omission or
    stop the proposal makes, each citing its rule; ``override`` records another decision, only with a reason."""
    if accept and override:
        raise RegimenError(f"{option('accept')} records the proposal, {option('override')} another decision: give one")
    if not (accept or override):
        raise RegimenError(f"record the proposal with {option('accept')} or another decision with {option('override')}")
    if override is not None and override not in STRENGTH:
        raise RegimenError(f"{option('override')} {override!r}: one of {', '.join(STRENGTH)}")
    if override and not (reason or "").strip():
        raise RegimenError(
            f"{option('override')} needs {option('reason')} TEXT: a proposal of the regimen's table is overridden "
            "only with a reason"
        )
    result = found.result
    entries: list[Entry] = [
        (
            "check",
            reason or f"gates checked: proposal {result.proposal} accepted",
            {
                "cycle": found.arg,
                "values": found.typed,
                "proposal": result.proposal,
                "decision": override or result.proposal,
                "rules": [f.line() for f in result.fired],
            },
        )
    ]
    return entries + (_consequences(result, state, found.arg) if accept else [])


def _step_values(step: Step, component: str, state: CourseState) -> dict[str, Any]:
    """A reduction step as the values of a ``dose`` change: its level, its percentage, or its own dose as the exact
    share of the component's dose (65 of 85 mg/m²: 1300/17 %)."""
    if step.level is not None:
        return {"level": str(step.level)}
    if step.percent is not None:
        return {"dose_percent": f"{format_fraction(step.percent, grouping=False)}%", "confirm": True}
    comp = next(c for c in state.regimen.components() if c.id == component)
    share = step_share(step, comp)
    if share is None:
        raise RegimenError(
            f"{component}: the table's reduction cannot be applied to its dose; record it with 'course dose'"
        )
    text = format_fraction(share, grouping=False)
    exact = text if str(share) == text or share.denominator == 1 else f"{share.numerator}/{share.denominator}"
    return {"dose_percent": f"{exact}%", "confirm": True}


def _consequences(result: CycleCheck, state: CourseState, cycle: str) -> list[Entry]:
    """The existing changes an accepted proposal records, each with the rule that fired and its source as why."""
    out: list[Entry] = []
    delays = [f for f in result.fired if f.step.action == "delay" and f.step.delay_days == result.delay_days]
    if result.proposal == "delay" and result.delay_days and delays:
        out.append(("delay", delays[0].line(), {"cycle": cycle, "by": f"{result.delay_days}d"}))
    if result.proposal == "stop":
        first = min(
            cr.row.date
            for cr in state.rows
            if cycle_arg(state.regimen, (cr.row.phase, cr.row.cycle)) == cycle and cr.row.date
        )
        rule = next(f for f in result.fired if f.step.action == "stop")
        return [("stop", rule.line(), {"on": first})]
    for d in result.drugs:
        renal = next((f for f in d.steps if f.renal), None)
        if renal is not None:  # the plan applies a renal table from the kidney value in force, never a dose change
            raise RegimenError(
                f"{d.component}: the row of its renal table at this CrCl ({renal.modification.text}: "
                f"{step_text(renal.step)}) is not in the planned doses, which follow the kidney value in force: record "
                f"the creatinine from cycle {cycle} with 'course measure' ({option('scr')}), so the plan applies the "
                f"row, and check again; or record another decision with {option('override')} and a reason"
            )
        fired = [f for f in d.steps if f.step.action == d.proposal]
        if d.proposal == "reduce" and d.undecided:
            raise RegimenError(
                f"{d.component}: {len(fired)} of the table's reductions apply and their doses cannot be compared: "
                f"record the dose with 'course dose', and the check with {option('override')} reduce and a reason"
            )
        if d.proposal == "reduce" and fired:
            out.append(
                (
                    "dose",
                    fired[0].line(),
                    {"cycle": cycle, "drug": d.component, **_step_values(fired[0].step, d.component, state)},
                )
            )
        elif d.proposal == "omit" and fired:
            out.append(("omit", fired[0].line(), {"cycle": cycle, "drug": d.component}))
    return out


__all__ = ["CourseCheck", "Entry", "course_check", "crcl_value", "decision_entries"]
