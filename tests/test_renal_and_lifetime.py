"""Kidney function acted on, and lifetime totals that cannot be read as safe (issue 24, items 4 and 5).

Every expectation is worked by hand from the regimen file and its cited source:

* Cockcroft–Gault CrCl = (140 − age) × weight / (72 × SCr), × 0.85 for women. Male, 68 years, 86 kg, SCr 2 mg/dL:
  72 × 86 / 144 = 43 mL/min. Male, 65 years, 60 kg, SCr 2.5: 75 × 60 / 180 = 25 mL/min. Male, 68 years, 75 kg,
  SCr 1.5: 72 × 75 / 108 = 50 mL/min.
* capecitabine (CAPOX) 1,000 mg/m² × 1.8 m² = 1,800 mg a dose; 75 % (label, CrCl 30–50) = 1,350 mg.
* cisplatin (EP) 80 mg/m² × 1.8 = 144 mg; 80 % (BC Cancer, CrCl 45 to under 60) = 115.2 mg; under 45: held.
  etoposide 100 mg/m² × 1.8 = 180 mg; 75 % (SmPC, CrCl 15–50) = 135 mg.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from regimen.cli import cli
from regimen.errors import RegimenFileError
from regimen.protocol.loader import load_text
from regimen.protocol.schema import SCHEMA

BSA = ["--bsa", "1.8"]
CRCL_43 = ["--age", "68", "--sex", "male", "--weight", "86", "--scr", "2"]
CRCL_25 = ["--age", "65", "--sex", "male", "--weight", "60", "--scr", "2.5"]
CRCL_50 = ["--age", "68", "--sex", "male", "--weight", "75", "--scr", "1.5"]
GOG158 = str(Path(__file__).parent.parent / "examples" / "carboplatin-paclitaxel-gog158.toml")


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["expand", *args])
    return result.exit_code, result.stdout, result.stderr


def plan(*args: str) -> dict:  # type: ignore[type-arg]
    code, out, err = run(*args, "--format", "json")
    assert code == 0, out + err
    return json.loads(out)  # type: ignore[no-any-return]


def doses(data: dict, drug: str) -> list[str]:  # type: ignore[type-arg]
    return [r["dose_exact"] for r in data["administrations"] if r["drug"] == drug]


def rows_of(data: dict, drug: str) -> list[dict]:  # type: ignore[type-arg]
    return [r for r in data["administrations"] if r["drug"] == drug]


# ---- item 4: kidney function -------------------------------------------------------------------------------------


def test_capecitabine_at_crcl_43_is_75_percent_after_the_working_says_why() -> None:
    data = plan("capox", *BSA, *CRCL_43, "--cycles", "1")
    assert set(doses(data, "capecitabine")) == {"1350"} and len(doses(data, "capecitabine")) == 28
    working = rows_of(data, "capecitabine")[0]["calculation"]
    assert "Cockcroft–Gault CrCl" not in working  # the estimate's own working is the patient's, said once
    assert (
        "renal: CrCl 43 mL/min (Cockcroft–Gault) is 30–50 mL/min: 75 % of the dose (capecitabine US prescribing "
        "information 2.4): 1,800 mg → 1,350 mg" in working
    )
    assert set(doses(data, "oxaliplatin")) == {"234"}  # no renal table: 130 × 1.8, untouched
    assert any("renal: CrCl 43 mL/min (Cockcroft–Gault) is 30–50 mL/min: capecitabine 75 %" in n for n in data["notes"])


def test_capecitabine_at_crcl_25_is_left_out_with_a_warning_and_refused_under_strict() -> None:
    data = plan("capox", *BSA, *CRCL_25, "--cycles", "1")
    assert doses(data, "capecitabine") == []
    assert set(doses(data, "oxaliplatin")) == {"234"}
    warning = (
        "capecitabine left out of the plan: CrCl 25 mL/min (Cockcroft–Gault) is below 30 mL/min, where its source "
        "says contraindicated (capecitabine US prescribing information 4.1)"
    )
    assert warning in data["warnings"]
    code, out, err = run("capox", *BSA, *CRCL_25, "--cycles", "1", "--strict")
    assert code == 1 and out == ""
    assert (
        err.startswith("Error: --strict: capecitabine left out of the plan: CrCl 25 mL/min") and "Traceback" not in err
    )


def test_cisplatin_follows_the_bc_cancer_table_and_etoposide_its_smpc() -> None:
    at_50 = plan("cisplatin-etoposide", *BSA, *CRCL_50, "--cycles", "1")
    assert doses(at_50, "cisplatin") == ["115.2"]  # 45 to under 60: 80 % of 144 mg
    assert doses(at_50, "etoposide") == ["135", "135", "135"]  # 15-50 inclusive: 75 % of 180 mg
    at_43 = plan("cisplatin-etoposide", *BSA, *CRCL_43, "--cycles", "1")
    assert doses(at_43, "cisplatin") == []  # under 45: hold cisplatin
    assert any(
        w.startswith("cisplatin left out of the plan: CrCl 43 mL/min (Cockcroft–Gault) is below 45 mL/min")
        and "avoid (BC Cancer Protocol Summary LUMMPG" in w
        for w in at_43["warnings"]
    )
    full = plan("cisplatin-etoposide", *BSA, "--gfr", "60", "--cycles", "1")  # 60 mL/min: full dose, no row holds
    assert doses(full, "cisplatin") == ["144"] and doses(full, "etoposide") == ["180", "180", "180"]


def test_a_measured_gfr_is_used_before_any_estimate() -> None:
    data = plan("capox", *BSA, "--gfr", "43", "--cycles", "1")
    assert set(doses(data, "capecitabine")) == {"1350"}
    assert "renal: GFR 43 mL/min (given with --gfr) is 30–50 mL/min" in rows_of(data, "capecitabine")[0]["calculation"]


def test_below_the_lowest_stated_value_the_plan_warns_instead_of_inventing_a_dose() -> None:
    data = plan("cisplatin-etoposide", *BSA, "--gfr", "10", "--cycles", "1")
    assert doses(data, "etoposide") == ["180", "180", "180"]
    assert any(
        w.startswith("etoposide: GFR 10 mL/min (given with --gfr) is below 15 mL/min, the lowest value its renal table")
        for w in data["warnings"]
    )


def test_without_a_kidney_value_the_plan_says_it_was_not_checked() -> None:
    data = plan("capox", *BSA, "--cycles", "1")
    assert set(doses(data, "capecitabine")) == {"1800"}
    assert (
        "kidney function not checked: capecitabine has renal dose adjustments in this regimen; give --scr or --gfr"
        in data["notes"]
    )
    both = plan("cisplatin-etoposide", *BSA, "--cycles", "1")
    assert "kidney function not checked: cisplatin, etoposide have renal dose adjustments" in " ".join(both["notes"])


def test_a_kidney_value_says_which_anticancer_drugs_the_file_gives_no_renal_table_for() -> None:
    """A creatinine given for oblimersen-fc was read against no table of oblimersen or cyclophosphamide and said
    nothing: the plan looked kidney-checked. Now the drugs without a table are named; supportive care and the drugs
    with a table (fludarabine, below) are not, and without a kidney value nothing is said."""
    values = ["--weight", "70", *BSA, "--age", "70", "--sex", "male", "--cycles", "1"]
    fc = plan("oblimersen-fc", *values, "--scr", "1.3")
    assert (
        "renal: this regimen file states no renal dose adjustment for oblimersen, cyclophosphamide: "
        "their doses are not changed by the kidney value given; check their product information"
    ) in fc["notes"]
    capox = plan("capox", *values, "--gfr", "60")["notes"]
    assert (
        "renal: this regimen file states no renal dose adjustment for oxaliplatin: its dose is not changed by the "
        "kidney value given; check its product information"
    ) in capox  # capecitabine has its table; the antiemetics are supportive care
    assert not any("no renal dose adjustment" in n for n in plan("oblimersen-fc", *values)["notes"])


@pytest.mark.parametrize(
    ("gfr", "dose", "row"),
    [
        ("80", "45", None),  # 25 mg/m² × 1.8 m² = 45 mg: the full dose from 80 mL/min
        ("79.99", "36", "50 to under 80 mL/min: 80 % of the dose"),  # 20 mg/m² × 1.8 m² = 36 mg
        ("50", "36", "50 to under 80 mL/min: 80 % of the dose"),
        ("49.99", "27", "30 to under 50 mL/min: 60 % of the dose"),  # 15 mg/m² × 1.8 m² = 27 mg
        ("30", "27", "30 to under 50 mL/min: 60 % of the dose"),
        ("29.99", None, None),  # "do not administer": left out, with a warning
    ],
)
@pytest.mark.parametrize("regimen_id", ["oblimersen-fc", "cenersen-fcr"])
def test_fludarabine_follows_the_fludara_labels_starting_doses(
    regimen_id: str, gfr: str, dose: str | None, row: str | None
) -> None:
    """The FLUDARA FOR INJECTION (US) label: CrCl >= 80 mL/min 25 mg/m²; 50-79: 20 mg/m²; 30-49: 15 mg/m²; < 30: do
    not administer. The label's whole-number bands read as 50 to under 80 and 30 to under 50 (a clearance has 2
    decimals here), so no value between 79 and 80 falls between rows."""
    data = plan(regimen_id, "--weight", "70", *BSA, "--age", "45", "--gfr", gfr, "--cycles", "1")
    if dose is None:
        assert doses(data, "fludarabine") == []
        assert any(
            w.startswith(f"fludarabine left out of the plan: GFR {gfr} mL/min (given with --gfr) is below 30 mL/min")
            for w in data["warnings"]
        )
        assert doses(data, "cyclophosphamide") == ["450"] * 3  # 250 mg/m² × 1.8 m²: no table, unchanged
        return
    assert doses(data, "fludarabine") == [dose] * 3
    working = rows_of(data, "fludarabine")[0]["calculation"]
    if row is None:
        assert "renal:" not in working
    else:
        assert f"renal: GFR {gfr} mL/min (given with --gfr) is {row} (FLUDARA FOR INJECTION US prescribing" in working


@pytest.mark.parametrize(("gfr", "dose"), [("30", "153"), ("29.99", "117")])
def test_oxaliplatin_in_mfolfox6_follows_the_us_labels_65_mg_per_m2_under_30(gfr: str, dose: str) -> None:
    """The US label: "reduced to 65 mg/m2 in patients with severe renal impairment (creatinine clearance less than 30
    ml/min)"; nothing changes above. 85 mg/m² × 1.8 m² = 153 mg; 65 mg/m² × 1.8 m² = 117 mg = 153 × 65/85 (13/17),
    over 2 h: 58.5 mg/h."""
    data = plan("mfolfox6", *BSA, "--gfr", gfr, "--cycles", "1")
    (row,) = rows_of(data, "oxaliplatin")
    assert row["dose_exact"] == dose
    if dose == "117":
        assert row["rate"] == 58.5
        assert row["calculation"].endswith(
            "renal: GFR 29.99 mL/min (given with --gfr) is below 30 mL/min: 65 mg/m² in place of 85 mg/m² (the dose × "
            "13/17) (oxaliplatin US prescribing information, renal impairment (as published by Drugs.com)): 153 mg → "
            "117 mg over 2 h (58.5 mg/h)"
        )
    else:
        assert "renal:" not in row["calculation"]
    assert doses(data, "leucovorin") == ["720"]  # 400 mg/m² × 1.8 m²: no table


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('levels = { "-1" = "800 mg/m²" }\n', "this component's dose changes"),
        (
            "[[component.variant]]\nwhen = 'age > 70'\ndose = '800 mg/m²'\n",
            "this component's dose changes (a rule's variant or dose levels): give the row as a percentage",
        ),
    ],
)
def test_a_row_with_a_dose_of_its_own_needs_one_full_dose(extra: str, message: str) -> None:
    """65 of 85 mg/m² is one share of one dose: a component whose dose a rule or a dose level changes would scale
    those by the same share, which no source said."""
    row = "[[component.renal]]\nbelow = 30\naction = '650 mg/m²'\nsource = 's'\n"
    with pytest.raises(RegimenFileError) as caught:
        load_text(BASE + extra + row)
    assert message in str(caught.value)


def test_a_low_creatinine_in_calvert_dosing_is_flagged_and_rounded_up_only_when_asked() -> None:
    """Female, 60 years, 70 kg. SCr 0.5: CrCl 80 × 70 / 36 × 0.85 = 132.22, capped at 125: AUC 7.5 × 150 = 1,125 mg.
    Rounded up to 0.7: 80 × 70 / 50.4 × 0.85 = 94.444 -> 94.44 mL/min: 7.5 × 119.44 = 895.8 mg."""
    patient = ["--bsa", "1.8", "--weight", "70", "--age", "60", "--sex", "female", "--scr", "0.5", "--cycles", "1"]
    flagged = plan(GOG158, *patient)
    assert doses(flagged, "carboplatin") == ["1125"]
    assert any(
        w.startswith("serum creatinine 0.5 mg/dL is under 0.7 mg/dL (--scr-floor): a low creatinine overestimates")
        for w in flagged["warnings"]
    )
    floor_08 = plan(GOG158, *patient, "--scr-floor", "0.8")
    assert any("is under 0.8 mg/dL (--scr-floor)" in w for w in floor_08["warnings"])
    applied = plan(GOG158, *patient, "--scr-floor-apply")
    assert doses(applied, "carboplatin") == ["895.8"]
    assert not any("--scr-floor" in w for w in applied["warnings"])
    assert any(
        "serum creatinine 0.5 mg/dL rounded up to 0.7 mg/dL for the GFR estimates (--scr-floor-apply)" in line
        for line in applied["patient"]["working"]
    )
    normal = plan(GOG158, *patient[:-4], "--scr", "0.9", "--cycles", "1")  # at or over the floor: nothing said
    assert not any("--scr-floor" in w for w in normal["warnings"])


def test_show_describes_the_renal_rows_with_their_source() -> None:
    shown = CliRunner().invoke(cli, ["show", "capox"]).output
    assert "Kidney function (CrCl or GFR): 30–50 mL/min: 75 % of the dose (capecitabine US prescribing" in shown
    assert "below 30 mL/min: contraindicated (capecitabine US prescribing information 4.1" in shown


def test_a_cohort_of_a_regimen_with_renal_tables_says_kidney_function_was_not_checked(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("patient_id,bsa_m2\na,1.8\n")
    result = CliRunner().invoke(cli, ["cohort", "capox", str(roster), "-o", str(tmp_path / "p.csv"), "--cycles", "1"])
    assert result.exit_code == 0, result.output
    assert "kidney function not checked: capecitabine has renal dose adjustments" in result.output
    rows = list(csv.DictReader(io.StringIO((tmp_path / "p.csv").read_text())))
    assert {r["dose_exact"] for r in rows if r["drug"] == "capecitabine"} == {"1800"}


BASE = """id = "x"
name = "x"
[[source]]
citation = "c"
[[component]]
drug = "capecitabine"
dose = "1000 mg/m²"
days = "1"
"""


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("min = 30\nmax = 50\naction = '75%'\nsource = 's'\n[[component.renal]]\nbelow = 31\naction = 'avoid'\n"
         "source = 's'\n", "renal rows 1 (30–50 mL/min) and 2 (below 31 mL/min) overlap"),
        ("min = 30\naction = 'half'\nsource = 's'\n", "must be a percentage such as '75%', a dose such as '65 mg/m²'"),
        ("below = 30\naction = '65 mg/kg'\nsource = 's'\n", "the dose '65 mg/kg' must be in the component's dose unit"),
        ("below = 30\naction = '1200 mg/m²'\nsource = 's'\n", "must be under the full dose '1000 mg/m²'"),
        ("below = 30\naction = '65 mg/m² daily'\nsource = 's'\n", "action '65 mg/m² daily':"),
        ("min = 30\naction = '75%'\n", "missing 'source'"),
        ("action = '75%'\nsource = 's'\n", "give the range with min (≥), max (≤) or below (<)"),
        ("min = 30\nmax = 50\nbelow = 40\naction = '75%'\nsource = 's'\n", "give max (≤) or below (<), not both"),
        ("min = 30\naction = '100%'\nsource = 's'\n", "above 0% and under 100%"),
        ("min = 30\naction = '75%'\nsource = 's'\nper = 'x'\n", "unknown field 'per'"),
    ],
)  # fmt: skip
def test_the_loader_refuses_a_renal_table_that_cannot_be_read_one_way(rows: str, message: str) -> None:
    with pytest.raises(RegimenFileError) as caught:
        load_text(BASE + "[[component.renal]]\n" + rows)
    assert message in str(caught.value)


def test_the_schema_describes_renal_and_hepatic_rows_from_the_same_field_table() -> None:
    component = SCHEMA["$defs"]["component"]["properties"]
    assert component["renal"]["items"] == {"$ref": "#/$defs/renal"}
    assert set(SCHEMA["$defs"]["renal"]["properties"]) == {"min", "max", "below", "action", "source", "url", "note"}
    assert "measure" in SCHEMA["$defs"]["hepatic"]["required"]


def test_hepatic_rows_load_and_the_plan_says_liver_values_are_not_checked() -> None:
    regimen = load_text(
        BASE + "[[component.hepatic]]\nmeasure = 'bilirubin_uln'\nmin = 1.5\nmax = 3\naction = '50%'\nsource = 's'\n"
    )
    (row,) = regimen.components()[0].hepatic
    assert row.range_text() == "1.5–3 × ULN" and row.action_text() == "50 % of the dose"


# ---- item 5: lifetime totals -------------------------------------------------------------------------------------


def test_dd_ac_t_always_shows_the_doxorubicin_equivalent_total_against_the_default_limit() -> None:
    """4 cycles × 60 mg/m² = 240 mg/m² doxorubicin (factor 1 in esc-2022), under the default 450 mg/m²."""
    data = plan("dd-ac-t", *BSA)
    notes = data["notes"]
    assert "cumulative (planned + prior): 240 mg/m² doxorubicin-equivalent" in notes
    assert any(
        n.startswith("within the limit 450 mg/m² (default; US doxorubicin prescribing information") for n in notes
    )
    assert any(n.startswith("anthracycline doxorubicin-equivalent by table esc-2022") for n in notes)
    assert "no earlier anthracycline given (--prior): the total is this plan's alone; add any earlier dose" in notes


def test_a_total_exactly_at_the_limit_is_at_the_limit_never_within() -> None:
    """240 planned + 210 prior = 450 mg/m²: at the default limit."""
    data = plan("dd-ac-t", *BSA, "--prior", "doxorubicin 210 mg/m2")
    assert not any("within the limit" in n for n in data["notes"])
    assert any(
        w.startswith("cumulative anthracycline 450 mg/m² doxorubicin-equivalent (planned + prior, table esc-2022) "
                     "is at the limit 450 mg/m²")
        for w in data["warnings"]
    )  # fmt: skip
    code, _, err = run("dd-ac-t", *BSA, "--prior", "doxorubicin 210 mg/m2", "--strict")
    assert code == 1 and "is at the limit 450 mg/m²" in err
    chosen = plan("dd-ac-t", *BSA, "--anthracycline-limit", "240")
    assert any("is at the limit 240 mg/m² (--anthracycline-limit)" in w for w in chosen["warnings"])


def test_abvd_shows_bleomycin_lifetime_units_and_at_the_limit_says_so() -> None:
    """10 units/m² × 1.8 = 18 units, days 1 and 15: 36 units a cycle, plus the 1-unit test dose of cycle 1 (it is
    bleomycin given too) = 37. At 1.995 m² over 10 cycles: 19.95 × 2 × 10 = 399, + 1 = 400: at the limit; at 2 m²:
    20 × 2 × 10 + 1 = 401, over it."""
    one = plan("abvd", *BSA, "--cycles", "1")
    assert any(
        n.startswith("bleomycin cumulative (planned): 37 units; earlier bleomycin is not counted: add it; within the "
                     "lifetime limit 400 units (bleomycin US prescribing information")
        for n in one["notes"]
    )  # fmt: skip
    ten = plan("abvd", "--bsa", "1.995", "--cycles", "10")
    assert any(w.startswith("bleomycin planned 400 units is at the lifetime limit 400 units") for w in ten["warnings"])
    assert not any("within the lifetime limit" in n for n in ten["notes"])
    over = plan("abvd", "--bsa", "2", "--cycles", "10")
    assert any(
        w.startswith("bleomycin planned 401 units exceeds the lifetime limit 400 units") for w in over["warnings"]
    )


def test_irinotecan_and_weekly_paclitaxel_have_their_sources_durations_and_so_a_rate() -> None:
    irinotecan = rows_of(plan("folfiri", *BSA, "--cycles", "1"), "irinotecan")[0]
    assert (irinotecan["dose_exact"], irinotecan["rate"], irinotecan["duration_h"]) == ("324", 216, 1.5)  # mg/h, h
    paclitaxel = rows_of(plan("paclitaxel-weekly", *BSA, "--cycles", "1"), "paclitaxel")[0]
    assert (paclitaxel["dose_exact"], paclitaxel["rate"], paclitaxel["duration_h"]) == ("144", 144, 1)


def test_seven_plus_three_gives_daunorubicin_60_and_90_as_dose_level_plus_one() -> None:
    """60 mg/m²/day × 1.8 = 108 mg, days 1-3; dose level +1: 90 × 1.8 = 162 mg."""
    assert doses(plan("7-plus-3", *BSA, "--age", "50"), "daunorubicin") == ["108", "108", "108"]
    high = plan("7-plus-3", *BSA, "--age", "50", "--dose-level", "daunorubicin=1")
    assert doses(high, "daunorubicin") == ["162", "162", "162"]
    shown = CliRunner().invoke(cli, ["show", "7-plus-3"]).output
    assert "for patients aged 60 or under" in shown


def test_the_patient_line_shows_the_kidney_values_as_given() -> None:
    """The header listed weight, BSA, age, height and sex, not the creatinine or the measured GFR the renal doses
    were read from: a measured GFR appeared nowhere but in the rows' working."""
    code, out, _ = run("capox", *BSA, "--gfr", "43", "--cycles", "1")
    assert code == 0 and "Patient: BSA 1.8 m², GFR 43 mL/min (measured, --gfr)" in out
    code, out, _ = run("capox", *BSA, *CRCL_43, "--cycles", "1")
    assert code == 0
    assert "Patient: weight 86 kg, BSA 1.8 m², age 68 years, sex male, serum creatinine 2 mg/dL" in out


