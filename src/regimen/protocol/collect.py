"""Problems of one regimen file, gathered with their place, and the reading of a table by its field table.

The loader never stops at the first problem: it collects them all (file, component, field and what to do) and
raises one :class:`~regimen.errors.RegimenFileError` carrying the list, so ``regimen validate`` can print them all.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from functools import partial
from typing import Any, TypeVar

from regimen.errors import Problem
from regimen.protocol.spec import Table

T = TypeVar("T")


class Collector:
    """Gathers problems for one file."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, where: str, message: str) -> None:
        self.problems.append(Problem(self.file, where, message))

    def attempt(self, where: str, fn: Callable[[], T]) -> T | None:
        """Run ``fn``; a ValueError becomes a problem at ``where`` and the result is None."""
        try:
            return fn()
        except ValueError as exc:
            self.add(where, str(exc))
            return None

    def unknown_keys(self, where: str, table: dict[str, Any], allowed: Collection[str]) -> None:
        for key in sorted(set(table) - set(allowed)):
            self.add(where, f"unknown field {key!r}; allowed fields are {', '.join(sorted(allowed))}")


def place(
    component: str | None = None, field: str | None = None, phase: str | None = None, variant: int | None = None
) -> str:
    """Where a problem is, as messages name it: "phase 'x', component 'y', variant 1, field 'dose'"."""
    parts = []
    if phase:
        parts.append(f"phase {phase!r}")
    if component:
        parts.append(f"component {component!r}")
    if variant is not None:
        parts.append(f"variant {variant}")
    if field:
        parts.append(f"field {field!r}")
    return ", ".join(parts)


def in_table(where: str, field: str | None = None) -> str:
    """The place of a field of a numbered table: "gate 2, field 'source'"."""
    return f"{where}, field {field!r}" if field else where


def read_fields(
    c: Collector, table: Table, raw: dict[str, Any], where: Callable[[str | None], str], *, missing: bool = True
) -> dict[str, Any]:
    """Read ``raw`` by ``table``: unknown keys and (unless ``missing`` is False) missing required ones are reported,
    and every field with a reader is read; a field that fails is None in the result, one left out is absent.
    Fields without a reader are left to the caller (they need the rest of the table)."""
    c.unknown_keys(where(None), raw, table.keys)
    if missing:
        absent = [k for k in table.required if k not in raw]
        if table.each:
            for key in absent:
                c.add(where(key), table.missing.format(key))
        elif absent:
            c.add(where(None), table.missing.format(", ".join(absent)))
    out: dict[str, Any] = {}
    for key, f in table.fields.items():
        if key in raw and f.read is not None:
            out[key] = c.attempt(where(key), partial(f.read, raw[key]))
    return out


__all__ = ["Collector", "in_table", "place", "read_fields"]
