"""The least time an infusion with a rate escalation takes, worked out exactly and said in the plan's notes.

A component with ``[[component.rate_escalation]]`` (rituximab: start at 50 mg/h, up by 50 mg/h every 30 minutes to
at most 400 mg/h) has no fixed duration: each step is taken only if the infusion is tolerated. A plan therefore
never sets such a row's duration or end (its clock end stays "not known"); it states, for the dose the row gives,
the steps and the least time the dose takes if every step is tolerated:

    675 mg: 50, 100, 150, 200, 250, 300 mg/h for 30 min each = 25 + 50 + 75 + 100 + 125 + 150 = 525 mg in 3 h;
    the remaining 150 mg at 350 mg/h take 150/350 h ≈ 25.71 min; at least 3 h 26 min if each step is tolerated

A step's rate is ``start + k × step`` capped at the maximum. Every step below the maximum that the dose outlasts is
given whole (rate × step time); what remains is given at the next rate (at the maximum, all the rest). The
arithmetic is exact (fractions); only the total is rounded, to the nearest minute (a half minute up), and the text
says so when it is not a whole number of minutes.

The course's first infusion of the component (its earliest row in the plan) follows the ``first`` row; every later
one the ``later`` row (or, without one, nothing is said of it).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import compress
from operator import attrgetter

from regimen.model import RATE_INFUSIONS, Administration, RateEscalation, Regimen
from regimen.quantities.days import describe_days
from regimen.quantities.exact import Rounding, amount_text, format_fraction


@dataclass(frozen=True, slots=True)
class LeastTime:
    """How a dose is given if every step is tolerated: the rates of the steps given whole (each for the row's step
    time), then ``rest`` at ``last_rate``; ``hours`` in all, exact."""

    whole: tuple[Fraction, ...]
    last_rate: Fraction
    rest: Fraction
    hours: Fraction


def least_time(amount: Fraction, row: RateEscalation) -> LeastTime:
    """The steps that give ``amount`` (in the row's unit) fastest under ``row``: each whole step below the maximum
    that the dose outlasts, then the rest at the next rate."""
    if amount <= 0:
        raise ValueError(f"a rate escalation needs an amount above zero, got {amount}")
    whole: list[Fraction] = []
    remaining = amount
    rate = row.start
    while rate < row.maximum and rate * row.every_hours < remaining:
        whole.append(rate)
        remaining -= rate * row.every_hours
        rate = min(rate + row.step, row.maximum)
    return LeastTime(tuple(whole), rate, remaining, len(whole) * row.every_hours + remaining / rate)


def _clock(minutes: int) -> str:
    """'3 h 26 min', '2 h', '45 min'."""
    h, m = divmod(minutes, 60)
    if not h:
        return f"{m} min"
    return f"{h} h {m} min" if m else f"{h} h"


def _span(hours: Fraction) -> str:
    """A time worked out exactly: '3 h', '1 h 30 min', or in hours when it is not a whole number of minutes."""
    minutes = hours * 60
    return _clock(int(minutes)) if minutes.denominator == 1 else f"{format_fraction(hours)} h"


@functools.lru_cache(maxsize=4096)
def working(amount: Fraction, row: RateEscalation, rounding: Rounding) -> str:
    """The steps that give ``amount`` under ``row`` and the least time, in words a nurse can check by hand. Cached:
    a pure function of its (immutable) arguments, the same for every later cycle and for every plan of a dose."""
    t = least_time(amount, row)
    unit = row.unit
    parts: list[str] = []
    if t.whole:
        delivered = [r * row.every_hours for r in t.whole]
        rates = ", ".join(format_fraction(r) for r in t.whole)
        each = f"for {row.every_text}" + (" each" if len(t.whole) > 1 else "")
        sums = " + ".join(format_fraction(d) for d in delivered)
        total = amount_text(sum(delivered, Fraction(0)), unit, rounding)
        given = f"{sums} = {total}" if len(delivered) > 1 else total
        parts.append(f"{rates} {unit}/h {each} = {given} in {_span(len(t.whole) * row.every_hours)}")
        rest = f"the remaining {amount_text(t.rest, unit, rounding)}"
    else:
        rest = f"all {amount_text(t.rest, unit, rounding)}"
    minutes = t.rest / t.last_rate * 60
    exact = (minutes * 100).denominator == 1
    said = f"= {format_fraction(minutes)} min" if exact else f"≈ {format_fraction(minutes, 2)} min"
    maximum = " (the maximum)" if t.last_rate == row.maximum and t.whole else ""
    parts.append(
        f"{rest} at {format_fraction(t.last_rate)} {unit}/h{maximum} take "
        f"{format_fraction(t.rest)}/{format_fraction(t.last_rate)} h {said}"
    )
    total_minutes = t.hours * 60
    rounded = math.floor(total_minutes + Fraction(1, 2))
    how = "" if total_minutes.denominator == 1 else " (rounded to the nearest minute)"
    parts.append(f"at least {_clock(rounded)}{how} if each step is tolerated")
    return f"{amount_text(amount, unit, rounding)}: " + "; ".join(parts)


_COMPONENT = attrgetter("component")


@functools.lru_cache(maxsize=4096)
def _where(phased: bool, given: tuple[tuple[str, int, int], ...]) -> str:
    """Which rows a note is about, from their (phase, cycle, day) in plan order: 'cycle 1 day 1', 'cycles 2–8 day
    1', 'cycle 1 days 8, 15 and 22; cycles 2–4 days 1, 8, 15 and 22' (each phase named when the regimen has
    several). Cached: a pure function of its arguments (strings and ints, cheap to hash), which depend on the
    regimen's days and cycles and not on the patient."""
    days_of: dict[tuple[str, int], list[int]] = {}
    for phase, cycle, day in given:
        days_of.setdefault((phase, cycle), [])
        if day not in days_of[(phase, cycle)]:
            days_of[(phase, cycle)].append(day)
    runs: dict[tuple[str, tuple[int, ...]], list[int]] = {}
    for (phase, cycle), given_days in days_of.items():
        runs.setdefault((phase, tuple(given_days)), []).append(cycle)
    out = []
    for (phase, days), cycles in runs.items():
        label = f"{phase}: " if phased else ""
        which = describe_days(tuple(cycles)).split(" ", 1)[1]
        out.append(f"{label}{'cycle' if len(cycles) == 1 else 'cycles'} {which} {describe_days(days)}")
    return "; ".join(out)


