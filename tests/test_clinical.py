"""Clinical inputs in the engine: body size, dosing weight, renal/AUC dosing, caps, levels, rounding, warnings.

Published vectors (tolerances stated where a float formula is involved) come from the project's reference
facts: BSA (R package physiology), IBW Devine 160 cm, LBW Janmahasatian, Cockcroft–Gault and CKD-EPI 2021
at age 60 / SCr 1.0, Calvert (5, 100) -> 625 mg and the GFR cap 125 mL/min, HOPA 460/440 mg, ESC 2022
epirubicin 125 mg/m² × 0.8 = 100 mg/m², IGHG 2025 daunorubicin 0.6 / mitoxantrone 10.5.
"""

from __future__ import annotations

import dataclasses
import tomllib
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import examples, schema_validator

import regimen
from regimen.cli.app import cli_message
from regimen.clinical.anthracycline import AnthracyclineError, load_table, parse_prior
from regimen.clinical.dose_change import DoseChange, DoseChangeError
from regimen.clinical.formulary import load_formulary
from regimen.clinical.options import ClinicalError, ClinicalOptions, StrictError
from regimen.clinical.prepare import age_warnings
from regimen.engine.plan import Plan
from regimen.errors import PatientError, RegimenFileError
from regimen.model import Eligibility
from regimen.protocol.loader import amount, load_text
from regimen.quantities.exact import to_decimal

D = Fraction  # exact expected values are written as Fraction("21.816")


def plan(
    reg: str | regimen.Regimen, options: ClinicalOptions | None = None, cycles: int | None = None, **patient: object
) -> Plan:
    r = regimen.load(reg) if isinstance(reg, str) else reg
    return regimen.expand(r, regimen.make_patient(**patient), options=options, cycles=cycles)  # type: ignore[arg-type]


def rows(p: Plan, drug: str) -> list[regimen.Administration]:
    return [r for r in p.administrations if r.drug == drug]


def one(p: Plan, drug: str) -> regimen.Administration:
    return rows(p, drug)[0]


def reg(body: str) -> regimen.Regimen:
    """A regimen from its top-level keys and components; id, name and a source are added."""
    return load_text(f'id = "test-regimen"\nname = "Test regimen"\n{body}\n[[source]]\ncitation = "test"\n', "<test>")


VINCRISTINE = reg("""cycle_length = 21
[[component]]
drug = "vincristine"
dose = "1.4 mg/m²"
route = "IV"
method = "bolus"
days = "1,8"
max_dose = "2 mg"
""")

# ---- body size -----------------------------------------------------------------------------------------

# physiology R/bsa.R values at 70 kg / 170 cm (reference facts); the tool rounds them half up to 3 decimals.
ADULT_70_170 = {
    "mosteller": "1.818119",
    "dubois": "1.809708",
    "haycock": "1.825677",
    "gehan-george": "1.831289",
    "boyd": "1.834670",
    "fujimoto": "1.764293",
    "takahira": "1.824067",
    "shuter-aslani": "1.786070",
}


@pytest.mark.parametrize(("formula", "published"), sorted(ADULT_70_170.items()))
def test_bsa_from_height_and_weight_matches_the_published_vector(formula: str, published: str) -> None:
    p = plan("cenersen-arm1", ClinicalOptions(bsa_formula=formula), weight="70", height="170")
    expected = Fraction(to_decimal(Fraction(Decimal(published)), 3))
    assert p.patient.bsa_m2 == expected
    assert one(p, "idarubicin").dose == 12 * expected  # exact: 12 mg/m² × the stated BSA
    assert f"× {expected.numerator / expected.denominator:g} m² (BSA, " in one(p, "idarubicin").calculation
    assert any(line.startswith("BSA by ") and "rounded half up to 3 decimals" in line for line in p.patient.working)


def test_mosteller_working_names_formula_raw_and_rounded_values() -> None:
    p = plan("cenersen-arm1", weight="70", height="170")
    line = next(w for w in p.patient.working if w.startswith("BSA by"))
    assert "Mosteller" in line and "W = 70 kg, H = 170 cm" in line and "1.818119 m²" in line and "= 1.818 m²" in line
    assert one(p, "idarubicin").calculation == "12 mg/m²/day × 1.818 m² (BSA, Mosteller) = 21.82 mg (from 21.816)"


def test_mosteller_80_kg_180_cm_is_exactly_2() -> None:
    assert plan("cenersen-arm1", weight="80", height="180").patient.bsa_m2 == 2


@pytest.mark.parametrize(("sex", "published"), [("male", "1.697976"), ("female", "1.765425")])
def test_schlich_needs_sex_and_matches_the_vector(sex: str, published: str) -> None:
    with pytest.raises(PatientError, match="Schlich BSA formula needs the patient's sex"):
        plan("cenersen-arm1", ClinicalOptions(bsa_formula="schlich"), weight="70", height="170")
    p = plan("cenersen-arm1", ClinicalOptions(bsa_formula="schlich"), weight="70", height="170", sex=sex)
    assert p.patient.bsa_m2 == Fraction(to_decimal(Fraction(Decimal(published)), 3))


def test_given_bsa_is_used_and_checked_against_height_and_weight() -> None:
    far = plan("cenersen-arm1", weight="70", height="170", bsa="2.2")
    assert far.patient.bsa_m2 == D("2.2")
    assert any("differs by 21 % from 1.818 m² by Mosteller" in w for w in far.warnings)
    near = plan("cenersen-arm1", weight="70", height="170", bsa="1.9")  # 4.5 % from 1.818: within 10 %
    assert not any("differs by" in w for w in near.warnings)


