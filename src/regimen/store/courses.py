"""The course records: start a course, append a change, read a course as it stands, the worklist.

Every write is one transaction: read the course's records, replay them with the new change (a change that cannot
apply raises before anything is written), append it, and rebuild the course's rows of the worklist cache. A
process killed in the middle leaves the course as it was before the change or after it, never between.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from regimen.engine.course import (
    Change,
    CourseError,
    CourseRow,
    CourseStart,
    CourseView,
    DueRow,
    append,
    change_data,
    check_course_id,
    replay,
)
from regimen.engine.preparations import Preparation, grouped
from regimen.engine.rows import exact_text
from regimen.errors import RegimenError, option
from regimen.export.course import course_json, course_text, preparation_words
from regimen.model import how_given
from regimen.protocol.loader import load_text
from regimen.store.db import StoreError, connect, resolve, shown
from regimen.store.schema import changes, courses, scheduled, views

#: A test's hook: seconds to sleep inside a change's transaction, after its records are written and before the
#: commit (the SIGKILL test kills the process there; ``<name>_MARK`` names a file made when it gets there). Never
#: set in use.
PAUSE_ENV = "REGIMEN_STORE_PAUSE"


@dataclass(frozen=True, slots=True)
class CourseSummary:
    course_id: str
    regimen_id: str
    start: dt.date
    status: str
    changes: int
    last_change: dt.datetime | None


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _pause() -> None:
    value = os.environ.get(PAUSE_ENV)
    if value:
        import time

        mark = os.environ.get(f"{PAUSE_ENV}_MARK")
        if mark:  # tell the test the change is written and not yet committed
            open(mark, "w").close()
        time.sleep(float(value))


class CourseStore:
    """Courses in one database (see :mod:`regimen.store.db` for where)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, db: str | None = None, environ: Mapping[str, str] | None = None) -> CourseStore:
        return cls(connect(resolve(db, environ)))

    @property
    def where(self) -> str:
        return shown(self.engine.url)

    def close(self) -> None:
        self.engine.dispose()

    # ---- reading -----------------------------------------------------------------------------

    def _records(self, conn: Connection, course_id: str, lock: bool = False) -> tuple[CourseStart, list[Change]]:
        started = self._head(conn, course_id, lock).started
        return CourseStart.from_dict(json.loads(started)), self._changes(conn, course_id)

    def _head(self, conn: Connection, course_id: str, lock: bool = False) -> Any:
        query = sa.select(courses).where(courses.c.id == course_id)
        if lock and conn.dialect.name == "postgresql":
            query = query.with_for_update()
        head = conn.execute(query).first()
        if head is None:
            raise CourseError(f"no course {course_id!r} in {self.where}; 'regimen course list' shows the courses")
        return head

    def _changes(self, conn: Connection, course_id: str) -> list[Change]:
        rows = conn.execute(sa.select(changes).where(changes.c.course_id == course_id).order_by(changes.c.seq))
        return [
            Change(seq=r.seq, kind=r.kind, at=_utc(r.at) or r.at, who=r.who, why=r.why, data=json.loads(r.data))
            for r in rows
        ]

    def view(self, course_id: str) -> CourseView:
        with self.engine.connect() as conn:
            start, found = self._records(conn, course_id)
        return replay(start, found)

    def record(self, course_id: str) -> dict[str, Any]:
        """The course's records, as JSON: the start and the history."""
        with self.engine.connect() as conn:
            head = self._head(conn, course_id)
            found = self._changes(conn, course_id)
        return _record(head, found)

    def shown(self, course_id: str) -> tuple[str, str, list[str]]:
        """The course as it stands, rendered: (text, JSON, warnings). Read from the view written with the last
        change when it is current (same number of changes, same version of regimen), else replayed."""
        with self.engine.connect() as conn:
            head = self._head(conn, course_id)
            count = conn.execute(
                sa.select(sa.func.count()).select_from(changes).where(changes.c.course_id == course_id)
            ).scalar_one()
            kept = conn.execute(sa.select(views).where(views.c.course_id == course_id)).first()
            if kept is not None and kept.revision == count and kept.code_version == _code_version() != "unknown":
                return kept.text, kept.json, json.loads(kept.warnings)
            found = self._changes(conn, course_id)
        start = CourseStart.from_dict(json.loads(head.started))
        text, data, warnings = _rendered(replay(start, found), head, found)
        return text, data, warnings

    def courses(self) -> list[CourseSummary]:
        with self.engine.connect() as conn:
            counts = {
                r.course_id: (r.n, r.last)
                for r in conn.execute(
                    sa.select(
                        changes.c.course_id, sa.func.count().label("n"), sa.func.max(changes.c.at).label("last")
                    ).group_by(changes.c.course_id)
                )
            }
            stopped = set(conn.execute(sa.select(changes.c.course_id).where(changes.c.kind == "stop")).scalars())
            out = []
            for r in conn.execute(sa.select(courses).order_by(courses.c.start_date, courses.c.id)):
                n, last = counts.get(r.id, (0, None))
                out.append(
                    CourseSummary(
                        course_id=r.id,
                        regimen_id=r.regimen_id,
                        start=r.start_date,
                        status="stopped" if r.id in stopped else "active",
                        changes=n,
                        last_change=_utc(last),
                    )
                )
        return out

    def due(self, first: dt.date, last: dt.date) -> list[DueRow]:
        """Every planned administration dated ``first`` to ``last`` across the active courses. The index it reads is
        rebuilt first for every course whose caches are missing or were written by another version of regimen
        (after an upgrade: the doses are those this version computes, never an older version's)."""
        self.refresh()
        query = (
            sa.select(scheduled, courses.c.regimen_id)
            .join(courses, courses.c.id == scheduled.c.course_id)
            .where(scheduled.c.date >= first, scheduled.c.date <= last)
            .order_by(scheduled.c.date, scheduled.c.start_utc.asc().nulls_last(), scheduled.c.course_id, scheduled.c.n)
        )
        with self.engine.connect() as conn:
            return [
                DueRow(
                    course_id=r.course_id,
                    regimen_id=r.regimen_id,
                    date=r.date,
                    start=_utc(r.start_utc),
                    tz=r.tz,
                    phase=r.phase,
                    cycle=r.cycle,
                    day=r.day,
                    drug=r.drug,
                    component=r.component,
                    dose=Fraction(r.dose),
                    dose_text=r.dose_text,
                    unit=r.unit,
                    rate_text=r.rate_text,
                    route=r.route,
                    method=r.method,
                    hours=Fraction(r.hours) if r.hours else None,
                    preparation=r.preparation,
                    calculation=r.calculation,
                    warnings=r.warnings,
                    dose_number=r.dose_number,
                    condition=r.condition,
                )
                for r in conn.execute(query)
            ]

    def _stale(self, conn: Connection, course_id: str | None = None) -> list[str]:
        """Courses whose caches (the worklist's rows and the rendered view, written together) are missing or were
        written by another version of regimen."""
        query = (
            sa.select(courses.c.id)
            .select_from(courses.outerjoin(views, views.c.course_id == courses.c.id))
            .where(sa.or_(views.c.course_id.is_(None), views.c.code_version != _code_version()))
        )
        if course_id is not None:
            query = query.where(courses.c.id == course_id)
        return list(conn.execute(query.order_by(courses.c.id)).scalars())

    def refresh(self) -> int:
        """Rebuild, from their records, the caches of every course that :meth:`_stale` finds; the number rebuilt.
        A course that this version cannot replay is an error naming it: a worklist never leaves a course out."""
        with self.engine.connect() as conn:
            stale = self._stale(conn)
        done = 0
        for course_id in stale:
            with self.engine.begin() as conn:
                start, found = self._records(conn, course_id, lock=True)
                if not self._stale(conn, course_id):  # another process rebuilt it meanwhile
                    continue
                try:
                    view = replay(start, found)
                except RegimenError as exc:
                    raise StoreError(
                        f"course {course_id!r} cannot be read by this version of regimen ({exc.message}); the "
                        "worklist is not given without it"
                    ) from None
                self._project(conn, view)
                done += 1
        return done

    # ---- writing -----------------------------------------------------------------------------

    def start(self, start: CourseStart, *, who: str, why: str, recorded_at: dt.datetime | None = None) -> CourseView:
        """Record a new course (its regimen text, patient values, start); refuses an id already used."""
        check_course_id(start.course_id)
        view = replay(start, [])  # a start that cannot be planned is refused before anything is written
        now = _utc(recorded_at) or dt.datetime.now(dt.UTC)
        regimen = view.regimen
        with self.engine.begin() as conn:
            exists = conn.execute(sa.select(courses.c.id).where(courses.c.id == start.course_id)).first()
            if exists is not None:
                raise CourseError(
                    f"course {start.course_id!r} already exists in {self.where}; choose another {option('course')} id "
                    "(a course is never started twice)"
                )
            conn.execute(
                courses.insert().values(
                    id=start.course_id,
                    regimen_id=regimen.id,
                    regimen_sha256=start.regimen_sha256,
                    regimen_version=regimen.version,
                    start_date=start.start,
                    started=json.dumps(start.to_dict(), sort_keys=True),
                    created_at=now,
                    created_by=who,
                    reason=why,
                )
            )
            self._project(conn, view)
            _pause()
        return view

    def start_many(
        self, starts: Sequence[CourseStart], *, who: str, why: str, recorded_at: dt.datetime | None = None
    ) -> int:
        """Record many new courses in one transaction (a unit's courses brought over at once): all or none."""
        now = _utc(recorded_at) or dt.datetime.now(dt.UTC)
        views = []
        for start in starts:
            check_course_id(start.course_id)
            views.append(replay(start, []))
        with self.engine.begin() as conn:
            ids = [s.course_id for s in starts]
            taken = set(conn.execute(sa.select(courses.c.id).where(courses.c.id.in_(ids))).scalars()) if ids else set()
            if taken or len(set(ids)) != len(ids):
                clash = sorted(taken) or sorted({i for i in ids if ids.count(i) > 1})
                raise CourseError(f"course {clash[0]!r} is given twice or already exists; nothing was recorded")
            conn.execute(
                courses.insert(),
                [
                    {
                        "id": s.course_id,
                        "regimen_id": v.regimen.id,
                        "regimen_sha256": s.regimen_sha256,
                        "regimen_version": v.regimen.version,
                        "start_date": s.start,
                        "started": json.dumps(s.to_dict(), sort_keys=True),
                        "created_at": now,
                        "created_by": who,
                        "reason": why,
                    }
                    for s, v in zip(starts, views, strict=True)
                ],
            )
            for view in views:
                self._project(conn, view)
        return len(views)

    def change(
        self, course_id: str, kind: str, *, who: str, why: str, recorded_at: dt.datetime | None = None, **given: Any
    ) -> tuple[CourseView, Change]:
        """Append one change (``given`` are the command's values); the course as it then stands."""
        if not why or not why.strip():
            raise CourseError(f"every change says why: add {option('reason')} TEXT")
        now = _utc(recorded_at) or dt.datetime.now(dt.UTC)
        for attempt in range(5):
            try:
                with self.engine.begin() as conn:
                    start, found = self._records(conn, course_id, lock=True)
                    regimen = load_text(start.regimen_text, start.regimen_file)
                    # as the record will read back (keys sorted), so that the view written now is the replay's
                    data = json.loads(
                        json.dumps(change_data(kind, regimen, now=now, tz=start.tz, **given), sort_keys=True)
                    )
                    new = Change(seq=len(found) + 1, kind=kind, at=now, who=who, why=" ".join(why.split()), data=data)
                    view = append(start, found, new)
                    conn.execute(
                        changes.insert().values(
                            course_id=course_id,
                            seq=new.seq,
                            kind=kind,
                            at=now,
                            who=who,
                            why=new.why,
                            data=json.dumps(data, sort_keys=True),
                        )
                    )
                    self._project(conn, view)
                    _pause()
                return view, new
            except sa.exc.IntegrityError:  # another process appended change seq first: read again and retry
                if attempt == 4:
                    raise StoreError(f"course {course_id!r} is being changed by others; try again") from None
        raise AssertionError("unreachable")

    def _project(self, conn: Connection, view: CourseView) -> None:
        """Rebuild the course's caches from the course as it now stands: its rows of the worklist, and its view."""
        conn.execute(scheduled.delete().where(scheduled.c.course_id == view.course_id))
        notes = {c.id: c.note for c in view.regimen.components()}
        # one row of the worklist per preparation: a continuous infusion's days are one pump (issue 24)
        planned = [(n, cr) for n, cr in enumerate(view.rows) if cr.status == "planned"]
        values = [
            v
            for prep, members in grouped(planned, lambda item: item[1].row)
            if (v := _scheduled(view, members[0][0], prep, [cr for _, cr in members], notes)) is not None
        ]
        if values:
            conn.execute(scheduled.insert(), values)
        head = self._head(conn, view.course_id)
        text, data, warnings = _rendered(view, head, list(view.changes))
        conn.execute(views.delete().where(views.c.course_id == view.course_id))
        conn.execute(
            views.insert().values(
                course_id=view.course_id,
                revision=len(view.changes),
                code_version=_code_version(),
                text=text,
                json=data,
                warnings=json.dumps(warnings),
            )
        )


