"""``regimen course ...`` (a plan that follows the patient) and ``regimen due`` (the day unit's worklist)."""

from __future__ import annotations

import datetime as dt
import getpass
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from regimen.cli.clinical_options import clinical_options
from regimen.cli.database import db_option, open_store
from regimen.cli.options import (
    META,
    flag,
    output_options,
    patient_options,
    refuse_overwrite,
    regimen_argument,
    regimen_path_option,
)
from regimen.cli.terminal import warn
from regimen.clinical.choices import parse_cycles
from regimen.engine.courses import CourseError, CourseStart
from regimen.engine.courses.events import DEFAULT_REASONS
from regimen.engine.preparations import preparations
from regimen.errors import RegimenError, render
from regimen.export.io import write_output
from regimen.protocol.catalog import find, load
from regimen.quantities.clock import local_zone_key
from regimen.store.roles import CHANGE_ACTIONS

F = TypeVar("F", bound=Callable[..., Any])
REPEAT = "a repeat of the last change within a day (refused otherwise as typed twice)"


def who_option(fn: F) -> F:
    return click.option("--who", metavar="NAME", help="Who records this (default: the login name).")(fn)


def reason_option(default: str | None = None) -> Callable[[F], F]:
    """--reason: required for a change; ``default`` for a record that has an obvious one (start, given)."""
    help_text = "Why (recorded with the change; every change says why)."
    if default is None:
        return click.option("--reason", metavar="TEXT", required=True, help=help_text)
    return click.option("--reason", metavar="TEXT", default=default, show_default=True, help=help_text)


def cycle_option(fn: F) -> F:
    return click.option(
        "--cycle", required=True, metavar="N|PHASE:N", help="The cycle (from this cycle on, for lasting changes)."
    )(fn)


def confirm_option(what: str) -> Callable[[F], F]:
    """--confirm: record, as typed, a value that would be refused as implausible."""
    return click.option("--confirm", is_flag=True, help=f"Record {what}: the value is right as typed.")


def _who(who: str | None, db: str | None, action: str) -> str:
    """Who records a change: the signed-in user when the database has users (their role checked for ``action``,
    regimen.store.roles), else --who or the login name."""
    return _recorder(who, db, action)[0]


def _recorder(who: str | None, db: str | None, action: str) -> tuple[str, bool]:
    """Who records a change (as :func:`_who`), and whether the database has users: a unit's team, where a dose is
    recorded as given only once a pharmacist verified it (issue 28)."""
    from regimen.cli.users import identity  # lazy: argon2 only for the course commands

    signed = identity(db, who, action)
    if signed is not None:
        return signed, True
    return _typed(who), False


def _typed(who: str | None) -> str:
    if who is not None:
        text = " ".join(who.split())
        if not text or len(text) > 200:
            raise RegimenError("--who: one line of at most 200 characters")
        return text
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or "unknown"


def _store(db: str | None, write: bool = False, refresh: bool = False) -> Any:
    return open_store(db, write=write, refresh=refresh)


