"""Issue 27: supportive care, what must be known before the first dose, pre-cycle gates and the modification table.

Every expected figure is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from regimen import ClinicalOptions, expand, load, make_patient
from regimen.cli import cli
from regimen.clinical.gates import dose_intensity, evaluate
from regimen.clinical.pretreatment import PretreatmentError, Recorded, first_dose_allowed, read_dpyd, requirement_status
from regimen.errors import RegimenFileError
from regimen.protocol.loader import load_text
from regimen.quantities.labs import LabError, read

RUN = CliRunner()


def run(*args: str) -> tuple[int, str]:
    result = RUN.invoke(cli, list(args))
    return result.exit_code, result.output


# ---- hand-worked cases of the issue ----------------------------------------------------------------------


def test_r_chop_cycle_2_anc_1_2_proposes_the_sources_one_week_delay() -> None:
    # CMSCN R-CHOP: neutrophils < 1.5 ×10⁹/L on the day due -> delay (one week encoded); 1.2 < 1.5
    code, out = run("check", "r-chop-21", "--cycle", "2", "--anc", "1.2")
    assert code == 0, out
    assert out.splitlines()[0] == "r-chop-21, cycle 2: DELAY (delay 7 days)"
    assert "anc 1.2 ×10⁹/L — needs anc >= 1.5 ×10⁹/L: NOT MET" in out
    assert "- doxorubicin: DELAY — if anc < 1.5 ×10⁹/L: delay the cycle by 7 days (CMSCN" in out


def test_r_chop_anc_in_cells_per_microlitre_is_converted_and_meets_the_gate() -> None:
    # 1,600 /µL = 1.6 ×10⁹/L ≥ 1.5: go
    code, out = run("check", "r-chop-21", "--cycle", "3", "--anc", "1600/µL")
    assert code == 0, out
    assert out.splitlines()[0] == "r-chop-21, cycle 3: GO"
    assert "(1,600 /µL = 1.6 ×10⁹/L)" in out


def test_mfolfox6_grade_2_persistent_neuropathy_proposes_oxaliplatin_65_mg_m2() -> None:
    code, out = run("check", "mfolfox6", "--cycle", "5", "--neuropathy", "2 persistent", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert data["proposal"] == "reduce"
    by = {d["component"]: d for d in data["drugs"]}
    assert by["oxaliplatin"]["proposal"] == "reduce"
    assert "give oxaliplatin at 65 mg/m²" in by["oxaliplatin"]["rules"][0]["rule"]
    assert by["fluorouracil-pump"]["proposal"] == "go"


def test_an_implausible_anc_is_an_error_naming_the_slip() -> None:
    code, out = run("check", "r-chop-21", "--cycle", "2", "--anc", "1500")
    assert code == 1
    assert "anc 1,500 ×10⁹/L is not possible" in out
    assert "it looks like 1,500 /µL, which is 1.5 ×10⁹/L" in out
    assert "Traceback" not in out


def test_dpyd_intermediate_gets_half_the_fluorouracil_after_the_caps() -> None:
    # mFOLFOX6 at 2 m²: bolus 400 mg/m² × 2 = 800 mg -> 50 % = 400 mg; pump 2,400 × 2 = 4,800 mg over 46 h -> 2,400 mg
    plan = expand(
        load("mfolfox6"),
        make_patient(bsa=2),
        cycles=1,
        options=ClinicalOptions(dpyd=read_dpyd("activity score 1")),
    )
    by = {}
    for r in plan.administrations:
        by[r.component] = by.get(r.component, Fraction(0)) + r.dose
    assert by["fluorouracil-bolus"] == 400
    assert by["fluorouracil-pump"] == 2400
    assert by["oxaliplatin"] == 170  # 85 × 2: not a fluoropyrimidine, unchanged
    bolus = next(r for r in plan.administrations if r.component == "fluorouracil-bolus")
    assert (
        "DPYD intermediate metabolizer (activity score 1): 50 % of the dose (reduced by 50 %) (CPIC"
        in bolus.calculation
    )
    assert bolus.calculation.endswith("800 mg → 400 mg")


def test_dpyd_on_the_command_line_and_poor_metabolizer_refused() -> None:
    code, out = run("expand", "mfolfox6", "--bsa", "2", "--cycles", "1", "--dpyd", "intermediate", "--format", "csv")
    assert code == 0, out
    assert ",fluorouracil-bolus,400," in out
    code, out = run("expand", "mfolfox6", "--bsa", "2", "--dpyd", "activity score 0.5")
    assert code == 1 and "avoid fluorouracil" in out
    code, out = run("expand", "r-chop-21", "--bsa", "2", "--dpyd", "1")
    assert code == 1 and "no fluoropyrimidine" in out


def test_cisplatin_hydration_comes_before_cisplatin_and_outside_the_totals() -> None:
    plan = expand(load("cisplatin-etoposide"), make_patient(bsa="1.8"), cycles=1)
    day1 = [r.component for r in plan.administrations if r.day == 1]
    assert [c for c in day1 if c not in ("aprepitant", "ondansetron", "dexamethasone")] == [
        "prehydration", "mannitol", "cisplatin", "etoposide", "posthydration"
    ]  # fmt: skip
    pre = plan.administrations[0]
    assert (pre.role, pre.dose, pre.dose_unit, pre.rate) == ("supportive", 500, "mL", 500)  # 500 mL over 60 min
    assert "potassium chloride 10 mEq, magnesium sulfate 8 mEq added" in pre.calculation
    course = {t.drug: t.amount for t in plan.totals if t.cycle is None}
    assert course == {"cisplatin": Fraction(144), "etoposide": Fraction(540)}  # 80 × 1.8; 100 × 1.8 × 3 days


def test_supportive_rows_carry_their_role_in_csv_json_and_the_table() -> None:
    _, out = run("expand", "r-chop-21", "--bsa", "1.8", "--cycles", "1", "--format", "json")
    data = json.loads(out)
    roles = {r["component"]: r["role"] for r in data["administrations"]}
    assert roles["paracetamol"] == "supportive" and roles["rituximab"] == "anticancer"
    assert [t["drug"] for t in data["totals"]["course"]] == [
        "rituximab",
        "cyclophosphamide",
        "doxorubicin",
        "vincristine",
        "prednisone",
    ]
    assert data["protocol"]["requirements"][0]["id"] == "hepatitis-b"
    _, out = run("expand", "r-chop-21", "--bsa", "1.8", "--cycles", "1")
    assert "paracetamol [supportive]" in out
    assert "[supportive]: supportive care, not counted in the totals below" in out
    assert "before the first dose: hepatitis B status (screen), before rituximab" in out


def test_premedication_ends_its_gap_before_the_drug_starts() -> None:
    _, out = run(
        "expand",
        "r-chop-21",
        "--bsa",
        "1.8",
        "--cycles",
        "1",
        "--start",
        "2027-01-04",
        "--time",
        "09:00",
        "--tz",
        "UTC",
        "--format",
        "json",
    )
    rows = {r["component"]: r for r in json.loads(out)["administrations"] if r["day"] == 1}
    assert rows["paracetamol"]["start"] == "2027-01-04T08:30:00+00:00"  # 30 min before rituximab at 09:00
    assert rows["paracetamol"]["time_note"] == "ends 30 min before rituximab starts"
    assert rows["rituximab"]["start"] == "2027-01-04T09:00:00+00:00"


# ---- the file format ----------------------------------------------------------------------------------------

BASE = """
id = "t"
name = "T"
cycle_length = 21
[[source]]
citation = "x"
[[component]]
id = "cisplatin"
drug = "cisplatin"
dose = "75 mg/m²"
route = "IV"
days = "1"
"""


def test_supportive_fields_are_checked() -> None:
    with pytest.raises(RegimenFileError) as info:
        load_text(BASE + '[[component]]\ndrug = "ondansetron"\ndose = "8 mg"\nrole = "supportive"\ndays = "1"\n')
    assert "supportive care needs its kind" in str(info.value)
    with pytest.raises(RegimenFileError) as info:
        load_text(
            BASE
            + '[[component]]\ndrug = "x"\nrole = "supportive"\nkind = "hydration"\ndays = "1"\n'
            + 'before = "nope"\nvolume = "1 L"\n'
        )
    assert "before 'nope' is not a component here" in str(info.value)
    etoposide = '[[component]]\ndrug = "etoposide"\ndose = "100 mg/m²"\ndays = "1-3"\n'
    peg = '[[component]]\ndrug = "peg"\ndose = "6 mg"\nrole = "supportive"\nkind = "growth factor"\n'
    peg += 'after_last = "etoposide"\n'
    with pytest.raises(RegimenFileError) as info:
        load_text(BASE + etoposide + peg + 'days = "2"\ngap = "24 h"\n')
    assert "day 2 is before the last dose of etoposide (day 3)" in str(info.value)
    assert load_text(BASE + etoposide + peg + 'days = "4"\ngap = "24 h"\n').phases[0].component("peg").after_last
    ok = load_text(
        BASE + '[[component]]\ndrug = "saline"\nrole = "supportive"\nkind = "hydration"\nvolume = "1 L"\n'
        'method = "infusion"\n'
        'duration = "2 h"\ndays = "1"\nbefore = "cisplatin"\n'
    )
    saline = ok.phases[0].component("saline")
    assert saline.dose.value == 1000 and saline.dose.unit.output_unit == "mL"  # 1 L = 1,000 mL


def test_gates_and_modifications_are_checked() -> None:
    with pytest.raises(RegimenFileError) as info:
        load_text(BASE + '[[gate]]\nrequire = "anc >= 1.5 persistent"\nsource = "s"\n')
    assert "'persistent' qualifies a toxicity grade" in str(info.value)
    with pytest.raises(RegimenFileError) as info:
        load_text(
            BASE + '[[modification]]\nwhen = "anc < 1.5"\naction = "reduce"\ndrugs = ["cisplatin"]\nsource = "s"\n'
        )
    assert "a reduction gives exactly one of level" in str(info.value)
    with pytest.raises(RegimenFileError) as info:
        load_text(BASE + '[[modification]]\nwhen = "anc < 1.5"\naction = "delay"\nsource = "s"\n')
    assert "a delay says how long" in str(info.value)


def test_after_delays_turns_to_the_then_step() -> None:
    reg = load_text(
        BASE
        + '[[gate]]\nrequire = "platelets >= 100"\nsource = "s"\n'
        + '[[modification]]\nwhen = "platelets < 100"\naction = "delay"\ndelay = "1 week"\nsource = "s"\n'
        + 'after_delays = 2\nthen = { action = "reduce", drugs = ["cisplatin"], dose_percent = "75%" }\n'
    )
    values = {"platelets": read("platelets", "90")}
    first = evaluate(reg, 2, values)
    assert (first.proposal, first.delay_days) == ("delay", 7)
    third = evaluate(reg, 2, values, {"platelets < 100 ×10⁹/L": 2})
    assert third.proposal == "reduce"
    assert "give cisplatin at 75 % of the dose (after 2 delays for it)" in third.drugs[0].line()


def test_a_gate_not_met_without_a_rule_waits_for_the_prescriber() -> None:
    reg = load_text(BASE + '[[gate]]\nrequire = "bilirubin <= 1.5 x ULN"\nsource = "s"\n')
    found = evaluate(reg, 2, {"bilirubin": read("bilirubin", "2 x ULN")})
    assert found.proposal == "delay" and found.delay_days is None
    assert "gives no rule" in found.notes[0]


# ---- units of lab values ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("test", "raw", "value"),
    [
        ("anc", "1.2", Fraction(6, 5)),
        ("anc", "1200 cells/mm³", Fraction(6, 5)),  # 1,200 /mm³ = 1.2 ×10⁹/L
        ("platelets", "90 x10^9/L", Fraction(90)),
        ("hb", "9.5 g/dL", Fraction(95)),  # × 10
        ("bilirubin", "1.2 mg/dL", Fraction(2052, 100)),  # × 17.1 = 20.52 µmol/L
        ("creatinine", "1 mg/dL", Fraction(8842, 100)),  # × 88.42
    ],
)
def test_lab_units_are_converted_exactly(test: str, raw: str, value: Fraction) -> None:
    assert read(test, raw).value == value


@pytest.mark.parametrize(
    ("test", "raw", "slip"),
    [("platelets", "90000", "90,000 /µL, which is 90 ×10⁹/L"), ("hb", "9.5", "9.5 g/dL, which is 95 g/L")],
)
def test_implausible_values_name_the_slip(test: str, raw: str, slip: str) -> None:
    with pytest.raises(LabError, match=slip):
        read(test, raw)


# ---- requirements and dose intensity ------------------------------------------------------------------------


def test_first_dose_waits_for_every_requirement() -> None:
    reg = load("r-chop-21")
    statuses = requirement_status(reg, {"hepatitis-b": Recorded("met", "HBsAg and anti-HBc negative")})
    assert [s.status for s in statuses] == ["met", "not recorded"]
    assert not first_dose_allowed(statuses)
    statuses = requirement_status(
        reg, {"hepatitis-b": Recorded("met"), "lvef": Recorded("waived", "echo booked, prescriber accepts")}
    )
    assert first_dose_allowed(statuses)
    with pytest.raises(PretreatmentError, match="only with a reason"):
        Recorded("waived")
    mf = requirement_status(load("mfolfox6"), {}, read_dpyd("normal"))
    assert mf[0].status == "met" and mf[0].detail == "DPYD normal metabolizer"


def test_relative_dose_intensity_counts_delays_and_reductions() -> None:
    # planned: 2 cycles of cisplatin 150 mg every 21 days = 300 mg over 42 days (50 mg/week)
    # given: 150 mg, then 112.5 mg (75 %) a week late: 262.5 mg over 49 days (37.5 mg/week) -> 75 %
    reg = load_text(BASE.replace("cycle_length = 21", "cycle_length = 21\ncycles = 2"))
    plan = expand(reg, make_patient(bsa=2))
    given = [plan.administrations[0], plan.administrations[1].moved(dose=Fraction(225, 2))]
    (found,) = dose_intensity(plan.administrations, 42, given, 49)
    assert found.rdi == Fraction(3, 4)
    assert found.working().endswith("= 75 % (RDI)")


def test_bundled_regimens_still_load(tmp_path: Path) -> None:
    for name in ("mfolfox6", "r-chop-21", "cisplatin-etoposide"):
        assert load(name).id == name
