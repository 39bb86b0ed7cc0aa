"""Shared fixtures: the CLI runner, the bundled regimen ids, and the servers some tests use.

The servers (PostgreSQL, Radicale, ``regimen serve``) start once per test process, when a test first asks for one,
and stop when the session ends (tests/servers.py). Tests that use them are marked ``integration`` here, so
``pytest -m "not integration and not slow"`` is the fast subset for the edit loop (CONTRIBUTING.md).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import itertools
import os
import re
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import settings

if TYPE_CHECKING:
    from click.testing import CliRunner
    from tests.servers import Server

# What the fixtures below need (the package, SQLAlchemy, the servers' helpers) is imported inside them: this module
# is imported by pytest's controlling process too, which runs no test under -n 2, and by every worker before it
# collects, so an import here is paid even by a run that never uses the fixture (tests/test_markers.py checks it).

# Property tests run derandomized (a fixed sequence of examples) so that a run of the suite is reproducible and CI
# decides on the code, not on the draw; REGIMEN_HYPOTHESIS=random explores afresh (do so before a release).
# The edit loop (a run that leaves out the slow tests, -m "not ... slow") draws a tenth of the examples ("fast",
# tests.helpers.examples); the whole suite and CI draw them all. REGIMEN_HYPOTHESIS=reproducible, fast or random
# chooses.
settings.register_profile("reproducible", derandomize=True)
settings.register_profile("fast", derandomize=True, max_examples=10)
settings.register_profile("random", derandomize=False)
settings.load_profile(os.environ.get("REGIMEN_HYPOTHESIS", "reproducible"))


def pytest_configure(config: pytest.Config) -> None:
    chosen = "REGIMEN_HYPOTHESIS" in os.environ or config.getoption("hypothesis_profile", None)
    if not chosen and "not slow" in (config.getoption("markexpr", "") or ""):
        settings.load_profile("fast")


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
    from click.testing import CliRunner

    return CliRunner()


@pytest.fixture(autouse=True)
def _no_user_regimen_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the bundled regimens unless they set REGIMEN_PATH themselves; and no test sees the options an
    in-process 'regimen serve' of an earlier test left in this process's environment (REGIMEN_SERVE_DB of a
    database with users made a later test's server ask for sign-in, 401, depending on the order of tests)."""
    monkeypatch.delenv("REGIMEN_PATH", raising=False)
    for name in [k for k in os.environ if k.startswith("REGIMEN_SERVE_")]:
        monkeypatch.delenv(name)


#: The tests' today: their course dates (day 1 2026-12-01) keep their meaning whenever the suite runs (a course
#: whose day 1 is more than 30 days before today needs --confirm).
TESTS_TODAY = dt.date(2026, 12, 6)


@pytest.fixture(autouse=True, scope="session")
def _course_today() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:  # for the session: fixtures that start courses come first
        patch.setattr("regimen.cli.course._today", lambda: TESTS_TODAY)
        yield


#: The password hasher of ``regimen.store.users`` as the package ships it (Argon2id at RFC 9106's parameters), kept
#: by ``_cheap_password_hashing`` for the tests that check those parameters (the ``production_password_hashing``
#: fixture).
SHIPPED: dict[str, Any] = {}


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashing() -> Iterator[None]:
    """In-process tests hash and check passwords with Argon2id at argon2-cffi's cheapest parameters.

    At the shipped parameters (64 MiB, 3 passes, 4 lanes) each hash and each check costs 0.1 s on an idle machine and
    0.85 s measured on a loaded one, by design; a test unit of five users signing in paid it a dozen times per test,
    most of the web tests' time. What the tests check (a wrong password refused, five failures lock, the salt, no
    password stored) does not depend on the cost, and ``test_passwords_are_argon2id_hashes_never_the_password``
    checks the shipped parameters with the real hasher. ``regimen serve`` and the command in its own process (the
    integration tests) hash as shipped."""
    from argon2 import PasswordHasher, profiles

    from regimen.store import users as users_module

    SHIPPED["hasher"] = users_module._HASHER
    cheap = PasswordHasher.from_parameters(profiles.CHEAPEST)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(users_module, "_HASHER", cheap)
        yield


