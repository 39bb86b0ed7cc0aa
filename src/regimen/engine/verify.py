"""Order verification: each ordered dose against the dose the protocol gives this patient, with the working.

A pharmacist's independent check of a prescriber's order: for every order, the dose regimen computes (the same
plan as ``regimen expand``), the difference in mg and in %, computed exactly, and a verdict against the unit's
tolerance; and what the orders lack: a drug of the protocol not ordered, a day, a rate for an infusion the protocol
gives over a stated time. Orders in another unit than the protocol's are converted and the conversion is said (g to
mg; a dose per m² or per kg with the BSA or weight the plan uses); a dose that is 1,000 times off, or the protocol's
dose per m² ordered as mg, is named as the slip it looks like.

A continuous infusion over several days (the 46-hour fluorouracil pump) is ordered as one pump: it is compared with
the whole infusion's total, never with one day's share (:func:`orderable`).

The default tolerance, ±5 %, is the unit's policy, stated with its source in :data:`TOLERANCE_SOURCE`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Literal

from regimen.clinical.choices import percent
from regimen.engine.orders import Order, Quantity
from regimen.engine.outcomes import settled_by
from regimen.engine.plan import Plan
from regimen.engine.preparations import Preparation, preparations
from regimen.errors import RegimenError, option
from regimen.model import Administration, Derivation, how_given
from regimen.quantities.days import describe_days
from regimen.quantities.exact import amount_text, format_decimal, format_fraction, to_decimal
from regimen.quantities.units import DoseUnit, classify_dose_unit, factor, parse_unit, parse_volume

#: The default tolerance, in % of the protocol's dose.
DEFAULT_TOLERANCE = Fraction(5)
#: Where the default comes from. No published standard found states a figure for order verification; ±5 % is
#: narrower than both published rounding limits below, so an order within it is also within them.
TOLERANCE_SOURCE = (
    "±5 %: a unit policy, narrower than the published limits on rounding a dose: NHS England dose banding ±6 % "
    "for standard chemotherapy (NICE KTT22) and HOPA dose rounding ±10 % (Fahrenbruch R et al., J Oncol Pract "
    "2018;14:e130-6)"
)
MAX_TOLERANCE = Fraction(50)
Verdict = Literal["within", "outside", "not checked"]


class VerifyError(RegimenError):
    """A verification that cannot be made as asked (a tolerance that is not a percentage)."""


# ---- tolerance ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Tolerance:
    """The largest difference accepted, in % of the protocol's dose: one for every drug, and per drug (a drug name
    or a component id)."""

    default: Fraction = DEFAULT_TOLERANCE
    per_drug: tuple[tuple[str, Fraction], ...] = ()

    def of(self, drug: str, component: str) -> Fraction:
        named = dict(self.per_drug)
        return named.get(component.lower(), named.get(drug.lower(), self.default))

    @property
    def source(self) -> str:
        return TOLERANCE_SOURCE if self.default == DEFAULT_TOLERANCE else "the unit's tolerance, as given"


def parse_tolerance(texts: Sequence[str]) -> Tolerance:
    """'5%' (every drug) and 'carboplatin=10%' (one drug or component), repeatable."""
    default = DEFAULT_TOLERANCE
    per_drug: dict[str, Fraction] = {}
    plain = 0
    for text in texts:
        key, sep, value = text.rpartition("=")
        pct = percent(value, option("tolerance"))
        if not 0 < pct <= MAX_TOLERANCE:
            raise VerifyError(f"{option('tolerance')} {text!r}: give a percentage above 0 and at most {MAX_TOLERANCE}%")
        if sep:
            if not key.strip():
                raise VerifyError(f"{option('tolerance')} {text!r}: write PCT or DRUG=PCT, e.g. carboplatin=10%")
            per_drug[key.strip().lower()] = pct
        else:
            plain += 1
            default = pct
    if plain > 1:
        raise VerifyError(f"{option('tolerance')}: give one tolerance for every drug, and DRUG=PCT for single drugs")
    return Tolerance(default, tuple(per_drug.items()))


# ---- what can be ordered ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Expected:
    """One administration an order is checked against: one row of the plan, or a whole continuous infusion
    (its rows added up: one pump is one order)."""

    phase: str
    cycle: int
    day: int  # the day it starts
    drug: str
    component: str
    dose: Fraction
    unit: str
    route: str | None
    method: str | None
    rate: Fraction | None
    rate_unit: str | None
    hours: Fraction | None  # the time it runs: an infusion's duration, a pump's whole duration
    working: str
    derivation: Derivation | None
    dose_number: int | None = None
    days: tuple[int, ...] = ()
    date: dt.date | None = None
    condition: str | None = None  # given only if this holds, in a plan made without the value a rule needs
    repeats: int = 1  # administrations of this dose it stands for (one line of what is not ordered)

    @property
    def when(self) -> str:
        only = f" (only if {self.condition})" if self.condition else ""
        if self.repeats > 1:
            return f"cycle {self.cycle}, {describe_days(self.days)}, {self.repeats} doses{only}"
        number = f", dose {self.dose_number}" if self.dose_number is not None else ""
        return f"cycle {self.cycle}, day {self.day}{number}{only}"


def orderable(plan: Plan) -> list[Expected]:
    """What a prescriber orders, from the plan's rows: one order per preparation
    (:func:`~regimen.engine.preparations.preparations`): each row, except that the day shares of one continuous
    infusion over several days (one pump) are one order of their sum. A share given only if a condition holds (a
    plan made without the value a rule needs) is not added to the pump's order: it is an order of its own, marked."""
    return [
        _whole_infusion(prep, plan) if len(prep.rows) > 1 else _expected(prep.first)
        for prep in preparations(plan.administrations)
    ]


