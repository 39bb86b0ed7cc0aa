"""Errors a user can cause. Each one prints as a single line naming the problem and the fix.

Every error is a ``ValueError`` so library callers can catch broadly; the CLI turns any
``RegimenError`` into a one-line message and a non-zero exit code. A traceback reaching a
user is a bug.
"""

from __future__ import annotations

from dataclasses import dataclass


class RegimenError(ValueError):
    """Base class: a problem with what the user gave us, with a message that says how to fix it."""


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
