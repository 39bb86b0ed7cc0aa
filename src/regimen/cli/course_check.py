"""``regimen course check`` (a cycle's gates, with the course's values in force, and the decision recorded) and
``regimen course requirement`` (what must be known before the first dose): issue 27."""

from __future__ import annotations

import json
from typing import Any

import click

from regimen.cli.check import check_record, check_text, crcl_value, test_options
from regimen.cli.course import _after, _of_course, _store, _who, course, reason_option, who_option
from regimen.cli.database import db_option
from regimen.clinical.gates import STRENGTH, CycleCheck, evaluate, refuse_nothing_to_check
from regimen.engine.courses import CourseError, CourseState, describe, parse_cycle
from regimen.engine.courses.describe import cycle_arg
from regimen.errors import RegimenError
from regimen.export.io import write_output
from regimen.model import Patient, Step
from regimen.quantities.exact import format_fraction
from regimen.quantities.labs import LabValue, read
from regimen.quantities.units import ParsedDose
from regimen.store.roles import CHANGE_ACTIONS


def _crcl_of(patient: Patient, scr: str | None, age: str | None, weight: str | None, sex: str | None) -> Any:
    """The CrCl from --scr (or the creatinine in force) with the patient's values in force where not typed; None
    when a value is missing and none was typed."""
    scr = scr or (format_fraction(patient.scr_mg_dl, grouping=False) if patient.scr_mg_dl else None)
    age = age or (format_fraction(patient.age_years, grouping=False) if patient.age_years is not None else None)
    weight = weight or (format_fraction(patient.weight_kg, grouping=False) if patient.weight_kg else None)
    sex = sex or patient.sex
    if scr is None or (age is None or weight is None or sex is None):
        return None
    return crcl_value(scr, age, weight, sex)


def _step_values(step: Step, component: str, state: CourseState) -> dict[str, Any]:
    """A reduction step as the values of a ``dose`` change: its level, its percentage, or its own dose as the exact
    share of the component's dose (65 of 85 mg/m²: 1300/17 %)."""
    if step.level is not None:
        return {"level": str(step.level)}
    if step.percent is not None:
        return {"dose_percent": f"{format_fraction(step.percent, grouping=False)}%", "confirm": True}
    comp = next(c for c in state.regimen.components() if c.id == component)
    full = comp.dose
    if step.dose is None or not isinstance(full, ParsedDose) or step.dose.unit.basis != full.unit.basis:
        raise RegimenError(
            f"{component}: the table's reduction cannot be applied to its dose; record it with 'course dose'"
        )
    share = step.dose.canonical / full.canonical * 100
    text = format_fraction(share, grouping=False)
    exact = text if str(share) == text or share.denominator == 1 else f"{share.numerator}/{share.denominator}"
    return {"dose_percent": f"{exact}%", "confirm": True}