@pytest.fixture
def production_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """This test hashes passwords as the package ships (Argon2id, RFC 9106 parameters), not cheaply."""
    monkeypatch.setattr("regimen.store.users._HASHER", SHIPPED["hasher"])


# ---- servers: one of each per test process ----------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres() -> str:
    """The URL of this process's PostgreSQL server (database ``regimen``). Without PostgreSQL installed the test
    skips, naming the install (tests/system.py)."""
    from tests.postgres import postgres_server
    from tests.servers import shared

    return shared("postgres", postgres_server)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres, pytest.mark.integration])])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty course database: a SQLite file, or a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "courses.sqlite3")
    import sqlalchemy as sa

    from regimen.store.db import resolve

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
    from tests.servers import radicale_server, shared

    return shared("radicale", radicale_server)


@contextlib.contextmanager
def _web_server() -> Iterator[str]:
    from tests.webserver import course_db, running

    with tempfile.TemporaryDirectory(prefix="regimen-web-") as folder:
        db = course_db(Path(folder) / "courses.sqlite3")
        with running(Path(folder) / "server.log", "--db", db, "--rate-limit", "0") as base:
            yield base


@pytest.fixture(scope="session")
def web_server() -> str:
    """The base URL of ``regimen serve`` in its own process, as a user starts it, with a course database holding
    course bed4 (capox from 2026-12-01) and no rate limit."""
    from tests.servers import shared

    return shared("web", _web_server)


#: A test that uses one of these fixtures gets these marks (so a new test file needs no marks of its own).
MARKS_BY_FIXTURE = {
    "db": ("integration",),  # a course database (SQLite file or PostgreSQL), through the command line
    "postgres": ("postgres", "integration"),
    "radicale": ("integration",),
    "web_server": ("integration",),
}


#: Whole modules that are integration tests or slow, marked here rather than in the files.
MARKS_BY_MODULE = {
    "test_courses.py": ("integration",),  # course databases through the command line, on SQLite and PostgreSQL
    "test_course_store.py": ("integration",),  # several processes on one course database
    "test_course_calendar.py": ("integration",),  # courses, and a real CalDAV server
    "test_dask.py": ("integration",),  # a Dask cluster
    "test_fuzz.py": ("slow",),  # hundreds of generated cases
    "test_speed.py": ("slow",),  # each fast path against the plain one on every bundled regimen
    "test_layers.py": ("slow",),  # parses every module of the package, several times
    "test_browser.py": ("browser", "integration"),  # Chromium (and its own pytestmark says so too)
    "test_browser_unit.py": ("browser", "integration"),
}

