"""A plan: a regimen expanded for one patient (rows, totals, notes, warnings), and its totals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from regimen.engine.row_frames import plan_to_dataframe
from regimen.engine.rows import plan_to_dict
from regimen.model import Administration, Patient, Regimen, Total
from regimen.quantities.exact import DEFAULT_ROUNDING, Rounding, exact_sum

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
    #: the identity of the plan's calendar events: a treatment course's id (or ``--course``), when given; without
    #: it, events are keyed by the regimen, the patient values, the start and the label
    key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON contract: regimen, patient, administrations, totals, notes, warnings."""
        return plan_to_dict(self)

    def to_dataframe(self) -> pd.DataFrame:
        """The administrations as a pandas DataFrame (one row per drug per treatment day)."""
        return plan_to_dataframe(self)


def drugs_of_several_components(rows: Iterable[Administration]) -> set[str]:
    """Drugs given by more than one component (a bolus and a pump): these are named by component, never merged."""
    return _several({(r.drug, r.component) for r in rows})


def _several(pairs: set[tuple[str, str]]) -> set[str]:
    """The drugs of the (drug, component) ``pairs`` that come with more than one component."""
    seen: set[str] = set()
    shared: set[str] = set()
    for drug, _ in pairs:
        (shared if drug in seen else seen).add(drug)
    return shared


#: A total's key: (phase, cycle, drug, component, unit).
TotalKey = tuple[str, int, str, str, str]


def compute_totals(rows: Sequence[Administration]) -> list[Total]:
    """Total amount per drug per cycle (phase, cycle), then per drug for the whole course.

    A drug given by several components (a bolus and a pump of fluorouracil) gets a total per component, named by
    it: two administrations of one drug by different methods are never merged into one figure. The course total
    is the sum of the cycle totals (the same exact number as the sum of the rows)."""
    return totals_of(cycle_sums(rows))


def cycle_sums(rows: Iterable[Administration]) -> list[tuple[TotalKey, Fraction]]:
    """The exact sum of the doses of each (phase, cycle, drug, component, unit), in order of first appearance; the
    anticancer drugs only (supportive care is not part of a cumulative total)."""
    by_cycle: dict[TotalKey, list[Fraction]] = {}
    # supportive care (premedication, hydration, growth factor) is given but is not anticancer exposure: left out
    for r in rows:
        if r.role != "anticancer":
            continue
        key = (r.phase, r.cycle, r.drug, r.component, r.dose_unit)  # each read by a specialised instruction
        dose = r.dose
        doses = by_cycle.get(key)
        if doses is None:
            by_cycle[key] = [dose]
        else:
            doses.append(dose)
    return [(key, exact_sum(doses)) for key, doses in by_cycle.items()]


def totals_of(sums: Sequence[tuple[TotalKey, Fraction]]) -> list[Total]:
    """The totals (:func:`compute_totals`) from the sums of each cycle's rows (:func:`cycle_sums`, cycle after
    cycle)."""
    return totals_of_cycles([(None, sums)])


#: The sums of a cycle's rows (:func:`cycle_sums`) and the cycle they are given in, or None for the cycle their keys
#: name: a later cycle that repeats an earlier one's rows repeats its sums, which a plan need not add (nor copy) again.
CycleSums = tuple[int | None, Sequence[tuple[TotalKey, Fraction]]]


