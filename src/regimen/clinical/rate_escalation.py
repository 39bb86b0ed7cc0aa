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
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from itertools import compress
from operator import attrgetter, lt

from regimen.model import RATE_INFUSIONS, Administration, RateEscalation, Regimen
from regimen.quantities.days import describe_days
from regimen.quantities.exact import Rounding, amount_ratio_text, amount_text, format_fraction, ratio_text


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
        parts.append(_whole_steps(t.whole, row, rounding))
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


def _whole_steps(whole: Sequence[Fraction], row: RateEscalation, rounding: Rounding) -> str:
    """The steps given whole at the rates ``whole`` (at least one), what they deliver and how long they take."""
    unit = row.unit
    delivered = [r * row.every_hours for r in whole]
    rates = ", ".join(format_fraction(r) for r in whole)
    each = f"for {row.every_text}" + (" each" if len(whole) > 1 else "")
    sums = " + ".join(format_fraction(d) for d in delivered)
    total = amount_text(sum(delivered, Fraction(0)), unit, rounding)
    given = f"{sums} = {total}" if len(delivered) > 1 else total
    return f"{rates} {unit}/h {each} = {given} in {_span(len(whole) * row.every_hours)}"


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


@dataclass(frozen=True, slots=True)
class _Rung:
    """What :func:`working` says of a dose given after ``k`` whole steps, worked out once per row and rounding: the
    amount those steps deliver and their minutes, the rate the rest is given at, and the text around the rest."""

    delivered: Fraction  # by the k whole steps
    minutes: Fraction  # that the k whole steps take
    rate: Fraction  # the rate the rest is given at
    head: str  # the whole steps' part and "the remaining " (or "all ")
    middle: str  # " at R mg/h (the maximum) take "
    over: str  # "/R h "


#: Rows with more steps below the maximum than this are worked out by :func:`working` itself (none bundled has 10).
_MAX_RUNGS = 256


def _ladder(row: RateEscalation, rounding: Rounding) -> tuple[_Rung, ...] | None:
    """Each number of whole steps a dose can take under ``row`` (0, 1, ... up to the steps below the maximum), with
    the text :func:`working` gives it, or None when the row's steps cannot be laid out so (a step or start not above
    zero, or too many steps). Rung ``k`` is the one for a dose above the amount ``k`` steps deliver and at most what
    ``k + 1`` deliver (the last rung: any dose above what all the steps deliver)."""
    if row.start <= 0 or row.step <= 0 or row.every_hours <= 0:
        return None
    unit = row.unit
    rungs: list[_Rung] = []
    whole: list[Fraction] = []
    rate = row.start
    delivered = Fraction(0)
    while True:
        head = f"{_whole_steps(whole, row, rounding)}; the remaining " if whole else "all "
        maximum = " (the maximum)" if rate == row.maximum and whole else ""
        rate_text = format_fraction(rate)
        rungs.append(
            _Rung(
                delivered,
                len(whole) * row.every_hours * 60,
                rate,
                head,
                f" at {rate_text} {unit}/h{maximum} take ",
                f"/{rate_text} h ",
            )
        )
        if rate >= row.maximum:  # no step beyond the maximum: this rung is the last
            return tuple(rungs)
        if len(rungs) > _MAX_RUNGS:
            return None
        whole.append(rate)
        delivered += rate * row.every_hours
        rate = min(rate + row.step, row.maximum)


#: Each rate-escalation row's :func:`_ladder`, by the row's identity (held, and checked by ``is``) and the rounding,
#: with the ladder's numbers as integers (:class:`_Steps`): worked out once per row, so that a dose the process has
#: not met formats only its own remainder, in integers (issue 29: the notes were a third of an R-CHOP-21 plan).
#: Emptied when full.
_LADDERS: dict[tuple[int, Rounding], tuple[RateEscalation, tuple[_Rung, ...] | None, _Steps | None]] = {}


@dataclass(frozen=True, slots=True)
class _Steps:
    """A ladder's numbers as integers: what each rung's whole steps deliver over one ``denominator`` (the rungs'
    common one, so that a dose's rung is found by one integer bisection), and each rung's minutes and rate as
    (numerator, denominator)."""

    denominator: int
    delivered: tuple[int, ...]  # each rung's amount × denominator, increasing
    amounts: tuple[tuple[int, int], ...]  # each rung's amount
    minutes: tuple[tuple[int, int], ...]
    rates: tuple[tuple[int, int], ...]


