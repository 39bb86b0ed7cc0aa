"""Commands about regimen files: ``list``, ``show``, ``validate``, ``schema`` and ``parse`` (compact notation)."""

from __future__ import annotations

import json

import click

from regimen.cli.app import cli_message
from regimen.cli.options import output_options, regimen_argument, regimen_path_option, write_regimen_file
from regimen.errors import RegimenError, RegimenFileError
from regimen.export.io import write_output
from regimen.export.table import columns
from regimen.model import Regimen
from regimen.protocol.catalog import list_regimens, load
from regimen.protocol.describe import describe
from regimen.protocol.loader import load_data, load_file
from regimen.protocol.schema import schema_json


@click.command("list")
@output_options(["table", "json"])
@regimen_path_option
def list_command(fmt: str, output: str | None, regimen_path: tuple[str, ...]) -> None:
    """List the regimens available: ids, names, indications and sources."""
    regimens, errors = list_regimens(regimen_path)
    for error in errors:
        click.echo(f"skipped: {cli_message(error)}", err=True)
    if fmt == "json":
        data = [
            {
                "id": r.id,
                "name": r.name,
                "indication": r.indication,
                "version": r.version,
                "status": r.status,
                "sources": [str(s) for s in r.sources],
                "file": r.path,
            }
            for r in regimens
        ]
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    else:
        # the first source (the trial or protocol the doses follow); all of them in 'regimen show' and the JSON: a
        # table of every citation ran to thousands of characters a line
        rows = [[r.id, r.name, r.indication or "", _first_source(r)] for r in regimens]
        text = "\n".join(columns(["Id", "Name", "Indication", "Source"], rows)) + "\n"
    write_output(text, output)


def _first_source(r: Regimen) -> str:
    more = len(r.sources) - 1
    first = str(r.sources[0]) if r.sources else ""
    return f"{first} (+{more} more: regimen show {r.id})" if more > 0 else first


@click.command()
@regimen_argument
@click.option(
    "--compact", is_flag=True, help="One line of compact notation instead ('Cisplatin 80 mg/m² IV d1; Q21d x 4')."
)
@regimen_path_option
def show(regimen_ref: str, compact: bool, regimen_path: tuple[str, ...]) -> None:
    """Print REGIMEN in words, as a protocol would (or, with --compact, on one line as 'regimen parse' reads it).

    \b
    Examples:
      regimen show capox
      regimen show capox --compact
    """
    regimen = load(regimen_ref, regimen_path)
    if compact:
        from regimen.interop.compact_out import not_carried, to_compact  # lazy: only this option needs it

        click.echo(to_compact(regimen))
        lost = not_carried(regimen)
        if lost:  # a file parsed from the line would plan without them: said, on stderr (the line stays pipeable)
            click.echo(
                f"note: compact notation does not carry {'; '.join(lost)}: a regimen parsed from this line has none "
                f"of them, so its plans differ wherever they apply",
                err=True,
            )
        return
    click.echo(describe(regimen), nl=False)


@click.command("parse")
@click.argument("notation", metavar="NOTATION")
@click.option("--id", "regimen_id", metavar="ID", help="The regimen id (default: the drug names).")
@click.option("--name", metavar="TEXT", help="The regimen's name (default: the notation).")
@click.option("--cite", metavar="TEXT", help="The published protocol it comes from (default: the notation itself).")
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True), help="Write to FILE.")
def parse_command(
    notation: str, regimen_id: str | None, name: str | None, cite: str | None, output: str | None
) -> None:
    """A regimen file from one line of compact notation (README, "Compact notation"); checked as every regimen
    file is before it is shown or written.

    \b
    Example:
      regimen parse "Etoposide 100 mg/m2 IV d1-3; Cisplatin 80 mg/m2 IV d1; Q21d x 4" -o regimens/ep.toml
    """
    from regimen.interop.compact import parse  # lazy: only this command reads compact notation

    data = parse(notation, regimen_id=regimen_id, name=name, citation=cite)
    load_data(data, "the notation")  # every check of a regimen file, before anything is written
    write_regimen_file(
        data, f"From compact notation by regimen parse: {' '.join(notation.split())}", output, "the notation"
    )


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def validate(files: tuple[str, ...]) -> None:
    """Check regimen FILES; print every problem with file, component and field."""
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
            click.echo(cli_message(exc), err=True)
        else:
            click.echo(f"{file}: ok ({reg.id})")
    if bad:
        raise click.ClickException(f"{bad} of {len(files)} file{'s' if len(files) > 1 else ''} invalid")


@click.command()
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write to FILE instead of standard output.",
)
def schema(output: str | None) -> None:
    """Print the JSON Schema of the regimen file format (for editors)."""
    write_output(schema_json(), output)


__all__ = ["list_command", "parse_command", "schema", "show", "validate"]
