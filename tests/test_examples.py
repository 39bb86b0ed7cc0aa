"""The examples run as a user runs them and give the numbers they claim."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.conftest import ROOT

from regimen.cli import cli

EXAMPLES = ROOT / "examples"


def test_api_walkthrough_runs_and_prints_the_hand_computed_plan(capsys: pytest.CaptureFixture[str]) -> None:
    """The walk-through checks two numbers itself (its asserts); this test reads what it prints and checks the rest
    by hand, so the example cannot drift into printing something else."""
    runpy.run_path(str(EXAMPLES / "plan_for_one_patient.py"), run_name="__main__")
    out = capsys.readouterr().out
    # 154 lb × 0.45359237 kg/lb = 69.85322498 kg, exactly
    assert "Patient working: weight 154 lb = 69.85322498 kg" in out
    rows = re.findall(r"^C(\d+) D(\d+) (\S+) (\w+) +([\d,.]+) mg", out, re.M)
    # cenersen 0.1 mg/kg/h × 69.85322498 kg × 24 h = 167.647739952 mg a day, days 1-4, shown to 4 figures;
    # idarubicin 12 mg/m² × 1.8 m² = 21.6 mg and cytarabine 1 g/m² × 1.8 m² = 1,800 mg from day 2 (cenersen's
    # second day), cytarabine on 3 days, not 4, because the patient is 63 (older than 60)
    expected = [("1", "1", "2026-12-01", "cenersen", "167.6")]
    for day, date in ((2, "2026-12-02"), (3, "2026-12-03"), (4, "2026-12-04")):
        expected += [("1", str(day), date, "cenersen", "167.6"), ("1", str(day), date, "idarubicin", "21.6")]
        expected += [("1", str(day), date, "cytarabine", "1,800")]
    assert rows == expected
    assert "rule 'age > 60' applied: 3 days instead of 4" in out
    # the per-drug sums of the DataFrame: 3 × 1,800 mg and 3 × 21.6 mg
    assert re.search(r"^cytarabine +5400\.0$", out, re.M) and re.search(r"^idarubicin +64\.8$", out, re.M)


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
