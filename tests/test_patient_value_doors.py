"""One check of patient values behind every door (issue 25): the command line, the web API and a cohort roster
refuse the same implausible weight, and the same height typed in inches as cm, with the same message; only the
name of the input differs (--weight, the JSON field weight, the roster column weight_kg).

Expected messages worked by hand: 700 kg is above the 650 kg limit of regimen.clinical.patient.WEIGHT; 70 kg at
70 cm is a BMI of 70 / 0.7² = 142.9, shown 143, at or above the 100 kg/m² limit of regimen.clinical.plausibility.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from regimen.cli import cli
from regimen.web.app import create_app

REGIMEN = "cenersen-arm1"  # doses per kg and per m²: needs weight, and a BSA from height

CASES = [
    pytest.param(
        {"weight": "700", "height": "170", "age": "60"},
        "weight 700 kg is impossible: give a value between 0.2 and 650 kg ({weight})",
        id="700 kg",
    ),
    pytest.param(
        {"weight": "70", "height": "70", "age": "60"},
        "height 70 cm with weight 70 kg gives a BMI of 143, at or above 100 kg/m², which CDC counts as implausible "
        "in adult survey data (BRFSS): was the height in inches? give e.g. {height} '70 in'",
        id="70 inches typed as cm",
    ),
]


def _cli(values: dict[str, str]) -> str:
    args = [a for key, value in values.items() for a in (f"--{key}", value)]
    result = CliRunner().invoke(cli, ["expand", REGIMEN, *args])
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, lines  # one line, no traceback
    return lines[0].removeprefix("Error: ")


def _api(values: dict[str, str]) -> str:
    client = TestClient(create_app(rate=0), base_url="http://127.0.0.1:8000")
    answer = client.post("/api/plan", json={"regimen": REGIMEN, **values})
    assert answer.status_code == 400
    return str(answer.json()["error"])


def _roster(values: dict[str, str], tmp_path: Path) -> str:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        f"patient_id,weight_kg,height_cm,age\np1,{values['weight']},{values['height']},{values['age']}\n",
        encoding="utf-8",
    )
    out = tmp_path / "plan.csv"
    result = CliRunner().invoke(cli, ["cohort", REGIMEN, str(roster), "-o", str(out)])
    assert result.exit_code == 3, result.output  # the row is rejected, the run says it is partial
    with (tmp_path / "plan.errors.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["patient_id"] for r in rows] == ["p1"]
    return rows[0]["problem"]


@pytest.mark.parametrize(("values", "message"), CASES)
def test_the_command_line_the_web_api_and_a_roster_say_the_same(
    values: dict[str, str], message: str, tmp_path: Path
) -> None:
    assert _cli(values) == message.format(weight="--weight", height="--height")
    assert _api(values) == message.format(weight="weight", height="height")
    assert _roster(values, tmp_path) == message.format(weight="weight_kg", height="height_cm")


@pytest.mark.parametrize(("bsa", "possible"), [("5", True), ("5.01", False), ("0.02", False), ("0.03", True)])
def test_a_bsa_cap_has_the_limits_of_a_bsa(bsa: str, possible: bool) -> None:
    """--bsa-cap is a BSA: refused exactly where --bsa is (regimen.clinical.patient.BSA: above 0.02, at most 5 m²)."""
    base = ["expand", REGIMEN, "--weight", "70", "--age", "60"]
    as_bsa = CliRunner().invoke(cli, [*base, "--bsa", bsa])
    as_cap = CliRunner().invoke(cli, [*base, "--bsa", "1.8", "--bsa-cap", bsa])
    assert (as_bsa.exit_code == 0) is possible, as_bsa.output
    assert (as_cap.exit_code == 0) is possible, as_cap.output
    if not possible:
        assert "is not a possible BSA" in as_cap.output and "is impossible" in as_bsa.output
