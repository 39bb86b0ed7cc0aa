"""A course's pre-cycle gates, dose intensity and pre-treatment requirements (issue 27), as a person runs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from regimen.cli.app import cli

RCHOP = ("--weight", "70", "--height", "175", "--age", "60", "--sex", "male", "--start", "2026-12-01")
FOLFOX = ("--bsa", "2", "--weight", "70", "--age", "60", "--sex", "male", "--start", "2026-12-01")


def run(db: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, [*args, "--db", str(db)])


def ok(db: Path, *args: str) -> Any:
    result = run(db, *args)
    assert result.exit_code == 0, result.output
    return result


def rows(db: Path, course: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(ok(db, "course", "show", course, "--format", "json").stdout)["rows"]
    return out


def first_date(db: Path, course: str, cycle: int) -> str:
    return min(r["date"] for r in rows(db, course) if r["cycle"] == cycle)


def test_rchop_anc_1_2_proposes_the_sources_delay_and_accept_moves_cycle_2(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ok(db, "course", "start", "r-chop-21", "--course", "r1", *RCHOP)
    assert first_date(db, "r1", 2) == "2026-12-22"  # day 1 + 21
    shown = ok(db, "course", "check", "r1", "--cycle", "2", "--anc", "1.2").stdout
    assert shown.startswith("r-chop-21, cycle 2: DELAY (delay 7 days)")
    assert "anc 1.2 ×10⁹/L — needs anc >= 1.5 ×10⁹/L: NOT MET" in shown
    assert "Nothing was recorded" in shown and first_date(db, "r1", 2) == "2026-12-22"
    ok(db, "course", "check", "r1", "--cycle", "2", "--anc", "1.2", "--accept")
    assert first_date(db, "r1", 2) == "2026-12-29"  # 7 days later, as the CMSCN rule says
    changes = json.loads(ok(db, "course", "export", "r1").stdout)["records"]["changes"]
    assert [c["kind"] for c in changes] == ["check", "delay"]
    assert changes[0]["data"]["values"] == {"anc": "1.2"} and changes[0]["data"]["decision"] == "delay"
    assert "CMSCN R-CHOP regimen" in changes[1]["why"] and changes[1]["data"]["days"] == 7


def test_an_override_needs_a_reason_and_is_recorded(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ok(db, "course", "start", "r-chop-21", "--course", "r1", *RCHOP)
    refused = run(db, "course", "check", "r1", "--cycle", "2", "--anc", "1.2", "--override", "go")
    assert refused.exit_code == 1 and "--override needs --reason" in refused.output
    ok(db, "course", "check", "r1", "--cycle", "2", "--anc", "1.2", "--override", "go", "--reason", "G-CSF given")
    changes = json.loads(ok(db, "course", "export", "r1").stdout)["records"]["changes"]
    assert [c["kind"] for c in changes] == ["check"]
    assert changes[0]["data"]["overridden"] is True and changes[0]["why"] == "G-CSF given"
    assert first_date(db, "r1", 2) == "2026-12-22"  # not delayed


def test_mfolfox6_grade_2_neuropathy_proposes_the_oxaliplatin_reduction(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ok(db, "course", "start", "mfolfox6", "--course", "f1", *FOLFOX)
    shown = ok(
        db, "course", "check", "f1", "--cycle", "2", "--anc", "2", "--plt", "150", "--neuropathy", "2 persistent"
    ).stdout
    assert "oxaliplatin: REDUCE" in shown and "65 mg/m²" in shown and "85 -> 65" in shown
    ok(
        db,
        "course",
        "check",
        "f1",
        "--cycle",
        "2",
        "--anc",
        "2",
        "--plt",
        "150",
        "--neuropathy",
        "2 persistent",
        "--accept",
    )
    oxali = [r for r in rows(db, "f1") if r["drug"] == "oxaliplatin"]
    assert oxali[0]["dose_exact"] == "170"  # cycle 1: 85 mg/m² × 2 m²
    assert oxali[1]["dose_exact"] == "130"  # cycle 2: 65 mg/m² × 2 m², exactly (1300/17 % of 170 mg)


def test_an_unchecked_cycle_2_is_flagged_in_due_and_show(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ok(db, "course", "start", "r-chop-21", "--course", "r1", *RCHOP)
    due = json.loads(ok(db, "due", "--from", "2026-12-22", "--format", "json").stdout)["administrations"]
    assert due and all("gates not checked" in r["warnings"] for r in due)
    day1 = json.loads(ok(db, "due", "--from", "2026-12-01", "--format", "json").stdout)["administrations"]
    assert day1 and not any("gates not checked" in r["warnings"] for r in day1)  # the first cycle is not flagged
    ok(db, "course", "check", "r1", "--cycle", "2", "--anc", "2.0", "--accept")
    due = json.loads(ok(db, "due", "--from", "2026-12-22", "--format", "json").stdout)["administrations"]
    assert due and not any("gates not checked" in r["warnings"] for r in due)
    assert "gates not checked" in ok(db, "course", "show", "r1").stdout  # cycle 3 still is


def test_rdi_after_a_7_day_delay_of_a_14_day_cycle(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ok(db, "course", "start", "mfolfox6", "--course", "f1", *FOLFOX)
    for req in ("dpyd",):
        ok(db, "course", "requirement", "f1", "--id", req, "--status", "met", "--result", "normal metabolizer")
    ok(db, "course", "given", "f1", "--cycle", "1", "--day", "1", "--drug", "oxaliplatin", "--dose", "170 mg")
    ok(db, "course", "delay", "f1", "--cycle", "2", "--by", "7d", "--reason", "neutrophils 1.2")
    ok(db, "course", "given", "f1", "--cycle", "2", "--day", "1", "--drug", "oxaliplatin", "--dose", "170 mg")
    data = json.loads(ok(db, "course", "show", "f1", "--format", "json").stdout)
    rdi = {i["drug"]: i["rdi_percent"] for i in data["dose_intensity"]}
    # given 340 mg over 35 days (14 + 7 + 14) against 340 mg planned over 28 days: 28/35 = 80 %
    assert rdi["oxaliplatin"] == "80"
    assert "relative dose intensity: oxaliplatin: given 340 mg over 5 weeks" in ok(db, "course", "show", "f1").stdout
    csv = ok(db, "course", "list", "--format", "csv").stdout.splitlines()
    assert csv[0].endswith(",rdi") and "oxaliplatin=80%" in csv[1]


def test_the_first_dose_waits_for_the_requirements(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ok(db, "course", "start", "mfolfox6", "--course", "f1", *FOLFOX)
    give = ("course", "given", "f1", "--cycle", "1", "--day", "1", "--drug", "oxaliplatin", "--dose", "170 mg")
    refused = run(db, *give)
    assert refused.exit_code == 1 and "first dose waits" in refused.output and "dpyd" in refused.output
    assert "Traceback" not in refused.output
    waived = run(db, "course", "requirement", "f1", "--id", "dpyd", "--status", "waived")
    assert waived.exit_code == 1 and "only with a reason" in waived.output
    unknown = run(db, "course", "requirement", "f1", "--id", "lvef", "--status", "met")
    assert unknown.exit_code == 1 and "its requirements: dpyd" in unknown.output
    ok(db, "course", "requirement", "f1", "--id", "dpyd", "--status", "waived", "--reason", "result due, urgent start")
    ok(db, *give)


def test_a_cycle_check_without_a_kidney_value_warns_where_renal_tables_apply(tmp_path: Path) -> None:
    """Issue 24 item 4: CAPOX's capecitabine has a renal table (no gates): its cycle check warns that the kidney
    function was not checked, and with a creatinine the CrCl is worked out and the warning goes."""
    db = tmp_path / "c.sqlite3"
    ok(db, "course", "start", "capox", "--course", "k1", "--bsa", "1.8", "--weight", "70", "--age", "60",
       "--sex", "male", "--start", "2026-12-01")  # fmt: skip
    plain = ok(db, "course", "check", "k1", "--cycle", "2", "--format", "json")
    assert json.loads(plain.stdout)["warnings"] == [
        "kidney function not checked: capecitabine has renal dose adjustments in this regimen; give the creatinine "
        "(with age, weight, sex) or the CrCl"
    ]
    with_scr = json.loads(ok(db, "course", "check", "k1", "--cycle", "2", "--scr", "1", "--format", "json").stdout)
    assert with_scr["warnings"] == []
    # (140 − 60) × 70 / (72 × 1) = 77.78 mL/min
    assert any("77.78 mL/min" in line for line in with_scr["working"])


def test_course_start_shows_each_requirement_and_the_command_that_records_it(tmp_path: Path) -> None:
    """Issue 27 item 2: 'course start' says what must be recorded before the first dose (R-CHOP-21: hepatitis B
    before rituximab, LVEF before doxorubicin), with its source and the command; once recorded, it is not asked."""
    db = tmp_path / "c.db"
    shown = ok(db, "course", "start", "r-chop-21", "--course", "r1", *RCHOP).output
    assert "Before the first dose: record each requirement as met, waived (with a reason) or not applicable" in shown
    assert "- hepatitis-b: hepatitis B status (screen), before rituximab (CMSCN R-CHOP regimen" in shown
    assert "- lvef: baseline cardiac function (echocardiogram, LVEF), before doxorubicin (Canterbury DHB" in shown
    for req in ("hepatitis-b", "lvef"):
        command = f"regimen course requirement r1 --id {req} --status met|waived|not-applicable --reason TEXT"
        assert command in shown
    # the command as printed records it (met)
    ok(db, "course", "requirement", "r1", "--id", "lvef", "--status", "met", "--result", "LVEF 62 %")
    said = ok(db, "course", "requirement", "r1", "--id", "hepatitis-b", "--status", "not-applicable").output
    assert "every requirement is recorded" in said


def test_course_start_of_a_regimen_without_requirements_says_nothing_of_them(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    shown = ok(db, "course", "start", "oblimersen-mono", "--course", "g1", *FOLFOX).output
    assert "course g1: started" in shown and "Before the first dose" not in shown


def test_weekly_paclitaxel_grade_3_neuropathy_proposes_80_percent_of_144_mg(tmp_path: Path) -> None:
    """The paclitaxel monograph's 20 % reduction for severe peripheral neuropathy ('severe' read as grade >= 3, the
    label's definition of severe events): 80 mg/m² × 1.8 m² = 144 mg; 80 % of 144 mg = 115.2 mg (no rounding stated),
    from the checked cycle on. Grade 2 is not severe: go."""
    db = tmp_path / "c.db"
    args = ("--bsa", "1.8", "--weight", "70", "--age", "50", "--sex", "female", "--start", "2026-12-01")
    ok(db, "course", "start", "paclitaxel-weekly", "--course", "p1", *args)
    grade_2 = ok(db, "course", "check", "p1", "--cycle", "2", "--anc", "2", "--plt", "150", "--neuropathy", "2")
    assert grade_2.stdout.startswith("paclitaxel-weekly, cycle 2: GO")
    check = ("course", "check", "p1", "--cycle", "2", "--anc", "2", "--plt", "150", "--neuropathy", "3")
    shown = ok(db, *check).stdout
    assert shown.startswith("paclitaxel-weekly, cycle 2: REDUCE")
    assert "paclitaxel: REDUCE — if neuropathy grade >= 3: give paclitaxel at 80 % of the dose" in shown
    assert "oncohemakey.com" in shown and "Nothing was recorded" in shown
    ok(db, *check, "--accept")
    doses = [r["dose_exact"] for r in rows(db, "p1") if r["drug"] == "paclitaxel"]
    assert doses[:3] == ["144", "115.2", "115.2"] and len(doses) == 12
    assert all(d == "115.2" for d in doses[1:])  # "for subsequent doses"


def test_a_cycle_check_proposes_what_the_renal_table_says_at_the_crcl_given() -> None:
    """'regimen check capox --crcl 25' proposed 'capecitabine: go', where the regimen's renal table contraindicates
    it below 30 mL/min (the plan leaves it out). The row that holds now fires as a rule citing the table: omit
    below 30, 75 % at 30-50; mFOLFOX6's oxaliplatin at 65 mg/m² below 30; a CrCl above every row, go."""

    def drugs(*args: str) -> dict[str, Any]:
        result = CliRunner().invoke(
            cli, ["check", *args, "--cycle", "2", "--anc", "2", "--plt", "150", "--format", "json"]
        )
        assert result.exit_code == 0, result.output
        return {d["component"]: d for d in json.loads(result.stdout)["drugs"]}

    low = drugs("capox", "--crcl", "25")
    assert (low["capecitabine"]["proposal"], low["oxaliplatin"]["proposal"]) == ("omit", "go")
    assert low["capecitabine"]["text"] == (
        "capecitabine: OMIT — if crcl < 30: omit capecitabine this cycle (contraindicated) (renal table: capecitabine "
        "US prescribing information 4.1)"
    )
    assert drugs("capox", "--crcl", "40")["capecitabine"]["text"].startswith(
        "capecitabine: REDUCE — if crcl >= 30 and crcl <= 50: give capecitabine at 75 % of the dose"
    )
    assert drugs("capox", "--crcl", "50.01")["capecitabine"]["proposal"] == "go"
    assert drugs("mfolfox6", "--crcl", "29.99")["oxaliplatin"]["text"].startswith(
        "oxaliplatin: REDUCE — if crcl < 30: give oxaliplatin at 65 mg/m²"
    )
    assert drugs("oblimersen-fc", "--crcl", "29")["fludarabine"]["proposal"] == "omit"


