"""The course database under stress: two processes at once, a process killed mid-change, the schema's migrations.

Run against SQLite and the real PostgreSQL server of tests/postgres.py (the ``db`` fixture of test_courses).
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from tests.helpers import CAPOX_FIXTURE
from tests.test_courses import START, changes_in, db, ok, postgres, rows_of, started
from tests.writers import open_at_once, writers

from regimen.engine.courses import code_version as _code_version
from regimen.store.db import HEAD, resolve
from regimen.store.schema import metadata, scheduled

__all__ = ["db", "postgres"]  # the fixtures, shared with test_courses


def _consistent(db: str) -> tuple[int, list[dict[str, object]]]:
    """The records replayed and the worklist cache agree; returns the number of changes and the rows."""
    rows = rows_of(db)
    planned = sorted(
        (r["phase"], r["cycle"], r["day"], r["component"], r["dose_number"]) for r in rows if r["status"] == "planned"
    )
    engine = sa.create_engine(resolve(db))
    with engine.connect() as conn:
        cached = sorted(
            (r.phase, r.cycle, r.day, r.component, None)
            for r in conn.execute(sa.select(scheduled).where(scheduled.c.course_id == "bed4"))
            if r.status in ("planned", "verified")  # given and omitted stay on the worklist page (issue 28)
        )
        revisions = set(conn.execute(sa.select(scheduled.c.revision).where(scheduled.c.course_id == "bed4")).scalars())
    engine.dispose()
    assert [p[:4] for p in planned] == [c[:4] for c in cached], "the worklist cache differs from the records"
    n = changes_in(db)
    assert revisions <= {n}, f"the cache reflects {revisions}, the records {n} changes"
    return n, rows


def test_two_processes_recording_at_once_lose_nothing(db: str) -> None:
    started(db)
    with writers() as writer:
        a = writer(db, [1, 3, 5, 7, 9, 11, 13], "nurse-a")
        b = writer(db, [2, 4, 6, 8, 10, 12, 14], "nurse-b")
        a.finished()
        b.finished()
    n, rows = _consistent(db)
    assert n == 14
    record = json.loads(ok(db, "course", "export", "bed4").stdout)
    assert [c["seq"] for c in record["records"]["changes"]] == list(range(1, 15))
    assert {c["who"] for c in record["records"]["changes"]} == {"nurse-a", "nurse-b"}
    omitted = sorted({r["day"] for r in rows if r["status"] == "omitted"})
    assert omitted == list(range(1, 15))  # every day of cycle 2's capecitabine, none lost


def test_a_process_killed_mid_change_leaves_the_course_as_it_was(db: str, tmp_path: Path) -> None:
    started(db)
    ok(db, "course", "omit", "bed4", "--cycle", "2", "--day", "1", "--drug", "capecitabine", "--reason", "x")
    before = ok(db, "course", "export", "bed4").stdout
    mark = tmp_path / "inside"
    with writers() as writer:
        doomed = writer(db, [2], "doomed", mark)
        assert doomed.said() == "ready"
        deadline = time.monotonic() + 60
        while not mark.exists():  # bounded wait until the change is written but not committed
            assert doomed.alive, doomed.said()
            assert time.monotonic() < deadline, "the writer never reached its pause"
            time.sleep(0.02)
        assert doomed.kill() == -signal.SIGKILL
    assert ok(db, "course", "export", "bed4").stdout == before  # nothing of the killed change
    assert _consistent(db)[0] == 1
    # the database is not left locked: the next change goes through
    ok(db, "course", "omit", "bed4", "--cycle", "2", "--day", "2", "--drug", "capecitabine", "--reason", "y")
    assert _consistent(db)[0] == 2


def test_writers_killed_at_random_moments_leave_whole_changes(db: str) -> None:
    """Four writers of three changes each, each killed at a random moment of its writing: once it has said that 0, 1,
    2 or 0 of its changes are committed, a random 0 to 40 ms later (a change takes about 25 ms). Each change recorded
    is whole, and none that it said was committed is lost.

    (Killed at a random 0.3 to 1.5 s from its start instead, as before, three of the four writers had finished: they
    take 0.4 to 0.8 s, most of it their imports.)"""
    started(db)
    rng = __import__("random").Random(12)
    before = 0
    for round_ in range(4):
        days = list(range(1 + round_ * 3, 4 + round_ * 3))
        committed = round_ % 3
        with writers() as writer:
            proc = writer(db, days, f"w{round_}")
            said = [proc.said() for _ in range(1 + committed)]
            assert said == ["ready", *map(str, days[:committed])], said
            time.sleep(rng.uniform(0, 0.04))
            proc.kill()
        n, rows = _consistent(db)
        omitted = {r["day"] for r in rows if r["status"] == "omitted"}
        assert len(omitted) == n  # each recorded change is whole: one omitted day per change, no more, no less
        assert before + committed <= n <= before + len(days)
        assert set(days[:committed]) <= omitted  # what it said was committed is there
        before = n


def test_the_migrations_build_the_schema_the_code_uses(db: str) -> None:
    started(db)
    engine = sa.create_engine(resolve(db))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == []


def test_two_processes_opening_a_new_database_at_once(db: str) -> None:
    open_at_once(db, 3)
    ok(db, "course", "start", CAPOX_FIXTURE, "--course", "x", *START)


def test_the_stored_view_is_what_a_replay_gives(db: str) -> None:
    """``course show`` reads the view written with the last change; it must be exactly the replay of the records."""
    started(db)
    ok(db, "course", "delay", "bed4", "--cycle", "3", "--by", "7d", "--reason", "counts")
    ok(db, "course", "measure", "bed4", "--cycle", "4", "--weight", "62", "--bsa", "1.6", "--reason", "re-weighed")
    ok(db, "course", "given", "bed4", "--cycle", "1", "--day", "1", "--drug", "oxaliplatin", "--dose", "230 mg")
    cached_text = ok(db, "course", "show", "bed4").stdout
    cached_json = ok(db, "course", "show", "bed4", "--format", "json").stdout
    engine = sa.create_engine(resolve(db))
    with engine.begin() as conn:  # the view is a cache, not a record: it may go, and is then replayed
        conn.execute(sa.text("DELETE FROM course_views"))
    engine.dispose()
    assert ok(db, "course", "show", "bed4").stdout == cached_text
    assert ok(db, "course", "show", "bed4", "--format", "json").stdout == cached_json


def _due(db: str) -> list[tuple[str, str, object, object]]:
    data = json.loads(ok(db, "due", "--from", "2026-12-01", "--format", "json").stdout)["administrations"]
    return sorted((a["drug"], a["dose_text"], a["dose"], a["dose_number"]) for a in data)


#: capox for 1.8 m² on day 1: oxaliplatin 130 × 1.8 = 234 mg, capecitabine 1,000 × 1.8 = 1,800 mg twice (the text and
#: the number, which migration 0005 added: a database upgraded from before it has them once 'due' rebuilds its rows)
DAY_1 = [
    ("capecitabine", "1,800 mg", 1800, 1),
    ("capecitabine", "1,800 mg", 1800, 2),
    ("oxaliplatin", "234 mg", 234, None),
]


def test_the_worklist_written_by_another_version_is_rebuilt(db: str) -> None:
    """The worklist's rows are a cache: when they were written by another version of regimen (one that computed
    another dose, say), 'due' rebuilds them from the records before it answers."""
    started(db)
    assert _due(db) == DAY_1
    engine = sa.create_engine(resolve(db))
    with engine.begin() as conn:  # what an older version might have left: another dose, and its version
        conn.execute(sa.text("UPDATE scheduled SET dose_text = '999 mg'"))
        conn.execute(sa.text("UPDATE course_views SET code_version = '0.0.1'"))
    engine.dispose()
    assert _due(db) == DAY_1
    engine = sa.create_engine(resolve(db))
    with engine.connect() as conn:
        versions = conn.execute(sa.text("SELECT DISTINCT code_version FROM course_views")).scalars().all()
    assert versions == [_code_version()] != ["0.0.1"]
    engine.dispose()


def test_a_worklist_of_current_caches_reads_two_counts_not_every_course(db: str) -> None:
    """'due' first asks whether any course's caches are missing or stale. When every course's were written by this
    version, two counts say so (views of this version, courses), and the join of every course with its view is not
    run (issue 29: a worklist over 100,000 courses). One stale view: the join runs, and the course is rebuilt."""
    started(db)
    started(db, "bed5")
    statements: list[str] = []

    def seen(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", seen)
    try:
        assert _due(db) == sorted(DAY_1 * 2)
        assert not [s for s in statements if "LEFT OUTER JOIN course_views" in s]
        assert any("count(*)" in s and "course_views" in s for s in statements)
        engine = sa.create_engine(resolve(db))
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE course_views SET code_version = '0.0.1' WHERE course_id = 'bed5'"))
        engine.dispose()
        statements.clear()
        assert _due(db) == sorted(DAY_1 * 2)
        assert [s for s in statements if "LEFT OUTER JOIN course_views" in s]
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", seen)


def test_a_worklist_on_postgresql_opens_one_connection(db: str) -> None:
    """'due' reads and, where caches are stale, rebuilds them. A SQLite file is opened read-only, so the rebuild has a
    writing connection of its own, opened only when a course is stale: one, or two. On PostgreSQL the reader's
    connection writes, and a second engine cost a second connection with its set-up queries and schema check, a
    fifth of the command's CPU (issue 29): one. A stale course is still rebuilt through it."""
    started(db)
    opened: list[object] = []

    def connected(dbapi_connection: object, record: object) -> None:
        opened.append(dbapi_connection)

    sa.event.listen(sa.pool.Pool, "connect", connected)
    try:
        assert _due(db) == DAY_1
        assert len(opened) == 1
        engine = sa.create_engine(resolve(db))
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE scheduled SET dose_text = '999 mg'"))
            conn.execute(sa.text("UPDATE course_views SET code_version = '0.0.1'"))
        engine.dispose()
        opened.clear()
        assert _due(db) == DAY_1
        assert len(opened) == (2 if db.endswith(".sqlite3") else 1)
    finally:
        sa.event.remove(sa.pool.Pool, "connect", connected)