def test_default_path_without_height_is_unchanged() -> None:
    p = plan("cenersen-arm1", weight="70", bsa="1.8")
    assert one(p, "idarubicin").calculation == "12 mg/m²/day × 1.8 m² = 21.6 mg"
    assert one(p, "cenersen").calculation == (
        "0.1 mg/kg/h × 70 kg = 7 mg/h continuously over 96 h = 672 mg; this day's share: 7 mg/h × 24 h = 168 mg"
    )
    assert p.warnings == () and p.patient.working == ()


# ---- dosing weight ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("sex", "kg"), [("female", "52.38"), ("male", "56.88")])  # Devine 160 cm: 52.38189 / 56.88189
def test_ideal_body_weight_devine_in_the_working(sex: str, kg: str) -> None:
    p = plan("cenersen-arm1", ClinicalOptions(dosing_weight="ideal"), weight="70", bsa="1.8", height="160", sex=sex)
    row = one(p, "cenersen")
    assert row.rate == D("0.1") * D(kg)
    assert row.calculation.startswith(f"0.1 mg/kg/h × {kg} kg (ideal body weight, Devine) = ")


def test_robinson_and_miller_hand_computed() -> None:
    # male 160 cm = 62.99213 in: Robinson 52 + 1.9 × 2.99213 = 57.685; Miller 56.2 + 1.41 × 2.99213 = 60.419
    for key, kg in (("ideal-robinson", "57.69"), ("ideal-miller", "60.42")):
        p = plan("cenersen-arm1", ClinicalOptions(dosing_weight=key), weight="70", bsa="1.8", height="160", sex="male")
        assert one(p, "cenersen").rate == D("0.1") * D(kg), key


def test_adjusted_body_weight_shows_formula_and_factor() -> None:
    p = plan(
        "cenersen-arm1", ClinicalOptions(dosing_weight="adjusted"), weight="100", bsa="2", height="160", sex="male"
    )
    # IBW 56.88; 56.88 + 0.4 × (100 − 56.88) = 74.128 -> 74.13
    assert one(p, "cenersen").rate == D("0.1") * D("74.13")
    expected = (
        "adjusted body weight = IBW + 0.4 × (actual − IBW) = 56.88 + 0.4 × (100 − 56.88) = 74.128 kg, rounded "
        "half up to 2 decimals = 74.13 kg"
    )
    assert f"{expected} (IBW by Devine)" in p.patient.working
    quarter_options = ClinicalOptions(dosing_weight="adjusted", adjusted_factor=D(1, 4))
    quarter = plan("cenersen-arm1", quarter_options, weight="100", bsa="2", height="160", sex="male")
    assert one(quarter, "cenersen").rate == D("0.1") * D("67.66")  # 56.88 + 0.25 × 43.12 = 67.66


def test_lean_body_weight_janmahasatian_vector() -> None:
    p = plan("cenersen-arm1", ClinicalOptions(dosing_weight="lean"), weight="80", bsa="1.8", height="150", sex="male")
    assert one(p, "cenersen").rate == D("0.1") * D("51.64")  # published 51.643454


def test_ideal_weight_needs_height_and_sex() -> None:
    with pytest.raises(PatientError, match="needs the patient's height"):
        plan("cenersen-arm1", ClinicalOptions(dosing_weight="ideal"), weight="70", bsa="1.8", sex="male")
    with pytest.raises(PatientError, match="needs the patient's sex"):
        plan("cenersen-arm1", ClinicalOptions(dosing_weight="ideal"), weight="70", bsa="1.8", height="170")


def test_underweight_patients_are_flagged_and_short_ones_stopped() -> None:
    p = plan("cenersen-arm1", ClinicalOptions(dosing_weight="ideal"), weight="45", bsa="1.4", height="155", sex="male")
    # Devine male 155 cm = 61.0236 in: 50 + 2.3 × 1.0236 = 52.354 -> 52.35 kg
    assert any("ideal body weight 52.35 kg is above the actual weight 45 kg" in w for w in p.warnings)
    # 150 cm is under the formula's 60 in (152.4 cm): an error, where it used to be a warning and a number
    with pytest.raises(PatientError, match=r"height 150 cm is below it"):
        plan("cenersen-arm1", ClinicalOptions(dosing_weight="ideal"), weight="45", bsa="1.4", height="150", sex="male")


def test_regimen_can_require_a_dosing_weight_and_a_run_cannot_override_it() -> None:
    r = reg("""dosing_weight = "ideal"
[[component]]
drug = "drug-a"
dose = "1 mg/kg"
days = "1"
""")
    p = plan(r, weight="90", height="160", sex="female")
    assert one(p, "drug-a").dose == D("52.38")
    assert "(ideal body weight, Devine)" in one(p, "drug-a").calculation
    assert plan(r, ClinicalOptions(dosing_weight="ideal-devine"), weight="90", height="160", sex="female")
    with pytest.raises(ClinicalError, match="requires ideal body weight for drug-a; drop dosing_weight actual") as e:
        plan(r, ClinicalOptions(dosing_weight="actual"), weight="90", height="160", sex="female")
    assert "drop --dosing-weight actual" in cli_message(e.value)  # the command line names its flag


def test_component_dosing_weight_must_be_per_kg() -> None:
    with pytest.raises(RegimenFileError, match="dosing_weight applies to doses per kg"):
        reg("""[[component]]
drug = "a"
dose = "1 mg/m²"
days = "1"
dosing_weight = "lean"
""")


