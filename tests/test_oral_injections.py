"""Oral, subcutaneous and intramuscular drugs, IV push, and doses given several times a day (issue 9.4).

Hand-computed at 1.8 m² and 70 kg: capecitabine 1,000 mg/m² twice daily = 1,800 mg a dose, 3,600 mg a day,
50,400 mg over days 1-14; ondansetron 16 mg/day in 2 doses = 8 mg a dose; filgrastim 5 mcg/kg/day SC = 350 mcg a
day × 7 days = 2,450 mcg; methotrexate 12 mg IM; vincristine 1.4 mg/m² IV push = 2.52 mg.
"""

from __future__ import annotations

from fractions import Fraction as F

import pytest

import regimen
from regimen.errors import RegimenFileError
from regimen.export.table import render_table
from regimen.protocol.loader import load_text

FILE = """id = "oral"
name = "oral and injections"
cycle_length = 21
[[source]]
citation = "test"
[[component]]
drug = "capecitabine"
dose = "1000 mg/m²"
route = "oral"
times_per_day = 2
days = "1-14"
{cap}
[[component]]
drug = "ondansetron"
dose = "16 mg/day"
route = "PO"
times_per_day = 2
days = "1"
[[component]]
drug = "filgrastim"
dose = "5 mcg/kg/day"
route = "SC"
days = "3-9"
[[component]]
drug = "methotrexate"
dose = "12 mg"
route = "IM"
days = "1"
[[component]]
drug = "vincristine"
dose = "1.4 mg/m²"
route = "IV"
method = "IV push"
days = "1"
"""


def plan(cap: str = "") -> regimen.Plan:
    return regimen.expand(load_text(FILE.format(cap=cap)), regimen.make_patient(bsa="1.8", weight="70"))


def rows(p: regimen.Plan, drug: str) -> list[regimen.Administration]:
    return [r for r in p.administrations if r.drug == drug]


def test_twice_daily_each_dose_is_a_row_with_its_working() -> None:
    p = plan()
    cap = rows(p, "capecitabine")
    assert len(cap) == 28 and {r.dose for r in cap} == {F(1800)}
    assert [(r.day, r.dose_number, r.doses_per_day) for r in cap[:3]] == [(1, 1, 2), (1, 2, 2), (2, 1, 2)]
    assert cap[0].calculation == "1,000 mg/m² × 1.8 m² = 1,800 mg (dose 1 of 2; 3,600 mg a day)"
    assert next(t.amount for t in p.totals if t.drug == "capecitabine" and t.cycle is None) == 50400


def test_a_daily_dose_given_in_several_doses_is_split() -> None:
    onda = rows(plan(), "ondansetron")
    assert [(r.dose, r.dose_number) for r in onda] == [(8, 1), (8, 2)]
    assert onda[1].calculation == "16 mg/day (flat dose) ÷ 2 doses = 8 mg (dose 2 of 2)"


def test_sc_im_and_push_need_no_method_note() -> None:
    p = plan()
    assert {r.dose for r in rows(p, "filgrastim")} == {F(350)} and len(rows(p, "filgrastim")) == 7
    assert rows(p, "methotrexate")[0].dose == 12 and rows(p, "vincristine")[0].dose == F("2.52")
    assert not any("method" in n and "not stated" in n for n in p.notes)
    table = render_table(p)
    for shown in ("by mouth (dose 1 of 2)", "subcutaneous injection", "intramuscular injection", "IV push"):
        assert shown in table


def test_a_daily_maximum_covers_every_dose_of_the_day() -> None:
    """max 3,000 mg a day: 2 × 1,800 = 3,600 mg scaled together to 1,500 mg a dose."""
    cap = rows(plan('max_daily = "3000 mg"'), "capecitabine")
    assert {r.dose for r in cap} == {F(1500)}
    assert "capped at the regimen maximum 3000 mg per day: 1,800 mg → 1,500 mg" in cap[0].calculation


@pytest.mark.parametrize(
    ("field", "says"),
    [
        ("times_per_day = 0", "from 1 to 24"),
        ('times_per_day = "twice"', "from 1 to 24"),
        ('times_per_day = 2\nmethod = "infusion"\nduration = "1 h"', "cannot be one infusion"),
    ],
)
def test_bad_times_per_day_is_a_problem_naming_the_field(field: str, says: str) -> None:
    text = 'id = "x"\nname = "x"\n[[source]]\ncitation = "t"\n[[component]]\ndrug = "a"\ndose = "5 mg"\ndays = "1"\n'
    with pytest.raises(RegimenFileError, match=says) as e:
        load_text(text + field + "\n")
    assert "field 'times_per_day'" in str(e.value)


def test_doses_in_units_of_activity_stay_units() -> None:
    """Bleomycin 10 units/m² (ABVD) at 1.8 m² = 18 units: never turned into a mass."""
    text = (
        'id = "b"\nname = "b"\n[[source]]\ncitation = "t"\n[[component]]\ndrug = "bleomycin"\n'
        'dose = "10 units/m²"\nroute = "IV"\nmethod = "bolus"\ndays = "1,15"\nmax_dose = "15 units"\n'
    )
    p = regimen.expand(load_text(text), regimen.make_patient(bsa="1.8"))
    assert [(r.dose, r.dose_unit) for r in p.administrations] == [(15, "units"), (15, "units")]
    assert p.administrations[0].calculation.startswith(
        "10 units/m² × 1.8 m² = 18 units; capped at the regimen maximum 15 units"
    )
    small = regimen.expand(load_text(text), regimen.make_patient(bsa="1.2"))
    assert [r.dose for r in small.administrations] == [12, 12]
    with pytest.raises(RegimenFileError, match="units of activity"):
        load_text(text.replace("10 units/m²", "10 units m2"))


def test_each_dose_of_the_day_is_numbered_in_json_and_the_frame() -> None:
    p = plan()
    records = [r for r in p.to_dict()["administrations"] if r["drug"] == "capecitabine" and r["day"] == 1]
    assert [(r["dose_number"], r["doses_per_day"], r["dose"]) for r in records] == [(1, 2, 1800), (2, 2, 1800)]
    frame = p.to_dataframe()
    assert str(frame["dose_number"].dtype) == "Int64" and frame["dose_number"].isna().sum() > 0