def _whole_infusion(prep: Preparation, plan: Plan) -> Expected:
    """A pump's order: the preparation's amount and hours (what the pharmacy prepares), its days' shares in the
    working."""
    first = prep.first
    assert prep.hours is not None
    parts = " + ".join(f"day {r.day} {amount_text(r.dose, r.dose_unit, plan.rounding)}" for r in prep.rows)
    head = first.calculation.partition("; ×")[0]  # the infusion's own working, before its day's share
    working = (
        f"{head}; the whole {format_fraction(prep.hours)} h infusion: {parts} = "
        f"{amount_text(prep.dose, prep.dose_unit, plan.rounding)}"
    )
    return replace(_expected(first), dose=prep.dose, hours=prep.hours, working=working, days=prep.days)


def _expected(r: Administration) -> Expected:
    return Expected(
        phase=r.phase,
        cycle=r.cycle,
        day=r.day,
        drug=r.drug,
        component=r.component,
        dose=r.dose,
        unit=r.dose_unit,
        route=r.route,
        method=r.method,
        rate=r.rate,
        rate_unit=r.rate_unit,
        hours=r.duration_hours,
        working=r.calculation,
        derivation=r.derivation,
        dose_number=r.dose_number,
        days=(r.day,),
        date=r.date,
        condition=r.condition,
    )


# ---- the result ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Check:
    """One order checked: what was ordered, what the protocol gives, the difference and the verdict."""

    order: Order
    verdict: Verdict
    tolerance: Fraction
    expected: Expected | None = None
    ordered: Fraction | None = None  # the ordered dose in the protocol's unit (after any conversion)
    notes: tuple[str, ...] = ()  # what was converted, and how
    problems: tuple[str, ...] = ()  # what the order lacks or gets wrong beside the dose: each one fails the check

    @property
    def difference(self) -> Fraction | None:
        return None if self.ordered is None or self.expected is None else self.ordered - self.expected.dose

    @property
    def percent(self) -> Fraction | None:
        diff = self.difference
        return None if diff is None or self.expected is None else diff * 100 / self.expected.dose

    @property
    def ok(self) -> bool:
        return self.verdict == "within" and not self.problems


