"""The ``regimen`` command: a thin layer over the library.

Every :class:`~regimen.errors.RegimenError` becomes one line on stderr and exit code 1; click's
usage errors exit 2. Outputs go to a temporary file and are renamed into place, so a failed run
never leaves a partial file or clobbers an existing one.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from regimen.cli.clinical_options import (
    clinical_options,
    cohort_clinical_options,
    cohort_options_from_context,
    options_from_context,
)
from regimen.errors import RegimenError, RegimenFileError

F = TypeVar("F", bound=Callable[..., Any])


class RegimenGroup(click.Group):
    """Turns library errors into clean one-line messages (no traceback)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Like click's main, but every error is one line: 'Error: ...' and a hint, never a usage dump."""
        main = super().main
        if not kwargs.pop("standalone_mode", True):
            return main(*args, standalone_mode=False, **kwargs)  # type: ignore[call-overload]
        try:
            result = main(*args, standalone_mode=False, **kwargs)  # type: ignore[call-overload]
        except click.UsageError as exc:
            command = exc.ctx.command_path if exc.ctx is not None else "regimen"
            click.echo(f"Error: {exc.format_message()} (see '{command} --help')", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except RegimenError as exc:
            raise click.ClickException(str(exc)) from None


def regimen_path_option(fn: F) -> F:
    return click.option(
        "--regimen-path", "regimen_path", multiple=True, metavar="DIR",
        type=click.Path(file_okay=False),
        help="Extra folder of regimen files, searched before the bundled ones (repeatable; also $REGIMEN_PATH).",
    )(fn)


def patient_options(fn: F) -> F:
    options = [
        click.option("--weight", metavar="W", help="Body weight: kg, or with a unit ('154 lb', '70 kg')."),
        click.option("--bsa", metavar="A", help="Body-surface area in m² ('1.8', '1.8 m2')."),
        click.option("--age", metavar="Y", help="Age in years."),
        click.option("--height", metavar="H", help="Height: cm, or with a unit ('5ft9in', '1.75 m')."),
        click.option("--sex", metavar="S", help="female or male."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def output_options(formats: Sequence[str]) -> Callable[[F], F]:
    def decorate(fn: F) -> F:
        fn = click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True),
                          help="Write to FILE (atomically) instead of standard output.")(fn)
        fn = click.option("--format", "fmt", type=click.Choice(list(formats)), default=formats[0], show_default=True,
                          help="Output format.")(fn)
        return fn

    return decorate


def parse_cycles(values: Sequence[str]) -> int | dict[str, int] | None:
    """--cycles 4, or --cycles maintenance=4 (repeatable) for regimens with phases."""
    if not values:
        return None
    by_phase: dict[str, int] = {}
    plain: int | None = None
    for value in values:
        name, _, count = value.rpartition("=")
        try:
            number = int(count)
        except ValueError:
            raise RegimenError(f"--cycles {value!r}: give a whole number, e.g. --cycles 4 or --cycles maintenance=4") \
                from None
        if number < 1:
            raise RegimenError(f"--cycles {value!r}: at least 1 cycle")
        if name:
            by_phase[name] = number
        else:
            plain = number
    if by_phase and plain is not None:
        raise RegimenError("--cycles: give either one number or PHASE=N values, not both")
    return by_phase or plain


def calendar_options(fn: F) -> F:
    options = [
        click.option("--ics", metavar="FILE", type=click.Path(dir_okay=False),
                     help="Also write the plan as an iCalendar file (needs --start)."),
        click.option("--time", "time_", metavar="HH:MM", help="Time of each administration (default: all-day events)."),
        click.option("--tz", metavar="ZONE", help="IANA time zone of --time, e.g. Europe/Berlin (default: this "
                     "machine's)."),
        click.option("--remind", metavar="30m|1h|1d", help="Add a reminder this long before each event."),
        click.option("--label", metavar="TEXT",
                     help="Name shown in each event (no patient name is written without it)."),
        click.option("--caldav", metavar="URL", help="Upload the events to this CalDAV calendar, replacing an earlier "
                     "upload of the plan; login from $REGIMEN_CALDAV_USER/$REGIMEN_CALDAV_PASSWORD or ~/.netrc."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def calendar_export(calendar: dict[str, str | None], start: dt.datetime | None) -> Any:
    from regimen.export.ics import CalendarExport

    return CalendarExport.from_options(ics=calendar["ics"], time=calendar["time_"], tz=calendar["tz"],
                                       remind=calendar["remind"], label=calendar["label"], caldav=calendar["caldav"],
                                       start=start, echo=lambda line: click.echo(line, err=True))


@click.group(cls=RegimenGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="regimen")
def cli() -> None:
    """Turn cited oncology protocols into exact, per-patient administration schedules.

    Research software: verify every dose against the protocol before use.
    """


@cli.command()
@click.argument("regimen_ref", metavar="REGIMEN")
@patient_options
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Date of day 1 of cycle 1; adds dates to every row.")
@click.option("--cycles", "cycles", multiple=True, metavar="N|PHASE=N",
              help="Cycles to expand (default: the regimen's count, or 1 when the source gives none).")
@click.option("--cycle-length", type=click.IntRange(min=1), metavar="DAYS",
              help="Cycle length for regimens whose source does not state one.")
@clinical_options
@output_options(["table", "csv", "json"])
@calendar_options
@regimen_path_option
def expand(regimen_ref: str, weight: str | None, bsa: str | None, age: str | None, height: str | None,
           sex: str | None, start: dt.datetime | None, cycles: tuple[str, ...], cycle_length: int | None, fmt: str,
           output: str | None, regimen_path: tuple[str, ...], ics: str | None, time_: str | None, tz: str | None,
           remind: str | None, label: str | None, caldav: str | None) -> None:
    """Expand REGIMEN (an id from 'regimen list', or a .toml path) for one patient.

    \b
    Example:
      regimen expand cenersen-arm3 --weight 70 --bsa 1.8 --age 45
      regimen expand cenersen-arm3 --weight 70 --bsa 1.8 --age 45 --start 2026-12-01 \\
        --time 08:00 --tz Europe/Berlin --ics plan.ics
    """
    from regimen.clinical.patient import make_patient
    from regimen.engine.expand import expand as do_expand
    from regimen.protocol.catalog import load

    calendar = {"ics": ics, "time_": time_, "tz": tz, "remind": remind, "label": label, "caldav": caldav}
    export = calendar_export(calendar, start) if any(v is not None for v in calendar.values()) else None
    reg = load(regimen_ref, regimen_path)
    clinical, renal = options_from_context()
    patient = make_patient(weight=weight, bsa=bsa, age=age, height=height, sex=sex, **renal)
    plan = do_expand(reg, patient, start=start.date() if start else None, cycles=parse_cycles(cycles),
                     cycle_length=cycle_length, options=clinical)
    calendar_bytes = export.render(plan) if export is not None else None
    write_plan(plan, fmt, output)
    if export is not None:
        export.publish(plan, calendar_bytes)


def write_plan(plan: Any, fmt: str, output: str | None) -> None:
    from regimen.export.io import write_output

    if fmt == "json":
        from regimen.export.records import plan_to_json

        text = plan_to_json(plan)
    elif fmt == "csv":
        from regimen.export.records import plan_to_csv

        text = plan_to_csv(plan)
    else:
        from regimen.export.table import render_table

        text = render_table(plan)
    write_output(text, output)


@cli.command("list")
@output_options(["table", "json"])
@regimen_path_option
def list_command(fmt: str, output: str | None, regimen_path: tuple[str, ...]) -> None:
    """List the regimens available: ids, names, indications and sources."""
    import json

    from regimen.export.io import write_output
    from regimen.export.table import columns
    from regimen.protocol.catalog import list_regimens

    regimens, errors = list_regimens(regimen_path)
    for error in errors:
        click.echo(f"skipped: {error}", err=True)
    if fmt == "json":
        data = [{"id": r.id, "name": r.name, "indication": r.indication, "version": r.version, "status": r.status,
                 "sources": [str(s) for s in r.sources], "file": r.path} for r in regimens]
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        rows = [[r.id, r.name, r.indication or "", r.citation] for r in regimens]
        text = "\n".join(columns(["Id", "Name", "Indication", "Source"], rows)) + "\n"
    write_output(text, output)


@cli.command()
@click.argument("regimen_ref", metavar="REGIMEN")
@regimen_path_option
def show(regimen_ref: str, regimen_path: tuple[str, ...]) -> None:
    """Print REGIMEN in words, as a protocol would."""
    from regimen.protocol.catalog import load
    from regimen.protocol.describe import describe

    click.echo(describe(load(regimen_ref, regimen_path)), nl=False)


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(files: tuple[str, ...]) -> None:
    """Check regimen FILES; print every problem with file, component and field."""
    from regimen.protocol.loader import load_file

    bad = 0
    for file in files:
        try:
            reg = load_file(file)
        except RegimenFileError as exc:
            bad += 1
            for problem in exc.problems:
                click.echo(str(problem), err=True)
        except RegimenError as exc:
            bad += 1
            click.echo(str(exc), err=True)
        else:
            click.echo(f"{file}: ok ({reg.id})")
    if bad:
        raise click.ClickException(f"{bad} of {len(files)} file{'s' if len(files) > 1 else ''} invalid")


@cli.command()
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True),
              help="Write to FILE instead of standard output.")
def schema(output: str | None) -> None:
    """Print the JSON Schema of the regimen file format (for editors)."""
    from regimen.export.io import write_output
    from regimen.protocol.schema import schema_json

    write_output(schema_json(), output)


# ---- cohorts and supply (issue 5) -----------------------------------------------------------------

def cohort_options(fn: F) -> F:
    options = [
        click.option("--cycles", "cycles", multiple=True, metavar="N|PHASE=N",
                     help="Cycles to expand (default: the regimen's count, or 1 when the source gives none)."),
        click.option("--cycle-length", type=click.IntRange(min=1), metavar="DAYS",
                     help="Cycle length for regimens whose source does not state one."),
        click.option("--errors", "errors_path", metavar="FILE", type=click.Path(dir_okay=False),
                     help="Where to write rejected roster rows (default: beside the output, STEM.errors.csv)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@cli.command()
@click.argument("regimen_ref", metavar="REGIMEN")
@click.argument("roster", metavar="ROSTER", type=click.Path(exists=True))
@click.option("-o", "--output", metavar="OUT", required=True, type=click.Path(),
              help="Output file, .csv or .parquet (a folder with --engine dask).")
@cohort_options
@cohort_clinical_options()
@click.option("--engine", type=click.Choice(["pandas", "dask"]), default="pandas", show_default=True,
              help="dask: ROSTER and OUT are folders of Parquet files; one task per row group.")
@click.option("--scheduler", metavar="ADDRESS", help="With --engine dask: a Dask scheduler address (default: local "
                                                      "threads).")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal, for long runs).")
@regimen_path_option
def cohort(regimen_ref: str, roster: str, output: str, cycles: tuple[str, ...], cycle_length: int | None,
           errors_path: str | None, engine: str, scheduler: str | None, progress: bool | None,
           regimen_path: tuple[str, ...]) -> None:
    """Expand REGIMEN for every patient of ROSTER (CSV or Parquet) into OUT.

    Roster columns: patient_id, and those the regimen needs of weight_kg, bsa_m2 (or height_cm), age, sex;
    start_date (YYYY-MM-DD) adds dates. Rows that cannot be used go to the errors file, never dropped silently.

    \b
    Example:
      regimen cohort cenersen-arm3 roster.csv -o plan.csv
    """
    from regimen.protocol.catalog import load

    reg = load(regimen_ref, regimen_path)
    clinical = cohort_options_from_context()
    if engine == "dask":
        from regimen.clinical.prepare import ClinicalOptions
        from regimen.engine.dask_backend import run_dask

        bsa_formula = clinical.bsa_formula if clinical is not None else None
        if clinical is not None and clinical != ClinicalOptions(bsa_formula=clinical.bsa_formula):
            raise RegimenError("--engine dask takes --bsa-formula only of the clinical options: run the other "
                               "options with --engine pandas")
        summary = run_dask(reg, roster, output, errors_path=errors_path, bsa_formula=bsa_formula,
                           cycles=parse_cycles(cycles), cycle_length=cycle_length, client=scheduler)
    else:
        from regimen.engine.cohort import run_cohort_file

        summary = run_cohort_file(reg, roster, output, errors_path=errors_path, cycles=parse_cycles(cycles),
                                  cycle_length=cycle_length, progress=progress, options=clinical)
    for line in summary.lines(reg.id, output):
        click.echo(line, err=True)


@cli.command()
@click.argument("regimen_ref", metavar="REGIMEN")
@click.argument("roster", metavar="ROSTER", type=click.Path(exists=True, dir_okay=False))
@click.option("--formulary", "formulary_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="Vial sizes per drug (TOML), also for --vial-round and --band. Default: the shipped EXAMPLE "
                   "formulary (not for rounding).")
@cohort_options
@cohort_clinical_options(formulary=False)
@output_options(["table", "csv", "json"])
@regimen_path_option
def supply(regimen_ref: str, roster: str, formulary_path: str | None, cycles: tuple[str, ...],
           cycle_length: int | None, errors_path: str | None, fmt: str,
           output: str | None, regimen_path: tuple[str, ...]) -> None:
    """Drug supply for REGIMEN over ROSTER: amounts and single-use vials per drug, by cycle and ISO week.

    \b
    Example:
      regimen supply cenersen-arm3 roster.csv --formulary pharmacy.toml
    """
    from regimen.clinical.formulary import load_formulary
    from regimen.engine.cohort import supply_rows
    from regimen.engine.supply import SupplyForecast
    from regimen.export.io import write_output
    from regimen.protocol.catalog import load

    reg = load(regimen_ref, regimen_path)
    forecast = SupplyForecast(load_formulary(formulary_path), regimen_id=reg.id)
    summary = supply_rows(reg, roster, forecast.add, errors_path=errors_path, cycles=parse_cycles(cycles),
                          cycle_length=cycle_length, options=cohort_options_from_context(formulary_path))
    forecast.patients_in, forecast.expanded = summary.patients_in, summary.expanded
    forecast.notes.extend(summary.notes)
    text = {"json": forecast.to_json, "csv": forecast.to_csv}.get(fmt, forecast.to_table)()
    write_output(text, output)
    click.echo(f"{reg.id}: patients in = expanded + rejected: {summary.patients_in:,} = {summary.expanded:,} + "
               f"{summary.rejected:,}" + (f"; rejected rows: {summary.errors_path}" if summary.rejected else ""),
               err=True)


def main() -> None:
    try:
        cli.main(prog_name="regimen")
    except BrokenPipeError:  # e.g. 'regimen expand ... | head'
        sys.stderr.close()
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    main()