def test_a_creatinine_in_umol_per_litre_says_where_its_mg_per_dl_is_rounded() -> None:
    """97 µmol/L ÷ 88.42 = 4,850/4,421 mg/dL, which does not terminate: shown to 8 decimals (1.09703687), said so;
    88.42 µmol/L is exactly 1 mg/dL, nothing to say."""
    data = plan("capox", *BSA, "--age", "68", "--sex", "male", "--weight", "86", "--scr", "97 umol/L", "--cycles", "1")
    assert (
        "serum creatinine 97 µmol/L ÷ 88.42 = 1.09703687 mg/dL (rounded half up to 8 decimals where shown; the "
        "estimates use the unrounded value)" in data["patient"]["working"]
    )
    assert data["patient"]["scr_mg_dl"] == 1.09703687 and data["patient"]["gfr_ml_min"] is None
    exact = plan("capox", *BSA, "--age", "68", "--sex", "male", "--weight", "86", "--scr", "88.42 umol/L")
    assert "serum creatinine 88.42 µmol/L ÷ 88.42 = 1 mg/dL" in exact["patient"]["working"]
    assert exact["patient"]["scr_mg_dl"] == 1
    assert plan("capox", *BSA, "--gfr", "43")["patient"]["gfr_ml_min"] == 43