@dataclass(frozen=True, slots=True)
class Verification:
    """Every order checked, and what the orders lack (a drug of the protocol in an ordered cycle, not ordered)."""

    plan: Plan
    checks: tuple[Check, ...]
    missing: tuple[Expected, ...]
    tolerance: Tolerance
    notes: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks) and not self.missing and bool(self.checks)

    @property
    def summary(self) -> str:
        counts = [
            (sum(c.verdict == "outside" for c in self.checks), "outside the tolerance"),
            (sum(c.verdict == "not checked" for c in self.checks), "not checked"),
            (sum(c.verdict == "within" and bool(c.problems) for c in self.checks), "within it but lacking something"),
            (len(self.missing), "missing"),
        ]
        said = [f"{n} {'order' if n == 1 else 'orders'} {what}" for n, what in counts[:3] if n]
        if counts[3][0]:
            n = counts[3][0]
            said.append(f"{n} {'drug' if n == 1 else 'drugs'} of the protocol not ordered")
        if not self.checks:
            said.insert(0, "no order given")
        verdict = "NOT VERIFIED" if said else "VERIFIED"
        total = len(self.checks)
        within = sum(c.ok for c in self.checks)
        return f"{verdict}: {within} of {total} {'order' if total == 1 else 'orders'} within tolerance" + (
            f"; {', '.join(said)}" if said else ""
        )


# ---- checking -----------------------------------------------------------------------------------------------


def verify(
    plan: Plan,
    orders: Iterable[Order],
    tolerance: Tolerance | None = None,
    *,
    cycle: int = 1,
    notes: Sequence[str] = (),
) -> Verification:
    """Check ``orders`` against ``plan``. An order that gives no cycle is for ``cycle``; one that gives a date (and
    no day) is placed by the plan's dates."""
    tolerance = tolerance or Tolerance()
    entries = orderable(plan)
    taken: set[int] = set()
    pending = list(orders)
    # orders that name their administration unambiguously first, so that an order of a drug given by several
    # components (fluorouracil bolus and pump) can be placed by what the others left
    ranked = sorted(range(len(pending)), key=lambda i: _candidates_count(pending[i], entries, plan, cycle))
    results: dict[int, Check] = {}
    for i in ranked:
        results[i] = _check(pending[i], entries, taken, plan, tolerance, cycle)
    checks = [results[i] for i in range(len(pending))]
    ordered_cycles = {_cycle_of(o, plan, cycle) for o in pending} or {cycle}
    ordered = {(e.cycle, e.component) for i, e in enumerate(entries) if i in taken}
    ordered |= {(c.expected.cycle, c.expected.component) for c in checks if c.expected is not None}
    lacking: dict[tuple[int, str, str | None], list[Expected]] = {}
    for e in entries:
        if e.cycle in ordered_cycles and (e.cycle, e.component) not in ordered and e.dose > 0:
            lacking.setdefault((e.cycle, e.component, e.condition), []).append(e)
    # one line per drug not ordered, with every day of it (capecitabine twice daily on days 1-14 is one line), and
    # one per outcome of a value not given (1,350 mg only if sex female; 1,800 mg only if sex male)
    missing = tuple(
        rows[0] if len(rows) == 1 else replace(rows[0], days=tuple(sorted({e.day for e in rows})), repeats=len(rows))
        for rows in lacking.values()
    )
    if not any(e.cycle in ordered_cycles for e in entries):
        raise VerifyError(
            f"the plan has no cycle {', '.join(map(str, sorted(ordered_cycles)))}: expand more {option('cycles')}"
        )
    return Verification(plan, tuple(checks), missing, tolerance, tuple(notes))


def _cycle_of(order: Order, plan: Plan, cycle: int) -> int:
    if order.cycle is not None:
        return order.cycle
    if order.day is None and order.date is not None:
        dated = [r.cycle for r in plan.administrations if r.date == order.date]
        if dated:
            return dated[0]
    return cycle


def _day_of(order: Order, plan: Plan) -> int | None:
    if order.day is not None or order.date is None:
        return order.day
    return next((r.day for r in plan.administrations if r.date == order.date), None)


def _named(order: Order, entries: Sequence[Expected]) -> list[Expected]:
    """The entries of the drug or component the order names (a component id first: 'fluorouracil-pump')."""
    name = order.drug.strip().lower()
    by_component = [e for e in entries if e.component.lower() == name]
    return by_component or [e for e in entries if e.drug.lower() == name]


_METHOD_WORDS = {
    "continuous infusion": ("continuous",),
    "IV push": ("push", "bolus", "injection"),
    "bolus": ("bolus", "push"),
    "infusion": ("infusion",),
}


