"""Commands about regimen files: ``list``, ``show``, ``validate`` and ``schema``."""

from __future__ import annotations

import json

import click

from regimen.cli.app import cli_message
from regimen.cli.options import output_options, regimen_argument, regimen_path_option
from regimen.errors import RegimenError, RegimenFileError
from regimen.export.io import write_output
from regimen.export.table import columns
from regimen.protocol.catalog import list_regimens, load
from regimen.protocol.describe import describe
from regimen.protocol.loader import load_file
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
        rows = [[r.id, r.name, r.indication or "", r.citation] for r in regimens]
        text = "\n".join(columns(["Id", "Name", "Indication", "Source"], rows)) + "\n"
    write_output(text, output)


@click.command()
@regimen_argument
@regimen_path_option
def show(regimen_ref: str, regimen_path: tuple[str, ...]) -> None:
    """Print REGIMEN in words, as a protocol would."""
    click.echo(describe(load(regimen_ref, regimen_path)), nl=False)


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


__all__ = ["list_command", "schema", "show", "validate"]
