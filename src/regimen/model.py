"""The domain model: a regimen as a protocol states it, a patient, and the rows a plan is made of.

Every class is a frozen dataclass: a loaded regimen cannot change under the code that expands it.
Quantities are exact (:class:`~fractions.Fraction`) and carry their unit in their name or type.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal, Union

from .rules import Rule
from .units import ParsedDose

Method = Literal["bolus", "infusion", "continuous infusion"]
METHODS: tuple[Method, ...] = ("bolus", "infusion", "continuous infusion")
Sex = Literal["male", "female"]


@dataclass(frozen=True, slots=True)
class DayList:
    """Days of the cycle given directly: "2-4", "1,8,15", [1, 8, 15]."""

    days: tuple[int, ...]

    def describe(self) -> str:
        from .days import describe_days

        return describe_days(self.days)


@dataclass(frozen=True, slots=True)
class RelativeDays:
    """Days anchored to another component: day ``on_day`` of it, or ``days_before`` its first day.

    "Chemotherapy starts on the second day of the cenersen infusion" is
    ``RelativeDays("cenersen", on_day=2, count=3)``; "oblimersen starts 4 days before fludarabine"
    is ``RelativeDays("fludarabine", days_before=4, count=7)``.
    """

    relative_to: str
    count: int
    on_day: int | None = None
    days_before: int | None = None

    def describe(self) -> str:
        length = f"{self.count} day{'s' if self.count != 1 else ''}"
        if self.on_day is not None:
            return f"{length} starting on day {self.on_day} of {self.relative_to}"
        return f"{length} starting {self.days_before} day{'s' if self.days_before != 1 else ''} before {self.relative_to}"


Days = Union[DayList, RelativeDays]


@dataclass(frozen=True, slots=True)
class Variant:
    """A change to a component when a rule holds: for some patients, or in some cycles."""

    when: Rule
    dose: ParsedDose | None = None
    days: Days | None = None
    duration_hours: Fraction | None = None
    duration_text: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Component:
    """One drug of a regimen, as the protocol states it."""

    id: str
    drug: str
    dose: ParsedDose
    days: Days
    route: str | None = None
    method: Method | None = None
    duration_hours: Fraction | None = None
    duration_text: str | None = None
    variants: tuple[Variant, ...] = ()
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Phase:
    """A run of identical cycles: the whole regimen, or induction / maintenance."""

    id: str
    name: str | None
    components: tuple[Component, ...]
    cycle_length: int | None = None  # days; None when the source does not state it
    cycles: int | None = None  # the protocol's (maximum) number of cycles; None when not stated
    limit: str | None = None  # a limit stated in words, e.g. "up to 1 year"

    def component(self, component_id: str) -> Component:
        for c in self.components:
            if c.id == component_id:
                return c
        raise KeyError(component_id)


@dataclass(frozen=True, slots=True)
class Source:
    citation: str
    registry: str | None = None
    url: str | None = None
    note: str | None = None

    def __str__(self) -> str:
        return self.citation + (f" ({self.registry})" if self.registry else "")


@dataclass(frozen=True, slots=True)
class Regimen:
    id: str
    name: str
    phases: tuple[Phase, ...]
    sources: tuple[Source, ...]
    indication: str | None = None
    status: str | None = None
    version: str | None = None
    notes: tuple[str, ...] = ()
    path: str | None = None

    @property
    def phased(self) -> bool:
        return len(self.phases) > 1 or self.phases[0].id != "main"

    @property
    def citation(self) -> str:
        return "; ".join(str(s) for s in self.sources)

    def components(self) -> list[Component]:
        return [c for p in self.phases for c in p.components]


@dataclass(frozen=True, slots=True)
class Patient:
    """What is known of one patient, in canonical units (kg, m², years, cm). None = not given."""

    weight_kg: Fraction | None = None
    bsa_m2: Fraction | None = None
    age_years: Fraction | None = None
    height_cm: Fraction | None = None
    sex: Sex | None = None
    working: tuple[str, ...] = ()  # how given values were converted, e.g. "154 lb = 69.85322498 kg"

    def rule_values(self, cycle: int) -> dict[str, Fraction | str | None]:
        return {
            "age": self.age_years,
            "weight": self.weight_kg,
            "bsa": self.bsa_m2,
            "height": self.height_cm,
            "sex": self.sex,
            "cycle": Fraction(cycle),
        }


@dataclass(frozen=True, slots=True)
class Infusion:
    """Where a row sits in a continuous infusion that spans several days."""

    start_course_day: int
    hours: Fraction  # the whole infusion, elapsed time
    day_index: int  # 1 = the infusion's first 24 hours
    days: int


@dataclass(frozen=True, slots=True)
class Administration:
    """One drug on one treatment day for one patient: the unit of every output."""

    phase: str
    cycle: int
    day: int  # day of the cycle
    course_day: int  # day of the whole course, day 1 = first day of the first cycle
    date: dt.date | None
    drug: str
    component: str
    dose: Fraction  # amount given on this day, in dose_unit, exact
    dose_unit: str
    route: str | None
    method: Method | None
    rate: Fraction | None  # infusion rate, exact
    rate_unit: str | None
    duration_hours: Fraction | None  # hours of drug delivered on this day
    calculation: str
    infusion: Infusion | None = None
    warnings: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Total:
    drug: str
    amount: Fraction
    unit: str
    phase: str | None = None  # None for the whole course
    cycle: int | None = None
