"""Where the courses are kept, and the schema brought up to date.

``--db``/``REGIMEN_DB`` is a file path (SQLite) or a ``postgresql://`` URL; without either, a SQLite file in the
user's data directory. SQLite runs in WAL mode with full sync, and every write transaction begins IMMEDIATE, so
two processes writing at once take turns instead of failing; PostgreSQL locks the course's row. The schema is
migrated with Alembic inside one transaction (PostgreSQL: under an advisory lock), so two processes opening a
new database at once do not both create it.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url

from regimen.errors import RegimenError, hide_password, option

HEAD = "0008"  # the newest migration (src/regimen/store/migrations/versions)
MIGRATIONS = Path(__file__).with_name("migrations")
_LOCK_KEY = 0x7265_6769  # "regi": the advisory lock of the migration on PostgreSQL


class StoreError(RegimenError):
    """The course database cannot be used as asked."""


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "regimen" / "courses.sqlite3"


def resolve(db: str | None, environ: Mapping[str, str] | None = None) -> URL:
    """The database URL of ``--db`` (or ``REGIMEN_DB``, or the default file)."""
    env = os.environ if environ is None else environ
    text = db if db is not None else env.get("REGIMEN_DB")
    if text is None or not text.strip():
        return sa.URL.create("sqlite+pysqlite", database=str(default_path(env)))
    text = text.strip()
    if "://" not in text:
        return sa.URL.create("sqlite+pysqlite", database=str(Path(text).expanduser().resolve()))
    try:
        url = make_url(text)
    except Exception:
        raise StoreError(
            f"{option('db')} {hide_password(text)!r} is not a database URL: give a file path or "
            "postgresql://USER@HOST/DB"
        ) from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return url.set(drivername="sqlite+pysqlite")
    raise StoreError(
        f"{option('db')}: {backend!r} databases are not supported; give a file path or a postgresql:// URL"
    )


def _file_of(url: URL) -> str:
    """The SQLite file of ``url`` (also of the read-only ``file:`` URI :func:`connect` opens)."""
    database = str(url.database)
    if url.query.get("uri") == "true" and database.startswith("file:"):
        return urllib.parse.unquote(database[len("file:") :])
    return database


def shown(url: URL) -> str:
    """The URL as it may be shown: never the password."""
    if url.get_backend_name() == "sqlite":
        return _file_of(url)
    # as the user writes it (postgresql://, not the driver's postgresql+psycopg://)
    return hide_password(url.set(drivername=url.get_backend_name()).render_as_string(hide_password=False))


def _sqlite(engine: Engine, write: bool) -> None:
    @event.listens_for(engine, "connect")
    def connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's BEGIN below, not the driver's
        cursor = dbapi_connection.cursor()
        if write:  # a reader opens the file read-only: WAL is the file's own setting, kept from its first writer
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _prepare_file(url: URL) -> bool:
    """A new SQLite file is made private to its user (it holds patient values) in a private folder; True when there
    was no course database there before (no file, or an empty one)."""
    if url.database in (None, "", ":memory:"):
        return False
    path = Path(str(url.database))
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        new = not path.exists()
        if new:
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise StoreError(
            f"cannot create the course database {path}: {exc.strerror}; choose another {option('db')}"
        ) from None
    if path.is_dir():
        raise StoreError(f"{path} is a folder; give {option('db')} a file path")
    return new or _empty(path)


def _empty(path: Path) -> bool:
    """No byte of a database in ``path`` (nor in its write-ahead log, which holds a new database's first pages)."""
    wal = path.with_name(path.name + "-wal")
    return path.stat().st_size == 0 and (not wal.exists() or wal.stat().st_size == 0)


def _read_only(url: URL) -> URL:
    """``url`` as a read-only SQLite URI of a file that must exist: a reader never creates a database or folder."""
    if url.database in (None, "", ":memory:"):
        return url
    path = Path(str(url.database))
    try:
        if not path.exists():
            raise StoreError(
                f"no course database at {path}: nothing is recorded there yet ('regimen course start' creates it); "
                f"check {option('db')} or REGIMEN_DB"
            )
        if path.is_dir():
            raise StoreError(f"{path} is a folder; give {option('db')} a file path")
        if _empty(path):
            raise StoreError(
                f"{path} is an empty file, not a course database: give {option('db')} the course database's file"
            )
    except OSError as exc:
        raise StoreError(f"cannot read the course database {path}: {exc.strerror}; check {option('db')}") from None
    return url.set(database="file:" + urllib.parse.quote(str(path)), query={"mode": "ro", "uri": "true"})


def _lost(exc: sa.exc.DBAPIError) -> bool:
    """The connection went away (the server stopped, the network failed), rather than the SQL failing."""
    if exc.connection_invalidated:
        return True
    text = str(exc.orig).lower()
    return any(
        words in text
        for words in ("server closed the connection", "consuming input failed", "terminating connection", "lost")
    )


def failure(exc: sa.exc.DBAPIError, url: URL, writing: bool) -> StoreError:
    """One line for a database error met while using ``url``: what happened to the course data, and what to do.
    Never the SQL, never a password."""
    where = shown(url)
    reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None and str(exc.orig).strip() else "failed"
    lowered = reason.lower()
    if "malformed" in lowered or "disk i/o error" in lowered:
        return StoreError(
            f"the course database {where} is damaged ({reason}): nothing was changed; restore it from a backup "
            "(sqlite3's '.recover' may save what is left)"
        )
    if "file is not a database" in lowered:
        return StoreError(f"{where} is not a usable course database ({reason}); give {option('db')} another file")
    if _lost(exc):
        if not writing:
            return StoreError(f"lost the connection to the course database {where} ({reason}); try again")
        if exc.statement is None:  # the COMMIT itself: the server may have made it durable before it went away
            return StoreError(
                f"lost the connection to the course database {where} while the change was being committed "
                f"({reason}): it may or may not have been recorded; once the server is back, 'regimen course show' "
                "on the course shows which"
            )
        return StoreError(
            f"lost the connection to the course database {where} ({reason}): the change was not recorded; "
            "run the command again once the server is back"
        )
    if isinstance(exc, sa.exc.OperationalError):
        return StoreError(f"cannot use the course database {where}: {reason}")
    return StoreError(f"the course database {where} refused the request ({reason}); nothing was changed")


@contextmanager
def guarded(url: URL, writing: bool) -> Iterator[None]:
    """Database errors inside the block as one :class:`StoreError` line (see :func:`failure`)."""
    try:
        yield
    except sa.exc.DBAPIError as exc:
        raise failure(exc, url, writing) from None


def connect(
    url: URL, *, write: bool = True, announce: Callable[[str], None] | None = None, lasting: bool = True
) -> Engine:
    """An engine on ``url`` with the schema at :data:`HEAD`.

    ``write=False`` (show, list, due): a SQLite file is opened read-only and must already hold a database (a missing
    or empty file is refused: a reader creates nothing). A writer creates a new database and says so through
    ``announce``. A database of a newer schema than this regimen knows is refused before anything is touched.

    ``lasting`` False: the engine of one command, which lives a second. A lasting engine (the web server's) pings a
    PostgreSQL connection from its pool before reusing it, as a server restarted between two requests leaves it
    dead; a command's connections were opened moments before, and the ping was a round trip to the server on each
    of the worklist's three reads (issue 29).
    """
    sqlite = url.get_backend_name() == "sqlite"
    new = False
    if sqlite:
        if write:
            new = _prepare_file(url)
        else:
            url = _read_only(url)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        _sqlite(engine, write)
    else:
        # no hstore: regimen stores none, and looking its type up took three more statements on every connection
        engine = sa.create_engine(
            url, pool_pre_ping=lasting, use_native_hstore=False, connect_args={"connect_timeout": 10}
        )
    try:
        with guarded(url, writing=False):
            migrate(engine, url, writable=write or not sqlite)
    except StoreError:
        engine.dispose()
        raise
    if new and announce is not None:
        announce(f"created a new course database: {shown(url)}")
    return engine


def known() -> set[str]:
    """The schema revisions this regimen knows (its migrations' file names begin with them)."""
    return {p.name.split("_", 1)[0] for p in (MIGRATIONS / "versions").glob("[0-9]*_*.py")}


_VERSION = sa.text("SELECT version_num FROM alembic_version")


def current(conn: Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(_VERSION).scalar()


def _current_of(engine: Engine) -> str | None:
    """The schema revision, as :func:`current` reads it, in one statement where the version table is there (every
    course database): the catalog is looked up only when the statement fails, to tell a database without the table
    from an error. On PostgreSQL the read runs outside a transaction: a statement sees its own snapshot either way,
    and BEGIN and ROLLBACK were two more round trips to the server (issue 29)."""
    try:
        with reading(engine) as conn:
            return conn.execute(_VERSION).scalar()
    except sa.exc.DBAPIError:
        # no table (a new or foreign database): None. The table there: read it again, as another process migrating
        # may have committed it since the statement failed (three processes opening a new database at once); a
        # second failure with the table there is the database's (a lost server, a damaged file) and propagates
        with engine.connect() as conn:
            return current(conn)


def reading(engine: Engine) -> Connection:
    """A connection for reads that need no snapshot across statements: on PostgreSQL, each statement commits on its
    own (no BEGIN and ROLLBACK sent around it; under READ COMMITTED each statement sees its own snapshot anyway).
    A SQLite reader keeps its transaction: a WAL reader's snapshot costs nothing, and the engine's BEGIN is the
    connection's own (see :func:`_sqlite`)."""
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


def _check_known(found: str | None, url: URL) -> None:
    if found is not None and found not in known():
        raise StoreError(
            f"the course database {shown(url)} was written by a newer regimen (schema {found!r}; this one knows up "
            f"to {HEAD!r}): upgrade regimen to use it; nothing was changed"
        )


def migrate(engine: Engine, url: URL | None = None, *, writable: bool = True) -> None:
    """Bring the schema to :data:`HEAD` (Alembic is imported only when there is something to do). A newer schema is
    refused untouched. ``writable`` False: a read-only SQLite file, brought up to date by a writing connection of its
    own when it is an older regimen database (never made a database when it is not one)."""
    url = engine.url if url is None else url
    found = _current_of(engine)
    _check_known(found, url)
    if found == HEAD:
        return
    if not writable:
        if found is None:
            raise StoreError(f"{shown(url)} is not a course database (no regimen tables); check {option('db')}")
        writer = sa.create_engine(
            sa.URL.create("sqlite+pysqlite", database=_file_of(url)), connect_args={"timeout": 30}
        )
        _sqlite(writer, True)
        try:
            migrate(writer, url)
        finally:
            writer.dispose()
        return
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        found = current(conn)  # again, under the lock: another process may have migrated meanwhile
        _check_known(found, url)
        if found == HEAD:
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


__all__ = [
    "HEAD",
    "StoreError",
    "connect",
    "default_path",
    "failure",
    "guarded",
    "known",
    "reading",
    "resolve",
    "shown",
]
