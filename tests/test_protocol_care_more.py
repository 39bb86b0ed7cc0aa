"""Issue 27 item 4: CAPOX, FOLFIRI, gemcitabine days 1, 8, 15 and 7+3 carry their cited supportive care,
requirements, gates and modification tables, and a person running the tool gets the cited action.

Every expected figure is worked out by hand in the comment beside it. The tests' today is 2026-12-06 (conftest).
"""

from __future__ import annotations

import datetime as dt
import json
from fractions import Fraction
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from regimen import ClinicalOptions, expand, load, make_patient
from regimen.cli.app import cli
from regimen.clinical.pretreatment import read_dpyd

RUN = CliRunner()
#: Cockcroft-Gault: (140 − 60) × 72 / (72 × 2) = 40 mL/min exactly.
CRCL_40 = ("--age", "60", "--sex", "male", "--weight", "72", "--scr", "2")


def cli_run(*args: str) -> tuple[int, str]:
    result = RUN.invoke(cli, list(args))
    return result.exit_code, result.output


def ok(db: Path, *args: str) -> str:
    result = RUN.invoke(cli, [*args, "--db", str(db)])
    assert result.exit_code == 0, result.output
    return result.output


def by_component(regimen_id: str, **options: Any) -> dict[str, list[Fraction]]:
    plan = expand(load(regimen_id), make_patient(bsa="1.8"), cycles=1, options=ClinicalOptions(**options))
    out: dict[str, list[Fraction]] = {}
    for row in plan.administrations:
        out.setdefault(row.component, []).append(row.dose)
    return out


# ---- doses the requirements and renal table change ----------------------------------------------------------------


