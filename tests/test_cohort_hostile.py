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


def _cohort(tmp_path: Path, text: str) -> tuple[int, str, pd.DataFrame]:
    roster = tmp_path / "roster.csv"
    roster.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(tmp_path / "out.csv")])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    errors = tmp_path / "out.errors.csv"
    return (
        result.exit_code,
        result.stderr,
        pd.read_csv(errors, dtype=str, keep_default_na=False) if errors.exists() else pd.DataFrame(),
    )


def test_start_dates_outside_the_years_expand_takes_are_rejected_rows(tmp_path: Path) -> None:
    """expand refuses --start 1800-01-01 (the years 1900-2999); a roster's start_date was taken (one validation)."""
    code, stderr, errors = _cohort(
        tmp_path,
        f"{HEADER},start_date\nP0,70,1.8,45,2026-01-05\nP1,70,1.8,45,1800-01-01\nP2,70,1.8,45,3000-01-01\n",
    )
    assert code == 3 and "patients in = expanded + rejected: 3 = 1 + 2" in stderr
    assert list(errors["patient_id"]) == ["P1", "P2"]
    assert all("is outside the years 1900–2999 that regimen plans" in p for p in errors["problem"])
    expand = CliRunner().invoke(
        cli, ["expand", "cenersen-arm3", "--weight", "70", "--bsa", "1.8", "--age", "45", "--start", "1800-01-01"]
    )
    assert expand.exit_code == 1 and "outside the years 1900–2999" in expand.stderr


def test_an_id_with_a_control_character_is_a_rejected_row(tmp_path: Path) -> None:
    """An id is one line of every output that names it: a NUL, a line break or an escape in it is refused."""
    code, stderr, errors = _cohort(
        tmp_path, f'{HEADER}\nP0,70,1.8,45\n"P\x011",70,1.8,45\n"P\n2",70,1.8,45\n"P\x1b[31m3",70,1.8,45\n'
    )
    assert code == 3 and "patients in = expanded + rejected: 4 = 1 + 3" in stderr
    assert list(errors["row"]) == ["2", "3", "4"] and set(errors["column"]) == {"patient_id"}
    assert all("holds a control character: give ids of printable characters" in p for p in errors["problem"])
    assert set(pd.read_csv(tmp_path / "out.csv", dtype=str)["patient_id"]) == {"P0"}
