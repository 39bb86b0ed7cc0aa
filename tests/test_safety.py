"""Doses that must never be produced (issue 10): each input below gave a wrong dose under, at most, a warning.

Each case is an error (one line on the command line) or a warning that --strict refuses, never a number.
Expected values are worked out by hand in the comments.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

import regimen
from regimen.cli import cli
from regimen.cli.app import cli_message
from regimen.clinical import body_size
from regimen.clinical.anthracycline import load_table, parse_prior
from regimen.clinical.options import ClinicalError, ClinicalOptions, StrictError
from regimen.engine.plan import Plan
from regimen.errors import PatientError
from regimen.protocol.loader import load_text

PER_KG = """id = "per-kg"
name = "A dose per kg"
[[source]]
citation = "test"
[[component]]
drug = "drug-a"
dose = "1 mg/kg"
days = "1"
"""

AUC5 = """id = "auc5"
name = "Carboplatin AUC 5"
[[source]]
citation = "test"
[[component]]
drug = "carboplatin"
dose = "AUC 5"
days = "1"
"""


MIXED = PER_KG + '[[component]]\ndrug = "drug-b"\ndose = "1 mg/m2"\ndays = "1"\n'


def reg(text: str) -> regimen.Regimen:
    return load_text(text, "<test>")


def plan(r: regimen.Regimen | str, options: ClinicalOptions | None = None, **patient: object) -> Plan:
    rr = regimen.load(r) if isinstance(r, str) else r
    return regimen.expand(rr, regimen.make_patient(**patient), options=options)  # type: ignore[arg-type]


def error_line(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli, ["expand", *args])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert result.stdout == ""
    return lines[0]


@pytest.fixture
def per_kg(tmp_path: Path) -> str:
    path = tmp_path / "per-kg.toml"
    path.write_text(PER_KG, encoding="utf-8")
    return str(path)


# ---- 1. a dosing weight outside its formula's range -------------------------------------------------------


def test_ideal_weight_of_a_short_patient_is_an_error_not_a_negative_dose(runner: CliRunner, per_kg: str) -> None:
    # Devine, female, 100 cm = 39.37 in: 45.5 + 2.3 × (39.37 − 60) = −1.95 kg, so "−1.95 mg" before
    line = error_line(
        runner, per_kg, "--weight", "20", "--height", "100", "--sex", "female", "--dosing-weight", "ideal"
    )
    assert "ideal body weight (Devine)" in line and "152.4 cm (60 in)" in line and "height 100 cm" in line
    assert "Devine BJ" in line and "--dosing-weight actual" in line


@pytest.mark.parametrize("key", ["ideal", "ideal-devine", "ideal-robinson", "ideal-miller", "adjusted"])
def test_every_formula_using_ideal_weight_stops_under_60_inches(key: str) -> None:
    with pytest.raises(PatientError, match=r"defined for adults at least 152\.4 cm \(60 in\) tall") as e:
        plan(reg(PER_KG), ClinicalOptions(dosing_weight=key), weight="45", height="152.3", sex="male")
    assert "dosing_weight actual" in str(e.value) and "--dosing-weight actual" in cli_message(e.value)
    # 152.4 cm is 60 in exactly: the formula's own base value (Devine male 50 kg), no error
    at_60_in = plan(reg(PER_KG), ClinicalOptions(dosing_weight=key), weight="50", height="152.4", sex="male")
    assert at_60_in.administrations[0].dose > 0


def test_ideal_weight_of_a_child_is_an_error() -> None:
    with pytest.raises(PatientError, match=r"defined for adults .* age 12 years"):
        plan(reg(PER_KG), ClinicalOptions(dosing_weight="ideal"), weight="45", height="155", sex="female", age="12")


def test_a_dosing_weight_at_or_below_zero_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # no formula in range gives one today; the guard stays in case a formula or a factor ever does
    monkeypatch.setattr(body_size, "lean_body_weight", lambda *args: -1.0)
    with pytest.raises(PatientError, match="lean body weight -1 kg is not a possible dosing weight"):
        plan(reg(PER_KG), ClinicalOptions(dosing_weight="lean"), weight="70", height="170", sex="male")


# ---- 2. a weight/height pair that no human has: a unit slip -------------------------------------------------


def test_height_in_inches_read_as_cm_is_an_error_naming_the_slip(runner: CliRunner) -> None:
    # 70 kg / 0.69² m² = 147.03 -> BMI 147 (BSA 1.158 m² before, 36 % low)
    line = error_line(runner, "cenersen-arm1", "--weight", "70", "--height", "69")
    assert line.startswith("Error: height 69 cm with weight 70 kg gives a BMI of 147")
    assert "was the height in inches? give e.g. --height '69 in'" in line
    assert "CDC" in line  # the limit's source is in the message


def test_height_in_feet_read_as_cm_is_an_error_naming_the_slip(runner: CliRunner) -> None:
    # 70 kg / 0.059² m² = 20,109 -> rituximab 375 mg/m² × 0.339 m² = 127.1 mg before (about 675 mg meant)
    line = error_line(runner, "cenersen-fcr", "--weight", "70", "--height", "5.9")
    assert "height 5.9 cm with weight 70 kg gives a BMI of 20,100" in line
    assert "was the height in feet? give e.g. --height 5ft9in or --height '5.9 ft'" in line


def test_height_in_metres_read_as_cm_is_an_error_naming_the_slip() -> None:
    with pytest.raises(PatientError, match=r"was the height in metres\? give e\.g\. height '1\.75 m'"):
        plan("cenersen-arm1", weight="70", height="1.75")


def test_weight_in_pounds_read_as_kg_is_an_error_naming_the_slip() -> None:
    # 330 kg / 1.6² = 128.9; as 330 lb = 149.69 kg: BMI 58.5
    with pytest.raises(PatientError, match=r"BMI of 129.*was the weight in pounds\? give e\.g\. weight '330 lb'"):
        plan("cenersen-arm1", weight="330", height="160")


def test_an_adult_below_the_lowest_reported_bmi_is_an_error() -> None:
    # 11 kg at 175 cm: BMI 3.59 (11 stone = 69.85 kg: BMI 22.8)
    with pytest.raises(PatientError, match=r"BMI of 3\.59, below 6 .*was the weight in stone\?"):
        plan("cenersen-arm1", weight="11", height="175", age="40")


def test_an_adult_shorter_than_any_adult_on_record_is_an_error() -> None:
    # 50 cm and 10 kg: BMI 40, possible; but no adult has been shorter than 54.6 cm
    with pytest.raises(PatientError, match=r"height 50 cm is below 54\.6 cm, the shortest adult on record"):
        plan("cenersen-arm1", weight="10", height="50", age="40", bsa="0.4")


@pytest.mark.parametrize(
    ("weight", "height", "age"),
    [
        ("174", "170", "50"),  # BMI 60.2: severe obesity exists and is dosed
        ("290", "175", "50"),  # BMI 94.7
        ("24", "175", "30"),  # BMI 7.8: the lowest BMI reported in a surviving adult (Frølich 2016)
        ("15", "55", "30"),  # 55 cm: above the shortest adult on record; BMI 49.6
        ("3.2", "50", "0"),  # a newborn: BMI 12.8
        ("0.6", "30", "0"),  # a very preterm infant: BMI 6.7 (no lower BMI limit for children)
    ],
)
def test_real_patients_are_not_rejected(weight: str, height: str, age: str) -> None:
    p = plan("cenersen-fcr", weight=weight, height=height, age=age)
    assert p.patient.bsa_m2 is not None


def test_the_population_is_the_regimens_when_age_is_not_given() -> None:
    # cenersen-arm1 treats adults (eligibility min_age 18): adult limits; cenersen-fcr states none: any age
    with pytest.raises(PatientError, match="shortest adult on record"):
        plan("cenersen-arm1", weight="10", height="50", bsa="0.4")
    assert plan("cenersen-fcr", weight="10", height="50").patient.bsa_m2 is not None
    # a child's age, when given, wins over the regimen's population
    assert plan("cenersen-arm1", weight="10", height="50", age="1").patient.bsa_m2 is not None


def test_the_pair_is_checked_even_when_the_bsa_is_given() -> None:
    with pytest.raises(PatientError, match="BMI of 147"):
        plan("cenersen-arm1", weight="70", height="69", bsa="1.8")


# ---- 3. a computed GFR has the limits of a measured one; the cap has an upper bound --------------------------


def test_an_impossible_cockcroft_gault_estimate_is_an_error(runner: CliRunner, tmp_path: Path) -> None:
    # (140 − 40) × 120 / (72 × 0.2) = 833.33 mL/min; before: 5 × (833.33 + 25) = 4,292 mg with --gfr-cap 1000
    with pytest.raises(
        PatientError,
        match=r"^Cockcroft–Gault creatinine clearance 833\.33 mL/min is impossible: "
        r"a GFR is at most 300 mL/min",
    ):
        plan(reg(AUC5), weight="120", age="40", sex="male", scr="0.2")
    f = tmp_path / "auc5.toml"
    f.write_text(AUC5, encoding="utf-8")
    line = error_line(runner, str(f), "--weight", "120", "--age", "40", "--sex", "male", "--scr", "0.2")
    assert "833.33 mL/min is impossible" in line and "--scr" in line


def test_the_same_limit_and_wording_as_a_measured_gfr() -> None:
    with pytest.raises(PatientError, match=r"^GFR 400 mL/min is impossible: give a value between 0 and 300 mL/min"):
        regimen.make_patient(gfr="400")
    ok = plan(reg(AUC5), weight="70", age="60", sex="male", scr="1")  # 77.78 mL/min: well inside
    assert ok.administrations[0].dose == 5 * (Fraction("77.78") + 25)


def test_an_impossible_ckd_epi_estimate_is_an_error() -> None:
    # SCr 0.05 mg/dL, male, 20 y: 142 × (0.05/0.9)^−0.302 × 0.9938^20 = 142 × 2.3938 × 0.8830 = 300.17 (indexed)
    with pytest.raises(PatientError, match=r"^CKD-EPI 2021 eGFR 300\.\d+ mL/min/1\.73 m² is impossible"):
        plan(reg(AUC5), ClinicalOptions(gfr_method="ckd-epi-2021"), age="20", sex="male", scr="0.05", bsa="1.73")
    # de-indexed: 265.57 × 2.5 / 1.73 = 383.77 mL/min is impossible although 265.57 mL/min/1.73 m² is not
    scr = "0.075"  # male, 20 y: 142 × (0.075/0.9)^−0.302 × 0.8830 = 265.57 mL/min/1.73 m²
    with pytest.raises(PatientError, match=r"^CKD-EPI 2021 eGFR de-indexed \d+\.\d+ mL/min is impossible"):
        plan(reg(AUC5), ClinicalOptions(gfr_method="ckd-epi-2021"), age="20", sex="male", scr=scr, bsa="2.5")


def test_the_gfr_cap_has_an_upper_bound(runner: CliRunner, tmp_path: Path) -> None:
    with pytest.raises(ClinicalError, match=r"^gfr_cap 1000 mL/min is above 300 mL/min, the highest possible GFR"):
        ClinicalOptions(gfr_cap=Fraction(1000))
    assert ClinicalOptions(gfr_cap=Fraction(300)).gfr_cap == 300
    f = tmp_path / "auc5.toml"
    f.write_text(AUC5, encoding="utf-8")
    line = error_line(runner, str(f), "--gfr", "100", "--gfr-cap", "1000")
    assert line == (
        "Error: --gfr-cap 1000 mL/min is above 300 mL/min, the highest possible GFR (the limit of a "
        "measured --gfr): give e.g. --gfr-cap 125, or --gfr-cap none to lift the cap"
    )


# ---- 4. an incomplete anthracycline total is never "within the limit" ---------------------------------------

IGHG = load_table("ighg-2025")
ESC = load_table("esc-2022")


def test_an_incomplete_total_cannot_be_judged_against_the_limit(runner: CliRunner) -> None:
    options = ClinicalOptions(
        anthracycline_table=IGHG, prior=(parse_prior("epirubicin 200 mg/m2"),), anthracycline_limit=Fraction(450)
    )
    p = plan("oblimersen-dex", options, weight="70", bsa="1.8")
    assert not any("within the limit" in n for n in p.notes)
    assert any(
        w.startswith(
            "the cumulative anthracycline dose cannot be judged against the limit 450 mg/m²: epirubicin is not counted"
        )
        for w in p.warnings
    )
    with pytest.raises(StrictError):
        plan(
            "oblimersen-dex",
            ClinicalOptions(
                anthracycline_table=IGHG, prior=options.prior, anthracycline_limit=Fraction(450), strict=True
            ),
            weight="70",
            bsa="1.8",
        )
    out = runner.invoke(
        cli,
        [
            "expand",
            "oblimersen-dex",
            "--weight",
            "70",
            "--bsa",
            "1.8",
            "--anthracycline-table",
            "ighg-2025",
            "--prior",
            "epirubicin 200 mg/m2",
            "--anthracycline-limit",
            "450",
        ],
    ).stdout
    assert "within the limit" not in out and "cannot be judged against the limit 450" in out


def test_a_planned_drug_without_a_bsa_also_makes_the_total_incomplete() -> None:
    p = plan(
        "cenersen-arm1",
        ClinicalOptions(anthracycline_table=ESC, anthracycline_limit=Fraction(450)),
        weight="70",
        bsa="1.8",
    )
    assert any("within the limit 450" in n for n in p.notes)  # complete: idarubicin has an ESC factor
    no_bsa = reg(
        'id = "x"\nname = "x"\n[[source]]\ncitation = "t"\n[[component]]\ndrug = "idarubicin"\n'
        'dose = "10 mg"\ndays = "1"\n'
    )
    p = plan(no_bsa, ClinicalOptions(anthracycline_table=ESC, anthracycline_limit=Fraction(450)), weight="70")
    assert not any("within the limit" in n for n in p.notes)
    assert any("cannot be judged against the limit 450 mg/m²: idarubicin is not counted" in w for w in p.warnings)


def test_an_incomplete_total_above_the_limit_still_exceeds_it() -> None:
    options = ClinicalOptions(
        anthracycline_table=IGHG,
        anthracycline_limit=Fraction(400),
        prior=(parse_prior("doxorubicin 420 mg/m2"), parse_prior("epirubicin 100 mg/m2")),
    )
    p = plan("oblimersen-dex", options, weight="70", bsa="1.8")
    assert any("at least 420 mg/m²" in w and "exceeds the limit 400 mg/m²" in w for w in p.warnings)


@pytest.mark.parametrize(("table", "caveat"), [(ESC, "paediatric cancer survivors"), (IGHG, "after childhood cancer")])
def test_the_tables_own_caveats_are_shown(table: object, caveat: str) -> None:
    p = plan(
        "oblimersen-dex",
        ClinicalOptions(
            anthracycline_table=table,  # type: ignore[arg-type]
            prior=(parse_prior("doxorubicin 100 mg/m2"),),
        ),
        weight="70",
        bsa="1.8",
    )
    assert any(n.startswith(f"caveat of table {table.name}: ") and caveat in n for n in p.notes)  # type: ignore[attr-defined]


# ---- 5. every derived value states its rounding -----------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "patient", "start", "places"),
    [
        (ClinicalOptions(), {"weight": "70", "height": "170"}, "BSA by Mosteller", 3),
        (
            ClinicalOptions(dosing_weight="ideal"),
            {"weight": "70", "height": "170", "sex": "male"},
            "ideal body weight",
            2,
        ),
        (
            ClinicalOptions(dosing_weight="adjusted"),
            {"weight": "100", "height": "160", "sex": "male"},
            "adjusted body weight",
            2,
        ),
        (
            ClinicalOptions(dosing_weight="lean"),
            {"weight": "80", "height": "150", "sex": "male"},
            "lean body weight",
            2,
        ),
        (ClinicalOptions(), {"weight": "70", "age": "60", "sex": "female", "scr": "1"}, "Cockcroft–Gault", 2),
        (ClinicalOptions(), {"weight": "70", "age": "60", "sex": "female", "scr": "1"}, "CKD-EPI 2021 eGFR =", 2),
        (
            ClinicalOptions(),
            {"weight": "70", "bsa": "1.8", "age": "60", "sex": "female", "scr": "1"},
            "CKD-EPI 2021 de-indexed",
            2,
        ),
    ],
)
def test_every_derived_value_states_its_rounding(
    options: ClinicalOptions, patient: dict[str, str], start: str, places: int
) -> None:
    working = plan(reg(AUC5 if "scr" in patient else MIXED), options, **patient).patient.working
    line = next(w for w in working if w.startswith(start))
    assert f"rounded half up to {places} decimals = " in line, line


def test_adjusted_weight_shows_the_exact_value_and_its_rounding() -> None:
    # IBW 56.88; 56.88 + 0.4 × (100 − 56.88) = 74.128 -> 74.13
    p = plan(reg(PER_KG), ClinicalOptions(dosing_weight="adjusted"), weight="100", height="160", sex="male")
    assert (
        "adjusted body weight = IBW + 0.4 × (actual − IBW) = 56.88 + 0.4 × (100 − 56.88) = 74.128 kg, rounded "
        "half up to 2 decimals = 74.13 kg (IBW by Devine)"
    ) in p.patient.working
    # the ideal weight it is built on was rounded too, and says so: 50 + 2.3 × (62.992126 − 60) = 56.881890
    assert (
        "ideal body weight (Devine, male, 160 cm) = 50 kg + 2.3 kg per inch over 60 in = 56.881890 kg, rounded "
        "half up to 2 decimals = 56.88 kg"
    ) in p.patient.working


def test_cockcroft_gault_shows_the_unrounded_value_and_its_rounding() -> None:
    # (140 − 60) × 70 / (72 × 1) × 0.85 = 66.111111 -> 66.11
    p = plan(reg(AUC5), weight="70", age="60", sex="female", scr="1")
    line = next(w for w in p.patient.working if w.startswith("Cockcroft–Gault"))
    assert line.endswith("× 0.85 (female) = 66.111111 mL/min, rounded half up to 2 decimals = 66.11 mL/min")
