"""A small, safe rule language for variants: ``age > 60``, ``cycle >= 2``, ``sex == female and bsa > 2``.

Nothing is ever ``eval``-ed: a rule is tokenised and parsed into comparisons joined by ``and``/``or``
(``and`` binds tighter; parentheses group). Names: ``age`` (years), ``weight`` (kg), ``bsa`` (m²),
``height`` (cm), ``cycle`` (1, 2, ...), ``sex`` (``male``/``female``). Numbers are plain decimals.

Rules can also be analysed: :func:`satisfiable` tells whether a rule can ever hold and
:func:`overlap` whether two rules can hold at once, which the loader uses to reject contradictory
variants (two variants of one component that could both apply).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Literal, Union

from regimen.errors import PatientError, RegimenError, option
from regimen.quantities.exact import format_fraction
from regimen.quantities.limits import MAX_NESTING, MAX_VALUE_TEXT

NUMERIC = {"age": "years", "weight": "kg", "bsa": "m²", "height": "cm", "cycle": ""}
CATEGORICAL = {"sex": ("male", "female")}
Op = Literal["<", "<=", ">", ">=", "==", "!="]
OPS: tuple[Op, ...] = ("<=", ">=", "==", "!=", "<", ">")


class RuleError(RegimenError):
    """A rule that cannot be parsed."""


@dataclass(frozen=True, slots=True)
class Compare:
    name: str
    op: Op
    value: Fraction | str

    def __str__(self) -> str:
        value = self.value if isinstance(self.value, str) else format_fraction(self.value)
        return f"{self.name} {self.op} {value}"


@dataclass(frozen=True, slots=True)
class All:
    parts: tuple[Expr, ...]

    def __str__(self) -> str:
        return " and ".join(_wrap(p, Any) for p in self.parts)


@dataclass(frozen=True, slots=True)
class Any:
    parts: tuple[Expr, ...]

    def __str__(self) -> str:
        return " or ".join(str(p) for p in self.parts)


Expr = Union[Compare, All, Any]  # noqa: UP007 - a runtime alias used before the classes are complete


def _wrap(e: Expr, kind: type) -> str:
    return f"({e})" if isinstance(e, kind) else str(e)


_TOKEN = re.compile(r"\s*(?:(<=|>=|==|!=|<|>)|(\()|(\))|([A-Za-z_][A-Za-z_]*)|(\d+(?:\.\d+)?)|(\S))")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # only trailing whitespace remains
            break
        if m.group(6):
            raise RuleError(f"rule {text!r}: unexpected {m.group(6)!r}; write e.g. 'age > 60' or 'cycle >= 2'")
        out.append(next(g for g in m.groups() if g))
        pos = m.end()
    return out


@dataclass(frozen=True, slots=True)
class Rule:
    """A parsed rule with the text it came from."""

    text: str
    expr: Expr

    @property
    def names(self) -> frozenset[str]:
        return _names(self.expr)

    def evaluate(self, values: dict[str, Fraction | str | None]) -> bool:
        return _eval(self.expr, values, self.text)

    def __str__(self) -> str:
        return str(self.expr)


def parse_rule(text: str) -> Rule:
    """Parse ``text`` or raise :class:`RuleError` with a one-line explanation.

    A rule is at most :data:`~regimen.quantities.limits.MAX_VALUE_TEXT` characters with brackets at most
    :data:`~regimen.quantities.limits.MAX_NESTING` deep, checked before parsing (the parser recurses)."""
    if len(text) > MAX_VALUE_TEXT:
        raise RuleError(f"rule {text[:40]!r}… is {len(text):,} characters long; at most {MAX_VALUE_TEXT} are read")
    depth = deepest = 0
    for ch in text:
        depth += {"(": 1, ")": -1}.get(ch, 0)
        deepest = max(deepest, depth)
    if deepest > MAX_NESTING:
        raise RuleError(f"rule {text[:40]!r}… nests brackets {deepest} deep; at most {MAX_NESTING}")
    toks = _tokens(text)
    if not toks:
        raise RuleError("empty rule: write e.g. 'age > 60' or 'cycle >= 2'")
    pos = 0

    def peek() -> str | None:
        return toks[pos] if pos < len(toks) else None

    def take() -> str:
        nonlocal pos
        if pos >= len(toks):
            raise RuleError(f"rule {text!r} ends too early; write e.g. 'age > 60'")
        pos += 1
        return toks[pos - 1]

    def parse_or() -> Expr:
        parts = [parse_and()]
        while peek() == "or":
            take()
            parts.append(parse_and())
        return parts[0] if len(parts) == 1 else Any(tuple(parts))

    def parse_and() -> Expr:
        parts = [parse_atom()]
        while peek() == "and":
            take()
            parts.append(parse_atom())
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def parse_atom() -> Expr:
        tok = take()
        if tok == "(":
            inner = parse_or()
            if take() != ")":
                raise RuleError(f"rule {text!r}: missing ')'")
            return inner
        name = tok
        if name not in NUMERIC and name not in CATEGORICAL:
            known = ", ".join([*NUMERIC, *CATEGORICAL])
            raise RuleError(f"rule {text!r}: unknown name {name!r}; use one of {known}")
        op = take()
        if op not in OPS:
            raise RuleError(f"rule {text!r}: expected a comparison (<, <=, >, >=, ==, !=) after {name!r}")
        raw = take()
        if name in CATEGORICAL:
            allowed = CATEGORICAL[name]
            if raw not in allowed or op not in ("==", "!="):
                raise RuleError(f"rule {text!r}: {name} can only be compared with == or != to {' or '.join(allowed)}")
            return Compare(name, op, raw)
        if not re.fullmatch(r"\d+(?:\.\d+)?", raw):
            raise RuleError(f"rule {text!r}: {name} must be compared with a number, got {raw!r}")
        return Compare(name, op, Fraction(Decimal(raw)))

    expr = parse_or()
    if pos != len(toks):
        raise RuleError(f"rule {text!r}: unexpected {toks[pos]!r}; join comparisons with 'and' or 'or'")
    return Rule(text=text, expr=expr)


def _names(e: Expr) -> frozenset[str]:
    if isinstance(e, Compare):
        return frozenset({e.name})
    return frozenset().union(*(_names(p) for p in e.parts))


def _compare(left: Fraction | str, op: Op, right: Fraction | str) -> bool:
    if op == "==":
        return left == right
    if op == "!=":
        return left != right
    assert isinstance(left, Fraction) and isinstance(right, Fraction)
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def _eval(e: Expr, values: dict[str, Fraction | str | None], text: str) -> bool:
    if isinstance(e, Compare):
        value = values.get(e.name)
        if value is None:
            raise PatientError(
                f"this regimen has a rule '{text}' that needs the patient's {e.name}: pass {option(e.name)}"
            )
        return _compare(value, e.op, e.value)
    if isinstance(e, All):
        return all(_eval(p, values, text) for p in e.parts)
    return any(_eval(p, values, text) for p in e.parts)


# ---- analysis: rules as unions of boxes (one interval or value set per name) ----------------------


@dataclass(frozen=True, slots=True)
class Interval:
    lo: Fraction | None = None
    lo_closed: bool = False
    hi: Fraction | None = None
    hi_closed: bool = False

    def intersect(self, other: Interval) -> Interval:
        lo, lo_closed = self.lo, self.lo_closed
        if other.lo is not None and (lo is None or other.lo > lo or (other.lo == lo and not other.lo_closed)):
            lo, lo_closed = other.lo, other.lo_closed
        hi, hi_closed = self.hi, self.hi_closed
        if other.hi is not None and (hi is None or other.hi < hi or (other.hi == hi and not other.hi_closed)):
            hi, hi_closed = other.hi, other.hi_closed
        return Interval(lo, lo_closed, hi, hi_closed)

    def empty(self, integer: bool) -> bool:
        lo, hi = self.lo, self.hi
        if integer:
            # tighten to whole numbers: cycle > 1 and cycle < 2 holds for no cycle
            if lo is not None:
                f = math.floor(lo)
                lo = Fraction(f) if (self.lo_closed and lo == f) else Fraction(f + 1)
            if hi is not None:
                c = math.ceil(hi)
                hi = Fraction(c) if (self.hi_closed and hi == c) else Fraction(c - 1)
            return lo is not None and hi is not None and lo > hi
        if lo is None or hi is None:
            return False
        return lo > hi or (lo == hi and not (self.lo_closed and self.hi_closed))


Box = dict[str, Interval | frozenset[str]]
_DOMAIN: dict[str, Interval] = {
    "age": Interval(Fraction(0), True),
    "weight": Interval(Fraction(0), False),
    "bsa": Interval(Fraction(0), False),
    "height": Interval(Fraction(0), False),
    "cycle": Interval(Fraction(1), True),
}


def _atom_boxes(c: Compare) -> list[Box]:
    if isinstance(c.value, str):
        allowed = frozenset(CATEGORICAL[c.name])
        keep = frozenset({c.value}) if c.op == "==" else allowed - {c.value}
        return [{c.name: keep}]
    v = c.value
    pieces = {
        "<": [Interval(hi=v)],
        "<=": [Interval(hi=v, hi_closed=True)],
        ">": [Interval(lo=v)],
        ">=": [Interval(lo=v, lo_closed=True)],
        "==": [Interval(v, True, v, True)],
        "!=": [Interval(hi=v), Interval(lo=v)],
    }[c.op]
    return [{c.name: p} for p in pieces]


def _merge(a: Box, b: Box) -> Box:
    out: Box = dict(a)
    for name, con in b.items():
        if name not in out:
            out[name] = con
            continue
        cur = out[name]
        if isinstance(cur, Interval) and isinstance(con, Interval):
            out[name] = cur.intersect(con)
        elif isinstance(cur, frozenset) and isinstance(con, frozenset):
            out[name] = cur & con
    return out


def _boxes(e: Expr) -> list[Box]:
    if isinstance(e, Compare):
        return _atom_boxes(e)
    if isinstance(e, Any):
        return [box for p in e.parts for box in _boxes(p)]
    result: list[Box] = [{}]
    for part in e.parts:
        result = [_merge(x, y) for x in result for y in _boxes(part)]
    return result


def _box_possible(box: Box) -> bool:
    for name, con in box.items():
        if isinstance(con, frozenset):
            if not con:
                return False
        elif con.intersect(_DOMAIN[name]).empty(integer=name == "cycle"):
            return False
    return True


def satisfiable(rule: Rule) -> bool:
    """Whether any patient and cycle could satisfy ``rule``."""
    return any(_box_possible(b) for b in _boxes(rule.expr))


def overlap(a: Rule, b: Rule) -> bool:
    """Whether some patient and cycle could satisfy both rules at once."""
    return any(_box_possible(_merge(x, y)) for x in _boxes(a.expr) for y in _boxes(b.expr))
