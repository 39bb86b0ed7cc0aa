"""Gates and modifications of one phase (issue 27): dd-AC→T's AC cycles and paclitaxel cycles have rules of their
own, and a cycle is checked against its own phase's rules only. Every figure is worked out by hand beside it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from regimen import load
from regimen.cli import cli
from regimen.clinical.gates import GateError, evaluate
from regimen.engine.courses.replay import checked
from regimen.errors import RegimenFileError
from regimen.protocol.loader import load_text
from regimen.quantities.labs import LabValue, read

DDACT = ("--bsa", "1.8", "--weight", "70", "--age", "50", "--sex", "female", "--start", "2026-12-01")

HEAD = 'id = "two"\nname = "Two phases"\n[[source]]\ncitation = "test"\n'


def phase(ident: str, drug: str, dose: str) -> str:
    return f'[[phase]]\nid = "{ident}"\ncycle_length = 14\ncycles = 2\n[[phase.component]]\ndrug = "{drug}"\n' + (
        f'dose = "{dose}"\ndays = "1"\n'
    )


TWO_PHASES = HEAD + phase("a", "doxorubicin", "60 mg/m²") + phase("b", "paclitaxel", "175 mg/m²")


def values(**typed: str) -> dict[str, LabValue]:
    return {test: read(test, raw) for test, raw in typed.items()}


def ok(db: Path, *args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--db", str(db)])
    assert result.exit_code == 0, result.output
    return result


# ---- dd-AC→T: each phase's own rules -----------------------------------------------------------------------


def test_an_ac_cycle_with_anc_0_9_fails_the_ac_gate_and_not_the_paclitaxel_ones() -> None:
    """AC phase: ANC >= 1,000 /mm³ = 1 ×10⁹/L (doxorubicin label); 0.9 < 1: not met, and the table gives no rule
    for it: the cycle waits (delay, no interval). Only AC's two gates are shown, and only AC's drugs."""
    found = evaluate(load("dd-ac-t"), 2, values(anc="0.9", platelets="150"), phase="ac")
    assert found.proposal == "delay" and found.delay_days is None and found.label == "ac:2"
    assert [c.condition.text for c in found.checks] == ["anc >= 1 ×10⁹/L", "platelets >= 100 ×10⁹/L"]
    assert [c.met for c in found.checks] == [False, True]
    assert "doxorubicin prescribing information" in found.checks[0].source
    assert [d.component for d in found.drugs] == ["doxorubicin", "cyclophosphamide"]  # no paclitaxel
    assert "anc >= 1 ×10⁹/L" in found.notes[-1]


def test_anc_1_2_meets_the_ac_gate_and_fails_the_paclitaxel_gate() -> None:
    """1.2 >= 1 (AC: go); 1.2 is not > 1.5 (paclitaxel label: the cycle waits)."""
    reg = load("dd-ac-t")
    assert evaluate(reg, 2, values(anc="1.2", platelets="150"), phase="ac").proposal == "go"
    taxane = evaluate(reg, 2, values(anc="1.2", platelets="150"), phase="paclitaxel")
    assert taxane.proposal == "delay"
    assert [c.condition.text for c in taxane.checks] == ["anc > 1.5 ×10⁹/L", "platelets > 100 ×10⁹/L"]


def test_grade_3_neuropathy_reduces_paclitaxel_in_its_phase_and_nothing_in_the_ac_phase() -> None:
    reg = load("dd-ac-t")
    taxane = evaluate(reg, 2, values(anc="1.8", platelets="150", neuropathy="3"), phase="paclitaxel")
    assert taxane.proposal == "reduce"
    assert [(d.component, d.proposal) for d in taxane.drugs] == [("paclitaxel", "reduce")]
    assert "give paclitaxel at 80 % of the dose" in taxane.drugs[0].line()
    ac = evaluate(reg, 2, values(anc="1.8", platelets="150", neuropathy="3"), phase="ac")
    assert ac.proposal == "go" and not ac.fired  # the paclitaxel rule is not the AC phase's


def test_a_check_of_a_regimen_of_phases_names_the_phase() -> None:
    reg = load("dd-ac-t")
    with pytest.raises(GateError, match=r"dd-ac-t has phases \(ac, paclitaxel\).*ac:1"):
        evaluate(reg, 2, values(anc="2"))
    with pytest.raises(GateError, match="no phase 'taxol'"):
        evaluate(reg, 2, values(anc="2"), phase="taxol")


def test_regimen_check_takes_phase_n() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["check", "dd-ac-t", "--cycle", "paclitaxel:2", "--anc", "1.2", "--format", "json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert (record["phase"], record["cycle"], record["proposal"]) == ("paclitaxel", 2, "delay")
    assert [c["require"] for c in record["checks"]] == ["anc > 1.5 ×10⁹/L", "platelets > 100 ×10⁹/L"]
    refused = runner.invoke(cli, ["check", "dd-ac-t", "--cycle", "5", "--anc", "1.2"])
    assert refused.exit_code == 1 and "write PHASE:N, e.g. ac:5" in refused.output
    text = runner.invoke(cli, ["check", "dd-ac-t", "--cycle", "ac:3", "--anc", "0.9"]).output
    assert text.startswith("dd-ac-t, cycle ac:3: DELAY")


def test_course_check_of_a_dd_ac_t_course_uses_the_cycles_phase(tmp_path: Path) -> None:
    """Paclitaxel 175 mg/m² × 1.8 m² = 315 mg; the monograph's 80 %: 252 mg, from paclitaxel cycle 2 on. The AC
    doses (doxorubicin 60 × 1.8 = 108 mg) are untouched."""
    db = tmp_path / "c.db"
    ok(db, "course", "start", "dd-ac-t", "--course", "d1", *DDACT)
    shown = ok(db, "course", "check", "d1", "--cycle", "ac:2", "--anc", "0.9", "--plt", "150").stdout
    assert shown.startswith("dd-ac-t, cycle ac:2: DELAY")
    assert "needs anc >= 1 ×10⁹/L: NOT MET" in shown and "1.5" not in shown
    check = ("course", "check", "d1", "--cycle", "paclitaxel:2", "--anc", "1.8", "--plt", "150", "--neuropathy", "3")
    assert "paclitaxel: REDUCE — if neuropathy grade >= 3" in ok(db, *check).stdout
    ok(db, *check, "--accept")
    rows = json.loads(ok(db, "course", "show", "d1", "--format", "json").stdout)["rows"]
    taxane = [r["dose_exact"] for r in rows if r["drug"] == "paclitaxel"]
    assert taxane == ["315", "252", "252", "252"]
    assert [r["dose_exact"] for r in rows if r["drug"] == "doxorubicin"] == ["108"] * 4


# ---- the file format ----------------------------------------------------------------------------------------------


def test_phases_name_the_regimens_phases_and_scope_the_drugs() -> None:
    def problems(extra: str, base: str = TWO_PHASES) -> str:
        with pytest.raises(RegimenFileError) as info:
            load_text(base + extra)
        return str(info.value)

    assert "'c' is not a phase of this regimen; use one of a, b" in problems(
        '[[gate]]\nrequire = "anc >= 1"\nphases = ["c"]\nsource = "s"\n'
    )
    # the paclitaxel phase's rule cannot reduce doxorubicin, a drug of the other phase
    assert "'doxorubicin' is not a component or drug of this regimen" in problems(
        '[[modification]]\nwhen = "neuropathy >= 3"\nphases = ["b"]\naction = "omit"\ndrugs = ["doxorubicin"]\n'
        'source = "s"\n'
    )
    one_phase = HEAD + phase("a", "doxorubicin", "60 mg/m²")  # one [[phase]] of its own: its id is named
    assert (
        "'c' is not a phase of this regimen; use one of a\n"
        in problems('[[gate]]\nrequire = "anc >= 1"\nphases = ["c"]\nsource = "s"\n', one_phase) + "\n"
    )
    plain = 'id = "p"\nname = "P"\n[[source]]\ncitation = "t"\n[[component]]\ndrug = "x"\ndose = "1 mg"\ndays = "1"\n'
    assert "the regimen has no [[phase]] tables" in problems(
        '[[gate]]\nrequire = "anc >= 1"\nphases = ["main"]\nsource = "s"\n', plain
    )
    reg = load_text(TWO_PHASES + '[[gate]]\nrequire = "anc >= 1"\nphases = ["b"]\nsource = "s"\n')
    assert reg.gates[0].phases == ("b",)


def test_a_phase_without_gates_is_not_flagged_unchecked() -> None:
    """Only phase b has a gate: a cycle of phase a has nothing to check (checked); one of phase b is unchecked until
    a check is recorded."""
    reg = load_text(TWO_PHASES + '[[gate]]\nrequire = "anc >= 1"\nphases = ["b"]\nsource = "s"\n')
    assert checked(reg, {}, ("a", 2)) is True
    assert checked(reg, {}, ("b", 1)) is False


# ---- mFOLFOX6's count gates, and a rule for one drug does not answer a gate for all ---------------------------------


@pytest.mark.parametrize(
    ("anc", "platelets", "proposal"),
    [
        ("1.5", "75", "go"),  # both on the threshold: >= holds (oxaliplatin US label, adjuvant table)
        ("1.2", "150", "delay"),  # 1.2 < 1.5: the cycle waits (the label gives no interval)
        ("2", "70", "delay"),  # 70 < 75 (the EU text's 50 is not followed)
        ("2", "80", "go"),
    ],
)
def test_mfolfox6_cycle_waits_below_the_oxaliplatin_labels_counts(anc: str, platelets: str, proposal: str) -> None:
    found = evaluate(load("mfolfox6"), 2, values(anc=anc, platelets=platelets))
    assert found.proposal == proposal
    assert found.delay_days is None
    assert [c.condition.text for c in found.checks] == ["anc >= 1.5 ×10⁹/L", "platelets >= 75 ×10⁹/L"]


def test_anc_0_4_omits_the_bolus_and_still_holds_the_cycle_back() -> None:
    """The mFOLFOX6 table omits the 5-FU bolus below 0.5 ×10⁹/L; it says nothing of oxaliplatin, so the label's
    gate (>= 1.5) still holds the cycle: DELAY, with the bolus's omission shown."""
    found = evaluate(load("mfolfox6"), 2, values(anc="0.4", platelets="150"))
    assert found.proposal == "delay"
    assert {d.component: d.proposal for d in found.drugs}["fluorouracil-bolus"] == "omit"
    assert [c.condition.text for c in found.unmatched] == ["anc >= 1.5 ×10⁹/L"]


