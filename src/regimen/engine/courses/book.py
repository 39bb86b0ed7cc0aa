"""The one call every door uses to start, change, correct and read courses (the command line, the web app).

A :class:`CourseBook` reads and writes through a :class:`~regimen.engine.courses.repository.CourseRepository` (the
store's SQL) and renders through the function it is given (the export layer's). Every write is one transaction:
read the course's records under a lock, read the new change's values once into a typed event, replay the course
before and after it (a change that cannot apply raises before anything is written), append it, and rebuild the
course's caches (its rows of the worklist, its rendered view). A process killed in the middle leaves the course as
it was before the change or after it, never between.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from regimen.engine.courses import worklist
from regimen.engine.courses.checks import check_new, check_repeat, check_verified, check_void
from regimen.engine.courses.describe import due_rows
from regimen.engine.courses.events import Context, Given, Void, parse_event
from regimen.engine.courses.records import CourseError, CourseStart, check_course_id, one_line, parse_cycle
from regimen.engine.courses.replay import Planner, replay
from regimen.engine.courses.repository import (
    CourseRepository,
    CourseSummary,
    CourseTransaction,
    NewCourse,
    RecordConflict,
    Rendered,
    StoredChange,
    StoredCourse,
)
from regimen.engine.courses.state import Change, CourseState
from regimen.engine.courses.verified import planned_doses
from regimen.engine.courses.worklist import DueRow, code_version
from regimen.errors import RegimenError, option

#: Renders a course as it stands with its records (as JSON data) for ``course show``.
Renderer = Callable[[CourseState, Mapping[str, Any]], Rendered]
RETRIES = 5


def decode(stored: StoredCourse) -> tuple[CourseStart, list[Change]]:
    """A course's records as the engine reads them: each goes down once and comes back once."""
    start = CourseStart.from_dict(json.loads(stored.started))
    return start, [Change.read(c.seq, c.kind, c.at, c.who, c.why, c.data) for c in stored.changes]


def course_records(stored: StoredCourse, changes: Sequence[Change]) -> dict[str, Any]:
    """The course's records, as JSON data: the start and the history."""
    return {
        "start": json.loads(stored.started),
        "started_at": stored.started_at.isoformat(),
        "started_by": stored.started_by,
        "reason": stored.reason,
        "changes": [c.to_dict() for c in changes],
    }


def append(
    start: CourseStart,
    changes: Sequence[Change],
    new: Change,
    *,
    confirm: bool = False,
    planner: Planner | None = None,
    verified_only: bool = False,
) -> CourseState:
    """The course after ``new``, recorded after ``changes``; raises :class:`CourseError` when ``new`` cannot apply,
    would contradict what is already recorded, or repeats the last change without ``confirm``. ``planner``: the
    expansions of the same start, when the caller keeps them; ``verified_only``: a dose is recorded as given only
    when a pharmacist verified it as planned now (a unit's team, issue 28)."""
    planner = planner if planner is not None else Planner(start)
    before = replay(start, changes, planner)
    if isinstance(new.event, Void):
        check_void(before, new, new.event)
    check_repeat(before, new, confirm)
    try:
        after = replay(start, [*changes, new], planner)
    except CourseError as exc:
        if not isinstance(new.event, Void):
            raise
        raise CourseError(
            f"void (change {new.seq}): change {new.event.change} cannot be undone: {exc.message}"
        ) from None
    check_new(before, after, new)
    if verified_only and isinstance(new.event, Given):
        check_verified(after, new)
    return after


