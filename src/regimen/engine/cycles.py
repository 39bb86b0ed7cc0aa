"""The rows of each cycle of one expansion: each component's days laid out once per process, each distinct treatment
day's dose worked out once per plan, and a cycle that repeats an earlier one's variants made from that cycle's rows,
moved to its own days (issue 15). :func:`regimen.engine.expand.expand` drives it; no I/O here."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Container, Hashable, Iterable, Mapping
from fractions import Fraction
from itertools import chain, compress, repeat
from operator import attrgetter
from typing import Any

from regimen.clinical.adjust import Adjustments, PendingRow, unadjusted
from regimen.engine import fastpath
from regimen.engine.cycle_rows import administrations, day_shares, items_of, plain_rows, shared_fields
from regimen.engine.doses import (
    HOURS_PER_DAY,
    DayDose,
    additives_step,
    basis_of,
    choose_variant,
    component_schedule,
    day_doses,
    infusion_dose,
)
from regimen.engine.fastpath import IdentityMemo, moved_rows, new_derivation, rows_of
from regimen.engine.plan import CycleSums, TotalKey
from regimen.errors import RegimenError
from regimen.model import (
    Administration,
    AucDose,
    Component,
    Derivation,
    Infusion,
    Patient,
    Phase,
    Variant,
    resolve_days,
)
from regimen.quantities.days import runs
from regimen.quantities.exact import Rounding, exact_sum, format_fraction
from regimen.quantities.units import ParsedDose

#: The positions of the rows that :meth:`Cycles.rows_where` picked out of a cycle's rows, by its key.
_Picks = dict[Hashable, list[int]]

#: What :func:`_layout` gives: (dose, duration, continuous, [(day, infusion, hours given that day)]).
_Layout = tuple[ParsedDose | AucDose, Fraction | None, bool, tuple[tuple[int, Infusion | None, Fraction], ...]]

#: What :func:`_cycle_parts` gives: (flat doses' rows or None, layouts, components given, order within a day, the
#: fields shared by a component's rows that nothing in the run adjusts, but their derivation).
_Parts = tuple[
    dict[str, tuple[dict[str, Any], ...]] | None,
    dict[str, _Layout],
    tuple[tuple[Component, bool], ...],
    list[str],
    dict[str, dict[str, Any]],
]

# Cycles with the same variants reuse the first such cycle's rows, moved to their own days, and each distinct
# treatment day's dose is worked out once (:class:`Cycles`), while :data:`regimen.engine.fastpath.REUSE` holds:
# only the tests turn it off, to compare every plan with one worked out row by row.


class Cycles:
    """The rows of each cycle of one expansion (one patient, one run's options and rounding).

    A cycle's rows depend on the cycle only through the variants its rules choose: the doses, the working, the
    adjustments (levels, reductions, caps, rounding) are the same in every cycle that chooses the same variants,
    and only the cycle number, the course days, the dates and the infusions' first course days move. So the
    first cycle of each choice of variants is expanded (each distinct day's dose worked out once), and later
    ones are that cycle's rows moved to their days: the same numbers and text, without recomputing them for
    every cycle (capecitabine twice daily for 14 days of 8 cycles is 232 rows, four distinct workings).
    The memos live as long as one expansion, so keys by identity (of the regimen's own objects) are safe."""

    def __init__(self, patient: Patient, rounding: Rounding, adjust: Adjustments) -> None:
        self.patient = patient
        self.rounding = rounding
        self.adjust = adjust
        # the first cycle of each choice of variants: its first course day, rows, sums, picks and whether a row of it
        # is a day of a continuous infusion
        self._first: dict[Hashable, tuple[int, list[Administration], list[tuple[TotalKey, Fraction]], _Picks, bool]]
        self._first = {}
        # each cycle's rows, in the plan's order, with the positions rows_where picked out of the rows of the cycle
        # they repeat (its own, for a cycle expanded)
        self._made: list[tuple[list[Administration], _Picks]] = []
        # the sums of each cycle's doses (:func:`cycle_sums`), cycle after cycle: the plan's totals
        # (totals_of_cycles); a later cycle's are the sums of the cycle it repeats, not a copy
        self.sums: list[CycleSums] = []
        self._days: dict[tuple[object, ...], list[DayDose]]
        self._days = {}
        self._bodies: dict[tuple[int, int], tuple[Fraction, str] | None] = {}
        self._fixed: dict[int, tuple[dict[str, Variant | None], Hashable]] = {}
        self._factor_texts: dict[int, str | None] = {}  # by the body factor's identity (the run holds it)
        # the drugs of the plan's rows: of each cycle expanded, as a later cycle repeats one of those cycles' rows
        self.drugs: set[str] = set()
        # whether any row has a warning or a maximum dose that applied (a later cycle's rows repeat them)
        self.flagged = False

    def rows(
        self, phase: Phase, cycle: int, offset: int, start: dt.date | None, length: int | None
    ) -> list[Administration]:
        fixed = self._fixed.get(id(phase))
        if fixed is None:
            fixed = _same_every_cycle(phase)
            if fixed is not None:
                self._fixed[id(phase)] = fixed
        if fixed is None:
            on = start + dt.timedelta(days=offset) if start is not None else None
            chosen = {
                c.id: choose_variant(c, self.patient, cycle, on) if c.variants else None for c in phase.components
            }
            # the variants chosen (each belongs to one component: the others chose none) and the components a cycle
            # gives, of those given in some cycles only (a test dose only in cycle 1), make its rows
            key: Hashable = (
                id(phase),
                tuple(map(id, filter(None, chosen.values()))),
                tuple(c.given_in(cycle) for c in phase.components if c.in_cycles is not None),
            )
        else:
            chosen, key = fixed
        first = self._first.get(key) if fastpath.REUSE else None
        if first is None:
            rows, sums = self._expand_cycle(phase, cycle, offset, start, length, chosen)
            # each read in C (attrgetter), without a Python step per row
            self.drugs.update(map(_DRUG, rows))
            self.flagged = self.flagged or any(map(_WARNINGS, rows)) or any(map(_CAPS, rows))
            picks: _Picks = {}
            self._first[key] = (offset, rows, sums, picks, any(map(_INFUSION, rows)))
            self._made.append((rows, picks))
            self.sums.append((None, sums))
            return rows
        moved_by, template, sums, picks, infused = first
        shift = offset - moved_by
        self.sums.append((cycle, sums))  # the same doses as the earlier cycle: the same sums, in this cycle
        moved = moved_rows(template, cycle, shift, start, infused)
        self._made.append((moved, picks))
        return moved

    def rows_where(self, key: Hashable, pick: Callable[[Administration], bool]) -> list[Administration]:
        """The plan's rows for which ``pick`` holds, in the plan's order: ``pick`` is asked of each expanded cycle's
        rows alone, as a later cycle's rows are those rows moved (a plan's notes on a few rows, its rate-escalated
        infusions, its anthracyclines or its capped doses, without reading every row of every cycle: issue 29).
        So ``pick`` may read only what moving a row keeps (its drug, component, phase, dose, warnings, caps), not
        its cycle, days or dates. ``key`` names ``pick`` within this expansion: the positions it picks out of a
        cycle's rows are kept under it."""
        return self._picked(key, lambda rows: map(pick, rows))

    def rows_flagged(self) -> list[Administration]:
        """:meth:`rows_where` of the rows with a warning or a maximum dose that applied: each row's two read and
        asked in C (``any`` of the pair of tuples: either not empty)."""
        return self._picked("flagged", lambda rows: map(any, map(_WARNINGS_CAPS, rows)))

    def rows_with(self, key: Hashable, field: str, values: Container[str]) -> list[Administration]:
        """:meth:`rows_where` of the rows whose ``field`` (their drug or component, which moving a row keeps) is one
        of ``values``: each row's field read and looked up in C, with no Python step per row."""
        get = attrgetter(field)
        return self._picked(key, lambda rows: map(values.__contains__, map(get, rows)))

    def _picked(self, key: Hashable, flags: Callable[[list[Administration]], Iterable[bool]]) -> list[Administration]:
        """The rows :meth:`rows_where` gives: ``flags`` says of an expanded cycle's rows whether each is picked."""
        out: list[Administration] = []
        append = out.append
        for rows, picks in self._made:
            at = picks.get(key)
            if at is None:  # the cycle expanded (the first of its kind: _made holds it before those that repeat it)
                at = picks[key] = list(compress(range(len(rows)), flags(rows)))  # the positions, in C
            for i in at:  # a row or two of each cycle: no iterator made for them
                append(rows[i])
        return out

    def _body(self, comp: Component, dose: ParsedDose) -> tuple[Fraction, str] | None:
        key = (id(comp), id(dose))
        if key not in self._bodies:
            self._bodies[key] = self.adjust.body_factor(comp, dose)
        return self._bodies[key]

    def _derivation(self, comp: Component, dose: ParsedDose | AucDose, body: tuple[Fraction, str] | None) -> Derivation:
        """The dose as written and the patient value this component's doses are multiplied by (``body``: the
        component's :meth:`_body` for a dose per kg or per m²)."""
        if isinstance(dose, AucDose):
            gfr = self.adjust.gfr
            assert gfr is not None
            return Derivation(dose, gfr.used + 25, "mL/min", f"{gfr.text} + 25")
        if dose.unit.basis == "flat":  # the dose alone: one object per dose, for every plan (fastpath, 2)
            flat = _FLAT_DERIVATIONS.get((dose,))
            if flat is None:
                flat = _FLAT_DERIVATIONS.put((dose,), (), Derivation(dose, None, None))
            return flat
        if body is None:
            factor, text = basis_of(dose, self.patient)
            if not text:
                return Derivation(dose, None, None)
            return new_derivation(dose, factor, _FACTOR_UNITS[dose.unit.basis])
        factor, text = body
        unit = _FACTOR_UNITS[dose.unit.basis]
        # whether the working's factor is the plain value, once per body factor of the run (the components dosed
        # per m² share one: regimen.clinical.adjust.Adjustments.body_factor), not once per component
        if id(body) in self._factor_texts:
            said = self._factor_texts[id(body)]
        else:
            plain = f" × {format_fraction(factor)} {unit}"
            said = self._factor_texts[id(body)] = None if text == plain else text.removeprefix(" × ")
        return new_derivation(dose, factor, unit, said)

    def _day(
        self,
        comp: Component,
        dose: ParsedDose | AucDose,
        level_step: str,
        continuous: bool,
        duration: Fraction | None,
        hours_today: Fraction,
        body: tuple[Fraction, str] | None,
    ) -> list[DayDose]:
        """One treatment day's doses (amount, rate, hours, working, dose number), worked out once per distinct day;
        a flat dose's, which no patient value changes, once per process (:data:`_FLAT_DAYS`). ``body``: as for
        :meth:`_derivation`."""
        if not isinstance(dose, AucDose) and dose.unit.basis == "flat":
            held = (comp, dose, duration)
            extra = (level_step, continuous, hours_today.numerator, hours_today.denominator, self.rounding)
            flat = _FLAT_DAYS.get(held, extra)
            if flat is None:
                flat = _FLAT_DAYS.put(
                    held,
                    extra,
                    day_doses(
                        comp,
                        dose,
                        continuous,
                        duration,
                        hours_today,
                        self.patient,
                        self.rounding,
                        level_step=level_step,
                    ),
                )
            return flat
        # the regimen's objects and the remembered body factor by identity; the hours by value, as two ints (a
        # Fraction's own hash is a modular inverse: most of the cost of a key)
        key = (id(comp), id(dose), level_step, id(duration), hours_today.numerator, hours_today.denominator, id(body))
        found = self._days.get(key) if fastpath.REUSE else None
        if found is None:
            found = self._days[key] = day_doses(
                comp,
                dose,
                continuous,
                duration,
                hours_today,
                self.patient,
                self.rounding,
                level_step=level_step,
                body=body,
                gfr=self.adjust.gfr,
            )
        return found

    def _expand_cycle(
        self,
        phase: Phase,
        cycle: int,
        offset: int,
        start: dt.date | None,
        length: int | None,
        chosen: Mapping[str, Variant | None],
    ) -> tuple[list[Administration], list[tuple[TotalKey, Fraction]]]:
        """The cycle's rows, in the plan's order, and their sums (:func:`~regimen.engine.plan.cycle_sums`)."""
        adjust, rounding = self.adjust, self.rounding
        made_by: dict[str, list[Administration]] = {}  # each component's rows, as made: by day, then dose number
        flat_rows, layouts, given, order, templates = _cycle_parts(
            phase, chosen, cycle, offset, length, start, rounding
        )
        simple = adjust.changes_nothing  # then whether a component is left alone is the regimen's (given)
        for comp, alone in given:
            plain = alone if simple else adjust.leaves_alone(comp) and not comp.additives
            made = flat_rows.get(comp.id) if plain and flat_rows is not None else None
            if made:  # a flat dose's rows in this cycle, already worked out: nothing else is needed of it
                made_by[comp.id] = rows_of(made)
                continue
            laid = layouts.get(comp.id)
            if laid is None:
                laid = layouts[comp.id] = _layout(phase, comp, chosen, offset, length)
            dose, duration, continuous, layout = laid
            level_dose, level_step = adjust.level(comp, dose)
            # the patient value a dose per kg or per m² is multiplied by: asked once for the component
            body = None
            if not isinstance(level_dose, AucDose) and level_dose.unit.basis != "flat":
                body = self._body(comp, level_dose)
            derivation = self._derivation(comp, level_dose, body)
            unit = dose.unit.output_unit
            if continuous:  # one preparation per infusion, adjusted as a whole, then shared out over its days
                assert not isinstance(level_dose, AucDose)
                whole = self._infusions(comp, level_dose, level_step, duration, layout)
                adjust.apply(comp, whole, unit, continuous)
                shares = day_shares(whole, layout, unit, rounding)
                made_by[comp.id] = administrations(
                    phase, cycle, offset, start, comp, shares, unit, rounding, derivation
                )
                if plain and flat_rows is not None:  # a pump's rows are worked out for each plan
                    flat_rows[comp.id] = ()
                continue
            n = comp.times_per_day
            days = self._layout_doses(comp, level_dose, level_step, duration, layout, body)
            if plain:
                # nothing in this run adjusts the component's doses (the usual run): each row straight from its
                # day's doses, without a row being adjusted in between (issue 29)
                # the fields its rows share but the derivation (which holds the patient's value), once per cycle
                # of the process (issue 29: a dictionary of 28 fields made for every such component of a plan)
                shared = templates.get(comp.id)
                if shared is None:
                    shared = templates[comp.id] = shared_fields(phase, cycle, comp, unit, rounding, None)
                made_rows = plain_rows(shared, derivation, offset, start, days, n)
                if flat_rows is not None:  # not asked before: whether its rows hold a patient value
                    flat = not isinstance(level_dose, AucDose) and level_dose.unit.basis == "flat"
                    # the rows' fields, kept apart from every row's own dictionary; or () when a patient value
                    # is in them (a dose per m², per kg or by AUC), so that the question is not asked again
                    flat_rows[comp.id] = tuple(r.__dict__.copy() for r in made_rows) if flat else ()
                made_by[comp.id] = made_rows
                continue
            pending = [
                PendingRow(
                    day=day,
                    infusion=infusion if k is None else None,
                    amount=amount,
                    rate=rate,
                    hours=hours_given,
                    steps=[calc],
                    dose_number=k,
                    doses_per_day=n if k is not None else None,
                )
                for day, infusion, (amount, rate, hours_given, calc, k) in days
            ]
            adjust.apply(comp, pending, unit, continuous)
            added = additives_step(comp)
            if added is not None:
                for row in pending:
                    row.steps.append(added)
            made_by[comp.id] = administrations(
                phase, cycle, offset, start, comp, items_of(pending, unit, rounding), unit, rounding, derivation
            )
        # by day, then the components' order within a day, then dose number: each component's rows in that order,
        # one after another, sorted by day alone (a stable sort keeps the rest), the key read in C (issue 29)
        rows = list(chain.from_iterable(map(made_by.get, order, repeat((), len(order)))))
        rows.sort(key=_DAY)
        return rows, _sums(made_by, rows)

    def _layout_doses(
        self,
        comp: Component,
        dose: ParsedDose | AucDose,
        level_step: str,
        duration: Fraction | None,
        layout: tuple[tuple[int, Infusion | None, Fraction], ...],
        body: tuple[Fraction, str] | None,
    ) -> list[tuple[int, Infusion | None, DayDose]]:
        """Each dose of a (not continuous) component's days in the cycle, with its day and infusion."""
        out: list[tuple[int, Infusion | None, DayDose]] = []
        # a day's doses by its hours (the layout's own objects): most days of a component share one working
        by_hours: dict[int, list[DayDose]] = {}
        for day, infusion, hours_today in layout:
            doses = by_hours.get(id(hours_today))
            if doses is None:
                doses = by_hours[id(hours_today)] = self._day(
                    comp, dose, level_step, False, duration, hours_today, body
                )
            for one in doses:  # most days give one dose: no generator made for it
                out.append((day, infusion, one))
        return out

    def _infusions(
        self,
        comp: Component,
        dose: ParsedDose,
        level_step: str,
        duration: Fraction | None,
        layout: tuple[tuple[int, Infusion | None, Fraction], ...],
    ) -> list[PendingRow]:
        """One row per continuous infusion of ``comp`` in the cycle: the whole infusion's amount, rate and working."""
        out: list[PendingRow] = []
        seen: set[int] = set()
        body = self._body(comp, dose)
        # infusions of the same length give the same whole amount and working: worked out once (days 1-7 and 15-21)
        works: dict[tuple[int, int], tuple[Fraction, Fraction | None, Fraction | None, str]] = {}
        for day, infusion, _ in layout:
            assert infusion is not None
            if infusion.start_course_day in seen:
                continue
            seen.add(infusion.start_course_day)
            hours = infusion.hours
            found = works.get((hours.numerator, hours.denominator))
            if found is None:
                work = infusion_dose(dose, duration, hours, self.patient, self.rounding, body)
                found = works[(hours.numerator, hours.denominator)] = (
                    work.amount,
                    work.rate,
                    work.hours,
                    f"{level_step}{work.calculation}",
                )
            amount, rate, hours_given, calculation = found
            out.append(
                PendingRow(day=day, infusion=infusion, amount=amount, rate=rate, hours=hours_given, steps=[calculation])
            )
        return out


def _sums(made_by: Mapping[str, list[Administration]], rows: list[Administration]) -> list[tuple[TotalKey, Fraction]]:
    """:func:`~regimen.engine.plan.cycle_sums` of a cycle's ``rows``, from each component's rows (``made_by``, by
    its id) rather than row by row: a component's rows share their key (phase, cycle, drug, component, unit), and
    the keys come in the order the cycle's rows first give them: each component once, in the order its id first
    comes in the rows, read in C (issue 29: the sums are read once per component, not once per row; a test holds
    them to cycle_sums of the rows)."""
    out: list[tuple[TotalKey, Fraction]] = []
    for made in map(made_by.__getitem__, dict.fromkeys(map(_COMPONENT, rows))):
        first = made[0]
        if first.role != "anticancer":  # supportive care is left out of the totals, as cycle_sums leaves it
            continue
        key = (first.phase, first.cycle, first.drug, first.component, first.dose_unit)
        out.append((key, exact_sum(list(map(_DOSE, made)))))
    return out


#: One component's days in a cycle, and where each sits in its infusion, by what decides them: the phase, the
#: variants chosen for its components (a day may be relative to another component's), the component, the cycle's
#: first course day and its length. None of it depends on the patient, so it is worked out once per process, not
#: once per plan (issue 15: a sixth of a plan of 37 rows). The entries hold the objects they were made from, so
#: that a key of identities is never taken for another regimen's after one is freed; the memo is emptied when full.
_LAYOUTS: IdentityMemo[_Layout] = IdentityMemo(max_entries=4096)
#: A flat dose's derivation (the dose alone), and a flat dose's day (its doses and working: no patient value is in
#: them), by the regimen's objects they were made from and the run's level step, hours and rounding: worked out once
#: per process, not once per plan (issue 29: half the components of R-CHOP-21 are flat, its premedication too).
_FLAT_DERIVATIONS: IdentityMemo[Derivation] = IdentityMemo(max_entries=4096)
_FLAT_DAYS: IdentityMemo[list[DayDose]] = IdentityMemo(max_entries=4096)
#: What a cycle of a phase is made from, besides the patient: (1) each flat dose's rows, by its component's id, when
#: nothing in the run adjusts them (each row's fields, in the class's order), or () for a component whose rows hold a
#: patient value; (2) each component's :func:`_layout`, by its id; (3) the components given in the cycle, each with
#: whether the regimen alone leaves its doses as they are (:func:`regimen.clinical.adjust.unadjusted`, and nothing
#: added to its fluid: in a run that changes nothing, :attr:`~regimen.clinical.adjust.Adjustments.changes_nothing`,
#: that is whether the run leaves it alone); (4) the phase's components' ids in their order within a day
#: (:func:`component_order`); (5) by its id, the fields the rows of a component that nothing in the run adjusts
#: share, but the derivation (:func:`~regimen.engine.cycle_rows.shared_fields`). By the regimen's objects they were
#: made from (the phase, which holds its components, and the variants chosen: a day may be relative to another
#: component's) and the cycle, its first course day and length, the start date and the rounding (a run that adjusts
#: nothing has no level step). An entry of (1), (2) or (5) is added when a component is first worked out in the
#: cycle, and then never changes. No patient value is in any of it, so it is worked out once per process: each
#: plan's rows of a flat dose are copies of (1), each row's own (issue 29: the supportive rows, antiemetics and
#: premedication, were most of the rows of an R-CHOP-21 plan's first cycle). One look-up per cycle expanded, not
#: one per component nor one for each part (a key of 13 objects in dd-AC-T).
_CYCLE_PARTS: IdentityMemo[_Parts] = IdentityMemo(max_entries=4096)


def _cycle_parts(
    phase: Phase,
    chosen: Mapping[str, Variant | None],
    cycle: int,
    offset: int,
    length: int | None,
    start: dt.date | None,
    rounding: Rounding,
) -> _Parts:
    """What a cycle of ``phase`` is made from (:data:`_CYCLE_PARTS`), an entry made when there is none; while
    :data:`regimen.engine.fastpath.REUSE` is off, worked out for this expansion alone, with no flat rows (None: every
    row worked out)."""
    held = _chosen(phase, chosen)
    extra = (cycle, offset, -1 if length is None else length, start, rounding)
    found = _CYCLE_PARTS.get(held, extra)
    if found is not None:
        return found
    given = tuple((c, unadjusted(c) and not c.additives) for c in phase.components if c.given_in(cycle))
    rank = component_order(phase)
    parts: _Parts = ({}, {}, given, sorted(rank, key=rank.__getitem__), {})
    if not fastpath.REUSE:
        return None, {}, given, parts[3], {}
    return _CYCLE_PARTS.put(held, extra, parts)


def _chosen(phase: Phase, chosen: Mapping[str, Variant | None]) -> tuple[object, ...]:
    """What decides a cycle of ``phase`` besides the cycle itself, as a memo's held objects: the phase and each
    variant chosen. A variant belongs to one component, so the variants chosen name the choice of every component
    (the others chose none) without a None held for each (issue 29: most phases choose no variant)."""
    return (phase, *filter(None, chosen.values()))


#: For a phase with no variant and no component given in some cycles only: what each of its cycles chooses (every
#: component's variant, None) and the key of its rows (``Cycles.rows``), the same in every cycle of every plan; None
#: for a phase whose cycles choose for themselves. By the phase's identity, holding it (regimen.engine.fastpath, 2):
#: worked out once per process, not once per plan (issue 29). The choice is only read, never changed.
_SAME_EACH_CYCLE: IdentityMemo[tuple[tuple[dict[str, Variant | None], Hashable] | None]] = IdentityMemo(4096)


def _same_every_cycle(phase: Phase) -> tuple[dict[str, Variant | None], Hashable] | None:
    found = _SAME_EACH_CYCLE.get((phase,))
    if found is None:
        plain = not any(c.variants or c.in_cycles is not None for c in phase.components)
        # the key Cycles.rows makes of such a cycle: no variant chosen, no component given in some cycles only
        none: dict[str, Variant | None] = {c.id: None for c in phase.components}
        key: Hashable = (id(phase), (), ())
        same = (none, key) if plain else None
        found = _SAME_EACH_CYCLE.put((phase,), (), (same,))
    return found[0]


_DAY = attrgetter("day")
_DRUG, _WARNINGS, _CAPS, _DOSE = attrgetter("drug"), attrgetter("warnings"), attrgetter("caps"), attrgetter("dose")
_INFUSION, _WARNINGS_CAPS, _COMPONENT = attrgetter("infusion"), attrgetter("warnings", "caps"), attrgetter("component")
_FACTOR_UNITS = {"weight": "kg", "bsa": "m²"}  # the unit of a dose's patient factor, by the dose's basis


def component_order(phase: Phase) -> dict[str, tuple[int, int, int]]:
    """The order of a phase's components within a day: as the file lists them, except that a component given
    ``before`` another comes just before it (premedication before the drug it prepares for)."""
    ids = {c.id for c in phase.components}
    ordered = [c.id for c in phase.components if c.before not in ids]
    pending = [c for c in phase.components if c.before in ids]
    while pending:  # each just before its target, following chains (pre-hydration before mannitol before cisplatin)
        placed = [c for c in pending if c.before in ordered]
        if not placed:  # a loop of 'before': the loader refuses it; kept in file order here
            ordered += [c.id for c in pending]
            break
        for c in placed:
            assert c.before is not None
            ordered.insert(ordered.index(c.before), c.id)
            pending.remove(c)
    return {cid: (i, 0, 0) for i, cid in enumerate(ordered)}


def _layout(
    phase: Phase, comp: Component, chosen: Mapping[str, Variant | None], offset: int, length: int | None
) -> _Layout:
    """``comp``'s dose, duration, whether it is continuous, and each of its days in this cycle with its infusion
    and the hours given that day."""
    held = (comp, *_chosen(phase, chosen))
    extra = (offset, -1 if length is None else length)
    found = _LAYOUTS.get(held, extra)
    if found is not None:
        return found
    dose, duration = component_schedule(comp, chosen[comp.id])
    days = resolve_days(phase, comp.id, lambda c: chosen[c.id])
    if length is not None and days[-1] > length:
        raise RegimenError(f"{comp.id} falls on day {days[-1]}, after the end of the {length}-day cycle")
    continuous = comp.method == "continuous infusion"
    infusions: list[tuple[int, int, Fraction]] = []  # (first day, treatment days, elapsed hours)
    if continuous:
        for a, b in runs(days):
            if duration is None:  # one infusion over the whole run of days
                infusions.append((a, b - a + 1, (b - a + 1) * HOURS_PER_DAY))
                continue
            size = math.ceil(duration / HOURS_PER_DAY)  # 46 h runs on 2 treatment days: 24 h, then 22 h
            infusions.extend((d, size, duration) for d in range(a, b + 1, size))
    layout: list[tuple[int, Infusion | None, Fraction]] = []
    for day in days:
        infusion = None
        hours_today = HOURS_PER_DAY
        if continuous:
            first, size, hours = next((f, s, h) for f, s, h in infusions if f <= day < f + s)
            infusion = Infusion(start_course_day=offset + first, hours=hours, day_index=day - first + 1, days=size)
            hours_today = infusion.hours_today
        layout.append((day, infusion, hours_today))
    made: _Layout = (dose, duration, continuous, tuple(layout))
    return _LAYOUTS.put(held, extra, made)


__all__ = ["Cycles", "component_order"]
