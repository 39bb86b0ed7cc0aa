"""Issue 27 item 4, FOLFIRI: the rest of the Campto SmPC's reductions ("neutropenia Grade 4 ... thrombocytopenia
and leucopenia (Grade 4), non-hematological toxicity (Grade 3-4)" → 15 % to 20 % less), each read from the worst
grade of the cycle before, never from the counts and grades of the day that the gates read. Every expected figure
is worked by hand beside it.

Irinotecan 180 mg/m² × 1.8 m² = 324 mg; dose level -1 (CAMPTOSAR US label, 180 mg/m² every 2 weeks) 150 mg/m² ×
1.8 m² = 270 mg, 16.7 % less, inside the SmPC's 15 % to 20 %. The fluorouracil bolus stays 400 × 1.8 = 720 mg.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.test_protocol_care_more import cli_run as run
from tests.test_protocol_care_more import ok
from tests.test_users import client_of

from regimen.cli.app import cli
from regimen.protocol.conditions import parse_condition

RUN = CliRunner()
#: The day's values that pass every FOLFIRI gate: diarrhoea 0, other non-haematological grade 0, ANC and platelets.
DAY_OK = ("--diarrhoea", "0", "--nonhaem", "0", "--anc", "1.8", "--plt", "150")
FLAG = {
    "neutropenia": "--worst-neutropenia-prior-cycle",
    "thrombocytopenia": "--worst-thrombocytopenia-prior-cycle",
    "leucopenia": "--worst-leucopenia-prior-cycle",
    "nonhaem": "--worst-nonhaem-prior-cycle",
}


@pytest.mark.parametrize(
    ("measure", "grade", "said"),
    [
        ("neutropenia", "4", "neutropenia grade 4"),
        ("thrombocytopenia", "4", "thrombocytopenia grade 4"),
        ("leucopenia", "4", "leucopenia grade 4"),
        ("nonhaem", "3", "non-hematological toxicity grade 3-4"),
        ("nonhaem", "4", "non-hematological toxicity grade 3-4"),
    ],
)
def test_a_worst_grade_of_the_cycle_before_proposes_irinotecan_dose_level_minus_1(
    measure: str, grade: str, said: str
) -> None:
    code, out = run("check", "folfiri", "--cycle", "2", *DAY_OK, FLAG[measure], grade)
    assert code == 0, out
    assert out.splitlines()[0] == "folfiri, cycle 2: REDUCE"
    test = FLAG[measure][2:].replace("-", "_")
    assert (
        f"- irinotecan: REDUCE — if {test} grade >= {3 if measure == 'nonhaem' else 4}: give irinotecan at dose level "
        f"-1 (Campto SmPC 4.2: a dose reduction of 15% to 20% after {said} (the worst grade in the prior infusion)"
    ) in out
    # the 5-FU is the prescriber's (the SmPC's "when applicable"), and the note says so
    assert "- fluorouracil-bolus: go" in out and "- fluorouracil-pump: go" in out
    assert "The 5-FU the SmPC reduces 'when applicable' is the prescriber's." in out


@pytest.mark.parametrize(("measure", "grade"), [("neutropenia", "3"), ("thrombocytopenia", "3"),
                                                ("leucopenia", "3"), ("nonhaem", "2")])  # fmt: skip
def test_a_grade_below_the_smpcs_proposes_nothing(measure: str, grade: str) -> None:
    # grade 3 neutropenia (without fever) is not in the SmPC's list: the cycle goes at the full dose
    code, out = run("check", "folfiri", "--cycle", "2", *DAY_OK, FLAG[measure], grade)
    assert code == 0, out
    assert out.splitlines()[0] == "folfiri, cycle 2: GO"
    assert "- irinotecan: go" in out


def test_grade_3_diarrhoea_in_the_cycle_before_reduces_once_it_has_settled_and_waits_while_it_has_not() -> None:
    # Why the rule does not read `nonhaem`: diarrhoea grade 3 on day 7 that is grade 0 on day 14 passes both gates
    # (diarrhoea = 0, nonhaem <= 1) and still calls for the reduction.
    code, out = run("check", "folfiri", "--cycle", "2", *DAY_OK, "--worst-nonhaem-prior-cycle", "3")
    assert code == 0 and out.splitlines()[0] == "folfiri, cycle 2: REDUCE", out
    assert "diarrhoea grade 0 — needs diarrhoea grade = 0: met" in out
    # still grade 2 on the day: the gate holds the cycle back, the reduction is proposed beside the wait
    code, out = run("check", "folfiri", "--cycle", "2", "--diarrhoea", "2", "--nonhaem", "0", "--anc", "1.8",
                    "--plt", "150", "--worst-nonhaem-prior-cycle", "3")  # fmt: skip
    assert code == 0 and out.splitlines()[0] == "folfiri, cycle 2: DELAY", out
    assert "- irinotecan: REDUCE — if worst_nonhaem_prior_cycle grade >= 3" in out
    assert "and it WAITS with the cycle (diarrhoea grade = 0 not met)" in out


def test_todays_low_count_is_not_a_nadir_grade() -> None:
    # ANC 0.4 on the day is below the gate (1.5): the cycle waits; no reduction is proposed from the day's count
    code, out = run("check", "folfiri", "--cycle", "2", "--diarrhoea", "0", "--nonhaem", "0", "--anc", "0.4",
                    "--plt", "150")  # fmt: skip
    assert code == 0 and out.splitlines()[0] == "folfiri, cycle 2: DELAY", out
    assert "dose level -1" not in out


def test_the_options_say_which_value_is_of_today_and_which_of_the_cycle_before() -> None:
    code, out = run("check", "--help")
    assert code == 0, out
    flat = " ".join(out.split())
    worst = "Worst neutropenia in the cycle before (its nadir; not today's ANC): a CTCAE grade 0-4."
    assert f"--worst-neutropenia-prior-cycle VALUE {worst}" in flat
    assert "--anc VALUE Absolute neutrophil count before the cycle, in ×10⁹/L" in flat
    assert "--nonhaem VALUE Other non-haematological toxicity, the grade today (before the cycle)" in flat
    assert "--febrile-neutropenia VALUE Febrile neutropenia in the cycle before: a CTCAE grade 0-4." in flat


def test_a_worst_grade_of_the_cycle_before_does_not_persist() -> None:
    code, out = run("check", "folfiri", "--cycle", "2", *DAY_OK, "--worst-neutropenia-prior-cycle", "4 persistent")
    assert code == 1
    last = out.strip().splitlines()[-1]
    assert last.endswith(
        "worst_neutropenia_prior_cycle '4 persistent': the worst grade in the cycle before does not persist; give "
        "the grade 0-4 alone"
    )
    # nor can a regimen file write one that does
    with pytest.raises(ValueError, match="is the worst grade of the cycle before: it does not persist"):
        parse_condition("worst_nonhaem_prior_cycle >= 3 persistent")


def test_course_check_accept_records_irinotecan_270_mg_from_cycle_2(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ok(db, "course", "start", "folfiri", "--course", "f4", "--bsa", "1.8", "--start", "2026-12-01", "--cycles", "3")
    args = ("course", "check", "f4", "--cycle", "2", *DAY_OK, "--worst-thrombocytopenia-prior-cycle", "4",
            "--worst-neutropenia-prior-cycle", "4")  # fmt: skip
    shown = ok(db, *args)
    assert shown.splitlines()[0] == "folfiri, cycle 2: REDUCE"
    ok(db, *args, "--accept")
    data = json.loads(ok(db, "course", "show", "f4", "--format", "json"))
    irinotecan = {r["cycle"]: r["dose_exact"] for r in data["rows"] if r["drug"] == "irinotecan"}
    bolus = {r["cycle"]: r["dose_exact"] for r in data["rows"] if r["component"] == "fluorouracil-bolus"}
    # two rules fired, one reduction: level -1 (150 × 1.8 = 270 mg), not level -2 (120 × 1.8 = 216 mg)
    assert irinotecan == {1: "324", 2: "270", 3: "270"}
    assert bolus == {1: "720", 2: "720", 3: "720"}
    history = ok(db, "course", "show", "f4")
    assert "if worst_neutropenia_prior_cycle grade >= 4: give irinotecan at dose level -1 (Campto SmPC 4.2" in history


def test_the_course_page_names_the_measure_and_proposes_the_reduction(tmp_path: Path) -> None:
    where = str(tmp_path / "open.sqlite3")  # one person on their own machine: no sign-in, recorded as their login
    start = "folfiri --course f5 --bsa 1.8 --start 2026-12-01 --cycles 3"
    assert RUN.invoke(cli, ["course", "start", *start.split(), "--db", where]).exit_code == 0
    client = client_of(where)
    page = client.get("/courses/f5")
    assert page.status_code == 200, page.text
    labels = dict(re.findall(r'<label for="check-([a-z_]+)">([^<]*)</label>', page.text))
    assert labels["worst_leucopenia_prior_cycle"] == (
        "Worst leucopenia in the cycle before (its nadir; not today&#39;s white cell count): a CTCAE grade 0-4"
    )
    assert labels["wbc"] == "White cell count before the cycle, in ×10⁹/L unless a unit is given"
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    values = {"cycle": "2", "diarrhoea": "0", "nonhaem": "0", "anc": "1.8", "platelets": "150",
              "worst_leucopenia_prior_cycle": "4"}  # fmt: skip
    shown = client.post("/courses/f5/check", data={**values, "csrf": token.group(1)})
    assert re.findall(r'<h4 id="proposal-title">([^<]*)</h4>', shown.text) == ["folfiri, cycle 2: REDUCE"]
    assert "irinotecan: REDUCE — if worst_leucopenia_prior_cycle grade &gt;= 4: give irinotecan at dose level -1" in (
        shown.text
    )
