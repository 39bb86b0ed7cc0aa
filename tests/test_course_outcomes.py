"""A course started without a value one of its rules needs holds each outcome's rows, and every view a nurse or a
pharmacist reads marks them, as 'regimen expand' does (issue 9.1: show both branches, marked; never a dose that
reads as one for every patient).

cenersen-arm3 without --age: cytarabine 1 g/m² × 1.8 m² = 1,800 mg a day on days 2-5, but on day 5 only for a
patient aged 60 or under (3 days, 2-4, for one older than 60). Day 5 of a course from 2026-12-01 is 2026-12-05.
The JSON and CSV carried the mark already (their `condition`); the course view, the worklist and its calendar, in
the terminal and on the web pages, listed the day-5 dose unmarked.
"""

from __future__ import annotations

import json
from pathlib import Path

import icalendar
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient
from tests.test_web import ORIGIN, table_of
from tests.webserver import course_db

from regimen.cli import cli
from regimen.web.app import create_app

DAY5 = "2026-12-05"


@pytest.fixture(scope="module")
def undecided(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A course database with bed7: cenersen-arm3 at 70 kg and 1.8 m², no age, from 2026-12-01; and bed8, the same
    with the age (45), whose rows are every one decided."""
    return course_db(
        tmp_path_factory.mktemp("outcomes") / "c.sqlite3",
        "start cenersen-arm3 --course bed7 --weight 70 --bsa 1.8 --start 2026-12-01",
        "start cenersen-arm3 --course bed8 --weight 70 --bsa 1.8 --age 45 --start 2026-12-01",
    )


def _run(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def _table(text: str, first: str) -> list[list[str]]:
    """The rows of the terminal table whose header starts with ``first``, split at runs of two spaces."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    rows = []
    for line in lines[start:]:
        if not line.strip():
            break
        rows.append([cell.strip() for cell in line.split("  ") if cell.strip()])
    return rows


def test_the_course_view_marks_the_row_of_one_outcome(undecided: str) -> None:
    table = _table(_run("course", "show", "bed7", "--db", undecided), "Status")
    header, rows = table[0], table[1:]
    assert header[6:8] == ["Dose", "Only if"]
    day5 = [r for r in rows if r[3] == DAY5]
    assert len(day5) == 1 and day5[0][4:7] == ["cytarabine", "1,800 mg", "age ≤ 60 years"]
    # the rows of every outcome have the column empty: the working follows the dose
    day4 = [r for r in rows if r[3] == "2026-12-04" and r[4] == "cytarabine"]
    assert day4[0][5:7] == ["1,800 mg", "1 g/m²/day × 1.8 m² = 1.8 g/day = 1,800 mg"]
    # a course whose every row is decided has no such column
    assert _table(_run("course", "show", "bed8", "--db", undecided), "Status")[0][6:8] == ["Dose", "Working"]


def test_the_worklist_marks_it_in_the_terminal_and_in_its_calendar(undecided: str) -> None:
    rows = _table(_run("due", "--from", "2026-12-04", "--days", "2", "--db", undecided), "Date")
    assert rows[0][4:6] == ["Dose", "Only if"]
    day5 = [r for r in rows[1:] if r[0] == DAY5]
    # bed7's day-5 cytarabine, marked; bed8's (age 45) given to its patient, unmarked: its next cell is the route
    assert [r[1:6] for r in day5] == [
        ["bed7", "cytarabine", "1,800 mg", "age ≤ 60 years", "IV"],
        ["bed8", "cytarabine", "1,800 mg", "IV", "1 g/m²/day × 1.8 m² = 1.8 g/day = 1,800 mg"],
    ]
    decided = _table(_run("due", "--from", "2026-12-02", "--db", undecided), "Date")
    assert "Only if" not in decided[0]  # no row of the day depends on the age
    ics = icalendar.Calendar.from_ical(_run("due", "--from", DAY5, "--format", "ics", "--db", undecided))
    events = {str(e["SUMMARY"]): e for e in ics.walk("VEVENT")}
    marked = events["Only if age ≤ 60 years: bed7: cytarabine 1,800 mg"]  # first, as the plan's calendar says it
    assert str(marked["STATUS"]) == "TENTATIVE" and "Only if age ≤ 60 years" in str(marked["DESCRIPTION"])
    assert "STATUS" not in events["bed8: cytarabine 1,800 mg"]


def test_the_web_pages_mark_it_as_the_terminal_does(undecided: str, tmp_path: Path) -> None:
    client = TestClient(create_app(undecided, rate=0), base_url=ORIGIN)
    course = table_of(client.get("/courses/bed7").text)
    assert course.headers[6:8] == ["Dose", "Only if"]
    assert [c[5:8] for _, c in course.rows if c[3] == DAY5] == [["cytarabine", "1,800 mg", "age ≤ 60 years"]]
    due = table_of(client.get("/due", params={"from": DAY5}).text)
    assert due.headers[4:7] == ["Drug", "Dose", "Only if"]
    assert [(c[3], c[6]) for _, c in due.rows] == [("bed7", "age ≤ 60 years"), ("bed8", "")]


def test_the_course_keeps_the_warning_that_the_age_decides_part_of_it(undecided: str) -> None:
    """The plan's warning that the age was not given is the plan's as a whole: the course shows it on top, as
    'regimen expand' does, and a decided course has none."""
    shown = _run("course", "show", "bed7", "--db", undecided)
    warning = "WARNING: age not given: rule 'age > 60' decides part of this plan"
    assert [line for line in shown.splitlines() if line.startswith(warning)], shown[:600]
    assert warning not in _run("course", "show", "bed8", "--db", undecided)
    record = json.loads(_run("course", "show", "bed7", "--db", undecided, "--format", "json"))
    assert any(w.startswith("age not given") for w in record["warnings"])
