"""From the protocol's dose to the dose given: maximum doses, dose levels, changes of dose and rounding.

Applied to each component's rows of one cycle, in this order, each step written into the working as
"before → after" (issue 24: a change of dose applies to the dose as it would be given, so it always changes it):

1. the protocol's dose, or the dose a dose level states in its place (``levels = { "-2" = "9 mg/m²/day" }``);
2. the regimen's maximum doses: ``max_daily`` (each day), ``max_dose`` (each administration; a continuous
   infusion is one administration over its days), ``max_per_cycle`` (all doses of the cycle, scaled
   together). A capped dose is the full dose as it would be given; the cap is a note of the plan;
3. a dose level given as a percentage (``"-1" = "75%"``), then the run's change of dose
   (:class:`~regimen.clinical.dose_change.DoseChange`, "80 % of the dose (reduced by 20 %)"): each multiplies the
   capped dose, so vincristine 1.4 mg/m² capped at 2 mg and given at 75 % is 1.5 mg at any BSA over 1.43 m²;
4. the renal table's percentage for the patient's kidney function (:mod:`regimen.clinical.renal_adjust`), or the
   drug left out when its source says avoid or contraindicated: it also multiplies the dose as it would be given;
5. rounding to an increment or to whole vials (:mod:`regimen.clinical.rounding`), never beyond the threshold
   and never above a maximum. A change of dose that rounding undoes (the rounded dose is the full dose again) is a
   warning.

A continuous infusion comes here as one row for the whole infusion (one pump or bag, as it is prepared): it is
capped, changed and rounded as a whole, and its days' shares follow from the result (its rate times each day's
hours). Its daily maximum caps its fullest day.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from operator import attrgetter

from regimen.clinical.formulary import example_path
from regimen.clinical.gfr import Gfr
from regimen.clinical.options import ClinicalError, ClinicalOptions
from regimen.clinical.prepare import Prepared, component_weight_key
from regimen.clinical.pretreatment import check_dpyd, is_fluoropyrimidine
from regimen.clinical.renal_adjust import RenalPlan, renal_plan
from regimen.clinical.rounding import Rounder, round_dose
from regimen.errors import option
from regimen.model import Administration, Amount, Component, Dose, DoseLevel, Infusion, Regimen
from regimen.quantities.days import describe_days
from regimen.quantities.exact import format_fraction
from regimen.quantities.units import ParsedDose


@dataclass(slots=True)
class PendingRow:
    """One day's amount of one component while it is being adjusted."""

    day: int
    infusion: Infusion | None
    amount: Fraction
    rate: Fraction | None
    hours: Fraction | None
    steps: list[str]
    warnings: list[str] = field(default_factory=list)
    calculated: Fraction | None = None  # the amount before rounding, when rounded
    caps: list[str] = field(default_factory=list)  # the protocol's maximum doses that applied (notes, not warnings)
    dose_number: int | None = None  # with several doses a day, which one
    doses_per_day: int | None = None
    full: Fraction | None = None  # the dose as it would be given before a change of dose, when one applied
    first: Fraction = field(init=False)  # the amount as the first step worked it out, before any adjustment

    def __post_init__(self) -> None:
        self.first = self.amount

    def scale(self, k: Fraction) -> None:
        self.amount *= k
        if self.rate is not None:
            self.rate *= k


#: How an error names each option whose keys :meth:`Adjustments.for_run` checks against the regimen (the changes of
#: dose, the increments to round to, the dose levels), written once rather than for every plan.
_CHECKED = (f"{option('dose_percent')} (or {option('reduce_by')})", option("round_to"), option("dose_level"))


def _amt(x: Fraction, unit: str) -> str:
    return f"{format_fraction(x)} {unit}"


def _level_pct(p: Fraction) -> str:
    """A dose level's percentage in both readings, as a change of dose is written."""
    if p < 100:
        return f"{format_fraction(p)} % of the dose (reduced by {format_fraction(100 - p)} %)"
    return f"{format_fraction(p)} % of the dose"


def _matches(comp: Component, key: str) -> bool:
    return key.lower() in (comp.id, comp.drug.lower())


