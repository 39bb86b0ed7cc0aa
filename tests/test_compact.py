"""Compact one-line notation in and out (issue 30): ``regimen parse`` and ``regimen show --compact``."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

import regimen
from conftest import BUNDLED_IDS, ROOT
from regimen.cli import cli
from regimen.interop.compact import CompactError, parse
from regimen.interop.compact_out import to_compact
from regimen.protocol.loader import load_data

EP = "Etoposide 100 mg/m2 IV d1-3; Cisplatin 80 mg/m2 IV d1; Q21d x 4"


def test_parse_the_hemonc_style_line() -> None:
    data = parse(EP)
    assert data["component"] == [
        {"drug": "etoposide", "dose": "100 mg/m2", "route": "IV", "days": "1-3"},
        {"drug": "cisplatin", "dose": "80 mg/m2", "route": "IV", "days": "1"},
    ]
    assert (data["cycle_length"], data["cycles"], data["id"]) == (21, 4, "etoposide-cisplatin")
    assert data["source"][0]["citation"] == f"Compact notation: {EP}"
    # by hand, BSA 1.8: etoposide 180 mg on days 1-3 and cisplatin 144 mg on day 1, four 21-day cycles
    plan = regimen.expand(load_data(data), regimen.make_patient(bsa="1.8"), start=dt.date(2026, 1, 5))
    rows = [(r.cycle, r.day, r.drug, r.dose) for r in plan.administrations]
    assert rows[:4] == [
        (1, 1, "etoposide", 180),
        (1, 1, "cisplatin", 144),
        (1, 2, "etoposide", 180),
        (1, 3, "etoposide", 180),
    ]
    assert len(rows) == 16 and plan.administrations[-1].date == dt.date(2026, 3, 11)  # course day 3 × 21 + 3 = 66


def test_every_element_of_the_grammar() -> None:
    data = parse(
        "[ind: Induction] Cenersen 0.1 mg/kg/h CIV over 4 days d1-4; Cytarabine 1 g/m2/day IV d2-5 of cenersen "
        "{if age > 60: d2-4 of cenersen}; x 1; [cons] Oblimersen 3 mg/kg/day IV continuous over 7 days "
        "4d before fludarabine for 7d; Fludarabine 25 mg/m2/day IV d5-7 after oblimersen +30 min max 50 mg/day; "
        "Capecitabine 1000 mg/m2 PO BID d1-14 round 150 mg; Vincristine 1.4 mg/m2 IV push d1 max 2 mg id=vcr; "
        'Q28d max 1 year limit "up to 1 year"; age >= 18; age <= 75'
    )
    ind, cons = data["phase"]
    assert ind["component"][0] == {
        "drug": "cenersen",
        "dose": "0.1 mg/kg/h",
        "route": "IV",
        "method": "continuous infusion",
        "duration": "4 days",
        "days": "1-4",
    }
    assert ind["component"][1]["days"] == {"relative_to": "cenersen", "on_day": 2, "count": 4}
    assert ind["component"][1]["variant"] == [
        {"when": "age > 60", "days": {"relative_to": "cenersen", "on_day": 2, "count": 3}}
    ]
    assert (ind["id"], ind["name"], ind["cycles"]) == ("ind", "Induction", 1)
    obl, flu, cape, vcr = cons["component"]
    assert obl["days"] == {"relative_to": "fludarabine", "days_before": 4, "count": 7}
    assert (flu["after"], flu["gap"], flu["max_daily"]) == ("oblimersen", "30 min", "50 mg")
    assert (cape["route"], cape["times_per_day"], cape["round"]) == ("PO", 2, "150 mg")
    assert (vcr["id"], vcr["method"], vcr["max_dose"]) == ("vcr", "IV push", "2 mg")
    assert (cons["cycle_length"], cons["max_duration"], cons["limit"]) == (28, "1 year", "up to 1 year")
    assert data["eligibility"] == {"min_age": 18, "max_age": 75}
    load_data(data)  # a valid regimen file


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "Etoposide 100 mg/m2 IV dd1-3",
            "cannot read token 'dd1-3' in 'Etoposide 100 mg/m2 IV dd1-3': expected a route",
        ),
        ("Etoposide 100 IV d1", "cannot read token 'IV' in 'Etoposide 100 IV d1': expected the unit of the dose 100"),
        ("Etoposide 100 mg/m2 IV", "cannot read the end in 'Etoposide 100 mg/m2 IV': expected the days of Etoposide"),
        (
            "Cisplatin 80 mg/m2 IV d1; Q21d x four",
            "cannot read token 'four' in 'Q21d x four': expected a number of cycles",
        ),
        ("Cisplatin 80 mg/m2 IV d1 max 2 mg/week", "cannot read token 'mg/week'"),
    ],
)
def test_an_unreadable_token_is_named(line: str, message: str) -> None:
    with pytest.raises(CompactError) as caught:
        parse(line)
    assert str(caught.value).startswith(message)


def test_cli_parse_shows_writes_and_refuses(tmp_path: Path, runner: CliRunner) -> None:
    shown = runner.invoke(cli, ["parse", EP])
    assert shown.exit_code == 0, shown.output
    assert tomllib.loads(shown.stdout)["cycles"] == 4
    out = tmp_path / "ep.toml"
    written = runner.invoke(cli, ["parse", EP, "--id", "ep", "--cite", "HemOnc.org: EP", "-o", str(out)])
    assert written.exit_code == 0, written.output
    data = tomllib.loads(out.read_text(encoding="utf-8"))
    assert data["id"] == "ep" and data["source"] == [{"citation": "HemOnc.org: EP"}]
    bad = runner.invoke(cli, ["parse", "Etoposide 100 mg/m2 IV dd1-3", "-o", str(tmp_path / "bad.toml")])
    assert bad.exit_code == 1 and not (tmp_path / "bad.toml").exists()
    assert bad.stderr.strip().splitlines() == [
        "Error: cannot read token 'dd1-3' in 'Etoposide 100 mg/m2 IV dd1-3': expected a route (IV, PO, SC...), a "
        "method, 'over', BID/TID, 'after', 'max', days (d1-3) or {if ...}"
    ]


def test_show_compact(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["show", "capox", "--compact"])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "Oxaliplatin 130 mg/m² IV infusion over 2 h d1; Capecitabine 1000 mg/m² oral BID d1-14; "
        "Dexamethasone 8 mg supportive:antiemetic oral d1 before oxaliplatin -60 min; "
        "Dexamethasone 8 mg supportive:antiemetic oral d2-3 id=dexamethasone-days-2-3; "
        "Ondansetron 8 mg supportive:antiemetic oral d1 before oxaliplatin -60 min; "
        "Ondansetron 8 mg supportive:antiemetic oral d1 after oxaliplatin +8 h id=ondansetron-evening; Q21d x 8\n"
    )


def test_dose_levels_and_supportive_care() -> None:
    data = parse(
        "Paracetamol 1 g supportive:premedication oral d1 before rituximab -30 min; Rituximab 375 mg/m2 IV d1; "
        "Hydration fluid 500 mL supportive:hydration IV over 60 min d1 after last rituximab "
        "add[potassium chloride: 10 mEq, magnesium sulfate: 8 mEq]; "
        '"Mannitol 20%" 200 mL supportive:hydration IV d1 before rituximab; '
        "Ondansetron 8 mg supportive:antiemetic IV in 100 mL d1 before rituximab; "
        "Daunorubicin 60 mg/m2/day IV d1-3 levels[-1: 75%, +1: 90 mg/m2/day]; Filgrastim 5 mcg/kg "
        "supportive:growth-factor SC d5-10"
    )
    para, rtx, fluid, mannitol, ondansetron, dauno, gcsf = data["component"]
    assert para == {
        "drug": "paracetamol",
        "dose": "1 g",
        "role": "supportive",
        "kind": "premedication",
        "route": "oral",
        "days": "1",
        "before": "rituximab",
        "gap": "30 min",
    }
    assert "role" not in rtx
    assert (fluid["volume"], fluid["after_last"], "dose" in fluid) == ("500 mL", "rituximab", False)
    assert fluid["additives"] == [
        {"drug": "potassium chloride", "amount": "10 mEq"},
        {"drug": "magnesium sulfate", "amount": "8 mEq"},
    ]
    assert (mannitol["drug"], mannitol["volume"], mannitol["before"]) == ("mannitol 20%", "200 mL", "rituximab")
    assert (ondansetron["dose"], ondansetron["volume"]) == ("8 mg", "100 mL")
    assert dauno["levels"] == {"-1": "75%", "+1": "90 mg/m2/day"}
    assert gcsf["kind"] == "growth factor"
    reg = load_data(data)
    # by hand, BSA 1.8: daunorubicin 108 mg at full dose, 81 mg at level -1 (75 %), 162 mg at level +1 (90 mg/m²)
    for level, mg in ((None, 108), (-1, 81), (1, 162)):
        plan = _plan(reg, "45", {"daunorubicin": level} if level else None)
        assert {r.dose for r in plan.administrations if r.component == "daunorubicin"} == {mg}
    assert [r.role for r in _plan(reg, "45").administrations if r.day == 1][:3] == ["supportive"] * 3
    printed = to_compact(reg)
    assert "levels[-1: 75%, +1: 90 mg/m²/day]" in printed and '"Mannitol 20%" 200 mL' in printed
    assert "in 100 mL" in printed and "after last rituximab" in printed and "before rituximab -30 min" in printed


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "Daunorubicin 60 mg/m2 IV d1-3 levels[+1 90 mg/m2]",
            "cannot read token 'levels[+1 90 mg/m2]' in 'Daunorubicin 60 mg/m2 IV d1-3 levels[+1 90 mg/m2]': expected "
            "dose levels such as levels[-1: 75%, +1: 90 mg/m2/day] (cannot read '+1 90 mg/m2')",
        ),
        ("Daunorubicin 60 mg/m2 IV d1-3 levels[0: 75%]", "cannot read token 'levels[0: 75%]'"),
        ("Daunorubicin 60 mg/m2 IV d1-3 levels[-1: 75%", "unbalanced brackets in"),
        ("Daunorubicin 60 mg/m2 IV d1-3 levels[-1: 75 mg/m2 IV]", "cannot read token 'levels[-1: 75 mg/m2 IV]'"),
        ("Ondansetron 8 mg supportive:rescue IV d1", "cannot read token 'supportive:rescue'"),
        (
            "Fluid 500 mL supportive:hydration IV d1 add[potassium chloride]",
            "cannot read token 'add[potassium chloride]'",
        ),
        ("Fluid 500 mL IV d1", "Fluid: a volume and additives are for supportive care; mark it supportive:KIND"),
        ("Ondansetron 8 mg supportive:antiemetic in 100 mg d1", "cannot read token '100 mg'"),
        ("Ondansetron 8 mg supportive:antiemetic d1 before rituximab +30 min", "cannot read token '+30'"),
        ("Ondansetron 8 mg supportive:antiemetic d1 before", "cannot read the end"),
    ],
)
def test_an_unreadable_new_token_is_named(line: str, message: str) -> None:
    with pytest.raises(CompactError) as caught:
        parse(line)
    assert str(caught.value).startswith(message)


def _plan(reg: regimen.Regimen, age: str, levels: dict[str, int] | None = None) -> regimen.Plan:
    # no kidney value: compact notation carries no renal table (a creatinine in a band of one made the plans differ,
    # as `show --compact` says: test_show_compact_names_what_the_line_does_not_carry)
    patient = regimen.make_patient(weight="70", bsa="1.8", age=age, height="175", sex="female")
    options = regimen.ClinicalOptions(dose_levels=levels or {})
    return regimen.expand(reg, patient, start=dt.date(2026, 12, 1), cycles=None, options=options)


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
@pytest.mark.parametrize("age", ["45", "65"])  # both sides of the age rules (cenersen-arm3: age > 60)
def test_parse_of_print_gives_the_same_plans(regimen_id: str, age: str) -> None:
    original = regimen.load(regimen_id)
    again = load_data(parse(to_compact(original)))
    # every row (supportive care too: role, kind, volume, additives, before), every total and warning; and each
    # dose level a component defines (7-plus-3: daunorubicin +1) chosen in turn
    choices = [None] + [{c.id: lv.level} for c in original.components() for lv in c.levels]
    for levels in choices:
        a, b = _plan(original, age, levels), _plan(again, age, levels)
        assert a.administrations == b.administrations
        assert a.totals == b.totals
        assert a.plan_warnings == b.plan_warnings

    # what the rows do not show: the fluid's additives, the dose levels themselves, the order words
    def fields(reg: regimen.Regimen) -> list[tuple[object, ...]]:
        return [
            (
                *(c.id, c.role, c.kind, c.before, c.after, c.after_last, c.gap_hours, c.additives),
                *(c.volume.value if c.volume else None, c.volume == c.dose),
                *((lv.level, lv.percent, lv.dose.canonical if lv.dose else None) for lv in c.levels),
            )
            for c in reg.components()
        ]

    assert fields(again) == fields(original)
    # and the printed line is a fixed point: printing the parsed regimen gives the same line
    assert to_compact(again) == to_compact(original)


def test_readme_examples_parse() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Compact notation", 1)[1].split("\n## ", 1)[0]
    lines = re.findall(r"^regimen parse \"([^\"]+)\"", section, re.MULTILINE)
    assert len(lines) >= 4
    for line in lines:
        load_data(parse(line))


def test_a_cap_of_a_thousand_or_more_is_written_without_a_comma() -> None:
    # the comma separates days (d1,8,15): "max 1,500 mg" would not read back
    reg = load_data(parse("Cyclophosphamide 1000 mg/m2 IV d1 max 1500 mg/cycle round 1000 mg"))
    line = to_compact(reg)
    assert line.endswith("d1 max 1500 mg/cycle round 1000 mg")
    assert to_compact(load_data(parse(line))) == line


def test_show_compact_names_what_the_line_does_not_carry() -> None:
    """A file parsed from `show --compact` had no renal table, gates or modification rules, and nothing said so:
    CAPOX through the line planned capecitabine at 1,800 mg at a clearance of 43 mL/min where the file gives 75 %
    (1,350 mg). The line still goes to stdout alone (it stays pipeable); what it cannot hold is one note on
    stderr."""
    result = CliRunner().invoke(cli, ["show", "capox", "--compact"])
    assert result.exit_code == 0
    assert result.stdout.startswith("Oxaliplatin 130 mg/m² IV") and result.stdout.count("\n") == 1
    assert result.stderr == (
        "note: compact notation does not carry capecitabine's renal table (2 rows); 1 requirement before the first "
        "dose; 2 gates before each cycle; 5 dose-modification rules; the emetogenic risk: a regimen parsed from this "
        "line has none of them, so its plans differ wherever they apply\n"
    )
    kidney = regimen.make_patient(bsa="1.8", age="68", sex="male", weight="86", scr="2")  # CrCl 43 mL/min
    line = regimen.expand(load_data(parse(result.stdout)), kidney, cycles=1)
    full = regimen.expand(regimen.load("capox"), kidney, cycles=1)
    assert {r.dose for r in full.administrations if r.drug == "capecitabine"} == {Fraction(1350)}
    assert {r.dose for r in line.administrations if r.drug == "capecitabine"} == {Fraction(1800)}
    plain = CliRunner().invoke(cli, ["show", "cenersen-arm1", "--compact"])
    assert plain.exit_code == 0 and plain.stderr == ""  # everything of it is on the line