# ---- renal function and AUC dosing -----------------------------------------------------------------------

AUC5 = reg("""[[component]]
drug = "carboplatin"
dose = "AUC 5"
route = "IV"
method = "infusion"
duration = "30 min"
days = "1"
""")


def test_calvert_with_a_measured_gfr_is_625_mg() -> None:
    row = one(plan(AUC5, gfr="100"), "carboplatin")
    assert row.dose == 625
    assert row.calculation.startswith("AUC 5 mg/mL·min × (GFR 100 mL/min (given with --gfr) + 25) = 625 mg (Calvert)")
    assert row.rate == 1250  # 625 mg over 30 min


@pytest.mark.parametrize(("auc", "mg"), [("6", 900), ("5", 750), ("4", 600)])
def test_gfr_is_capped_at_125_by_default(auc: str, mg: int) -> None:
    r = reg(f'[[component]]\ndrug = "carboplatin"\ndose = "AUC {auc}"\ndays = "1"\n')
    row = one(plan(r, gfr="180"), "carboplatin")
    assert row.dose == mg
    assert "GFR 180 mL/min (given with --gfr) capped at 125 mL/min (FDA 2010 default)" in row.calculation


def test_gfr_cap_can_be_lifted_with_a_warning_or_changed() -> None:
    lifted = plan(AUC5, ClinicalOptions(gfr_cap=None), gfr="180")
    assert one(lifted, "carboplatin").dose == 5 * 205
    assert any("GFR cap lifted" in w for w in lifted.warnings)
    assert one(plan(AUC5, ClinicalOptions(gfr_cap=D(100)), gfr="180"), "carboplatin").dose == 625


@pytest.mark.parametrize(("sex", "crcl", "egfr"), [("male", "77.78", 86.163), ("female", "66.11", 64.495)])
def test_cockcroft_gault_and_ckd_epi_vectors(sex: str, crcl: str, egfr: float) -> None:
    p = plan(AUC5, weight="70", age="60", sex=sex, scr="1.0", bsa="1.73")
    assert one(p, "carboplatin").dose == 5 * (D(crcl) + 25)
    assert "(Cockcroft–Gault)" in one(p, "carboplatin").calculation
    line = next(w for w in p.patient.working if w.startswith("CKD-EPI 2021 eGFR"))
    shown = float(line.split("= ")[-1].split(" ")[0])  # "... = 86.163xxx mL/min/1.73 m², rounded ... = 86.16 ..."
    assert shown == pytest.approx(egfr, abs=0.006)  # published to 3 decimals, shown to 2
    epi = plan(AUC5, ClinicalOptions(gfr_method="ckd-epi-2021"), weight="70", age="60", sex=sex, scr="1.0", bsa="1.73")
    assert one(epi, "carboplatin").dose == 5 * (D(str(shown)) + 25)  # de-indexed with BSA 1.73: unchanged


def test_scr_in_umol_per_litre_is_converted_and_shown() -> None:
    p = plan(AUC5, weight="70", age="60", sex="male", scr="88.42 umol/L")
    assert "serum creatinine 88.42 µmol/L ÷ 88.42 = 1 mg/dL" in p.patient.working
    assert one(p, "carboplatin").dose == 5 * (D("77.78") + 25)


def test_auc_dosing_errors_name_the_missing_value() -> None:
    with pytest.raises(PatientError, match="needs the patient's serum creatinine"):
        plan(AUC5, weight="70", age="60", sex="male")
    with pytest.raises(PatientError, match="needs the patient's age"):
        plan(AUC5, weight="70", sex="male", scr="1")
    with pytest.raises(PatientError, match="CKD-EPI 2021 needs the patient's body-surface area"):
        plan(AUC5, ClinicalOptions(gfr_method="ckd-epi-2021"), age="60", sex="male", scr="1")


def test_impossible_scr_and_gfr_are_errors() -> None:
    with pytest.raises(PatientError, match="if it is in µmol/L"):
        regimen.make_patient(scr="88")
    with pytest.raises(PatientError, match="not understood"):
        regimen.make_patient(scr="1 mmol/L")
    with pytest.raises(PatientError, match="GFR 400 mL/min is impossible"):
        regimen.make_patient(gfr="400")


def test_gog158_example_regimen() -> None:
    r = regimen.load(str(Path(__file__).resolve().parents[1] / "examples" / "carboplatin-paclitaxel-gog158.toml"))
    p = plan(r, weight="70", height="170", age="60", sex="female", scr="1.0")
    assert one(p, "paclitaxel").dose == 175 * D("1.818")
    assert one(p, "paclitaxel").duration_hours == 3
    assert one(p, "carboplatin").dose == D("7.5") * (D("66.11") + 25)  # CG female 66.11 (published 66.1111)
    assert p.cycles == {"main": 6} and {r.course_day for r in rows(p, "carboplatin")} == {1, 22, 43, 64, 85, 106}


def test_auc_text_is_parsed_strictly() -> None:
    with pytest.raises(RegimenFileError, match="write a target AUC as 'AUC 5'"):
        reg('[[component]]\ndrug = "carboplatin"\ndose = "AUC five"\ndays = "1"\n')
    with pytest.raises(RegimenFileError, match="is one dose, not a continuous infusion"):
        reg(
            '[[component]]\ndrug = "c"\ndose = "AUC 5"\nmethod = "continuous infusion"\nduration = "1 day"\n'
            'days = "1"\n'
        )


# ---- caps -------------------------------------------------------------------------------------------------


