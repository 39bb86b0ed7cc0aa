"""The documentation: every command and option explains itself, and the site builds with every command in its reference.

The CLI reference page is rendered from ``--help`` by docs/hooks/cli_reference.py; these tests walk the CLI on
their own (``list_commands``/``get_command``, so lazily loaded commands count too) and check the result.
"""

from __future__ import annotations

import html
import importlib.util
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import click
import pytest
from tests.conftest import ROOT

from regimen.cli import cli


def walk(
    command: click.Command, path: tuple[str, ...] = ("regimen",), parent: click.Context | None = None
) -> Iterator[tuple[str, click.Command, click.Context]]:
    """Every visible command under ``command`` (itself first) with its full name and a context."""
    ctx = click.Context(command, info_name=path[-1], parent=parent, **command.context_settings)
    yield " ".join(path), command, ctx
    if isinstance(command, click.Group):
        names = command.list_commands(ctx)
        assert names, f"group '{' '.join(path)}' lists no commands"
        for name in names:
            sub = command.get_command(ctx, name)
            assert sub is not None, f"'{' '.join(path)}' lists '{name}' but cannot load it"
            if not sub.hidden:
                yield from walk(sub, (*path, name), ctx)


COMMANDS = list(walk(cli))


def options(command: click.Command, ctx: click.Context) -> list[click.Option]:
    return [p for p in command.get_params(ctx) if isinstance(p, click.Option) and not p.hidden]


def load_hook(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_hook_{name}", ROOT / "docs" / "hooks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def page_text(path: Path) -> str:
    """The text of an HTML page as a reader sees it: tags removed, entities decoded, runs of spaces as one."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8"))).split())


def test_the_cli_has_the_documented_commands() -> None:
    names = {name for name, _, _ in COMMANDS}
    assert {"regimen expand", "regimen list", "regimen show", "regimen validate", "regimen schema"} <= names


def test_every_command_has_help() -> None:
    missing = [name for name, command, _ in COMMANDS if not (command.help or command.short_help or "").strip()]
    assert missing == [], f"commands without help text (write a docstring or help=): {missing}"


def test_every_option_has_help() -> None:
    missing = [
        f"{name} {'/'.join(option.opts)}"
        for name, command, ctx in COMMANDS
        for option in options(command, ctx)
        if not (option.help or "").strip()
    ]
    assert missing == [], f"options without help= text: {missing}"


def test_cli_reference_renders_every_command_and_option() -> None:
    markdown = load_hook("cli_reference").on_page_markdown("# CLI\n\n<!-- cli-reference -->\n")
    for name, command, ctx in COMMANDS:
        assert f" {name}\n" in markdown, f"no section for '{name}'"
        assert f"Usage: {name} " in markdown
        for option in options(command, ctx):
            for opt in option.opts:
                assert opt in markdown, f"'{name}' option {opt} missing from the reference"


@pytest.mark.slow
def test_site_builds_strict_with_every_command_in_the_cli_reference(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(ROOT / "mkdocs.yml"),
            "--site-dir",
            str(site),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    reference = site / "cli" / "index.html"
    text = page_text(reference)
    source = reference.read_text(encoding="utf-8")
    for name, command, ctx in COMMANDS:
        assert f'id="{name.replace(" ", "-")}"' in source, f"no heading for '{name}' in the CLI reference"
        assert f"Usage: {name} " in text, f"no help text for '{name}' in the CLI reference"
        for option in options(command, ctx):
            assert option.opts[-1] in text, f"'{name}' option {option.opts[-1]} missing from the CLI reference"
    # The README sections the pages include were found and rendered.
    assert "Adding a regimen" in page_text(site / "regimen-files" / "index.html")
    assert "verify every dose against the protocol" in page_text(site / "index.html").lower()


def test_the_readme_shows_the_plan_its_first_command_prints() -> None:
    """The README's first command is the users' own (no --age); the plan shown under it is what it prints now."""
    from click.testing import CliRunner

    from regimen.cli import cli

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    assert "regimen expand cenersen-arm3 --weight 70 --bsa 1.8\n" in readme
    result = CliRunner().invoke(cli, ["expand", "cenersen-arm3", "--weight", "70", "--bsa", "1.8"])
    assert result.exit_code == 0, result.output
    assert "```\n" + result.stdout.rstrip("\n") + "\n```" in readme
