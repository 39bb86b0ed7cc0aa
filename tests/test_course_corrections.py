"""A course record can be corrected, and a duplicate is caught (issue 24, item 6), from the command line, on SQLite
and on the real PostgreSQL server; and a dose change has one reading in a course (issue 24, item 1).

capox for 70 kg and 1.8 m² from 2026-12-01 (the tests' today is 2026-12-06): oxaliplatin 234 mg on day 1 of each
21-day cycle; cycle 3's day 1 is 2027-01-12.
"""

from __future__ import annotations

import json
import re

import sqlalchemy as sa
from tests.helpers import CAPOX_FIXTURE
from tests.test_cli import one_line_error
from tests.test_courses import START, changes_in, db, ok, postgres, regimen, row, rows_of, started

from regimen.store.db import resolve

__all__ = ["db", "postgres"]


def history(db: str) -> str:
    return ok(db, "course", "show", "bed4").stdout.split("History (append-only):")[1]


def test_a_delay_typed_twice_is_caught_and_a_wrong_one_voided(db: str) -> None:
    started(db)
    ok(db, "course", "delay", "bed4", "--cycle", "3", "--by", "7d", "--reason", "neutrophils 0.9")
    again = regimen(db, "course", "delay", "bed4", "--cycle", "3", "--by", "7d", "--reason", "neutrophils 0.9")
    line = one_line_error(again)
    assert "delay (change 2): the same as change 1 (cycle 3 delayed 7 days)" in line and "--confirm" in line
    assert changes_in(db) == 1
    # typed twice on purpose: recorded with --confirm, then found to be wrong and voided
    ok(db, "course", "delay", "bed4", "--cycle", "3", "--by", "7d", "--confirm", "--reason", "a second week")
    assert row(rows_of(db), 3, 1, "oxaliplatin")["date"] == "2027-01-26"  # 2027-01-12 + 14
    voided = ok(db, "course", "void", "bed4", "--change", "2", "--reason", "entered in error")
    assert "change 3 recorded: correction: change 2 was entered in error and is void" in voided.stderr
    assert row(rows_of(db), 3, 1, "oxaliplatin")["date"] == "2027-01-19"  # + 7 only
    said = history(db)
    assert re.search(r"#2 .*: cycle 3 delayed 7 days \(confirmed as typed\) \[VOID: entered in error, #3\]", said)
    assert re.search(r"#3 .*: correction: change 2 was entered in error and is void \(why: entered in error\)", said)
    assert "#1 " in said and "[VOID" not in said.split("#2 ")[0]  # change 1 stands
    record = json.loads(ok(db, "course", "export", "bed4").stdout)["records"]["changes"]
    assert [(c["seq"], c["kind"]) for c in record] == [(1, "delay"), (2, "delay"), (3, "void")]
    assert record[2]["data"] == {"change": 2}


def test_what_cannot_be_voided_is_refused_in_one_line(db: str) -> None:
    started(db)
    ok(db, "course", "omit", "bed4", "--cycle", "2", "--day", "1", "--drug", "oxaliplatin", "--reason", "reaction")
    ok(db, "course", "void", "bed4", "--change", "1", "--reason", "entered in error")
    for change, message in [
        ("2", "change 2 is itself a correction and cannot be voided"),
        ("0", "the start (#0) cannot be voided"),
        ("7", "course bed4 has no change 7 (its changes are #1 to #2)"),
        ("1", "change 1 is already void (change 2)"),
        ("one", "--change 'one': give the number of a change"),
    ]:
        line = one_line_error(regimen(db, "course", "void", "bed4", "--change", change, "--reason", "x"))
        assert message in line
    assert changes_in(db) == 2
    assert row(rows_of(db), 2, 1, "oxaliplatin")["status"] == "planned"  # the omission is undone


def test_a_voided_stop_makes_the_course_active_again(db: str) -> None:
    started(db)
    ok(db, "course", "stop", "bed4", "--on", "2027-03-01", "--reason", "progression")
    assert json.loads(ok(db, "course", "list", "--format", "json").stdout)[0]["status"] == "stopped"
    ok(db, "course", "void", "bed4", "--change", "1", "--reason", "wrong patient")
    assert json.loads(ok(db, "course", "list", "--format", "json").stdout)[0]["status"] == "active"
    assert row(rows_of(db), 8, 1, "oxaliplatin")["status"] == "planned"


def test_a_dose_given_before_day_1_needs_confirming(db: str) -> None:
    started(db)
    args = ["course", "given", "bed4", "--cycle", "1", "--drug", "oxaliplatin", "--dose", "234 mg"]
    line = one_line_error(regimen(db, *args, "--at", "2026-11-30T09:00"))
    assert "oxaliplatin cycle 1 day 1 given on 2026-11-30 is before day 1 of the course (2026-12-01)" in line
    assert "--confirm" in line and changes_in(db) == 0
    ok(db, *args, "--at", "2026-11-30T09:00", "--confirm")
    assert row(rows_of(db), 1, 1, "oxaliplatin")["status"] == "given"


