"""Cohorts under hostile rosters (issue 11.3): a bad cell is a rejected row with its reason, never a stopped run,
and the roster's patients are always expanded + rejected. Each case broke the run before."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from regimen.cli import cli

HEADER = "patient_id,weight_kg,bsa_m2,age"

BAD_CELLS = {
    "a unit to a fractional power": ("P1,70 kg**1.5/kg**0.5,1.8,45", "unknown unit 'kg**1.5/kg**0.5'"),
    "a compatibility character": ("P1,70 ㎏,1.8,45", "unknown unit '㎏'"),
    "a NUL byte": ("P1,70\x00,1.8,45", "unknown unit '\\x00'"),
    "an extra field": ("P1,70,1.8,45,extra", "the line has 5 fields where the header has 4"),
    "a huge exponent": ("P1,1e999999999,1.8,45", "out of range"),
    "a tiny weight": ("P1,1e-300,1.8,45", "out of range"),
    "a weight in mg": ("P1,70 mg,1.8,45", "weight 0.00007 kg is impossible"),
}


@pytest.mark.parametrize("name", BAD_CELLS)
def test_a_bad_cell_is_a_rejected_row_with_its_reason(tmp_path: Path, name: str) -> None:
    row, reason = BAD_CELLS[name]
    roster = tmp_path / "r.csv"
    roster.write_bytes(f"{HEADER}\nP0,70,1.8,45\n{row}\nP2,70,1.8,45\n".encode())
    out = tmp_path / "o.csv"
    result = CliRunner().invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(out)])
    assert result.exit_code == 3, (result.output, result.exception)
    assert "patients in = expanded + rejected: 3 = 2 + 1" in result.stderr
    errors = pd.read_csv(tmp_path / "o.errors.csv", keep_default_na=False)
    assert errors["patient_id"].tolist() == ["P1"] and reason in errors["problem"].iat[0], errors.to_dict("records")
    assert set(pd.read_csv(out)["patient_id"]) == {"P0", "P2"}


def test_a_roster_value_is_refused_exactly_as_expand_refuses_it(tmp_path: Path) -> None:
    """One validation for both paths: the same words for '70 mg' from a roster and from --weight."""
    roster = tmp_path / "r.csv"
    roster.write_text(f"{HEADER}\nP1,70 mg,1.8,45\n")
    CliRunner().invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(tmp_path / "o.csv")])
    from_roster = pd.read_csv(tmp_path / "o.errors.csv")["problem"].iat[0]
    from_option = CliRunner().invoke(cli, ["expand", "cenersen-arm3", "--weight", "70 mg", "--bsa", "1.8"]).stderr
    assert from_roster.split(" (")[0] in from_option and "impossible" in from_roster


def test_list_and_struct_parquet_columns_are_rejected_rows(tmp_path: Path) -> None:
    table = pa.table(
        {
            "patient_id": ["P0", "P1", "P2"],
            "weight_kg": pa.array([[70.0], [71.0], [72.0]], type=pa.list_(pa.float64())),
            "bsa_m2": pa.array([{"v": 1.8}, {"v": 1.8}, {"v": 1.8}]),
            "age": [45, 46, 47],
        }
    )
    roster = tmp_path / "r.parquet"
    pq.write_table(table, roster)
    result = CliRunner().invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 3, (result.output, result.exception)
    assert "patients in = expanded + rejected: 3 = 0 + 3" in result.stderr


@pytest.mark.parametrize("content", [b"PAR1\x00\x01truncated", b"not parquet at all", b""])
def test_a_truncated_or_foreign_parquet_file_is_one_line(tmp_path: Path, content: bytes) -> None:
    roster = tmp_path / "r.parquet"
    roster.write_bytes(content)
    result = CliRunner().invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(tmp_path / "o.csv")])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not a readable Parquet roster" in lines[0], lines
    assert not (tmp_path / "o.csv").exists()
