"""The ``regimen`` command: a thin layer over the library.

Commands live one module per group of commands and are imported only when used (:class:`RegimenGroup`
maps each name to ``module:function``), so ``regimen expand`` loads nothing that ``cohort`` needs.
Every :class:`~regimen.errors.RegimenError` becomes one line on stderr, with the inputs it names shown as
this command line's flags, and exit code 1; click's usage errors exit 2. Outputs go to a temporary file
and are renamed into place, so a failed run never leaves a partial file or clobbers an existing one.
"""

from __future__ import annotations

import importlib
import signal
import sys
from pathlib import Path
from typing import Any

import click

from regimen.cli.options import flag
from regimen.errors import RegimenError
from regimen.export.io import remove_pending, written_whole

#: Every command: name -> "module:function" (the function is a click command). The one lazy-import place
#: of the command line.
COMMANDS = {
    "expand": "regimen.cli.expand:expand",
    "list": "regimen.cli.regimens:list_command",
    "show": "regimen.cli.regimens:show",
    "validate": "regimen.cli.regimens:validate",
    "schema": "regimen.cli.regimens:schema",
    "parse": "regimen.cli.regimens:parse_command",
    "cohort": "regimen.cli.cohort:cohort",
    "supply": "regimen.cli.cohort:supply",
    "course": "regimen.cli.course_check:course",  # the group, with 'check' and 'requirement' added (issue 27)
    "due": "regimen.cli.due:due",
    "export-definition": "regimen.cli.fhir:export_definition",
    "import-definition": "regimen.cli.fhir:import_definition",
    "serve": "regimen.cli.web:serve",
    "plot": "regimen.cli.web:plot",
    "verify": "regimen.cli.verify:verify_command",
    "check": "regimen.cli.check:check",
    "users": "regimen.cli.users:users",
    "login": "regimen.cli.users:login",
    "logout": "regimen.cli.users:logout",
}


def cli_message(exc: RegimenError) -> str:
    """A library error as this command line words it: inputs named as flags."""
    return exc.render(flag)


class RegimenGroup(click.Group):
    """Loads commands on demand and turns library errors into clean one-line messages (no traceback)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*COMMANDS, *super().list_commands(ctx)]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module, _, name = target.partition(":")
        command = getattr(importlib.import_module(module), name)
        assert isinstance(command, click.Command)
        return command

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
            raise click.ClickException(cli_message(exc)) from None


@click.group(cls=RegimenGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="regimen-schedules", prog_name="regimen")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Turn cited oncology protocols into exact, per-patient administration schedules.

    Research software: verify every dose against the protocol before use.

    \b
    Exit codes: 0 done; 1 a problem with what was given (one line on stderr says what and how to fix it);
    2 a command-line usage error; 3 a cohort written with some roster rows rejected (see its errors file).
    """
    if ctx.invoked_subcommand is None:  # bare 'regimen': the help, not an error
        click.echo(ctx.get_help())


class Stopped(BaseException):
    """SIGTERM (a scheduler stopping the job, 'kill'): raised in the main thread so that every output being
    written unwinds through its atomic target and its temporary file is removed, as for Ctrl-C."""


def _stop(signum: int, _frame: object) -> None:
    raise Stopped(signum)


def stopped_message(written: tuple[Path, ...]) -> str:
    """What a run stopped by SIGTERM says: no output, or the outputs it had put in place whole before the signal
    (a signal can come after a file is renamed into place and before the process ends)."""
    if not written:
        return "Stopped (SIGTERM): no output was written; temporary files were removed."
    names = ", ".join(str(p) for p in written)
    return f"Stopped (SIGTERM) after writing {names} whole; nothing else was written; temporary files were removed."


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    try:
        cli.main(prog_name="regimen")
    except Stopped:
        remove_pending()  # whatever was being written, wherever the signal came
        click.echo(stopped_message(written_whole()), err=True)
        sys.exit(128 + signal.SIGTERM)
    except BrokenPipeError:  # e.g. 'regimen expand ... | head'
        sys.stderr.close()
        sys.exit(1)


__all__ = ["COMMANDS", "cli", "cli_message", "main", "stopped_message"]
