"""A course's relative dose intensity per drug (issue 27), from what was recorded as given.

Over the cycles begun (day 1 of the course to the end of the last cycle with a dose recorded as given): the doses
given over the weeks they took, delays included, against the doses of the plan at the start over the weeks the
plan gave those cycles (:func:`regimen.clinical.gates.dose_intensity`, with its sources). A dose omitted counts as
0; a reduction counts as the dose given.
"""

from __future__ import annotations

from collections.abc import Sequence

from regimen.clinical.gates import DoseIntensity, dose_intensity
from regimen.engine.courses.records import CourseStart
from regimen.engine.courses.state import CourseRow
from regimen.engine.plan import Plan


def cycle_days(start: CourseStart, phase: str) -> int | None:
    """The length of the phase's cycles in days (the course's own length when the source gave none)."""
    found = next((p for p in start.regimen.phases if p.id == phase), None)
    length = found.cycle_length if found is not None else None
    return length if length is not None else start.cycle_length


def course_intensity(
    base: Plan,
    rows: Sequence[CourseRow],
    order: Sequence[tuple[str, int]],
    delays: Sequence[int],
    start: CourseStart,
) -> list[DoseIntensity]:
    """Each anticancer drug's RDI over the cycles begun; none before a dose is recorded as given, or when a cycle
    has no stated length (its planned weeks are not known)."""
    begun = {(cr.row.phase, cr.row.cycle) for cr in rows if cr.given is not None}
    if not begun:
        return []
    last = max(order.index(k) for k in begun)
    counted = set(order[: last + 1])
    lengths = [cycle_days(start, phase) for phase, _ in order[: last + 1]]
    if any(n is None for n in lengths):
        return []
    planned_days = sum(n for n in lengths if n is not None)
    planned = [a for a in base.administrations if (a.phase, a.cycle) in counted]
    given = [
        cr.row.moved(dose=cr.given.dose)
        for cr in rows
        if cr.given is not None and (cr.row.phase, cr.row.cycle) in counted
    ]
    return dose_intensity(planned, planned_days, given, planned_days + delays[last])


__all__ = ["course_intensity", "cycle_days"]
