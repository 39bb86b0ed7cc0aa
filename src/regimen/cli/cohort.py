"""Commands over a roster of patients: ``cohort`` (every dose for every patient) and ``supply`` (vials)."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from regimen.cli.clinical_options import cohort_clinical_options, cohort_options_from_context
from regimen.cli.options import (
    complete_regimen,
    cycle_options,
    flag,
    output_options,
    refuse_overwrite,
    regimen_argument,
    regimen_path_option,
)
from regimen.cli.terminal import warn
from regimen.clinical.choices import parse_cycles
from regimen.clinical.formulary import load_formulary
from regimen.engine.cohort import DaskEngine, PandasEngine, run
from regimen.engine.rows import exact_text
from regimen.engine.supply import SupplyForecast
from regimen.errors import RegimenError
from regimen.export.frames import CohortFiles, errors_path_for, write_cohort, write_errors
from regimen.export.io import stale_temporaries, write_output
from regimen.export.supply import forecast_csv, forecast_json, forecast_table
from regimen.protocol.catalog import load

F = TypeVar("F", bound=Callable[..., Any])
#: Patients per chunk of the pandas engine; a run longer than one chunk shows a progress bar on a terminal.
CHUNK_SIZE = PandasEngine().chunk_size


class ProgressBar:
    """A run's ``progress(done, total)`` drawn as click's progress bar on stderr: when ``show``, or by default on
    a terminal for a run longer than one chunk."""

    def __init__(self, label: str, show: bool | None) -> None:
        self.label = label
        self.show = show
        self._bar: Any = None
        self._decided = False

    def __call__(self, done: int, total: int) -> None:
        if not self._decided:
            self._decided = True
            show = self.show if self.show is not None else sys.stderr.isatty() and total > CHUNK_SIZE
            if show:
                self._bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
        if self._bar is not None:
            self._bar.update(done - self._bar.pos)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.render_finish()


def summary_lines(regimen_id: str, files: CohortFiles, output: str) -> list[str]:
    """The run's notes, its counts, and where its rejected rows are."""
    out = [*files.run.notes, f"{regimen_id}: {files.run.summary()}; {files.rows:,} rows written to {output}"]
    if files.rejected:
        out.append(f"rejected rows and their problems: {files.errors_path}")
    if files.run.warned:  # as 'regimen expand' says so whatever the format: the warnings are in the output's rows
        out.append(
            f"warning: {files.run.warned:,} patients' plans carry warnings (column plan_warnings of their rows), "
            f"first {files.run.first_warning}"
        )
    return out


def cohort_options(fn: F) -> F:
    fn = click.option(
        "--errors",
        "errors_path",
        metavar="FILE",
        type=click.Path(dir_okay=False),
        help="Where to write rejected roster rows (default: beside the output, STEM.errors.csv).",
    )(fn)
    return cycle_options(fn)


def _clear_stale(*outputs: str | Path) -> None:
    """Remove, and name, the temporary files that an earlier run of these outputs left when it was killed."""
    for output in outputs:
        removed, kept = stale_temporaries(output)
        if removed:
            names = ", ".join(p.name for p in removed)
            click.echo(
                f"removed {len(removed)} temporary file(s) left by an earlier run that was stopped: {names}", err=True
            )
        if kept:
            names = ", ".join(str(p) for p in kept)
            click.echo(
                f"note: temporary file(s) of {output} that may belong to a running process were left: {names}", err=True
            )


