"""The rows of one component in one cycle, made from its doses (:mod:`regimen.engine.cycles` works the doses out):
each row's fields written into a dictionary of its own in the class's order and made the row's ``__dict__``
(:mod:`regimen.engine.fastpath`, 3). No I/O here."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from regimen.clinical.adjust import PendingRow
from regimen.engine.doses import DayDose, hours_text, share_text
from regimen.engine.fastpath import new_infusion, new_row, row_of
from regimen.model import Administration, Component, Derivation, Infusion, Phase
from regimen.quantities.exact import Rounding, amount_text

#: One row of a component in a cycle, adjusted: (day, infusion, amount, rate, hours, working, warnings, amount before
#: rounding, maximum doses that applied, dose number, doses a day); what :func:`administrations` makes a row of.
Item = tuple[
    int,
    Infusion | None,
    Fraction,
    Fraction | None,
    Fraction | None,
    str,
    Sequence[str],
    Fraction | None,
    Sequence[str],
    int | None,
    int | None,
]


def items_of(pending: list[PendingRow], unit: str, rounding: Rounding) -> list[Item]:
    """The adjusted rows of a component as :func:`administrations` reads them (the steps made one working; a dose
    given over a stated time and changed ends with the rate it now runs at, as the first step gave the rate before
    the change: "153 mg → 117 mg over 2 h (58.5 mg/h)")."""
    return [
        (
            row.day,
            row.infusion,
            row.amount,
            row.rate,
            row.hours,
            row.steps[0] if len(row.steps) == 1 else "; ".join(row.steps) + _rate_now(row, unit, rounding),
            row.warnings,
            row.calculated,
            row.caps,
            row.dose_number,
            row.doses_per_day,
        )
        for row in pending
    ]


def _rate_now(row: PendingRow, unit: str, rounding: Rounding) -> str:
    """' over 2 h (58.5 mg/h)': the rate of a short infusion after its dose changed (none without a rate)."""
    if row.rate is None or row.hours is None or row.infusion is not None or row.amount == row.first:
        return ""
    return f" over {hours_text(row.hours)} ({amount_text(row.rate, unit + '/h', rounding)})"


def administrations(
    phase: Phase,
    cycle: int,
    offset: int,
    start: dt.date | None,
    comp: Component,
    items: list[Item],
    unit: str,
    rounding: Rounding,
    derivation: Derivation,
) -> list[Administration]:
    """The administrations of ``comp``'s adjusted rows in this cycle (:data:`Item`).

    Administration(...) with every field named, its ``__dict__`` made as
    :func:`~regimen.engine.fastpath.moved_rows` makes it: the frozen
    dataclass's ``__init__`` sets its 28 fields one ``object.__setattr__`` at a time. The fields the component's rows
    share are written once into a dictionary, in the class's order, copied for each row (a copy of a whole
    dictionary is one step), and then the row's own are set (a test holds these rows equal to the constructor's, and
    their names to the class's fields)."""
    rows: list[Administration] = []
    rate_unit = f"{unit}/h"
    shared = shared_fields(phase, cycle, comp, unit, rounding, derivation)
    for day, infusion, amount, rate, hours, calculation, warnings, calculated, caps, number, per_day in items:
        fields = shared.copy()  # the row's own __dict__ (regimen.engine.fastpath, 3)
        _dose_fields(fields, amount, rate, rate_unit, hours, calculation)
        fields["infusion"] = infusion
        if warnings:
            fields["warnings"] = tuple(warnings)
        fields["dose_calculated"] = calculated
        if caps:
            fields["caps"] = tuple(caps)
        fields["dose_number"] = number
        fields["doses_per_day"] = per_day
        rows.append(_row_on(fields, day, offset, start))
    return rows


def _dose_fields(
    fields: dict[str, Any], amount: Fraction, rate: Fraction | None, rate_unit: str, hours: Fraction | None, said: str
) -> None:
    """Write a row's dose, its rate (if any), its hours and its working into ``fields``."""
    fields["dose"] = amount
    if rate is not None:
        fields["rate"] = rate
        fields["rate_unit"] = rate_unit
    fields["duration_hours"] = hours
    fields["calculation"] = said


def _row_on(fields: dict[str, Any], day: int, offset: int, start: dt.date | None) -> Administration:
    """The row whose ``__dict__`` is ``fields`` (its own), on ``day`` of the cycle ``offset`` course days in."""
    course_day = offset + day
    fields["day"] = day
    fields["course_day"] = course_day
    if start is not None:
        fields["date"] = start + dt.timedelta(days=course_day - 1)
    return row_of(fields)


