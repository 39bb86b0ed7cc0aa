"""The error of a course record or change (its own module: the worklist and the store's interface raise it without
loading what reads the records)."""

from __future__ import annotations

from regimen.errors import RegimenError


class CourseError(RegimenError):
    """A course record or change that cannot be applied; nothing is recorded."""


__all__ = ["CourseError"]
