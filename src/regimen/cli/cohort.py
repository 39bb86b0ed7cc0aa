"""Commands over a roster of patients: ``cohort`` (every dose for every patient) and ``supply`` (vials)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from regimen.cli.clinical_options import cohort_clinical_options, cohort_options_from_context
from regimen.cli.options import cycle_options, flag, output_options, parse_cycles, regimen_path_option
from regimen.clinical.formulary import load_formulary
from regimen.clinical.prepare import ClinicalOptions
from regimen.engine.cohort import run_cohort_file, supply_rows
from regimen.engine.dask_backend import run_dask
from regimen.engine.supply import SupplyForecast
from regimen.errors import RegimenError
from regimen.export.io import write_output
from regimen.protocol.catalog import load

F = TypeVar("F", bound=Callable[..., Any])


def cohort_options(fn: F) -> F:
    fn = click.option("--errors", "errors_path", metavar="FILE", type=click.Path(dir_okay=False),
                      help="Where to write rejected roster rows (default: beside the output, STEM.errors.csv).")(fn)
    return cycle_options(fn)


@click.command()
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

    reg = load(regimen_ref, regimen_path)
    clinical = cohort_options_from_context()
    if engine == "dask":

        bsa_formula = clinical.bsa_formula if clinical is not None else None
        if clinical is not None and clinical != ClinicalOptions(bsa_formula=clinical.bsa_formula):
            raise RegimenError("--engine dask takes --bsa-formula only of the clinical options: run the other "
                               "options with --engine pandas")
        summary = run_dask(reg, roster, output, errors_path=errors_path, bsa_formula=bsa_formula,
                           cycles=parse_cycles(cycles), cycle_length=cycle_length, client=scheduler)
    else:

        summary = run_cohort_file(reg, roster, output, errors_path=errors_path, cycles=parse_cycles(cycles),
                                  cycle_length=cycle_length, progress=progress, options=clinical,
                                  option_name=flag)
    for line in summary.lines(reg.id, output):
        click.echo(line, err=True)


@click.command()
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

    reg = load(regimen_ref, regimen_path)
    forecast = SupplyForecast(load_formulary(formulary_path), regimen_id=reg.id)
    summary = supply_rows(reg, roster, forecast.add, errors_path=errors_path, cycles=parse_cycles(cycles),
                          cycle_length=cycle_length, options=cohort_options_from_context(formulary_path),
                          option_name=flag)
    forecast.patients_in, forecast.expanded = summary.patients_in, summary.expanded
    forecast.notes.extend(summary.notes)
    text = {"json": forecast.to_json, "csv": forecast.to_csv}.get(fmt, forecast.to_table)()
    write_output(text, output)
    click.echo(f"{reg.id}: patients in = expanded + rejected: {summary.patients_in:,} = {summary.expanded:,} + "
               f"{summary.rejected:,}" + (f"; rejected rows: {summary.errors_path}" if summary.rejected else ""),
               err=True)


__all__ = ["cohort", "supply"]