@dataclass(slots=True)
class Adjustments:
    regimen: Regimen
    options: ClinicalOptions
    prepared: Prepared
    notes: list[str] = field(default_factory=list)
    renal: RenalPlan = field(default_factory=RenalPlan)  # kidney function (regimen.clinical.renal_adjust)
    #: True when the run changes no dose by level, percentage or DPYD result and rounds none by --round or vials
    #: (the usual run): each component's pipeline then skips those steps without looking each one up (issue 29)
    unchanged: bool = False
    #: each body factor with its working text, by what decides it ('bsa', or the dosing-weight key): worked out
    #: once per run, not once per component (the text formats the same number every time)
    _bodies: dict[str, tuple[Fraction, str] | None] = field(default_factory=dict)

    @property
    def gfr(self) -> Gfr | None:
        return self.prepared.gfr

    @classmethod
    def for_run(cls, regimen: Regimen, options: ClinicalOptions, prepared: Prepared) -> Adjustments:
        """Check the run's choices against the regimen (unknown drugs, undefined dose levels) before expanding."""
        comps = regimen.once(_components)
        for name, keys in zip(_CHECKED, (options.dose_changes, options.round_to, options.dose_levels), strict=True):
            for key in keys:
                if not any(_matches(c, key) for c in comps):
                    names = ", ".join(dict.fromkeys(c.drug for c in comps))
                    raise ClinicalError(
                        f"{name} {key}: {regimen.id} has no drug or component {key!r}; its drugs are {names}"
                    )
        out = cls(regimen, options, prepared)
        out.unchanged = (
            not options.dose_levels
            and not options.dose_level
            and not options.dose_changes
            and options.dpyd is None
            and not options.round_to
            and not (options.vial_round and options.formulary is not None)
        )
        level = options.dose_level
        if level is not None and level != 0:
            with_levels = [c for c in comps if c.levels]
            if not with_levels:
                raise ClinicalError(
                    f"{option('dose_level')} {level}: {regimen.id} defines no dose levels; use "
                    f"{option('dose_percent')} DRUG=80% or {option('reduce_by')} DRUG=20% for a change of dose "
                    "the protocol does not tabulate"
                )
            for c in with_levels:
                if _find_level(c, level) is None:
                    defined = ", ".join(str(x.level) for x in c.levels)
                    raise ClinicalError(
                        f"{option('dose_level')} {level}: {c.drug} has no dose level {level} in "
                        f"{regimen.id} (it has {defined})"
                    )
            out.notes.append(f"dose level {level}: applied to {', '.join(c.drug for c in with_levels)}")
            out.notes.extend(
                f"dose level {level}: {c.drug} has no dose levels in {regimen.id}: full dose"
                for c in comps
                if not c.levels
            )
        for key, drug_level in options.dose_levels.items():
            for c in (c for c in comps if _matches(c, key)):
                if drug_level != 0 and _find_level(c, drug_level) is None:
                    defined = ", ".join(str(x.level) for x in c.levels) or "none"
                    raise ClinicalError(
                        f"{option('dose_level')} {key}={drug_level}: {c.drug} has no dose level "
                        f"{drug_level} in {regimen.id} (its levels: {defined})"
                    )
            out.notes.append(f"dose level {drug_level}: applied to {key}")
        if options.vial_round and options.formulary is None:
            raise ClinicalError(
                f"{option('vial_round')} needs a formulary of vial sizes: pass {option('formulary')} FILE"
            )
        if options.formulary is not None and options.vial_round:
            f = options.formulary
            if f.status or (f.path and f.path == str(example_path())):
                prepared.warnings.append(
                    f"vial sizes from formulary {f.name!r} ({f.status or 'example'}): check them "
                    "against your pharmacy's stock"
                )
        if options.dpyd is not None:
            check_dpyd(regimen, options.dpyd)
        for key, change in options.dose_changes.items():
            out.notes.append(
                f"{key}: every dose is {change.working()}, applied to the dose as it would be given (after the "
                "regimen's maximum doses), before rounding"
            )
        out.renal = renal_plan(regimen, prepared, options, out.notes)
        return out

    # ---- dose levels -----------------------------------------------------------------------------

    def level_of(self, comp: Component) -> int | None:
        """The dose level this component is given at: its own (by drug or component id), else the run's."""
        own = next((lvl for key, lvl in self.options.dose_levels.items() if _matches(comp, key)), None)
        return own if own is not None else self.options.dose_level

    def level(self, comp: Component, dose: Dose) -> tuple[Dose, str]:
        """The dose to calculate with, and a prefix for the working when a level replaces the dose."""
        if self.unchanged:
            return dose, ""
        lvl = _find_level(comp, self.level_of(comp)) if self.level_of(comp) else None
        if lvl is None or lvl.dose is None:
            return dose, ""
        return lvl.dose, f"dose level {lvl.level}: {lvl.dose.display} instead of {dose.display}: "

    def body_factor(self, comp: Component, dose: ParsedDose) -> tuple[Fraction, str] | None:
        """The dosing weight or (capped) BSA for a dose per kg or per m², with its working text (the same object for
        every component that uses the same one)."""
        basis = dose.unit.basis
        if basis == "weight":
            key = component_weight_key(self.regimen, comp, self.options)
        elif basis == "bsa":
            key = "bsa"
        else:
            return None
        if key in self._bodies:
            return self._bodies[key]
        found = self._bodies[key] = self._body_factor(key)
        return found

    def _body_factor(self, key: str) -> tuple[Fraction, str] | None:
        if key != "bsa":
            weight = self.prepared.weights.get(key)
            if weight is None:
                return None
            label = f" ({weight.label})" if weight.label else ""
            return weight.kg, f" × {format_fraction(weight.kg)} kg{label}"
        if self.prepared.dosing_bsa is not None:
            label = f" ({self.prepared.bsa_label})" if self.prepared.bsa_label else ""
            return self.prepared.dosing_bsa, f" × {format_fraction(self.prepared.dosing_bsa)} m²{label}"
        return None

    # ---- the pipeline ----------------------------------------------------------------------------

    def leaves_alone(self, comp: Component) -> bool:
        """True when :meth:`apply` changes nothing of ``comp``'s rows in this run: no maximum dose, no change of
        dose, no rounding and no renal table row that holds (the engine then makes its rows without it)."""
        renal = self.renal
        return (
            self.unchanged
            and unadjusted(comp)
            and (renal.kidney is None or (id(comp) not in renal.rows and id(comp) not in renal.with_drug))
        )

    @property
    def changes_nothing(self) -> bool:
        """True when this run changes no dose and no renal table row holds: :meth:`leaves_alone` then depends on
        the component alone (:func:`unadjusted`), which the engine may work out once per regimen object."""
        return self.unchanged and (self.renal.kidney is None or not self.renal.rows)

    def apply(self, comp: Component, rows: list[PendingRow], unit: str, continuous: bool) -> None:
        if continuous and comp.max_daily is not None:  # a whole infusion: its fullest day is capped
            for row in rows:
                said = _cap_fullest_day(row, comp.max_daily, unit)
                if said is not None:
                    row.caps.append(said)
        # each maximum the component has, in turn (the rows are grouped only for a maximum it has: most have none)
        if comp.max_daily is not None and not continuous:
            _capped(_by_day(rows), comp.max_daily, unit, "per day")
        if comp.max_dose is not None:
            if continuous:
                _capped(_by_infusion(rows), comp.max_dose, unit, "per administration (the whole infusion)")
            else:
                _capped([[row] for row in rows], comp.max_dose, unit, "per administration")
        if comp.max_per_cycle is not None:
            _capped([rows], comp.max_per_cycle, unit, "per cycle")
        self._scale_steps(comp, rows, unit)  # after the caps: a change applies to the dose as it would be given
        self.renal.apply(comp, rows, unit)  # kidney function: after the caps, before rounding
        self._round(comp, rows, unit, continuous)

    def _scale_steps(self, comp: Component, rows: list[PendingRow], unit: str) -> None:
        if self.unchanged:  # no level, change of dose or DPYD result in this run
            return
        lvl = _find_level(comp, self.level_of(comp)) if self.level_of(comp) else None
        scalings: list[tuple[Fraction, str]] = []
        if lvl is not None and lvl.percent is not None:
            scalings.append((lvl.percent / 100, f"dose level {lvl.level}: {_level_pct(lvl.percent)}"))
        for key, change in self.options.dose_changes.items():
            if _matches(comp, key):
                scalings.append((change.factor, change.working()))
        scalings.extend(self._dpyd_steps(comp))
        for factor, what in scalings:
            for row in rows:
                before = row.amount
                if row.full is None:
                    row.full = before
                row.scale(factor)
                row.steps.append(f"{what}: {_amt(before, unit)} → {_amt(row.amount, unit)}")

    def _dpyd_steps(self, comp: Component) -> list[tuple[Fraction, str]]:
        """The DPYD result's change of a fluoropyrimidine's dose (CPIC), after the caps like any change of dose."""
        dpyd = self.options.dpyd
        change = dpyd.change() if dpyd is not None and is_fluoropyrimidine(comp) and not comp.supportive else None
        return [(change.factor, dpyd.working())] if change is not None and dpyd is not None else []

    def _rounder(self, comp: Component, unit: str) -> Rounder | None:
        o = self.options
        if not self.unchanged:  # else no --round and no vials in this run: the regimen's own increment, if any
            increment = next((a for k, a in o.round_to.items() if _matches(comp, k)), None)
            if increment is not None:
                return Rounder(f"{increment.text} increments (--round)", increment=increment.in_unit(unit))
            if o.vial_round and o.formulary is not None:
                stock = o.formulary.stock(comp.drug)
                if stock is not None:
                    sizes = ", ".join(_amt(v, stock.unit) for v in stock.vials)
                    vials = tuple(Amount("", v, stock.unit).in_unit(unit) for v in stock.vials)
                    return Rounder(f"whole vials of {sizes} (formulary {o.formulary.name})", vials=vials)
                self.notes.append(f"{comp.drug}: not in formulary {o.formulary.name!r}: not rounded to vials")
        if comp.round_to is not None:
            return Rounder(f"{comp.round_to.text} increments (regimen)", increment=comp.round_to.in_unit(unit))
        return None

    def _round(self, comp: Component, rows: list[PendingRow], unit: str, continuous: bool) -> None:
        rounder = self._rounder(comp, unit)
        if rounder is None:
            return
        o = self.options
        for i, row in enumerate(rows):
            ceilings = [c.in_unit(unit) for c in (comp.max_dose,) if c is not None]
            if comp.max_daily is not None:  # a continuous infusion's whole amount: its fullest day within the cap
                whole = row.hours / _fullest_day(row) if continuous and row.hours else Fraction(1)
                ceilings.append(comp.max_daily.in_unit(unit) * whole)
            if comp.max_per_cycle is not None:
                others = sum((r.amount for j, r in enumerate(rows) if j != i), Fraction(0))
                ceilings.append(comp.max_per_cycle.in_unit(unit) - others)
            result = round_dose(
                row.amount, unit, rounder, o.threshold, o.threshold_label, min(ceilings) if ceilings else None
            )
            row.steps.append(result.text)
            if result.warning:
                row.warnings.append(result.warning)
            if result.rounded:
                row.calculated = row.amount
                row.amount = result.amount
                if row.rate is not None and row.hours:
                    row.rate = row.amount / row.hours
                if row.full is not None and row.full != row.calculated and row.amount == row.full:
                    row.warnings.append(
                        f"the change of dose was undone by rounding: {_amt(row.calculated, unit)} rounds to "
                        f"{_amt(row.amount, unit)}, the full dose; choose a finer rounding or another change"
                    )


