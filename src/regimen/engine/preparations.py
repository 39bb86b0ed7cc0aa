"""What is prepared and given: each dose, and each continuous infusion as ONE preparation (issue 24).

A plan's rows are one drug on one treatment day; a continuous infusion that runs across days (the 46-hour
fluorouracil pump of mFOLFOX6, cenersen's 96 hours) is a row per day, each its share of the infusion. Those shares
are detail (the expansion table, the event table); nobody prepares, gives, counts or records a share. A
:class:`Preparation` is what is: one dose, or one whole infusion with its total, its rate, the instants it is
connected and disconnected, the days it covers and its working. Every output where something is prepared, given,
counted or recorded (the worklist, the course view, the handout, the supply forecast, FHIR MedicationAdministration)
takes its rows from :func:`preparations` (a cohort's frame of rows: :func:`regimen.engine.supply.preparation_frame`;
the JSON record: :func:`regimen.engine.rows.preparation_record`), so that none of them groups shares on its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeVar

from regimen.model import Administration
from regimen.quantities.clock import tzinfo_for
from regimen.quantities.exact import Rounding, amount_text, exact_decimal, format_decimal

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Preparation:
    """One dose as it is prepared and given: a single administration, or a whole continuous infusion."""

    rows: tuple[Administration, ...]  # what it covers: one row, or an infusion's day shares in day order
    dose: Fraction  # the amount prepared (a whole infusion's total), exact
    hours: Fraction | None  # how long it runs: a whole infusion's elapsed hours, an infusion's duration
    calculation: str  # the working: a whole infusion's, without its days' shares
    connect: dt.datetime | None  # when it starts (a pump is connected), when the plan has times
    disconnect: dt.datetime | None  # when it ends (a pump comes off); None when not known
    dose_calculated: Fraction | None = None  # before rounding, when rounded

    @property
    def first(self) -> Administration:
        return self.rows[0]

    @property
    def continuous(self) -> bool:
        """A continuous infusion (one pump or bag over its hours), however many days it covers."""
        return self.first.infusion is not None

    @property
    def days(self) -> tuple[int, ...]:
        """The cycle days it covers (an infusion's days; one day otherwise)."""
        return tuple(r.day for r in self.rows)

    @property
    def drug(self) -> str:
        return self.first.drug

    @property
    def component(self) -> str:
        return self.first.component

    @property
    def dose_unit(self) -> str:
        return self.first.dose_unit

    @property
    def rate(self) -> Fraction | None:
        return self.first.rate

    @property
    def rounding(self) -> Rounding:
        return self.first.rounding

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w for r in self.rows for w in r.warnings))

    @property
    def dose_text(self) -> str:
        """The amount as the tables print it: '4,320 mg', '2,522 mg (from 2,521.87…)'."""
        return amount_text(self.dose, self.dose_unit, self.rounding)

    @property
    def plain_dose_text(self) -> str:
        """The amount as it is prepared, for a reader who is not checking the working (a patient's handout):
        '2,522 mg', rounded by the plan's display rule and nothing more."""
        return plain_amount(self.dose, self.dose_unit, self.rounding)

    @property
    def rate_text(self) -> str | None:
        return self.first.rate_text

    @property
    def hours_text(self) -> str | None:
        return None if self.hours is None else f"{format_decimal(exact_decimal(self.hours, 4))} h"


def plain_amount(x: Fraction, unit: str, rounding: Rounding) -> str:
    """'2,522 mg' for 2,521.878…: the displayed amount without the exact value beside it (under 1 mg in mcg)."""
    text = amount_text(x, unit, rounding)
    return text.split(" (from ", 1)[0]


def infusion_key(r: Administration) -> tuple[object, ...] | None:
    """What the day shares of one continuous infusion have in common (None for a row that is no share)."""
    if r.infusion is None:
        return None
    return (r.phase, r.cycle, r.component, r.infusion.start_course_day, r.condition)


def _key(r: Administration) -> tuple[object, ...]:
    """Rows of one preparation share this: an infusion's shares by its first course day; any other row is its own."""
    return infusion_key(r) or (id(r),)


def grouped(items: Iterable[T], row_of: Callable[[T], Administration]) -> list[tuple[Preparation, list[T]]]:
    """``items`` (rows, or what carries a row: a course's rows with their status) by preparation, in order of
    each preparation's first row: a continuous infusion's day shares together, any other row alone."""
    groups: dict[tuple[object, ...], list[T]] = {}
    for item in items:
        groups.setdefault(_key(row_of(item)), []).append(item)
    return [(_preparation([row_of(i) for i in members]), members) for members in groups.values()]


def preparations(rows: Iterable[Administration]) -> list[Preparation]:
    """The preparations of ``rows`` (a plan's administrations, or some of them): see :func:`grouped`."""
    return [p for p, _ in grouped(rows, _same)]


def _same(r: Administration) -> Administration:
    return r


def _preparation(rows: Sequence[Administration]) -> Preparation:
    first = rows[0]
    infusion = first.infusion
    if infusion is None:
        return Preparation(
            rows=(first,),
            dose=first.dose,
            hours=first.duration_hours,
            calculation=first.calculation,
            connect=first.start,
            disconnect=first.end,
            dose_calculated=first.dose_calculated,
        )
    shares = tuple(sorted(rows, key=lambda r: r.course_day))
    whole = len(shares) == infusion.days and infusion.amount is not None
    calculated = [r.dose_calculated for r in shares if r.dose_calculated is not None]
    return Preparation(
        rows=shares,
        dose=infusion.amount if whole and infusion.amount is not None else sum((r.dose for r in shares), Fraction(0)),
        hours=infusion.hours if whole else sum((r.duration_hours or Fraction(0) for r in shares), Fraction(0)),
        calculation=infusion.calculation or first.calculation,
        connect=shares[0].start,
        disconnect=shares[-1].end,
        dose_calculated=sum(calculated, Fraction(0)) if len(calculated) == len(shares) else None,
    )


def _when(instant: dt.datetime, tz: str | None) -> str:
    return instant.astimezone(tzinfo_for(tz)).strftime("%Y-%m-%d %H:%M")


def preparation_words(prep: Preparation, tz: str | None) -> str:
    """A continuous infusion as it is prepared and given: 'one continuous infusion of 4,320 mg at 93.91 mg/h over
    46 h (days 1-2): connect 2025-03-03 11:00, disconnect 2025-03-05 09:00 (Europe/London)'."""
    rate = f" at {prep.rate_text}" if prep.rate_text else ""
    over = f" over {prep.hours_text}" if prep.hours_text else ""
    days = f"days {prep.days[0]}-{prep.days[-1]}" if len(prep.days) > 1 else f"day {prep.days[0]}"
    text = f"one continuous infusion of {prep.dose_text}{rate}{over} ({days})"
    if prep.connect is not None:
        off = f", disconnect {_when(prep.disconnect, tz)}" if prep.disconnect is not None else ""
        return f"{text}: connect {_when(prep.connect, tz)}{off} ({tz or 'UTC'})"
    return text


__all__ = ["Preparation", "grouped", "infusion_key", "plain_amount", "preparation_words", "preparations"]
