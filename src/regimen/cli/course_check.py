"""``regimen course check`` (a cycle's gates, with the course's values in force, and the decision recorded) and
``regimen course requirement`` (what must be known before the first dose): issue 27."""

from __future__ import annotations

import json

import click

from regimen.cli.check import check_record, check_text, test_options
from regimen.cli.course import _after, _change, _of_course, _store, _who, course, reason_option, who_option
from regimen.cli.database import db_option
from regimen.clinical.gates import STRENGTH
from regimen.engine.courses import CourseState
from regimen.engine.courses.describe import describe
from regimen.engine.courses.events import DEFAULT_REASONS
from regimen.engine.courses.gatecheck import course_check, decision_entries
from regimen.errors import RegimenError
from regimen.export.io import write_output
from regimen.store.roles import CHANGE_ACTIONS


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
    if override and not (reason or "").strip():  # before anything is read: the command line's usage
        raise RegimenError(
            "--override needs --reason TEXT: a proposal of the regimen's table is overridden only with a reason"
        )
    store = _store(db, write=bool(accept or override))
    state: CourseState = _of_course(store, "view", course_id)
    found = course_check(state, cycle, tests, scr=scr, age=age, weight=weight, sex=sex)
    result, extra = found.result, found.working
    text = check_text(result, extra) if fmt == "text" else ""
    record = check_record(result, extra)
    if not (accept or override):
        write_output(text if fmt == "text" else json.dumps(record, indent=2, ensure_ascii=False) + "\n", None)
        return
    entries = decision_entries(state, found, accept=accept, override=override, reason=reason)
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
@reason_option(default=DEFAULT_REASONS["requirement"])
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


@course.command("verify")
@click.argument("course_id", metavar="COURSE")
@click.option("--cycle", required=True, metavar="N|PHASE:N", help="The cycle whose doses were checked.")
@reason_option(default=DEFAULT_REASONS["verify"])
@who_option
@db_option
def verify(course_id: str, cycle: str, reason: str, who: str | None, db: str | None) -> None:
    """Record a pharmacist's check of a cycle's doses, as now planned, against the protocol: the dose figures
    checked are recorded, so a later new weight or dose change leaves the doses it changes unverified. With users
    in the database (a unit's team), a dose is recorded as given only once it is verified as planned."""
    _change("verify", course_id, db, who, reason, cycle=cycle)


__all__ = ["check_command", "course", "requirement", "verify"]
