"""The course database as the command line opens it: read-only for the commands that only read (show, list, export,
calendar, due, supply --due), so that they never create a file or folder; a writing command says when it creates a
new database; every database error (a damaged file, a server that went away mid-change) is one line."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click

from regimen.cli.options import flag
from regimen.engine.courses import worklist
from regimen.errors import render
from regimen.lazy import freeze_if_start_up_was
from regimen.quantities.limits import check_date

F = TypeVar("F", bound=Callable[..., Any])

#: The most days one worklist covers (--days).
MAX_DUE_DAYS = 366


def db_option(fn: F) -> F:
    return click.option(
        "--db",
        metavar="FILE|URL",
        help="The course database: a file (SQLite) or postgresql://USER@HOST/DB. Default: $REGIMEN_DB, else "
        "courses.sqlite3 in the user's data folder (~/.local/share/regimen).",
    )(fn)


class _Guarded:
    """A course book whose every call turns a database error into one line (regimen.store.db.failure)."""

    def __init__(self, book: Any, url: Any, write: bool) -> None:
        self._book = book
        self._url = url
        self._write = write

    def __getattr__(self, name: str) -> Any:
        from regimen.store.db import guarded  # lazy: SQLAlchemy only for the course commands

        attribute = getattr(self._book, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with guarded(self._url, self._write):
                return attribute(*args, **kwargs)

        return call


def _open_repository(url: Any, write: bool, announce: Callable[[str], None] | None = None) -> Any:
    """The course store on the database at ``url``, unguarded."""
    with loading():  # the imports, and the engine's, which imports the driver; no course is replayed here
        from regimen.store.courses import CourseStore  # lazy: SQLAlchemy only for the course commands
        from regimen.store.db import connect  # lazy: likewise

        # lasting=False: a command's engine, whose connections are never old enough to need a ping before use
        return CourseStore(connect(url, write=write, announce=announce, lasting=False))


def _book_of(repository: Any) -> Any:
    """The course book over a course store: the plan engine, to replay courses, and the views it renders."""
    with loading():  # the plan engine and the renderers: a course is replayed
        from regimen.engine.courses import CourseBook  # lazy: only the course commands need it
        from regimen.export.course import rendered  # lazy: only the course commands need it

        return CourseBook(repository, rendered)


def open_store(db: str | None, *, write: bool, refresh: bool = False) -> Any:
    """The course book on the database of ``--db`` (the store's SQL, the export layer's rendering): ``write=False``
    opens it read-only (a missing or empty file is refused).

    ``refresh``: a worklist's reader (due) first has the caches of the worklist rebuilt where an older regimen wrote
    them, through a writing connection to the database that the read-only opening found (it creates nothing). On
    PostgreSQL the reader's own connection writes (only a SQLite file is opened read-only), and the book's ``due``
    rebuilds through it: a second engine there cost a second connection, its set-up queries and schema check."""

    def announce(line: str) -> None:
        click.echo(render(line, flag), err=True)

    from regimen.store.db import resolve  # lazy: SQLAlchemy only for the course commands

    url = resolve(db)
    book = _book_of(_open_repository(url, write, announce))
    store = _Guarded(book, url, write)
    # closed when the command ends (its engine's pooled connections let go), not when a reference cycle is collected:
    # a command run in a process that goes on (a test's, a script calling the command line) held a connection open
    context = click.get_current_context(silent=True)
    if context is not None:
        context.call_on_close(store.close)
    if refresh and not write and url.get_backend_name() == "sqlite":
        _rebuild_through_writer(url)
    return store


def _rebuild_through_writer(url: Any, course_ids: Any = None) -> None:
    """A read-only SQLite file's stale caches (``course_ids``, else those found stale) rebuilt through a writing
    connection to the same file (it creates nothing)."""
    writer = _Guarded(_book_of(_open_repository(url, True)), url, True)
    try:
        writer.refresh() if course_ids is None else writer.rebuild(course_ids)
    finally:
        writer.close()


def due_rows(db: str | None, first: dt.date, last: dt.date) -> list[Any]:
    """The worklist of ``first`` to ``last`` on the database of ``--db`` (``regimen due``), read through the store
    alone: the course book, and with it the plan engine, the protocol loader and the clinical rules, are loaded only
    when a course's cached rows are stale and must be replayed (after an upgrade), which a day's worklist otherwise
    never needs (a third of the command's start-up, issue 29). One connection: a SQLite file is read read-only and
    its stale courses are rebuilt through a writing connection of their own; on PostgreSQL the reader's connection
    rebuilds them."""
    from regimen.store.db import resolve  # lazy: SQLAlchemy only for the course commands

    url = resolve(db)
    repository = _open_repository(url, False)
    store = _Guarded(repository, url, False)

    def rebuild(course_ids: Any) -> None:
        if url.get_backend_name() == "sqlite":
            _rebuild_through_writer(url, course_ids)
        else:
            _Guarded(_book_of(repository), url, True).rebuild(course_ids)

    try:
        rows: list[Any] = worklist.due(store, first, last, rebuild)
        return rows
    finally:
        store.close()


@contextmanager
def loading() -> Iterator[None]:
    """The block loads a library that stays loaded to the end of the command (SQLAlchemy, the database driver, the
    store): the cyclic garbage collector is paused while it does, and what it loaded is then frozen out of later
    collections, as the command line's start-up does with its own modules (regimen.__main__). The collector scanned
    SQLAlchemy's and psycopg's objects again and again as they loaded, and again as a worklist's rows piled up: a
    sixth of the CPU time of 'regimen due' over 100,000 courses on PostgreSQL (issue 29).

    Only in a process that froze its start-up (the console script, :func:`regimen.lazy.freeze_start_up`): another
    (a test's, running commands in-process) is left to collect as it does, as a freeze there would keep its later
    garbage cycles for good."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        freeze_if_start_up_was()
        if was:
            gc.enable()


def due_span(first: dt.datetime | None, days: int) -> tuple[dt.date, dt.date]:
    """The first and last day of a worklist (--from, --days), within the years regimen plans."""
    day1 = check_date(first.date() if first else dt.date.today(), "--from")
    return day1, day1 + dt.timedelta(days=days - 1)


__all__ = ["MAX_DUE_DAYS", "db_option", "due_rows", "due_span", "loading", "open_store"]
