"""MkDocs hook: the CLI reference, rendered from the commands' own ``--help`` when the site is built.

A page that holds the line ``<!-- cli-reference -->`` gets, in its place, the help text of ``regimen`` and of
every command under it, nested groups included, exactly as ``regimen ... --help`` prints it. The reference
is never written by hand, so it cannot drift from the code.

Commands are found through ``list_commands(ctx)`` and ``get_command(ctx, name)``, which work for groups that
load their commands lazily (``group.commands`` would miss those).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import click

MARKER = "<!-- cli-reference -->"
WIDTH = 80  # columns of the rendered help, as in a standard terminal; fits a code block of the theme


def walk(
    command: click.Command, path: tuple[str, ...], parent: click.Context | None = None
) -> Iterator[tuple[tuple[str, ...], click.Context]]:
    """``command`` and then every command under it, depth first, in the order of its help: names and context."""
    # make_context applies the command's context_settings (e.g. -h as a help option) as a real run would;
    # resilient parsing, because no arguments are given.
    ctx = command.make_context(
        path[-1], [], parent=parent, resilient_parsing=True, terminal_width=WIDTH, max_content_width=WIDTH
    )
    yield path, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from walk(sub, (*path, name), ctx)


def render(command: click.Command, name: str) -> str:
    """Markdown: one section per command, headed by its full name, holding its --help text."""
    sections = []
    for path, ctx in walk(command, (name,)):
        level = min(2 + max(len(path) - 2, 0), 6)  # the root and its commands: h2; a nested group's: h3, ...
        sections.append(f"{'#' * level} {' '.join(path)}\n\n```text\n{ctx.get_help()}\n```\n")
    return "\n".join(sections)


def on_page_markdown(markdown: str, /, **kwargs: Any) -> str:
    if MARKER not in markdown:
        return markdown
    from regimen.cli import cli

    return markdown.replace(MARKER, render(cli, "regimen"))
