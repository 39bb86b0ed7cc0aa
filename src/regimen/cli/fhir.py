"""``regimen export-definition`` and ``regimen import-definition``: a regimen as a FHIR R4 PlanDefinition, and back."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import click

from regimen.cli.options import refuse_overwrite, regimen_argument, regimen_path_option, write_regimen_file
from regimen.errors import RegimenError
from regimen.export.fhir import plan_definition_json
from regimen.export.io import write_output
from regimen.interop.fhir import check_definition, regimen_data, written_by_regimen
from regimen.interop.nzsact import is_nz_sact, regimen_from_nz
from regimen.protocol.catalog import find, load
from regimen.protocol.loader import load_data
from regimen.quantities.limits import MAX_FILE_BYTES


@click.command("export-definition")
@regimen_argument
@click.option("--format", "fmt", type=click.Choice(["fhir"]), default="fhir", show_default=True, help="The format.")
@click.option("-o", "--output", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True), help="Write to FILE.")
@regimen_path_option
def export_definition(regimen_ref: str, fmt: str, output: str | None, regimen_path: tuple[str, ...]) -> None:
    """REGIMEN as a FHIR R4 PlanDefinition with contained ActivityDefinitions (JSON).

    \b
    Example:
      regimen export-definition capox -o capox.plandefinition.json
    """
    refuse_overwrite(["output"])
    regimen = load(regimen_ref, regimen_path)
    data = tomllib.loads(Path(find(regimen_ref, regimen_path)).read_text(encoding="utf-8"))
    write_output(plan_definition_json(regimen, data), output)
    if output not in (None, "-"):
        click.echo(f"{output}: written ({fmt} PlanDefinition)", err=True)


@click.command("import-definition")
@click.argument("source", metavar="FILE", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "-o", "--output", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True), help="The regimen file."
)
def import_definition(source: str, output: str | None) -> None:
    """A regimen file from a FHIR R4 PlanDefinition: one written by 'regimen export-definition' (refused if its
    standard elements were edited without its regimen fields), or one in the HL7 NZ Cancer Control Agency SACT IG's
    shape (its identifiers and citations kept, what the file cannot hold listed in its notes, and everything it cannot
    read refused, one line each). Checked as the file would be before it is written.

    \b
    Examples:
      regimen import-definition capox.plandefinition.json -o regimens/capox-copy.toml
      regimen import-definition 60071000210106.json -o regimens/nz-gyn-end-adjuvant.toml
    """
    refuse_overwrite(["output"])
    path = Path(source)
    with path.open("rb") as f:  # at most the limit and one byte: a device or a file that grows is never read whole
        raw = f.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise RegimenError(f"{source}: larger than {MAX_FILE_BYTES:,} bytes; a PlanDefinition of a regimen is a few KB")
    try:
        resource = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise RegimenError(f"{source}: not UTF-8 text, so not a FHIR JSON file") from None
    except RecursionError:
        raise RegimenError(f"{source}: nested too deeply to be a FHIR PlanDefinition") from None
    except ValueError as exc:
        raise RegimenError(f"{source}: not JSON ({exc})") from None
    if (
        isinstance(resource, dict)
        and resource.get("resourceType") == "PlanDefinition"
        and not written_by_regimen(resource)
        and is_nz_sact(resource)
    ):
        data = regimen_from_nz(resource, source)  # refuses, one line for each thing it cannot read
        load_data(data, source)  # every check of a regimen file, before anything is written
        origin = "a FHIR R4 PlanDefinition in the HL7 NZ SACT IG's shape"
    else:
        try:
            data = regimen_data(resource)
        except (ValueError, RecursionError) as exc:
            why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise RegimenError(f"{source}: not a PlanDefinition regimen can read: {why}") from None
        regimen = load_data(data, source)  # every check of a regimen file, before anything is written
        try:
            check_definition(resource, regimen, data)
        except RecursionError:
            raise RegimenError(f"{source}: nested too deeply to be a FHIR PlanDefinition") from None
        except ValueError as exc:
            raise RegimenError(f"{source}: {exc}") from None
        origin = "a FHIR R4 PlanDefinition"
    write_regimen_file(data, f"Imported from {path.name} ({origin}) by regimen import-definition.", output, source)


__all__ = ["export_definition", "import_definition"]