def test_bsa_cap_shows_uncapped_and_capped_and_warns() -> None:
    p = plan("cenersen-arm1", ClinicalOptions(bsa_cap=D(2)), weight="100", bsa="2.2")
    row = one(p, "idarubicin")
    assert row.dose == 24
    assert "× 2 m² (BSA 2.2 m² capped at 2 m² by --bsa-cap) = 24 mg" in row.calculation
    assert any("BSA capped at 2 m² (uncapped 2.2 m²)" in w and "ASCO" in w for w in p.warnings)
    under = plan("cenersen-arm1", ClinicalOptions(bsa_cap=D(2)), weight="70", bsa="1.8")
    assert one(under, "idarubicin").dose == D("21.6") and any("not capped" in n for n in under.notes)


def test_max_dose_per_administration_is_applied_and_stated_as_protocol_not_warning() -> None:
    """Vincristine 1.4 mg/m² (max 2 mg) is the protocol: the capped dose has its working and a note, no warning
    (issue 9.5), so --strict plans it."""
    p = plan(VINCRISTINE, bsa="1.8")
    for row in rows(p, "vincristine"):
        assert row.dose == 2
        assert "capped at the regimen maximum 2 mg per administration: 2.52 mg → 2 mg" in row.calculation
        assert row.warnings == ()
        assert row.caps == ("dose capped at the regimen maximum 2 mg per administration (calculated 2.52 mg)",)
    assert p.warnings == ()
    assert (
        "vincristine (cycle 1, days 1 and 8): dose capped at the regimen maximum 2 mg per administration "
        "(calculated 2.52 mg), as the protocol states"
    ) in p.notes
    assert plan(VINCRISTINE, ClinicalOptions(strict=True), bsa="1.8").administrations == p.administrations
    small = plan(VINCRISTINE, bsa="1.2")
    assert {r.dose for r in rows(small, "vincristine")} == {D("1.68")} and small.warnings == ()


def test_max_per_cycle_scales_the_cycle_together() -> None:
    r = reg("""[[component]]
drug = "vincristine"
dose = "1.4 mg/m²"
days = "1,8"
max_per_cycle = "4 mg"
""")
    p = plan(r, bsa="2")  # 2.8 + 2.8 = 5.6 mg > 4 mg: each × 4/5.6
    assert [x.dose for x in rows(p, "vincristine")] == [2, 2]
    assert "(× 4 mg / 5.6 mg)" in one(p, "vincristine").calculation


def test_max_daily_and_max_dose_of_a_continuous_infusion() -> None:
    r = reg("""[[component]]
drug = "d"
dose = "10 mg/kg/day"
method = "continuous infusion"
duration = "2 days"
days = "1-2"
max_daily = "800 mg"
max_dose = "1500 mg"
""")
    p = plan(r, weight="100")  # 1,000 mg/day -> 800 per day; infusion 1,600 -> 1,500 (750 per day)
    assert [x.dose for x in rows(p, "d")] == [750, 750]
    assert [x.rate for x in rows(p, "d")] == [D(750, 24), D(750, 24)]
    assert "per administration (the whole infusion)" in one(p, "d").calculation


@settings(max_examples=examples(60), deadline=None)
@given(bsa=st.decimals(min_value="0.5", max_value="3.5", places=3), cap=st.sampled_from(["1.5 mg", "2 mg", "3 mg"]))
def test_caps_are_never_exceeded(bsa: Decimal, cap: str) -> None:
    r = reg(f'[[component]]\ndrug = "v"\ndose = "1.4 mg/m²"\ndays = "1,8"\nmax_dose = "{cap}"\nround = "0.1 mg"\n')
    p = plan(r, bsa=str(bsa))
    limit = amount(cap, "cap").value
    assert all(x.dose <= limit for x in p.administrations)
    assert all(x.dose == min(D("1.4") * D(bsa), limit) or x.dose_calculated is not None for x in p.administrations)


def test_cap_fields_are_checked_in_the_file() -> None:
    with pytest.raises(RegimenFileError, match="must be a plain amount"):
        reg('[[component]]\ndrug = "v"\ndose = "1 mg"\ndays = "1"\nmax_dose = "2 mg/m2"\n')


# ---- dose levels and reductions --------------------------------------------------------------------------

LEVELS = reg("""[[component]]
drug = "idarubicin"
dose = "12 mg/m²"
days = "1-3"
levels = { "-1" = "75%", "-2" = "6 mg/m²" }
[[component]]
drug = "cytarabine"
dose = "100 mg/m²"
days = "1-7"
""")


def test_dose_level_percent_shows_ordered_and_adjusted() -> None:
    p = plan(LEVELS, ClinicalOptions(dose_level=-1), bsa="1.8")
    row = one(p, "idarubicin")
    assert row.dose == D("16.2")
    assert "dose level -1: 75 % of the dose (reduced by 25 %): 21.6 mg → 16.2 mg" in row.calculation
    assert one(p, "cytarabine").dose == 180
    assert any("cytarabine has no dose levels" in n for n in p.notes)


def test_dose_level_as_a_dose_of_its_own() -> None:
    row = one(plan(LEVELS, ClinicalOptions(dose_level=-2), bsa="1.8"), "idarubicin")
    assert row.dose == D("10.8")
    assert row.calculation.startswith("dose level -2: 6 mg/m² instead of 12 mg/m²: 6 mg/m² × 1.8 m² = 10.8 mg")


