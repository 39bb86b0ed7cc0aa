"""What is prepared and given: each dose, and each continuous infusion as ONE preparation (issue 24).

A plan's rows are one drug on one treatment day; a continuous infusion that runs across days (the 46-hour
fluorouracil pump of mFOLFOX6, cenersen's 96 hours) is a row per day, each its share of the infusion. Those shares
are detail (the expansion table, the event table); nobody prepares, gives, counts or records a share. A
:class:`Preparation` is what is: one dose, or one whole infusion with its total, its rate, the instants it is
connected and disconnected, the days it covers and its working. Every output where something is prepared, given,
counted or recorded (the worklist, the course view, the handout, the supply forecast, FHIR MedicationAdministration)
takes its rows from :func:`preparations` (or, for a cohort's frame of rows, :func:`preparation_frame`), so that none
of them groups shares on its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any, TypeVar

from regimen.engine.plan import exact_sum
from regimen.engine.rows import exact_text
from regimen.engine.timing import wall
from regimen.model import Administration
from regimen.quantities.clock import tzinfo_for
from regimen.quantities.exact import Rounding, amount_text, decimal_to_json, exact_decimal, format_decimal

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

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
        dose=infusion.amount if whole and infusion.amount is not None else exact_sum([r.dose for r in shares]),
        hours=infusion.hours if whole else exact_sum([r.duration_hours or Fraction(0) for r in shares]),
        calculation=infusion.calculation or first.calculation,
        connect=shares[0].start,
        disconnect=shares[-1].end,
        dose_calculated=exact_sum(calculated) if len(calculated) == len(shares) else None,
    )


def preparation_record(prep: Preparation, tz: str | None) -> dict[str, Any]:
    """A preparation as JSON (``regimen expand --format json`` 'preparations', a course's JSON): the amount
    prepared, its rate and hours, the instants it is connected and disconnected (ISO 8601 in the zone ``tz``), the
    cycle days it covers and its working."""
    r, rnd = prep.first, prep.rounding
    zone = tzinfo_for(tz)
    return {
        "phase": r.phase,
        "cycle": r.cycle,
        "days": list(prep.days),
        "date": r.date.isoformat() if r.date else None,
        "drug": r.drug,
        "component": r.component,
        "continuous": prep.continuous,
        "dose": decimal_to_json(rnd(prep.dose)),
        "dose_exact": exact_text(prep.dose),
        "dose_unit": prep.dose_unit,
        "rate": decimal_to_json(rnd(prep.rate)) if prep.rate is not None else None,
        "rate_unit": r.rate_unit,
        "hours": decimal_to_json(exact_decimal(prep.hours, 6)) if prep.hours is not None else None,
        "connect": wall(prep.connect, zone) if prep.connect is not None else None,
        "disconnect": wall(prep.disconnect, zone) if prep.disconnect is not None else None,
        "route": r.route,
        "method": r.method,
        "dose_number": r.dose_number,
        "condition": r.condition,
        "calculation": prep.calculation,
        "warnings": list(prep.warnings),
    }


def preparation_frame(rows: pd.DataFrame) -> pd.DataFrame:
    """A frame of rows (a cohort's, columns of the row schema) with each continuous infusion's day shares made one
    row: its first day's, with the whole amount in ``dose_exact`` (exact) and ``dose``, and its hours in
    ``duration_h``. A frame without infusion columns, or without infusions, is returned as it is. The frame twin
    of :func:`preparations`, for what a cohort's supply counts."""
    if "infusion_day" not in rows.columns or not rows["infusion_day"].notna().any():
        return rows
    import pandas as pd

    shares = rows["infusion_day"].notna().to_numpy()
    plain, pumps = rows[~shares], rows[shares]
    keys = [c for c in ("patient_id", "phase", "cycle", "component", "condition") if c in pumps.columns]
    first_day = (pumps["course_day"] - pumps["infusion_day"].astype("int64") + 1).rename("_first_day")
    frame = pumps.assign(_first_day=first_day.to_numpy(), _order=range(len(pumps)))
    group_keys = [*keys, "_first_day"]
    exact: dict[str, Fraction] = {}

    def total(doses: pd.Series) -> str:
        values = [exact.setdefault(d, Fraction(d)) for d in doses]
        return exact_text(exact_sum(values))

    sums = frame.groupby(group_keys, sort=False, dropna=False)["dose_exact"].agg(total)
    firsts = frame.sort_values("_order").drop_duplicates(group_keys, keep="first").set_index(group_keys)
    firsts["dose_exact"] = sums.reindex(firsts.index).to_numpy()
    firsts["dose"] = [float(Fraction(x)) for x in firsts["dose_exact"]]
    if "infusion_hours" in firsts.columns and "duration_h" in firsts.columns:
        firsts["duration_h"] = firsts["infusion_hours"]
    out = firsts.reset_index().drop(columns=["_first_day", "_order"])[list(rows.columns)]
    merged = pd.concat([plain, out.astype(rows.dtypes.to_dict())], ignore_index=True)
    return merged


__all__ = [
    "Preparation",
    "grouped",
    "infusion_key",
    "plain_amount",
    "preparation_frame",
    "preparation_record",
    "preparations",
]