def test_hydration_given_for_a_drug_left_out_is_left_out_with_it() -> None:
    """GFR 40: cisplatin is avoided below 45 mL/min (BC Cancer) and left out. Its hydration (500 mL before mannitol,
    mannitol 20 % 200 mL before cisplatin, 500 mL after it: Horinouchi 2013) was still planned, timed by a drug not
    given: a forced diuresis for nothing. It is left out with cisplatin, said so; the antiemetics stay, flagged for
    review, since they follow the whole regimen (their day-1 time, 'before cisplatin', says it has no anchor)."""
    args = ("cisplatin-etoposide", *BSA, "--gfr", "40", "--cycles", "1", "--start", "2026-12-08", "--time", "08:00")
    data = plan(*args, "--tz", "UTC")
    components = {r["component"] for r in data["administrations"]}
    assert not components & {"cisplatin", "prehydration", "mannitol", "posthydration"}
    assert {"etoposide", "aprepitant", "ondansetron", "dexamethasone", "dexamethasone-days-2-4"} <= components
    assert (
        "supportive care given for cisplatin left out with it: prehydration (hydration fluid, before mannitol (ending "
        "as it starts)); mannitol (mannitol 20%, before cisplatin (ending as it starts)); posthydration (hydration "
        "fluid, after cisplatin); the supportive care that stays (aprepitant, aprepitant-days-2-3, ondansetron, "
        "dexamethasone, dexamethasone-days-2-4) follows the whole regimen, cisplatin included: review it for the "
        "drugs given" in data["warnings"]
    )
    aprepitant = next(r for r in data["administrations"] if r["component"] == "aprepitant")
    assert aprepitant["time_note"] == "cisplatin is not given on this day: at the day's time"
    # cisplatin given (GFR 50: 80 %): its hydration with it, nothing said
    given = plan("cisplatin-etoposide", *BSA, "--gfr", "50", "--cycles", "1")
    assert {"prehydration", "mannitol", "posthydration"} <= {r["component"] for r in given["administrations"]}
    assert not any("supportive care given for" in w for w in given["warnings"])
    # a drug left out that no supportive care is timed by (capecitabine below 30 mL/min): nothing more to say
    capox = plan("capox", *BSA, "--gfr", "20", "--cycles", "1")
    assert not any("supportive care" in w for w in capox["warnings"])
    assert "ondansetron-evening" in {r["component"] for r in capox["administrations"]}