def test_a_course_check_proposes_a_renal_row_only_when_the_planned_doses_lack_it(tmp_path: Path) -> None:
    """A CAPOX course started at 1.5 mg/dL (70 years, 70 kg, man): (140 − 70) × 70 / (72 × 1.5) = 45.37 mL/min,
    capecitabine planned at 75 %. A check at the same creatinine proposes nothing more (the row is in the doses:
    a second 75 % would give 56.25 %). At 2.5 mg/dL (27.22 mL/min) the table contraindicates it: proposed, and
    accepting it is refused, naming the 'course measure --scr' that makes the plan follow it; once measured, the
    check goes and the plan leaves capecitabine out of cycle 2."""
    db = tmp_path / "c.sqlite3"
    ok(db, "course", "start", "capox", "--course", "k2", "--bsa", "1.8", "--weight", "70", "--age", "70",
       "--sex", "male", "--scr", "1.5", "--start", "2026-12-01")  # fmt: skip
    same = json.loads(ok(db, "course", "check", "k2", "--cycle", "2", "--scr", "1.5", "--format", "json").stdout)
    assert same["proposal"] == "go"
    assert any(
        "holds at the CrCl in force (45.37 mL/min) too: the planned doses have it already" in n for n in same["notes"]
    )
    worse = ok(db, "course", "check", "k2", "--cycle", "2", "--scr", "2.5").stdout
    assert "capecitabine: OMIT — if crcl < 30" in worse
    refused = run(db, "course", "check", "k2", "--cycle", "2", "--scr", "2.5", "--accept")
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1 and "Traceback" not in refused.output
    assert (
        "record the creatinine from cycle 2 with 'course measure' (--scr), so the plan applies the row"
        in refused.stderr
    )
    ok(db, "course", "measure", "k2", "--cycle", "2", "--scr", "2.5", "--reason", "day 21 creatinine")
    after = json.loads(ok(db, "course", "check", "k2", "--cycle", "2", "--scr", "2.5", "--format", "json").stdout)
    assert after["proposal"] == "go"
    ok(db, "course", "check", "k2", "--cycle", "2", "--scr", "2.5", "--accept")
    planned = {(r["cycle"], r["drug"]) for r in rows(db, "k2") if r["status"] == "planned"}
    assert (1, "capecitabine") in planned and (2, "capecitabine") not in planned