def test_undefined_dose_levels_are_errors() -> None:
    with pytest.raises(ClinicalError, match="idarubicin has no dose level -3"):
        plan(LEVELS, ClinicalOptions(dose_level=-3), bsa="1.8")
    with pytest.raises(ClinicalError, match="defines no dose levels"):
        plan("cenersen-arm1", ClinicalOptions(dose_level=-1), weight="70", bsa="1.8")
    with pytest.raises(RegimenFileError, match="dose level 0 is the full dose"):
        reg('[[component]]\ndrug = "a"\ndose = "1 mg"\ndays = "1"\nlevels = { "0" = "50%" }\n')
    with pytest.raises(RegimenFileError, match="must be a percentage or a dose written like"):
        reg('[[component]]\ndrug = "a"\ndose = "1 mg/m2"\ndays = "1"\nlevels = { "-1" = "1 mg/kg" }\n')


@settings(max_examples=examples(60), deadline=None)
@given(
    pct=st.fractions(min_value=50, max_value=100).map(lambda f: f.limit_denominator(100)),
    bsa=st.decimals(min_value="0.8", max_value="2.8", places=2),
)
def test_reductions_scale_doses_exactly(pct: Fraction, bsa: Decimal) -> None:
    full = plan("cenersen-arm3", weight="70", bsa=str(bsa), age="45")
    reduced = plan(
        "cenersen-arm3",
        ClinicalOptions(dose_changes={"idarubicin": DoseChange(pct)}),
        weight="70",
        bsa=str(bsa),
        age="45",
    )
    for a, b in zip(full.administrations, reduced.administrations, strict=True):
        assert b.dose == (a.dose * pct / 100 if a.drug == "idarubicin" else a.dose)


def test_reduction_errors() -> None:
    with pytest.raises(ClinicalError, match="no drug or component 'doxorubicin'; its drugs are cenersen, idarubicin"):
        plan("cenersen-arm1", ClinicalOptions(dose_changes={"doxorubicin": DoseChange(D(75))}), weight="70", bsa="1.8")
    with pytest.raises(DoseChangeError, match="more than the full dose"):
        ClinicalOptions(dose_changes={"idarubicin": DoseChange(D(120))})
    with pytest.raises(ClinicalError, match="give a DoseChange"):
        ClinicalOptions(dose_changes={"idarubicin": D(75)})  # type: ignore[dict-item]


# ---- rounding ---------------------------------------------------------------------------------------------


def _flat(mg: str) -> regimen.Regimen:
    return reg(f'[[component]]\ndrug = "rituximab"\ndose = "{mg} mg"\ndays = "1"\n')


@pytest.fixture
def vial500(tmp_path: Path) -> Path:
    f = tmp_path / "f.toml"
    f.write_text('name = "test"\n[[drug]]\ndrug = "rituximab"\nvials = ["500 mg"]\n')
    return f


def test_hopa_460_rounds_to_a_500_mg_vial(vial500: Path) -> None:
    row = one(plan(_flat("460"), ClinicalOptions(formulary=load_formulary(vial500), vial_round=True)), "rituximab")
    assert row.dose == 500 and row.dose_calculated == 460
    assert (
        "rounded to whole vials of 500 mg (formulary test): 460 mg → 500 mg (+8.7 %; threshold ±10 %, HOPA)"
        in row.calculation
    )


def test_hopa_440_is_not_rounded_and_warns(vial500: Path) -> None:
    p = plan(_flat("440"), ClinicalOptions(formulary=load_formulary(vial500), vial_round=True))
    row = one(p, "rituximab")
    assert row.dose == 440 and row.dose_calculated is None
    assert "+13.64 % from the calculated 440 mg, beyond the ±10 % threshold (HOPA)" in row.warnings[0]
    assert any("rituximab (cycle 1, day 1): not rounded" in w for w in p.warnings)


def test_band_6_percent(vial500: Path) -> None:
    options = ClinicalOptions(
        formulary=load_formulary(vial500), vial_round=True, threshold=D(6), threshold_label="NHS England dose banding"
    )
    assert one(plan(_flat("480"), options), "rituximab").dose == 500  # +4.17 %
    assert one(plan(_flat("460"), options), "rituximab").dose == 460  # +8.7 % > 6 %


def test_vial_combinations_from_the_example_formulary() -> None:
    options = ClinicalOptions(formulary=load_formulary(), vial_round=True)
    p = plan("cenersen-arm1", options, weight="70", bsa="1.8")
    row = one(p, "idarubicin")
    assert row.dose == 20 and row.dose_calculated == D("21.6")  # 5 mg and 20 mg vials: 20 (−7.41 %) beats 25
    assert any("formulary 'example'" in w for w in p.warnings)
    assert any("cenersen: not in formulary" in n for n in p.notes)


def test_increment_rounding_and_never_above_a_cap() -> None:
    p = plan("cenersen-arm1", ClinicalOptions(round_to={"idarubicin": amount("0.5 mg", "r")}), weight="70", bsa="1.818")
    assert one(p, "idarubicin").dose == D("22")  # 21.816 -> 22 (+0.84 %)
    capped = reg('[[component]]\ndrug = "v"\ndose = "1.4 mg/m²"\ndays = "1"\nmax_dose = "2.1 mg"\nround = "0.5 mg"\n')
    row = one(plan(capped, bsa="1.45"), "v")  # 2.03 mg: nearest 2 mg (ok); at bsa 1.49 2.086 -> 2 not 2.5
    assert row.dose == 2
    assert one(plan(capped, bsa="1.49"), "v").dose == 2


