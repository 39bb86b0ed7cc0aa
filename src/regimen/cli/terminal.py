"""What a terminal gets that a file or a pipe does not: the table fitted to its width, colour on warnings, a pager.

Files, pipes and ``-o`` always get the plain text (the golden files are that text). Colour follows the
convention of https://no-color.org: none when ``NO_COLOR`` is set to anything non-empty, when ``TERM`` is
``dumb``, or when the stream is not a terminal. Long output goes through click's pager (``$PAGER``, else ``less``)
only when both standard input and output are terminals, so a script never waits on a pager.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from typing import TextIO

import click


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def coloured(stream: TextIO) -> bool:
    """Colour for this stream: a terminal, ``NO_COLOR`` unset or empty, ``TERM`` not dumb."""
    return is_terminal(stream) and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def warning_style(text: str) -> str:
    return click.style(text, fg="yellow", bold=True)


def warn(text: str) -> None:
    """A warning line on stderr, coloured on a terminal."""
    click.echo(warning_style(text) if coloured(sys.stderr) else text, err=True)


def show(render: Callable[[int | None, Callable[[str], str] | None], str]) -> bool:
    """Show text on a terminal: ``render(width, emphasis)`` fitted to its width, with colour, paged when it is longer
    than the screen. Returns False (nothing shown) when standard output is not a terminal: the caller writes the
    plain text as to a file."""
    if not is_terminal(sys.stdout):
        return False
    size = shutil.get_terminal_size()
    text = render(size.columns, warning_style if coloured(sys.stdout) else None)
    if text.count("\n") >= size.lines and is_terminal(sys.stdin):
        # colour through the pager only when it shows colour: click then runs a bare ``less`` as ``less -R`` (or
        # keeps the user's $LESS when it asks for raw control characters) and strips the colour for other pagers;
        # passing color=True would have ``less`` print each escape as the text "ESC[33m".
        click.echo_via_pager(text, color=None if coloured(sys.stdout) else False)
    else:
        click.echo(text, nl=False, color=coloured(sys.stdout))
    return True


__all__ = ["coloured", "is_terminal", "show", "warn"]
