"""``regimen verify``: a prescriber's orders checked against the protocol for one patient."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from pathlib import Path

import click

from regimen.cli.clinical_options import clinical_options, options_from_context
from regimen.cli.options import (
    cycle_options,
    flag,
    output_options,
    patient_options,
    regimen_argument,
    regimen_path_option,
)
from regimen.cli.terminal import show
from regimen.clinical.choices import parse_cycles
from regimen.clinical.patient import make_patient
from regimen.engine.expand import expand as expand_plan
from regimen.engine.orders import SPELLING, Order, OrderError, orders_from_texts, read_orders_file
from regimen.engine.verify import Verification, parse_tolerance, verify
from regimen.errors import RegimenError, option, render
from regimen.export.io import write_output
from regimen.export.verification import verification_csv, verification_json, verification_table
from regimen.protocol.catalog import load

MAX_FILE = 5_000_000  # bytes of an orders file


@click.command()
@regimen_argument
@patient_options
@click.option(
    "--order",
    "order_texts",
    multiple=True,
    metavar="ORDER",
    help=f"An ordered dose: {SPELLING}, or @c2d1 for day 1 of cycle 2 (repeatable). DRUG is a drug or a component "
    "id (fluorouracil-pump); DOSE in mg, g, mcg, or per m² or kg.",
)
@click.option(
    "--orders",
    "orders_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Orders from a file: a CSV (columns drug, dose, unit, cycle, day, rate, rate_unit, duration, route, "
    "method) or a FHIR R4 Bundle of MedicationRequests (JSON).",
)
@click.option(
    "--cycle",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="The cycle of the orders that give none.",
)
@click.option(
    "--tolerance",
    "tolerances",
    multiple=True,
    metavar="PCT|DRUG=PCT",
    help="Largest accepted difference from the protocol's dose: 5% for every drug (the default: a unit policy "
    "narrower than NHS dose banding's 6% and HOPA rounding's 10%), carboplatin=10% for one (repeatable).",
)
@click.option(
    "--start",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="Date of day 1 of cycle 1: places orders that give a date instead of a day.",
)
@cycle_options
@clinical_options
@output_options(["table", "csv", "json"])
@regimen_path_option
def verify_command(
    regimen_ref: str,
    weight: str | None,
    bsa: str | None,
    age: str | None,
    dob: str | None,
    height: str | None,
    sex: str | None,
    order_texts: tuple[str, ...],
    orders_file: str | None,
    cycle: int,
    tolerances: tuple[str, ...],
    start: dt.datetime | None,
    cycles: tuple[str, ...],
    cycle_length: int | None,
    fmt: str,
    output: str | None,
    regimen_path: tuple[str, ...],
) -> int:
    """Check ordered doses against REGIMEN for one patient: each order's difference from the protocol's dose,
    in mg and %, against the tolerance, and what the orders lack. Exit status 1 when any order is outside the
    tolerance, cannot be checked, or lacks a day or a rate, or a drug of the protocol is not ordered.

    \b
    Example:
      regimen verify mfolfox6 --bsa 1.8 --order "oxaliplatin@1=153mg over 2h" \\
        --order "leucovorin@1=720mg over 2h" --order "fluorouracil-bolus@1=720mg" \\
        --order "fluorouracil-pump@1=4320mg over 46h"
      regimen verify mfolfox6 --bsa 1.8 --orders cycle1.fhir.json
    """
    orders: list[Order] = orders_from_texts(order_texts, "--order")
    notes: list[str] = []
    if orders_file is not None:
        read, notes = read_orders_file(_read(orders_file), Path(orders_file).name if orders_file != "-" else "-")
        orders += read
    if not orders:
        raise RegimenError(f"no order to check: give {option('order')} DRUG=DOSE or {option('orders')} FILE")
    tolerance = parse_tolerance(tolerances)
    reg = load(regimen_ref, regimen_path)
    clinical, renal = options_from_context()
    patient = make_patient(weight=weight, bsa=bsa, age=age, height=height, sex=sex, dob=dob, **renal)
    wanted = parse_cycles(cycles)
    if wanted is None and not reg.phased:  # as many cycles as the orders reach, no more
        wanted = max([cycle, *(o.cycle for o in orders if o.cycle is not None)])
    plan = expand_plan(
        reg,
        patient,
        start=start.date() if start else None,
        cycles=wanted,
        cycle_length=cycle_length,
        options=clinical,
    )
    result = verify(plan, orders, tolerance, cycle=cycle, notes=notes)
    write_verification(result, fmt, output)
    return 0 if result.ok else 1


def _read(path: str) -> bytes:
    if path == "-":
        data = sys.stdin.buffer.read(MAX_FILE + 1)
        if len(data) > MAX_FILE:
            raise OrderError(f"standard input: larger than {MAX_FILE:,} bytes; check one cycle's orders at a time")
        return data
    try:
        if Path(path).stat().st_size > MAX_FILE:
            raise OrderError(f"{path}: larger than {MAX_FILE:,} bytes; check one cycle's orders at a time")
        return Path(path).read_bytes()
    except OSError as exc:
        raise OrderError(f"{option('orders')} {path}: cannot read it ({exc.strerror})") from None


def write_verification(result: Verification, fmt: str, output: str | None) -> None:
    result = _flagged(result)
    if fmt == "table" and output in (None, "-") and show(lambda width, mark: verification_table(result)):
        return
    written = {"json": verification_json, "csv": verification_csv}.get(fmt, verification_table)
    write_output(written(result), output)


def _flagged(result: Verification) -> Verification:
    """The checks' problems and notes with each input they name ('give --start', 'give --sex') as this command's
    option, before any format is written (the library marks them; a JSON string would escape the mark)."""
    checks = tuple(
        dataclasses.replace(
            c, problems=tuple(render(p, flag) for p in c.problems), notes=tuple(render(n, flag) for n in c.notes)
        )
        for c in result.checks
    )
    return dataclasses.replace(result, checks=checks)


__all__ = ["verify_command", "write_verification"]