def test_a_continuous_infusion_is_rounded_whole_and_its_days_share_the_result() -> None:
    # issue 24.3: 0.1 mg/kg/h × 70.3 kg × 96 h = 674.88 mg, one infusion: 670 mg (−0.72 %), 167.5 mg a day
    p = plan("cenersen-arm1", ClinicalOptions(round_to={"cenersen": amount("10 mg", "r")}), weight="70.3", bsa="1.8")
    days = [r for r in p.administrations if r.drug == "cenersen"]
    assert [r.dose for r in days] == [D("167.5")] * 4 and {r.rate for r in days} == {Fraction(670, 96)}
    infusion = days[0].infusion
    assert infusion is not None and infusion.amount == 670 and infusion.amount_calculated == D("674.88")
    assert infusion.calculation is not None and infusion.calculation.count("674.88 mg → 670 mg") == 1
    assert not any("not rounded" in n for n in p.notes)


@settings(max_examples=examples(80), deadline=None)
@given(mg=st.decimals(min_value="1", max_value="3000", places=2), threshold=st.sampled_from([D(6), D(10)]))
def test_rounding_never_goes_beyond_the_threshold(mg: Decimal, threshold: Fraction) -> None:
    options = ClinicalOptions(formulary=load_formulary(), vial_round=True, threshold=threshold)
    row = one(plan(_flat(str(mg)), options), "rituximab")  # example formulary: 100 mg and 500 mg vials
    calculated = D(mg)
    assert abs(row.dose - calculated) / calculated * 100 <= threshold
    assert row.dose_calculated in (None, calculated)


# ---- plausibility, eligibility, anthracyclines, strict --------------------------------------------------


def test_unusual_values_warn_with_adult_or_child_ranges() -> None:
    adult = plan("cenersen-arm1", weight="30", bsa="1.1", age="40")
    assert any("weight 30 kg is unusual for adults (usual range 35–200 kg)" in w for w in adult.warnings)
    child = plan("cenersen-arm1", weight="30", bsa="1.1", age="10")
    assert not any("weight 30 kg" in w for w in child.warnings)
    old = plan("cenersen-arm1", weight="70", bsa="1.8", age="104")
    assert any("age 104 years is over 100" in w for w in old.warnings)


def test_eligibility_of_the_cenersen_arms() -> None:
    for arm in ("cenersen-arm1", "cenersen-arm2", "cenersen-arm3"):
        young = plan(arm, weight="60", bsa="1.6", age="16")
        assert any(
            f"age 16 years is outside the eligibility of {arm} (aged at least 18 years" in w for w in young.warnings
        )
        assert not any("eligibility" in w for w in plan(arm, weight="60", bsa="1.6", age="18").warnings)
    assert any("age not given" in n for n in plan("cenersen-arm1", weight="60", bsa="1.6").notes)


ESC = load_table("esc-2022")
IGHG = load_table("ighg-2025")


def test_idarubicin_counts_with_esc_2022() -> None:
    p = plan(
        "cenersen-arm1",
        ClinicalOptions(
            anthracycline_table=ESC, prior=(parse_prior("doxorubicin 240 mg/m2"),), anthracycline_limit=D(400)
        ),
        weight="70",
        bsa="1.8",
    )
    text = "\n".join(p.notes)
    assert "planned idarubicin: 64.8 mg ÷ 1.8 m² (BSA, uncapped) = 36 mg/m²" in text
    assert "planned idarubicin 36 mg/m² × 5 = 180 mg/m² doxorubicin-equivalent" in text
    assert "cumulative (planned + prior): 420 mg/m²" in text
    assert any("420 mg/m² doxorubicin-equivalent" in w and "exceeds the limit 400 mg/m²" in w for w in p.warnings)
    ok = plan(
        "cenersen-arm1",
        ClinicalOptions(
            anthracycline_table=ESC, anthracycline_limit=D(450), prior=(parse_prior("doxorubicin 240 mg/m2"),)
        ),
        weight="70",
        bsa="1.8",
    )
    assert not any("exceeds" in w for w in ok.warnings)


def test_a_table_without_a_factor_says_so() -> None:
    p = plan("cenersen-arm1", ClinicalOptions(anthracycline_table=IGHG), weight="70", bsa="1.8")
    assert any(w.startswith("no factor for idarubicin in table ighg-2025") for w in p.warnings)
    assert any("incomplete: idarubicin not counted" in n for n in p.notes)


@pytest.mark.parametrize(
    ("table", "prior", "equivalent"),
    [
        (ESC, "epirubicin 125 mg/m2", "100"),  # ESC 2022 worked example
        (IGHG, "daunorubicin 100 mg/m2", "60"),
        (IGHG, "mitoxantrone 10 mg/m2", "105"),
    ],
)
def test_published_factors(table: object, prior: str, equivalent: str) -> None:
    p = plan(
        "oblimersen-dex",
        ClinicalOptions(anthracycline_table=table, prior=(parse_prior(prior),)),  # type: ignore[arg-type]
        weight="70",
        bsa="1.8",
    )
    assert any(f"cumulative (planned + prior): {equivalent} mg/m²" in n for n in p.notes)


def test_anthracycline_errors() -> None:
    with pytest.raises(AnthracyclineError, match="unknown anthracycline table 'cog-v9'"):
        load_table("cog-v9")
    with pytest.raises(AnthracyclineError, match="give the cumulative dose in mg/m²"):
        parse_prior("doxorubicin 240 mg")
    # a prior dose without a table is counted by the default table (esc-2022), never refused or left uncounted:
    # idarubicin 12 mg/m² × 3 days × 5 = 180, + 240 = 420 mg/m²
    p = plan("cenersen-arm1", ClinicalOptions(prior=(parse_prior("doxorubicin 240 mg/m2"),)), weight="70", bsa="1.8")
    assert "cumulative (planned + prior): 420 mg/m² doxorubicin-equivalent" in p.notes