def test_capox_crcl_40_gives_capecitabine_75_percent_of_1000_mg_m2() -> None:
    # 1,000 mg/m² × 1.8 m² = 1,800 mg per dose; CrCl 40 is in 30–50: 75 % = 1,350 mg (the file sets no rounding)
    code, out = cli_run("expand", "capox", "--bsa", "1.8", *CRCL_40, "--cycles", "1", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    cape = [r for r in data["administrations"] if r["component"] == "capecitabine"]
    assert len(cape) == 28  # twice daily on days 1-14
    assert {r["dose_exact"] for r in cape} == {"1350"}
    assert "CrCl 40 mL/min (Cockcroft–Gault) is 30–50 mL/min: 75 % of the dose" in cape[0]["calculation"]
    assert cape[0]["calculation"].endswith("1,800 mg → 1,350 mg")
    oxali = [r for r in data["administrations"] if r["component"] == "oxaliplatin"]
    assert [r["dose_exact"] for r in oxali] == ["234"]  # 130 × 1.8: no renal table


def test_capox_dpyd_intermediate_metabolizer_gets_half_the_capecitabine() -> None:
    # CPIC: intermediate metabolizer 50 %: 1,800 mg → 900 mg per dose; oxaliplatin 234 mg unchanged
    doses = by_component("capox", dpyd=read_dpyd("intermediate"))
    assert set(doses["capecitabine"]) == {Fraction(900)} and len(doses["capecitabine"]) == 28
    assert doses["oxaliplatin"] == [Fraction(234)]
    assert doses["dexamethasone"] == [Fraction(8)]  # supportive care: not a fluoropyrimidine, unchanged


def test_folfiri_dpyd_intermediate_halves_both_fluorouracil_components_only() -> None:
    # 400 mg/m² × 1.8 = 720 mg → 360 mg; pump 2,400 × 1.8 = 4,320 mg over 46 h → 2,160 mg; irinotecan 324 mg unchanged
    doses = by_component("folfiri", dpyd=read_dpyd("activity score 1.5"))
    assert doses["fluorouracil-bolus"] == [Fraction(360)]
    assert sum(doses["fluorouracil-pump"]) == 2160
    assert doses["irinotecan"] == [Fraction(324)]
    assert doses["leucovorin"] == [Fraction(720)]


# ---- supportive care in the plan ------------------------------------------------------------------------------------


def test_capox_antiemetics_are_timed_around_oxaliplatin_and_left_out_of_the_totals() -> None:
    code, out = cli_run(
        "expand", "capox", "--bsa", "1.8", "--cycles", "1", "--start", "2027-01-04", "--time", "09:00", "--tz", "UTC",
        "--format", "json",
    )  # fmt: skip
    assert code == 0, out
    data = json.loads(out)
    rows = {r["component"]: r for r in data["administrations"] if r["day"] == 1 and r["component"] != "capecitabine"}
    # NZ SRL: one hour before chemotherapy; oxaliplatin starts 09:00 and runs 2 h, so 8 h after it is 19:00
    assert rows["dexamethasone"]["start"] == "2027-01-04T08:00:00+00:00"
    assert rows["ondansetron"]["start"] == "2027-01-04T08:00:00+00:00"
    assert rows["ondansetron-evening"]["start"] == "2027-01-04T19:00:00+00:00"
    assert {rows[c]["role"] for c in ("dexamethasone", "ondansetron", "ondansetron-evening")} == {"supportive"}
    later = [r["day"] for r in data["administrations"] if r["component"] == "dexamethasone-days-2-3"]
    assert later == [2, 3]
    assert [t["drug"] for t in data["totals"]["course"]] == ["oxaliplatin", "capecitabine"]
    assert data["protocol"]["emetogenic_risk"]["level"] == "moderate"


def test_folfiri_atropine_precedes_irinotecan_and_its_dose_is_as_written() -> None:
    plan = expand(load("folfiri"), make_patient(bsa="1.8"), cycles=1)
    day1 = [r.component for r in plan.administrations if r.day == 1]
    assert day1.index("atropine") < day1.index("irinotecan")
    atropine = next(r for r in plan.administrations if r.component == "atropine")
    assert (atropine.role, atropine.dose, atropine.dose_unit) == ("supportive", 600, "mcg")  # 600 microgram flat


def test_each_regimen_states_its_cited_emetogenic_risk_and_requirements() -> None:
    expected = {
        "capox": ("moderate", ["dpyd"]),
        "folfiri": ("moderate", ["dpyd"]),
        "gemcitabine-d1-8-15": ("low", []),
        "7-plus-3": ("moderate", ["lvef"]),
    }
    for regimen_id, (level, requirements) in expected.items():
        reg = load(regimen_id)
        assert reg.emetogenic_risk is not None and reg.emetogenic_risk.level == level, regimen_id
        assert "ASCO" in reg.emetogenic_risk.source
        assert [r.id for r in reg.requirements] == requirements, regimen_id
        assert not any("not encoded" in n.lower() and "premedication" in n.lower() for n in reg.notes), regimen_id


# ---- the cycle check proposes the cited action --------------------------------------------------------------------


def test_gemcitabine_day_8_anc_0_8_gives_the_labels_75_percent() -> None:
    # label: ANC 500-999 ×10⁶/L (0.5–0.999 ×10⁹/L) → 75 % of the full dose; platelets 150 meet ≥ 100
    code, out = cli_run("check", "gemcitabine-d1-8-15", "--cycle", "1", "--anc", "800/µL", "--plt", "150")
    assert code == 0, out
    assert out.splitlines()[0] == "gemcitabine-d1-8-15, cycle 1: REDUCE"
    assert "anc 0.8 ×10⁹/L (800 /µL = 0.8 ×10⁹/L) — needs anc >= 1 ×10⁹/L: NOT MET" in out
    assert (
        "- gemcitabine: REDUCE — if anc >= 0.5 ×10⁹/L and anc < 1 ×10⁹/L: give gemcitabine at 75 % of the dose" in out
    )


def test_gemcitabine_platelets_40_holds_and_the_boundaries_are_the_labels() -> None:
    code, out = cli_run(
        "check", "gemcitabine-d1-8-15", "--cycle", "2", "--anc", "1.2", "--plt", "40", "--format", "json"
    )
    assert code == 0, out
    assert json.loads(out)["proposal"] == "omit"  # platelets < 50,000 ×10⁶/L: hold
    # ANC exactly 1.0 and platelets exactly 100 are the full dose; 0.5 and 50 are 75 %, not a hold
    _, out = cli_run("check", "gemcitabine-d1-8-15", "--cycle", "2", "--anc", "1.0", "--plt", "100", "--format", "json")
    assert json.loads(out)["proposal"] == "go"
    _, out = cli_run("check", "gemcitabine-d1-8-15", "--cycle", "2", "--anc", "0.5", "--plt", "50", "--format", "json")
    assert json.loads(out)["proposal"] == "reduce"


def test_capox_grade_3_hand_foot_reduces_capecitabine_only_and_grade_4_omits_it() -> None:
    code, out = cli_run("check", "capox", "--cycle", "3", "--anc", "2", "--plt", "200", "--crcl", "80",
                        "--hand-foot", "3", "--format", "json")  # fmt: skip
    assert code == 0, out
    by = {d["component"]: d for d in json.loads(out)["drugs"]}
    assert by["capecitabine"]["proposal"] == "reduce" and by["oxaliplatin"]["proposal"] == "go"
    assert "give capecitabine at 75 % of the dose" in by["capecitabine"]["rules"][0]["rule"]
    _, out = cli_run("check", "capox", "--cycle", "3", "--crcl", "80", "--diarrhoea", "4", "--format", "json")
    by = {d["component"]: d for d in json.loads(out)["drugs"]}
    assert by["capecitabine"]["proposal"] == "omit" and by["oxaliplatin"]["proposal"] == "go"


def test_course_check_capox_anc_1_2_waits_for_the_prescriber_and_accepted_25_percent_is_recorded(
    tmp_path: Path,
) -> None:
    db = tmp_path / "c.db"
    ok(db, "course", "start", "capox", "--course", "k1", "--bsa", "1.8", "--weight", "70", "--age", "60",
       "--sex", "male", "--start", "2026-12-01")  # fmt: skip
    # ANC 1.2 < 1.5 (capecitabine SmPC): no interval stated, so the cycle waits for the prescriber
    shown = ok(db, "course", "check", "k1", "--cycle", "2", "--anc", "1.2", "--plt", "200", "--scr", "1")
    assert shown.splitlines()[0] == "capox, cycle 2: DELAY"
    assert "needs anc >= 1.5 ×10⁹/L: NOT MET (Capecitabine SmPC 4.2" in shown
    assert "the cycle waits for the prescriber (anc >= 1.5 ×10⁹/L)" in shown
    # grade 3 hand-foot syndrome accepted: capecitabine 75 % of 1,800 = 1,350 mg in cycle 2, cycle 1 untouched
    ok(db, "course", "check", "k1", "--cycle", "2", "--anc", "2", "--plt", "200", "--scr", "1", "--hand-foot", "3",
       "--accept")  # fmt: skip
    rows = json.loads(ok(db, "course", "show", "k1", "--format", "json"))["rows"]
    cape = {r["cycle"]: r["dose_exact"] for r in rows if r["drug"] == "capecitabine" and r["day"] == 1}
    assert cape[1] == "1800" and cape[2] == "1350"


def test_course_check_folfiri_diarrhoea_grade_1_waits_as_the_smpc_says(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ok(db, "course", "start", "folfiri", "--course", "f1", "--bsa", "1.8", "--start", "2026-12-01", "--cycles", "2")
    shown = ok(db, "course", "check", "f1", "--cycle", "2", "--diarrhoea", "1", "--nonhaem", "0")
    assert shown.splitlines()[0] == "folfiri, cycle 2: DELAY"
    assert "diarrhoea grade 1 — needs diarrhoea grade = 0: NOT MET (Irinotecan SmPC 4.2" in shown
    assert "the cycle waits for the prescriber" in shown
    assert ok(db, "course", "check", "f1", "--cycle", "2", "--diarrhoea", "0", "--nonhaem", "1").splitlines()[0] == (
        "folfiri, cycle 2: GO"
    )


def test_course_check_folfiri_febrile_neutropenia_gives_irinotecan_dose_level_minus_1(tmp_path: Path) -> None:
    """Campto SmPC: 15-20 % less after febrile neutropenia; the US label's level -1 for 180 mg/m² is 150 mg/m².
    Accepted in cycle 2: irinotecan 150 mg/m² × 1.8 m² = 270 mg (cycle 1: 180 × 1.8 = 324 mg); the 5-FU bolus
    stays 400 × 1.8 = 720 mg (its reduction is the prescriber's: the note says why)."""
    db = tmp_path / "c.db"
    ok(db, "course", "start", "folfiri", "--course", "f2", "--bsa", "1.8", "--start", "2026-12-01", "--cycles", "3")
    args = ("course", "check", "f2", "--cycle", "2", "--diarrhoea", "0", "--nonhaem", "0", "--febrile-neutropenia", "3")
    shown = ok(db, *args)
    assert shown.splitlines()[0] == "folfiri, cycle 2: REDUCE"
    fired = "- irinotecan: REDUCE — if febrile_neutropenia grade >= 3: give irinotecan at dose level -1 (Campto SmPC"
    assert fired in shown
    assert "- fluorouracil-bolus: go" in shown
    assert "the 5-FU dose is the prescriber's" in shown
    ok(db, *args, "--accept")
    rows = json.loads(ok(db, "course", "show", "f2", "--format", "json"))["rows"]
    irinotecan = {r["cycle"]: r["dose_exact"] for r in rows if r["drug"] == "irinotecan"}
    bolus = {r["cycle"]: r["dose_exact"] for r in rows if r["component"] == "fluorouracil-bolus"}
    assert irinotecan == {1: "324", 2: "270", 3: "270"}
    assert bolus == {1: "720", 2: "720", 3: "720"}
    # no febrile neutropenia (grade 0): nothing fires, the cycle goes
    assert ok(db, *args[:-1], "0").startswith("folfiri, cycle 2: GO")


def test_course_check_gemcitabine_anc_0_4_proposes_the_labels_hold(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ok(
        db,
        "course",
        "start",
        "gemcitabine-d1-8-15",
        "--course",
        "g1",
        "--bsa",
        "1.8",
        "--start",
        "2026-12-01",
        "--cycles",
        "2",
    )
    shown = ok(db, "course", "check", "g1", "--cycle", "2", "--anc", "0.4", "--plt", "120")
    assert shown.splitlines()[0] == "gemcitabine-d1-8-15, cycle 2: OMIT"
    assert "if anc < 0.5 ×10⁹/L: omit gemcitabine this cycle (Gemcitabine US PI 2.4 (pancreatic)" in shown


def test_course_check_of_a_regimen_with_nothing_to_check_says_so(tmp_path: Path) -> None:
    # cenersen arm 1 states no gate, no modification table and no renal table (7+3 did, until it carried
    # daunorubicin's hepatic and renal rows: tests/test_reference_care_7_plus_3.py)
    db = tmp_path / "c.db"
    ok(db, "course", "start", "cenersen-arm1", "--course", "a1", "--bsa", "1.8", "--weight", "70",
       "--start", "2026-12-01")  # fmt: skip
    result = RUN.invoke(cli, ["course", "check", "a1", "--cycle", "1", "--anc", "0.3", "--db", str(db)])
    assert result.exit_code == 1
    assert "cenersen-arm1 states no gates, no modification table and no renal table" in result.output
    assert "Traceback" not in result.output


def test_course_check_7_plus_3_holds_induction_for_no_count(tmp_path: Path) -> None:
    # no count gate by design (see the next test): an ANC of 0.3 is read by no rule and holds nothing
    db = tmp_path / "c.db"
    ok(db, "course", "start", "7-plus-3", "--course", "a1", "--bsa", "1.8", "--start", "2026-12-01")
    result = RUN.invoke(cli, ["course", "check", "a1", "--cycle", "1", "--anc", "0.3", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "7-plus-3, cycle 1: GO" in result.output
    assert "read by no gate or rule of 7-plus-3, so not holding the cycle: anc 0.3 ×10⁹/L" in result.output


def test_7_plus_3_says_with_its_sources_why_it_has_no_count_gate() -> None:
    code, out = cli_run("show", "7-plus-3")
    assert code == 0, out
    assert "No blood-count gate, by design: the leukaemia itself lowers the counts" in out
    assert "leading to pancytopenia" in out and "Empty" in out
    regimen = load("7-plus-3")
    assert not regimen.gates  # a note, not a gate: induction is not held for the counts the leukaemia causes
    cited = " ".join(s.citation for s in regimen.sources)
    assert "Acute myeloid leukaemia: clinical review" in cited and "Remission induction" in cited


def test_7_plus_3_first_dose_waits_for_the_lvef(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    ok(db, "course", "start", "7-plus-3", "--course", "a1", "--bsa", "1.8", "--start", "2026-12-01")
    give = ("course", "given", "a1", "--cycle", "1", "--day", "1", "--drug", "daunorubicin", "--dose", "108 mg")
    refused = RUN.invoke(cli, [*give, "--db", str(db)])
    assert refused.exit_code == 1 and "baseline cardiac function" in refused.output
    ok(db, "course", "requirement", "a1", "--id", "lvef", "--status", "met", "--result", "LVEF 60 %")
    ok(db, *give)  # 60 mg/m² × 1.8 m² = 108 mg


def test_course_check_capox_neuropathy_grade_2_proposes_the_xeloxa_23_percent_reduction(tmp_path: Path) -> None:
    """Schmoll 2007 (XELOXA): oxaliplatin reduced by 23 % for painful or function-impairing paresthesias lasting
    over 7 days, proposed at grade 2 with the source's criterion shown for the prescriber to confirm. Accepted:
    oxaliplatin 130 mg/m² × 1.8 m² = 234 mg in cycle 1; 77 % of 234 mg = 180.18 mg from cycle 2 (no rounding stated
    in the file); capecitabine unchanged (1,800 mg)."""
    db = tmp_path / "c.db"
    ok(db, "course", "start", "capox", "--course", "k2", "--bsa", "1.8", "--weight", "70", "--age", "60",
       "--sex", "male", "--start", "2026-12-01")  # fmt: skip
    args = ("course", "check", "k2", "--cycle", "2", "--anc", "2", "--plt", "200", "--scr", "1", "--neuropathy", "2")
    shown = ok(db, *args)
    assert shown.splitlines()[0] == "capox, cycle 2: REDUCE"
    assert "oxaliplatin: REDUCE — if neuropathy grade >= 2: give oxaliplatin at 77 % of the dose (Schmoll 2007" in shown
    assert "the prescriber confirms that the paresthesias are painful or impair function for more than 7 days" in shown
    assert "- capecitabine: go" in shown
    ok(db, *args, "--accept")
    rows = json.loads(ok(db, "course", "show", "k2", "--format", "json"))["rows"]
    oxali = {r["cycle"]: r["dose_exact"] for r in rows if r["drug"] == "oxaliplatin"}
    cape = {r["cycle"]: r["dose_exact"] for r in rows if r["drug"] == "capecitabine" and r["day"] == 1}
    assert oxali[1] == "234" and oxali[2] == "180.18" and oxali[3] == "180.18"
    assert cape[1] == cape[2] == "1800"
    grade_1 = ok(db, *args[:-1], "1")  # the same values with neuropathy grade 1
    assert grade_1.startswith("capox, cycle 2: GO")


def test_7_plus_3_gives_the_cited_protocols_antiemetics_on_each_of_its_7_days() -> None:
    # Hospital Erasto Gaertner "Protocolo 7+3": dexamethasone 10 mg IV over 15 min, then ondansetron 8 mg IV over
    # 15 min, D1 to D7, listed before daunorubicin (D1-D3). Daunorubicin at 09:00 on days 1-3: ondansetron 08:45-09:00,
    # dexamethasone 08:30-08:45 (no interval stated, so each ends as the next starts). Days 4-7 (no daunorubicin, no
    # time stated): dexamethasone 09:00-09:15, ondansetron 09:15-09:30. Flat doses: 10 mg and 8 mg at any BSA.
    plan = expand(load("7-plus-3"), make_patient(bsa="1.8"), cycles=1, start=dt.date(2026, 12, 7),
                  time=dt.time(9, 0), tz="UTC")  # fmt: skip
    rows = [
        (r.day, r.drug, r.dose, r.dose_unit, r.route, r.start.strftime("%H:%M"), r.end.strftime("%H:%M"))
        for r in plan.administrations
        if r.drug in ("dexamethasone", "ondansetron") and r.start is not None and r.end is not None
    ]
    early = [(d, "dexamethasone", 10, "mg", "IV", "08:30", "08:45") for d in (1, 2, 3)]
    early += [(d, "ondansetron", 8, "mg", "IV", "08:45", "09:00") for d in (1, 2, 3)]
    late = [(d, "dexamethasone", 10, "mg", "IV", "09:00", "09:15") for d in (4, 5, 6, 7)]
    late += [(d, "ondansetron", 8, "mg", "IV", "09:15", "09:30") for d in (4, 5, 6, 7)]
    assert sorted(rows) == sorted(early + late)
    # the anticancer doses are unchanged and the antiemetics stay out of the totals: daunorubicin 60 × 1.8 = 108 mg
    # on each of days 1-3
    assert [r.dose for r in plan.administrations if r.drug == "daunorubicin"] == [108, 108, 108]
    assert all("dexamethasone" not in str(k) and "ondansetron" not in str(k) for k in plan.totals)


def test_7_plus_3_names_its_antiemetics_and_where_the_multiple_day_guideline_differs() -> None:
    code, out = cli_run("show", "7-plus-3")
    assert code == 0, out
    assert "encoded in this file: dexamethasone, ondansetron, dexamethasone-days-4-7, ondansetron-days-4-7." in out
    assert "not encoded in this file" not in out
    assert "- Ondansetron 8 mg IV infusion over 15 min, days 1\u20133, before daunorubicin" in out
    assert "- Dexamethasone 10 mg IV infusion over 15 min, days 4\u20137" in out
    # MASCC/ESMO 2016 add aprepitant for multiple-day chemotherapy; the protocol does not: the note says which one
    # the file follows
    assert "a 5-HT3 receptor antagonist, dexamethasone, and aprepitant ... before chemotherapy" in out
    assert "the protocol followed gives no aprepitant. The file follows the protocol's doses and days" in out
    regimen = load("7-plus-3")
    assert any("Erasto Gaertner" in s.citation for s in regimen.sources)
    assert any("multiple-day chemotherapy" in s.citation for s in regimen.sources)
