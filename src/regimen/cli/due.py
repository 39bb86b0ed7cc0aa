"""``regimen due``: the worklist, every administration due across all active courses (a unit's day)."""

from __future__ import annotations

import datetime as dt

import click

from regimen.cli.database import MAX_DUE_DAYS, db_option, due_rows, due_span, open_store
from regimen.cli.options import output_options
from regimen.export import worklist as out
from regimen.export.io import write_output


@click.command()
@click.option(
    "--from",
    "first",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="First day (default: today).",
)
@click.option("--days", type=click.IntRange(min=1, max=MAX_DUE_DAYS), default=1, show_default=True, help="Days.")
@output_options(["table", "csv", "json", "ics"])
@db_option
def due(first: dt.datetime | None, days: int, fmt: str, output: str | None, db: str | None) -> None:
    """Every administration due across all active courses: course, drug, dose, time, route, preparation.

    \b
    Example:
      regimen due --from 2026-12-01 --days 2
      regimen due --from 2026-12-01 -o tomorrow.csv
    """
    day1, last = due_span(first, days)
    if fmt == "ics":
        from regimen.export.ics import dtstamp_from_env  # lazy: only this format needs it
        from regimen.export.io import write_atomic  # lazy: only this format needs it

        store = open_store(db, write=False, refresh=True)  # the course book: each event's SEQUENCE (see due_ics)
        rows = store.due(day1, last)
        revisions = {c.course_id: c.changes for c in store.courses()}
        data = out.due_ics(rows, dtstamp_from_env(), revisions)
        if output in (None, "-"):
            click.echo(data.decode("utf-8"), nl=False)
        else:
            write_atomic(output, data)
        return
    rows = due_rows(db, day1, last)  # the store alone: the plan engine only for a stale course
    if fmt == "csv":
        text = out.due_csv(rows)
    elif fmt == "json":
        text = out.due_json(rows, day1, last)
    else:
        text = out.due_text(rows, day1, last)
    write_output(text, output)


__all__ = ["due"]
