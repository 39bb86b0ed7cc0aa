"""Option definitions shared by several commands, and the names the command line gives library inputs.

Library errors name the input to change with :func:`regimen.errors.option` (``bsa_cap``); :func:`flag`
turns that name into this command line's spelling (``--bsa-cap``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from regimen.errors import RegimenError, as_flag
from regimen.export.io import distinct_files, write_atomic, write_output

if TYPE_CHECKING:  # click loads its completion only when a shell asks for it: so does this module
    from click.shell_completion import CompletionItem

F = TypeVar("F", bound=Callable[..., Any])

#: Where the clinical options (regimen.cli.clinical_options) keep their values in the click context's meta.
META = "regimen.clinical.prepare"


def flag(name: str) -> str:
    """The command-line flag for a library input name: 'bsa_cap' -> '--bsa-cap'."""
    return as_flag(name)


def complete_regimen(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """Shell completion of REGIMEN: the ids 'regimen list' shows (with --regimen-path and $REGIMEN_PATH), or files
    when what is typed looks like a path."""
    from click.shell_completion import CompletionItem

    from regimen.protocol.catalog import looks_like_path, regimen_ids  # lazy: the catalog only for completion

    if looks_like_path(incomplete) or incomplete.startswith("."):
        return [CompletionItem(incomplete, type="file")]
    extra = ctx.params.get("regimen_path") or ()
    return [CompletionItem(i) for i in regimen_ids(extra) if i.startswith(incomplete)]


#: The REGIMEN argument of every command that takes one: an id (completed by the shell) or a .toml path.
regimen_argument = click.argument("regimen_ref", metavar="REGIMEN", shell_complete=complete_regimen)


def regimen_path_option(fn: F) -> F:
    return click.option(
        "--regimen-path",
        "regimen_path",
        multiple=True,
        metavar="DIR",
        type=click.Path(file_okay=False),
        help="Extra folder of regimen files, searched before the bundled ones (repeatable; also $REGIMEN_PATH).",
    )(fn)


def patient_options(fn: F) -> F:
    options = [
        click.option("--weight", metavar="W", help="Body weight: kg, or with a unit ('154 lb', '70 kg')."),
        click.option("--bsa", metavar="A", help="Body-surface area in m² ('1.8', '1.8 m2')."),
        click.option("--age", metavar="Y", help="Age in completed years."),
        click.option(
            "--dob",
            metavar="YYYY-MM-DD",
            help="Date of birth instead of --age (needs --start): rules see the age at each cycle's start.",
        ),
        click.option("--height", metavar="H", help="Height: cm, or with a unit ('5ft9in', '1.75 m')."),
        click.option("--sex", metavar="S", help="female or male."),
    ]
    for opt in reversed(options):
        fn = opt(fn)
    return fn


def _label(param: click.Parameter) -> str:
    if isinstance(param, click.Option):
        return param.opts[0]
    return (param.metavar or param.name or "").upper() or str(param.name).upper()


def _is_file(value: object) -> bool:
    if not isinstance(value, str) or value in ("", "-") or "://" in value:
        return False
    try:
        return os.path.isfile(value)
    except (OSError, ValueError):
        return False


def refuse_overwrite(outputs: Sequence[str], extra: Mapping[str, str | Path | None] | None = None) -> None:
    """Refuse a run whose output (the parameters named ``outputs``, and ``extra``: flag -> path) is one of the files
    it reads (compared by inode, export.io.distinct_files): any other parameter naming an existing file (a roster, a
    formulary, a table), the regimen file a REGIMEN id or path stands for, and the course database file."""
    ctx = click.get_current_context()
    clinical = ctx.meta.get(META, {})
    params = {p.name: p for p in ctx.command.params if p.name}
    chosen = {_label(params[n]): ctx.params.get(n) for n in outputs if n in params}
    inputs: dict[str, str | Path | None] = {}
    for name, param in params.items():
        if name in outputs:
            continue
        value = ctx.params[name] if name in ctx.params else clinical.get(name)
        for item in value if isinstance(value, tuple | list) else (value,):
            if _is_file(item):
                inputs.setdefault(_label(param), item)
    ref = ctx.params.get("regimen_ref")
    if isinstance(ref, str):
        from regimen.protocol.catalog import find  # lazy: the catalog only for the commands that take a REGIMEN

        try:
            inputs["REGIMEN"] = find(ref, ctx.params.get("regimen_path") or ())
        except RegimenError:
            pass  # the command says what is wrong with it
    if "db" in params:
        from regimen.store.db import resolve, shown  # lazy: SQLAlchemy only for the course commands

        try:
            url = resolve(ctx.params.get("db"))
        except RegimenError:
            url = None
        if url is not None and url.get_backend_name() == "sqlite":
            inputs["--db"] = shown(url)
    distinct_files({**chosen, **(extra or {})}, inputs)


def format_for(output: str | None, formats: Sequence[str]) -> str:
    """The format a file name asks for ('plan.json' -> json, 'plan.csv' -> csv); the first format otherwise (a
    text table, for '.txt' or no extension). A file named as another kind of file (:data:`_WRITTEN_ELSEWHERE`:
    'plan.pdf', 'plan.ics') is refused, naming what writes it: the table in a file called plan.pdf is no PDF."""
    suffix = Path(output).suffix.lower().lstrip(".") if output not in (None, "-") else ""
    if suffix == "csv" and "nonmem" in formats and str(output).lower().endswith(".nonmem.csv"):
        return "nonmem"  # plan.nonmem.csv: the event table
    if suffix == "json" and "fhir" in formats and str(output).lower().endswith(".fhir.json"):
        return "fhir"  # plan.fhir.json: a FHIR R4 Bundle
    if suffix in _WRITTEN_ELSEWHERE and suffix not in formats:
        command = click.get_current_context().command_path
        raise click.UsageError(
            f"{output}: '{command}' writes {', '.join(formats[:-1])} or {formats[-1]}, not .{suffix}; "
            f"{_WRITTEN_ELSEWHERE[suffix]}, or name the file for one of these (or give --format)"
        )
    return suffix if suffix in formats else formats[0]


#: Files the commands write only where another command or option makes them: what makes each.
_WRITTEN_ELSEWHERE = {
    "pdf": "a timeline chart is 'regimen plot ... -o FILE.pdf' (or .svg, .png); the printable handout is a page of "
    "'regimen serve'",
    "svg": "a timeline chart is 'regimen plot ... -o FILE.svg' (or .png, .pdf)",
    "png": "a timeline chart is 'regimen plot ... -o FILE.png' (or .svg, .pdf)",
    "ics": "a calendar is --ics FILE ('regimen expand', 'regimen course calendar') or 'regimen due --format ics'",
    "parquet": "Parquet is written by 'regimen cohort ROSTER -o FILE.parquet'",
    "html": "a page of the plan is the web app's ('regimen serve')",
    "xlsx": "spreadsheets read csv",
    "xls": "spreadsheets read csv",
}


def output_options(formats: Sequence[str]) -> Callable[[F], F]:
    """--format and -o; without --format the file's extension chooses it, and every file written is confirmed."""

    def decorate(fn: F) -> F:
        @functools.wraps(fn)
        def run(*args: Any, fmt: str | None = None, output: str | None = None, **kwargs: Any) -> Any:
            refuse_overwrite(["output"])
            chosen = fmt or format_for(output, formats)
            result = fn(*args, fmt=chosen, output=output, **kwargs)
            if output is not None and output != "-":
                click.echo(f"{output}: written ({chosen})", err=True)
            return result

        wrapped = click.option(
            "-o",
            "--output",
            metavar="FILE",
            type=click.Path(dir_okay=False, allow_dash=True),
            help="Write to FILE (atomically) instead of standard output.",
        )(run)
        wrapped = click.option(
            "--format",
            "fmt",
            type=click.Choice(list(formats)),
            default=None,
            help=f"Output format (default: from the -o file's extension, else {formats[0]}).",
        )(wrapped)
        return wrapped  # type: ignore[return-value]

    return decorate