def test_a_table_that_answers_for_every_drug_covers_its_gate() -> None:
    """Gemcitabine's label table holds gemcitabine (its one drug) below 0.5 ×10⁹/L: the table answers the gate."""
    found = evaluate(load("gemcitabine-d1-8-15"), 1, values(anc="0.4", platelets="150"))
    assert found.proposal == "omit" and not found.unmatched


def test_a_phase_without_gates_says_so(tmp_path: Path) -> None:
    path = tmp_path / "two.toml"
    path.write_text(TWO_PHASES + '[[gate]]\nrequire = "anc >= 1"\nphases = ["b"]\nsource = "s"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["check", str(path), "--cycle", "a:2", "--anc", "0.5"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("two, cycle a:2: GO")  # 0.5 < 1, but the gate is phase b's
    assert "- the regimen states no gates for the a phase" in result.output


@pytest.mark.parametrize(
    ("anc", "platelets", "proposal"),
    [
        ("1.5", "75", "go"),  # grade 1 at most for both (NCI grading: grade 2 below 1.5 and below 75)
        ("1.49", "150", "delay"),  # neutropenia grade 2
        ("2.0", "74", "delay"),  # thrombocytopenia grade 2
    ],
)
def test_folfiri_counts_are_the_smpc_grade_1_bounds(anc: str, platelets: str, proposal: str) -> None:
    """The irinotecan SmPC gives the next cycle after recovery of all adverse events to grade 0 or 1 (NCI-CTC):
    neutrophils >= 1.5 and platelets >= 75 x 10^9/L are that grade's bounds."""
    found = evaluate(load("folfiri"), 2, values(anc=anc, platelets=platelets, diarrhoea="0", nonhaem="0"))
    assert found.proposal == proposal
    assert "anc >= 1.5 ×10⁹/L" in [c.condition.text for c in found.checks]
    assert "platelets >= 75 ×10⁹/L" in [c.condition.text for c in found.checks]


def test_under_a_cycle_that_waits_no_drug_reads_go() -> None:
    """A tired reader sees 'DELAY' above and must not see 'irinotecan: go' below it: a drug no rule touches waits
    with the cycle, and says which gate holds it; a drug a rule omits still says so (mFOLFOX6, ANC 0.4)."""
    shown = CliRunner().invoke(cli, ["check", "folfiri", "--cycle", "2", "--anc", "1.2", "--platelets", "150"]).output
    assert shown.startswith("folfiri, cycle 2: DELAY")
    assert ": go" not in shown
    assert "- irinotecan: WAITS with the cycle (anc >= 1.5 ×10⁹/L not met)" in shown
    shown = CliRunner().invoke(cli, ["check", "mfolfox6", "--cycle", "2", "--anc", "0.4", "--platelets", "150"]).output
    assert "- oxaliplatin: WAITS with the cycle (anc >= 1.5 ×10⁹/L not met)" in shown
    assert "- fluorouracil-bolus: OMIT — if anc < 0.5 ×10⁹/L" in shown
    shown = CliRunner().invoke(cli, ["check", "folfiri", "--cycle", "2", "--anc", "1.6", "--platelets", "150"]).output
    assert "- irinotecan: go" in shown and "WAITS" not in shown


def test_the_json_check_says_which_drugs_wait_with_the_cycle() -> None:
    out = CliRunner().invoke(
        cli, ["check", "mfolfox6", "--cycle", "2", "--anc", "0.4", "--platelets", "150", "--format", "json"]
    )
    drugs = {d["component"]: d for d in json.loads(out.output)["drugs"]}
    assert drugs["oxaliplatin"]["waits_with_cycle"] is True and drugs["oxaliplatin"]["proposal"] == "go"
    assert drugs["oxaliplatin"]["text"] == "oxaliplatin: WAITS with the cycle (anc >= 1.5 ×10⁹/L not met)"
    bolus = drugs["fluorouracil-bolus"]
    assert bolus["waits_with_cycle"] is False and bolus["proposal"] == "omit"


@pytest.mark.parametrize(("crcl", "proposal"), [("44", "delay"), ("45", "reduce"), ("59", "reduce"), ("60", "go")])
def test_cisplatin_etoposide_waits_below_the_bc_cancer_tables_45_ml_min(crcl: str, proposal: str) -> None:
    """BC Cancer LUMMPG: below 45 mL/min hold cisplatin, delay with IV fluids or change to carboplatin (the
    prescriber's choice: no rule, so the cycle waits; the renal rows answer no gate); 45 to under 60 is the renal
    table's 80 % of cisplatin, proposed as the plan applies it (with etoposide's 75 % up to 50 mL/min); from 60, go.
    In a course whose doses already have the row, it is not proposed again (tests/test_course_check.py)."""
    found = evaluate(load("cisplatin-etoposide"), 2, values(crcl=crcl, anc="2", platelets="150"))  # counts met
    assert found.proposal == proposal
    assert [c.condition.text for c in found.checks] == [
        "crcl >= 45 mL/min",
        "anc >= 1.5 ×10⁹/L",
        "platelets >= 100 ×10⁹/L",
    ]
    risk = load("cisplatin-etoposide").emetogenic_risk
    assert risk is not None and risk.level == "high"  # ASCO 2011 Table 3: cisplatin high
