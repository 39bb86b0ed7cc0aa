"""Files and conventions a user expects (issue 10, in part): each test failed before its change."""

from __future__ import annotations

import json
import os
import stat
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

import regimen
from regimen.cli import cli
from regimen.clinical.dose_change import dose_percent

PATIENT = ["--weight", "70", "--bsa", "1.8", "--age", "45"]


def test_output_files_get_the_users_umask(tmp_path: Path) -> None:
    """mkstemp made every output 0600, unreadable by colleagues on a shared drive."""
    old = os.umask(0o022)
    try:
        out = tmp_path / "plan.csv"
        assert CliRunner().invoke(cli, ["expand", "cenersen-arm3", *PATIENT, "-o", str(out)]).exit_code == 0
        assert stat.S_IMODE(out.stat().st_mode) == 0o644
        os.umask(0o077)
        private = tmp_path / "private.csv"
        assert CliRunner().invoke(cli, ["expand", "cenersen-arm3", *PATIENT, "-o", str(private)]).exit_code == 0
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    finally:
        os.umask(old)


@pytest.mark.parametrize(
    ("name", "starts"), [("plan.json", "{"), ("plan.csv", "phase,cycle,day"), ("plan.txt", "cenersen-arm3: ")]
)
def test_the_file_extension_chooses_the_format_and_every_write_is_confirmed(
    tmp_path: Path, name: str, starts: str
) -> None:
    out = tmp_path / name
    result = CliRunner().invoke(cli, ["expand", "cenersen-arm3", *PATIENT, "-o", str(out)])
    assert result.exit_code == 0 and out.read_text().startswith(starts)
    assert f"{out}: written (" in result.stderr
    explicit = CliRunner().invoke(cli, ["expand", "cenersen-arm3", *PATIENT, "-o", str(out), "--format", "json"])
    assert explicit.exit_code == 0 and json.loads(out.read_text())["regimen"]["id"] == "cenersen-arm3"


@pytest.mark.parametrize(
    ("command", "name", "says"),
    [
        (["expand", "cenersen-arm3", *PATIENT], "plan.pdf", "a timeline chart is 'regimen plot ... -o FILE.pdf'"),
        (["expand", "cenersen-arm3", *PATIENT], "plan.ics", "a calendar is --ics FILE"),
        (["expand", "cenersen-arm3", *PATIENT], "plan.xlsx", "spreadsheets read csv"),
        (["list"], "regimens.png", "a timeline chart is 'regimen plot ... -o FILE.png'"),
    ],
)
def test_a_file_named_as_another_kind_of_file_is_refused_naming_what_writes_it(
    tmp_path: Path, command: list[str], name: str, says: str
) -> None:
    """'-o plan.pdf' wrote the text table into plan.pdf and said 'written (table)': a file no PDF reader opens, and
    a user who asked for a PDF. It is one line naming what writes such a file, exit 2, and no file."""
    out = tmp_path / name
    result = CliRunner().invoke(cli, [*command, "-o", str(out)])
    assert result.exit_code == 2 and not out.exists()
    (line,) = result.stderr.strip().splitlines()
    assert f"{out}: '" in line and f" {command[0]}' writes " in line and f"not .{name.split('.')[-1]}; {says}" in line
    # --format says what is meant, whatever the name
    assert CliRunner().invoke(cli, [*command, "-o", str(out), "--format", "json"]).exit_code == 0


def test_a_run_with_warnings_says_so_on_stderr_whatever_the_format(tmp_path: Path) -> None:
    """--age 17 with --format csv -o printed nothing and exited 0: the eligibility warning was in no output."""
    out = tmp_path / "w.csv"
    result = CliRunner().invoke(
        cli,
        ["expand", "cenersen-arm3", "--weight", "70", "--bsa", "1.8", "--age", "17", "--format", "csv", "-o", str(out)],
    )
    assert result.exit_code == 0
    assert "warning: age 17 years is outside the eligibility of cenersen-arm3" in result.stderr
    # ... and the file itself carries it, on every row (a CSV read without the terminal still shows it)
    import csv

    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert rows and all(
        r["plan_warnings"]
        == "age 17 years is outside the eligibility of cenersen-arm3 (aged at least 18 years, from the source)"
        for r in rows
    )
    data = json.loads(
        CliRunner().invoke(cli, ["expand", "cenersen-arm3", *PATIENT[:4], "--age", "17", "--format", "json"]).stdout
    )
    assert all(len(a["plan_warnings"]) == 1 for a in data["administrations"]) and data["warnings"]


def test_cohort_output_carries_each_patients_plan_warnings(tmp_path: Path) -> None:
    """A cohort wrote an age-17 patient's rows with no trace of the eligibility warning, and said nothing."""
    import pandas as pd

    roster = tmp_path / "r.csv"
    roster.write_text("patient_id,weight_kg,bsa_m2,age\nP1,70,1.8,45\nP2,70,1.8,17\nP3,30,1.8,40\n")
    out = tmp_path / "o.csv"
    result = CliRunner().invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, keep_default_na=False)
    by_patient = frame.groupby("patient_id")["plan_warnings"].agg(set).to_dict()
    assert by_patient["P1"] == {""}
    assert by_patient["P2"] == {
        "age 17 years is outside the eligibility of cenersen-arm3 (aged at least 18 years, from the source)"
    }
    assert by_patient["P3"] == {
        "weight 30 kg is unusual for adults (usual range 35–200 kg): check the value and its unit"
    }
    assert "warning: 2 patients' plans carry warnings (column plan_warnings of their rows), first P2: age 17" in (
        result.stderr
    )


def test_bare_regimen_prints_help_and_exits_0() -> None:
    result = CliRunner().invoke(cli, [], prog_name="regimen")
    assert result.exit_code == 0 and "Usage: regimen" in result.output and "expand" in result.output
    assert "Exit codes: 0 done; 1 a problem" in result.output


