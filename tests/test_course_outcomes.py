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
import re
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


def test_an_age_given_later_decides_the_course_from_its_cycle(tmp_path: Path) -> None:
    """'course measure --age': the value missing at the start, recorded from cycle 1, decides every row (age 70:
    cytarabine on days 2-4 only, 3 × 1,800 mg, and no warning); from cycle 2 of two, cycle 1 keeps its marks."""
    where = course_db(
        tmp_path / "c.sqlite3",
        "start cenersen-arm3 --course a --weight 70 --bsa 1.8 --start 2026-12-01",
        "start cenersen-arm3 --course b --weight 70 --bsa 1.8 --start 2026-12-01 --cycles 2 --cycle-length 28",
    )
    said = CliRunner().invoke(
        cli, ["course", "measure", "a", "--cycle", "1", "--age", "70", "--reason", "age from the notes", "--db", where]
    )
    assert said.exit_code == 0 and "change 1 recorded: age 70 from cycle 1" in said.stderr
    shown = _run("course", "show", "a", "--db", where)
    table = _table(shown, "Status")
    assert table[0][6:8] == ["Dose", "Working"]  # no row marked: no "Only if" column
    assert [r[3] for r in table[1:] if r[4] == "cytarabine"] == ["2026-12-02", "2026-12-03", "2026-12-04"]
    assert "age not given" not in shown
    _run("course", "measure", "b", "--cycle", "2", "--age", "70", "--reason", "age from the notes", "--db", where)
    rows = _table(_run("course", "show", "b", "--db", where), "Status")[1:]
    cytarabine = [(r[1], r[2], r[6]) for r in rows if r[4] == "cytarabine"]
    assert ("1", "5", "age ≤ 60 years") in cytarabine  # cycle 1: still either outcome
    assert [c[:2] for c in cytarabine if c[0] == "2"] == [("2", "2"), ("2", "3"), ("2", "4")]


def test_a_sex_given_later_decides_the_renal_doses(tmp_path: Path) -> None:
    """CAPOX at 70 kg, 1.8 m², age 70, creatinine 1.3 mg/dL without the sex: 44.5 mL/min if female (75 %: 1,350 mg),
    52.35 if male (the full 1,800 mg), each marked. 'course measure --sex male' from cycle 1: 1,800 mg, unmarked."""
    where = course_db(
        tmp_path / "c.sqlite3", "start capox --course c --weight 70 --bsa 1.8 --age 70 --scr 1.3 --start 2026-12-01"
    )
    before = _table(_run("course", "show", "c", "--db", where), "Status")
    assert {(r[5], r[6]) for r in before[1:] if r[4] == "capecitabine"} == {
        ("1,350 mg", "sex female"),
        ("1,800 mg", "sex male"),
    }
    _run("course", "measure", "c", "--cycle", "1", "--sex", "male", "--reason", "from the notes", "--db", where)
    after = _table(_run("course", "show", "c", "--db", where), "Status")
    assert after[0][6:8] == ["Dose", "Working"]
    assert {r[5] for r in after[1:] if r[4] == "capecitabine"} == {"1,800 mg"}


@pytest.mark.parametrize(
    ("start", "measure", "message"),
    [
        ("--age 70", "--age 65", "age 65 years from cycle 1 is less than the 70 years in force"),
        ("--sex female", "--sex male", "sex male from cycle 1, where the course records female"),
        ("--dob 1956-01-02", "--age 70", "give the age (--age) or the date of birth (--dob), not both"),
    ],
)
def test_an_age_or_sex_that_contradicts_the_record_is_refused(
    tmp_path: Path, start: str, measure: str, message: str
) -> None:
    where = course_db(
        tmp_path / "c.sqlite3", f"start cenersen-arm3 --course d --weight 70 --bsa 1.8 {start} --start 2026-12-01"
    )
    args = ["course", "measure", "d", "--cycle", "1", *measure.split(), "--reason", "x", "--db", where]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1 and message in result.stderr and "Traceback" not in result.output
    if "dob" not in start:  # a value recorded wrongly is corrected as typed, with --confirm
        assert CliRunner().invoke(cli, [*args, "--confirm"]).exit_code == 0


