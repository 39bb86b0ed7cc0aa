"""``regimen serve`` started as a user starts it, in its own process, for the tests that use the web app over HTTP."""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Hashable, Iterator
from pathlib import Path

import httpx
from click.testing import CliRunner
from tests.helpers import CAPOX_FIXTURE, free_port, http, stop

from regimen.cli import cli

#: The SQLite databases made once in this test process, by what made them (see :func:`copied`).
_MADE: dict[Hashable, Path] = {}


def copied(path: Path | str, key: Hashable, make: Callable[[str], object]) -> str:
    """A SQLite course database at ``path`` as ``make(path)`` makes it: made once per test process for each ``key``
    (in a temporary folder of its own) and copied after, with SQLite's backup API so that pages still in the
    write-ahead log come along. Starting a course renders its plan into the database, 0.3 to 0.6 s of CPU; the tests
    that only need one to start from (the web app's, the users') made the same one again, a hundred times a run.
    ``key`` says everything ``make`` depends on: the tests that start a course check what starting does themselves.
    """
    template = _MADE.get(key)
    if template is None:
        folder = tempfile.mkdtemp(prefix="regimen-template-")
        atexit.register(shutil.rmtree, folder, True)
        template = Path(folder) / "template.sqlite3"
        make(str(template))
        _MADE[key] = template
    with contextlib.closing(sqlite3.connect(template)) as source, contextlib.closing(sqlite3.connect(path)) as copy:
        source.backup(copy)
    return str(path)


def copied_db(db: str, key: Hashable, make: Callable[[str], object]) -> str:
    """The course database ``db`` (the ``db`` fixture's: a SQLite file not yet made, or a new empty PostgreSQL
    database) as ``make(db)`` makes it, made once per test process for each ``key`` and each kind of database and
    copied after: a SQLite file by :func:`copied`; on PostgreSQL ``db`` is made again as a copy of a template database
    (``CREATE DATABASE ... TEMPLATE``, a copy of the files on the server). For the tests that only start from it; the
    tests that check what making it does make it themselves."""
    if "://" not in db:
        return copied(db, key, make)
    import sqlalchemy as sa

    from regimen.store.db import resolve

    server, name = db.rsplit("/", 1)
    admin = sa.create_engine(resolve(f"{server}/postgres"), isolation_level="AUTOCOMMIT")  # connected to neither
    try:
        with admin.connect() as conn:
            template = _MADE_ON_SERVER.get((server, key))
            if template is None:
                template = f"template_{uuid.uuid4().hex[:12]}"  # make() may copy another template in turn
                conn.execute(sa.text(f'CREATE DATABASE "{template}"'))
                make(f"{server}/{template}")  # its commands have let their connections go (a copy refuses else)
                _MADE_ON_SERVER[server, key] = template
            conn.execute(sa.text(f'DROP DATABASE "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    finally:
        admin.dispose()
    return db


#: The template databases made on a PostgreSQL server in this test process, by server and what made them.
_MADE_ON_SERVER: dict[tuple[str, Hashable], str] = {}


def course_db(path: Path, *commands: str) -> str:
    """A course database at ``path`` made by ``regimen course`` COMMANDS (each a line as typed, without --db)."""
    return copied(path, ("course_db", commands), lambda where: _run_course(where, *commands))


def _run_course(where: str, *commands: str) -> None:
    for command in commands or (f"start {CAPOX_FIXTURE} --course bed4 --weight 70 --bsa 1.8 --start 2026-12-01",):
        result = CliRunner().invoke(cli, ["course", *shlex.split(command), "--db", where])
        assert result.exit_code == 0, result.output


@contextlib.contextmanager
def running(log: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Iterator[str]:
    """The base URL of a ``regimen serve --port N ARGS`` on 127.0.0.1, its stdout and stderr in ``log``, stopped
    (SIGTERM, then SIGKILL) when the block ends. ``env``: variables added to this process's environment."""
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "regimen", "serve", "--port", str(port), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:  # bounded poll until the server answers
                assert proc.poll() is None, f"regimen serve exited: {log.read_text(errors='replace')[-2000:]}"
                try:
                    if http().get(f"{base}/api/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "regimen serve did not start within 60 s"
                time.sleep(0.1)
            yield base
        finally:
            stop(proc)
