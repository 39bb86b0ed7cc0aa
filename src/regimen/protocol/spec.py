"""How a table of a regimen file is described: each field once, for the JSON Schema and for the loader.

A :class:`Field` is a key's JSON Schema fragment (type, pattern or allowed values, description), whether it is
required, and the function the loader reads it with (``read``: value -> typed value, or ValueError naming the
fix). A :class:`Table` is the fields of one kind of table with what the loader says when a required one is
missing. :mod:`regimen.protocol.schema` prints ``Table.schema()``; the loader reads every table with
:func:`regimen.protocol.collect.read_fields` over the same :class:`Table`, so the keys, the required ones and the
allowed values cannot drift apart.

A field whose reading needs the rest of its table (a dose level needs the component's dose) has ``read=None``
and ``context`` saying what it needs; its table's module reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Non-empty text (the loader also refuses text of spaces only).
TEXT: dict[str, Any] = {"type": "string", "minLength": 1}
#: A percentage as sources write it: '75%'.
PERCENT_PATTERN = r"^\s*\d+(\.\d+)?\s*%\s*$"


@dataclass(frozen=True, slots=True)
class Field:
    """One key of a table: its JSON Schema fragment and how the loader reads it."""

    schema: Mapping[str, Any]
    read: Callable[[object], Any] | None = None
    required: bool = False
    context: str = ""  # when read is None: what the reading needs besides the value

    def __post_init__(self) -> None:
        if self.read is None and not self.context:
            raise TypeError("a field without a reader says what its reading needs (context)")


@dataclass(frozen=True, slots=True)
class Table:
    """The fields of one kind of table, and the loader's message for a missing required field.

    ``missing`` is formatted with the missing names joined by ', '; with ``each`` it is said once per missing
    field (at the field), else once for the table. ``rules`` are the schema's combination rules (anyOf, oneOf,
    not), which the table's module checks with messages of their own."""

    fields: Mapping[str, Field]
    missing: str = "missing: {}"
    each: bool = True
    rules: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self.fields)

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(k for k, f in self.fields.items() if f.required)

    def read(self, key: str, value: object) -> Any:
        """``value`` read by the reader of field ``key`` (one that has a reader)."""
        reader = self.fields[key].read
        if reader is None:
            raise TypeError(f"field {key!r} is read with its table ({self.fields[key].context})")
        return reader(value)

    def properties(self) -> dict[str, Any]:
        return {k: dict(f.schema) for k, f in self.fields.items()}

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "object"}
        if self.description:
            out["description"] = self.description
        out.update(properties=self.properties(), required=list(self.required), **self.rules)
        out["additionalProperties"] = False
        return out


def caseless(words: Iterable[str]) -> str:
    """A JSON Schema pattern matching any of ``words`` in any case, with any spacing between words and around
    them: what the loader accepts when it reads a choice case-insensitively (ECMA 262 patterns have no flag)."""

    def word(text: str) -> str:
        out = []
        for part in text.split():
            out.append("".join(f"[{ch.upper()}{ch.lower()}]" if ch.isalpha() else ch for ch in part))
        return r"\s+".join(out)

    return r"^\s*(" + "|".join(word(w) for w in words) + r")\s*$"


__all__ = ["PERCENT_PATTERN", "TEXT", "Field", "Table", "caseless"]