def test_the_orders_check_at_the_chair_names_the_value_that_settles_a_dose(tmp_path: Path) -> None:
    """A course of CAPOX started without the sex (creatinine 1.3 mg/dL): an order of capecitabine on day 1 cannot be
    verified, and the page says why in the form's words ('give ‘Sex’'), not with the library's raw marker."""
    where = course_db(
        tmp_path / "c.sqlite3", "start capox --course c --weight 70 --bsa 1.8 --age 70 --scr 1.3 --start 2026-12-01"
    )
    client = TestClient(create_app(where, rate=0), base_url=ORIGIN)
    page = client.get("/courses/c").text
    token = re.search(r'name="csrf" value="([^"]+)"', page)
    assert token is not None
    answer = client.post(
        "/courses/c/orders", data={"cycle": "1", "orders": "capecitabine@1=1800mg", "csrf": token.group(1)}
    )
    assert answer.status_code == 200, answer.text
    assert "depends on a value the plan was made without (sex female: 1,350 mg; sex male: 1,800 mg): give ‘Sex’" in (
        answer.text.replace("&#39;", "'")
    )
    assert "\x1f" not in answer.text


def test_a_cycle_with_undecided_doses_is_not_verified_until_the_value_is_recorded(tmp_path: Path) -> None:
    """A pharmacist's verification records the doses checked; a cycle that holds day 5's cytarabine 'only if age ≤
    60 years' has no order to check until the age is known: refused, naming the command that records it. Once
    recorded (age 70: days 2–4 only), the cycle is verified as any."""
    where = course_db(tmp_path / "c.sqlite3", "start cenersen-arm3 --course a --weight 70 --bsa 1.8 --start 2026-12-01")
    refused = CliRunner().invoke(cli, ["course", "verify", "a", "--cycle", "1", "--db", where])
    assert refused.exit_code == 1 and "Traceback" not in refused.output
    assert (
        "cycle 1 has doses given only if age ≤ 60 years, a value the course was started without: record it with "
        "'regimen course measure a --cycle 1 --age ...' first"
    ) in refused.stderr
    _run("course", "measure", "a", "--cycle", "1", "--age", "70", "--reason", "from the notes", "--db", where)
    verified = CliRunner().invoke(cli, ["course", "verify", "a", "--cycle", "1", "--db", where])
    assert verified.exit_code == 0, verified.output
    assert "day 5 cytarabine" not in verified.stderr and "day 4 cytarabine 1,800 mg" in verified.stderr


def test_a_course_without_the_sex_checks_its_crcl_gate_with_both_clearances(tmp_path: Path) -> None:
    """Cisplatin-etoposide's gate (CrCl >= 45 mL/min) for a course started with a creatinine but no sex: age 50,
    70 kg, 1.0 mg/dL gives 74.38 (female) and 87.5 mL/min (male), GO either way; age 70 at 1.5 mg/dL gives 38.56
    and 45.37, which the gate reads differently: refused, naming --sex (as 'regimen check' does)."""
    where = course_db(
        tmp_path / "c.sqlite3",
        "start cisplatin-etoposide --course g --weight 70 --bsa 1.8 --age 50 --scr 1.0 --start 2026-12-01",
        "start cisplatin-etoposide --course h --weight 70 --bsa 1.8 --age 70 --scr 1.5 --start 2026-12-01",
    )
    shown = _run("course", "check", "g", "--cycle", "2", "--anc", "2", "--plt", "150", "--db", where)
    assert shown.startswith("cisplatin-etoposide, cycle 2: GO\n")
    assert "the lower (74.38 mL/min) is shown" in shown and "= 87.5 mL/min (if male)" in shown
    split = CliRunner().invoke(
        cli, ["course", "check", "h", "--cycle", "2", "--anc", "2", "--plt", "150", "--db", where]
    )
    assert split.exit_code == 1 and "if male (reduce): the gates and the table read them differently; give --sex" in (
        split.stderr
    )