def _fits(order: Order, e: Expected) -> bool:
    """The order's own words on how (a method, a duration of a day or more) fit this entry's method."""
    if order.method is not None and e.method is not None:
        said = order.method.lower()
        if e.method == "infusion" and "continuous" in said:
            return False
        if not any(word in said for word in _METHOD_WORDS[e.method]):
            return False
    if order.duration_hours is not None:
        if e.hours is None:
            return False
        long_order, long_entry = order.duration_hours >= 24, e.hours >= 24
        if long_order != long_entry:
            return False
    return True


def _candidates_count(order: Order, entries: Sequence[Expected], plan: Plan, cycle: int) -> int:
    named = [e for e in _named(order, entries) if e.cycle == _cycle_of(order, plan, cycle)]
    return len({e.component for e in named if _fits(order, e)})


def _not_in_plan(order: Order, entries: Sequence[Expected], plan: Plan) -> str:
    """Why an order names nothing the plan gives: a drug of the regimen the plan leaves out for this patient (a
    renal table's 'contraindicated', with the plan's warning that says so), or no drug of the regimen at all."""
    key = order.drug.lower()
    left_out = [c for c in plan.regimen.components() if key in (c.id, c.drug.lower())]
    if left_out:
        why = [w for w in plan.warnings if any(f"{c.drug} left out" in w or f"{c.id} left out" in w for c in left_out)]
        said = f": {why[0]}" if why else ""
        return f"{order.drug} is a drug of {plan.regimen.id} that this patient's plan leaves out{said}"
    drugs = sorted({e.drug for e in entries} | {e.component for e in entries})
    return f"{order.drug} is not a drug of {plan.regimen.id} (its drugs: {', '.join(drugs)})"


def _check(
    order: Order, entries: Sequence[Expected], taken: set[int], plan: Plan, tolerance: Tolerance, cycle: int
) -> Check:
    at = _cycle_of(order, plan, cycle)
    named = _named(order, entries)
    if not named:
        return Check(order, "not checked", tolerance.default, problems=(_not_in_plan(order, entries, plan),))
    tol = tolerance.of(named[0].drug, named[0].component)
    in_cycle = [(i, e) for i, e in enumerate(entries) if e in named and e.cycle == at]
    if not in_cycle:
        return Check(order, "not checked", tol, problems=(f"{order.drug} is not given in cycle {at} of the plan",))
    components = sorted({e.component for _, e in in_cycle})
    if len(components) > 1:
        fitting = [(i, e) for i, e in in_cycle if _fits(order, e)]
        free = [(i, e) for i, e in fitting if not any(j in taken for j, f in in_cycle if f.component == e.component)]
        narrowed = {e.component for _, e in fitting}
        if len(narrowed) > 1:
            narrowed = {e.component for _, e in free} or narrowed
        if len(narrowed) != 1:
            how = ", ".join(f"{c} ({_how(in_cycle, c)})" for c in components)
            return Check(
                order,
                "not checked",
                tol,
                problems=(
                    f"{order.drug} is given as {how}: the order must say which (name the component, e.g. "
                    f"{components[-1]}, or give its method or duration)",
                ),
            )
        in_cycle = [(i, e) for i, e in in_cycle if e.component in narrowed]
    component = in_cycle[0][1]
    tol = tolerance.of(component.drug, component.component)
    problems: list[str] = []
    day = _day_of(order, plan)
    days = sorted({e.day for _, e in in_cycle})
    if order.day is None and order.date is not None and day is None:
        problems.append(
            f"the order is dated {order.date.isoformat()}, a day on which the plan gives no {component.drug}"
            + ("" if plan.start else f" (the plan has no dates: give {option('start')})")
        )
    if day is not None:
        on_day = [(i, e) for i, e in in_cycle if e.day == day]
        if not on_day:
            starts = f"the protocol gives it on {describe_days(days)}" + (
                ", as one infusion from its first day" if component.hours and component.hours >= 24 else ""
            )
            return Check(order, "not checked", tol, problems=(f"no {component.component} on day {day}: {starts}",))
        in_cycle = on_day
    elif not problems:
        problems.append(f"no day: the protocol gives {component.component} on {describe_days(days)} of cycle {at}")
    free = [(i, e) for i, e in in_cycle if i not in taken] or in_cycle
    if len({e.dose for _, e in free}) > 1:
        conditions = list(dict.fromkeys(e.condition for _, e in free))
        if day is not None and any(conditions):  # one day, a dose for each outcome of a value not given
            each = "; ".join(
                f"{c or 'always'}: {amount_text(next(e.dose for _, e in free if e.condition == c), component.unit)}"
                for c in conditions
            )
            said = (
                f"{component.component}'s dose on day {day} depends on a value the plan was made without ({each}): "
                f"give {settled_by(next(c for c in conditions if c))}"
            )
        else:
            said = f"{component.component} has different doses on different days: give the day"
        return Check(order, "not checked", tol, problems=(*problems, said))
    index, entry = free[0]
    taken.add(index)
    if entry.condition is not None:
        problems.append(
            f"the protocol gives this dose only if {entry.condition}: the plan was made without the patient value "
            "the rule needs"
        )
    ordered, notes, unit_problem = _in_protocol_unit(order.dose, entry, plan)
    if ordered is None:
        return Check(order, "not checked", tol, entry, problems=(*problems, *unit_problem))
    within = abs(ordered - entry.dose) * 100 <= tol * entry.dose
    if not within:
        problems.extend(_slip(order.dose, ordered, entry, tol))
    problems.extend(_how_checks(order, entry, tol, notes))
    return Check(order, "within" if within else "outside", tol, entry, ordered, tuple(notes), tuple(problems))