def test_a_local_table_file(tmp_path: Path) -> None:
    f = tmp_path / "local.toml"
    f.write_text('name = "local"\ntitle = "t"\nversion = "1"\nsource = "our unit"\n[factor]\nidarubicin = "4"\n')
    p = plan("cenersen-arm1", ClinicalOptions(anthracycline_table=load_table(str(f))), weight="70", bsa="1.8")
    assert any("cumulative (planned + prior): 144 mg/m²" in n for n in p.notes)


def test_strict_turns_warnings_into_one_error() -> None:
    with pytest.raises(StrictError, match=r"^strict: age 16 years is outside") as e:
        plan("cenersen-arm1", ClinicalOptions(strict=True), weight="60", bsa="1.6", age="16")
    assert cli_message(e.value).startswith("--strict: age 16 years is outside")
    assert plan("cenersen-arm1", ClinicalOptions(strict=True), weight="60", bsa="1.6", age="30").warnings == ()


# ---- monotonicity ---------------------------------------------------------------------------------------


@settings(max_examples=examples(60), deadline=None)
@given(
    w=st.decimals(min_value="40", max_value="180", places=1),
    dw=st.decimals(min_value="0.1", max_value="30", places=1),
    h=st.decimals(min_value="150", max_value="200", places=0),
)
def test_doses_do_not_decrease_with_weight(w: Decimal, dw: Decimal, h: Decimal) -> None:
    """Per-kg doses strictly increase with weight; per-m² doses (BSA from height/weight) never decrease."""
    light = plan("cenersen-arm1", weight=str(w), height=str(h))
    heavy = plan("cenersen-arm1", weight=str(w + dw), height=str(h))
    assert one(heavy, "cenersen").dose > one(light, "cenersen").dose
    assert one(heavy, "idarubicin").dose >= one(light, "idarubicin").dose  # BSA rounded to 3 decimals


@settings(max_examples=examples(60), deadline=None)
@given(
    h=st.decimals(min_value="140", max_value="200", places=0),
    dh=st.decimals(min_value="1", max_value="20", places=0),
    formula=st.sampled_from(
        ["mosteller", "dubois", "haycock", "gehan-george", "boyd", "fujimoto", "takahira", "shuter-aslani"]
    ),
)
def test_doses_per_m2_do_not_decrease_with_height(h: Decimal, dh: Decimal, formula: str) -> None:
    options = ClinicalOptions(bsa_formula=formula)
    short = plan("cenersen-arm1", options, weight="70", height=str(h))
    tall = plan("cenersen-arm1", options, weight="70", height=str(h + dh))
    assert one(tall, "idarubicin").dose >= one(short, "idarubicin").dose


# ---- the file format ------------------------------------------------------------------------------------


def test_example_and_new_fields_match_the_schema() -> None:
    example = Path(__file__).resolve().parents[1] / "examples" / "carboplatin-paclitaxel-gog158.toml"
    validator = schema_validator()
    validator.validate(tomllib.loads(example.read_text()))
    data = tomllib.loads(
        'id = "x"\nname = "x"\ndosing_weight = "lean"\neligibility = { min_age = 18 }\n'
        '[[component]]\ndrug = "v"\ndose = "1.4 mg/m²"\ndays = "1"\nmax_dose = "2 mg"\n'
        'max_daily = "2 mg"\nmax_per_cycle = "4 mg"\nround = "0.1 mg"\n'
        'levels = { "-1" = "75%", "-2" = "1 mg/m²" }\n[[source]]\ncitation = "c"\n'
    )
    validator.validate(data)
    for broken in ({"eligibility": {"min_age": 18, "colour": 1}}, {"dosing_weight": "heavy"}):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate({**data, **broken})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({**data, "component": [{**data["component"][0], "max_dose": "2 mg/m2"}]})


def test_eligibility_is_checked_in_the_file() -> None:
    with pytest.raises(RegimenFileError, match="min_age is above max_age"):
        reg('eligibility = { min_age = 70, max_age = 18 }\n[[component]]\ndrug = "a"\ndose = "1 mg"\ndays = "1"\n')
    with pytest.raises(RegimenFileError, match="unknown eligibility field"):
        reg('eligibility = { min_age = 18, sex = "f" }\n[[component]]\ndrug = "a"\ndose = "1 mg"\ndays = "1"\n')


# ---- what each row's dose was derived from (issue 14: the FHIR Bundle's dose-derivation) ---------------------


