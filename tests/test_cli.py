"""The command line as a user runs it: every command, every class of error, one line each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from tests.conftest import BUNDLED_IDS, REGIMENS, SEED_IDS

from regimen.cli import cli

PATIENT = ["--weight", "70", "--bsa", "1.8", "--age", "45"]


def run(runner: CliRunner, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return runner.invoke(cli, list(args), env=env)


def one_line_error(result, code: int = 1) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    assert "Traceback" not in result.output
    return lines[0]


def test_expand_prints_the_table_with_header_and_notes(runner: CliRunner) -> None:
    result = run(runner, "expand", "cenersen-arm3", *PATIENT)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("cenersen-arm3: Cenersen + idarubicin + cytarabine 1 g/m² (arm 3)")
    assert "Source: Cortes J" in out and "NCT00074737" in out
    assert "Patient: weight 70 kg, BSA 1.8 m², age 45 years" in out
    assert "12 mg/m²/day × 1.8 m² = 21.6 mg" in out
    assert "1,800 mg" in out
    assert "rounded once, for display, to 4 significant figures" in out
    assert "verify every dose" in out


@pytest.mark.parametrize("regimen_id", SEED_IDS)
def test_every_seed_regimen_expands(runner: CliRunner, regimen_id: str) -> None:
    result = run(runner, "expand", regimen_id, *PATIENT)
    assert result.exit_code == 0, result.output


def test_json_contract(runner: CliRunner) -> None:
    result = run(runner, "expand", "cenersen-arm3", *PATIENT, "--start", "2026-12-01", "--format", "json")
    data = json.loads(result.stdout)
    assert {"regimen", "patient", "administrations", "totals", "notes"} <= set(data)
    row = data["administrations"][0]
    for key in (
        "cycle",
        "day",
        "date",
        "drug",
        "dose",
        "dose_unit",
        "route",
        "method",
        "rate",
        "rate_unit",
        "calculation",
    ):
        assert key in row
    assert row["date"] == "2026-12-01"
    idarubicin = [r for r in data["administrations"] if r["drug"] == "idarubicin"]
    assert [r["dose"] for r in idarubicin] == [21.6, 21.6, 21.6]
    assert data["patient"]["weight_kg"] == 70
    course = {t["drug"]: t["amount"] for t in data["totals"]["course"]}
    assert course == {"cenersen": 672, "idarubicin": 64.8, "cytarabine": 7200}


def test_csv_output_to_file(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "plan.csv"
    result = run(
        runner, "expand", "oblimersen-dtic", "--weight", "70", "--bsa", "1.8", "--format", "csv", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    assert lines[0].startswith("phase,cycle,day,course_day,date,drug")
    assert len(lines) == 1 + 8 * 6  # 8 cycles × (5 oblimersen days + 1 dacarbazine day)


def test_a_failed_run_does_not_clobber_an_existing_file(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    out.write_text("previous plan")
    result = run(runner, "expand", "cenersen-arm3", "--weight", "0", "--bsa", "1.8", "--format", "json", "-o", str(out))
    one_line_error(result)
    assert out.read_text() == "previous plan"
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind


def test_a_failed_run_leaves_no_file(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "plan.csv"
    one_line_error(
        run(
            runner,
            "expand",
            "cenersen-arm3",
            "--weight",
            "0",
            "--bsa",
            "1.8",
            "--age",
            "45",
            "--format",
            "csv",
            "-o",
            str(out),
        )
    )
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--bsa", "1.8", "--age", "45"], "needs the patient's weight: pass --weight"),
        (
            ["--bsa", "1.8"],
            "needs the patient's weight: pass --weight ... (age decides a rule: give --age ... too, "
            "or both outcomes are shown)",
        ),
        (["--weight", "0", "--bsa", "1.8", "--age", "45"], "weight 0 kg is impossible"),
        (["--weight", "-70", "--bsa", "1.8", "--age", "45"], "impossible"),
        (["--weight", "7000", "--bsa", "1.8", "--age", "45"], "impossible"),
        (["--weight", "nan", "--bsa", "1.8", "--age", "45"], "not a number"),
        (["--weight", "inf", "--bsa", "1.8", "--age", "45"], "weight"),
        (["--weight", "1.7m", "--bsa", "1.8", "--age", "45"], "wrong kind"),
        (["--weight", "70", "--bsa", "18", "--age", "45"], "body-surface area 18 m² is impossible"),
        (["--weight", "70", "--bsa", "1.8 kg", "--age", "45"], "wrong kind"),
        (["--weight", "70", "--bsa", "1.8", "--age", "-1"], "impossible"),
        (["--weight", "70", "--bsa", "1.8", "--age", "200"], "impossible"),
        (["--weight", "70", "--bsa", "1.8", "--age", "forty"], "not a number"),
        (["--weight", "70", "--bsa", "1.8", "--age", "45", "--sex", "x"], "--sex female or --sex male"),
        (["--weight", "70", "--bsa", "1.8", "--age", "45", "--cycles", "two"], "whole number"),
    ],
)
def test_patient_errors_are_one_line(runner: CliRunner, args: list[str], says: str) -> None:
    assert says in one_line_error(run(runner, "expand", "cenersen-arm3", *args))


def test_bad_date_is_one_line_with_a_hint(runner: CliRunner) -> None:
    line = one_line_error(run(runner, "expand", "cenersen-arm3", *PATIENT, "--start", "2026-13-01"), code=2)
    assert "--start" in line and "--help" in line


@pytest.mark.parametrize(
    ("ref", "says"),
    [
        ("cenerson-arm3", "did you mean 'cenersen-arm3'"),
        ("../../etc/passwd", "neither a regimen id nor a .toml"),
        ("../regimens/../x.toml", "no regimen file"),
        ("..", "not a regimen id"),
        ("CENERSEN-ARM3", "not a regimen id"),
        ("cenersen arm3", "not a regimen id"),
        ("/nonexistent/x.toml", "no regimen file"),
    ],
)
def test_unknown_regimens_and_path_tricks(runner: CliRunner, ref: str, says: str) -> None:
    assert says in one_line_error(run(runner, "expand", ref, *PATIENT))


def test_malformed_and_invalid_files(runner: CliRunner, tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text('id = "broken"\nname = \n')
    assert "not valid TOML" in one_line_error(run(runner, "expand", str(broken), *PATIENT))
    invalid = tmp_path / "invalid.toml"
    invalid.write_text(
        'id = "invalid"\nname = "x"\n[[source]]\ncitation = "c"\n[[component]]\ndrug = "a"\n'
        'dose = "5 widgets"\ndays = "0"\n'
    )
    line = one_line_error(run(runner, "expand", str(invalid), *PATIENT))
    assert "invalid.toml: component 'a', field 'dose'" in line and "more problem" in line


def test_a_file_path_instead_of_an_id(runner: CliRunner) -> None:
    result = run(runner, "expand", str(REGIMENS / "cenersen-arm1.toml"), *PATIENT)
    assert result.exit_code == 0 and "cenersen-arm1" in result.stdout


def user_regimen(folder: Path, regimen_id: str = "my-dex") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{regimen_id}.toml"
    path.write_text(
        f'id = "{regimen_id}"\nname = "Dexamethasone pulse"\n[[source]]\ncitation = "Local protocol"\n'
        '[[component]]\ndrug = "dexamethasone"\ndose = "40 mg"\nroute = "oral"\ndays = "1-4"\n'
    )
    return path


def test_user_folders_by_option_and_environment(runner: CliRunner, tmp_path: Path) -> None:
    user_regimen(tmp_path / "mine")
    by_option = run(runner, "expand", "my-dex", "--regimen-path", str(tmp_path / "mine"))
    assert by_option.exit_code == 0, by_option.output
    assert "40 mg (flat dose)" in by_option.stdout
    by_env = run(runner, "expand", "my-dex", env={"REGIMEN_PATH": str(tmp_path / "mine")})
    assert by_env.exit_code == 0, by_env.output
    listed = run(runner, "list", env={"REGIMEN_PATH": str(tmp_path / "mine")})
    assert "my-dex" in listed.stdout and "cenersen-arm3" in listed.stdout


def test_a_file_whose_name_and_id_differ_is_found_by_its_id(runner: CliRunner, tmp_path: Path) -> None:
    """list, validate and expand agree: a regimen is found by the id it declares (issue 10)."""
    path = user_regimen(tmp_path, "other-id")
    path.rename(tmp_path / "my-id.toml")
    said = one_line_error(run(runner, "expand", "my-id", "--regimen-path", str(tmp_path)))
    assert "my-id.toml declares the id 'other-id', not 'my-id': use that id" in said
    assert run(runner, "expand", "other-id", "--regimen-path", str(tmp_path), "--weight", "70").exit_code == 0


def test_list(runner: CliRunner) -> None:
    result = run(runner, "list")
    assert result.exit_code == 0
    for regimen_id in SEED_IDS:
        assert regimen_id in result.stdout
    data = json.loads(run(runner, "list", "--format", "json").stdout)
    assert {d["id"] for d in data} == set(BUNDLED_IDS)
    assert all(d["sources"] for d in data)
    # the table names each regimen's first source and how many more (every source ran to 2,544 characters a line)
    seven = next(d for d in data if d["id"] == "7-plus-3")
    line = next(x for x in result.stdout.splitlines() if x.startswith("7-plus-3 "))
    assert line.endswith(f"{seven['sources'][0]} (+{len(seven['sources']) - 1} more: regimen show 7-plus-3)")
    assert seven["sources"][1] not in result.stdout


def test_show_prints_the_protocol_in_words(runner: CliRunner) -> None:
    out = run(runner, "show", "cenersen-arm3").stdout
    assert "- Cenersen 0.1 mg/kg/h IV as a continuous infusion over 4 days, days 1–4." in out
    assert "- Idarubicin 12 mg/m²/day IV (method not stated), 3 days starting on day 2 of cenersen (days 2–4)." in out
    assert "if age > 60:" in out and "(days 2–4)" in out
    assert "Cycle length not stated in the source" in out
    dex = run(runner, "show", "oblimersen-dex").stdout
    assert "Induction" in dex and "Maintenance" in dex and "days 1–7 and 15–21" in dex
    fc = run(runner, "show", "oblimersen-fc").stdout
    assert "7 days starting 4 days before fludarabine (days 1–7)" in fc and "Every 28 days; up to 6 cycles." in fc


def test_validate(runner: CliRunner, tmp_path: Path) -> None:
    ok = run(runner, "validate", *(str(p) for p in sorted(REGIMENS.glob("*.toml"))))
    assert ok.exit_code == 0 and ok.stdout.count(": ok") == len(BUNDLED_IDS)
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'id = "bad"\nname = "x"\n[[source]]\ncitation = "c"\n[[component]]\ndrug = "a"\n'
        'dose = "5 widgets"\ndays = "0"\n[[component]]\ndrug = "b"\ndose = "5 mg"\n'
        'days = { relative_to = "zz", on_day = 1 }\n'
    )
    result = run(runner, "validate", str(bad))
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert any("component 'a', field 'dose'" in e for e in errors)
    assert any("component 'a', field 'days'" in e for e in errors)
    assert any("component 'b', field 'days'" in e and "'zz'" in e for e in errors)
    assert errors[-1] == "Error: 1 of 1 file invalid"


def test_schema_is_json(runner: CliRunner) -> None:
    data = json.loads(run(runner, "schema").stdout)
    assert data["$schema"].startswith("https://json-schema.org/")


@pytest.mark.parametrize("command", sorted(cli.list_commands(click.Context(cli))))
def test_every_command_has_help_and_is_in_the_readme(runner: CliRunner, command: str) -> None:
    result = run(runner, command, "--help")
    assert result.exit_code == 0 and len(result.stdout) > 100
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    assert f"regimen {command}" in readme


def test_the_installed_command_runs_without_a_traceback(tmp_path: Path) -> None:
    """The console script as a user runs it, in a new process."""
    exe = Path(sys.executable).parent / "regimen"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "regimen"]
    env = {**os.environ, "REGIMEN_PATH": ""}
    ok = subprocess.run(
        [*command, "expand", "cenersen-arm3", *PATIENT], capture_output=True, text=True, env=env, check=False
    )
    assert ok.returncode == 0 and "21.6 mg" in ok.stdout
    bad = subprocess.run(
        [*command, "expand", "cenersen-arm3", "--weight", "abc"], capture_output=True, text=True, env=env, check=False
    )
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_show_states_eligibility_caps_levels_and_rounding(runner: CliRunner, tmp_path: Path) -> None:
    assert "Eligible: patients aged 18 or over." in run(runner, "show", "cenersen-arm1").stdout
    path = tmp_path / "vcr.toml"
    path.write_text(
        'id = "vcr"\nname = "Vincristine"\ndosing_weight = "ideal"\n[[source]]\ncitation = "Local"\n'
        '[[component]]\ndrug = "vincristine"\ndose = "1.4 mg/m2"\nroute = "IV"\nmethod = "bolus"\n'
        'days = "1"\nmax_dose = "2 mg"\nlevels = { "-1" = "75%" }\nround = "0.1 mg"\n'
    )
    out = run(runner, "show", str(path)).stdout
    assert "Maximum per administration 2 mg." in out
    assert "Dose levels: level -1: 75%." in out
    assert "Doses rounded to the nearest 0.1 mg." in out
    assert "Weight-based doses use the ideal body weight." in out
