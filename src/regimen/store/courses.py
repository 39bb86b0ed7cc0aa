"""The course records in SQL: the engine's :class:`~regimen.engine.courses.repository.CourseRepository`.

SQL only: this module keeps and returns text, numbers and dates. It never reads a change's values, replays a
course or renders one (:class:`~regimen.engine.courses.book.CourseBook` does, through it). Every write is one
transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: the course's row locked), so a process killed in the middle
leaves the course as it was before the change or after it, never between.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from regimen.engine.courses.repository import (
    CachedView,
    CourseListing,
    NewCourse,
    RecordConflict,
    Rendered,
    StoredChange,
    StoredCourse,
    UnknownCourse,
)
from regimen.engine.courses.worklist import DueRow
from regimen.store.db import StoreError, connect, reading, resolve, shown
from regimen.store.schema import changes, courses, scheduled, views


def _utc(value: dt.datetime) -> dt.datetime:
    """A time as the database gives it (SQLite keeps no zone: UTC was written) -> aware UTC."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _read(conn: Connection, course_id: str, where: str, lock: bool = False) -> StoredCourse:
    query = sa.select(courses).where(courses.c.id == course_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    head = conn.execute(query).first()
    if head is None:
        raise UnknownCourse(course_id, where)
    found = conn.execute(sa.select(changes).where(changes.c.course_id == course_id).order_by(changes.c.seq))
    return StoredCourse(
        course_id=head.id,
        started=head.started,
        started_at=_utc(head.created_at),
        started_by=head.created_by,
        reason=head.reason,
        changes=tuple(StoredChange(r.seq, r.kind, _utc(r.at), r.who, r.why, r.data) for r in found),
    )


def _stale_query(code_version: str) -> Any:
    """Courses whose caches (the worklist's rows and the rendered view, written together) are missing or were
    written by another version of regimen."""
    return (
        sa.select(courses.c.id)
        .select_from(courses.outerjoin(views, views.c.course_id == courses.c.id))
        .where(sa.or_(views.c.course_id.is_(None), views.c.code_version != code_version))
    )


def _all_current(conn: Connection, code_version: str) -> bool:
    """Every course has its caches, written by this version: as many current views as courses (a view is one
    course's, by its key). Two counts the database makes from its indexes, instead of the join of
    :func:`_stale_query` over every course: what a worklist over 100,000 courses asks first (issue 29). One
    statement: one round trip to a server, and both counts of one snapshot."""
    count = sa.select(sa.func.count()).select_from
    current = count(views).where(views.c.code_version == code_version).scalar_subquery()
    return bool(conn.execute(sa.select(current == count(courses).scalar_subquery())).scalar_one())


class _Transaction:
    """One write transaction on one connection (the engine's CourseTransaction)."""

    def __init__(self, conn: Connection, where: str) -> None:
        self.conn = conn
        self.where = where
        self.wrote = False

    def read(self, course_id: str) -> StoredCourse:
        return _read(self.conn, course_id, self.where, lock=True)

    def taken(self, course_ids: Sequence[str]) -> set[str]:
        if not course_ids:
            return set()
        return set(self.conn.execute(sa.select(courses.c.id).where(courses.c.id.in_(list(course_ids)))).scalars())

    def insert(self, new: Sequence[NewCourse]) -> None:
        rows = [
            {
                "id": n.course.course_id,
                "regimen_id": n.regimen_id,
                "regimen_sha256": n.regimen_sha256,
                "regimen_version": n.regimen_version,
                "start_date": n.start_date,
                "started": n.course.started,
                "created_at": n.course.started_at,
                "created_by": n.course.started_by,
                "reason": n.course.reason,
            }
            for n in new
        ]
        if rows:
            self.conn.execute(courses.insert(), rows)
            self.wrote = True

    def append(self, course_id: str, change: StoredChange) -> None:
        try:
            self.conn.execute(
                changes.insert().values(
                    course_id=course_id,
                    seq=change.seq,
                    kind=change.kind,
                    at=change.at,
                    who=change.who,
                    why=change.why,
                    data=change.data,
                )
            )
        except sa.exc.IntegrityError:
            raise RecordConflict(course_id) from None
        self.wrote = True

    def is_stale(self, course_id: str, code_version: str) -> bool:
        query = _stale_query(code_version).where(courses.c.id == course_id)
        return self.conn.execute(query).first() is not None

    def cache(self, course_id: str, revision: int, code_version: str, due: Sequence[DueRow], view: Rendered) -> None:
        conn = self.conn
        conn.execute(scheduled.delete().where(scheduled.c.course_id == course_id))
        if due:
            conn.execute(scheduled.insert(), [_scheduled(r, n, revision) for n, r in enumerate(due)])
        conn.execute(views.delete().where(views.c.course_id == course_id))
        conn.execute(
            views.insert().values(
                course_id=course_id,
                revision=revision,
                code_version=code_version,
                text=view.text,
                json=view.json,
                warnings=_json_list(view.warnings),
            )
        )


def _json_list(values: Sequence[str]) -> str:
    return json.dumps(list(values))


#: The worklist's columns by DueRow field, where the names differ; exact numbers are kept as text ("1343/2").
_COLUMN = {"start": "start_utc"}
_EXACT = ("dose", "hours")
_DECIMAL = ("dose_shown", "rate_shown")  # decimals, as text


def _scheduled(r: DueRow, n: int, revision: int) -> dict[str, Any]:
    row: dict[str, Any] = {"n": n, "revision": revision}
    for f in dataclasses.fields(DueRow):
        value = getattr(r, f.name)
        exact = f.name in _EXACT or f.name in _DECIMAL
        row[_COLUMN.get(f.name, f.name)] = str(value) if exact and value is not None else value
    return row


class CourseStore:
    """Courses in one database (see :mod:`regimen.store.db` for where).

    ``before_commit``: called inside every write transaction that wrote something, after its records are written
    and before the commit; for tests only (one that kills the process there proves a change is all or nothing)."""

    def __init__(self, engine: Engine, before_commit: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self.before_commit = before_commit

    @classmethod
    def open(
        cls,
        db: str | None = None,
        environ: Mapping[str, str] | None = None,
        before_commit: Callable[[], None] | None = None,
    ) -> CourseStore:
        return cls(connect(resolve(db, environ)), before_commit)

    @property
    def where(self) -> str:
        return shown(self.engine.url)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[_Transaction]:
        with self.engine.begin() as conn:
            tx = _Transaction(conn, self.where)
            yield tx
            if tx.wrote and self.before_commit is not None:
                self.before_commit()

    def read(self, course_id: str) -> StoredCourse:
        with self.engine.connect() as conn:
            return _read(conn, course_id, self.where)

    def cached_view(self, course_id: str) -> CachedView | None:
        with self.engine.connect() as conn:
            if conn.execute(sa.select(courses.c.id).where(courses.c.id == course_id)).first() is None:
                raise UnknownCourse(course_id, self.where)
            count = conn.execute(
                sa.select(sa.func.count()).select_from(changes).where(changes.c.course_id == course_id)
            ).scalar_one()
            kept = conn.execute(sa.select(views).where(views.c.course_id == course_id)).first()
        if kept is None:
            return None
        rendered = Rendered(kept.text, kept.json, tuple(json.loads(kept.warnings)))
        return CachedView(rendered, kept.revision, count, kept.code_version)

    def summaries(self) -> list[CourseListing]:
        with self.engine.connect() as conn:
            counts = {
                r.course_id: (r.n, r.last)
                for r in conn.execute(
                    sa.select(
                        changes.c.course_id, sa.func.count().label("n"), sa.func.max(changes.c.at).label("last")
                    ).group_by(changes.c.course_id)
                )
            }
            stops: dict[str, list[int]] = {}
            voids: dict[str, list[str]] = {}
            lasting = sa.select(changes.c.course_id, changes.c.seq, changes.c.kind, changes.c.data)
            for r in conn.execute(lasting.where(changes.c.kind.in_(("stop", "void")))):
                if r.kind == "stop":
                    stops.setdefault(r.course_id, []).append(r.seq)
                else:
                    voids.setdefault(r.course_id, []).append(r.data)
            out = []
            for r in conn.execute(sa.select(courses).order_by(courses.c.start_date, courses.c.id)):
                n, last = counts.get(r.id, (0, None))
                out.append(
                    CourseListing(
                        course_id=r.id,
                        regimen_id=r.regimen_id,
                        start=r.start_date,
                        changes=n,
                        last_change=_utc(last) if last is not None else None,
                        stops=tuple(stops.get(r.id, ())),
                        voids=tuple(voids.get(r.id, ())),
                    )
                )
        return out

    def due(self, first: dt.date, last: dt.date) -> list[DueRow]:
        # the day's rows only, through the index by date; each row carries its course's regimen (written with it),
        # so no course is read: a join with the courses, whose rows hold the regimen's text, took most of the query
        query = (
            sa.select(*(scheduled.c[c] for _, c in _DUE_FIELDS))
            .where(scheduled.c.date >= first, scheduled.c.date <= last)
            .order_by(scheduled.c.date, scheduled.c.course_id, scheduled.c.n)  # plan order: the book sorts
        )
        with reading(self.engine) as conn:
            return [_due_row(r) for r in conn.execute(query).all()]

    def stale(self, code_version: str) -> list[str]:
        with reading(self.engine) as conn:
            if _all_current(conn, code_version):
                return []
            return list(conn.execute(_stale_query(code_version).order_by(courses.c.id)).scalars())


#: Each DueRow field and the worklist's column it is read from.
_DUE_FIELDS = tuple((f.name, _COLUMN.get(f.name, f.name)) for f in dataclasses.fields(DueRow))


def _exact(text: str | None) -> Fraction | None:
    """An exact number as the worklist keeps it ("1343/2", "84"): read without ``Fraction``'s regular expression,
    a tenth of the time per row of a worklist of thousands."""
    if not text:
        return None
    top, slash, bottom = text.partition("/")
    try:
        return Fraction(int(top), int(bottom)) if slash else Fraction(int(top))
    except ValueError:  # a decimal ("2.5"): the general reading
        return Fraction(text)


#: Where :func:`_due_row` finds the values it reads again: exact numbers and decimals kept as text, the start's time.
_NAMES = [name for name, _ in _DUE_FIELDS]
_DOSE, _HOURS, _START = (_NAMES.index(n) for n in ("dose", "hours", "start"))
_DECIMAL_AT = tuple(_NAMES.index(n) for n in _DECIMAL)


def _due_row(r: Sequence[Any]) -> DueRow:
    """A worklist row, from its columns in the order of :data:`_DUE_FIELDS` (a plain tuple: a worklist over 100,000
    courses has thousands of rows a day, and reading each column of a row by name took as long as the query)."""
    values = list(r)
    values[_DOSE], values[_HOURS] = _exact(values[_DOSE]), _exact(values[_HOURS])
    for k in _DECIMAL_AT:
        values[k] = Decimal(values[k]) if values[k] else None
    if values[_START] is not None:
        values[_START] = _utc(values[_START])
    return DueRow(*values)


__all__ = ["CourseStore", "StoreError"]