def test_each_row_records_the_dose_as_written_and_the_value_it_was_multiplied_by() -> None:
    """A dose per m²: 1.4 mg/m² × 1.8 m² (vincristine, before its 2 mg cap, which the working says); a flat dose:
    no factor; a variant's dose is the one recorded; a target AUC: AUC 5 × (GFR 100 + 25 = 125 mL/min); a dose level:
    the level's dose; a capped BSA: the 2 m² used, with the working's label."""
    row = one(plan(VINCRISTINE, bsa="1.8"), "vincristine")
    d = row.derivation
    assert d is not None and (d.dose.display, d.factor, d.factor_unit, d.factor_text) == (
        "1.4 mg/m²",
        D("1.8"),
        "m²",
        None,
    )
    assert row.dose == 2  # capped after the derivation: 2.52 mg → 2 mg
    flat = reg('[[component]]\ndrug = "prednisone"\ndose = "100 mg"\nroute = "oral"\ndays = "1-5"\n')
    d = one(plan(flat), "prednisone").derivation
    assert d is not None and (d.dose.display, d.factor, d.factor_unit) == ("100 mg", None, None)
    variant = reg("""[[component]]
drug = "a"
dose = "10 mg/kg"
days = "1"
[[component.variant]]
when = "age > 60"
dose = "5 mg/kg"
""")
    d = one(plan(variant, weight="70", age="61"), "a").derivation
    assert d is not None and (d.dose.display, d.factor, d.factor_unit) == ("5 mg/kg", 70, "kg")
    d = one(plan(AUC5, gfr="100"), "carboplatin").derivation
    assert d is not None and (d.dose.display, d.factor, d.factor_unit) == ("AUC 5 mg/mL·min", 125, "mL/min")
    assert d.factor_text == "GFR 100 mL/min (given with --gfr) + 25"
    levels = reg('[[component]]\ndrug = "a"\ndose = "12 mg/m²"\ndays = "1"\nlevels = { "-1" = "9 mg/m²" }\n')
    d = one(plan(levels, ClinicalOptions(dose_level=-1), bsa="2"), "a").derivation
    assert d is not None and (d.dose.display, d.factor) == ("9 mg/m²", 2)
    d = one(plan(VINCRISTINE, ClinicalOptions(bsa_cap=D(2)), bsa="2.2"), "vincristine").derivation
    assert d is not None and (d.factor, d.factor_text) == (2, "2 m² (BSA 2.2 m² capped at 2 m² by --bsa-cap)")


def test_the_age_is_held_to_its_usual_maximum_and_the_eligibility_in_integers() -> None:
    """prepare.age_warnings: over 100 years is unusual (100 itself is not); outside the source's ages is said (a
    regimen of adults aged 18 to 70: 17 and 71 are outside, 18 and 70 are not)."""
    reg = dataclasses.replace(regimen.load("r-chop-21"), eligibility=Eligibility(Fraction(18), Fraction(70)))
    assert age_warnings(reg, Fraction(50)) == []
    assert age_warnings(reg, Fraction(18)) == [] and age_warnings(reg, Fraction(70)) == []
    assert [w.split(" is ")[1][:7] for w in age_warnings(reg, Fraction(17))] == ["outside"]
    assert len(age_warnings(reg, Fraction(71))) == 1
    plain = dataclasses.replace(reg, eligibility=None)
    assert age_warnings(plain, Fraction(100)) == []
    assert age_warnings(plain, Fraction(101)) == ["age 101 years is over 100: check the value"]


def test_a_warning_on_many_doses_names_each_day_once_and_shared_days_together() -> None:
    """'capecitabine (cycle 1 day 1, cycle 1 day 1, cycle 1 day 2, ...)' listed all 224 doses of CAPOX's tablets
    (8 cycles x 14 days x twice a day), each day twice, 3,600 characters before the warning itself."""
    import dataclasses

    from regimen.clinical.adjust import row_warnings
    from regimen.clinical.choices import build_options

    p = regimen.expand(
        regimen.load("capox"),
        regimen.make_patient(weight="70", bsa="1.8"),
        options=build_options({"round_to": ("capecitabine=500mg",)}),
    )
    [line] = [w for w in p.warnings if w.startswith("capecitabine (")]
    # 1,000 mg/m² x 1.8 m² = 1,800 mg; by 500 mg the nearest is 2,000 mg, +11.11 %: beyond HOPA's ±10 %
    assert line.startswith("capecitabine (cycles 1–8, days 1–14): not rounded: the nearest amount by 500mg")
    plain = regimen.expand(regimen.load("capox"), regimen.make_patient(weight="70", bsa="1.8"))
    rows = [r for r in plain.administrations if r.drug == "capecitabine"]
    assert row_warnings(rows) == []
    some = [
        dataclasses.replace(r, warnings=("w",)) if (r.cycle, r.day) in {(1, 1), (1, 8), (3, 1), (3, 8), (4, 2)} else r
        for r in rows
    ]
    assert row_warnings(some) == ["capecitabine (cycles 1 and 3, days 1 and 8; cycle 4, day 2): w"]
    phased = [dataclasses.replace(r, phase="ac") if r.cycle == 4 else r for r in some]
    assert row_warnings(phased) == ["capecitabine (cycles 1 and 3, days 1 and 8; ac cycle 4, day 2): w"]


WRITTEN_PRIORS = ["doxorubicin 240 mg/m2", "doxorubicin=240 mg/m2", "doxorubicin = 240 mg/m²", " Doxorubicin 240 mg/m2"]


@pytest.mark.parametrize("written", WRITTEN_PRIORS)
def test_a_prior_dose_is_read_with_a_space_or_an_equals_sign(written: str) -> None:
    """'doxorubicin=240 mg/m2', as the other options of a drug are written (--round DRUG=..., --dose-percent
    DRUG=...), was refused with "dose 'mg/m2' must be a number followed by a unit": the '240' had gone to the drug."""
    prior = parse_prior(written)
    assert (prior.drug, prior.mg_m2) == ("doxorubicin", 240)


@pytest.mark.parametrize("written", ["=240 mg/m2", "doxorubicin=", "doxorubicin", ""])
def test_a_prior_dose_without_its_drug_or_dose_names_both(written: str) -> None:
    with pytest.raises(AnthracyclineError, match=r"write the drug and its cumulative dose, e\.g\."):
        parse_prior(written)