def test_a_course_without_age_and_sex_names_both_and_is_settled_by_them(tmp_path: Path) -> None:
    """CAPOX with a creatinine of 1.3 mg/dL but neither age nor sex: each sex's spans of ages are marked
    (tests/test_age_and_sex_not_given.py); verifying is refused naming both options, and 'course measure --sex male
    --age 70' decides every row (50.11 mL/min or more under 74: 1,800 mg)."""
    where = course_db(
        tmp_path / "c.sqlite3", "start capox --course c --weight 70 --bsa 1.8 --scr 1.3 --start 2026-12-01"
    )
    before = _table(_run("course", "show", "c", "--db", where), "Status")
    assert ("1,350 mg", "sex female and 62 ≤ age ≤ 92 years") in {(r[5], r[6]) for r in before[1:]}
    refused = CliRunner().invoke(cli, ["course", "verify", "c", "--cycle", "1", "--db", where])
    assert refused.exit_code == 1 and "'regimen course measure c --cycle 1 --sex ... --age ...' first" in refused.stderr
    # a dose given is of one outcome: which, the course cannot know. Before, the record was refused with 'matches 4
    # administrations; name the dose with --dose-number (1 to 4)', for a dose number that was given and doses
    # numbered 1 and 2
    given = ["course", "given", "c", "--cycle", "1", "--day", "1", "--drug", "capecitabine", "--dose", "1800 mg"]
    refused = CliRunner().invoke(cli, [*given, "--dose-number", "1", "--db", where])
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1, refused.output
    assert "depends on a value the course was started without (planned only if sex female and 62 ≤ age ≤ 92 years" in (
        refused.stderr
    )
    assert "record it with 'regimen course measure' (--sex ... --age ...) first" in refused.stderr
    _run("course", "measure", "c", "--cycle", "1", "--sex", "male", "--age", "70", "--reason", "notes", "--db", where)
    after = _table(_run("course", "show", "c", "--db", where), "Status")
    assert {r[5] for r in after[1:] if r[4] == "capecitabine"} == {"1,800 mg"}
    assert CliRunner().invoke(cli, ["course", "verify", "c", "--cycle", "1", "--db", where]).exit_code == 0


def test_a_course_without_the_weight_is_settled_by_measuring_it(tmp_path: Path) -> None:
    """CAPOX at 1.8 m², 70 years, a man, 1.5 mg/dL, no weight: capecitabine 1,350 mg if 46.3 to 77.1 kg, 1,800 mg
    from 77.2 kg (tests/test_weight_not_given_kidneys.py); verifying names --weight; 'course measure --weight 80'
    (80 × 0.648148 = 51.85 mL/min) decides every row: 1,800 mg."""
    where = course_db(
        tmp_path / "c.sqlite3",
        "start capox --course w --bsa 1.8 --age 70 --sex male --scr 1.5 --start 2026-12-01",
    )
    before = _table(_run("course", "show", "w", "--db", where), "Status")
    assert ("1,350 mg", "46.3 ≤ weight ≤ 77.1 kg") in {(r[5], r[6]) for r in before[1:]}
    refused = CliRunner().invoke(cli, ["course", "verify", "w", "--cycle", "1", "--db", where])
    assert refused.exit_code == 1 and "'regimen course measure w --cycle 1 --weight ...' first" in refused.stderr
    _run("course", "measure", "w", "--cycle", "1", "--weight", "80", "--reason", "weighed", "--db", where)
    after = _table(_run("course", "show", "w", "--db", where), "Status")
    assert {r[5] for r in after[1:] if r[4] == "capecitabine"} == {"1,800 mg"}