def totals_of_cycles(cycles: Sequence[CycleSums]) -> list[Total]:
    """The totals (:func:`compute_totals`) from the sums of each cycle's rows, cycle after cycle (:data:`CycleSums`:
    each distinct list of sums is read once, for the drugs given by several components and for what each of its
    totals names, and a later cycle that repeats it makes its totals from that: issue 29, a tenth of an R-CHOP-21
    plan's time was its 45 totals): each total's own ``__dict__`` is written from those fields in one step, and its
    cycle set. A course total counts the cycles that give each distinct list rather than adding its amount once per
    cycle (:func:`_course_amount`)."""
    distinct = {id(sums): sums for _, sums in cycles}.values()
    shared = _several({(drug, component) for sums in distinct for (_, _, drug, component, _), _ in sums})
    out: list[Total] = []
    append = out.append
    # for each course total, the amount each distinct list of sums gives it, by the list's identity
    course: dict[tuple[str, str | None, str], list[tuple[int, Fraction]]] = {}
    # for each distinct list of sums: each total's fields (as it is in the cycle the keys name); and the number of
    # cycles that give it
    named: dict[int, list[dict[str, Any]]] = {}
    times: dict[int, int] = {}
    for given_in, sums in cycles:
        key = id(sums)
        entries = named.get(key)
        if entries is None:  # its keys in their order: the course's totals keep the order the keys are first met
            entries = named[key] = []
            times[key] = 0
            for (phase, cycle, drug, component, unit), amount in sums:
                comp = component if drug in shared else None
                given = course.get((drug, comp, unit))
                if given is None:
                    given = course[(drug, comp, unit)] = []
                given.append((key, amount))
                entries.append(_fields(drug, amount, unit, phase, cycle, None, comp))
        times[key] += 1
        for fields in entries:
            total = _NEW(Total)
            own = total.__dict__  # the total's own dictionary, written in one step (regimen.engine.fastpath, 3)
            own.update(fields)
            if given_in is not None:  # a later cycle that repeats the one its keys name
                own["cycle"] = given_in
            append(total)
    for (drug, comp, unit), given in course.items():  # the course's totals, as new_total makes them
        total = _NEW(Total)
        _SET_DICT(total, "__dict__", _fields(drug, _course_amount(given, times), unit, None, None, None, comp))
        append(total)
    return out


def _course_amount(given: Sequence[tuple[int, Fraction]], times: Mapping[int, int]) -> Fraction:
    """A course total's amount: the sum of each (list of sums, amount) in ``given`` once for each of the ``times``
    cycles that give that list, as :func:`exact_sum` of every cycle's amount gives it (the same number: one amount
    given in ``k`` cycles is one Fraction of its numerator times ``k``, as exact_sum makes it)."""
    if len(given) == 1:  # the usual course: every cycle repeats the first one's sums
        ((key, amount),) = given
        k = times[key]
        return amount if k == 1 else Fraction(amount.numerator * k, amount.denominator)
    return exact_sum([amount for key, amount in given for _ in range(times[key])])


# A total made by writing its fields into its own ``__dict__`` (regimen.engine.fastpath, 3): the frozen dataclass's
# __init__ sets each by name through object.__setattr__, and a plan of 12 cycles of 4 drugs has 52 totals (a fifth
# of an mFOLFOX6 plan's time). A test holds the two equal, and the names to the class's fields, in order.
_NEW = object.__new__
_SET_DICT = object.__setattr__  # the frozen dataclass's own __setattr__ refuses every name, __dict__ too


def slot_setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """The function that writes field ``name`` of an instance of the slotted class ``cls`` into its slot (with no
    check that the class is frozen: for an instance being made)."""
    setter: Callable[[Any, Any], None] = getattr(cls, name).__set__
    return setter


def _fields(
    drug: str,
    amount: Fraction,
    unit: str,
    phase: str | None,
    cycle: int | None,
    condition: str | None,
    component: str | None,
) -> dict[str, Any]:
    """A total's fields, named as the class names them and in its order."""
    return {
        "drug": drug,
        "amount": amount,
        "unit": unit,
        "phase": phase,
        "cycle": cycle,
        "condition": condition,
        "component": component,
    }


def new_total(
    drug: str,
    amount: Fraction,
    unit: str,
    phase: str | None,
    cycle: int | None,
    condition: str | None,
    component: str | None,
) -> Total:
    """``Total(drug, amount, unit, phase, cycle, condition, component)``, its fields a dictionary of its own made its
    ``__dict__``."""
    total: Total = _NEW(Total)
    _SET_DICT(total, "__dict__", _fields(drug, amount, unit, phase, cycle, condition, component))
    return total


__all__ = [
    "CycleSums",
    "Plan",
    "TotalKey",
    "compute_totals",
    "cycle_sums",
    "drugs_of_several_components",
    "exact_sum",
    "new_total",
    "slot_setter",
    "totals_of",
    "totals_of_cycles",
]