#: 'regimen due' in a process of its own, as a person runs it; then the modules it loaded, one a line.
DUE_PROCESS = """
import sys
from regimen.__main__ import main
sys.argv = ["regimen", "due", "--from", "2026-12-01", "--db", sys.argv[1], "-o", sys.argv[2]]
try:
    main()
finally:
    print("\\n".join(sorted(sys.modules)))
"""
SRC = Path(__file__).resolve().parents[1] / "src"


#: What a day's worklist does not load while every course's cached rows are current (issue 29): the plan engine, the
#: replay of courses, the protocol loader, the clinical rules, the course's renderers, the command line's other
#: commands and click's shell completion.
NOT_FOR_THE_WORKLIST = (
    "regimen.engine.expand",
    "regimen.engine.plan",
    "regimen.engine.courses.replay",
    "regimen.engine.courses.book",
    "regimen.protocol.loader",
    "regimen.protocol.catalog",
    "regimen.clinical.options",
    "regimen.model",
    "regimen.export.course",
    "regimen.export.table",
    "regimen.cli.course",
    "regimen.cli.clinical_options",
    "click.shell_completion",
)


def _due_process(db: str, tmp: Path) -> tuple[list[str], set[str]]:
    """The CSV's administrations (drug and dose) and the modules loaded, of 'regimen due' run as a new process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))}
    csv_file = tmp / "due.csv"
    out = subprocess.run(
        [sys.executable, "-c", DUE_PROCESS, db, str(csv_file)], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    with csv_file.open(encoding="utf-8", newline="") as f:
        rows = sorted(f"{r['drug']} {r['dose_text']}" for r in csv.DictReader(f))
    return rows, set(out.stdout.splitlines())


def test_a_days_worklist_does_not_load_the_plan_engine(db: str, tmp_path: Path) -> None:
    """'regimen due' reads the rows each change cached: while they are current, its process loads the store and the
    worklist's writers, not the plan engine, the protocol loader, the clinical rules or the course commands (about a
    third of its start-up, issue 29). A stale course is replayed, which loads them, and the rows are the same."""
    started(db)
    rows, loaded = _due_process(db, tmp_path)
    assert rows == ["capecitabine 1,800 mg", "capecitabine 1,800 mg", "oxaliplatin 234 mg"]
    assert {"regimen.store.courses", "regimen.export.worklist"} <= loaded
    assert not loaded & set(NOT_FOR_THE_WORKLIST), sorted(loaded & set(NOT_FOR_THE_WORKLIST))
    engine = sa.create_engine(resolve(db))
    with engine.begin() as conn:  # an older version's caches: the course is replayed, with the plan engine
        conn.execute(sa.text("UPDATE scheduled SET dose_text = '999 mg'"))
        conn.execute(sa.text("UPDATE course_views SET code_version = '0.0.1'"))
    engine.dispose()
    rows, loaded = _due_process(db, tmp_path)
    assert rows == ["capecitabine 1,800 mg", "capecitabine 1,800 mg", "oxaliplatin 234 mg"]
    assert {"regimen.engine.courses.replay", "regimen.engine.expand"} <= loaded


def test_a_worklist_on_postgresql_sends_each_read_once_without_a_transaction_or_a_ping(db: str) -> None:
    """What 'due' sends a PostgreSQL server, as the driver's protocol trace shows it: after SQLAlchemy's set-up of the
    connection, one statement per read (the schema's version, the two counts, the day's rows). Each read went in a
    BEGIN and a ROLLBACK, each connection taken from the pool was pinged first, the version was preceded by a
    catalog query for its table, and the counts were two statements: 19 round trips to the server, 9 now (issue 29)."""
    if db.endswith(".sqlite3"):
        pytest.skip("the round trips of a PostgreSQL server (a SQLite file has none)")
    from psycopg import pq

    started(db)
    files: list[Any] = []

    def connected(dbapi_connection: Any, record: object) -> None:
        out = tempfile.TemporaryFile()
        files.append(out)
        dbapi_connection.pgconn.trace(out.fileno())
        dbapi_connection.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)

    sa.event.listen(sa.pool.Pool, "connect", connected)
    try:
        assert _due(db) == DAY_1
    finally:
        sa.event.remove(sa.pool.Pool, "connect", connected)
    sent = []  # the client's messages that wait for the server's answer: a simple query, or an extended one's Sync
    for out in files:
        out.seek(0)
        for line in out.read().decode("utf-8", "replace").splitlines():
            fields = line.split("\t")
            if fields[0] == "F" and fields[2] in ("Query", "Parse"):  # Parse names its statement first: ""
                text = fields[3].strip().removeprefix('"" ') if fields[2] == "Parse" else fields[3].strip()
                sent.append(" ".join(text.strip('"').split()[:4]))
        out.close()
    set_up = sent.index("ROLLBACK") + 1  # SQLAlchemy's first connect: the server's version, schema and settings
    assert sent[:set_up][0] == "BEGIN"
    assert sent[set_up:] == [
        "SELECT version_num FROM alembic_version",
        "SELECT (SELECT count(*) AS",  # the views of this version against the courses: one statement
        "SELECT scheduled.course_id, scheduled.regimen_id, scheduled.date,",
    ]


def test_the_schema_version_read_in_one_statement_still_tells_a_foreign_database_from_a_damaged_one(
    tmp_path: Path,
) -> None:
    """The version is read without asking the catalog first (issue 29); when that read fails, the catalog says why:
    a SQLite database of other tables is no course database, and a file of other bytes is a damaged one, each
    one line."""
    import sqlite3

    from regimen.cli.app import cli

    foreign = tmp_path / "notes.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()
    result = CliRunner().invoke(cli, ["due", "--from", "2026-12-01", "--db", str(foreign)])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"Error: {foreign} is not a course database (no regimen tables); check --db"
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"not a database, but long enough to be read as one's header" * 100)
    result = CliRunner().invoke(cli, ["due", "--from", "2026-12-01", "--db", str(garbage)])
    assert result.exit_code == 1
    assert result.stderr.strip().startswith(f"Error: {garbage} is not a usable course database (file is not a")


def test_the_worklist_command_freezes_the_database_libraries_out_of_garbage_collection(tmp_path: Path) -> None:
    """The console script pauses the cyclic collector while it imports and freezes what it loaded (regimen.__main__);
    'due' does the same with SQLAlchemy and the driver, which it loads later: their objects are no longer scanned
    at each collection (a sixth of the command's CPU time on PostgreSQL, issue 29). A process whose start-up is not
    the console script's, as this test's, is left to collect as before: nothing more frozen, the collector running."""
    import gc

    db = str(tmp_path / "unit.sqlite3")
    started(db)
    script = (
        "import atexit, gc, sys\n"
        "def verdict():\n"
        "    from sqlalchemy.sql.selectable import Select  # as the command loaded it\n"
        "    print('scanned' if any(o is Select for o in gc.get_objects()) else 'frozen')  # untracked once frozen\n"
        "atexit.register(verdict)\n"
        "from regimen.__main__ import main\n"
        "sys.argv = ['regimen', 'due', '--from', '2026-12-01', '--format', 'csv', '--db', sys.argv[1]]\n"
        "main()\n"
    )
    run = subprocess.run([sys.executable, "-c", script, db], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == "frozen"
    assert len(run.stdout.splitlines()) == 1 + len(DAY_1) + 1  # the header, the day's three doses, the verdict
    frozen = gc.get_freeze_count()
    assert _due(db) == DAY_1
    assert gc.get_freeze_count() == frozen and gc.isenabled()


def test_the_worklist_csv_holds_every_field_of_the_json_in_its_columns(db: str) -> None:
    """The CSV's columns take each record's values by name, in the columns' order (issue 29: no DictWriter, which
    checked every record's keys): each row holds exactly the JSON record's fields, empty where it is null."""
    started(db)
    text = ok(db, "due", "--from", "2026-12-01", "--format", "csv").stdout
    records = json.loads(ok(db, "due", "--from", "2026-12-01", "--format", "json").stdout)["administrations"]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(records) == 3
    for row, record in zip(rows, records, strict=True):
        assert row == {k: "" if v is None else str(v) for k, v in record.items()}


def _migrated(db: str, revision: str, *, down: bool = True) -> sa.Engine:
    """The database taken back (or forward) to the schema of ``revision`` by its migrations; an engine on it."""
    from alembic import command
    from alembic.config import Config

    from regimen.store.db import MIGRATIONS

    engine = sa.create_engine(resolve(db))
    with engine.begin() as conn:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(config, revision)
    return engine


def test_a_worklist_of_schema_0006_gets_each_row_s_regimen_from_its_course(db: str) -> None:
    """Migration 0007 gives every worklist row its course's regimen id (the worklist no longer reads the courses):
    rows written under 0006 have it filled from their course, without the course being rebuilt (0007 alone: 0008
    empties the caches, to be rebuilt with each row's role); then the worklist, at the newest schema, is whole."""
    started(db)
    engine = _migrated(db, "0006")
    with engine.connect() as conn:
        assert "regimen_id" not in {c["name"] for c in sa.inspect(conn).get_columns("scheduled")}
        kept = conn.execute(sa.text("SELECT count(*) FROM scheduled")).scalar()
    engine.dispose()
    engine = _migrated(db, "0007", down=False)
    with engine.connect() as conn:
        found = conn.execute(sa.text("SELECT DISTINCT regimen_id FROM scheduled")).scalars().all()
        assert found == ["capox"]
        assert conn.execute(sa.text("SELECT count(*) FROM scheduled")).scalar() == kept  # the same rows, filled in
    engine.dispose()
    data = json.loads(ok(db, "due", "--from", "2026-12-01", "--format", "json").stdout)["administrations"]
    assert {a["regimen"] for a in data} == {"capox"} and len(data) == len(DAY_1)


def test_exact_numbers_of_the_worklist_read_back_exactly() -> None:
    """The worklist keeps doses and hours as text ("1343/2"); they are read back as the same fractions."""
    from fractions import Fraction

    from regimen.store.courses import _exact

    assert _exact("1343/2") == Fraction(1343, 2)
    assert _exact("-3/4") == Fraction(-3, 4)
    assert _exact("84") == Fraction(84)
    assert _exact("2.5") == Fraction(5, 2)
    assert _exact("") is None
    assert _exact(None) is None


def test_a_database_of_the_previous_schema_is_upgraded_and_its_worklist_rebuilt(db: str) -> None:
    """A course recorded under migration 0002 (worklist rows without the dose of the day): opening the database
    applies 0003, which empties the caches; 'due' rebuilds them, with the dose numbers."""
    started(db)
    engine = _migrated(db, "0002")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == "0002"
        assert "dose_number" not in {c["name"] for c in sa.inspect(conn).get_columns("scheduled")}
    engine.dispose()
    assert _due(db) == DAY_1
    engine = sa.create_engine(resolve(db))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar() == HEAD == "0008"
        assert conn.execute(sa.text("SELECT count(*) FROM course_views")).scalar() == 1
    engine.dispose()


def test_a_version_table_made_between_the_read_and_the_catalog_look_up_is_read_not_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three processes open a new PostgreSQL database at once: one's version read fails (no table yet), then the
    migrating process commits, and the catalog shows the table. That is not a damaged database: the version is read
    again. (CI once failed 'alembic_version does not exist' here, in test_two_processes_opening_a_new_database_at_once.)
    Simulated on a migrated SQLite file: the first read fails as it did when the table was not there yet."""
    from contextlib import contextmanager

    from regimen.store import db as store_db

    path = tmp_path / "c.sqlite3"
    engine = sa.create_engine(f"sqlite+pysqlite:///{path}")
    store_db.migrate(engine)

    class NotYet:
        def execute(self, *_: Any) -> Any:
            raise sa.exc.OperationalError("SELECT version_num FROM alembic_version", {}, Exception("no such table"))

    @contextmanager
    def not_yet(_: Any) -> Any:
        yield NotYet()

    monkeypatch.setattr(store_db, "reading", not_yet)
    assert store_db._current_of(engine) == store_db.HEAD
    engine.dispose()