#: What :func:`escalated` gives: for each rate-escalated component id (in file order), for each phase id giving it,
#: the drug and, for 'first' and 'later', the row's description and source as the note says them (or None).
Escalated = dict[str, dict[str, tuple[str, dict[str, tuple[RateEscalation, str] | None]]]]


def escalated(regimen: Regimen) -> Escalated:
    """The regimen's rate-escalated components and the part of each note that depends on the regimen alone (the
    engine works it out once per regimen object: :mod:`regimen.engine.fastpath`)."""
    out: Escalated = {}
    for p in regimen.phases:
        for c in p.components:
            if not c.rate_escalation:
                continue
            rows: dict[str, tuple[RateEscalation, str] | None] = {}
            for kind in RATE_INFUSIONS:
                row = next((e for e in c.rate_escalation if e.infusions == kind), None)
                rows[kind] = None if row is None else (row, f"{row.describe()}; {row.source}")
            out.setdefault(c.id, {})[p.id] = (c.drug, rows)
    return out


#: :func:`working` of each plan's doses, by the row's identity (held, and checked by ``is``) and the dose as two ints:
#: the cache of :func:`working` hashes the row's every field and the dose's Fraction (a modular inverse) on each call,
#: a tenth of an R-CHOP plan's time (issue 29). Emptied when full.
_WORKINGS: dict[tuple[int, int, int, Rounding], tuple[RateEscalation, str]] = {}


def _working(amount: Fraction, row: RateEscalation, rounding: Rounding) -> str:
    key = (id(row), amount.numerator, amount.denominator, rounding)
    found = _WORKINGS.get(key)
    if found is not None and found[0] is row:
        return found[1]
    if len(_WORKINGS) >= 4096:
        _WORKINGS.clear()
    said = working(amount, row, rounding)
    _WORKINGS[key] = (row, said)
    return said


def notes(
    regimen: Regimen, rows: Sequence[Administration], rounding: Rounding, found: Escalated | None = None
) -> list[str]:
    """The plan's notes on its rate-escalated infusions: for the course's first infusion of each such component, and
    for the later ones (grouped by the dose they give), the steps and the least time; the rows' duration and end
    are left unset, as they depend on tolerance. ``found``: :func:`escalated` of ``regimen``, when already known."""
    out: list[str] = []
    if found is None:
        found = escalated(regimen)
    if not found:
        return out
    components = list(map(_COMPONENT, rows))
    for comp_id, phases in found.items():
        # the component's rows, picked out in C (compress): a plan of 96 rows has 6 of rituximab
        mine = [r for r in compress(rows, map(comp_id.__eq__, components)) if r.phase in phases]
        mine.sort(key=lambda r: (r.course_day, r.dose_number or 0))
        if not mine:
            continue
        first_at = (mine[0].course_day, mine[0].dose_number or 0)
        # grouped by the dose's value as two ints (a Fraction is kept reduced; its own hash is a modular inverse)
        groups: dict[tuple[str, str, int, int, str | None], list[Administration]] = {}
        for r in mine:
            kind = "first" if (r.course_day, r.dose_number or 0) == first_at else "later"
            dose = r.dose
            groups.setdefault((r.phase, kind, dose.numerator, dose.denominator, r.condition), []).append(r)
        for (phase, kind, _, _, condition), group in groups.items():
            drug, by_kind = phases[phase]
            said = by_kind[kind]
            if said is None:  # no 'later' row: the source says nothing of later infusions
                continue
            row, described = said
            which = "the course's first infusion" if kind == "first" else "later infusions"
            when = f", if {condition}" if condition else ""
            where = _where(regimen.phased, tuple((g.phase, g.cycle, g.day) for g in group))
            out.append(
                f"{drug}, {where} ({which}{when}), rate-escalated ({described}): "
                f"{_working(group[0].dose, row, rounding)}; its duration and end are not set, as they "
                "depend on tolerance"
            )
    return out


__all__ = ["Escalated", "LeastTime", "escalated", "least_time", "notes", "working"]