def _fullest_day(row: PendingRow) -> Fraction:
    """The hours of a whole continuous infusion's fullest day (24, or all of it when shorter)."""
    assert row.hours is not None
    return min(row.hours, Fraction(24))


def _cap_fullest_day(row: PendingRow, cap: Amount, unit: str) -> str | None:
    """A whole continuous infusion scaled so that its fullest day's share is at most ``cap`` (one rate throughout,
    as a pump runs); the working says so. What it did is returned for the plan's notes."""
    if row.rate is None or row.hours is None:
        return None
    limit, fullest = cap.in_unit(unit), _fullest_day(row)
    day = row.rate * fullest
    if day <= limit:
        return None
    before = row.amount
    row.scale(limit / day)
    row.steps.append(
        f"capped at the regimen maximum {cap.text} per day: its fullest day ({format_fraction(fullest)} h) "
        f"{_amt(day, unit)} → {_amt(limit, unit)}, the whole infusion {_amt(before, unit)} → {_amt(row.amount, unit)}"
    )
    return f"dose capped at the regimen maximum {cap.text} per day (calculated {_amt(day, unit)} on its fullest day)"


def _components(regimen: Regimen) -> tuple[Component, ...]:
    return tuple(regimen.components())


def unadjusted(comp: Component) -> bool:
    """True when the regimen gives ``comp`` no maximum dose and no increment to round to: in a run that changes
    nothing (:attr:`Adjustments.changes_nothing`), :meth:`Adjustments.apply` leaves its rows as they are."""
    return comp.max_dose is None and comp.max_daily is None and comp.max_per_cycle is None and comp.round_to is None


