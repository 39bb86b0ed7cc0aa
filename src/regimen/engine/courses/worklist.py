"""The worklist (``regimen due``, the unit's page): every administration due across the active courses, read from the
rows that each change cached with its course. Nothing here replays a course: a course whose cached rows are missing
or were written by another version of regimen is rebuilt through the function the caller gives (the course book's,
which loads the plan engine), only when there is one; so the worklist of a day loads neither the plan engine nor
the protocol loader (issue 29).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Protocol


@dataclass(frozen=True, slots=True)
class DueRow:
    """One administration due, as the worklist shows it."""

    course_id: str
    regimen_id: str
    date: dt.date
    start: dt.datetime | None
    tz: str | None  # the course's zone
    phase: str
    cycle: int
    day: int
    drug: str
    component: str
    dose: Fraction
    dose_text: str
    unit: str
    rate_text: str | None
    route: str | None
    method: str | None
    hours: Fraction | None
    preparation: str | None
    calculation: str
    warnings: str
    dose_number: int | None = None  # with several doses a day: which
    condition: str | None = None  # given only if this holds
    # the dose and rate as numbers, rounded by the plan's rule as dose_text and rate_text show them (issue 26)
    dose_shown: Decimal | None = None
    rate_shown: Decimal | None = None
    rate_unit: str | None = None
    status: str = "planned"  # planned, verified (by a pharmacist, as planned now), given or omitted (issue 28)
    role: str = "anticancer"  # or "supportive": care given around the anticancer drugs, shown apart (issue 27)


class DueSource(Protocol):
    """What the worklist reads of a course repository (:class:`~regimen.engine.courses.repository.CourseRepository`)."""

    def due(self, first: dt.date, last: dt.date) -> list[DueRow]: ...

    def stale(self, code_version: str) -> list[str]: ...


@functools.cache
def code_version() -> str:
    """The installed regimen's version: a view rendered by another version is not used (it is replayed instead)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("regimen-schedules")
    except PackageNotFoundError:  # run from a source tree: never trust a stored view
        return "unknown"


def by_time(rows: Sequence[DueRow]) -> list[DueRow]:
    """The worklist's order: by date, then by start time, then by course. ``rows`` come in each course's plan order
    (by date, course, position in the plan). A row whose start is not known (a premedication with no stated
    duration, given "30 min before paclitaxel") keeps its place in its course's plan: it sorts with the next timed row
    of its course that day, just before it, not after every timed row of the unit's day."""
    sort_at: list[dt.datetime | None] = [None] * len(rows)
    group: tuple[str, dt.date] | None = None
    following: dt.datetime | None = None
    for i in range(len(rows) - 1, -1, -1):  # backwards: an untimed row takes the time of the timed row after it
        r = rows[i]
        if (r.course_id, r.date) != group:
            group, following = (r.course_id, r.date), None
        following = r.start or following
        sort_at[i] = following
    earliest = dt.datetime.min.replace(tzinfo=dt.UTC)
    order = sorted(
        range(len(rows)),
        key=lambda i: (rows[i].date, sort_at[i] is None, sort_at[i] or earliest, rows[i].course_id, i),
    )
    return [rows[i] for i in order]


def due(
    source: DueSource,
    first: dt.date,
    last: dt.date,
    rebuild: Callable[[Sequence[str]], object],
    *,
    done: bool = False,
) -> list[DueRow]:
    """Every planned administration dated ``first`` to ``last`` across the active courses, in the worklist's order
    (``done``: those given or omitted too, each with its status: the worklist page, issue 28). The caches it reads
    are rebuilt first, by ``rebuild``, for every course whose caches are missing or were written by another version
    of regimen (after an upgrade: the doses are those this version computes, never an older version's)."""
    stale = source.stale(code_version())
    if stale:
        rebuild(stale)
    rows = by_time(source.due(first, last))
    return rows if done else [r for r in rows if r.status in ("planned", "verified")]


__all__ = ["DueRow", "DueSource", "by_time", "code_version", "due"]