def shared_fields(
    phase: Phase, cycle: int, comp: Component, unit: str, rounding: Rounding, derivation: Derivation | None
) -> dict[str, Any]:
    """The fields of a row of ``comp`` in this cycle that its rows share, in the class's order; the row's own are
    None (or no warning) until set, and so is ``derivation`` when it is None (:func:`plain_rows` sets it)."""
    return {
        "phase": phase.id,
        "cycle": cycle,
        "day": None,
        "course_day": None,
        "date": None,
        "drug": comp.drug,
        "component": comp.id,
        "dose": None,
        "dose_unit": unit,
        "route": comp.route,
        "method": comp.method,
        "rate": None,
        "rate_unit": None,
        "duration_hours": None,
        "calculation": None,
        "infusion": None,
        "warnings": (),
        "dose_calculated": None,
        "condition": None,
        "caps": (),
        "dose_number": None,
        "doses_per_day": None,
        "start": None,
        "end": None,
        "time_note": None,
        "rounding": rounding,
        "derivation": derivation,
        "role": comp.role,
    }


def plain_rows(
    shared: dict[str, Any],
    derivation: Derivation,
    offset: int,
    start: dt.date | None,
    days: list[tuple[int, Infusion | None, DayDose]],
    per_day: int,
) -> list[Administration]:
    """The rows of a (not continuous) component's days that nothing in the run adjusts, from each day's doses: the
    fields of each distinct dose (most days of a component share one: capecitabine's two a day, 14 days) are
    written once into a copy of ``shared``, and each row is a copy of that with its day (issue 29). The rows
    :func:`administrations` makes of the same doses, with no warning, no cap and no amount before rounding."""
    rows: list[Administration] = []
    by_dose: dict[int, dict[str, Any]] = {}  # by the dose's identity: ``days`` holds each while this runs
    rate_unit = f"{shared['dose_unit']}/h"
    for day, infusion, dose in days:
        base = by_dose.get(id(dose))
        if base is None:
            amount, rate, hours, calculation, number = dose
            base = by_dose[id(dose)] = shared.copy()
            base["derivation"] = derivation
            _dose_fields(base, amount, rate, rate_unit, hours, calculation)
            base["dose_number"] = number
            base["doses_per_day"] = per_day if number is not None else None
        row = new_row(base)  # base's fields written into the row's own __dict__ (regimen.engine.fastpath, 3)
        fields = row.__dict__
        if infusion is not None and dose[4] is None:
            fields["infusion"] = infusion
        course_day = offset + day
        fields["day"] = day
        fields["course_day"] = course_day
        if start is not None:
            fields["date"] = start + dt.timedelta(days=course_day - 1)
        rows.append(row)
    return rows


def day_shares(
    whole: list[PendingRow],
    layout: tuple[tuple[int, Infusion | None, Fraction], ...],
    unit: str,
    rounding: Rounding,
) -> list[Item]:
    """Each adjusted infusion of ``whole`` shared out over its days: a day's share is the infusion's rate times the
    hours it runs that day, and its working is the whole infusion's, then the share. The infusion's warnings and the
    maximum doses that applied to it are on its first day's row (the day it is connected). The rows as
    :func:`administrations` reads them (:data:`Item`), made here without a row being adjusted in between: the
    shares are not adjusted again."""
    by_start = {row.infusion.start_course_day: row for row in whole if row.infusion is not None}
    # the working of an infusion is worked out once per infusion, and the text of a share of a day once per distinct
    # rate and hours of a day (a 7-day pump is seven days of 24 h: one text, not seven; infusions of one dose, days
    # 1-7 and 15-21, share their rate objects (Cycles._infusions) and so their texts). The keys are the identities
    # of the rows' numbers, which ``whole`` holds while this runs, and the hours by value
    workings: dict[int, str] = {}
    shares: dict[tuple[int, int, int, int, int], tuple[str, Fraction, Fraction | None]] = {}
    out: list[Item] = []
    for day, infusion, hours_today in layout:
        assert infusion is not None
        start = infusion.start_course_day
        row = by_start.get(start)
        if row is None:  # left out (a renal table's 'avoid'): none of its days is given
            continue
        assert row.rate is not None and row.hours is not None
        working = workings.get(start)
        if working is None:
            working = "; ".join(row.steps)
            if len(row.steps) > 1:  # adjusted: the rate it runs at now
                rate = amount_text(row.rate, unit + "/h", rounding)
                working += f"; {amount_text(row.amount, unit, rounding)} over {hours_text(row.hours)} = {rate}"
            workings[start] = working
        share_key = (id(row.rate), id(row.hours), id(row.calculated), hours_today.numerator, hours_today.denominator)
        found = shares.get(share_key)
        if found is None:
            calculated = row.calculated * hours_today / row.hours if row.calculated is not None else None
            found = shares[share_key] = (
                share_text(row.rate, hours_today, unit, rounding),
                row.rate * hours_today,
                calculated,
            )
        share, amount, calculated = found
        first = infusion.day_index == 1
        out.append(
            (
                day,
                new_infusion(
                    start, infusion.hours, infusion.day_index, infusion.days, row.amount, working, row.calculated
                ),
                amount,
                row.rate,
                hours_today,
                f"{working}; {share}",
                row.warnings if first else (),
                calculated,
                row.caps if first else (),
                None,
                None,
            )
        )
    return out


__all__ = ["Item", "administrations", "day_shares", "items_of", "plain_rows", "shared_fields"]
