"""Supply forecasts: vial choice by hand-computed cases, totals by cycle and ISO week, missing drugs reported."""

from __future__ import annotations

import csv
import io
import json
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest

from regimen import load
from regimen.cli import cli
from regimen.clinical.formulary import load_formulary
from regimen.engine.cohort import cohort
from regimen.engine.supply import SupplyError, SupplyForecast, VialPacker

F = Fraction


@pytest.mark.parametrize(
    ("sizes", "dose", "counts", "waste"),
    [
        # idarubicin 21.6 mg, vials 5 and 20 mg: 20 + 5 = 25 mg, 3.4 mg wasted (4 × 5 + ... would waste the same 3.4
        # only with 5 vials; 20 + 5 is fewer)
        ((5, 20), "21.6", (1, 1), "3.4"),
        ((5, 20), "20", (0, 1), "0"),
        ((5, 20), "20.0001", (1, 1), "4.9999"),  # exact doses: never short by a rounding
        ((5, 20), "3", (1, 0), "2"),
        ((5, 20), "40", (0, 2), "0"),
        # cytarabine 1,830 mg, vials 100/500/1,000/2,000 mg: least waste is 1,900 mg (70 mg), by 1,000 + 500 + 4 × 100;
        # one 2,000 mg vial would waste 170 mg
        ((100, 500, 1000, 2000), "1830", (4, 1, 1, 0), "70"),
        ((100, 500, 1000, 2000), "2000", (0, 0, 0, 1), "0"),
        # 6 mg with 4 and 6 mg vials: one 6 mg vial, not 4 + 4 (more waste); 8 mg: 4 + 4 (no waste) beats 6 + 4 (2 mg)
        ((4, 6), "6", (0, 1), "0"),
        ((4, 6), "8", (2, 0), "0"),
        # ties in waste and count go to the larger vial: 30 mg from 10/15/20: 10 + 20 or 15 + 15 -> 10 + 20
        ((10, 15, 20), "30", (1, 0, 1), "0"),
        # fractional vial sizes: 0.5 and 2 mg, dose 2.7 mg -> 2 + 0.5 + 0.5 = 3 mg
        (("0.5", "2"), "2.7", (2, 1), "0.3"),
    ],
)
def test_vial_choice_least_waste_then_fewest_vials(sizes, dose, counts, waste) -> None:  # type: ignore[no-untyped-def]
    packer = VialPacker([F(s) for s in sizes])
    got = packer.pack(F(dose))
    assert got == counts
    assert packer.amount(got) - F(dose) == F(waste)


def test_vial_sizes_must_be_positive() -> None:
    with pytest.raises(SupplyError, match="positive"):
        VialPacker([F(0), F(5)])


def _forecast(roster: pd.DataFrame, regimen_id: str = "cenersen-arm3") -> SupplyForecast:
    result = cohort(load(regimen_id), roster)
    out = SupplyForecast(load_formulary(), regimen_id=regimen_id)
    out.add(result.frame)
    return out


def test_totals_by_cycle_and_week_from_hand_computed_doses() -> None:
    # a: 70 kg, 1.8 m², 45 y, starts Monday 2026-01-05 (ISO week 2): cenersen days 1-4, idarubicin 2-4 (21.6 mg),
    # cytarabine 2-5 (1,800 mg). b: 80 kg, 2 m², 70 y (> 60: cytarabine 3 days), no start date.
    roster = pd.DataFrame(
        {
            "patient_id": ["a", "b"],
            "weight_kg": ["70", "80"],
            "bsa_m2": ["1.8", "2"],
            "age": ["45", "70"],
            "start_date": ["2026-01-05", ""],
        }
    )
    lines = {(r["scope"], r["period"], r["drug"]): r for r in _forecast(roster).lines()}
    ida = lines[("total", "all", "idarubicin")]
    assert ida["administrations"] == 6
    assert Fraction(ida["amount_exact"]) == 3 * F("21.6") + 3 * 24
    assert ida["vials"] == {"20 mg": 6, "5 mg": 6}  # 21.6 -> 20 + 5; 24 -> 20 + 5
    assert ida["waste"] == pytest.approx(float(3 * F("3.4") + 3 * 1))
    cyt = lines[("total", "all", "cytarabine")]
    assert cyt["administrations"] == 4 + 3
    assert cyt["vials"] == {"2,000 mg": 3, "1,000 mg": 4, "500 mg": 4, "100 mg": 12}
    assert cyt["waste"] == 0
    assert lines[("cycle", "cycle 1", "idarubicin")]["administrations"] == 6
    # week 2 of 2026 holds all of a's days (Mon 5 - Fri 9 January); b is undated. Cenersen's 96 h infusion is one
    # administration (one bag, issue 24.3), in the week it starts
    assert lines[("week", "2026-W02", "cenersen")]["administrations"] == 1
    assert lines[("week", "undated", "cenersen")]["administrations"] == 1
    cen = lines[("total", "all", "cenersen")]
    assert (cen["administrations"], cen["pumps"]) == (2, 2)
    assert cen["vials"] is None and Fraction(cen["amount_exact"]) == 4 * 168 + 4 * 192