#: Tests of other modules that take seconds, not milliseconds (each measured at 1.5 s or more under load, or a quarter
#: of a second or more on an idle machine), so the fast subset leaves them out; tests/test_markers.py checks that each
#: still exists.
SLOW_TESTS = {
    "test_cli.py": {"test_the_installed_command_runs_without_a_traceback"},
    "test_cohort.py": {
        "test_every_patient_gets_exactly_the_rows_of_regimen_expand",
        "test_with_clinical_options_every_patient_gets_exactly_the_rows_of_regimen_expand",
        "test_chunks_give_the_same_file_as_one_pass",
        "test_cli_cohort_clinical_options_give_the_rows_of_regimen_expand",
    },
    "test_clinical.py": {
        "test_doses_per_m2_do_not_decrease_with_height",
        "test_doses_do_not_decrease_with_weight",
        "test_reductions_scale_doses_exactly",
        "test_rounding_never_goes_beyond_the_threshold",
        "test_caps_are_never_exceeded",
    },
    "test_event_tables.py": {
        "test_pharmpy_reads_the_table_back",
        "test_a_one_compartment_simulation_of_the_table_matches_the_closed_form",
        "test_pharmpy_builds_a_basic_pk_model_from_the_table_as_written_and_it_simulates",
    },
    "test_course_engine.py": {"test_replaying_more_never_changes_an_administration_already_given"},
    "test_fhir.py": {
        "test_every_bundled_regimen_gives_a_valid_bundle",
        "test_a_course_as_fhir_with_what_was_given",
        "test_a_course_with_a_new_weight_cites_each_weight_where_it_applies",
        "test_round_trip_gives_the_same_plans",
        "test_r_chop_21_bundle_by_hand_with_its_cap",
        "test_the_ucum_check_knows_good_from_bad",
        "test_export_and_import_definition_from_the_command_line",
    },
    "test_ics.py": {
        "test_property_durations_are_elapsed_and_days_map_to_local_dates",
        "test_property_all_day_events_cover_the_administration_days",
        "test_every_seed_reads_the_same_in_every_reader",
        "test_every_zone_reads_the_same_in_every_reader",
        "test_golden",
    },
    "test_ics_text.py": {"test_property_any_text_in_any_field_gives_a_clean_calendar_every_reader_agrees_on"},
    "test_timeline_handout.py": {
        "test_no_two_texts_of_a_chart_overlap",
        "test_the_chart_of_every_bundled_regimen",
        "test_a_month_too_busy_for_one_page_is_split_and_says_so",
        "test_the_chart_is_readable_without_colour",
        "test_plot_from_the_command_line_writes_valid_svg_png_and_pdf",
    },
    "test_web.py": {
        "test_the_timeline_and_handout_downloads",
        "test_the_plan_page_shows_every_dose_with_its_working",
        "test_a_handout_needs_a_start_and_a_known_paper",
        "test_a_plan_too_large_for_a_page_says_so_beside_cycles",
        "test_a_drug_of_two_components_is_named_by_each",
    },
    "test_web_safety.py": {
        "test_a_roster_of_too_much_work_is_refused",
        "test_every_answer_has_the_security_headers",
        "test_a_plan_of_too_much_work_is_refused",
        "test_no_body_makes_the_api_fail_with_a_500",
        "test_this_apps_own_form_is_taken",
        "test_a_plan_of_many_cycles_leaves_the_server_answering_others_meanwhile",
        "test_no_page_loads_anything_from_elsewhere_or_runs_a_script",
    },
    "test_body.py": {"test_bsa_strictly_increasing_in_weight"},
    "test_properties.py": {"test_per_day_and_per_hour_spellings_give_the_same_rows"},
    "test_numbers.py": {"test_format_decimal_agrees_with_the_wide_context"},
    # a PostgreSQL cluster of its own, which it kills mid-commit
    "test_hostile_round3.py": {"test_postgresql_newer_schema_password_and_a_server_dying_mid_commit"},
    # measured again on 2026-12-07, the fast subset in one process on an idle machine: each of these (and of the
    # ones added above that day) took a quarter of a second to 1.0 s, 18 of its 1,994 tests, 8.4 of its 29.7 s
    # (issue 25: the edit loop within 20 s); a 19th, the schema's example test, was made fast instead (its
    # validator made once: jsonschema.validate checks the schema itself on every call), and with it the schema tests
    # that were here for that cost (each now under 5 ms) are back in the fast subset
    "test_chair.py": {
        "test_a_refusal_is_the_librarys_one_line_on_the_page",
        "test_a_new_weight_after_the_verification_is_verified_again_before_the_dose",
    },
    "test_caldav_hardening.py": {"test_a_server_trickling_bytes_meets_the_request_deadline"},  # waits out a deadline
    "test_markers.py": {
        "test_a_property_tests_count_of_examples_is_written_examples_n",  # parses every test module
        "test_every_test_marked_slow_or_integration_by_name_exists",
    },
    "test_fastpath.py": {"test_an_entry_keeps_its_objects_alive_so_their_ids_are_never_reused"},  # two full gc runs
    "test_supply.py": {"test_cli_supply_reductions_and_bsa_cap_change_the_amounts_exactly"},
    "test_users.py": {
        "test_an_unknown_name_is_checked_against_a_hash_at_the_shipped_parameters",  # Argon2id at the shipped cost
        "test_each_role_reaches_only_its_own_pages",
    },
    "test_course_check.py": {"test_a_cycle_check_without_a_kidney_value_warns_where_renal_tables_apply"},
}


#: Tests of other modules that start another process for each run, so the fast subset leaves them out (integration:
#: "another process"); tests/test_markers.py checks that each still exists.
INTEGRATION_TESTS = {
    # a Dask cluster with a worker process, killed (14.6 s measured under load); a cohort run killed midway
    "test_hostile_round3.py": {
        "test_13_workers_that_all_die_are_one_line",
        "test_14_a_cohort_run_removes_what_a_killed_run_left",
    },
    # a new interpreter, to see which modules an import loads (1 to 1.5 s each under load)
    "test_packaging.py": {"test_importing_regimen_stays_light"},
    "test_units.py": {"test_expanding_the_bundled_regimens_does_not_import_pint"},
    "test_ics.py": {"test_expand_without_calendar_does_not_import_icalendar"},
    "test_cohort.py": {"test_the_engine_imports_neither_click_nor_the_export_layer"},
}