def _consequences(result: CycleCheck, state: CourseState, cycle: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The existing changes an accepted proposal records, each with the rule that fired and its source as why."""
    out: list[tuple[str, str, dict[str, Any]]] = []
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
        fired = [f for f in d.steps if f.step.action == d.proposal]
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


@course.command("check")
@click.argument("course_id", metavar="COURSE")
@click.option("--cycle", required=True, metavar="N|PHASE:N", help="The cycle about to start.")
@test_options
@click.option("--scr", metavar="SCR", help="Serum creatinine for the CrCl (default: the course's, when recorded).")
@click.option("--age", metavar="Y", help="Age for the CrCl (default: the course's).")
@click.option("--weight", metavar="W", help="Weight for the CrCl (default: the course's in force).")
@click.option("--sex", metavar="S", help="Sex for the CrCl (default: the course's).")
@click.option("--accept", is_flag=True, help="Record the proposal as the decision, with the changes it makes.")
@click.option(
    "--override",
    type=click.Choice(list(STRENGTH)),
    metavar="DECISION",
    help="Record another decision (go, delay, reduce, omit, stop): needs --reason.",
)
@click.option("--reason", metavar="TEXT", help="Why (required with --override).")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True, help="text or json."
)
@who_option
@db_option
def check_command(
    course_id: str,
    cycle: str,
    scr: str | None,
    age: str | None,
    weight: str | None,
    sex: str | None,
    accept: bool,
    override: str | None,
    reason: str | None,
    fmt: str,
    who: str | None,
    db: str | None,
    **tests: str | None,
) -> None:
    """Check a cycle's values against the course's regimen's gates and modification table, with the course's patient
    values in force; propose go, delay, reduce, omit or stop per drug. --accept records the decision (and the delay,
    dose change, omission or stop it makes, each citing its rule); --override DECISION --reason TEXT records another.

    \b
    Example:
      regimen course check bed4 --cycle 2 --anc 1.2 --plt 150 --accept
    """
    if accept and override:
        raise RegimenError("--accept records the proposal, --override another decision: give one")
    if override and not (reason or "").strip():
        raise RegimenError(
            "--override needs --reason TEXT: a proposal of the regimen's table is overridden only with a reason"
        )
    store = _store(db, write=bool(accept or override))
    state: CourseState = _of_course(store, "view", course_id)
    reg = state.regimen
    refuse_nothing_to_check(reg)
    key = parse_cycle(cycle, reg)
    if key not in state.cycles:
        raise CourseError(f"--cycle {cycle}: the course has no such cycle (it plans {len(state.cycles)})")
    values: dict[str, LabValue] = {t: read(t, raw) for t, raw in tests.items() if raw is not None}
    typed = {t: raw for t, raw in tests.items() if raw is not None}
    extra: list[str] = []
    if ("crcl" not in values and any(g.condition.test == "crcl" for g in reg.gates)) or scr is not None:
        found = _crcl_of(state.patients[key], scr, age, weight, sex)
        if found is not None:
            values["crcl"], line = found
            typed["crcl"] = values["crcl"].shown
            extra.append(line)
    delayed = sum(1 for _, c in state.checks.get(key, ()) if c.decision == "delay")
    result = evaluate(reg, key[1], values, {m.text: delayed for m in reg.modifications})
    text = check_text(result, extra) if fmt == "text" else ""
    record = check_record(result, extra)
    if not (accept or override):
        write_output(text if fmt == "text" else json.dumps(record, indent=2, ensure_ascii=False) + "\n", None)
        return
    arg = cycle_arg(reg, key)
    decision = override or result.proposal
    entries: list[tuple[str, str, dict[str, Any]]] = [
        (
            "check",
            reason or f"gates checked: proposal {result.proposal} accepted",
            {
                "cycle": arg,
                "values": typed,
                "proposal": result.proposal,
                "decision": decision,
                "rules": [f.line() for f in result.fired],
            },
        )
    ]
    if accept:
        entries += _consequences(result, state, arg)
    who_ = _who(who, db, CHANGE_ACTIONS["check"])
    view, made = _of_course(store, "changes", course_id, entries, who=who_)
    lines = [f"change {c.seq} recorded: {describe(c, view.regimen, view.start.tz)}" for c in made]
    if fmt == "json":
        record["recorded"] = [c.to_dict() for c in made]
        write_output(json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n", None)
    else:
        write_output(text.rsplit("\n\n", 1)[0] + "\n", None)
    _after(view, f"course {course_id}: " + "; ".join(lines))


@course.command("requirement")
@click.argument("course_id", metavar="COURSE")
@click.option("--id", "ident", required=True, metavar="ID", help="The requirement (e.g. dpyd, hepatitis-b, lvef).")
@click.option(
    "--status",
    required=True,
    type=click.Choice(["met", "waived", "not-applicable"]),
    help="Met, waived (with --reason) or not applicable.",
)
@click.option("--result", metavar="TEXT", help="The result, when met (e.g. 'DPYD normal metabolizer').")
@reason_option(default="requirement recorded")
@who_option
@db_option
def requirement(
    course_id: str, ident: str, status: str, result: str | None, reason: str, who: str | None, db: str | None
) -> None:
    """Record what must be known before the first dose (the regimen's requirements): met, waived with a reason, or
    not applicable. The first dose is recorded as given only when each is recorded."""
    explicit = click.get_current_context().get_parameter_source("reason") == click.core.ParameterSource.COMMANDLINE
    if status == "waived" and not explicit:
        raise RegimenError("a requirement is waived only with a reason: add --reason TEXT")
    detail = result if status != "waived" else reason
    store = _store(db, write=True)
    who_ = _who(who, db, CHANGE_ACTIONS["requirement"])
    view, change = _of_course(
        store, "change", course_id, "requirement", who=who_, why=reason, id=ident, status=status, detail=detail
    )
    left = [s.requirement.id for s in view.requirements if not s.settled]
    still = f"; still to record before the first dose: {', '.join(left)}" if left else "; every requirement is recorded"
    _after(
        view,
        f"course {course_id}: change {change.seq} recorded: {describe(change, view.regimen, view.start.tz)}{still}",
    )


__all__ = ["check_command", "course", "requirement"]
