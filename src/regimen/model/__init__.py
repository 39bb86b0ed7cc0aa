"""The domain model: a regimen as a protocol states it, a patient, and the rows a plan is made of.

Every class is a frozen dataclass: a loaded regimen cannot change under the code that expands it.
Quantities are exact (:class:`~fractions.Fraction`) and carry their unit in their name or type.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal, TypeVar

from regimen.errors import RegimenError

# the protocol beyond the doses (risk, requirements, gates, modification table), in their own module; named here too
from regimen.model.care import ACTIONS as ACTIONS
from regimen.model.care import Action as Action
from regimen.model.care import Comparison as Comparison
from regimen.model.care import Condition as Condition
from regimen.model.care import EmetogenicRisk as EmetogenicRisk
from regimen.model.care import Gate as Gate
from regimen.model.care import Modification as Modification
from regimen.model.care import Requirement as Requirement
from regimen.model.care import Step as Step
from regimen.model.organ import ORGAN_MEASURES as ORGAN_MEASURES
from regimen.model.organ import ORGAN_STOPS as ORGAN_STOPS
from regimen.model.organ import OrganBand as OrganBand
from regimen.quantities.days import describe_days
from regimen.quantities.exact import DEFAULT_ROUNDING, Rounding, amount_text, format_decimal, format_fraction
from regimen.quantities.rules import Rule
from regimen.quantities.units import ParsedDose

Method = Literal["bolus", "IV push", "infusion", "continuous infusion"]
METHODS: tuple[Method, ...] = ("bolus", "IV push", "infusion", "continuous infusion")
#: Routes that say how a drug is given without a method (no "method not stated" note for them).
ROUTE_METHODS = {
    "oral": "by mouth",
    "po": "by mouth",
    "sc": "subcutaneous injection",
    "subcutaneous": "subcutaneous injection",
    "im": "intramuscular injection",
    "intramuscular": "intramuscular injection",
}
Sex = Literal["male", "female"]
#: What a component is for: a drug against the cancer, or the care given around it (issue 27).
Role = Literal["anticancer", "supportive"]
ROLES: tuple[Role, ...] = ("anticancer", "supportive")
#: The kinds of supportive care a regimen file names.
SUPPORTIVE_KINDS = ("premedication", "antiemetic", "hydration", "growth factor", "test dose", "electrolyte")


def how_given(method: str | None, route: str | None) -> str | None:
    """How a drug is given: its method, or what its route says (oral: 'by mouth'); None when neither says."""
    return method if method is not None else ROUTE_METHODS.get((route or "").strip().lower())


@dataclass(frozen=True, slots=True)
class DayList:
    """Days of the cycle given directly: "2-4", "1,8,15", [1, 8, 15]."""

    days: tuple[int, ...]

    def describe(self) -> str:
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
        plural = "s" if self.days_before != 1 else ""
        return f"{length} starting {self.days_before} day{plural} before {self.relative_to}"


Days = DayList | RelativeDays


@dataclass(frozen=True, slots=True)
class AucUnit:
    """The 'unit' of a target-AUC dose: it is turned into mg by the Calvert formula, not by a body factor."""

    basis: Literal["auc"] = "auc"
    time: Literal["none"] = "none"
    output_unit: str = "mg"
    symbol: str = "mg/mL·min"


@dataclass(frozen=True, slots=True)
class AucDose:
    """A carboplatin-style dose written as a target AUC ("AUC 5"), in mg/mL·min.

    The amount is ``AUC × (GFR + 25)`` mg (Calvert); the GFR comes from the patient at expansion time.
    """

    text: str
    value: Decimal
    unit: AucUnit = AucUnit()

    @property
    def display(self) -> str:
        return f"AUC {format_decimal(self.value)} mg/mL·min"


Dose = ParsedDose | AucDose


@dataclass(frozen=True, slots=True)
class Amount:
    """An exact plain amount with its unit: a cap ("2 mg") or a rounding increment ("0.5 mg")."""

    text: str
    value: Fraction  # in ``unit``
    unit: str  # "mg" or "mcg"

    def in_unit(self, unit: str) -> Fraction:
        """This amount in ``unit`` (mg or mcg), exactly."""
        if unit == self.unit:
            return self.value
        return self.value * 1000 if (self.unit, unit) == ("mg", "mcg") else self.value / 1000


@dataclass(frozen=True, slots=True)
class DoseLevel:
    """One dose level of a component: a percentage of the full dose, or a dose of its own."""

    level: int
    percent: Fraction | None = None
    dose: ParsedDose | None = None

    def describe(self) -> str:
        return (
            f"{format_fraction(self.percent)}%"
            if self.percent is not None
            else (self.dose.display if self.dose else "")
        )


DOSING_WEIGHTS = ("actual", "ideal", "ideal-devine", "ideal-robinson", "ideal-miller", "adjusted", "lean")


@dataclass(frozen=True, slots=True)
class Eligibility:
    """Who the source treated, e.g. adults aged 18 or over; a plan outside it carries a warning."""

    min_age: Fraction | None = None
    max_age: Fraction | None = None


#: Which infusions of a component a rate-escalation row is for: the course's first, or every later one.
RATE_INFUSIONS = ("first", "later")


@dataclass(frozen=True, slots=True)
class RateEscalation:
    """One row of a component's infusion-rate escalation, as its source states it: start at ``start`` per hour and,
    if each step is tolerated, raise the rate by ``step`` every ``every_hours`` up to ``maximum``. Rates are exact,
    per hour, in ``unit`` (the amount unit of the component's dose, 'mg'). The end of such an infusion depends on
    tolerance: a plan states only the least time it can take, never an end."""

    infusions: str  # one of RATE_INFUSIONS
    start: Fraction
    step: Fraction
    every_hours: Fraction
    maximum: Fraction
    unit: str  # 'mg': the rates are mg/h
    every_text: str  # as written: '30 min'
    source: str
    url: str | None = None
    note: str | None = None

    def describe(self) -> str:
        """'start at 50 mg/h; if tolerated, up by 50 mg/h every 30 min to at most 400 mg/h'."""
        rate = f"{self.unit}/h"
        if self.start == self.maximum:
            return f"at {format_fraction(self.start)} {rate} throughout (the source's maximum)"
        return (
            f"start at {format_fraction(self.start)} {rate}; if tolerated, up by {format_fraction(self.step)} {rate} "
            f"every {self.every_text} to at most {format_fraction(self.maximum)} {rate}"
        )


@dataclass(frozen=True, slots=True)
class Variant:
    """A change to a component when a rule holds: for some patients, or in some cycles."""

    when: Rule
    dose: Dose | None = None
    days: Days | None = None
    duration_hours: Fraction | None = None
    duration_text: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Additive:
    """Something added to a fluid, as the source writes it: potassium chloride 20 mmol. Shown, never calculated."""

    drug: str
    amount: str

    def __str__(self) -> str:
        return f"{self.drug} {self.amount}"


@dataclass(frozen=True, slots=True)
class Component:
    """One drug of a regimen, as the protocol states it."""

    id: str
    drug: str
    dose: Dose
    days: Days
    route: str | None = None
    method: Method | None = None
    duration_hours: Fraction | None = None
    duration_text: str | None = None
    variants: tuple[Variant, ...] = ()
    note: str | None = None
    max_dose: Amount | None = None  # per administration (a whole continuous infusion counts as one)
    max_daily: Amount | None = None  # per treatment day
    max_per_cycle: Amount | None = None  # all of this component's doses in one cycle
    levels: tuple[DoseLevel, ...] = ()  # dose levels (-1, -2, ...) the protocol defines
    dosing_weight: str | None = None  # the body weight weight-based doses use (None: the regimen's, else actual)
    round_to: Amount | None = None  # rounding increment the regimen states, e.g. "1 mg"
    times_per_day: int = 1  # doses a day: a dose per day is split among them, any other dose is each one's
    after: str | None = None  # the component this one follows (starts when its latest administration ends)
    gap_hours: Fraction | None = None  # time between the end of ``after`` and this one's start
    gap_text: str | None = None
    renal: tuple[OrganBand, ...] = ()  # the source's dose by kidney function (CrCl or GFR, mL/min)
    hepatic: tuple[OrganBand, ...] = ()  # the source's dose by liver values (bilirubin, AST, ALT)
    role: Role = "anticancer"  # supportive care (premedication, hydration, ...) is given but not counted as anticancer
    kind: str | None = None  # of supportive care: one of SUPPORTIVE_KINDS
    before: str | None = None  # the component this one precedes: it ends ``gap`` before that one starts
    after_last: bool = False  # ``after`` is the last dose of that component in the cycle ("24 h after the last dose")
    volume: ParsedDose | None = None  # of a fluid: the volume given (the dose of a hydration), e.g. 1000 mL
    additives: tuple[Additive, ...] = ()  # added to the fluid (potassium chloride, magnesium sulfate)
    in_cycles: tuple[int, ...] | None = None  # the cycles it is given in (a test dose: cycle 1); None: every cycle
    rate_escalation: tuple[RateEscalation, ...] = ()  # the source's rate escalation (first / later infusions)

    def given_in(self, cycle: int) -> bool:
        """Whether this component is given in ``cycle`` (of its phase)."""
        return self.in_cycles is None or cycle in self.in_cycles

    @property
    def cycles_text(self) -> str:
        """', cycle 1 only' when it is given only in some cycles, else ''."""
        if self.in_cycles is None:
            return ""
        word = "cycle" if len(self.in_cycles) == 1 else "cycles"
        return f", {word} {describe_days(self.in_cycles).removeprefix('days ').removeprefix('day ')} only"

    @property
    def supportive(self) -> bool:
        return self.role == "supportive"

    @property
    def timing(self) -> str | None:
        """When it is given relative to the drug it supports, in words: '30 min before oxaliplatin'."""
        gap = f"{self.gap_text} " if self.gap_text else ""
        if self.before is not None:
            return f"{gap}before {self.before}" if gap else f"before {self.before} (ending as it starts)"
        if self.after is not None:
            last = "the last dose of " if self.after_last else ""
            return f"{gap}after {last}{self.after}" if gap else f"after {last}{self.after}"
        return None

    @property
    def how(self) -> str | None:
        """The method, or what the route says of it (oral: by mouth); None when the source states neither."""
        return how_given(self.method, self.route)


@dataclass(frozen=True, slots=True)
class Phase:
    """A run of identical cycles: the whole regimen, or induction / maintenance."""

    id: str
    name: str | None
    components: tuple[Component, ...]
    cycle_length: int | None = None  # days; None when the source does not state it
    cycles: int | None = None  # the protocol's (maximum) number of cycles; None when not stated
    limit: str | None = None  # a limit stated in words, e.g. "up to 1 year"
    max_duration: tuple[Fraction, str] | None = None  # the longest the source gives it: (days, as written)

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


_T = TypeVar("_T")


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
    dosing_weight: str | None = None  # the body weight the source uses for every weight-based dose
    eligibility: Eligibility | None = None
    shadows: str | None = None  # the bundled file of the same id that this user-folder file hides, if any
    emetogenic_risk: EmetogenicRisk | None = None
    requirements: tuple[Requirement, ...] = ()  # what must be known before the first dose
    gates: tuple[Gate, ...] = ()  # what must hold before each cycle
    modifications: tuple[Modification, ...] = ()  # what to do when a gate is not met or a toxicity occurs
    #: What :meth:`once` worked out from this regimen, by the function that works it out. Not part of the regimen's
    #: value: not given to the constructor, compared, hashed or shown; a copy made by ``dataclasses.replace`` starts
    #: with none of it.
    _derived: dict[Callable[[Regimen], Any], Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def once(self, make: Callable[[Regimen], _T]) -> _T:
        """``make(self)``, worked out once per regimen object and kept with it: what depends on the regimen alone,
        which a plan would otherwise work out again for every patient (issue 29). ``make`` must depend on nothing
        else, and be a module-level function (it is the key, and is pickled by name with the regimen)."""
        derived = self._derived
        if make in derived:
            found: _T = derived[make]
            return found
        value = derived[make] = make(self)
        return value

    @property
    def phased(self) -> bool:
        return len(self.phases) > 1 or self.phases[0].id != "main"

    @property
    def citation(self) -> str:
        return "; ".join(str(s) for s in self.sources)

    def components(self) -> list[Component]:
        return [c for p in self.phases for c in p.components]

    def supportive_kind(self, component_id: str) -> str:
        """What a supportive component is, in a word a patient reads: its kind ('premedication'), else 'supportive
        care' (the handout and the calendar mark supportive rows with it)."""
        return next((c.kind for c in self.components() if c.id == component_id and c.kind), None) or "supportive care"


@dataclass(frozen=True, slots=True)
class Patient:
    """What is known of one patient, in canonical units (kg, m², years, cm). None = not given."""

    weight_kg: Fraction | None = None
    bsa_m2: Fraction | None = None
    age_years: Fraction | None = None
    height_cm: Fraction | None = None
    sex: Sex | None = None
    working: tuple[str, ...] = ()  # how given values were converted, e.g. "154 lb = 69.85322498 kg"
    scr_mg_dl: Fraction | None = None  # serum creatinine in mg/dL
    gfr_ml_min: Fraction | None = None  # a measured (or known) GFR in mL/min, used before any estimate
    #: Values assumed for rules only (never a dose, a formula or a warning) in each outcome of a value not given;
    #: a sex assumed also picks which of both sexes' clearances a renal table is read at (renal_adjust).
    assumed: tuple[tuple[str, Fraction | str], ...] = ()
    birth_date: dt.date | None = None  # with a start date, rules see the age at each cycle's start

    def rule_values(self, cycle: int, on: dt.date | None = None) -> dict[str, Fraction | str | None]:
        """Values rules compare, in cycle ``cycle`` (which starts on ``on``, when the plan has dates)."""
        age = self.age_years
        if self.birth_date is not None and on is not None:
            age = Fraction(completed_years(self.birth_date, on))
        values: dict[str, Fraction | str | None] = {
            "age": age,
            "weight": self.weight_kg,
            "bsa": self.bsa_m2,
            "height": self.height_cm,
            "sex": self.sex,
            "cycle": Fraction(cycle),
        }
        values.update(self.assumed)
        return values


@dataclass(frozen=True)
class Infusion:
    """Where a row sits in a continuous infusion that spans several days, and the infusion as it is prepared.

    A continuous infusion is one preparation (one pump, one bag): its amount is worked out and adjusted as a whole
    (dose level, reduction, maximum dose, rounding) and each day's row is its share, rate × that day's hours."""

    start_course_day: int
    hours: Fraction  # the whole infusion, elapsed time
    day_index: int  # 1 = the infusion's first 24 hours
    days: int
    amount: Fraction | None = None  # the whole infusion's amount, in the rows' dose unit (None: not worked out yet)
    calculation: str | None = None  # the whole infusion's working, adjustments included
    amount_calculated: Fraction | None = None  # the whole amount before rounding, when it was rounded

    @property
    def hours_today(self) -> Fraction:
        """The hours of the infusion given on its ``day_index``-th day: 24, and what is left on the last (a 46 h
        pump: 24 h, then 22 h). The one rule for a day's share of an infusion: a plan's rows and a cohort's."""
        return min(Fraction(24), self.hours - 24 * (self.day_index - 1))


@dataclass(frozen=True, slots=True)
class Derivation:
    """What a row's dose was worked out from: the dose as the protocol writes it (the variant's or the dose level's
    when one applied) times a patient value: 1.8 m², a dosing weight of 70 kg, or GFR + 25 mL/min for a target AUC.
    Caps, reductions and rounding that followed are in the row's working (``calculation``), not here."""

    dose: Dose
    factor: Fraction | None  # None for a flat dose
    factor_unit: str | None  # 'm²', 'kg' or 'mL/min'
    factor_text: str | None = None  # the factor as the working says it, when it is not the plain value: '62 kg (ideal)'


@dataclass(frozen=True)
class Administration:
    """One drug on one treatment day for one patient: the unit of every output.

    Not slotted, unlike the other classes: :meth:`moved` copies a row's fields as one dictionary, which a plan of
    hundreds of rows does for every cycle after the first (issue 15)."""

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
    dose_calculated: Fraction | None = None  # before rounding to vials/increments; None when not rounded
    condition: str | None = None  # given only if this holds ("age ≤ 60"), when the patient value is missing
    caps: tuple[str, ...] = ()  # the protocol's maximum doses that applied to this row (in the working and notes)
    dose_number: int | None = None  # with several doses a day: which one (1, 2, ...)
    doses_per_day: int | None = None
    start: dt.datetime | None = None  # the instant it starts (UTC), when the plan has a time of day
    end: dt.datetime | None = None  # the instant it ends; None when the source gives no duration
    time_note: str | None = None  # how the start was found ("after oxaliplatin ends"), or why it is not known
    rounding: Rounding = DEFAULT_ROUNDING  # the plan's display rounding (for dose_text and rate_text)
    derivation: Derivation | None = None  # the dose as written and the patient value it was multiplied by
    role: Role = "anticancer"  # supportive care is shown apart and left out of the cumulative totals

    def moved(self, **changes: Any) -> Administration:
        """This row with ``changes`` (field: value), as :func:`dataclasses.replace` gives it, without running the
        constructor again: the fields are copied at once (the class has no ``__post_init__`` to skip; the speed code
        that writes ``__dict__`` is described in one place, :mod:`regimen.engine.fastpath`)."""
        new = object.__new__(type(self))
        fields = new.__dict__
        fields.update(self.__dict__)
        fields.update(changes)
        if len(fields) != len(self.__dict__):  # a name that is not a field was added
            raise TypeError(f"Administration has no field {sorted(fields.keys() - self.__dict__.keys())[0]!r}")
        return new

    @property
    def dose_text(self) -> str:
        """The dose as the table prints it: '21.6 mg', '168.7 mg (from 168.72)', '400 mcg' (under 1 mg)."""
        return amount_text(self.dose, self.dose_unit, self.rounding)

    @property
    def rate_text(self) -> str | None:
        """The infusion rate as the table prints it ('7 mg/h'), or None for a dose with no rate."""
        if self.rate is None or self.rate_unit is None:
            return None
        return amount_text(self.rate, self.rate_unit, self.rounding)


@dataclass(frozen=True)
class Total:
    """A drug's total in a cycle or the course. Not slotted, as Infusion and Administration: regimen.engine.fastpath"""

    drug: str
    amount: Fraction
    unit: str
    phase: str | None = None  # None for the whole course
    cycle: int | None = None
    condition: str | None = None  # the total when this holds, when a rule's patient value is missing
    component: str | None = None  # set when the drug is given by several components (a bolus and a pump)


def completed_years(born: dt.date, on: dt.date) -> int:
    """Age in completed years on a date (a birthday counts from its day; 29 February from 1 March)."""
    years = on.year - born.year
    return years - 1 if (on.month, on.day) < (born.month, born.day) else years


# ---- days of a phase ------------------------------------------------------------------------------

Chooser = Callable[[Component], "Variant | None"]


def resolve_days(phase: Phase, component_id: str, chooser: Chooser, _stack: tuple[str, ...] = ()) -> tuple[int, ...]:
    """Cycle days of a component, following relative days to their anchors."""
    if component_id in _stack:
        loop = " -> ".join((*_stack, component_id))
        raise RegimenError(f"relative days form a loop ({loop}); anchor one of them to fixed days")
    component = phase.component(component_id)
    variant = chooser(component)
    days: Days = variant.days if variant is not None and variant.days is not None else component.days
    if isinstance(days, DayList):
        return days.days
    anchor = resolve_days(phase, days.relative_to, chooser, (*_stack, component_id))
    if days.on_day is not None:
        first = anchor[0] + days.on_day - 1
    else:
        assert days.days_before is not None
        first = anchor[0] - days.days_before
        if first < 1:
            raise RegimenError(
                f"{component_id} starts {days.days_before} days before {days.relative_to} (day {anchor[0]}), which "
                f"is day {first}: give {days.relative_to} later days so that day 1 is the first treatment day"
            )
    return tuple(range(first, first + days.count))
