"""Provenance (issue 11.7): a regimen file of a user's folder that declares a bundled id is named in every output,
with a warning that it shadows the bundled one; a bundled regimen carries no such line."""

from __future__ import annotations

import json
from pathlib import Path

import icalendar
import pandas as pd
import pytest
from click.testing import CliRunner

from regimen.cli import cli
from regimen.protocol.catalog import bundled_dir, load

PATIENT = ["--weight", "70", "--bsa", "1.8", "--age", "45"]


@pytest.fixture
def local(tmp_path: Path) -> Path:
    """A user's folder with its own cenersen-arm3 (same id, same content)."""
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "cenersen-arm3.toml").write_text((bundled_dir() / "cenersen-arm3.toml").read_text(encoding="utf-8"))
    return folder


def expected(local: Path) -> str:
    return (
        f"regimen file {local / 'cenersen-arm3.toml'} is not the bundled cenersen-arm3: it shadows the bundled file "
        f"{bundled_dir() / 'cenersen-arm3.toml'}"
    )


def run(*args: str) -> tuple[str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.stderr
    return result.stdout, result.stderr


def test_load_marks_a_shadowing_file_and_only_it(local: Path) -> None:
    reg = load("cenersen-arm3", [local])
    assert reg.shadows == str(bundled_dir() / "cenersen-arm3.toml") and reg.path == str(local / "cenersen-arm3.toml")
    assert reg.shadow_warning is not None and reg.shadow_warning.startswith(expected(local))
    assert load("cenersen-arm3").shadows is None
    assert load(str(bundled_dir() / "cenersen-arm3.toml")).shadows is None
    assert load(str(local / "cenersen-arm3.toml")).shadows is not None  # by path, too


def test_every_output_of_expand_names_the_file_and_warns(local: Path, tmp_path: Path) -> None:
    where = ["--regimen-path", str(local)]
    table, stderr = run("expand", "cenersen-arm3", *PATIENT, *where)
    assert (
        f"File: {local / 'cenersen-arm3.toml'} (a local version: it shadows the bundled file" in table.splitlines()[1]
    )
    assert expected(local) in table and expected(local) in stderr
    csv_text, _ = run("expand", "cenersen-arm3", *PATIENT, *where, "--format", "csv")
    rows = pd.read_csv(pd.io.common.StringIO(csv_text), dtype=str, keep_default_na=False)
    assert rows["plan_warnings"].str.contains(expected(local), regex=False).all()
    data = json.loads(run("expand", "cenersen-arm3", *PATIENT, *where, "--format", "json")[0])
    assert any(expected(local) in w for w in data["warnings"])
    assert data["regimen"]["file"] == str(local / "cenersen-arm3.toml")
    ics = tmp_path / "plan.ics"
    run("expand", "cenersen-arm3", *PATIENT, *where, "--start", "2026-01-05", "--ics", str(ics))
    for event in icalendar.Calendar.from_ical(ics.read_bytes()).walk("VEVENT"):
        text = str(event["DESCRIPTION"])
        assert f"Regimen file: {local / 'cenersen-arm3.toml'}" in text and expected(local) in text


def test_strict_does_not_refuse_a_local_version(local: Path) -> None:
    table, _ = run("expand", "cenersen-arm3", *PATIENT, "--regimen-path", str(local), "--strict")
    assert expected(local) in table


def test_cohort_and_supply_name_it_too(local: Path, tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("patient_id,weight_kg,bsa_m2,age\nP0,70,1.8,45\nP1,80,1.9,50\n")
    out = tmp_path / "out.csv"
    _, stderr = run("cohort", "cenersen-arm3", str(roster), "-o", str(out), "--regimen-path", str(local))
    assert "2 patients' plans carry warnings" in stderr and expected(local) in stderr
    assert pd.read_csv(out)["plan_warnings"].str.contains(expected(local), regex=False).all()
    table, stderr = run("supply", "cenersen-arm3", str(roster), "--regimen-path", str(local))
    assert expected(local) in table and expected(local) in stderr


def test_a_bundled_regimen_has_no_file_line_or_warning() -> None:
    table, stderr = run("expand", "cenersen-arm3", *PATIENT)
    assert "File:" not in table and "shadows" not in table + stderr
