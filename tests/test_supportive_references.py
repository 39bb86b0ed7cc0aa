"""Issue 27 item 4: the supportive care, requirements and gates of dd-AC→T, ABVD and weekly paclitaxel, each as the
source cited in docs/reference-sources.md states it; and a component given only in some cycles (in_cycles: the
bleomycin test dose of cycle 1). Every expected figure is worked out by hand beside it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from regimen import expand, load, make_patient
from regimen.cli import cli
from regimen.errors import RegimenFileError
from regimen.protocol.loader import load_text

PATIENT = make_patient(weight="70", bsa="1.8", age="50")
START = dt.date(2026, 12, 7)


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def test_dd_ac_t_gives_pegfilgrastim_6_mg_sc_on_day_2_of_every_cycle() -> None:
    # J Clin Oncol 2005;23:8340: pegfilgrastim 6 mg SC on day 2 of each cycle; 4 AC + 4 paclitaxel cycles of 14 days
    plan = expand(load("dd-ac-t"), PATIENT, start=START)
    peg = [r for r in plan.administrations if r.drug == "pegfilgrastim"]
    assert [(r.phase, r.cycle, r.day) for r in peg] == [(p, c, 2) for p in ("ac", "paclitaxel") for c in (1, 2, 3, 4)]
    assert {(r.dose, r.dose_unit, r.route, r.role) for r in peg} == {(6, "mg", "SC", "supportive")}
    assert peg[0].date == dt.date(2026, 12, 8)  # day 2 of cycle 1
    # the growth factor is not an anticancer total; doxorubicin's lifetime count is still shown:
    # 60 mg/m² × 4 cycles = 240 mg/m², within the default 450 mg/m²
    assert all("pegfilgrastim" not in str(key) for key in plan.totals)
    assert any("planned doxorubicin 240 mg/m² × 1 = 240 mg/m² doxorubicin-equivalent" in n for n in plan.notes)


def test_dd_ac_t_premedicates_paclitaxel_and_asks_for_the_lvef_before_the_course(tmp_path: Path) -> None:
    plan = expand(load("dd-ac-t"), PATIENT, start=START)
    first = [r.component for r in plan.administrations if r.phase == "paclitaxel" and r.cycle == 1 and r.day == 1]
    assert first == ["dexamethasone", "diphenhydramine", "famotidine", "paclitaxel"]
    start = run("course", "start", "dd-ac-t", "--course", "b1", "--bsa", "1.8", "--weight", "70", "--age", "50",
                "--start", "2026-12-07", "--db", str(tmp_path / "c.db"))  # fmt: skip
    assert start.exit_code == 0, start.output
    assert (
        "- lvef: baseline cardiac function (LVEF, echocardiogram or MUGA), before doxorubicin (Stinis" in start.output
    )
    assert "regimen course requirement b1 --id lvef --status met|waived|not-applicable" in start.output


def test_abvd_cycle_1_gives_the_bleomycin_test_dose_before_the_first_bleomycin_and_later_cycles_do_not() -> None:
    plan = expand(load("abvd"), PATIENT, start=START, cycles=2, time=dt.time(9, 0), tz="UTC")
    tests = [r for r in plan.administrations if r.component == "bleomycin-test"]
    assert [(r.cycle, r.day, r.dose, r.dose_unit, r.role) for r in tests] == [(1, 1, 1, "units", "supportive")]
    first_bleo = next(r for r in plan.administrations if r.component == "bleomycin")
    # 1 unit over 15 min, ending 60 min before bleomycin at 09:00: 07:45 to 08:00
    assert first_bleo.start is not None and tests[0].start is not None and tests[0].end is not None
    assert (tests[0].start.strftime("%H:%M"), tests[0].end.strftime("%H:%M")) == ("07:45", "08:00")
    assert first_bleo.start.strftime("%H:%M") == "09:00" and first_bleo.day == 1 and first_bleo.cycle == 1
    # the bleomycin lifetime total counts every unit given: 10 units/m² × 1.8 m² = 18 units × 2 days × 2 cycles
    # = 72 units, plus the 1-unit test dose = 73 units (400 - 73 = 327 below the label's limit)
    assert any("bleomycin cumulative (planned): 73 units" in n and "327 units below it" in n for n in plan.notes)
    # the anticancer course total stays 72 units
    assert sum(r.dose for r in plan.administrations if r.component == "bleomycin") == 72


def test_abvd_states_its_emetogenic_risk_and_the_lung_function_requirement_and_no_count_gate() -> None:
    reg = load("abvd")
    assert reg.emetogenic_risk is not None and reg.emetogenic_risk.level == "high"
    assert [r.id for r in reg.requirements] == ["lung-function"] and reg.requirements[0].drugs == ("bleomycin",)
    # regardless of the neutrophil count: no neutrophil gate, a note (the platelet gate is the UK protocol's)
    assert [g.condition.text for g in reg.gates] == ["platelets >= 75 ×10⁹/L"]
    assert not any(c.test == "anc" for m in reg.modifications for c in m.when)
    assert any("regardless of the neutrophil count" in n for n in reg.notes)


def test_weekly_paclitaxel_premedication_precedes_paclitaxel_30_min_before() -> None:
    plan = expand(load("paclitaxel-weekly"), PATIENT, start=START)
    day1 = [r for r in plan.administrations if r.cycle == 1]
    assert [r.component for r in day1] == ["dexamethasone", "diphenhydramine", "famotidine", "paclitaxel"]
    assert [(r.dose, r.route) for r in day1[:3]] == [(20, "IV"), (50, "IV"), (20, "IV")]
    assert any("dexamethasone: supportive care (premedication, 30 min before paclitaxel)" in n for n in plan.notes)


@pytest.mark.parametrize(
    ("values", "verdict"),
    [
        (("--anc", "1.2", "--plt", "150"), "anc 1.2 ×10⁹/L — needs anc > 1.5 ×10⁹/L: NOT MET"),  # 1,200/mm³ ≤ 1,500
        (("--anc", "2", "--plt", "90"), "platelets 90 ×10⁹/L — needs platelets > 100 ×10⁹/L: NOT MET"),
    ],
)
def test_weekly_paclitaxel_counts_below_the_label_wait_for_the_prescriber(
    tmp_path: Path, values: Any, verdict: str
) -> None:
    db = str(tmp_path / "c.db")
    start = ("--bsa", "1.8", "--weight", "70", "--age", "50", "--start", "2026-12-07", "--db", db)
    assert run("course", "start", "paclitaxel-weekly", "--course", "p1", *start).exit_code == 0
    shown = run("course", "check", "p1", "--cycle", "2", *values, "--db", db)
    assert shown.exit_code == 0, shown.output
    # the label says only 'not retreated until ...': no interval, so the cycle waits for the prescriber
    assert shown.output.startswith("paclitaxel-weekly, cycle 2: DELAY")
    assert verdict in shown.output and "paclitaxel US prescribing information" in shown.output
    assert "the cycle waits for the prescriber" in shown.output
    ok = run("course", "check", "p1", "--cycle", "2", "--anc", "1.6", "--plt", "150", "--db", db)
    assert ok.output.startswith("paclitaxel-weekly, cycle 2: GO"), ok.output


BASE = (
    'id = "t"\nname = "t"\nversion = "1"\ncycle_length = "28 days"\ncycles = 2\n[[source]]\ncitation = "x"\n'
    '[[component]]\nid = "test"\ndrug = "bleomycin"\nrole = "supportive"\nkind = "test dose"\ndose = "1 units"\n'
    'days = "1"\nin_cycles = "1"\n'
    '[[component]]\nid = "bleomycin"\ndrug = "bleomycin"\ndose = "10 units/m²"\ndays = "1"\n'
)


def test_a_component_timed_by_one_given_only_in_some_cycles_is_refused() -> None:
    with pytest.raises(RegimenFileError) as err:
        load_text(BASE + 'after = "test"\n')
    assert "'test' is given only in cycles 1: a component timed by it must be given in the same cycles" in str(
        err.value
    )
    reg = load_text(BASE.replace('in_cycles = "1"', 'in_cycles = "2"'))
    plan = expand(reg, PATIENT, start=START)
    assert [(r.component, r.cycle) for r in plan.administrations] == [("bleomycin", 1), ("test", 2), ("bleomycin", 2)]


def test_the_worklist_lists_the_untimed_premedication_just_before_its_paclitaxel_among_other_courses(
    tmp_path: Path,
) -> None:
    """The premedications have no stated duration, so their clock time is not known ("30 min before paclitaxel" is
    when they end): the worklist keeps them in their course's plan order, just before the paclitaxel they precede,
    not after every timed row of the day. Two patients: p1's paclitaxel at 09:00, p2's at 08:00 (sorted first)."""
    import json

    db = str(tmp_path / "c.db")
    patient = ("--bsa", "1.8", "--weight", "70", "--age", "50", "--start", "2026-12-07", "--tz", "UTC", "--db", db)
    assert run("course", "start", "paclitaxel-weekly", "--course", "p1", "--time", "09:00", *patient).exit_code == 0
    assert run("course", "start", "paclitaxel-weekly", "--course", "p2", "--time", "08:00", *patient).exit_code == 0
    shown = run("due", "--from", "2026-12-07", "--days", "1", "--format", "json", "--db", db)
    assert shown.exit_code == 0, shown.output
    rows = [(a["course"], a["component"]) for a in json.loads(shown.output)["administrations"]]
    premeds = ["dexamethasone", "diphenhydramine", "famotidine"]
    assert rows == [("p2", c) for c in [*premeds, "paclitaxel"]] + [("p1", c) for c in [*premeds, "paclitaxel"]]


@pytest.mark.parametrize(
    ("regimen_id", "level"),
    [("dd-ac-t", "high"), ("r-chop-21", "high"), ("paclitaxel-weekly", "low")],
)
def test_the_emetogenic_risk_is_the_asco_table_class(regimen_id: str, level: str) -> None:
    """ASCO 2011 Table 3: an anthracycline combined with cyclophosphamide is high; paclitaxel is low."""
    risk = load(regimen_id).emetogenic_risk
    assert risk is not None and risk.level == level
    assert "J Clin Oncol 2011;29(31):4189-98" in risk.source


def test_the_worklist_and_the_calendar_show_the_premedication_apart_from_the_paclitaxel(tmp_path: Path) -> None:
    """Issue 27 item 1: supportive care appears in the worklist and the calendar like any drug, visibly apart: the
    worklist marks it '[supportive]' (its CSV and JSON carry role = supportive), the calendar's summary names its
    kind ('(premedication)'); the paclitaxel is unmarked."""
    import csv
    import io
    import re

    db = str(tmp_path / "c.db")
    patient = ("--bsa", "1.8", "--weight", "70", "--age", "50", "--start", "2026-12-07", "--db", db)
    assert run("course", "start", "paclitaxel-weekly", "--course", "p1", *patient).exit_code == 0
    text = run("due", "--from", "2026-12-07", "--days", "1", "--db", db).output
    assert re.search(r"p1 +dexamethasone \[supportive\] +20 mg", text)
    assert re.search(r"p1 +paclitaxel +144 mg", text)
    assert "[supportive]: supportive care" in text
    rows = list(csv.DictReader(io.StringIO(run("due", "--from", "2026-12-07", "--format", "csv", "--db", db).output)))
    assert [(r["component"], r["role"]) for r in rows] == [
        ("dexamethasone", "supportive"),
        ("diphenhydramine", "supportive"),
        ("famotidine", "supportive"),
        ("paclitaxel", "anticancer"),
    ]
    ics = tmp_path / "p.ics"
    made = run("expand", "paclitaxel-weekly", "--weight", "70", "--bsa", "1.8", "--cycles", "1", "--start",
               "2026-12-07", "--ics", str(ics))  # fmt: skip
    assert made.exit_code == 0, made.output
    summaries = re.findall(r"^SUMMARY:(.*)$", ics.read_text("utf-8").replace("\r\n", "\n"), flags=re.M)
    assert "Dexamethasone 20 mg IV (premedication) — C1 D1" in summaries
    assert "Paclitaxel 144 mg IV — C1 D1" in summaries


def test_the_worklist_puts_cisplatins_hydration_before_the_cisplatin(tmp_path: Path) -> None:
    """Issue 27's done-when: cisplatin's hydration appears in the worklist before the cisplatin. Cisplatin at 09:00
    (the course's time): mannitol 200 mL over 30 min ends as it starts (08:30), the pre-hydration 500 mL over 60 min
    before the mannitol (07:30); the post-hydration, after a cisplatin whose duration no source read states, has no
    clock time and keeps its place after the drugs."""
    import json

    db = str(tmp_path / "c.db")
    patient = ("--bsa", "1.8", "--weight", "70", "--age", "50", "--start", "2026-12-07", "--tz", "UTC", "--db", db)
    assert run("course", "start", "cisplatin-etoposide", "--course", "e1", "--time", "09:00", *patient).exit_code == 0
    shown = run("due", "--from", "2026-12-07", "--days", "1", "--format", "json", "--db", db)
    assert shown.exit_code == 0, shown.output
    rows = [
        (a["component"], a["time_local"], a["dose_text"], a["role"])
        for a in json.loads(shown.output)["administrations"]
    ]
    order = [c for c, *_ in rows]
    assert (
        order.index("prehydration") < order.index("mannitol") < order.index("cisplatin") < order.index("posthydration")
    )
    timed = {c: (t, d, r) for c, t, d, r in rows}
    assert timed["prehydration"] == ("07:30", "500 mL", "supportive")
    assert timed["mannitol"] == ("08:30", "200 mL", "supportive")
    assert timed["cisplatin"] == ("09:00", "144 mg", "anticancer")  # 80 mg/m² × 1.8 m²
    assert timed["posthydration"] == (None, "500 mL", "supportive")
    text = run("due", "--from", "2026-12-07", "--days", "1", "--db", db).output
    assert text.index("07:30 UTC  e1      hydration fluid [supportive]  500 mL") < text.index(
        "09:00 UTC  e1      cisplatin"
    )