def _find_level(comp: Component, level: int | None) -> DoseLevel | None:
    return next((x for x in comp.levels if x.level == level), None)


def _capped(groups: list[list[PendingRow]], cap: Amount, unit: str, what: str) -> None:
    """Each group of rows held to ``cap`` together (:func:`_cap`), and what it did said on each of its rows."""
    for group in groups:
        said = _cap(group, cap, unit, what)
        if said is not None:
            for row in group:
                row.caps.append(said)


def _by_day(rows: list[PendingRow]) -> list[list[PendingRow]]:
    """Rows of one treatment day together (several doses a day share the day's maximum)."""
    days: dict[int, list[PendingRow]] = {}
    for row in rows:
        days.setdefault(row.day, []).append(row)
    return list(days.values())


def _by_infusion(rows: list[PendingRow]) -> list[list[PendingRow]]:
    groups: dict[int, list[PendingRow]] = {}
    for row in rows:
        key = row.infusion.start_course_day if row.infusion is not None else row.day
        groups.setdefault(key, []).append(row)
    return list(groups.values())


def _cap(rows: list[PendingRow], cap: Amount, unit: str, what: str) -> str | None:
    """Scale ``rows`` together so their total is at most ``cap``; say so in the working. The cap is the protocol's,
    so it is no warning: what it did is returned for the plan's notes."""
    limit = cap.in_unit(unit)
    # one row's total is its amount (most maxima are per administration: a group of one)
    total = rows[0].amount if len(rows) == 1 else sum((r.amount for r in rows), Fraction(0))
    n, d = total.numerator, total.denominator
    if n * limit.denominator <= limit.numerator * d:  # total <= limit, in integers (denominators are positive)
        return None
    total_text = _amt(total, unit)  # each number written once: a row of one is its total
    if len(rows) == 1 and rows[0].rate is None:  # the usual maximum, one dose with no rate: it is now the cap
        row = rows[0]
        row.amount = limit  # the number row.scale(limit / total) gives, without the two Fractions made for it
        row.steps.append(f"capped at the regimen maximum {cap.text} {what}: {total_text} → {_amt(limit, unit)}")
        return f"dose capped at the regimen maximum {cap.text} {what} (calculated {total_text})"
    k = limit / total
    whole = f"total {total_text}" if len(rows) > 1 else total_text
    share = f" (× {_amt(limit, unit)} / {total_text})" if len(rows) > 1 else ""
    for row in rows:
        before = row.amount
        row.scale(k)
        was = total_text if before is total else _amt(before, unit)
        row.steps.append(f"capped at the regimen maximum {cap.text} {what}: {was} → {_amt(row.amount, unit)}{share}")
    return f"dose capped at the regimen maximum {cap.text} {what} (calculated {whole})"