def _steps(ladder: tuple[_Rung, ...]) -> _Steps:
    denominator = math.lcm(*(r.delivered.denominator for r in ladder))
    return _Steps(
        denominator,
        tuple(r.delivered.numerator * (denominator // r.delivered.denominator) for r in ladder),
        tuple((r.delivered.numerator, r.delivered.denominator) for r in ladder),
        tuple((r.minutes.numerator, r.minutes.denominator) for r in ladder),
        tuple((r.rate.numerator, r.rate.denominator) for r in ladder),
    )


def _working(amount: Fraction, row: RateEscalation, rounding: Rounding, amount_said: str | None = None) -> str:
    """:func:`working`, the same text, from the row's :func:`_ladder`: the steps' part is the rung's, and only the
    rest, its minutes and the total are worked out for ``amount``, in integers (no Fraction is made: each number is
    written from its numerator and denominator, :func:`~regimen.quantities.exact.ratio_text`). ``amount_said``:
    ``amount_text`` of the amount in the row's unit, when the caller has written it."""
    key = (id(row), rounding)
    found = _LADDERS.get(key)
    if found is None or found[0] is not row:
        if len(_LADDERS) >= 4096:
            _LADDERS.clear()
        made = _ladder(row, rounding)
        found = _LADDERS[key] = (row, made, None if made is None else _steps(made))
    _, ladder, steps = found
    n, d = amount.numerator, amount.denominator
    if ladder is None or steps is None or n <= 0:
        return working(amount, row, rounding)
    # the rung: the most whole steps whose amount is below the dose (a step is taken while the dose outlasts it);
    # the ladder's first amount is 0, below every dose. An amount p / D is below n / d when p is below n × D / d,
    # that is below its ceiling (p is a whole number)
    k = bisect_left(steps.delivered, -(-n * steps.denominator // d)) - 1
    rung = ladder[k]
    # the rest, its minutes at the rung's rate and the least time, exact, in integers (the same numbers as the
    # Fractions of least_time, not reduced: each is written from its value)
    p, q = steps.amounts[k]
    rest_n, rest_d = n * q - p * d, d * q
    rate_n, rate_d = steps.rates[k]
    minutes_n, minutes_d = rest_n * 60 * rate_d, rest_d * rate_n
    exact = minutes_n * 100 % minutes_d == 0  # a whole number of hundredths of a minute
    said = f"= {ratio_text(minutes_n, minutes_d)} min" if exact else f"≈ {ratio_text(minutes_n, minutes_d, 2)} min"
    w_n, w_d = steps.minutes[k]
    total_n = w_n * minutes_d + minutes_n * w_d
    total_d = w_d * minutes_d
    rounded = (2 * total_n + total_d) // (2 * total_d)  # floor(total + 1/2): to the nearest minute, a half up
    how = "" if total_n % total_d == 0 else " (rounded to the nearest minute)"
    unit = row.unit
    if amount_said is None:
        amount_said = amount_text(amount, unit, rounding)
    return (
        f"{amount_said}: {rung.head}{amount_ratio_text(rest_n, rest_d, unit, rounding)}"
        f"{rung.middle}{ratio_text(rest_n, rest_d)}{rung.over}{said}; at least {_clock(rounded)}{how} if each step "
        "is tolerated"
    )


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
    amounts: dict[tuple[int, int, str], str] = {}  # each dose's text, once: the first and later infusions share it
    for comp_id, phases in found.items():
        # the component's rows, picked out in C (compress): a plan of 96 rows has 6 of rituximab
        mine = [r for r in compress(rows, map(comp_id.__eq__, components)) if r.phase in phases]
        if not mine:
            continue
        days = list(map(_COURSE_DAY, mine))
        if not all(map(lt, days, days[1:])):  # else in order already (a day's one dose, days rising: the plan's)
            mine.sort(key=lambda r: (r.course_day, r.dose_number or 0))
        first_day, first_number = mine[0].course_day, mine[0].dose_number or 0
        # grouped by the dose's value as two ints (a Fraction is kept reduced; its own hash is a modular inverse),
        # read once for each run of rows that share the dose object (a later cycle's rows share their first's)
        groups: dict[tuple[str, str, int, int, str | None], list[Administration]] = {}
        dose, n, d = None, 0, 1
        for r in mine:
            kind = "first" if r.course_day == first_day and (r.dose_number or 0) == first_number else "later"
            if r.dose is not dose:
                dose = r.dose
                n, d = dose.numerator, dose.denominator
            groups.setdefault((r.phase, kind, n, d, r.condition), []).append(r)
        for (phase, kind, n, d, condition), group in groups.items():
            drug, by_kind = phases[phase]
            said = by_kind[kind]
            if said is None:  # no 'later' row: the source says nothing of later infusions
                continue
            row, described = said
            which = "the course's first infusion" if kind == "first" else "later infusions"
            when = f", if {condition}" if condition else ""
            where = _where(regimen.phased, tuple(map(_PLACE, group)))
            amount = group[0].dose
            amount_said = amounts.get((n, d, row.unit))
            if amount_said is None:
                amount_said = amounts[(n, d, row.unit)] = amount_text(amount, row.unit, rounding)
            out.append(
                f"{drug}, {where} ({which}{when}), rate-escalated ({described}): "
                f"{_working(amount, row, rounding, amount_said)}; its duration and end are not set, as they "
                "depend on tolerance"
            )
    return out


_COURSE_DAY = attrgetter("course_day")
_PLACE = attrgetter("phase", "cycle", "day")  # (phase, cycle, day) of a row, as _where reads them


__all__ = ["Escalated", "LeastTime", "escalated", "least_time", "notes", "working"]
