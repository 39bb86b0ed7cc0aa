"""Where the courses are kept, and the schema brought up to date.

``--db``/``REGIMEN_DB`` is a file path (SQLite) or a ``postgresql://`` URL; without either, a SQLite file in the
user's data directory. SQLite runs in WAL mode with full sync, and every write transaction begins IMMEDIATE, so
two processes writing at once take turns instead of failing; PostgreSQL locks the course's row. The schema is
migrated with Alembic inside one transaction (PostgreSQL: under an advisory lock), so two processes opening a
new database at once do not both create it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url

from regimen.errors import RegimenError, option

HEAD = "0003"  # the newest migration (src/regimen/store/migrations/versions)
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
            f"{option('db')} {text!r} is not a database URL: give a file path or postgresql://USER@HOST/DB"
        ) from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        return url.set(drivername="sqlite+pysqlite")
    raise StoreError(
        f"{option('db')}: {backend!r} databases are not supported; give a file path or a postgresql:// URL"
    )


def shown(url: URL) -> str:
    """The URL as it may be shown: never the password."""
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return url.render_as_string(hide_password=True)


def _sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy's BEGIN below, not the driver's
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _prepare_file(url: URL) -> None:
    """A new SQLite file is made private to its user (it holds patient values) in a private folder."""
    if url.database in (None, "", ":memory:"):
        return
    path = Path(str(url.database))
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise StoreError(
            f"cannot create the course database {path}: {exc.strerror}; choose another {option('db')}"
        ) from None
    if path.is_dir():
        raise StoreError(f"{path} is a folder; give {option('db')} a file path")


def connect(url: URL) -> Engine:
    """An engine on ``url`` with the schema at :data:`HEAD`."""
    if url.get_backend_name() == "sqlite":
        _prepare_file(url)
        engine = sa.create_engine(url, connect_args={"timeout": 30})
        _sqlite(engine)
    else:
        engine = sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 10})
    try:
        migrate(engine)
    except sa.exc.OperationalError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "cannot connect"
        raise StoreError(f"cannot use the course database {shown(url)}: {reason}") from None
    except sa.exc.DatabaseError as exc:
        engine.dispose()
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "not a database"
        raise StoreError(
            f"{shown(url)} is not a usable course database ({reason}); give {option('db')} another file"
        ) from None
    return engine


def current(conn: Connection) -> str | None:
    if not sa.inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine) -> None:
    """Bring the schema to :data:`HEAD` (Alembic is imported only when there is something to do)."""
    with engine.connect() as conn:
        if current(conn) == HEAD:
            return
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        found = current(conn)  # again, under the lock: another process may have migrated meanwhile
        if found == HEAD:
            return
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


__all__ = ["HEAD", "StoreError", "connect", "default_path", "resolve", "shown"]