@click.command()
@regimen_argument
@click.argument("roster", metavar="ROSTER", type=click.Path(exists=True, allow_dash=True))
@click.option(
    "-o",
    "--output",
    metavar="OUT",
    required=True,
    type=click.Path(),
    help="Output file, .csv or .parquet (a folder with --engine dask).",
)
@cohort_options
@cohort_clinical_options()
@click.option(
    "--engine",
    type=click.Choice(["pandas", "dask"]),
    default="pandas",
    show_default=True,
    help="dask: ROSTER and OUT are folders of Parquet files; one task per row group.",
)
@click.option(
    "--allow-rejected",
    is_flag=True,
    help="Exit 0 even when rows were rejected (by default such a run exits 3: output written, rows rejected).",
)
@click.option(
    "--scheduler", metavar="ADDRESS", help="With --engine dask: a Dask scheduler address (default: local threads)."
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal, for long runs).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["rows", "nonmem"]),
    default=None,
    help="rows: one row per drug per treatment day (default); nonmem: a NONMEM-style event table, its units and "
    "assumptions in OUT.txt (default for OUT ending .nonmem.csv).",
)
@regimen_path_option
def cohort(
    regimen_ref: str,
    roster: str,
    output: str,
    cycles: tuple[str, ...],
    cycle_length: int | None,
    errors_path: str | None,
    engine: str,
    scheduler: str | None,
    progress: bool | None,
    regimen_path: tuple[str, ...],
    allow_rejected: bool,
    fmt: str | None,
) -> None:
    """Expand REGIMEN for every patient of ROSTER (CSV or Parquet; - reads CSV from standard input) into OUT.

    Roster columns: patient_id, and those the regimen needs of weight_kg, bsa_m2 (or height_cm), age, sex;
    start_date (YYYY-MM-DD) adds dates. Rows that cannot be used go to the errors file, never dropped silently.

    \b
    Example:
      regimen cohort cenersen-arm3 roster.csv -o plan.csv
    """

    errors_default = errors_path or errors_path_for(output, folder=engine == "dask")
    refuse_overwrite(["output", "errors_path"], {"--errors": errors_default})
    _clear_stale(output, errors_default)
    reg = load(regimen_ref, regimen_path)
    if (fmt or ("nonmem" if output.lower().endswith(".nonmem.csv") else "rows")) == "nonmem":
        if engine == "dask":
            raise RegimenError(f"--format nonmem: not with --engine dask; write {output} with the pandas engine")
        from regimen.export.events import write_cohort_events  # lazy: only for this format

        where = errors_path or errors_path_for(output)
        summary, records = write_cohort_events(
            reg,
            roster,
            output,
            cohort_options_from_context(),
            errors_path=where,
            cycles=parse_cycles(cycles),
            cycle_length=cycle_length,
            name=flag,
        )
        click.echo(f"{reg.id}: {summary.summary()}; {records:,} dosing records written to {output}", err=True)
        click.echo(f"{output}.txt: written (the event table's units and assumptions)", err=True)
        if summary.rejected:
            click.echo(f"rejected rows and their problems: {where}", err=True)
            if not allow_rejected:
                click.get_current_context().exit(3)
        return
    chosen = DaskEngine(client=scheduler) if engine == "dask" else PandasEngine(chunk_size=CHUNK_SIZE)
    bar = ProgressBar(f"Expanding {reg.id}", progress)
    try:
        files = write_cohort(
            reg,
            roster,
            output,
            cohort_options_from_context(),
            errors_path=errors_path,
            cycles=parse_cycles(cycles),
            cycle_length=cycle_length,
            engine=chosen,
            progress=bar,
            name=flag,
        )
    finally:
        bar.finish()
    for line in summary_lines(reg.id, files, output):
        if line.startswith("warning: "):
            warn(line)
        else:
            click.echo(line, err=True)
    if files.rejected and not allow_rejected:  # the output is complete for the others; the run says it is partial
        click.get_current_context().exit(3)


