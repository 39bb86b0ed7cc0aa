"""Treatment courses (issue 12), as the day unit uses them: the command line, on SQLite and on a real PostgreSQL.

The expected doses are worked by hand from the regimen file (capox: oxaliplatin 130 mg/m² on day 1, capecitabine
1,000 mg/m² twice a day on days 1-14, every 21 days, 8 cycles) for a patient given as 70 kg and 1.8 m².
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from tests.postgres import postgres_server
from tests.test_cli import one_line_error

from regimen.cli import cli
from regimen.store.courses import CourseStore
from regimen.store.db import resolve

START = ["--weight", "70", "--bsa", "1.8", "--age", "60", "--start", "2026-12-01"]


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
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


def regimen(db: str, *args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--db", db])
    return result


def ok(db: str, *args: str) -> Any:
    result = regimen(db, *args)
    assert result.exit_code == 0, result.output
    return result


def started(db: str, course: str = "bed4", *extra: str) -> None:
    ok(db, "course", "start", "capox", "--course", course, *START, *extra)


def changes_in(db: str, course: str = "bed4") -> int:
    return len(json.loads(ok(db, "course", "export", course).stdout)["records"]["changes"])


def rows_of(db: str, course: str = "bed4") -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(ok(db, "course", "show", course, "--format", "json").stdout)["rows"]
    return rows


def row(rows: list[dict[str, Any]], cycle: int, day: int, drug: str, dose_number: int | None = None) -> dict[str, Any]:
    found = [
        r
        for r in rows
        if r["cycle"] == cycle
        and r["day"] == day
        and r["drug"] == drug
        and (dose_number is None or r["dose_number"] == dose_number)
    ]
    assert len(found) == 1, found
    return found[0]


# ---- the walkthrough ---------------------------------------------------------------------------


def test_a_course_as_it_is_lived(db: str) -> None:
    started(db)
    ok(db, "course", "delay", "bed4", "--cycle", "3", "--by", "7d", "--reason", "neutrophils 0.9", "--who", "dr a")
    measured = ok(db, "course", "measure", "bed4", "--cycle", "4", "--bsa", "1.6", "--weight", "62", "--reason", "rw")
    assert "more than 10 %" in measured.stderr  # BSA 1.8 -> 1.6 is -11.1 %, weight 70 -> 62 is -11.4 %
    ok(db, "course", "dose", "bed4", "--cycle", "5", "--drug", "oxaliplatin", "--reduce", "75%", "--reason", "PN 2")
    ok(db, "course", "omit", "bed4", "--cycle", "2", "--day", "1", "--drug", "oxaliplatin", "--reason", "reaction")
    ok(db, "course", "given", "bed4", "--cycle", "1", "--day", "1", "--drug", "oxaliplatin", "--dose", "230 mg")
    ok(db, "course", "given", "bed4", "--cycle", "1", "--day", "1", "--drug", "capecitabine", "--dose-number", "1",
       "--dose", "1800 mg", "--at", "2026-12-01T09:00", "--lot", "LOT-7")  # fmt: skip
    rows = rows_of(db)
    c1 = row(rows, 1, 1, "oxaliplatin")
    assert c1["status"] == "given" and c1["given"]["dose"] == "230" and c1["dose_exact"] == "234"  # 130 × 1.8
    cap = row(rows, 1, 1, "capecitabine", 1)
    assert cap["status"] == "given" and cap["given"]["lot"] == "LOT-7" and cap["dose_exact"] == "1800"
    assert row(rows, 2, 1, "oxaliplatin")["status"] == "omitted"
    assert row(rows, 2, 1, "capecitabine", 1)["status"] == "planned"  # only the oxaliplatin was omitted
    # cycle 3 starts 7 days late: day 43 + 7 -> 2027-01-19, and every later cycle with it
    assert row(rows, 3, 1, "oxaliplatin")["date"] == "2027-01-19"
    assert row(rows, 3, 1, "oxaliplatin")["dose_exact"] == "234"
    assert row(rows, 4, 1, "oxaliplatin")["date"] == "2027-02-09"
    assert row(rows, 4, 1, "oxaliplatin")["dose_exact"] == "208"  # 130 × 1.6
    assert row(rows, 4, 1, "capecitabine", 1)["dose_exact"] == "1600"  # 1,000 × 1.6
    assert row(rows, 5, 1, "oxaliplatin")["dose_exact"] == "156"  # 75 % of 208
    assert row(rows, 5, 1, "capecitabine", 1)["dose_exact"] == "1600"  # the reduction was of oxaliplatin only
    assert row(rows, 8, 14, "capecitabine", 2)["date"] == "2027-05-17"  # day 162 + 7
    shown = ok(db, "course", "show", "bed4").stdout
    assert "GIVEN" in shown and "OMITTED" in shown
    assert "Given so far (cumulative, as recorded): oxaliplatin 230 mg, capecitabine 1,800 mg" in shown
    history = shown.split("History (append-only):")[1]
    assert re.search(r"#1 .* dr a: cycle 3 delayed 7 days \(why: neutrophils 0\.9\)", history)
    assert "#4 " in history and "omitted: oxaliplatin cycle 2 day 1 (why: reaction)" in history
    assert "lot LOT-7" in history
    ok(db, "course", "stop", "bed4", "--on", "2027-03-01", "--reason", "progression")
    rows = rows_of(db)
    assert row(rows, 5, 1, "oxaliplatin")["status"] == "stopped"  # 2027-03-02
    assert row(rows, 4, 14, "capecitabine", 2)["status"] == "planned"  # 2027-02-22, before the stop
    listed = json.loads(ok(db, "course", "list", "--format", "json").stdout)
    assert listed == [
        {
            "course": "bed4",
            "regimen": "capox",
            "start": "2026-12-01",
            "status": "stopped",
            "changes": 7,
            "last_change": listed[0]["last_change"],
        }
    ]


def test_the_regimen_file_is_recorded_so_a_later_edit_never_changes_the_course(db: str, tmp_path: Path) -> None:
    mine = tmp_path / "my-capox.toml"
    text = (Path(__file__).parents[1] / "regimens" / "capox.toml").read_text()
    mine.write_text(text)
    ok(db, "course", "start", str(mine), "--course", "c1", *START)
    mine.write_text(text.replace('dose = "130 mg/m2"', 'dose = "260 mg/m2"').replace("130 mg/m²", "260 mg/m²"))
    assert "260" in mine.read_text()
    assert row(rows_of(db, "c1"), 1, 1, "oxaliplatin")["dose_exact"] == "234"
    record = json.loads(ok(db, "course", "export", "c1").stdout)
    import hashlib

    assert record["regimen"]["sha256"] == hashlib.sha256(text.encode()).hexdigest()
    assert record["records"]["start"]["regimen_text"] == text


def test_records_are_append_only_in_the_database_itself(db: str) -> None:
    started(db)
    ok(db, "course", "delay", "bed4", "--cycle", "2", "--by", "1w", "--reason", "x")
    engine = sa.create_engine(resolve(db))
    for statement in (
        "UPDATE course_changes SET why = 'rewritten'",
        "DELETE FROM course_changes",
        "DELETE FROM courses",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(sa.text(statement))
    engine.dispose()
    assert changes_in(db) == 1


BAD = [
    (["course", "delay", "nope", "--cycle", "2", "--by", "7d", "--reason", "x"], "no course 'nope'"),
    (["course", "delay", "bed4", "--cycle", "0", "--by", "7d", "--reason", "x"], "cycles count from 1"),
    (["course", "delay", "bed4", "--cycle", "99", "--by", "7d", "--reason", "x"], "no cycle 99"),
    (["course", "delay", "bed4", "--cycle", "2", "--by", "soon", "--reason", "x"], "--by 'soon'"),
    (["course", "delay", "bed4", "--cycle", "2", "--by", "0d", "--reason", "x"], "a delay is 1 to 366 days"),
    (["course", "delay", "bed4", "--cycle", "2", "--by", "7d", "--reason", "  "], "every change says why"),
    (["course", "measure", "bed4", "--cycle", "2", "--weight", "700 kg", "--reason", "x"], "weight"),
    (["course", "measure", "bed4", "--cycle", "2", "--height", "1750", "--reason", "x"], "height"),
    (["course", "measure", "bed4", "--cycle", "2", "--reason", "x"], "give at least one of --weight"),
    (["course", "dose", "bed4", "--cycle", "2", "--reduce", "75%", "--reason", "x"], "name the drug with --drug"),
    (["course", "dose", "bed4", "--cycle", "2", "--drug", "aspirin", "--reduce", "75%", "--reason", "x"], "aspirin"),
    (["course", "omit", "bed4", "--cycle", "2", "--reason", "x"], "name the drug (--drug), the day (--day)"),
    (["course", "omit", "bed4", "--cycle", "2", "--day", "20", "--reason", "x"], "is not planned"),
    (["course", "given", "bed4", "--cycle", "1", "--day", "1", "--dose", "230 mg"], "matches"),
    (["course", "given", "bed4", "--cycle", "1", "--day", "1", "--drug", "oxaliplatin", "--dose", "230"], "unit"),
    (["course", "given", "bed4", "--cycle", "1", "--day", "1", "--drug", "oxaliplatin", "--dose", "-5 mg"], "positive"),
    (["course", "given", "bed4", "--cycle", "1", "--day", "1", "--drug", "oxaliplatin", "--dose", "2 mg/m2"], "plain"),
    (
        [
            "course",
            "given",
            "bed4",
            "--cycle",
            "1",
            "--day",
            "1",
            "--drug",
            "oxaliplatin",
            "--dose",
            "5 mg",
            "--at",
            "yesterday",
        ],
        "--at 'yesterday'",
    ),
    (["course", "start", "capox", "--course", "bed4", *START], "already exists"),
    (["course", "start", "capox", "--course", "bad id!", *START], "course id 'bad id!'"),
    (["course", "start", "capox", "--course", "c9", *START, "--formulary", "formulary/example.toml"], "--formulary"),
]


@pytest.mark.parametrize(("args", "message"), BAD, ids=[" ".join(a[1:3]) + f"-{i}" for i, (a, _) in enumerate(BAD)])
def test_bad_input_is_one_line_and_changes_nothing(db: str, args: list[str], message: str | None) -> None:
    started(db)
    before = ok(db, "course", "export", "bed4").stdout
    due_before = ok(db, "due", "--from", "2026-12-01", "--days", "60", "--format", "json").stdout
    line = one_line_error(regimen(db, *args))
    if message is not None:
        assert message in line
    assert ok(db, "course", "export", "bed4").stdout == before
    assert ok(db, "due", "--from", "2026-12-01", "--days", "60", "--format", "json").stdout == due_before


def test_a_missing_reason_is_a_usage_error(db: str) -> None:
    started(db)
    result = regimen(db, "course", "delay", "bed4", "--cycle", "2", "--by", "7d")
    assert result.exit_code == 2 and "--reason" in result.stderr and changes_in(db) == 0


def test_nothing_is_changed_after_a_stop_but_what_was_given(db: str) -> None:
    started(db)
    ok(db, "course", "stop", "bed4", "--on", "2026-12-05", "--reason", "toxicity")
    line = one_line_error(regimen(db, "course", "delay", "bed4", "--cycle", "2", "--by", "7d", "--reason", "x"))
    assert "stopped" in line
    ok(db, "course", "given", "bed4", "--cycle", "1", "--day", "1", "--drug", "oxaliplatin", "--dose", "234 mg")
    assert changes_in(db) == 2


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    line = one_line_error(regimen("postgresql://nobody@127.0.0.1:1/none", "course", "list"))
    assert "cannot use the course database" in line and "127.0.0.1" in line
    folder = tmp_path / "dir"
    folder.mkdir()
    assert "folder" in one_line_error(regimen(str(folder), "course", "list"))
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database" * 100)
    assert "not a usable course database" in one_line_error(regimen(str(junk), "course", "list"))
    assert one_line_error(regimen("mysql://x@y/z", "course", "list")).endswith("or a postgresql:// URL")


def test_the_database_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "courses.sqlite3"
    started(str(path))
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_the_default_database_is_in_the_user_data_folder(tmp_path: Path) -> None:
    env = {"XDG_DATA_HOME": str(tmp_path / "data"), "REGIMEN_DB": ""}
    result = CliRunner().invoke(cli, ["course", "start", "capox", "--course", "x1", *START], env=env)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "regimen" / "courses.sqlite3").is_file()
    result = CliRunner().invoke(cli, ["course", "list"], env=env)
    assert "x1  capox" in result.stdout


# ---- the worklist ------------------------------------------------------------------------------


def test_due_lists_every_active_course_administration(db: str) -> None:
    started(db, "bed4")
    ok(db, "course", "start", "cenersen-arm3", "--course", "bed7", "--weight", "70", "--bsa", "1.8", "--age", "45",
       "--start", "2026-12-02", "--time", "08:00", "--tz", "Europe/Berlin")  # fmt: skip
    ok(db, "course", "start", "capox", "--course", "gone", *START)
    ok(db, "course", "stop", "gone", "--on", "2026-11-30", "--reason", "declined")
    data = json.loads(ok(db, "due", "--from", "2026-12-02", "--format", "json").stdout)
    got = sorted((a["course"], a["drug"], a["dose"], a["time_local"]) for a in data["administrations"])
    assert got == sorted(
        [
            ("bed4", "capecitabine", "1,800 mg", None),  # day 2: 1,000 mg/m² × 1.8 m², twice
            ("bed4", "capecitabine", "1,800 mg", None),
            ("bed7", "cenersen", "168 mg", "08:00"),  # 0.1 mg/kg/h × 70 kg × 24 h
        ]
    )
    csv_text = ok(db, "due", "--from", "2026-12-02", "--format", "csv").stdout
    assert csv_text.splitlines()[0].startswith("date,time_utc,time_local,tz,course,regimen")
    assert len(csv_text.splitlines()) == 4
    table = ok(db, "due", "--from", "2026-12-02").stdout
    assert "3 administration(s) across 2 course(s)" in table
    days = json.loads(ok(db, "due", "--from", "2026-12-04", "--days", "3", "--format", "json").stdout)
    idarubicin = [a for a in days["administrations"] if a["drug"] == "idarubicin"]
    # idarubicin on days 2-4 of the infusion (2026-12-03 to 12-05); the window starts on 12-04
    assert [a["date"] for a in idarubicin] == ["2026-12-04", "2026-12-05"]


def test_due_as_a_calendar(db: str, tmp_path: Path) -> None:
    started(db)
    out = tmp_path / "due.ics"
    ok(db, "due", "--from", "2026-12-01", "--days", "1", "-o", str(out))
    import icalendar

    events = list(icalendar.Calendar.from_ical(out.read_bytes()).walk("VEVENT"))
    assert sorted(str(e["SUMMARY"]) for e in events) == [
        "bed4: capecitabine 1,800 mg",
        "bed4: capecitabine 1,800 mg",
        "bed4: oxaliplatin 234 mg",
    ]


def test_supply_from_the_worklist(db: str) -> None:
    started(db, "a")
    ok(db, "course", "start", "capox", "--course", "b", "--weight", "80", "--bsa", "2.0", "--start", "2026-12-01")
    result = ok(db, "supply", "--due", "--from", "2026-12-01", "--days", "1", "--format", "json")
    lines = json.loads(result.stdout)["lines"]
    total = {(x["drug"], x["scope"]): x for x in lines}
    # oxaliplatin 234 + 260 mg; capecitabine 2 × 1,800 + 2 × 2,000 mg
    assert total["oxaliplatin", "total"]["amount_exact"] == "494"
    assert total["capecitabine", "total"]["amount_exact"] == "7600"
    assert total["oxaliplatin", "total"]["administrations"] == 2


def test_store_api_matches_the_command_line(db: str) -> None:
    started(db)
    store = CourseStore.open(db)
    view = store.view("bed4")
    assert view.course_id == "bed4" and view.status == "active"
    assert sum(cr.status == "planned" for cr in view.rows) == 8 * (1 + 28)
    due = store.due(dt.date(2026, 12, 1), dt.date(2026, 12, 1))
    assert {(d.drug, d.dose_text) for d in due} == {("oxaliplatin", "234 mg"), ("capecitabine", "1,800 mg")}
    store.close()


def test_doses_given_feed_the_anthracycline_limit(tmp_path: Path) -> None:
    """dd-ac-t: doxorubicin 60 mg/m² × 1.8 m² = 108 mg per cycle. Two doses given (108 mg and 100 mg, 208 mg) with
    a prior 250 mg/m² against a limit of 400 mg/m²: the course counts what was given, not what was planned."""
    db = str(tmp_path / "a.sqlite3")
    anthracycline = ["--anthracycline-table", "esc-2022", "--prior", "doxorubicin 250 mg/m2"]
    ok(db, "course", "start", "dd-ac-t", "--course", "ac1", "--weight", "70", "--bsa", "1.8", "--start", "2026-12-01",
       *anthracycline, "--anthracycline-limit", "400")  # fmt: skip
    ok(db, "course", "given", "ac1", "--cycle", "ac:1", "--day", "1", "--drug", "doxorubicin", "--dose", "108 mg")
    ok(db, "course", "given", "ac1", "--cycle", "ac:2", "--day", "1", "--drug", "doxorubicin", "--dose", "100 mg")
    shown = ok(db, "course", "show", "ac1").stdout
    assert "Given so far (cumulative, as recorded): doxorubicin 208 mg" in shown
    notes = [line for line in shown.splitlines() if line.startswith("Note: given so far:")]
    assert notes and any("208" in line or "115.6" in line for line in notes), notes  # 208 mg / 1.8 m² = 115.6 mg/m²
