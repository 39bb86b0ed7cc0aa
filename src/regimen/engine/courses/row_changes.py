"""The changes a course records against single rows: an omission (of a drug on a day, with the supportive care given
for it) and a dose given (against one preparation: a pump is given as a whole). Each is a function of the course's
rows as replayed so far (:func:`regimen.engine.courses.replay.replay` calls them in the order recorded)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

from regimen.clinical.rounding import deviation_percent, signed_percent
from regimen.clinical.tied_care import tied_to
from regimen.engine.courses.describe import measure_options, what
from regimen.engine.courses.events import Given, Omit
from regimen.engine.courses.records import CourseError
from regimen.engine.courses.state import Change, CourseRow, GivenDose
from regimen.engine.plan import exact_sum
from regimen.engine.preparations import Preparation, grouped, infusion_key
from regimen.errors import option
from regimen.model import Administration, Regimen
from regimen.protocol.loader import amount
from regimen.quantities.exact import format_fraction
from regimen.quantities.units import factor


def _matches(row: Administration, e: Omit | Given) -> bool:
    if (row.phase, row.cycle) != (e.phase, e.cycle):
        return False
    if e.day is not None and row.day != e.day:
        return False
    if e.drug is not None and e.drug.lower() not in (row.drug.lower(), row.component.lower()):
        return False
    return e.dose_number is None or row.dose_number == e.dose_number


def _omit(rows: list[CourseRow], change: Change, e: Omit, regimen: Regimen) -> None:
    """An omission: of a continuous infusion, the whole infusion (one pump is not given in part, issue 24); of a drug
    on a day, with it the supportive care given for it that day (:mod:`regimen.clinical.tied_care`: its hydration)."""
    hit = _whole_infusions(rows, [n for n, cr in enumerate(rows) if _matches(cr.row, e)])
    for n in hit:
        if rows[n].status == "planned":
            rows[n] = dataclasses.replace(rows[n], status="omitted", change=change.seq)
    if any(rows[n].change == change.seq for n in hit):
        _omit_its_care(rows, change, regimen, [rows[n].row for n in hit if rows[n].change == change.seq])
        return
    said = what(regimen, e)
    given = [rows[n] for n in hit if rows[n].status == "given"]
    omitted = [rows[n] for n in hit if rows[n].status == "omitted"]
    if given:
        why = f"is recorded as given (change {given[0].change}); a dose given cannot be omitted"
    elif omitted:
        why = f"is already omitted (change {omitted[0].change})"
    elif hit:
        why = "is not planned any more"
    else:
        cycle = [cr.row for cr in rows if (cr.row.phase, cr.row.cycle) == (e.phase, e.cycle)]
        drugs = ", ".join(dict.fromkeys(r.component for r in cycle)) or "none"
        days = ", ".join(str(d) for d in sorted({r.day for r in cycle})) or "none"
        why = f"is not planned: that cycle gives {drugs} (on days {days})"
    raise CourseError(f"omit (change {change.seq}): {said} {why}")


def _omit_its_care(rows: list[CourseRow], change: Change, regimen: Regimen, omitted: list[Administration]) -> None:
    """The planned supportive care given for a drug omitted, on the days it is omitted, omitted by the same change
    (a drug's hydration is not given without it; its antiemetics stay: :mod:`regimen.clinical.tied_care`)."""
    days = {(r.phase, r.cycle, r.course_day) for r in omitted}
    tied = {
        ph.id: tied_to(ph, {r.component for r in omitted if r.phase == ph.id and r.role != "supportive"})
        for ph in regimen.phases
        if any(r.phase == ph.id for r in omitted)
    }
    for n, cr in enumerate(rows):
        r = cr.row
        if cr.status == "planned" and r.component in tied.get(r.phase, {}) and (r.phase, r.cycle, r.course_day) in days:
            still = any(  # the drug it is given for still given that day (one dose of two omitted): it stays
                o.row.component == tied[r.phase][r.component]
                and o.status != "omitted"
                and (o.row.phase, o.row.cycle, o.row.course_day) == (r.phase, r.cycle, r.course_day)
                for o in rows
            )
            if not still:
                rows[n] = dataclasses.replace(cr, status="omitted", change=change.seq)


def _given(rows: list[CourseRow], change: Change, e: Given, regimen: Regimen) -> None:
    """A dose given, recorded against one preparation: a continuous infusion is given as a whole (one pump), so a
    record of any of its days takes in all its day shares, each holding its exact share of the dose given (issue
    24; the sums stay exact)."""
    prep, members = _one_preparation(rows, change, e, regimen)
    said = what(regimen, e)
    for cr in (rows[n] for n in members):
        if cr.status == "omitted":
            raise CourseError(
                f"given (change {change.seq}): {said} was omitted (change {cr.change}); it cannot be given"
            )
        if cr.status == "given":
            raise CourseError(f"given (change {change.seq}): {said} is already recorded as given (change {cr.change})")
    unit = prep.dose_unit
    planned = amount(e.dose, f"{option('dose')}")
    try:
        dose = planned.value * factor(planned.unit, unit)
    except Exception:
        raise CourseError(
            f"{option('dose')} {e.dose!r}: {prep.drug} is planned in {unit}; give the dose in "
            f"{unit} (e.g. {option('dose')} '{format_fraction(prep.dose)} {unit}')"
        ) from None
    extra: tuple[str, ...] = ()
    if dose != prep.dose:
        off = signed_percent(deviation_percent(prep.dose, dose))
        extra = (f"given {format_fraction(dose)} {unit}, planned {format_fraction(prep.dose)} {unit} ({off})",)
    for n in members:
        cr = rows[n]
        share = dose if len(members) == 1 else dose * cr.row.dose / prep.dose
        given = GivenDose(dose=share, unit=unit, text=e.dose, at=e.at, lot=e.lot, change=change.seq)
        rows[n] = dataclasses.replace(cr, status="given", given=given, change=change.seq, marks=(*cr.marks, *extra))


def _one_preparation(
    rows: list[CourseRow], change: Change, e: Given, regimen: Regimen
) -> tuple[Preparation, list[int]]:
    found = _whole_infusions(rows, [n for n, cr in enumerate(rows) if _matches(cr.row, e)])
    said = what(regimen, e)
    if not found:
        raise CourseError(
            f"given (change {change.seq}): the course has no {said} to record{_left_out(rows, e, regimen)}"
        )
    undecided = list(dict.fromkeys(c for n in found if (c := rows[n].row.condition)))
    if undecided:  # a dose of one outcome of a value not recorded: which was given is not known until it is
        raise CourseError(
            f"given (change {change.seq}): {said} depends on a value the course was started without (planned only if "
            f"{' / only if '.join(undecided)}): record it with 'regimen course measure' ({measure_options(undecided)}) "
            "first, then the dose given"
        )
    preps = grouped(found, lambda n: rows[n].row)
    if len(preps) > 1:
        drugs = ", ".join(dict.fromkeys(p.component for p, _ in preps))
        if len({(p.component, p.days) for p, _ in preps}) == 1:  # one drug on one day, several doses
            which = f"name the dose with {option('dose_number')} (1 to {len(preps)})"
        else:
            which = f"name the drug with {option('drug')} and the day with {option('day')}"
        raise CourseError(
            f"given (change {change.seq}): {said} matches {len(preps)} administrations ({drugs}); {which}"
        )
    return preps[0]


def _left_out(rows: Sequence[CourseRow], e: Given, regimen: Regimen) -> str:
    """Why a drug of the regimen has no dose to record in a cycle: the plan gives none in the whole cycle (a renal
    table's row at the kidney value in force leaves it out, or the regimen gives it in other cycles only); else
    nothing is added."""
    drug = (e.drug or "").lower()
    ids = {c.id for p in regimen.phases if p.id == e.phase for c in p.components if drug in (c.id, c.drug.lower())}
    in_cycle = {cr.row.component for cr in rows if (cr.row.phase, cr.row.cycle) == (e.phase, e.cycle)}
    if not ids or ids & in_cycle:
        return ""
    return (
        f": the plan gives no {e.drug} in this cycle ('regimen course show' says why: a renal table's row leaving it "
        "out is among its warnings)"
    )


def _whole_infusions(rows: Sequence[CourseRow], found: list[int]) -> list[int]:
    """``found`` with every day share of each continuous infusion one of them is a share of (issue 24)."""
    keys = {k for n in found if (k := infusion_key(rows[n].row)) is not None}
    if not keys:
        return found
    return [n for n, cr in enumerate(rows) if n in found or infusion_key(cr.row) in keys]


def given_records(rows: Sequence[CourseRow]) -> list[tuple[GivenDose, CourseRow, Fraction, Fraction]]:
    """Each record of a dose given: its first row, and the amounts given and planned (a whole infusion's, when the
    record is of a continuous infusion's day shares)."""
    by_change: dict[int, list[CourseRow]] = {}
    for cr in rows:
        if cr.given is not None:
            by_change.setdefault(cr.given.change, []).append(cr)
    out = []
    for crs in by_change.values():
        g = crs[0].given
        assert g is not None
        given = exact_sum([cr.given.dose for cr in crs if cr.given is not None])
        out.append((g, crs[0], given, exact_sum([cr.row.dose for cr in crs])))
    return out


SINGLE: dict[type, Callable[[list[CourseRow], Change, Any, Regimen], None]] = {Omit: _omit, Given: _given}


__all__ = ["SINGLE", "given_records"]