def row_warnings(rows: Iterable[Administration], attribute: str = "warnings") -> list[str]:
    """Row warnings (or ``caps``) gathered for the plan: one line per drug and message, naming the days, each once
    (twice-daily doses are one day), and the cycles that share the same days together: 'capecitabine (cycles 1–8,
    days 1–14): ...', 'vincristine (cycle 1, days 1 and 8): ...'."""
    found: dict[tuple[str, str], list[tuple[str, int, int]]] = {}
    for r in filter(attrgetter(attribute), rows):  # most rows have none: skipped without a Python step each
        place = (r.phase, r.cycle, r.day)
        for w in getattr(r, attribute):
            found.setdefault((r.drug, w), []).append(place)
    return [f"{drug} ({_places(tuple(places))}): {w}" for (drug, w), places in found.items()]


@functools.lru_cache(maxsize=1024)
def _places(places: tuple[tuple[str, int, int], ...]) -> str:
    """Where a warning holds (each row's phase, cycle and day, in the rows' order): the cycles of each phase that
    share the same days said together. Remembered by the places alone, which no patient value is in: every plan of
    R-CHOP-21 caps vincristine on the same days, and saying them was 3 % of its plan (issue 29)."""
    cycles: dict[tuple[str, int], dict[int, None]] = {}
    for phase, cycle, day in places:
        cycles.setdefault((phase, cycle), {})[day] = None
    together: dict[tuple[str, tuple[int, ...]], list[int]] = {}
    for (phase, cycle), days in cycles.items():
        together.setdefault((phase, tuple(days)), []).append(cycle)
    said = []
    for (phase, shared), numbers in together.items():
        label = "" if phase == "main" else f"{phase} "
        said.append(f"{label}{describe_days(numbers).replace('day', 'cycle', 1)}, {describe_days(shared)}")
    return "; ".join(said)


__all__ = ["Adjustments", "PendingRow", "row_warnings", "unadjusted"]
