"""The examples run as a user runs them and give the numbers they claim."""

from __future__ import annotations

import runpy
from pathlib import Path

from click.testing import CliRunner
from tests.conftest import ROOT

from regimen.cli import cli

EXAMPLES = ROOT / "examples"


def test_api_walkthrough_runs(capsys: object) -> None:
    runpy.run_path(str(EXAMPLES / "plan_for_one_patient.py"), run_name="__main__")


def test_example_roster_expands_and_forecasts(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "plan.csv"
    result = runner.invoke(cli, ["cohort", "cenersen-arm3", str(EXAMPLES / "roster.csv"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 = 4 + 0" in result.output
    lines = out.read_text().splitlines()
    # P001 45 y and P004 38 y: 4 + 3 + 4 rows; P002 63 y and P003 71 y: 4 + 3 + 3 rows (cytarabine 3 days over 60)
    assert len(lines) == 1 + 2 * 11 + 2 * 10
    supply = runner.invoke(
        cli,
        [
            "supply",
            "cenersen-arm3",
            str(EXAMPLES / "roster.csv"),
            "--formulary",
            str(ROOT / "formulary" / "example.toml"),
        ],
    )
    assert supply.exit_code == 0, supply.output
    assert "idarubicin" in supply.output


def test_auc_example_expands(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "expand",
            str(EXAMPLES / "carboplatin-paclitaxel-gog158.toml"),
            "--weight",
            "70",
            "--bsa",
            "1.8",
            "--age",
            "60",
            "--sex",
            "male",
            "--scr",
            "1.0",
            "--cycles",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    # paclitaxel 175 mg/m² × 1.8 m² = 315 mg; carboplatin 7.5 × (77.78 + 25) = 770.85 mg (CG GFR rounded to 0.01)
    assert "315 mg" in result.output and "770.9 mg" in result.output
