"""A creatinine given without a value the Cockcroft–Gault clearance needs (the age, or the weight): the clearance over
every value the patient may have (each whole year of age, each 0.1 kg of weight), as prepare() would work it out
there, so that the renal tables can be read over all of them (:mod:`regimen.clinical.renal_adjust`) and the plan show
the doses of each span of values they read alike, never a full dose by default. Neither the age nor the weight
given: the clearance itself is the value not known (each 0.01 mL/min it may be, :func:`over_clearance`), and the plan
shows the doses of each range of it that the tables read alike.

The clearance is monotone in each value (it falls with the age, grows with the weight), and a renal table's rows are
ranges of it, so a span's ends are found by bisection: a weight's 6,500 points cost a few dozen clearances, not all
of them (a cohort's rows without a weight are each worked out this way)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from fractions import Fraction

from regimen.clinical import renal
from regimen.clinical.gfr import exact_places
from regimen.clinical.options import DERIVED_PLACES
from regimen.clinical.patient import AGE, GFR, WEIGHT
from regimen.quantities.exact import format_fraction


@dataclass(frozen=True, eq=False)
class Over:
    """The clearance over a value not given: ``name`` ("age", "weight"), its ``unit`` as a condition writes it
    ("years", "kg"), the ``suffix`` a span of it takes in a working (" kg"; none for ages), how finely it is taken
    (``grain``), and its points: grid step ``step`` from ``low`` to ``high`` (indices), the clearance at each by
    ``clearance`` (worked out when first asked, kept). Only the points where the clearance is possible are the
    object's: ``low`` and ``high`` are the first and last of them. ``missing``: the values not given, as the texts
    name them, when the points are of the clearance itself ("age and weight"; else the ``name``)."""

    name: str
    unit: str
    suffix: str
    grain: str
    step: Fraction
    low: int
    high: int
    clearance: Callable[[int], Fraction]
    missing: str = ""
    _seen: dict[int, Fraction] = field(default_factory=dict, repr=False)

    @property
    def direct(self) -> bool:
        """Whether the points are of the clearance itself (neither the age nor the weight given)."""
        return bool(self.missing)

    @property
    def not_given(self) -> str:
        """What is not given: "age", "weight", "age and weight"."""
        return self.missing or self.name

    @property
    def options(self) -> str:
        """The options that settle it: "--age", "--age and --weight"."""
        return " and ".join(f"--{n}" for n in self.not_given.split(" and "))

    def value(self, i: int) -> Fraction:
        return self.step * i

    def at(self, i: int) -> Fraction:
        found = self._seen.get(i)
        if found is None:
            found = self._seen[i] = self.clearance(i)
        return found

    def runs(self, key: Callable[[Fraction], Hashable]) -> list[tuple[int, int]]:
        """The runs (first, last index) over which ``key`` of the clearance is the same, lowest value first: each
        run's end by bisection, as ``key`` changes only where the monotone clearance crosses a row's bound."""
        out = []
        i = self.low
        while i <= self.high:
            out.append((i, self._end(i, key)))
            i = out[-1][1] + 1
        return out

    def run_around(self, i: int, key: Callable[[Fraction], Hashable]) -> tuple[int, int]:
        """The run of indices around ``i`` over which ``key`` of the clearance is the same."""
        return self._start(i, key), self._end(i, key)

    def _end(self, i: int, key: Callable[[Fraction], Hashable]) -> int:
        k = key(self.at(i))
        return _last(i, self.high, lambda j: key(self.at(j)) == k)

    def _start(self, i: int, key: Callable[[Fraction], Hashable]) -> int:
        k = key(self.at(i))
        return _first(self.low, i, lambda j: key(self.at(j)) == k)

    def index(self, value: Fraction) -> int:
        return int(value / self.step)


def _last(lo: int, hi: int, holds: Callable[[int], bool]) -> int:
    """The last index from ``lo`` to ``hi`` where ``holds``, which holds at ``lo`` and, past some index, nowhere."""
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if holds(mid) else (lo, mid - 1)
    return lo


def _first(lo: int, hi: int, holds: Callable[[int], bool]) -> int:
    """The first index from ``lo`` to ``hi`` where ``holds``, which holds at ``hi`` and, before some index, nowhere."""
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if holds(mid) else (mid + 1, hi)
    return lo


def _possible_range(low: int, high: int, clearance: Callable[[int], Fraction], rising: bool) -> tuple[int, int] | None:
    """The indices from ``low`` to ``high`` where the clearance is possible (over 0, at most a GFR's limit): one run,
    the clearance being monotone (``rising`` with the index, else falling): the impossible end is the high values
    when rising (too large a clearance), the low ones when falling."""

    def possible(i: int) -> bool:
        return 0 < clearance(i) <= GFR.high

    if rising:
        return (low, _last(low, high, possible)) if possible(low) else None
    return (_first(low, high, possible), high) if possible(high) else None


@functools.lru_cache(maxsize=64)  # each outcome of a plan works it out again for the same values
def over_ages(weight: Fraction, scr: Fraction, sex: str) -> Over | None:
    """The clearance at each whole age (as prepare() works it out for that age), those over a possible GFR left out."""

    def clearance(age: int) -> Fraction:
        return exact_places(renal.cockcroft_gault(float(age), float(weight), float(scr), sex), DERIVED_PLACES)

    found = _possible_range(int(AGE.low) + 1, int(AGE.high), clearance, rising=False)
    if found is None:
        return None
    return Over("age", "years", "", "", Fraction(1), found[0], found[1], clearance)


@functools.lru_cache(maxsize=64)
def over_weights(age: Fraction, scr: Fraction, sex: str) -> Over | None:
    """The clearance at each 0.1 kg of weight from the least a weight may be to the most, those over a possible GFR
    left out (a clearance grows with the weight: the heaviest are the ones left out)."""

    def clearance(tenths: int) -> Fraction:
        kg = tenths / 10
        return exact_places(renal.cockcroft_gault(float(age), kg, float(scr), sex), DERIVED_PLACES)

    found = _possible_range(int(WEIGHT.low * 10) + 1, int(WEIGHT.high * 10), clearance, rising=True)
    if found is None:
        return None
    return Over("weight", "kg", " kg", " (weights to 0.1 kg)", Fraction(1, 10), found[0], found[1], clearance)


@functools.lru_cache(maxsize=1)
def over_clearance() -> Over:
    """Neither the age nor the weight given: the Cockcroft–Gault clearance could be any value over 0 up to the most a
    GFR may be, taken at each 0.01 mL/min (the precision it is worked out to); the sex does not narrow it."""

    def clearance(hundredths: int) -> Fraction:
        return Fraction(hundredths, 100)

    top = int(GFR.high * 100)
    grain = " (clearances to 0.01 mL/min)"
    return Over("CrCl", "mL/min", " mL/min", grain, Fraction(1, 100), 1, top, clearance, missing="age and weight")


def working(over: Over, known: Fraction | None, scr: Fraction, sex: str, which: str) -> str:
    """The working of a clearance over a value not given (``which``: " if female", for a sex assumed)."""
    female = " × 0.85 (female)" if sex == "female" else ""
    if over.direct:
        sexed = " × 0.85 if female" if not sex else female
        return (
            f"Cockcroft–Gault CrCl with the age and weight not given = (140 − age) × weight (actual) / (72 × "
            f"{format_fraction(scr)} mg/dL){sexed}: not worked out; the plan shows the doses of each range of it the "
            "renal tables read differently"
        )
    assert known is not None
    if over.name == "age":
        formula = f"(140 − age) × {format_fraction(known)} kg (actual weight)"
        how = "each whole age"
    else:
        formula = f"(140 − {format_fraction(known)}) × weight (actual)"
        how = "each 0.1 kg"
    return (
        f"Cockcroft–Gault CrCl{which} with the {over.name} not given = {formula} / (72 × {format_fraction(scr)} "
        f"mg/dL){female}: {format_fraction(over.at(over.low))} mL/min at {format_fraction(over.value(over.low))} "
        f"{over.unit} to {format_fraction(over.at(over.high))} mL/min at {format_fraction(over.value(over.high))} "
        f"{over.unit}, worked out at {how} and rounded half up to 2 decimals"
    )


__all__ = ["Over", "over_ages", "over_clearance", "over_weights", "working"]