def never_selected(expression: str, marks: set[str]) -> bool:
    """Whether the ``-m`` expression is false for every test that has ``marks``, whatever other marks it has (each
    other name in the expression tried true and false). False when the expression is not only names, ``and``, ``or``,
    ``not`` and parentheses (a mark with arguments): then nobody is sure."""
    tokens = re.findall(r"[()]|[^\s()]+", expression)
    names = sorted({t for t in tokens if t not in ("(", ")", "and", "or", "not")})
    if not tokens or not all(re.fullmatch(r"[A-Za-z_]\w*", n) for n in names):
        return False
    variable = {n: f"_{i}" for i, n in enumerate(names)}  # a mark may be named like a Python word
    code = " ".join(variable.get(t, t) for t in tokens)
    free = [n for n in names if n not in marks]
    try:
        for values in itertools.product((False, True), repeat=len(free)):
            truth = {variable[n]: n in marks for n in names} | {
                variable[n]: v for n, v in zip(free, values, strict=True)
            }
            if eval(code, {"__builtins__": {}}, truth):  # names and and/or/not only, checked above
                return False
    except SyntaxError:
        return False
    return True


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """A module whose every test the ``-m`` expression leaves out (by its marks in ``MARKS_BY_MODULE``) is not even
    imported: the fast subset does not pay for importing Selenium, Dask or Alembic in each worker only to deselect
    the tests that use them. The same tests run as when it is imported and deselected."""
    marks = MARKS_BY_MODULE.get(collection_path.name)
    expression = config.getoption("markexpr", "") or ""
    if marks and expression and never_selected(expression, set(marks)):
        return True
    return None


#: Tests that take tens of seconds in one process of their own, run first: under ``-n 2`` the other worker runs the
#: rest meanwhile, where at their place in the order (test_static.py comes late) the run ended with one worker idle
#: while the other waited for mypy (a minute without its cache). tests/test_markers.py checks that each exists.
FIRST = {"test_static.py": {"test_mypy_strict_on_the_package"}}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: getattr(item, "originalname", item.name) not in FIRST.get(item.path.name, ()))
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        marks = [m for fixture, ms in MARKS_BY_FIXTURE.items() if fixture in used for m in ms]
        module = item.path.name
        marks += MARKS_BY_MODULE.get(module, ())
        function = getattr(item, "originalname", item.name)
        if function in SLOW_TESTS.get(module, ()):
            marks.append("slow")
        if function in INTEGRATION_TESTS.get(module, ()):
            marks.append("integration")
        for mark in dict.fromkeys(marks):
            item.add_marker(mark)


def pytest_sessionfinish() -> None:
    servers = sys.modules.get("tests.servers")  # not imported: no server was started
    if servers is not None:
        servers.stop_all()


def pytest_collection_finish(session: pytest.Session) -> None:
    """What collection loaded (the package, pandas, pint, Hypothesis, every test module) stays loaded to the end of
    the process: it is frozen out of the cyclic garbage collector's scans, as the console script freezes its
    start-up (regimen.__main__). Unfrozen, each of a worker's 30 or so full collections scanned all of it again:
    10 to 12 s of a worker's CPU in a run of the whole suite. Only objects alive now are frozen, after a collection
    that leaves no garbage among them; what the tests make later is collected as before."""
    _freeze_what_is_loaded()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After a module's last test (its module-scoped fixtures torn down), what is still alive is mostly what its
    tests loaded for good (WeasyPrint, Dask, SQLAlchemy, Selenium, imported inside tests) and the caches of a
    process: frozen too (:func:`pytest_collection_finish`). A worker's full collections then took 3 to 4 s of its
    CPU in a run of the whole suite, these included, where they took 10 to 12 s."""
    yield
    if nextitem is not None and nextitem.path != item.path:
        _freeze_what_is_loaded()


def _freeze_what_is_loaded() -> None:
    gc.collect()
    gc.freeze()
