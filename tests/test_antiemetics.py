"""Issue 27 item 1: the antiemetics follow the regimen's emetogenic risk as the guidelines state it. Most files
encode no antiemetic (the libraries leave them to local policy): then `regimen show` says so and names what the
class calls for (MASCC/ESMO 2016, ASCO 2011), never a guessed dose."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

from click.testing import CliRunner

from regimen import expand, load, make_patient
from regimen.cli import cli
from regimen.engine.plan import Plan
from regimen.model import Administration, EmetogenicRisk
from regimen.protocol.antiemetics import antiemetic_lines

PATIENT = make_patient(weight="70", bsa="1.8", age="50")
START = dt.date(2026, 12, 7)
EIGHT = dt.time(8, 0)


def test_a_high_risk_regimen_without_antiemetics_says_they_are_not_encoded_and_what_the_class_calls_for() -> None:
    # every bundled high-risk file may come to encode its antiemetics: the line is checked on components without any
    # (weekly paclitaxel's, whose dexamethasone premedication answers only the low class, not the high one)
    (line,) = antiemetic_lines(EmetogenicRisk(level="high", source="s"), load("paclitaxel-weekly").components())
    assert line.startswith(
        "Antiemetics: not encoded in this file (prescribe per local policy). For high emetic risk the guidelines "
        "call for an NK1 receptor antagonist + a 5-HT3 receptor antagonist + dexamethasone"
    )


def test_a_moderate_risk_regimen_names_the_two_agent_classes_and_where_asco_differs() -> None:
    # every bundled moderate-risk file now encodes its antiemetics (7+3, used here before, gives those of the protocol
    # it cites): the line is checked on 7+3's anticancer components alone, as a file without antiemetics would have
    anticancer = [c for c in load("7-plus-3").components() if not c.supportive]
    (line,) = antiemetic_lines(EmetogenicRisk(level="moderate", source="s"), anticancer)
    assert line.startswith(
        "Antiemetics: not encoded in this file (prescribe per local policy). For moderate emetic risk the guidelines "
        "call for a 5-HT3 receptor antagonist + dexamethasone"
    )
    assert "ASCO 2011 allows an NK1 receptor antagonist in addition" in line


def test_mfolfox6_names_the_antiemetics_it_encodes_beside_what_its_class_calls_for() -> None:
    shown = CliRunner().invoke(cli, ["show", "mfolfox6"])
    assert shown.exit_code == 0, shown.output
    assert "Antiemetics for moderate emetic risk: a 5-HT3 receptor antagonist + dexamethasone" in shown.output
    assert "encoded in this file: ondansetron, dexamethasone, dexamethasone-days-2-3." in shown.output
    assert "not encoded in this file" not in shown.output
    assert "- Ondansetron 8 mg by mouth, day 1, 60 min before oxaliplatin [antiemetic]." in shown.output
    assert "- Dexamethasone 8 mg by mouth, days 2\u20133 [antiemetic]." in shown.output


def test_encoded_antiemetics_are_named_and_no_risk_means_no_line() -> None:
    risk = EmetogenicRisk(level="low", source="s")
    components = {c.id: c for c in load("paclitaxel-weekly").components()}
    paclitaxel = components["paclitaxel"]
    ondansetron = replace(components["dexamethasone"], id="ondansetron", drug="ondansetron", kind="antiemetic")
    (line,) = antiemetic_lines(risk, [ondansetron, paclitaxel])
    assert line.startswith("Antiemetics for low emetic risk: one agent: dexamethasone, a 5-HT3 receptor antagonist")
    assert line.endswith("encoded in this file: ondansetron.")
    assert antiemetic_lines(None, [ondansetron]) == []
    (minimal,) = antiemetic_lines(EmetogenicRisk(level="minimal", source="s"), [paclitaxel])
    assert "no routine prophylaxis" in minimal and "not encoded" not in minimal


# ---- the antiemetics of dd-AC→T, R-CHOP-21, gemcitabine and weekly paclitaxel (issue 27), worked by hand -----------


def rows(plan: Plan, **match: object) -> list[Administration]:
    return [r for r in plan.administrations if all(getattr(r, k) == v for k, v in match.items())]


def hhmm(row: Administration) -> str | None:
    return row.start.strftime("%H:%M") if row.start is not None else None


def kinds(regimen: str) -> dict[tuple[str, str], str | None]:
    """(phase, component id) -> kind, from the regimen file."""
    reg = load(regimen)
    if reg.phases:
        return {(p.id, c.id): c.kind for p in reg.phases for c in p.components}
    return {("", c.id): c.kind for c in reg.components()}


def antiemetic_rows(regimen: str, plan: Plan) -> list[Administration]:
    kind = kinds(regimen)
    return [r for r in plan.administrations if kind.get((r.phase, r.component)) == "antiemetic"]


def test_dd_ac_t_ac_cycles_carry_the_nz_srl_ac_antiemetics_before_doxorubicin() -> None:
    plan = expand(load("dd-ac-t"), PATIENT, start=START, time=EIGHT, tz="UTC")
    day1 = rows(plan, phase="ac", cycle=1, day=1)
    # olanzapine 5, aprepitant 125, dexamethasone 12, ondansetron 8 mg, all oral, 60 min before doxorubicin at 08:00;
    # doxorubicin 60 mg/m² × 1.8 = 108 mg, cyclophosphamide 600 × 1.8 = 1,080 mg; the evening ondansetron 8 h after
    # cyclophosphamide, whose duration is not set: its time is not known
    assert [(r.component, r.dose, r.dose_unit, r.route, r.role, hhmm(r)) for r in day1] == [
        ("olanzapine", 5, "mg", "oral", "supportive", "07:00"),
        ("aprepitant", 125, "mg", "oral", "supportive", "07:00"),
        ("dexamethasone-day-1", 12, "mg", "oral", "supportive", "07:00"),
        ("ondansetron", 8, "mg", "oral", "supportive", "07:00"),
        ("doxorubicin", 108, "mg", "IV", "anticancer", "08:00"),
        ("cyclophosphamide", 1080, "mg", "IV", "anticancer", "08:00"),
        ("ondansetron-evening", 8, "mg", "oral", "supportive", None),
    ]
    later = [
        (r.day, r.drug, r.dose) for r in rows(plan, phase="ac", cycle=1) if r.day > 1 and r.drug != "pegfilgrastim"
    ]
    assert later == [
        (2, "olanzapine", 5), (2, "aprepitant", 80), (2, "dexamethasone", 8),
        (3, "olanzapine", 5), (3, "aprepitant", 80), (3, "dexamethasone", 8),
        (4, "olanzapine", 5), (4, "dexamethasone", 8),
    ]  # fmt: skip
    # 5 on day 1 + 3 on day 2 + 3 on day 3 + 2 on day 4 = 13 a cycle, in each of the 4 AC cycles: 52
    assert len(antiemetic_rows("dd-ac-t", plan)) == 13 * 4 == 52
    assert {r.phase for r in antiemetic_rows("dd-ac-t", plan)} == {"ac"}


def test_dd_ac_t_paclitaxel_cycles_get_none_of_the_ac_antiemetics() -> None:
    plan = expand(load("dd-ac-t"), PATIENT, start=START, time=EIGHT, tz="UTC")
    pac = rows(plan, phase="paclitaxel")
    assert {r.drug for r in pac} == {"paclitaxel", "pegfilgrastim", "dexamethasone", "diphenhydramine", "famotidine"}
    # the one dexamethasone of a paclitaxel cycle is the premedication: 20 mg IV, never the AC's 12 mg or 8 mg oral
    assert {(r.dose, r.route) for r in pac if r.drug == "dexamethasone"} == {(20, "IV")}
    assert len([r for r in pac if r.drug == "dexamethasone"]) == 4  # day 1 of each of the 4 paclitaxel cycles
    # the whole course: 4 AC cycles of 3 rows + 13 antiemetics, 4 paclitaxel cycles of 5 rows: 64 + 20 = 84
    assert len(plan.administrations) == 4 * (3 + 13) + 4 * 5 == 84


def test_supportive_antiemetics_stay_out_of_the_anticancer_totals() -> None:
    plan = expand(load("dd-ac-t"), PATIENT, start=START)
    course = {t.drug: t.amount for t in plan.totals if t.cycle is None}
    # 108 mg × 4 = 432; 1,080 mg × 4 = 4,320; paclitaxel 175 mg/m² × 1.8 = 315 mg × 4 = 1,260
    assert course == {"doxorubicin": Fraction(432), "cyclophosphamide": Fraction(4320), "paclitaxel": Fraction(1260)}
    rchop = expand(load("r-chop-21"), PATIENT, start=START)
    assert {t.drug for t in rchop.totals} == {
        "rituximab",
        "cyclophosphamide",
        "doxorubicin",
        "vincristine",
        "prednisone",
    }


def test_r_chop_21_gives_aprepitant_and_ondansetron_before_doxorubicin_and_no_dexamethasone() -> None:
    plan = expand(load("r-chop-21"), PATIENT, start=START, time=EIGHT, tz="UTC")
    ae = antiemetic_rows("r-chop-21", plan)
    # ASCO 2011 Table 1 (high): aprepitant 125 mg oral on day 1, 80 mg days 2 and 3; ondansetron "8 mg oral twice
    # daily; 8 mg or 0.15 mg/kg IV": the single IV dose (the oral option's second dose has no stated time);
    # eviQ: oral antiemetics 60 min before chemotherapy -> 07:00 before doxorubicin at 08:00; IV ones 30 min before,
    # ending then: no duration is stated, so its start is not known (never guessed)
    assert [(r.cycle, r.day, r.component, r.dose, r.route, hhmm(r)) for r in ae if r.cycle == 1] == [
        (1, 1, "aprepitant", 125, "oral", "07:00"),
        (1, 1, "ondansetron", 8, "IV", None),
        (1, 2, "aprepitant-days-2-3", 80, "oral", "08:00"),
        (1, 3, "aprepitant-days-2-3", 80, "oral", "08:00"),
    ]
    assert len(ae) == 4 * 8  # 4 rows in each of the 8 cycles
    assert hhmm(rows(plan, cycle=1, day=1, drug="doxorubicin")[0]) == "08:00"
    # prednisone 100 mg days 1-5 is the regimen's corticosteroid: no dexamethasone is added
    assert not rows(plan, drug="dexamethasone")


def test_gemcitabine_gives_dexamethasone_8_mg_an_hour_before_each_dose() -> None:
    plan = expand(load("gemcitabine-d1-8-15"), PATIENT, start=START, time=EIGHT, tz="UTC")
    c1 = rows(plan, cycle=1)
    # ASCO 2011 Table 1 (low): dexamethasone 8 mg oral; 60 min before gemcitabine 1,000 × 1.8 = 1,800 mg at 08:00
    assert [(r.day, r.drug, r.dose, r.route, hhmm(r)) for r in c1] == [
        (d, drug, dose, route, t)
        for d in (1, 8, 15)
        for drug, dose, route, t in (("dexamethasone", 8, "oral", "07:00"), ("gemcitabine", 1800, "IV", "08:00"))
    ]
    assert [r.role for r in c1 if r.drug == "dexamethasone"] == ["supportive"] * 3


def test_weekly_paclitaxel_show_names_its_premedication_dexamethasone_as_the_low_class_agent() -> None:
    shown = CliRunner().invoke(cli, ["show", "paclitaxel-weekly"])
    assert shown.exit_code == 0, shown.output
    assert "Antiemetics for low emetic risk: one agent: dexamethasone" in shown.output
    assert (
        "no antiemetic of its own is encoded: the file's dexamethasone is that one agent: "
        "dexamethasone (premedication)." in shown.output
    )
    assert "prescribe per local policy" not in shown.output
    assert not [c for c in load("paclitaxel-weekly").components() if c.kind == "antiemetic"]


def test_the_worklist_lists_the_ac_antiemetics_before_the_chemotherapy_and_none_in_paclitaxel_cycles(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "c.db")
    runner = CliRunner()
    start = runner.invoke(cli, ["course", "start", "dd-ac-t", "--course", "d1", "--bsa", "1.8", "--weight", "70",
                                "--age", "50", "--start", "2026-12-01", "--db", db])  # fmt: skip
    assert start.exit_code == 0, start.output
    due = runner.invoke(cli, ["due", "--from", "2026-12-01", "--days", "1", "--format", "json", "--db", db])
    assert due.exit_code == 0, due.output
    day1 = [(r["component"], r["role"]) for r in json.loads(due.stdout)["administrations"]]
    assert day1 == [
        ("olanzapine", "supportive"), ("aprepitant", "supportive"), ("dexamethasone-day-1", "supportive"),
        ("ondansetron", "supportive"), ("doxorubicin", "anticancer"), ("cyclophosphamide", "anticancer"),
        ("ondansetron-evening", "supportive"),
    ]  # fmt: skip
    # the first paclitaxel cycle starts after 4 AC cycles of 14 days: 2026-12-01 + 56 days = 2027-01-26
    due = runner.invoke(cli, ["due", "--from", "2027-01-26", "--days", "1", "--format", "json", "--db", db])
    assert due.exit_code == 0, due.output
    pac = json.loads(due.stdout)["administrations"]
    assert sorted(r["drug"] for r in pac) == ["dexamethasone", "diphenhydramine", "famotidine", "paclitaxel"]
    assert [r["dose_exact"] for r in pac if r["drug"] == "dexamethasone"] == ["20"]