def test_the_python_api_takes_plain_numbers_and_exports_clinical_options() -> None:
    """ClinicalOptions(bsa_cap=2.0) raised a traceback."""
    options = regimen.ClinicalOptions(bsa_cap=2.0, dose_changes={"idarubicin": dose_percent("75%")})
    assert options.bsa_cap == Fraction(2) and options.dose_changes["idarubicin"].percent == Fraction(75)
    plan = regimen.expand(regimen.load("cenersen-arm1"), regimen.make_patient(weight=100, bsa=2.2), options=options)
    idarubicin = next(r for r in plan.administrations if r.drug == "idarubicin")
    assert idarubicin.dose == Fraction(18)  # 12 mg/m² × 2 m² (capped) = 24 mg, at 75 % = 18 mg
    with pytest.raises(regimen.RegimenError, match="bsa_cap inf is not a finite number"):
        regimen.ClinicalOptions(bsa_cap=float("inf"))


def test_to_dataframe_keeps_the_plans_warnings_and_notes() -> None:
    plan = regimen.expand(regimen.load("cenersen-arm3"), regimen.make_patient(weight=70, bsa=1.8, age=17))
    frame = plan.to_dataframe()
    assert frame.attrs["warnings"] == list(plan.warnings) and plan.warnings
    assert frame.attrs["notes"] == list(plan.notes) and frame.attrs["regimen"] == "cenersen-arm3"


def test_list_validate_and_expand_agree_on_ids(tmp_path: Path) -> None:
    """A file rchop.toml with id r-chop-9 was listed and validated but could not be expanded by either name."""
    text = (
        (Path(__file__).parents[1] / "regimens" / "r-chop-21.toml")
        .read_text()
        .replace('id = "r-chop-21"', 'id = "r-chop-9"')
    )
    (tmp_path / "rchop.toml").write_text(text)
    listed = CliRunner().invoke(cli, ["list", "--regimen-path", str(tmp_path), "--format", "json"])
    assert "r-chop-9" in {r["id"] for r in json.loads(listed.stdout)}
    result = CliRunner().invoke(cli, ["expand", "r-chop-9", "--regimen-path", str(tmp_path), "--bsa", "1.8"])
    assert result.exit_code == 0 and result.output.startswith("r-chop-9: R-CHOP-21")


def test_two_files_declaring_one_id_are_an_error_naming_both(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "regimens" / "capox.toml").read_text()
    (tmp_path / "capox.toml").write_text(text)
    (tmp_path / "capox-copy.toml").write_text(text)
    listed = CliRunner().invoke(cli, ["list", "--regimen-path", str(tmp_path)])
    assert "regimen id 'capox' is declared by two files" in listed.stderr
    assert "capox-copy.toml" in listed.stderr and f"{tmp_path / 'capox.toml'}" in listed.stderr


def test_cohort_exits_3_when_it_rejected_rows_unless_allowed(tmp_path: Path) -> None:
    """A run that rejected rows exited 0; the output is still written for the others."""
    roster = tmp_path / "roster.csv"
    roster.write_text("patient_id,weight_kg,bsa_m2,age\na,70,1.8,45\nb,x,1.8,45\n")
    out = tmp_path / "plan.csv"
    result = CliRunner().invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(out)])
    assert result.exit_code == 3 and out.exists() and "2 = 1 + 1" in result.stderr
    allowed = CliRunner().invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(out), "--allow-rejected"])
    assert allowed.exit_code == 0
    roster.write_text("patient_id,weight_kg,bsa_m2,age\na,70,1.8,45\n")
    assert CliRunner().invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(out)]).exit_code == 0


def test_shell_completion_offers_the_regimen_ids() -> None:
    """Documented in the README: eval "$(_REGIMEN_COMPLETE=bash_source regimen)"; REGIMEN completes to ids."""
    env = {"_REGIMEN_COMPLETE": "bash_complete", "COMP_WORDS": "regimen expand cenersen-a", "COMP_CWORD": "2"}
    result = CliRunner().invoke(cli, [], prog_name="regimen", env=env)
    assert result.output.split() == ["plain,cenersen-arm1", "plain,cenersen-arm2", "plain,cenersen-arm3"]
    env["COMP_WORDS"] = "regimen cohort ox"
    assert "plain,oxaliplatin" not in CliRunner().invoke(cli, [], prog_name="regimen", env=env).output
    source = CliRunner().invoke(cli, [], prog_name="regimen", env={"_REGIMEN_COMPLETE": "bash_source"})
    assert "complete -o nosort -F _regimen_completion regimen" in source.output


def test_a_roster_from_standard_input(tmp_path: Path) -> None:
    out = tmp_path / "o.csv"
    roster = "patient_id,weight_kg,bsa_m2,age\nP1,70,1.8,45\nP2,abc,1.8,45\n"
    result = CliRunner().invoke(cli, ["cohort", "cenersen-arm3", "-", "-o", str(out), "--allow-rejected"], input=roster)
    assert result.exit_code == 0, result.output
    assert out.read_text().count("\nP1,") == 11 and "P2" not in out.read_text()
    assert "patients in = expanded + rejected: 2 = 1 + 1" in result.stderr
    assert "P2" in (tmp_path / "o.errors.csv").read_text()


def test_the_readmes_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's "In Python" block, calendar export included, run as written (in a scratch folder)."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    block = readme.split("### In Python", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "README.md", "exec"), {})  # the project's own README
    ics = (tmp_path / "plan.ics").read_bytes()
    assert ics.startswith(b"BEGIN:VCALENDAR") and b"DTSTART;TZID=Europe/Berlin:20261201T080000" in ics
