"""Provenance (issue 11.7): a regimen file in a user folder that shadows a bundled id is named in every output, with
a warning that it shadows the bundled one. Before, the outputs looked like the bundled regimen's."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import icalendar
import pytest
from click.testing import CliRunner

from regimen.cli import cli

BUNDLED = Path(__file__).resolve().parents[1] / "regimens" / "cenersen-arm3.toml"
ARGS = ["expand", "cenersen-arm3", "--weight", "70", "--bsa", "1.8", "--age", "45"]


@pytest.fixture
def shadow(tmp_path: Path) -> Path:
    folder = tmp_path / "local"
    folder.mkdir()
    text = BUNDLED.read_text(encoding="utf-8").replace('dose = "12 mg/m²/day"', 'dose = "10 mg/m²/day"')
    (folder / "cenersen-arm3.toml").write_text(text, encoding="utf-8")
    return folder


def run(*args: str) -> tuple[str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def test_a_shadowing_file_is_named_in_every_output(shadow: Path, tmp_path: Path) -> None:
    local = shadow / "cenersen-arm3.toml"
    warning = f"cenersen-arm3 is read from {local}, which shadows the bundled cenersen-arm3"
    table, err = run(*ARGS, "--regimen-path", str(shadow))
    assert f"File: {local} (shadows the bundled cenersen-arm3)" in table and warning in table
    assert "18 mg" in table  # 10 mg/m²/day × 1.8 m²: the local file's dose, not the bundled 21.6 mg
    assert warning in err
    rows = list(csv.DictReader(io.StringIO(run(*ARGS, "--regimen-path", str(shadow), "--format", "csv")[0])))
    assert rows and all(warning in r["plan_warnings"] for r in rows)
    data = json.loads(run(*ARGS, "--regimen-path", str(shadow), "--format", "json")[0])
    assert data["regimen"]["file"] == str(local) and data["regimen"]["shadows"] == str(BUNDLED)
    ics = tmp_path / "p.ics"
    run(*ARGS, "--regimen-path", str(shadow), "--start", "2026-06-01", "--ics", str(ics))
    events = icalendar.Calendar.from_ical(ics.read_bytes()).walk("VEVENT")
    assert events and all(f"Warning: {warning}" in str(e["DESCRIPTION"]) for e in events)
    # --strict refuses it, as any warning
    strict = CliRunner().invoke(cli, [*ARGS, "--regimen-path", str(shadow), "--strict"])
    assert strict.exit_code == 1 and "shadows the bundled" in strict.stderr


def test_the_bundled_file_and_a_new_id_carry_no_such_warning(shadow: Path) -> None:
    table, _ = run(*ARGS)
    assert "shadows" not in table and "File:" not in table
    (shadow / "cenersen-arm3.toml").rename(shadow / "mine.toml")
    text = (shadow / "mine.toml").read_text(encoding="utf-8").replace('id = "cenersen-arm3"', 'id = "mine"')
    (shadow / "mine.toml").write_text(text, encoding="utf-8")
    table, _ = run("expand", "mine", "--weight", "70", "--bsa", "1.8", "--age", "45", "--regimen-path", str(shadow))
    assert "shadows" not in table