def test_a_course_started_long_ago_needs_confirming(db: str) -> None:
    """The tests' today is 2026-12-06: day 1 on 2026-11-05 is 31 days before it; 2026-11-06 (30 days) is not."""
    base = ["course", "start", CAPOX_FIXTURE, "--weight", "70", "--bsa", "1.8", "--age", "60"]
    line = one_line_error(regimen(db, *base, "--course", "old", "--start", "2026-11-05"))
    assert "--start 2026-11-05 is 31 days before today (2026-12-06): more than 30" in line and "--confirm" in line
    ok(db, *base, "--course", "recent", "--start", "2026-11-06")
    ok(db, *base, "--course", "old", "--start", "2026-11-05", "--confirm")
    recorded = json.loads(ok(db, "course", "export", "old").stdout)["records"]["start"]
    assert recorded["confirmed"] is True and recorded["start"] == "2026-11-05"


def test_a_dose_change_in_a_course_has_one_reading(db: str) -> None:
    """--reduce-by 20% gives 80 % of 234 mg = 187.2 mg; the old --reduce is refused with the new spellings; 40 %
    needs --confirm, and the record keeps that it was confirmed."""
    started(db)
    base = ["course", "dose", "bed4", "--drug", "oxaliplatin", "--reason", "neuropathy"]
    line = one_line_error(regimen(db, *base, "--cycle", "3", "--reduce", "75%"))
    assert "--reduce" in line and "--dose-percent" in line and "--reduce-by" in line
    line = one_line_error(regimen(db, *base, "--cycle", "3", "--reduce-by", "20"))
    assert "a bare number can be read two ways" in line
    ok(db, *base, "--cycle", "3", "--reduce-by", "20%")
    assert row(rows_of(db), 3, 1, "oxaliplatin")["dose_exact"] == "187.2"
    assert "oxaliplatin: 80 % of the dose (reduced by 20 %) from cycle 3" in history(db)
    assert "confirm" in one_line_error(regimen(db, *base, "--cycle", "5", "--dose-percent", "40%"))
    ok(db, *base, "--cycle", "5", "--dose-percent", "40%", "--confirm")
    assert row(rows_of(db), 5, 1, "oxaliplatin")["dose_exact"] == "93.6"  # 40 % of 234
    data = json.loads(ok(db, "course", "export", "bed4").stdout)["records"]["changes"][1]["data"]
    assert data["dose_percent"] == "40%" and data["confirmed"] is True


def test_a_dose_change_recorded_before_issue_24_reads_as_it_was_meant(db: str) -> None:
    """A course recorded by an older version kept 'reduce: 75%', meaning give 75 %: 75 % of 234 = 175.5 mg, said so."""
    started(db)
    ok(db, "course", "delay", "bed4", "--cycle", "2", "--by", "1d", "--reason", "x")  # a record to copy the columns of
    engine = sa.create_engine(resolve(db))
    with engine.begin() as conn:
        first = conn.execute(sa.text("SELECT at, who FROM course_changes WHERE seq = 1")).one()
        old = {"phase": "main", "cycle": 5, "drug": "oxaliplatin", "reduce": "75%"}
        conn.execute(
            sa.text("INSERT INTO course_changes VALUES ('bed4', 2, 'dose', :at, :who, 'PN 2', :data)"),
            {"at": first.at, "who": first.who, "data": json.dumps(old)},
        )
        conn.execute(sa.text("DELETE FROM course_views"))
    engine.dispose()
    assert row(rows_of(db), 5, 1, "oxaliplatin")["dose_exact"] == "175.5"
    said = history(db)
    assert "oxaliplatin: 75 % of the dose (reduced by 25 %) (recorded before issue 24 as 'reduce 75%', which " in said
    record = json.loads(ok(db, "course", "export", "bed4").stdout)["records"]["changes"][1]["data"]
    assert record == old  # read back as it was written


def test_start_is_unchanged_by_the_confirmation_it_did_not_need(db: str) -> None:
    ok(db, "course", "start", CAPOX_FIXTURE, "--course", "bed4", *START)
    assert "confirmed" not in json.loads(ok(db, "course", "export", "bed4").stdout)["records"]["start"]


def test_a_voided_dose_given_is_entered_in_error_in_fhir(db: str) -> None:
    """The FHIR export keeps the voided administration's id with status entered-in-error, so a system that took the
    earlier export updates it; the dose is planned again."""
    started(db)
    given = ["course", "given", "bed4", "--cycle", "1", "--drug", "oxaliplatin", "--dose", "234 mg"]
    ok(db, *given, "--at", "2026-12-01T09:00")
    before = json.loads(ok(db, "course", "export", "bed4", "--format", "fhir").stdout)
    (done,) = [e["resource"] for e in before["entry"] if e["resource"]["resourceType"] == "MedicationAdministration"]
    assert done["status"] == "completed"
    ok(db, "course", "void", "bed4", "--change", "1", "--reason", "wrong patient")
    after = json.loads(ok(db, "course", "export", "bed4", "--format", "fhir").stdout)
    (undone,) = [e["resource"] for e in after["entry"] if e["resource"]["resourceType"] == "MedicationAdministration"]
    assert undone["id"] == done["id"] and undone["status"] == "entered-in-error"
    assert undone["effectiveDateTime"] == done["effectiveDateTime"] == "2026-12-01T09:00:00+00:00"
    assert row(rows_of(db), 1, 1, "oxaliplatin")["status"] == "planned"
