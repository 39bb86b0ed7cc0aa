"""Compact one-line notation in and out (issue 30): ``regimen parse`` and ``regimen show --compact``."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

import regimen
from conftest import BUNDLED_IDS, ROOT
from regimen.cli import cli
from regimen.interop.compact import CompactError, parse, to_compact
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
    assert (
        result.stdout
        == "Oxaliplatin 130 mg/m² IV infusion over 2 h d1; Capecitabine 1000 mg/m² oral BID d1-14; Q21d x 8\n"
    )


def _plan(reg: regimen.Regimen, age: str) -> regimen.Plan:
    patient = regimen.make_patient(weight="70", bsa="1.8", age=age, height="175", sex="female", scr="1")
    return regimen.expand(reg, patient, start=dt.date(2026, 12, 1), cycles=None)


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
@pytest.mark.parametrize("age", ["45", "65"])  # both sides of the age rules (cenersen-arm3: age > 60)
def test_parse_of_print_gives_the_same_plans(regimen_id: str, age: str) -> None:
    original = regimen.load(regimen_id)
    if any(c.volume is not None for c in original.components()):
        pytest.xfail("the compact notation cannot write a supportive fluid's volume yet (issue 27; known gap)")
    if any(c.levels for c in original.components()):  # 7-plus-3: daunorubicin 90 mg/m²/day as dose level +1
        pytest.xfail("the compact notation cannot write dose levels yet (issue 30; known gap)")
    again = load_data(parse(to_compact(original)))
    a, b = _plan(original, age), _plan(again, age)
    # the compact notation does not carry supportive care yet (issue 27: role, kind, before, volume, additives are
    # regimen-file fields only): the anticancer rows and the totals must still be the same
    drugs = {c.id for c in original.components() if not c.supportive}
    assert [r for r in a.administrations if r.component in drugs] == [
        r for r in b.administrations if r.component in drugs
    ]
    assert a.totals == tuple(
        t for t in b.totals if t.drug in {c.drug for c in original.components() if not c.supportive}
    )
    assert a.plan_warnings == b.plan_warnings
    # and the printed line is a fixed point: printing the parsed regimen gives the same line
    assert to_compact(again) == to_compact(original)


def test_readme_examples_parse() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Compact notation", 1)[1].split("\n## ", 1)[0]
    lines = re.findall(r"^regimen parse \"([^\"]+)\"", section, re.MULTILINE)
    assert len(lines) >= 4
    for line in lines:
        load_data(parse(line))
