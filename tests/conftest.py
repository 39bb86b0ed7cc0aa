"""Shared fixtures: the CLI runner, the bundled regimen ids, and the servers some tests use.

The servers (PostgreSQL, Radicale, ``regimen serve``) start once per test process, when a test first asks for one,
and stop when the session ends (tests/servers.py). Tests that use them are marked ``integration`` here, so
``pytest -m "not integration and not slow"`` is the fast subset for the edit loop (CONTRIBUTING.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from hypothesis import settings
from tests import servers
from tests.postgres import postgres_server
from tests.servers import Server, radicale_server, shared
from tests.webserver import course_db, running

from regimen.store.db import resolve

# Property tests run derandomized (a fixed sequence of examples) so that a run of the suite is reproducible and CI
# decides on the code, not on the draw; REGIMEN_HYPOTHESIS=random explores afresh (do so before a release).
settings.register_profile("reproducible", derandomize=True)
settings.register_profile("random", derandomize=False)
settings.load_profile("random" if os.environ.get("REGIMEN_HYPOTHESIS") == "random" else "reproducible")

ROOT = Path(__file__).resolve().parents[1]
REGIMENS = ROOT / "regimens"
SEED_IDS = [
    "cenersen-arm1",
    "cenersen-arm2",
    "cenersen-arm3",
    "cenersen-fcr",
    "oblimersen-fc",
    "oblimersen-dtic",
    "oblimersen-dex",
    "oblimersen-mono",
]
#: Widely used regimens shipped as reference examples (status "reference example"; docs/reference-sources.md).
REFERENCE_IDS = [
    "mfolfox6",
    "folfiri",
    "capox",
    "r-chop-21",
    "dd-ac-t",
    "abvd",
    "7-plus-3",
    "gemcitabine-d1-8-15",
    "cisplatin-etoposide",
    "paclitaxel-weekly",
]
BUNDLED_IDS = SEED_IDS + REFERENCE_IDS


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(autouse=True)
def _no_user_regimen_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the bundled regimens unless they set REGIMEN_PATH themselves."""
    monkeypatch.delenv("REGIMEN_PATH", raising=False)


#: The tests' today: their course dates (day 1 2026-12-01) keep their meaning whenever the suite runs (a course
#: whose day 1 is more than 30 days before today needs --confirm).
TESTS_TODAY = dt.date(2026, 12, 6)


@pytest.fixture(autouse=True, scope="session")
def _course_today() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:  # for the session: fixtures that start courses come first
        patch.setattr("regimen.cli.course._today", lambda: TESTS_TODAY)
        yield


# ---- servers: one of each per test process ----------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres() -> str:
    """The URL of this process's PostgreSQL server (database ``regimen``). Without PostgreSQL installed the test
    skips, naming the install (tests/system.py)."""
    return shared("postgres", postgres_server)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres, pytest.mark.integration])])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty course database: a SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "courses.sqlite3")
    server: str = request.getfixturevalue("postgres")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(resolve(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"


@pytest.fixture(scope="session")
def radicale() -> Server:
    """This process's Radicale server (a real CalDAV server; user and password in tests/servers.py)."""
    return shared("radicale", radicale_server)


@contextlib.contextmanager
def _web_server() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="regimen-web-") as folder:
        db = course_db(Path(folder) / "courses.sqlite3")
        with running(Path(folder) / "server.log", "--db", db, "--rate-limit", "0") as base:
            yield base


@pytest.fixture(scope="session")
def web_server() -> str:
    """The base URL of ``regimen serve`` in its own process, as a user starts it, with a course database holding
    course bed4 (capox from 2026-12-01) and no rate limit."""
    return shared("web", _web_server)


#: A test that uses one of these fixtures gets these marks (so a new test file needs no marks of its own).
MARKS_BY_FIXTURE = {
    "postgres": ("postgres", "integration"),
    "radicale": ("integration",),
    "web_server": ("integration",),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        for fixture, marks in MARKS_BY_FIXTURE.items():
            if fixture in used:
                for mark in marks:
                    item.add_marker(mark)


def pytest_sessionfinish() -> None:
    servers.stop_all()