@functools.cache
def _code_version() -> str:
    """The installed regimen's version: a view rendered by another version is not used (it is replayed instead)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("regimen-schedules")
    except PackageNotFoundError:  # run from a source tree: never trust a stored view
        return "unknown"


def _record(head: Any, found: Sequence[Change]) -> dict[str, Any]:
    return {
        "start": json.loads(head.started),
        "started_at": (_utc(head.created_at) or head.created_at).isoformat(),
        "started_by": head.created_by,
        "reason": head.reason,
        "changes": [c.to_dict() for c in found],
    }


def _rendered(view: CourseView, head: Any, found: Sequence[Change]) -> tuple[str, str, list[str]]:
    started = (_utc(head.created_at) or head.created_at, head.created_by, head.reason)
    return course_text(view, started), course_json(view, _record(head, found)), list(view.warnings)


def _scheduled(
    view: CourseView, n: int, prep: Preparation, crs: Sequence[CourseRow], notes: Mapping[str, str | None]
) -> dict[str, Any] | None:
    r = prep.first
    if r.date is None:
        return None
    tz = view.start.tz if view.start.time else None
    how = [preparation_words(prep, tz)] if prep.continuous else [h] if (h := how_given(r.method, r.route)) else []
    if r.duration_hours is not None and not prep.continuous:
        how.append(f"over {exact_text(r.duration_hours)} h")
    note = notes.get(r.component)
    return {
        "course_id": view.course_id,
        "n": n,
        "revision": len(view.changes),
        "date": r.date,
        "start_utc": r.start,
        "tz": view.start.tz if view.start.time else None,
        "phase": r.phase,
        "cycle": r.cycle,
        "day": r.day,
        "drug": r.drug,
        "component": r.component,
        "dose": str(prep.dose),
        "dose_text": prep.dose_text,
        "unit": r.dose_unit,
        "rate_text": r.rate_text if r.rate is not None else None,
        "route": r.route,
        "method": str(r.method) if r.method is not None else None,
        "hours": str(prep.hours) if prep.hours is not None else None,
        "preparation": "; ".join(x for x in (*how, note) if x) or None,
        "calculation": prep.calculation,
        "warnings": "; ".join(dict.fromkeys((*prep.warnings, *(m for cr in crs for m in cr.marks)))),
        "dose_number": r.dose_number,
        "condition": r.condition,
    }


def summary_counts(rows: Sequence[CourseRow]) -> dict[str, int]:
    out: dict[str, int] = {}
    for cr in rows:
        out[cr.status] = out.get(cr.status, 0) + 1
    return out


__all__ = ["CourseStore", "CourseSummary", "StoreError", "summary_counts"]
