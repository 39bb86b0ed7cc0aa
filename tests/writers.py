"""Course writers in processes of their own: two processes recording at once, a process killed mid-change, processes
making a new database's schema at once.

Each writer is a separate operating-system process with its own connection to the database, as two nurses' commands
are. The writers are forked from a server process (multiprocessing's *forkserver*) that imported the course store
once, when the first writer was asked for. Started as ``python -c ...`` instead, each spent 0.35 to 0.4 s of CPU on
its imports: the eight tests that start the 20 processes took 17 to 19 s of the machine's CPU, against 9 to 10 s
forked (two pairs, busy time from /proc/stat). The server is a fresh interpreter, not the test process: a writer
inherits neither the test's connections nor its threads.

A writer says on its pipe when it is ready to write (the store open) and each day whose change it has committed; if
it fails, it sends its traceback.
"""

from __future__ import annotations

import multiprocessing
import os
import pathlib
import signal
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from multiprocessing.connection import Connection

from regimen.engine.courses import CourseBook
from regimen.export.course import rendered
from regimen.store.courses import CourseStore

_FORKSERVER = multiprocessing.get_context("forkserver")
_FORKSERVER.set_forkserver_preload([__name__])  # the server imports this module, and with it the store, once


def _write(pipe: Connection, db: str, days: list[int], tag: str, mark: str) -> None:
    """Omit day ``d`` of cycle 2's capecitabine for each of ``days``, one change each. With ``mark``, the store's test
    seam (``before_commit``) makes that file once the change is written and sleeps there, before the commit, so
    that the test can kill the writer inside the transaction."""

    def pause() -> None:
        pathlib.Path(mark).touch()
        time.sleep(30)

    book = CourseBook(CourseStore.open(db, before_commit=pause if mark else None), rendered)
    pipe.send("ready")
    for day in days:
        book.change("bed4", "omit", who=tag, why=f"{tag} omits day {day}", cycle="2", day=day, drug="capecitabine")
        pipe.send(str(day))


def _open(pipe: Connection, db: str) -> None:
    """Open the store (a new database: its schema made) and list its courses."""
    CourseStore.open(db).summaries()
    pipe.send("opened")


def _run(job: Callable[..., None], pipe: Connection, *args: object) -> None:
    """``job(pipe, *args)``; its traceback sent on the pipe if it fails (the server's standard error is whichever
    file the test that started the server had)."""
    try:
        job(pipe, *args)
    except BaseException:
        pipe.send("failed:\n" + traceback.format_exc())
        raise


class Writer:
    """One process (a writer, or an opener of the store): :meth:`said` reads what it says, :meth:`kill` kills it,
    :meth:`finished` waits for it."""

    def __init__(self, job: Callable[..., None], *args: object) -> None:
        self._pipe, theirs = _FORKSERVER.Pipe(duplex=False)
        self._process = _FORKSERVER.Process(target=_run, args=(job, theirs, *args), daemon=True)
        self._process.start()
        theirs.close()  # the writer holds the only sending end: when it ends, reading says so

    @property
    def alive(self) -> bool:
        return self._process.is_alive()

    def said(self, timeout: float = 60) -> str:
        """The next thing the writer says, waiting at most ``timeout`` seconds."""
        assert self._pipe.poll(timeout), "the writer said nothing in time"
        try:
            line: str = self._pipe.recv()
        except EOFError:
            self._process.join(30)
            raise AssertionError(f"the writer ended (exit code {self._process.exitcode}) without a word") from None
        assert not line.startswith("failed:"), line
        return line

    def kill(self) -> int | None:
        """SIGKILL, as a machine that loses its power; the exit code (``-SIGKILL`` if it was still running; 0 if it
        had already finished, and the server that forked it had let it go)."""
        assert self._process.pid is not None
        with suppress(ProcessLookupError):  # ended already, and let go by the server
            os.kill(self._process.pid, signal.SIGKILL)
        self._process.join(30)
        return self._process.exitcode

    def finished(self, timeout: float = 300) -> None:
        """Wait for the writer to end; fail with what it said if it did not end well."""
        self._process.join(timeout)
        words = []
        while self._pipe.poll():
            try:
                words.append(self._pipe.recv())
            except EOFError:
                break
        assert self._process.exitcode == 0, (self._process.exitcode, words)

    def close(self) -> None:
        """Kill the writer if it still runs (a failed test's), and let go of its pipe."""
        if self._process.is_alive():
            self.kill()
        self._pipe.close()


@contextmanager
def _started() -> Iterator[Callable[..., Writer]]:
    """A starter of processes, ``start(job, *args)``; each one it started is killed, if it still runs, and its pipe
    closed at the end."""
    made: list[Writer] = []

    def start(job: Callable[..., None], *args: object) -> Writer:
        made.append(Writer(job, *args))
        return made[-1]

    try:
        yield start
    finally:
        for each in made:
            each.close()


@contextmanager
def writers() -> Iterator[Callable[..., Writer]]:
    """A maker of writers, ``writer(db, days, tag, mark=None)`` (:func:`_write`), each cleaned up as
    :func:`_started` does."""
    with _started() as start:

        def writer(db: str, days: list[int], tag: str, mark: pathlib.Path | None = None) -> Writer:
            return start(_write, db, days, tag, str(mark or ""))

        yield writer


def open_at_once(db: str, processes: int = 3) -> None:
    """``processes`` processes open the store of ``db`` at once (a new database: each may find no schema and make
    it), and each lists its courses; fails with what one said if it did not end well."""
    with _started() as start:
        opened = [start(_open, db) for _ in range(processes)]
        for each in opened:
            assert each.said(120) == "opened"
            each.finished(120)
