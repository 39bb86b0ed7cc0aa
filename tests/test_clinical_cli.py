"""The clinical options of `regimen expand`, one by one, and their errors (one line, exit 1 or 2)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from regimen.cli import cli

ROOT = Path(__file__).resolve().parents[1]
GOG158 = str(ROOT / "examples" / "carboplatin-paclitaxel-gog158.toml")
PATIENT = ["--weight", "70", "--bsa", "1.8", "--age", "45"]


def ok(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli, ["expand", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def error(runner: CliRunner, *args: str, code: int = 1) -> str:
    result = runner.invoke(cli, ["expand", *args])
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert result.stdout == ""
    return lines[0]


def as_json(runner: CliRunner, *args: str) -> dict:  # type: ignore[type-arg]
    return json.loads(ok(runner, *args, "--format", "json"))


def test_bsa_from_height_and_weight(runner: CliRunner) -> None:
    out = ok(runner, "cenersen-arm1", "--weight", "70", "--height", "170")
    assert "BSA by Mosteller" in out and "= 1.818 m²" in out
    assert "12 mg/m²/day × 1.818 m² (BSA, Mosteller) = 21.82 mg (from 21.816)" in out


def test_bsa_formula_option(runner: CliRunner) -> None:
    out = ok(runner, "cenersen-arm1", "--weight", "70", "--height", "170", "--bsa-formula", "dubois")
    assert "BSA by Du Bois" in out and "1.81 m² (BSA, Du Bois)" in out  # 1.809708 -> 1.81
    assert "needs the patient's sex" in error(
        runner, "cenersen-arm1", "--weight", "70", "--height", "170", "--bsa-formula", "schlich"
    )
    assert "is not one of" in error(runner, "cenersen-arm1", *PATIENT, "--bsa-formula", "gauss", code=2)


def test_bsa_disagreement_warning(runner: CliRunner) -> None:
    out = ok(runner, "cenersen-arm1", "--weight", "70", "--height", "170", "--bsa", "2.2")
    assert "Warnings:" in out and "differs by 21 %" in out


def test_dosing_weight_option(runner: CliRunner) -> None:
    out = ok(runner, "cenersen-arm1", *PATIENT, "--height", "160", "--sex", "male", "--dosing-weight", "ideal")
    assert "0.1 mg/kg/h × 56.88 kg (ideal body weight, Devine) = 5.688 mg/h" in out
    adjusted = ok(
        runner,
        "cenersen-arm1",
        "--weight",
        "100",
        "--bsa",
        "2",
        "--height",
        "160",
        "--sex",
        "male",
        "--dosing-weight",
        "adjusted",
        "--adjusted-factor",
        "0.25",
    )
    assert "× 67.66 kg (adjusted body weight, factor 0.25)" in adjusted
    assert "--adjusted-factor 1.5 must be between 0 and 1" in error(
        runner, "cenersen-arm1", *PATIENT, "--dosing-weight", "adjusted", "--adjusted-factor", "1.5"
    )
    assert "is not a number" in error(runner, "cenersen-arm1", *PATIENT, "--adjusted-factor", "x")


def test_scr_gfr_and_auc(runner: CliRunner) -> None:
    out = ok(
        runner,
        GOG158,
        "--weight",
        "70",
        "--height",
        "170",
        "--age",
        "60",
        "--sex",
        "female",
        "--scr",
        "1.0",
        "--cycles",
        "1",
    )
    assert "Cockcroft–Gault CrCl = (140 − 60) × 70 kg (actual weight) / (72 × 1 mg/dL) × 0.85 (female) = 66.11" in out
    assert "CKD-EPI 2021 eGFR = 64.495000 mL/min/1.73 m², rounded half up to 2 decimals = 64.5 mL/min/1.73 m²" in out
    assert "AUC 7.5 mg/mL·min × (GFR 66.11 mL/min (Cockcroft–Gault) + 25) = 683.3 mg (from 683.325) (Calvert)" in out
    measured = ok(runner, GOG158, "--bsa", "1.8", "--gfr", "100", "--cycles", "1")
    assert "(GFR 100 mL/min (given with --gfr) + 25) = 937.5 mg" in measured
    capped = ok(runner, GOG158, "--bsa", "1.8", "--gfr", "150", "--cycles", "1")
    assert "capped at 125 mL/min (FDA 2010 default) + 25) = 1,125 mg" in capped
    lifted = ok(runner, GOG158, "--bsa", "1.8", "--gfr", "150", "--gfr-cap", "none", "--cycles", "1")
    assert "= 1,313 mg (from 1,312.5)" in lifted and "GFR cap lifted" in lifted
    epi = ok(
        runner,
        GOG158,
        "--weight",
        "70",
        "--bsa",
        "1.73",
        "--age",
        "60",
        "--sex",
        "male",
        "--scr",
        "1",
        "--gfr-method",
        "ckd-epi-2021",
        "--cycles",
        "1",
    )
    assert "(GFR 86.16 mL/min (CKD-EPI 2021, de-indexed) + 25)" in epi


def test_renal_errors(runner: CliRunner) -> None:
    assert "needs the patient's serum creatinine (or a measured GFR): pass --scr (or --gfr)" in error(
        runner, GOG158, "--bsa", "1.8"
    )
    assert "if it is in µmol/L" in error(runner, GOG158, "--bsa", "1.8", "--scr", "90")
    assert "--gfr-cap 'abc' is not a number" in error(runner, GOG158, "--bsa", "1.8", "--gfr", "90", "--gfr-cap", "abc")


def test_bsa_cap(runner: CliRunner) -> None:
    out = ok(runner, "cenersen-arm1", "--weight", "100", "--bsa", "2.3", "--bsa-cap", "2")
    assert "× 2 m² (BSA 2.3 m² capped at 2 m² by --bsa-cap) = 24 mg" in out
    assert "BSA capped at 2 m² (uncapped 2.3 m²)" in out
    assert "not a possible BSA" in error(runner, "cenersen-arm1", *PATIENT, "--bsa-cap", "0")


def test_dose_level_and_reduce(runner: CliRunner, tmp_path: Path) -> None:
    f = tmp_path / "lv.toml"
    f.write_text(
        'id = "lv"\nname = "lv"\n[[component]]\ndrug = "idarubicin"\ndose = "12 mg/m²"\ndays = "1"\n'
        'levels = { "-1" = "75%" }\n[[source]]\ncitation = "test"\n'
    )
    out = ok(runner, str(f), "--bsa", "1.8", "--dose-level", "-1")
    assert "dose level -1: 75 % of the dose (reduced by 25 %): 21.6 mg → 16.2 mg" in out
    assert "no dose level -2" in error(runner, str(f), "--bsa", "1.8", "--dose-level", "-2")
    reduced = ok(runner, "cenersen-arm1", *PATIENT, "--dose-percent", "idarubicin=50%")
    assert "50 % of the dose (reduced by 50 %): 21.6 mg → 10.8 mg" in reduced
    assert "write DRUG=VALUE" in error(runner, "cenersen-arm1", *PATIENT, "--dose-percent", "idarubicin")
    assert "give a percentage" in error(runner, "cenersen-arm1", *PATIENT, "--reduce-by", "idarubicin=half")
    assert "has no drug or component 'x'" in error(runner, "cenersen-arm1", *PATIENT, "--dose-percent", "x=50%")


def test_round_vial_round_band_and_threshold(runner: CliRunner, tmp_path: Path) -> None:
    out = ok(runner, "cenersen-arm1", *PATIENT, "--round", "idarubicin=0.5mg")
    assert "rounded to 0.5mg increments (--round): 21.6 mg → 21.5 mg (−0.46 %; threshold ±10 %, HOPA)" in out
    formulary = str(ROOT / "formulary" / "example.toml")
    vial = ok(runner, "cenersen-arm1", *PATIENT, "--vial-round", "--formulary", formulary)
    assert "21.6 mg → 20 mg (−7.41 %; threshold ±10 %, HOPA)" in vial
    band = ok(runner, "cenersen-arm1", *PATIENT, "--band", "6%", "--formulary", formulary)
    assert "beyond the ±6 % threshold (NHS England dose banding)" in band
    tight = ok(runner, "cenersen-arm1", *PATIENT, "--vial-round", "--formulary", formulary, "--round-threshold", "5")
    assert "beyond the ±5 % threshold (--round-threshold)" in tight
    assert "need the vial sizes: pass --formulary" in error(runner, "cenersen-arm1", *PATIENT, "--vial-round")
    assert "give one" in error(
        runner, "cenersen-arm1", *PATIENT, "--band", "6%", "--round-threshold", "5%", "--formulary", formulary
    )
    assert "must be a plain amount" in error(runner, "cenersen-arm1", *PATIENT, "--round", "idarubicin=1mg/m2")
    assert "no such formulary file" in error(
        runner, "cenersen-arm1", *PATIENT, "--vial-round", "--formulary", str(tmp_path / "none.toml")
    )


def test_anthracycline_options(runner: CliRunner) -> None:
    out = ok(
        runner,
        "cenersen-arm1",
        *PATIENT,
        "--anthracycline-table",
        "esc-2022",
        "--prior",
        "doxorubicin 300 mg/m2",
        "--anthracycline-limit",
        "450",
    )
    assert "planned idarubicin 36 mg/m² × 5 = 180 mg/m² doxorubicin-equivalent" in out
    assert "cumulative anthracycline 480 mg/m² doxorubicin-equivalent" in out and "exceeds the limit 450" in out
    ighg = ok(runner, "cenersen-arm1", *PATIENT, "--anthracycline-table", "ighg-2025")
    assert "no factor for idarubicin in table ighg-2025" in ighg
    assert "unknown anthracycline table 'cog'" in error(
        runner, "cenersen-arm1", *PATIENT, "--anthracycline-table", "cog"
    )
    # no table chosen: the default table and limit count the prior dose (idarubicin 180 + 100 = 280 mg/m²)
    default = ok(runner, "cenersen-arm1", *PATIENT, "--prior", "doxorubicin 100 mg/m2")
    assert "cumulative (planned + prior): 280 mg/m² doxorubicin-equivalent" in default
    assert "within the limit 450 mg/m² (default; US doxorubicin prescribing information" in default
    assert "write the drug and its cumulative dose" in error(runner, "cenersen-arm1", *PATIENT, "--prior", "doxo")
    assert "positive number of mg/m²" in error(
        runner, "cenersen-arm1", *PATIENT, "--anthracycline-table", "esc-2022", "--anthracycline-limit", "-5"
    )


def test_warnings_reach_csv_and_json(runner: CliRunner) -> None:
    args = ["cenersen-arm1", "--weight", "60", "--bsa", "1.6", "--age", "16", "--round", "idarubicin=50mg"]
    data = as_json(runner, *args)
    assert any("outside the eligibility" in w for w in data["warnings"])
    rows = [r for r in data["administrations"] if r["drug"] == "idarubicin"]
    assert rows and all(r["warnings"] and "not rounded" in r["warnings"][0] for r in rows)
    table = list(csv.DictReader(io.StringIO(ok(runner, *args, "--format", "csv"))))
    assert all("not rounded" in r["warnings"] for r in table if r["drug"] == "idarubicin")


def test_strict_is_one_line_and_writes_no_file(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "plan.csv"
    line = error(
        runner,
        "cenersen-arm1",
        "--weight",
        "60",
        "--bsa",
        "1.6",
        "--age",
        "16",
        "--strict",
        "--format",
        "csv",
        "-o",
        str(target),
    )
    assert line.startswith("Error: --strict: age 16 years is outside the eligibility")
    assert not target.exists()
    ok(runner, "cenersen-arm1", *PATIENT, "--strict", "-o", str(target))
    assert target.exists()


@pytest.mark.parametrize(
    "option",
    [
        "--scr",
        "--gfr",
        "--bsa-formula",
        "--bsa-cap",
        "--dosing-weight",
        "--adjusted-factor",
        "--gfr-method",
        "--gfr-cap",
        "--dose-level",
        "--dose-percent",
        "--reduce-by",
        "--confirm",
        "--round",
        "--formulary",
        "--vial-round",
        "--round-threshold",
        "--band",
        "--prior",
        "--anthracycline-table",
        "--anthracycline-limit",
        "--strict",
    ],
)
def test_every_option_is_documented_in_help(runner: CliRunner, option: str) -> None:
    assert option in runner.invoke(cli, ["expand", "--help"]).stdout
