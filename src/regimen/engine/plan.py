"""A plan: a regimen expanded for one patient (rows, totals, notes, warnings), and its totals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from regimen.engine.rows import plan_to_dataframe, plan_to_dict
from regimen.model import Administration, Patient, Regimen, Total
from regimen.quantities.exact import DEFAULT_ROUNDING, Rounding

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


@dataclass(frozen=True, slots=True)
class Plan:
    """A regimen expanded for one patient: rows, totals, and the notes that qualify them."""

    regimen: Regimen
    patient: Patient
    administrations: tuple[Administration, ...]
    totals: tuple[Total, ...]
    notes: tuple[str, ...]
    cycles: Mapping[str, int]
    start: dt.date | None = None
    rounding: Rounding = DEFAULT_ROUNDING
    warnings: tuple[str, ...] = field(default=())
    time: dt.time | None = None  # the time of day of the first drug of each treatment day, when given
    tz: str | None = None  # the IANA zone of that time
    #: the warnings on the plan as a whole (the patient's values, eligibility, cycles, cumulative doses), not
    #: those of one row (a row's own are in its ``warnings``): every CSV row and cohort row carries them
    plan_warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON contract: regimen, patient, administrations, totals, notes, warnings."""
        return plan_to_dict(self)

    def to_dataframe(self) -> pd.DataFrame:
        """The administrations as a pandas DataFrame (one row per drug per treatment day)."""
        return plan_to_dataframe(self)


def drugs_of_several_components(rows: Iterable[Administration]) -> set[str]:
    """Drugs given by more than one component (a bolus and a pump): these are named by component, never merged."""
    components: dict[str, set[str]] = {}
    for r in rows:
        components.setdefault(r.drug, set()).add(r.component)
    return {drug for drug, ids in components.items() if len(ids) > 1}


def compute_totals(rows: list[Administration]) -> list[Total]:
    """Total amount per drug per cycle (phase, cycle), then per drug for the whole course.

    A drug given by several components (a bolus and a pump of fluorouracil) gets a total per component, named by
    it: two administrations of one drug by different methods are never merged into one figure."""
    shared = drugs_of_several_components(rows)
    by_cycle: dict[tuple[str, int, str, str | None, str], _Sum] = {}
    course: dict[tuple[str, str | None, str], _Sum] = {}
    for r in rows:
        comp = r.component if r.drug in shared else None
        key = (r.phase, r.cycle, r.drug, comp, r.dose_unit)
        total = by_cycle.get(key)
        if total is None:
            total = by_cycle[key] = _Sum()
        total.add(r.dose)
        whole = course.get((r.drug, comp, r.dose_unit))
        if whole is None:
            whole = course[(r.drug, comp, r.dose_unit)] = _Sum()
        whole.add(r.dose)
    out = [
        Total(drug=d, amount=a.value(), unit=u, phase=p, cycle=c, component=k)
        for (p, c, d, k, u), a in by_cycle.items()
    ]
    out += [Total(drug=d, amount=a.value(), unit=u, component=k) for (d, k, u), a in course.items()]
    return out


class _Sum:
    """An exact sum of fractions, kept as a numerator per denominator: a plan's doses share a few denominators, so
    each addition is one integer addition, not a Fraction built and reduced (the sum is the same number)."""

    __slots__ = ("_by_denominator",)

    def __init__(self) -> None:
        self._by_denominator: dict[int, int] = {}

    def add(self, x: Fraction) -> None:
        d = x.denominator
        self._by_denominator[d] = self._by_denominator.get(d, 0) + x.numerator

    def value(self) -> Fraction:
        return sum((Fraction(n, d) for d, n in self._by_denominator.items()), Fraction(0))


__all__ = ["Plan", "compute_totals", "drugs_of_several_components"]