class CourseBook:
    """Courses in one repository; ``render`` makes the view ``course show`` prints (cached with each change)."""

    def __init__(self, repository: CourseRepository, render: Renderer) -> None:
        self.repository = repository
        self.render = render

    @property
    def where(self) -> str:
        return self.repository.where

    def close(self) -> None:
        self.repository.close()

    # ---- reading ---------------------------------------------------------------------------------

    def view(self, course_id: str) -> CourseState:
        start, changes = decode(self.repository.read(course_id))
        return replay(start, changes)

    def record(self, course_id: str) -> dict[str, Any]:
        stored = self.repository.read(course_id)
        return course_records(stored, decode(stored)[1])

    def shown(self, course_id: str) -> tuple[str, str, list[str]]:
        """The course as it stands, rendered: (text, JSON, warnings). Read from the view written with the last
        change when it is current (same number of changes, same version of regimen), else replayed."""
        kept = self.repository.cached_view(course_id)
        if kept is not None and kept.revision == kept.changes and kept.code_version == code_version() != "unknown":
            return kept.rendered.text, kept.rendered.json, list(kept.rendered.warnings)
        stored = self.repository.read(course_id)
        start, changes = decode(stored)
        out = self.render(replay(start, changes), course_records(stored, changes))
        return out.text, out.json, list(out.warnings)

    def courses(self) -> list[CourseSummary]:
        """Every course: id, regimen, day 1, status (stopped while a stop is in effect), number of changes."""
        out = []
        for c in self.repository.summaries():
            voided = {Void.from_dict(json.loads(v)).change for v in c.voids}
            stopped = any(seq not in voided for seq in c.stops)
            status = "stopped" if stopped else "active"
            out.append(CourseSummary(c.course_id, c.regimen_id, c.start, status, c.changes, c.last_change))
        return out

    def due(self, first: dt.date, last: dt.date, *, done: bool = False) -> list[DueRow]:
        """Every planned administration dated ``first`` to ``last`` across the active courses (``done``: those given
        or omitted too, each with its status: the worklist page, issue 28). The caches it reads are rebuilt first for
        every course whose caches are missing or were written by another version of regimen (after an upgrade: the
        doses are those this version computes, never an older version's): :func:`regimen.engine.courses.worklist.due`,
        which the command line calls without a book while no course is stale."""
        return worklist.due(self.repository, first, last, self.rebuild, done=done)

    def refresh(self) -> int:
        """Rebuild, from their records, the caches of every stale course; the number rebuilt."""
        return self.rebuild(self.repository.stale(code_version()))

    def rebuild(self, course_ids: Sequence[str]) -> int:
        """Rebuild the caches of these courses (found stale) from their records, each unless another process rebuilt
        it meanwhile; the number rebuilt. A course that this version cannot replay is an error naming it: a worklist
        never leaves a course out."""
        done = 0
        for course_id in course_ids:
            with self.repository.transaction() as tx:
                stored = tx.read(course_id)
                if not tx.is_stale(course_id, code_version()):  # another process rebuilt it meanwhile
                    continue
                start, changes = decode(stored)
                try:
                    state = replay(start, changes)
                except RegimenError as exc:
                    raise CourseError(
                        f"course {course_id!r} cannot be read by this version of regimen ({exc.message}); the "
                        "worklist is not given without it"
                    ) from None
                self._cache(tx, state, stored, changes)
                done += 1
        return done

    # ---- writing ---------------------------------------------------------------------------------

    def start(self, start: CourseStart, *, who: str, why: str, recorded_at: dt.datetime | None = None) -> CourseState:
        """Record a new course (its regimen text, patient values, start); refuses an id already used."""
        return self.start_many([start], who=who, why=why, recorded_at=recorded_at)[0]

    def start_many(
        self, starts: Sequence[CourseStart], *, who: str, why: str, recorded_at: dt.datetime | None = None
    ) -> list[CourseState]:
        """Record new courses in one transaction (a unit's courses brought over at once): all or none."""
        now = _utc(recorded_at)
        states = []
        for start in starts:
            check_course_id(start.course_id)
            states.append(replay(start, []))  # a start that cannot be planned is refused before anything is written
        ids = [s.course_id for s in starts]
        with self.repository.transaction() as tx:
            taken = tx.taken(ids)
            if taken or len(set(ids)) != len(ids):
                if len(ids) == 1:
                    raise CourseError(
                        f"course {ids[0]!r} already exists in {self.where}; choose another {option('course')} id "
                        "(a course is never started twice)"
                    )
                clash = sorted(taken) or sorted({i for i in ids if ids.count(i) > 1})
                raise CourseError(f"course {clash[0]!r} is given twice or already exists; nothing was recorded")
            stored = [StoredCourse(s.course_id, s.to_json(), now, who, why) for s in starts]
            tx.insert(
                [
                    NewCourse(st, v.regimen.id, s.regimen_sha256, v.regimen.version, s.start)
                    for s, v, st in zip(starts, states, stored, strict=True)
                ]
            )
            for state, st in zip(states, stored, strict=True):
                self._cache(tx, state, st, [])
        return states

    def change(
        self,
        course_id: str,
        kind: str,
        *,
        who: str,
        why: str,
        recorded_at: dt.datetime | None = None,
        verified_only: bool = False,
        **values: Any,
    ) -> tuple[CourseState, Change]:
        """Append one change (``values`` are the command's, as typed); the course as it then stands. ``confirm``
        among them records what would be refused as a likely slip (an implausible value, a repeat)."""
        state, made = self.changes(
            course_id, [(kind, why, values)], who=who, recorded_at=recorded_at, verified_only=verified_only
        )
        return state, made[0]

    def changes(
        self,
        course_id: str,
        entries: Sequence[tuple[str, str, Mapping[str, Any]]],
        *,
        who: str,
        recorded_at: dt.datetime | None = None,
        verified_only: bool = False,
    ) -> tuple[CourseState, list[Change]]:
        """Append several changes (kind, why, values) in one transaction, all or none: a gate check and the delay
        or dose change it decided (issue 27). Each is checked against the course as the ones before it left it.
        ``verified_only``: a dose given is refused unless a pharmacist verified it (issue 28; a unit with users)."""
        said = []
        for kind, why, values in entries:
            if not why or not why.strip():
                raise CourseError(f"every change says why: add {option('reason')} TEXT")
            said.append((kind, one_line(why, "reason", 10_000), values))
        now = _utc(recorded_at)
        for _attempt in range(RETRIES - 1):
            try:
                return self._change(course_id, said, who, now, verified_only)
            except RecordConflict:  # another process appended change seq first: read again and retry
                continue
        return self._change(course_id, said, who, now, verified_only)

    def void(
        self, course_id: str, change: int | str, *, who: str, why: str, recorded_at: dt.datetime | None = None
    ) -> tuple[CourseState, Change]:
        """Record that change ``change`` was entered in error: its effect is undone, and both stay in the history."""
        return self.change(course_id, "void", who=who, why=why, recorded_at=recorded_at, change=change)

    def _change(
        self,
        course_id: str,
        entries: Sequence[tuple[str, str, Mapping[str, Any]]],
        who: str,
        now: dt.datetime,
        verified_only: bool,
    ) -> tuple[CourseState, list[Change]]:
        with self.repository.transaction() as tx:
            stored = tx.read(course_id)
            start, changes = decode(stored)
            planner = Planner(start)
            made: list[Change] = []
            for kind, why, values in entries:
                if kind == "verify":
                    values = _to_verify(start, changes, planner, values)
                event = parse_event(kind, values, Context(start.regimen, start.tz, now))
                new = Change(seq=len(changes) + 1, at=now, who=who, why=why, event=event)
                confirm = bool(values.get("confirm"))
                state = append(start, changes, new, confirm=confirm, planner=planner, verified_only=verified_only)
                tx.append(course_id, StoredChange(new.seq, kind, now, who, why, new.data_json()))
                changes = [*changes, new]
                made.append(new)
            self._cache(tx, state, stored, changes)
        return state, made

    def _cache(
        self, tx: CourseTransaction, state: CourseState, stored: StoredCourse, changes: Sequence[Change]
    ) -> None:
        rendered = self.render(state, course_records(stored, changes))
        tx.cache(state.course_id, len(changes), code_version(), due_rows(state), rendered)


def _to_verify(
    start: CourseStart, changes: Sequence[Change], planner: Planner, values: Mapping[str, Any]
) -> dict[str, Any]:
    """A verification's values with the dose figures it checks, read from the course in the same transaction that
    records it (never typed). ``seen``: the number of changes of the page the pharmacist checked; a course changed
    since (a dose change meanwhile) is refused, so nothing is verified that was not seen."""
    seen = values.get("seen")
    if seen not in (None, "") and str(seen).strip() != str(len(changes)):
        raise CourseError(
            f"the course changed since the page was shown (it has {len(changes)} changes now): reload the page and "
            "check the doses again"
        )
    state = replay(start, changes, planner)
    return {**values, "doses": planned_doses(state, parse_cycle(values["cycle"], start.regimen))}


def _utc(value: dt.datetime | None) -> dt.datetime:
    if value is None:
        return dt.datetime.now(dt.UTC)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


__all__ = ["CourseBook", "Renderer", "append", "code_version", "course_records", "decode"]