def cycle_options(fn: F) -> F:
    options = [
        click.option(
            "--cycles",
            "cycles",
            multiple=True,
            metavar="N|PHASE=N",
            help="Cycles to expand (default: the regimen's count, or 1 when the source gives none).",
        ),
        click.option(
            "--cycle-length",
            type=click.IntRange(min=1),
            metavar="DAYS",
            help="Cycle length for regimens whose source does not state one.",
        ),
    ]
    for opt in reversed(options):
        fn = opt(fn)
    return fn


def write_regimen_file(data: dict[str, Any], comment: str, output: str | None, where: str) -> None:
    """A regimen file made from ``data`` (checked already) as TOML under a ``# comment`` line: shown, or written
    atomically to ``output``; ``where`` names the input in the error when a value cannot be written as TOML."""
    import tomli_w  # lazy: the TOML writer only for the commands that make regimen files

    refuse_overwrite(["output"])
    try:
        toml = tomli_w.dumps(data)
    except (TypeError, ValueError) as exc:  # a value TOML cannot hold, past every check of the fields
        raise RegimenError(f"{where}: its regimen fields cannot be written as TOML ({exc})") from None
    text = f"# {comment}\n{toml}"
    if output in (None, "-"):
        write_output(text, output)
    else:
        write_atomic(str(output), text)
        click.echo(f"{output}: written (regimen file {data['id']})", err=True)


__all__ = [
    "cycle_options",
    "flag",
    "output_options",
    "patient_options",
    "refuse_overwrite",
    "regimen_path_option",
    "write_regimen_file",
]
