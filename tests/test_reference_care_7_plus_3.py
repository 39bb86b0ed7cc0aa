"""Issue 27 item 4, 7+3: daunorubicin's hepatic and renal rows as the US labelling states them
(docs/reference-sources.md): serum bilirubin 1.2 to 3.0 mg/dL → 75 % of the dose, above 3 mg/dL → 50 %, serum
creatinine above 3 mg/dL → 50 %, each row alone. At 1.8 m² daunorubicin 60 mg/m²/day is 108 mg a day (days 1-3):
75 % is 81 mg, 50 % is 54 mg; cytarabine 100 mg/m²/day × 1.8 m² = 180 mg a day, which no row touches. Every figure
is worked by hand."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from tests.test_chair import post, recorded
from tests.test_users import client_of

from regimen.cli import cli

START = ("--bsa", "1.8", "--weight", "70", "--age", "50", "--start", "2026-12-07")
LABEL_75 = "give daunorubicin at 75 % of the dose"
LABEL_50 = "give daunorubicin at 50 % of the dose"


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def check(*values: str) -> dict[str, Any]:
    """`regimen check 7-plus-3 --cycle 1` with ``values``, as JSON: the proposal per drug and the rules that fired."""
    out = run("check", "7-plus-3", "--cycle", "1", *values, "--format", "json")
    assert out.exit_code == 0, out.output
    found: dict[str, Any] = json.loads(out.output)
    return found


def daunorubicin(found: dict[str, Any]) -> tuple[str, list[str]]:
    drugs = {d["component"]: d for d in found["drugs"]}
    assert drugs["cytarabine"]["proposal"] == "go"  # no source read reduces cytarabine
    dauno = drugs["daunorubicin"]
    return dauno["proposal"], [r["rule"] for r in dauno["rules"]]


def test_bilirubin_rows_hold_1_2_and_3_0_in_the_75_percent_row() -> None:
    # "1.2 to 3.0 mg%": 75 %; "> 3 mg%": 50 %; "< 1.2 mg/dL: Dose adjustment not necessary" (Medscape)
    assert daunorubicin(check("--bilirubin", "1.1 mg/dL")) == ("go", [])
    assert daunorubicin(check("--bilirubin", "1.19 mg/dL")) == ("go", [])
    for at in ("1.2", "2", "3", "3.0"):
        proposal, rules = daunorubicin(check("--bilirubin", f"{at} mg/dL"))
        assert proposal == "reduce" and len(rules) == 1 and LABEL_75 in rules[0], at
    for above in ("3.01", "3.5", "10"):
        proposal, rules = daunorubicin(check("--bilirubin", f"{above} mg/dL"))
        assert proposal == "reduce" and len(rules) == 1 and LABEL_50 in rules[0], above
    text = run("check", "7-plus-3", "--cycle", "1", "--bilirubin", "2 mg/dL").output
    assert "7-plus-3, cycle 1: REDUCE\n" in text
    assert (
        "- daunorubicin: REDUCE — if bilirubin >= 20.52 µmol/L and bilirubin <= 51.3 µmol/L: give daunorubicin at "
        "75 % of the dose (Daunorubicin US labelling (drug handbook quote; Medscape): serum bilirubin 1.2 to 3.0 "
        "mg/dL, 75 % of the normal dose)"
    ) in text
    assert "- cytarabine: go" in text


def test_bilirubin_in_micromoles_per_litre_meets_the_same_rows() -> None:
    # 17.1 µmol/L per mg/dL: 1.2 mg/dL = 20.52, 2 mg/dL = 34.2, 3 mg/dL = 51.3 µmol/L; a bare number is µmol/L
    assert daunorubicin(check("--bilirubin", "20.51 umol/L")) == ("go", [])
    assert daunorubicin(check("--bilirubin", "20.51")) == ("go", [])
    for at in ("20.52 umol/L", "34.2 µmol/L", "34.2", "51.3 umol/L"):
        proposal, rules = daunorubicin(check("--bilirubin", at))
        assert proposal == "reduce" and LABEL_75 in rules[0], at
    proposal, rules = daunorubicin(check("--bilirubin", "51.31 umol/L"))
    assert proposal == "reduce" and LABEL_50 in rules[0]


def test_serum_creatinine_above_3_halves_the_dose_and_3_itself_does_not() -> None:
    # 88.42 µmol/L per mg/dL: 3 mg/dL = 265.26 µmol/L
    assert daunorubicin(check("--creatinine", "3 mg/dL")) == ("go", [])
    assert daunorubicin(check("--creatinine", "265.26 umol/L")) == ("go", [])
    for above in ("3.5 mg/dL", "3.01 mg/dL", "266 umol/L"):
        proposal, rules = daunorubicin(check("--creatinine", above))
        assert proposal == "reduce" and len(rules) == 1 and LABEL_50 in rules[0], above
        assert "serum creatinine > 3 mg/dL, half the normal dose" in rules[0]
    # a creatinine clearance is not what the labelling reads: a CrCl of 20 mL/min reduces nothing
    assert daunorubicin(check("--crcl", "20")) == ("go", [])


def test_two_rows_at_once_give_the_lowest_dose_first_never_a_product() -> None:
    # bilirubin 3.5 and creatinine 3.5 mg/dL: two rows at 50 % each → 50 % (not 25 %)
    found = check("--bilirubin", "3.5 mg/dL", "--creatinine", "3.5 mg/dL")
    proposal, rules = daunorubicin(found)
    assert proposal == "reduce" and len(rules) == 2 and all(LABEL_50 in r for r in rules)
    assert "daunorubicin: 2 rules reduce it (50 %, 50 %): the lowest dose, 50 % of the full dose, is proposed" in (
        " ".join(found["notes"])
    )
    # bilirubin 2 mg/dL (75 %) with creatinine 3.5 mg/dL (50 %): the 50 % row is the proposal's, listed first
    found = check("--bilirubin", "2 mg/dL", "--creatinine", "3.5 mg/dL")
    proposal, rules = daunorubicin(found)
    assert proposal == "reduce" and LABEL_50 in rules[0] and LABEL_75 in rules[1]
    assert "daunorubicin: 2 rules reduce it (75 %, 50 %): the lowest dose, 50 % of the full dose, is proposed" in (
        " ".join(found["notes"])
    )


def _course(db: Path, *values: str) -> dict[tuple[int, str], int]:
    """A 7+3 course at 1.8 m², cycle 1 checked with ``values`` and the proposal accepted: each day's daunorubicin
    and cytarabine dose, in mg."""
    where = str(db)
    started = run("course", "start", "7-plus-3", "--course", "a1", *START, "--db", where)
    assert started.exit_code == 0, started.output
    accepted = run("course", "check", "a1", "--cycle", "1", *values, "--accept", "--db", where)
    assert accepted.exit_code == 0, accepted.output
    shown = run("course", "show", "a1", "--format", "json", "--db", where)
    return {
        (r["day"], r["component"]): r["dose"]
        for r in json.loads(shown.stdout)["rows"]
        if r["component"] in ("daunorubicin", "cytarabine")
    }


def test_course_check_accept_records_75_percent_at_bilirubin_2(tmp_path: Path) -> None:
    doses = _course(tmp_path / "c.db", "--bilirubin", "2 mg/dL")
    assert [doses[(d, "daunorubicin")] for d in (1, 2, 3)] == [81, 81, 81]  # 60 × 1.8 × 0.75 = 81 mg (from 108)
    assert [doses[(d, "cytarabine")] for d in range(1, 8)] == [180] * 7  # 100 × 1.8 = 180 mg a day, unchanged
    history = run("course", "show", "a1", "--db", str(tmp_path / "c.db")).output
    assert "60 mg/m²/day × 1.8 m² = 108 mg; 75 % of the dose (reduced by 25 %): 108 mg → 81 mg" in history
    assert "serum bilirubin 1.2 to 3.0 mg/dL, 75 % of the normal dose" in history


def test_course_check_accept_records_50_percent_at_bilirubin_3_5(tmp_path: Path) -> None:
    doses = _course(tmp_path / "c.db", "--bilirubin", "3.5 mg/dL")
    assert [doses[(d, "daunorubicin")] for d in (1, 2, 3)] == [54, 54, 54]  # 60 × 1.8 × 0.5 = 54 mg


def test_course_check_accept_records_the_lower_of_two_rows(tmp_path: Path) -> None:
    # bilirubin 2 mg/dL (75 %) and creatinine 3.5 mg/dL (50 %): 54 mg, not 81 mg (the first row of the file) and
    # not 40.5 mg (75 % of 50 %)
    doses = _course(tmp_path / "c.db", "--bilirubin", "2 mg/dL", "--creatinine", "3.5 mg/dL")
    assert [doses[(d, "daunorubicin")] for d in (1, 2, 3)] == [54, 54, 54]


def test_reductions_that_cannot_be_compared_are_not_accepted(tmp_path: Path) -> None:
    # a row giving a flat 50 mg beside the 75 % row: a flat dose is not a share of a dose per m², so neither is the
    # proposal's; --accept is refused and the prescriber records the dose
    text = (Path(__file__).parents[1] / "regimens" / "7-plus-3.toml").read_text(encoding="utf-8")
    row = 'when = "creatinine > 3 mg/dL"\naction = "reduce"\ndrugs = ["daunorubicin"]\ndose_percent = "50%"'
    assert row in text
    flat = tmp_path / "flat.toml"
    flat.write_text(text.replace(row, row.replace('dose_percent = "50%"', 'dose = "50 mg"')), encoding="utf-8")
    found = run("check", str(flat), "--cycle", "1", "--bilirubin", "2 mg/dL", "--creatinine", "3.5 mg/dL")
    assert found.exit_code == 0, found.output
    assert "daunorubicin: 2 rules reduce it and their doses cannot be compared" in found.output
    where = str(tmp_path / "c.db")
    assert run("course", "start", str(flat), "--course", "a1", *START, "--db", where).exit_code == 0
    refused = run("course", "check", "a1", "--cycle", "1", "--bilirubin", "2 mg/dL", "--creatinine", "3.5 mg/dL",
                  "--accept", "--db", where)  # fmt: skip
    assert refused.exit_code == 1
    assert "daunorubicin: 2 of the table's reductions apply and their doses cannot be compared" in refused.output


def test_the_web_check_page_shows_the_reduction_and_records_it(tmp_path: Path) -> None:
    where = str(tmp_path / "open.sqlite3")  # one person on their own machine: no sign-in
    started = run("course", "start", "7-plus-3", "--course", "bed4", *START, "--db", where)
    assert started.exit_code == 0, started.output
    client = client_of(where)
    shown = post(client, "evaluate", {"cycle": "1", "bilirubin": "34.2 umol/L"})
    assert re.findall(r'<h4 id="proposal-title">([^<]*)</h4>', shown.text) == [  # type: ignore[attr-defined]
        "7-plus-3, cycle 1: REDUCE"
    ]
    assert LABEL_75 in shown.text and "serum bilirubin 1.2 to 3.0 mg/dL" in shown.text  # type: ignore[attr-defined]
    said = recorded(client, "check", {"cycle": "1", "bilirubin": "34.2 umol/L", "decision": "accept"})
    assert "daunorubicin: 75 % of the dose (reduced by 25 %) from cycle 1" in said
    page = client.get("/courses/bed4")
    assert page.status_code == 200 and "81 mg" in page.text
