"""Where the course records are kept, as the engine sees it: a :class:`CourseRepository` keeps text, numbers and
dates and answers queries (the store implements it with SQL only); it never reads a change's values, replays a
course or renders it. The records travel as :class:`StoredCourse` and :class:`StoredChange`, their payloads as the
JSON text the engine wrote."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from regimen.engine.courses.errors import CourseError
from regimen.engine.courses.worklist import DueRow


@dataclass(frozen=True, slots=True)
class StoredChange:
    seq: int
    kind: str
    at: dt.datetime  # UTC
    who: str
    why: str
    data: str  # JSON


@dataclass(frozen=True, slots=True)
class StoredCourse:
    """A course's records: the start (JSON), who started it, when and why, and its changes in order."""

    course_id: str
    started: str  # JSON of CourseStart
    started_at: dt.datetime  # UTC
    started_by: str
    reason: str
    changes: tuple[StoredChange, ...] = ()


@dataclass(frozen=True, slots=True)
class NewCourse:
    """A course to record: its start and the columns a listing reads without replaying it."""

    course: StoredCourse
    regimen_id: str
    regimen_sha256: str
    regimen_version: str | None
    start_date: dt.date


@dataclass(frozen=True, slots=True)
class Rendered:
    """The course as it stands, rendered for ``course show``: a cache kept beside the records."""

    text: str
    json: str
    warnings: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CachedView:
    rendered: Rendered
    revision: int  # the number of changes it reflects
    changes: int  # the number of changes recorded now
    code_version: str  # the regimen version that rendered it


@dataclass(frozen=True, slots=True)
class CourseSummary:
    course_id: str
    regimen_id: str
    start: dt.date
    status: str
    changes: int
    last_change: dt.datetime | None


@dataclass(frozen=True, slots=True)
class CourseListing:
    """A course as a listing reads it without replaying it: its stops and its corrections as recorded."""

    course_id: str
    regimen_id: str
    start: dt.date
    changes: int
    last_change: dt.datetime | None
    stops: tuple[int, ...] = ()  # the change numbers of its stops
    voids: tuple[str, ...] = ()  # the data (JSON) of its corrections


class UnknownCourse(CourseError):
    """No course of that id in the database."""

    def __init__(self, course_id: str, where: str) -> None:
        super().__init__(f"no course {course_id!r} in {where}; 'regimen course list' shows the courses")


class RecordConflict(CourseError):
    """Another writer appended the same change number first: read the course again and retry."""

    def __init__(self, course_id: str) -> None:
        super().__init__(f"course {course_id!r} is being changed by others; try again")


class CourseTransaction(Protocol):
    """One write transaction: all of it is kept, or none."""

    def read(self, course_id: str) -> StoredCourse:
        """The course's records, locked against other writers until the end of the transaction."""

    def taken(self, course_ids: Sequence[str]) -> set[str]:
        """Those of ``course_ids`` already recorded."""

    def insert(self, courses: Sequence[NewCourse]) -> None: ...

    def append(self, course_id: str, change: StoredChange) -> None:
        """Raises :class:`RecordConflict` when change ``seq`` was recorded meanwhile."""

    def is_stale(self, course_id: str, code_version: str) -> bool: ...

    def cache(self, course_id: str, revision: int, code_version: str, due: Sequence[DueRow], view: Rendered) -> None:
        """Replace the course's caches: its rows of the worklist and its rendered view."""


class CourseRepository(Protocol):
    @property
    def where(self) -> str:
        """Where the records are, as it may be shown (never a password)."""

    def read(self, course_id: str) -> StoredCourse: ...

    def cached_view(self, course_id: str) -> CachedView | None: ...

    def summaries(self) -> list[CourseListing]: ...

    def due(self, first: dt.date, last: dt.date) -> list[DueRow]:
        """The worklist's cached rows dated ``first`` to ``last``, by date, time, course."""

    def stale(self, code_version: str) -> list[str]:
        """Courses whose caches are missing or were written by another version."""

    def transaction(self) -> AbstractContextManager[CourseTransaction]: ...

    def close(self) -> None: ...


__all__ = [
    "CachedView",
    "CourseListing",
    "CourseRepository",
    "CourseSummary",
    "CourseTransaction",
    "NewCourse",
    "RecordConflict",
    "Rendered",
    "StoredChange",
    "StoredCourse",
    "UnknownCourse",
]