def _how(in_cycle: Sequence[tuple[int, Expected]], component: str) -> str:
    e = next(e for _, e in in_cycle if e.component == component)
    return how_given(e.method, e.route) or "method not stated"


# ---- units --------------------------------------------------------------------------------------------------


def _classify(q: Quantity) -> DoseUnit | None:
    try:
        return classify_dose_unit(q.unit)
    except RegimenError:
        try:  # the volume of a supportive fluid (hydration) is its dose, in mL
            return parse_volume(f"1 {q.unit}").unit
        except RegimenError:
            return None


def _in_protocol_unit(dose: Quantity, e: Expected, plan: Plan) -> tuple[Fraction | None, list[str], list[str]]:
    """The ordered dose in the protocol's unit, the notes on how it was converted, and why it could not be."""
    shape = _classify(dose)
    if shape is None or shape.time != "none":
        why = "a dose per time: give the dose, and the rate apart" if shape else "not a unit of a dose"
        return None, [], [f"the ordered dose {dose.text}: {why} (the protocol's is {amount_text(e.dose, e.unit)})"]
    if (shape.output_unit == "units") != (e.unit == "units"):
        return None, [], [f"the ordered dose {dose.text} cannot be compared with {amount_text(e.dose, e.unit)}"]
    amount = dose.value * shape.to_canonical  # mg or mcg (or units), per kg or m² when so written
    if e.unit in ("mg", "mcg") and shape.output_unit != e.unit:
        amount *= factor("microgram" if shape.output_unit == "mcg" else "milligram", _pint(e.unit))
    notes: list[str] = []
    if shape.basis != "flat":
        per, symbol = ("m²", "BSA") if shape.basis == "bsa" else ("kg", "weight")
        size = _body_size(e.derivation, plan, per)
        if size is None:
            return None, [], [f"the ordered dose {dose.text} is per {per}: the patient's {symbol} is not given"]
        as_plan = e.derivation is not None and e.derivation.factor_unit == per
        notes.append(
            f"ordered per {per}: {dose.text} × {format_fraction(size)} {per} = {amount_text(amount * size, e.unit)} "
            f"(the {'dosing ' if per == 'kg' and as_plan else ''}{symbol} the plan uses)"
        )
        amount *= size
    elif shape.mass != _pint(e.unit):
        notes.append(f"ordered in {dose.unit.strip()}: {dose.text} = {amount_text(amount, e.unit)}")
    return amount, notes, []


def _pint(unit: str) -> str:
    return {"mg": "milligram", "mcg": "microgram", "g": "gram", "units": "unit"}.get(unit, unit)


def _body_size(derivation: Derivation | None, plan: Plan, per: str) -> Fraction | None:
    if derivation is not None and derivation.factor_unit == per and derivation.factor is not None:
        return derivation.factor
    p = plan.patient
    return p.bsa_m2 if per == "m²" else p.weight_kg


