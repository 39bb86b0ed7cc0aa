"""Errors a user can cause. Each one prints as a single line naming the problem and the fix.

Every error is a ``ValueError`` so library callers can catch broadly; the CLI turns any
``RegimenError`` into a one-line message and a non-zero exit code. A traceback reaching a
user is a bug.

A message that tells the caller which of their inputs to change names it with :func:`option`
(``option("bsa_cap")``): the library shows the parameter's name (``bsa_cap``), and each door shows
its own name for it (the command line ``--bsa-cap``, a roster its column) through
:meth:`RegimenError.render`. So no library message is worded as a command-line flag.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_MARK = "\x1f"  # ASCII unit separator: never part of a message's own text
_OPTION = re.compile(_MARK + r"([a-z_]+)" + _MARK)


def option(name: str) -> str:
    """A caller's input named inside an error message (a parameter name such as ``bsa_cap``)."""
    return f"{_MARK}{name}{_MARK}"


def render(message: str, name: Callable[[str], str] | None = None) -> str:
    """``message`` with every :func:`option` shown by ``name`` (default: the parameter name itself)."""
    return _OPTION.sub(lambda m: name(m.group(1)) if name is not None else m.group(1), message)


#: Input names whose command-line flag is not simply ``--`` + the name with '-' for '_'.
_FLAGS = {"round_to": "--round", "fmt": "--format", "time_": "--time"}


def as_flag(name: str) -> str:
    """An input name as the command line's flag ('bsa_cap' -> '--bsa-cap'): how the command line and the HTTP API
    (which answers with the command line's messages) name inputs."""
    return _FLAGS.get(name, "--" + name.replace("_", "-"))


def named(message: str) -> list[str]:
    """The input names an error message mentions, in order (for a form: the field to show the message beside)."""
    return _OPTION.findall(message)


_USERINFO = re.compile(r"^(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:@/?#]*):(?P<password>.*)@(?P<rest>[^@]*)$", re.S)


def hide_password(url: str) -> str:
    """``url`` as any message may show it: a password in it (``scheme://user:password@host``) as ``***``, as
    SQLAlchemy's ``render_as_string(hide_password=True)`` does, also when the rest of the URL does not parse (the
    password runs to the last '@'). The one place a URL's password is hidden."""
    match = _USERINFO.match(url)
    if match is None:
        return url
    return f"{match['head']}:***@{match['rest']}"


class RegimenError(ValueError):
    """Base class: a problem with what the user gave us, with a message that says how to fix it."""

    @property
    def message(self) -> str:
        """The message with its option markers, for wrapping in another error without losing them."""
        return str(self.args[0]) if self.args else ""

    def render(self, name: Callable[[str], str] | None = None) -> str:
        """The message with each option shown by ``name`` (e.g. as a command-line flag)."""
        return render(self.message, name)

    def __str__(self) -> str:
        return self.render()


class UnitError(RegimenError):
    """A quantity whose unit is unknown or has the wrong dimension."""


class PatientError(RegimenError):
    """A patient value that is missing, impossible or not a number."""


class UnknownRegimenError(RegimenError):
    """A regimen id that is not in any regimen folder."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found while loading a regimen file: where it is and what is wrong."""

    file: str
    where: str
    message: str

    def __str__(self) -> str:
        location = f"{self.file}: {self.where}" if self.where else self.file
        return f"{location}: {self.message}"


class RegimenFileError(RegimenError):
    """A regimen file that cannot be used; carries every problem found, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else "invalid regimen file"
        more = len(self.problems) - 1
        plural = "s" if more > 1 else ""
        suffix = f" (and {more} more problem{plural}; run 'regimen validate' to list them)" if more else ""
        super().__init__(first + suffix)


__all__ = [
    "PatientError",
    "Problem",
    "RegimenError",
    "RegimenFileError",
    "UnitError",
    "UnknownRegimenError",
    "as_flag",
    "hide_password",
    "named",
    "option",
    "render",
]