@click.command()
@click.argument("regimen_ref", metavar="[REGIMEN ROSTER]", required=False, shell_complete=complete_regimen)
@click.argument("roster", metavar="", required=False, type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--due",
    "from_worklist",
    is_flag=True,
    help="Instead of REGIMEN and ROSTER: the administrations due across the active treatment courses "
    "('regimen due'), from --from for --days.",
)
@click.option(
    "--from", "first", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD", help="With --due: first day."
)
@click.option("--days", type=click.IntRange(min=1, max=366), default=1, show_default=True, help="With --due: days.")
@click.option("--db", metavar="FILE|URL", help="With --due: the course database (as for 'regimen course').")
@click.option(
    "--formulary",
    "formulary_path",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Vial sizes per drug (TOML), also for --vial-round and --band. Default: the shipped EXAMPLE "
    "formulary (not for rounding).",
)
@cohort_options
@cohort_clinical_options(formulary=False)
@output_options(["table", "csv", "json"])
@regimen_path_option
def supply(
    regimen_ref: str | None,
    roster: str | None,
    from_worklist: bool,
    first: dt.datetime | None,
    days: int,
    db: str | None,
    formulary_path: str | None,
    cycles: tuple[str, ...],
    cycle_length: int | None,
    errors_path: str | None,
    fmt: str,
    output: str | None,
    regimen_path: tuple[str, ...],
) -> None:
    """Drug supply for REGIMEN over ROSTER: amounts and single-use vials per drug, by cycle and ISO week.

    \b
    Or, with --due, for what the active treatment courses have due (the pharmacy's compounding for tomorrow).

    \b
    Example:
      regimen supply cenersen-arm3 roster.csv --formulary pharmacy.toml
      regimen supply --due --from 2026-12-02 --formulary pharmacy.toml
    """
    if from_worklist:
        if regimen_ref is not None or roster is not None:
            raise click.UsageError("--due reads the course database: give no REGIMEN or ROSTER with it")
        forecast = worklist_forecast(first, days, db, formulary_path)
        text = {"json": forecast_json, "csv": forecast_csv}.get(fmt, forecast_table)(forecast)
        write_output(text, output)
        click.echo(f"worklist: {forecast.notes[-1]}", err=True)
        return
    if regimen_ref is None or roster is None:
        raise click.UsageError("give REGIMEN and ROSTER (or --due, for the treatment courses' worklist)")
    if first is not None or db is not None:
        raise click.UsageError("--from and --db go with --due")

    # beside the roster; for a roster from standard input ('-'), stdin.errors.csv in the current folder
    where = errors_path if errors_path is not None else errors_path_for("stdin.csv" if roster == "-" else roster)
    refuse_overwrite(["output", "errors_path"], {"--errors": where})
    reg = load(regimen_ref, regimen_path)
    forecast = SupplyForecast(load_formulary(formulary_path), regimen_id=reg.id)
    summary = run(
        reg,
        roster,
        forecast,
        cohort_options_from_context(formulary_path),
        cycles=parse_cycles(cycles),
        cycle_length=cycle_length,
        engine=PandasEngine(chunk_size=CHUNK_SIZE),
        name=flag,
    )
    if summary.rejected:  # supply writes no file beside its errors: an earlier errors file is never touched needlessly
        write_errors(summary.errors, where)
    forecast.patients_in, forecast.expanded = summary.patients_in, summary.expanded
    forecast.notes.extend(summary.notes)
    text = {"json": forecast_json, "csv": forecast_csv}.get(fmt, forecast_table)(forecast)
    write_output(text, output)
    click.echo(f"{reg.id}: {summary.summary()}" + (f"; rejected rows: {where}" if summary.rejected else ""), err=True)


def worklist_forecast(first: dt.datetime | None, days: int, db: str | None, formulary: str | None) -> SupplyForecast:
    """The supply for the administrations due across the active courses (as 'regimen due' lists them)."""
    import pandas as pd

    from regimen.cli.database import due_span, open_store  # lazy: the database layer only for --due

    day1, last = due_span(first, days)
    rows = open_store(db, write=False, refresh=True).due(day1, last)
    forecast = SupplyForecast(load_formulary(formulary), regimen_id="worklist")
    frame = pd.DataFrame(
        {
            # each course's cycles are its own, never summed with another course's cycle 1: the forecast labels a
            # phase other than 'main' by its name, so these read 'course bed4, cycle 1' (or '..., maintenance cycle 1')
            "phase": [f"course {r.course_id}," + ("" if r.phase == "main" else f" {r.phase}") for r in rows],
            "cycle": [r.cycle for r in rows],
            "drug": [r.drug for r in rows],
            "dose_unit": [r.unit for r in rows],
            "dose_exact": [exact_text(r.dose) for r in rows],
            "method": [r.method for r in rows],
            "date": pd.to_datetime(pd.Series([r.date for r in rows], dtype=object)),
        }
    )
    forecast.add(frame)
    # a course is one patient's, none is rejected: patients in = expanded = the courses with something due
    forecast.patients_in = forecast.expanded = len({r.course_id for r in rows})
    span = day1.isoformat() if days == 1 else f"{day1.isoformat()} to {last.isoformat()}"
    forecast.notes.append(
        f"the {len(rows):,} administration(s) due {span} across {forecast.expanded:,} active treatment course(s) "
        "('regimen due'), each course's cycles apart"
    )
    return forecast


__all__ = ["cohort", "supply", "worklist_forecast"]
