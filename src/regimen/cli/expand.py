"""``regimen expand``: one patient's plan as a table, CSV or JSON, and as a calendar."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import click

from regimen.cli.clinical_options import clinical_options, options_from_context
from regimen.cli.options import (
    cycle_options,
    flag,
    output_options,
    patient_options,
    refuse_overwrite,
    regimen_argument,
    regimen_path_option,
)
from regimen.cli.terminal import show, warn
from regimen.clinical.choices import parse_cycles
from regimen.clinical.patient import make_patient
from regimen.clinical.pretreatment import read_dpyd
from regimen.engine.expand import expand as expand_plan
from regimen.engine.plan import Plan
from regimen.errors import RegimenError, render
from regimen.export.io import write_atomic, write_output
from regimen.export.records import plan_to_csv, plan_to_json
from regimen.export.table import render_table
from regimen.protocol.catalog import load
from regimen.quantities.clock import local_zone_key, parse_time, zone


def calendar_options(fn: Any) -> Any:
    options = [
        click.option(
            "--ics",
            metavar="FILE",
            type=click.Path(dir_okay=False),
            help="Also write the plan as an iCalendar file (needs --start).",
        ),
        click.option("--time", "time_", metavar="HH:MM", help="Time of each administration (default: all-day events)."),
        click.option(
            "--tz", metavar="ZONE", help="IANA time zone of --time, e.g. Europe/Berlin (default: this machine's)."
        ),
        click.option("--remind", metavar="30m|1h|1d", help="Add a reminder this long before each event."),
        click.option(
            "--label", metavar="TEXT", help="Name shown in each event (no patient name is written without it)."
        ),
        click.option(
            "--course",
            "course_key",
            metavar="ID",
            help="A stable key for the calendar's events (e.g. the course or patient id): a later export after any "
            "change (weight, dose, dates) then updates the same events instead of adding new ones.",
        ),
        click.option(
            "--caldav",
            metavar="URL",
            help="Upload the events to this CalDAV calendar, replacing an earlier "
            "upload of the plan; login from $REGIMEN_CALDAV_USER/$REGIMEN_CALDAV_PASSWORD or ~/.netrc.",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def calendar_export(calendar: dict[str, str | None], start: dt.datetime | None) -> Any:
    from regimen.export.calendar import CalendarExport  # lazy: icalendar only when a calendar is asked for

    return CalendarExport.from_options(
        ics=calendar["ics"],
        time=calendar["time_"],
        tz=calendar["tz"],
        remind=calendar["remind"],
        label=calendar["label"],
        caldav=calendar["caldav"],
        start=start,
        echo=lambda line: click.echo(render(line, flag), err=True),
    )


@click.command()
@regimen_argument
@patient_options
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="Date of day 1 of cycle 1; adds dates to every row.",
)
@cycle_options
@clinical_options
@output_options(["table", "csv", "json", "nonmem", "fhir"])
@click.option(
    "--samples",
    metavar="[DRUG:]HOURS",
    help="With --format nonmem: observation records (EVID 0) at these hours from the first dose, e.g. "
    "'0.5,1,2,4,8,24' or 'oxaliplatin:0.5,1,2' (default: the first drug's compartment).",
)
@click.option(
    "--dpyd",
    metavar="RESULT",
    help="DPYD result: 'activity score 1', 1.5, intermediate, poor, normal. An intermediate metabolizer gets 50 %% "
    "of the fluoropyrimidine dose (CPIC); a poor metabolizer is refused.",
)
@calendar_options
@regimen_path_option
def expand(
    regimen_ref: str,
    weight: str | None,
    bsa: str | None,
    age: str | None,
    dob: str | None,
    height: str | None,
    sex: str | None,
    start: dt.datetime | None,
    cycles: tuple[str, ...],
    cycle_length: int | None,
    fmt: str,
    output: str | None,
    samples: str | None,
    regimen_path: tuple[str, ...],
    ics: str | None,
    time_: str | None,
    tz: str | None,
    remind: str | None,
    label: str | None,
    course_key: str | None,
    caldav: str | None,
    dpyd: str | None = None,
) -> None:
    """Expand REGIMEN (an id from 'regimen list', or a .toml path) for one patient.

    \b
    Example:
      regimen expand cenersen-arm3 --weight 70 --bsa 1.8 --age 45
      regimen expand cenersen-arm3 --weight 70 --bsa 1.8 --age 45 --start 2026-12-01 \\
        --time 08:00 --tz Europe/Berlin --ics plan.ics
    """
    if samples is not None and fmt != "nonmem":
        raise RegimenError("--samples adds observation records to an event table: add --format nonmem")
    when = parse_time(time_) if time_ is not None else None
    if tz is not None:
        zone(tz)
    elif when is not None:  # a time of day with no zone: this machine's, said so when it cannot be found
        tz, note = local_zone_key()
        if note:
            click.echo(f"note: {render(note, flag)}", err=True)
    refuse_overwrite(["output", "ics"])
    calendar = {"ics": ics, "time_": time_, "tz": tz, "remind": remind, "label": label, "caldav": caldav}
    wanted = any(calendar[k] is not None for k in ("ics", "caldav", "remind", "label"))
    if course_key is not None:
        from regimen.engine.courses import check_course_id  # lazy: only with a calendar key

        check_course_id(course_key)
        if not wanted:
            raise RegimenError("--course keys the calendar's events: add --ics FILE or --caldav URL")
    export = calendar_export(calendar, start) if wanted else None
    reg = load(regimen_ref, regimen_path)
    clinical, renal = options_from_context()
    if dpyd is not None:
        clinical = dataclasses.replace(clinical, dpyd=read_dpyd(dpyd))
    patient = make_patient(weight=weight, bsa=bsa, age=age, height=height, sex=sex, dob=dob, **renal)
    plan = expand_plan(
        reg,
        patient,
        start=start.date() if start else None,
        cycles=parse_cycles(cycles),
        cycle_length=cycle_length,
        options=clinical,
        time=when,
        tz=tz,
    )
    if course_key is not None:
        plan = dataclasses.replace(plan, key=course_key)
    calendar_bytes = export.render(plan) if export is not None else None
    write_plan(plan, fmt, output, samples)
    if export is not None:
        try:
            export.publish(plan, calendar_bytes)
        except RegimenError as exc:  # the calendar failed: say exactly what is already written where
            written = [f"{output} (the plan)"] if output not in (None, "-") else []
            if export.ics is not None and export.caldav is not None and "CalDAV" in type(exc).__name__:
                written.append(f"{export.ics} (the calendar file)")
            already = f"; already written: {', '.join(written)}" if written else "; no file was written"
            raise RegimenError(f"{exc.message}{already}") from None
    if plan.warnings:  # whatever the format, and when the plan went to a file, the run says it has warnings
        more = f" (and {len(plan.warnings) - 1} more)" if len(plan.warnings) > 1 else ""
        warn(f"warning: {plan.warnings[0]}{more}")


def write_plan(plan: Plan, fmt: str, output: str | None, samples: str | None = None) -> None:
    if fmt == "nonmem":  # the numbers to the file; units, compartments and assumptions beside it (or to stderr)
        from regimen.export import events  # lazy: only for this format

        schedule = events.parse_samples(samples) if samples is not None else None
        data, about = events.plan_events_csv(plan, schedule), events.plan_description(plan, schedule)
        if output in (None, "-"):
            write_output(data, output)
            click.echo(about, err=True, nl=False)
        else:
            write_atomic(f"{output}.txt", about)
            write_output(data, output)
            click.echo(f"{output}.txt: written (the event table's units and assumptions)", err=True)
        return
    if fmt == "fhir":
        from regimen.export.fhir import plan_fhir_json  # lazy: only for this format

        write_output(plan_fhir_json(plan), output)
        return
    if fmt == "table" and output in (None, "-") and show(lambda width, mark: render_table(plan, width, mark)):
        return  # a terminal: fitted to its width, warnings coloured, paged when long
    render = {"json": plan_to_json, "csv": plan_to_csv}.get(fmt, render_table)
    write_output(render(plan), output)


__all__ = ["expand", "write_plan"]
