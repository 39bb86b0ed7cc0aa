"""Cohorts under hostile rosters (issue 11.3): one bad cell is one rejected row, with its reason, never the end of
the run; a file that is not a roster is one line. Rows are refused by the same reading and limits as
'regimen expand' (one validation), and 'patients in = expanded + rejected' always holds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from regimen.cli import cli

HEADER = "patient_id,weight_kg,bsa_m2,age"
GOOD = "P0,70,1.8,45"

#: cell (as it stands in the weight_kg column) -> what the errors file says about it
BAD_WEIGHTS = {
    "70 kg**1.5/kg**0.7": "unknown unit",
    "70 kg**99999999": "unknown unit",
    "70 ㎏": "unknown unit '㎏'",
    "70\x00": "unknown unit",
    "1e999999999": "out of range",
    "1e-300": "out of range",
    "70 mg": "weight 0.00007 kg is impossible: give a value between 0.2 and 650 kg (weight_kg)",
    "inf": "is not a number",
    "nan": "is not a number",
}


def run_cohort(tmp_path: Path, roster: Path, *extra: str) -> tuple[int, str, Path]:
    out = tmp_path / "out.csv"
    result = CliRunner().invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(out), *extra])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stderr, out


@pytest.mark.parametrize("cell", BAD_WEIGHTS)
def test_a_bad_weight_cell_is_a_rejected_row_with_its_reason(tmp_path: Path, cell: str) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(f'{HEADER}\n{GOOD}\nP1,"{cell}",1.8,45\n', encoding="utf-8")
    code, stderr, out = run_cohort(tmp_path, roster)
    assert code == 3, stderr
    assert "patients in = expanded + rejected: 2 = 1 + 1" in stderr
    errors = pd.read_csv(tmp_path / "out.errors.csv", dtype=str, keep_default_na=False)
    assert list(errors["patient_id"]) == ["P1"] and list(errors["column"]) == ["weight_kg"]
    assert BAD_WEIGHTS[cell] in errors["problem"][0]
    assert set(pd.read_csv(out)["patient_id"]) == {"P0"}


@pytest.mark.parametrize("cell", ["70 mg", "1e-300", "70 ㎏", "1e999999999"])
def test_expand_refuses_the_same_values_with_the_same_reason(cell: str) -> None:
    result = CliRunner().invoke(cli, ["expand", "cenersen-arm3", "--weight", cell, "--bsa", "1.8", "--age", "45"])
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert "\n" not in line and BAD_WEIGHTS[cell].replace("(weight_kg)", "(--weight)") in line


def test_lines_with_too_many_or_too_few_fields_are_rejected_rows(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(f"{HEADER}\n{GOOD}\nP1,70,1.8,45,99\nP2,70\nP3,70,1.8,45\n", encoding="utf-8")
    code, stderr, out = run_cohort(tmp_path, roster)
    assert code == 3
    assert "4 = 2 + 2" in stderr
    errors = pd.read_csv(tmp_path / "out.errors.csv", dtype=str, keep_default_na=False)
    assert "this line has 5 fields and the header 4: fix the line" in set(errors["problem"])
    assert "this line has 2 fields and the header 4: fix the line" in set(errors["problem"])
    assert set(pd.read_csv(out)["patient_id"]) == {"P0", "P3"}


def test_start_dates_outside_the_years_expand_takes_are_rejected(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        f"{HEADER},start_date\n{GOOD},2026-01-05\nP1,70,1.8,45,10000-01-01\nP2,70,1.8,45,1800-01-01\n",
        encoding="utf-8",
    )
    code, stderr, _ = run_cohort(tmp_path, roster)
    assert code == 3 and "3 = 1 + 2" in stderr
    problems = list(pd.read_csv(tmp_path / "out.errors.csv", dtype=str)["problem"])
    assert "outside the years 1900–2999" in problems[1] and "is not a date" in problems[0]


def test_ids_with_control_characters_are_rejected(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(f'{HEADER}\n{GOOD}\n"P\x011",70,1.8,45\n"P\n2",70,1.8,45\n', encoding="utf-8")
    code, stderr, _ = run_cohort(tmp_path, roster)
    assert code == 3 and "3 = 1 + 2" in stderr
    assert "holds a control character" in (tmp_path / "out.errors.csv").read_text()


def test_list_and_struct_parquet_columns_are_rejected_rows(tmp_path: Path) -> None:
    roster = tmp_path / "roster.parquet"
    pd.DataFrame(
        {"patient_id": ["P0", "P1"], "weight_kg": [[70.0], [70.0, 80.0]], "bsa_m2": [1.8, 1.8], "age": [45, 45]}
    ).to_parquet(roster)
    code, stderr, _ = run_cohort(tmp_path, roster)
    assert code == 3 and "2 = 0 + 2" in stderr
    assert "weight_kg holds a list, not one value" in (tmp_path / "out.errors.csv").read_text()
    pd.DataFrame(
        {"patient_id": [["P0"], ["P1"]], "weight_kg": [{"v": 70}, {"v": 80}], "bsa_m2": [1.8, 1.8], "age": [45, 45]}
    ).to_parquet(roster)
    code, stderr, _ = run_cohort(tmp_path, roster)
    assert code == 3 and "2 = 0 + 2" in stderr
    text = (tmp_path / "out.errors.csv").read_text()
    assert "patient_id holds a list" in text and "weight_kg holds a struct" in text


@pytest.mark.parametrize("data", [b"PAR1 not really", b"", b"patient_id,weight_kg\nP0,70\n"])
def test_a_file_that_is_not_parquet_is_one_line(tmp_path: Path, data: bytes) -> None:
    roster = tmp_path / "roster.parquet"
    roster.write_bytes(data)
    code, stderr, out = run_cohort(tmp_path, roster)
    assert code == 1
    assert stderr.count("\n") == 1 and "not a readable Parquet roster" in stderr
    assert not out.exists()


def test_a_truncated_parquet_file_is_one_line(tmp_path: Path) -> None:
    roster = tmp_path / "roster.parquet"
    pd.DataFrame({"patient_id": ["P0"], "weight_kg": [70.0], "bsa_m2": [1.8], "age": [45]}).to_parquet(roster)
    roster.write_bytes(roster.read_bytes()[:-40])
    code, stderr, _ = run_cohort(tmp_path, roster)
    assert code == 1 and stderr.count("\n") == 1 and "not a readable Parquet roster" in stderr