def _typo_distance(a: str, b: str) -> int:
    """Edits from ``a`` to ``b``: insertions, deletions, substitutions and swaps of two neighbours ('bde1' -> 'bed4'
    is two: a swap and a substitution)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def _of_course(store: Any, method: str, course_id: str, *args: Any, **kwargs: Any) -> Any:
    """``store.method(course_id, ...)``; a course id that is not there is one line with the nearest id ('did you
    mean'), as a regimen id is."""
    try:
        return getattr(store, method)(course_id, *args, **kwargs)
    except CourseError:
        ids = [c.course_id for c in store.courses()]
        if course_id in ids:
            raise
        near = sorted((_typo_distance(course_id, i), i) for i in ids if len(i) <= 64)
        close = [i for n, i in near[:1] if n <= max(2, len(course_id) // 3)]
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise CourseError(
            f"no course {course_id!r} in {store.where}: {hint}'regimen course list' shows the courses"
        ) from None


def _today() -> dt.date:
    """Today, for the check of a day 1 long past (a seam the tests pin)."""
    return dt.date.today()


def _say(line: str) -> None:
    click.echo(render(line, flag), err=True)


def _after(view: Any, line: str) -> None:
    _say(line)
    for w in view.warnings:
        warn(f"warning: {w}")


@click.group()
def course() -> None:
    """Treatment courses: a plan that follows the patient (delays, new weights, dose changes, omissions, what was
    given), kept append-only in a database.

    \b
    Example:
      regimen course start capox --course bed4 --weight 70 --height 175 --age 60 --start 2026-12-01
      regimen course delay bed4 --cycle 3 --by 7d --reason "neutrophils 0.9"
      regimen course show bed4
    """


@course.command("start")
@regimen_argument
@click.option("--course", "course_id", required=True, metavar="ID", help="The course's id (yours: e.g. bed4-2026-12).")
@patient_options
@click.option(
    "--start",
    required=True,
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="Date of day 1 of cycle 1.",
)
@click.option("--time", "time_", metavar="HH:MM", help="Time the first drug of each treatment day starts.")
@click.option("--tz", metavar="ZONE", help="IANA time zone of --time (default: this machine's, as for 'expand').")
@click.option("--cycles", "cycles", multiple=True, metavar="N|PHASE=N", help="Cycles, when the source leaves it open.")
@click.option("--cycle-length", type=click.IntRange(min=1), metavar="DAYS", help="When the source states none.")
@clinical_options
@db_option
@who_option
@reason_option(default=DEFAULT_REASONS["start"])
@regimen_path_option
def start_command(
    regimen_ref: str,
    course_id: str,
    weight: str | None,
    bsa: str | None,
    age: str | None,
    dob: str | None,
    height: str | None,
    sex: str | None,
    start: dt.datetime,
    time_: str | None,
    tz: str | None,
    cycles: tuple[str, ...],
    cycle_length: int | None,
    db: str | None,
    who: str | None,
    reason: str,
    regimen_path: tuple[str, ...],
) -> None:
    """Start a course of REGIMEN for one patient: records the regimen file's text (so a later edit of the file never
    changes a running course), the patient values as typed, and day 1 (more than 30 days ago: with --confirm)."""
    if tz is None and time_ is not None:  # as 'regimen expand': this machine's zone, said so when it cannot be found
        tz, note = local_zone_key()
        if note:
            _say(f"note: {note}")
    counts = parse_cycles(cycles)
    if isinstance(counts, dict):
        raise RegimenError("a course records one --cycles N (for the phase whose count is open)")
    path = find(regimen_ref, regimen_path)
    load(regimen_ref, regimen_path)  # the same checks as 'regimen expand' (id, shadowing)
    values: dict[str, Any] = click.get_current_context().meta.get(META, {})
    patient = {"weight": weight, "bsa": bsa, "age": age, "dob": dob, "height": height, "sex": sex}
    record = CourseStart.parse(
        course_id=course_id,
        regimen_text=Path(path).read_text(encoding="utf-8"),
        regimen_file=str(path),
        start=start.date(),
        today=_today(),
        patient={**patient, "scr": values.get("scr"), "gfr": values.get("gfr")},
        options=values,
        time=time_,
        tz=tz,
        cycles=counts,
        cycle_length=cycle_length,
        confirm=bool(values.get("confirm")),  # the one --confirm: also of a day 1 more than 30 days ago
    )
    store = _store(db, write=True)
    view = store.start(record, who=_who(who, db, "course.start"), why=reason)
    planned = len(preparations(cr.row for cr in view.rows if cr.status == "planned"))  # a pump is one
    _after(view, f"course {course_id}: started ({view.regimen.id}, {planned} administrations planned) in {store.where}")
    for line in _requirement_lines(course_id, view.requirements):
        _say(line)


def _requirement_lines(course_id: str, statuses: Any) -> list[str]:
    """What must be recorded before the first dose (issue 27): each requirement of the regimen with its source, and
    the command that records it. Empty when the regimen states none."""
    if not statuses:
        return []
    lines = [
        "Before the first dose: record each requirement as met, waived (with a reason) or not applicable; "
        "the first dose is refused until each is recorded:"
    ]
    for s in statuses:
        r = s.requirement
        lines.append(f"- {r.id}: {r.test}, before {', '.join(r.drugs)} ({r.source}): {s.status}")
        if not s.settled:
            lines.append(
                f"  regimen course requirement {shlex.quote(course_id)} --id {shlex.quote(r.id)} "
                "--status met|waived|not-applicable --reason TEXT [--result TEXT]"
            )
    return lines


def _change(kind: str, course_id: str, db: str | None, who: str | None, reason: str, **given: Any) -> None:
    store = _store(db, write=True)  # first: a new database is made (and said so) before anyone is asked who they are
    who, team = _recorder(who, db, CHANGE_ACTIONS[kind])
    view, change = _of_course(store, "change", course_id, kind, who=who, why=reason, verified_only=team, **given)
    from regimen.engine.courses.describe import describe  # lazy: only this command needs it

    _after(view, f"course {course_id}: change {change.seq} recorded: {describe(change, view.regimen, view.start.tz)}")


@course.command("delay")
@click.argument("course_id", metavar="COURSE")
@cycle_option
@click.option("--by", "by", required=True, metavar="7d|1w", help="How much later the cycle starts (days or weeks).")
@confirm_option(REPEAT)
@reason_option()
@who_option
@db_option
def delay(course_id: str, cycle: str, by: str, confirm: bool, reason: str, who: str | None, db: str | None) -> None:
    """Delay a cycle (and every cycle after it)."""
    _change("delay", course_id, db, who, reason, cycle=cycle, by=by, confirm=confirm)


@course.command("measure")
@click.argument("course_id", metavar="COURSE")
@cycle_option
@click.option("--weight", metavar="W", help="New weight (kg, or with a unit).")
@click.option("--height", metavar="H", help="New height.")
@click.option("--bsa", metavar="A", help="New BSA in m² (else computed from height and weight when it was).")
@click.option("--scr", metavar="SCR", help="New serum creatinine.")
@click.option("--gfr", metavar="ML_MIN", help="New measured GFR.")
@click.option("--age", metavar="Y", help="Age in years (one not given at the start decides the rows marked 'only if').")
@click.option("--sex", type=click.Choice(["female", "male"]), help="Sex (one not given at the start: as --age).")
@confirm_option(
    "a weight or BSA half or less, or twice or more, the one in force, an age below it or another sex "
    "(refused otherwise as a likely slip)"
)
@reason_option()
@who_option
@db_option
def measure(
    course_id: str,
    cycle: str,
    weight: str | None,
    height: str | None,
    bsa: str | None,
    scr: str | None,
    gfr: str | None,
    age: str | None,
    sex: str | None,
    confirm: bool,
    reason: str,
    who: str | None,
    db: str | None,
) -> None:
    """New patient values from a cycle on: doses are recomputed; a change of more than 10 % in weight or BSA (from
    one cycle to the next, or since the start) is flagged. An age or sex not given at the start decides, from the
    cycle given, the rows marked 'only if'."""
    _change(
        "measure",
        course_id,
        db,
        who,
        reason,
        cycle=cycle,
        weight=weight,
        height=height,
        bsa=bsa,
        scr=scr,
        gfr=gfr,
        age=age,
        sex=sex,
        confirm=confirm,
    )


@course.command("dose")
@click.argument("course_id", metavar="COURSE")
@cycle_option
@click.option("--drug", metavar="DRUG", help="The drug (default for --level: every drug with levels).")
@click.option("--level", metavar="N", help="Dose level from the regimen's levels, e.g. -1.")
@click.option("--dose-percent", metavar="PCT%", help="Give PCT% of the drug's full dose, e.g. 80% (the % is required).")
@click.option("--reduce-by", metavar="PCT%", help="Reduce the drug's full dose by PCT%, e.g. 20% gives 80 %.")
@click.option("--reduce", hidden=True, help="Refused: use --dose-percent or --reduce-by.")
@confirm_option("a change of dose to less than 50 % or more than 100 % of the full dose, or a repeat within a day")
@reason_option()
@who_option
@db_option
def dose(
    course_id: str,
    cycle: str,
    drug: str | None,
    level: str | None,
    dose_percent: str | None,
    reduce_by: str | None,
    reduce: str | None,
    confirm: bool,
    reason: str,
    who: str | None,
    db: str | None,
) -> None:
    """A dose level, or a change of one drug's dose, from a cycle on: --dose-percent 80% and --reduce-by 20% both
    give 80 % of the dose (the full dose as it would be given, after the regimen's maximum doses)."""
    _change(
        "dose",
        course_id,
        db,
        who,
        reason,
        cycle=cycle,
        drug=drug,
        level=level,
        dose_percent=dose_percent,
        reduce_by=reduce_by,
        reduce=reduce,
        confirm=confirm,
    )


@course.command("omit")
@click.argument("course_id", metavar="COURSE")
@cycle_option
@click.option("--day", type=click.IntRange(min=1), metavar="D", help="The day of the cycle (default: every day).")
@click.option("--drug", metavar="DRUG", help="The drug (default: every drug of the day).")
@click.option("--dose-number", type=click.IntRange(min=1), metavar="N", help="With several doses a day: which.")
@confirm_option(REPEAT)
@reason_option()
@who_option
@db_option
def omit(
    course_id: str,
    cycle: str,
    day: int | None,
    drug: str | None,
    dose_number: int | None,
    confirm: bool,
    reason: str,
    who: str | None,
    db: str | None,
) -> None:
    """Omit a drug, a day, a drug on a day, or one dose of a drug on a day."""
    _change(
        "omit", course_id, db, who, reason, cycle=cycle, day=day, drug=drug, dose_number=dose_number, confirm=confirm
    )


@course.command("given")
@click.argument("course_id", metavar="COURSE")
@cycle_option
@click.option("--day", type=click.IntRange(min=1), metavar="D", help="The day of the cycle.")
@click.option("--drug", metavar="DRUG", help="The drug.")
@click.option("--dose", "dose_", required=True, metavar="AMOUNT", help="The dose actually given, with its unit.")
@click.option("--at", metavar="YYYY-MM-DDTHH:MM", help="When it was given (the course's zone, or with an offset).")
@click.option("--lot", metavar="LOT", help="The lot (batch) number, when known.")
@click.option("--dose-number", type=click.IntRange(min=1), metavar="N", help="With several doses a day: which.")
@confirm_option("a dose twice the planned dose or more, or given before day 1 (refused otherwise as a likely slip)")
@reason_option(default=DEFAULT_REASONS["given"])
@who_option
@db_option
def given(
    course_id: str,
    cycle: str,
    day: int | None,
    drug: str | None,
    dose_: str,
    at: str | None,
    lot: str | None,
    dose_number: int | None,
    confirm: bool,
    reason: str,
    who: str | None,
    db: str | None,
) -> None:
    """Record what was actually given for one planned administration (a time in the future is refused). With users
    in the database (a unit), only a dose a pharmacist verified as planned now ('regimen course verify')."""
    _change(
        "given",
        course_id,
        db,
        who,
        reason,
        cycle=cycle,
        day=day,
        drug=drug,
        dose=dose_,
        at=at,
        lot=lot,
        dose_number=dose_number,
        confirm=confirm,
    )


@course.command("stop")
@click.argument("course_id", metavar="COURSE")
@click.option(
    "--on",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="First day not given (default: today).",
)
@confirm_option(REPEAT)
@reason_option()
@who_option
@db_option
def stop(course_id: str, on: dt.datetime | None, confirm: bool, reason: str, who: str | None, db: str | None) -> None:
    """Stop the course: nothing is planned from --on (default today)."""
    _change("stop", course_id, db, who, reason, on=(on.date() if on else dt.date.today()), confirm=confirm)


@course.command("void")
@click.argument("course_id", metavar="COURSE")
@click.option("--change", "change", required=True, metavar="N", help="The change entered in error (#N in the history).")
@reason_option()
@who_option
@db_option
def void(course_id: str, change: str, reason: str, who: str | None, db: str | None) -> None:
    """Correct a change entered in error: its effect is undone, and both it and the correction stay in the history
    (as FHIR's status 'entered-in-error'). The start, a correction, or an unknown change cannot be voided."""
    _change("void", course_id, db, who, reason, change=change)


@course.command("show")
@click.argument("course_id", metavar="COURSE")
@output_options(["table", "json"])
@db_option
def show(course_id: str, fmt: str, output: str | None, db: str | None) -> None:
    """The course as it now stands: given / planned / omitted per row with the working, cumulative doses given,
    and the history of changes."""
    text, data, warnings = _of_course(_store(db), "shown", course_id)
    write_output(data if fmt == "json" else text, output)
    for w in warnings:
        warn(f"warning: {w}")


@course.command("export")
@click.argument("course_id", metavar="COURSE")
@output_options(["json", "fhir"])
@db_option
def export(course_id: str, fmt: str, output: str | None, db: str | None) -> None:
    """The course as JSON (its records: start and every change, and the plan as it stands), or as a FHIR R4 Bundle
    (--format fhir: the plan's MedicationRequests and a MedicationAdministration for every dose given)."""
    store = _store(db)
    if fmt == "fhir":
        from regimen.export.fhir import course_fhir_json  # lazy: only for this format

        write_output(course_fhir_json(_of_course(store, "view", course_id)), output)
    else:
        write_output(_of_course(store, "shown", course_id)[1], output)


@course.command("list")
@output_options(["table", "csv", "json"])
@db_option
def list_courses(fmt: str, output: str | None, db: str | None) -> None:
    """Every course in the database: id, regimen, day 1, status, number of changes."""
    import csv
    import io
    import json

    store = _store(db)
    courses = store.courses()
    records = [
        {
            "course": c.course_id,
            "regimen": c.regimen_id,
            "start": c.start.isoformat(),
            "status": c.status,
            "changes": c.changes,
            "last_change": c.last_change.isoformat() if c.last_change else None,
        }
        for c in courses
    ]
    if fmt == "json":
        text = json.dumps(records, indent=2) + "\n"
    elif fmt == "csv":
        from regimen.quantities.exact import format_fraction  # lazy: only this format

        for r in records:  # relative dose intensity per drug (issue 27): each course replayed
            found = store.view(r["course"]).intensity
            r["rdi"] = "; ".join(f"{i.drug}={format_fraction(i.rdi * 100, grouping=False)}%" for i in found)
        out = io.StringIO()
        writer = csv.DictWriter(
            out,
            fieldnames=["course", "regimen", "start", "status", "changes", "last_change", "rdi"],
            lineterminator="\n",
        )
        writer.writeheader()
        writer.writerows(records)
        text = out.getvalue()
    else:
        lines = [f"{len(records)} course(s)"]
        lines += [
            f"{r['course']}  {r['regimen']}  from {r['start']}  {r['status']}  {r['changes']} change(s)"
            for r in records
        ]
        text = "\n".join(lines) + "\n"
    write_output(text, output)


@course.command("calendar")
@click.argument("course_id", metavar="COURSE")
@click.option("--ics", metavar="FILE", type=click.Path(dir_okay=False), help="Write (or update) this .ics file.")
@click.option("--caldav", metavar="URL", help="Upload to (or update) this CalDAV calendar.")
@click.option("--remind", metavar="30m|1h|1d", help="A reminder this long before each event.")
@click.option("--label", metavar="TEXT", help="Name shown in each event.")
@db_option
def calendar(
    course_id: str, ics: str | None, caldav: str | None, remind: str | None, label: str | None, db: str | None
) -> None:
    """The course's calendar: events keyed by the course, so a re-export after any change updates the changed
    events (SEQUENCE + 1), cancels those that left the plan, and leaves the rest as they were."""
    from regimen.export.calendar import CalendarExport  # lazy: only this command needs it

    refuse_overwrite(["ics"])
    view = _of_course(_store(db), "view", course_id)
    export = CalendarExport.from_options(
        ics=ics,
        caldav=caldav,
        time=None,
        tz=None,
        remind=remind,
        label=label,
        start=view.start.start,
        echo=_say,
    )
    plans = view.active_plans()
    if not plans:
        raise RegimenError(f"course {course_id}: nothing is planned or given any more; no calendar to write")
    export.publish(plans, export.render(plans))


__all__ = ["course"]