def _slip(dose: Quantity, ordered: Fraction, e: Expected, tol: Fraction) -> list[str]:
    """What an order outside the tolerance looks like: a unit slip of 1,000 times, or the dose per m² (or per kg)
    written as the dose."""

    def near(a: Fraction, b: Fraction) -> bool:
        return abs(a - b) * 100 <= tol * b

    out = []
    for times, slip in ((1000, "1,000 times"), (Fraction(1, 1000), "a thousandth of")):
        if near(ordered, e.dose * times):
            out.append(
                f"{dose.text} is {slip} the protocol's {amount_text(e.dose, e.unit)}: a slip between mg and g, or "
                "mcg and mg?"
            )
    d = e.derivation
    shape = _classify(dose)
    if d is not None and d.factor is not None and d.factor_unit in ("m²", "kg") and shape and shape.basis == "flat":
        written = getattr(d.dose, "canonical", None)
        if written is not None and near(ordered, written):
            out.append(
                f"{dose.text} is the protocol's dose per {d.factor_unit} ({d.dose.display}): "
                f"mg/{d.factor_unit} written as mg? For this patient it is {amount_text(e.dose, e.unit)}"
            )
    return out


def _how_checks(order: Order, e: Expected, tol: Fraction, notes: list[str]) -> list[str]:
    """Rate, duration and route: what the order lacks, and what it gets wrong."""
    problems = []
    if e.hours is not None and e.rate is not None and e.method in ("infusion", "continuous infusion"):
        given = amount_text(e.rate, e.rate_unit or "mg/h")
        if order.rate is None and order.duration_hours is None:
            problems.append(f"no rate: the protocol gives it over {format_fraction(e.hours)} h ({given})")
        if order.duration_hours is not None and abs(order.duration_hours - e.hours) * 100 > tol * e.hours:
            problems.append(
                f"over {format_fraction(order.duration_hours)} h: the protocol gives it over "
                f"{format_fraction(e.hours)} h ({signed_percent((order.duration_hours - e.hours) * 100 / e.hours)})"
            )
        if order.rate is not None:
            rate = _rate(order.rate, e.rate_unit or "mg/h")
            if rate is None:
                notes.append(
                    f"rate {order.rate.text}: a rate of volume depends on the preparation, not checked against "
                    f"the protocol's {given}"
                )
            elif abs(rate - e.rate) * 100 > tol * e.rate:
                problems.append(
                    f"rate {order.rate.text}: the protocol's is {given} "
                    f"({signed_percent((rate - e.rate) * 100 / e.rate)})"
                )
    if order.route is not None and e.route is not None and _route(order.route) != _route(e.route):
        problems.append(f"route {order.route}: the protocol's is {e.route}")
    return problems


def _rate(q: Quantity, unit: str) -> Fraction | None:
    """An ordered rate in the protocol's rate unit (mg/h), or None for a rate that is not a mass per time."""
    try:
        pint_unit = parse_unit(q.unit)
        target = parse_unit(unit)
    except RegimenError:
        return None
    if pint_unit.dimensionality != target.dimensionality:
        return None
    return q.value * factor(pint_unit, target)


_ROUTES = {"intravenous": "iv", "intravenous route": "iv", "iv": "iv", "oral": "po", "po": "po", "oral route": "po",
           "subcutaneous": "sc", "sc": "sc", "subcutaneous route": "sc"}  # fmt: skip


def _route(text: str) -> str:
    t = text.strip().lower()
    return _ROUTES.get(t, t)


def signed_percent(pct: Fraction) -> str:
    """'+9.8 %', '-2 %', '0 %': one decimal place, half up (the exact value is in the JSON)."""
    shown = format_decimal(to_decimal(pct, 1))
    return f"+{shown} %" if pct > 0 and not shown.startswith("+") else f"{shown} %"


__all__ = [
    "DEFAULT_TOLERANCE",
    "TOLERANCE_SOURCE",
    "Check",
    "Expected",
    "Tolerance",
    "Verification",
    "VerifyError",
    "orderable",
    "parse_tolerance",
    "signed_percent",
    "verify",
]