def test_a_dose_given_of_a_drug_the_plan_leaves_out_says_the_plan_gives_none_in_the_cycle(tmp_path: Path) -> None:
    """CAPOX started at 2.5 mg/dL (70 years, 70 kg, a man: 27.22 mL/min): capecitabine is left out of every cycle.
    Recording it as given said only 'the course has no capecitabine cycle 1 day 1 dose 1 to record'; it now says the
    plan gives none in that cycle and where the reason is. A day the drug is simply not given keeps the short line."""
    db = tmp_path / "c.sqlite3"
    ok(db, "course", "start", "capox", "--course", "k3", "--bsa", "1.8", "--weight", "70", "--age", "70",
       "--sex", "male", "--scr", "2.5", "--start", "2026-12-01")  # fmt: skip
    ok(db, "course", "requirement", "k3", "--id", "dpyd", "--status", "met", "--reason", "normal")
    given = ("course", "given", "k3", "--drug", "capecitabine", "--dose", "1800 mg", "--dose-number", "1")
    refused = run(db, *given, "--cycle", "1", "--day", "1")
    assert refused.exit_code == 1 and refused.stderr.count("\n") == 1
    assert refused.stderr.strip().endswith(
        "the course has no capecitabine cycle 1 day 1 dose 1 to record: the plan gives no capecitabine in this cycle "
        "('regimen course show' says why: a renal table's row leaving it out is among its warnings)"
    )
    ok(db, "course", "measure", "k3", "--cycle", "2", "--scr", "1", "--reason", "recovered")  # 68.06 mL/min
    day_off = run(db, *given, "--cycle", "2", "--day", "20")  # capecitabine runs days 1-14
    assert day_off.stderr.strip().endswith("the course has no capecitabine cycle 2 day 20 dose 1 to record")