def test_weeks_split_at_monday() -> None:
    roster = pd.DataFrame(
        {"patient_id": ["a"], "weight_kg": ["70"], "bsa_m2": ["1.8"], "age": ["45"], "start_date": ["2026-01-10"]}
    )  # Saturday: days 1-2 in week 2, days 3-5 in week 3
    lines = {(r["scope"], r["period"], r["drug"]): r for r in _forecast(roster).lines()}
    # cenersen's infusion (days 1-4) is one administration, in the week it starts (issue 24.3)
    assert lines[("week", "2026-W02", "cenersen")]["administrations"] == 1
    assert ("week", "2026-W03", "cenersen") not in lines
    assert lines[("week", "2026-W02", "idarubicin")]["administrations"] == 1
    assert lines[("week", "2026-W03", "cytarabine")]["administrations"] == 3
    assert not any(k[1] == "undated" for k in lines)


def test_missing_drug_is_reported_not_guessed() -> None:
    roster = pd.DataFrame({"patient_id": ["a"], "weight_kg": ["70"], "bsa_m2": ["1.8"], "age": ["45"]})
    data = _forecast(roster).to_dict()
    assert data["missing_from_formulary"] == ["cenersen"]
    assert any(n.startswith("cenersen: not in the formulary") for n in data["notes"])
    assert "EXAMPLE" in data["formulary"]["label"]
    assert not any(r["scope"] == "week" for r in data["lines"])  # no start dates: no weeks


