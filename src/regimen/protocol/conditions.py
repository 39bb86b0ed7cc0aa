"""Conditions of pre-cycle gates and modification tables: 'anc < 1.5', 'bilirubin > 1.5 x ULN',
'neuropathy >= 2 persistent', joined by 'and'. Thresholds are in each test's canonical unit
(:data:`regimen.quantities.labs.TESTS`), or converted to it when the file writes another unit."""

from __future__ import annotations

import re
from typing import cast

from regimen.model import Comparison, Condition
from regimen.quantities.exact import format_fraction
from regimen.quantities.labs import TESTS, ULN, LabError, is_uln, read
from regimen.quantities.limits import fraction_from

_CONDITION = re.compile(r"^\s*([a-z_]+)\s*(<=|>=|<|>|=|≤|≥)\s*(\d+(?:\.\d+)?)\s*(.*?)\s*$")
_OPS = {"≤": "<=", "≥": ">="}


def parse_condition(text: str) -> Condition:
    match = _CONDITION.match(text)
    if match is None:
        raise ValueError(
            f"condition {text!r} must be a test, a comparison and a number, e.g. 'anc < 1.5' or "
            "'neuropathy >= 2 persistent'"
        )
    test, op, number, rest = match.groups()
    if test not in TESTS:
        raise ValueError(f"condition {text!r}: unknown test {test!r}; use one of {', '.join(TESTS)}")
    t = TESTS[test]
    persistent = False
    if rest.lower().endswith("persistent"):
        persistent = True
        rest = rest[: -len("persistent")].strip()
        if not t.grade:
            raise ValueError(f"condition {text!r}: 'persistent' qualifies a toxicity grade, not {test}")
        if t.prior:
            raise ValueError(f"condition {text!r}: {test} is the worst grade of the cycle before: it does not persist")
    value = fraction_from(number, f"condition {text!r}")
    unit = t.unit
    if rest:
        if is_uln(rest):
            if not t.uln:
                raise ValueError(
                    f"condition {text!r}: {test} is not compared as a multiple of the upper limit of normal"
                )
            unit = ULN
        else:
            try:
                value = read(test, f"{number} {rest}").value
            except LabError as exc:
                raise ValueError(f"condition {text!r}: {exc.message}") from None
    if t.grade and (value.denominator != 1 or not 0 <= value <= 4):
        raise ValueError(f"condition {text!r}: a CTCAE grade is a whole number from 0 to 4")
    shown = f"grade {op} {value}" if t.grade else f"{op} {format_fraction(value)} {unit}"
    said = f"{test} {shown}{' (persistent)' if persistent else ''}"
    return Condition(test, cast(Comparison, _OPS.get(op, op)), value, said, persistent, unit)


def parse_conditions(text: str) -> tuple[Condition, ...]:
    """Conditions joined by 'and' (every one must hold)."""
    parts = [p for p in re.split(r"\s+and\s+", text.strip()) if p]
    if not parts:
        raise ValueError("a condition is needed, e.g. 'anc < 1.5'")
    return tuple(parse_condition(p) for p in parts)


__all__ = ["parse_condition", "parse_conditions"]