def test_cli_supply_formats_and_own_formulary(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    roster = tmp_path / "roster.csv"
    roster.write_text("patient_id,weight_kg,bsa_m2,age,start_date\na,70,1.8,45,2026-01-05\nb,x,1.8,45,\n")
    table = runner.invoke(cli, ["supply", "cenersen-arm3", str(roster)])
    assert table.exit_code == 0, table.output
    assert "EXAMPLE formulary" in table.output and "not in formulary" in table.output
    assert "patients in = expanded + rejected: 2 = 1 + 1" in table.output
    assert "cenersen    1 (1 pump) " in table.output  # one patient's one pump, in the singular
    assert (tmp_path / "roster.errors.csv").exists()
    own = tmp_path / "pharmacy.toml"
    own.write_text(
        'name = "ward 4"\n[[drug]]\ndrug = "cenersen"\nvials = ["100 mg"]\n'
        '[[drug]]\ndrug = "idarubicin"\nvials = ["10 mg"]\n'
    )
    js = runner.invoke(
        cli,
        [
            "supply",
            "cenersen-arm3",
            str(roster),
            "--formulary",
            str(own),
            "--format",
            "json",
            "-o",
            str(tmp_path / "s.json"),
        ],
    )
    assert js.exit_code == 0, js.output
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["missing_from_formulary"] == ["cytarabine"] and "EXAMPLE" not in data["formulary"]["label"]
    per_dose = {(d["drug"], d["dose_exact"]): d for d in data["per_dose"]}
    # one 672 mg infusion (7 mg/h × 96 h), not four days of 168 mg: 7 vials of 100 mg, 28 mg waste (issue 24.3)
    assert per_dose[("cenersen", "672")]["vials"] == {"100 mg": 7} and per_dose[("cenersen", "672")]["waste"] == 28
    assert per_dose[("idarubicin", "21.6")]["vials"] == {"10 mg": 3}
    assert (
        runner.invoke(
            cli, ["supply", "cenersen-arm3", str(roster), "--format", "csv", "-o", str(tmp_path / "s.csv")]
        ).exit_code
        == 0
    )
    rows = list(csv.DictReader(io.StringIO((tmp_path / "s.csv").read_text())))
    idarubicin = next(r for r in rows if r["scope"] == "total" and r["drug"] == "idarubicin")
    assert idarubicin["vials"] == "3 × 20 mg + 3 × 5 mg" and idarubicin["waste"] == "10.2"


# ---- clinical options (the run-wide options of 'regimen expand') -------------------------------------------

CLINICAL_ROSTER = (
    "patient_id,weight_kg,bsa_m2,height_cm,age,sex,start_date\n"
    "a,70,1.8,170,45,female,2026-01-05\nb,80,2,180,70,male,\nc,50,1.5,150,16,female,\n"
)


def _supply_json(runner, tmp_path: Path, *args: str) -> tuple[int, str, dict]:  # type: ignore[no-untyped-def, type-arg]
    roster = tmp_path / "roster.csv"
    roster.write_text(CLINICAL_ROSTER)
    out = tmp_path / "s.json"
    out.unlink(missing_ok=True)
    result = runner.invoke(cli, ["supply", "cenersen-arm3", str(roster), "--format", "json", "-o", str(out), *args])
    return result.exit_code, result.output, json.loads(out.read_text()) if out.exists() else {}


def _total(data: dict, drug: str) -> dict:  # type: ignore[type-arg]
    return next(r for r in data["lines"] if r["scope"] == "total" and r["drug"] == drug)


def test_cli_supply_reductions_and_bsa_cap_change_the_amounts_exactly(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, output, full = _supply_json(runner, tmp_path)
    assert code == 0, output
    code, output, reduced = _supply_json(runner, tmp_path, "--dose-percent", "idarubicin=75%", "--bsa-cap", "1.6")
    assert code == 0, output
    # idarubicin 12 mg/m² × 3 days: (1.8 + 2 + 1.5) m² in full; at 75 % of the BSA capped at 1.6 m²
    assert Fraction(_total(full, "idarubicin")["amount_exact"]) == 12 * 3 * F("5.3")
    assert Fraction(_total(reduced, "idarubicin")["amount_exact"]) == 12 * 3 * (2 * F("1.6") + F("1.5")) * F(3, 4)


def test_cli_supply_dosing_weight_and_dose_rounding(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, output, ideal = _supply_json(runner, tmp_path, "--dosing-weight", "ideal")
    assert code == 0, output
    # cenersen 2.4 mg/kg/day × 4 days on each ideal body weight (Devine, 2 decimals): 61.44, 74.99 kg; patient c
    # (150 cm, 16 years) is outside the formula's range (adults of at least 60 in) and rejected
    assert Fraction(_total(ideal, "cenersen")["amount_exact"]) == F("2.4") * 4 * (F("61.44") + F("74.99"))
    code, output, rounded = _supply_json(runner, tmp_path, "--round", "idarubicin=1mg")
    assert code == 0, output
    assert Fraction(_total(rounded, "idarubicin")["amount_exact"]) == 3 * (22 + 24 + 18)


def test_cli_supply_vial_rounding_uses_its_one_formulary(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    own = tmp_path / "pharmacy.toml"
    own.write_text('name = "ward 4"\n[[drug]]\ndrug = "idarubicin"\nvials = ["10 mg"]\n')
    code, output, data = _supply_json(runner, tmp_path, "--formulary", str(own), "--vial-round")
    assert code == 0, output
    # 21.6 -> 20 (-7.4 %), 24 -> 20 (-16.7 %: beyond ±10 %, not rounded), 18 -> 20 (+11.1 %: not rounded)
    assert Fraction(_total(data, "idarubicin")["amount_exact"]) == 3 * (20 + 24 + 18)
    code, output, _ = _supply_json(runner, tmp_path, "--vial-round")
    assert code == 1 and "--vial-round and --band need the vial sizes: pass --formulary FILE" in output


def test_cli_supply_strict_and_option_errors(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, output, data = _supply_json(runner, tmp_path, "--strict")
    assert code == 0, output
    assert "patients in = expanded + rejected: 3 = 2 + 1" in output  # c (16 years) is outside the eligibility
    assert data["patients"] == {"in": 3, "expanded": 2, "rejected": 1}
    assert _total(data, "idarubicin")["administrations"] == 6  # a and b only
    assert (
        (tmp_path / "roster.errors.csv").read_text().splitlines()[1].startswith("3,c,,\"'--strict: age 16 years")
    )  # quoted for spreadsheets
    code, output, _ = _supply_json(runner, tmp_path, "--dose-level", "-1")
    assert code == 1 and "--dose-level -1: cenersen-arm3 defines no dose levels" in output
    code, output, _ = _supply_json(runner, tmp_path, "--dose-percent", "aspirin=50%")
    assert (
        code == 1
        and "--dose-percent (or --reduce-by) aspirin: cenersen-arm3 has no drug or component 'aspirin'" in output
    )


def test_a_patient_whose_doses_depend_on_a_value_not_given_is_not_counted_twice(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """CAPOX, age 70, 70 kg, 1.8 m², creatinine 1.3 mg/dL, no sex: 44.5 mL/min if female (75 %: 1,350 mg a dose),
    52.35 if male (1,800 mg). The supply forecast added both outcomes' rows: 448 doses, 705,600 mg of capecitabine
    for one patient (302,400 + 403,200). Such a patient is rejected, saying which value to fill in; with the sex,
    224 doses of 1,800 mg = 403,200 mg."""
    roster = tmp_path / "roster.csv"
    roster.write_text("patient_id,bsa_m2,age,sex,weight_kg,scr_mgdl\na,1.8,70,,70,1.3\nb,1.8,70,male,70,1.3\n")
    result = runner.invoke(cli, ["supply", "capox", str(roster)])
    assert result.exit_code == 0, result.output
    assert "patients in = expanded + rejected: 2 = 1 + 1" in result.output
    total = next(line for line in result.output.splitlines() if line.startswith("total    capecitabine"))
    assert total.split()[2:4] == ["224", "403,200"]
    errors = (tmp_path / "roster.errors.csv").read_text()
    assert "a,,the doses depend on a value this row does not give: some are given only if sex female" in errors
    assert errors.rstrip().endswith("; fill in sex")
