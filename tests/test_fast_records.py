"""The shortcuts of a plan's objects and records (issue 29) give exactly what the plain ways give.

Totals and infusions are made from a dictionary of their fields (``new_total``, ``new_infusion``), derivations
are written into their slots (``new_derivation``), rather than through the frozen dataclasses' ``__init__``; a
plan's records work each number out once (``Numbers``); the web API writes its JSON without indentation, with
orjson. Each is held equal to the plain way here.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from fractions import Fraction
from zoneinfo import ZoneInfo

import orjson
import pytest
from tests.conftest import BUNDLED_IDS

import regimen
from regimen.engine.fastpath import new_derivation, new_infusion
from regimen.engine.plan import new_total
from regimen.engine.preparations import preparations
from regimen.engine.rows import (
    Numbers,
    csv_record,
    csv_records,
    exact_text,
    plan_to_dict,
    preparation_record,
    row_record,
    row_records,
    total_record,
)
from regimen.export.records import plan_record, plan_to_json
from regimen.model import Derivation, Infusion, Total
from regimen.quantities.exact import Rounding, decimal_to_json, exact_decimal
from regimen.quantities.units import parse_dose


def test_a_total_made_from_its_fields_is_the_total_the_constructor_makes() -> None:
    names = [f.name for f in dataclasses.fields(Total)]
    assert names == ["drug", "amount", "unit", "phase", "cycle", "condition", "component"]  # new_total's order
    values = ("oxaliplatin", Fraction(153), "mg", "main", 3, "age >= 70", "pump")
    made = new_total(*values)
    assert made == Total(**dict(zip(names, values, strict=True)))
    assert made == Total(*values) and hash(made) == hash(Total(*values))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.cycle = 4  # type: ignore[misc]


def test_an_infusion_made_from_its_fields_is_the_infusion_the_constructor_makes() -> None:
    names = [f.name for f in dataclasses.fields(Infusion)]
    values = (15, Fraction(46), 2, 2, Fraction(4320), "2,400 mg/m² × 1.8 m² = 4,320 mg over 46 h", None)
    made = new_infusion(*values)
    assert made == Infusion(**dict(zip(names, values, strict=True)))
    assert made.hours_today == 22  # 46 h: 24 h, then 22 h
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.day_index = 1  # type: ignore[misc]


def test_a_derivation_written_into_its_slots_is_the_derivation_the_constructor_makes() -> None:
    assert [f.name for f in dataclasses.fields(Derivation)] == ["dose", "factor", "factor_unit", "factor_text"]
    dose = parse_dose("2 mg/kg")
    made = new_derivation(dose, Fraction(62), "kg", "62 kg (ideal)")
    assert made == Derivation(dose, Fraction(62), "kg", "62 kg (ideal)")
    assert hash(made) == hash(Derivation(dose, Fraction(62), "kg", "62 kg (ideal)"))
    plain = new_derivation(dose, Fraction(70), "kg")  # the text left out: None, as the constructor's default
    assert plain == Derivation(dose, Fraction(70), "kg") and plain.factor_text is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.factor = Fraction(1)  # type: ignore[misc]


def test_numbers_are_the_texts_and_roundings_of_each_number() -> None:
    numbers = Numbers(Rounding(3))
    third = Fraction(1, 3)
    assert numbers.rounded(third) == 0.333 and numbers.exact(third) == "1/3" == exact_text(third)
    assert numbers.hours(Fraction(46)) == 46 and numbers.hours(third) == decimal_to_json(exact_decimal(third, 6))
    # the same number as another object, and another number after the first was freed: each its own
    assert numbers.rounded(Fraction(2, 3)) == 0.667 and numbers.exact(Fraction(1, 3)) == "1/3"
    for k in range(1, 200):
        assert numbers.exact(Fraction(k, 8)) == exact_text(Fraction(k, 8))


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_records_with_the_plans_numbers_are_the_records_without(regimen_id: str) -> None:
    """Each record made with the plan's :class:`Numbers` is the record made alone, for every bundled regimen with
    dates and times (preparations connect and disconnect then): the JSON document's and the CSV's."""
    patient = regimen.make_patient(weight="93.7", bsa="2.13", age="71")
    plan = regimen.expand(
        regimen.load(regimen_id), patient, start=dt.date(2027, 3, 22), time=dt.time(9), tz="Europe/Berlin"
    )
    whole = plan_to_dict(plan)
    assert whole["administrations"] == [row_record(plan, r) for r in plan.administrations]
    assert row_records(plan) == whole["administrations"]  # the event tables' records, their numbers shared
    # the CSV and cohort records, a plan's at once (its numbers shared) and some of its rows, in another order
    assert csv_records(plan) == [csv_record(plan, r) for r in plan.administrations]
    some = plan.administrations[::-3]
    assert csv_records(plan, some) == [csv_record(plan, r) for r in some]
    assert whole["totals"]["by_cycle"] + whole["totals"]["course"] == [total_record(plan, t) for t in plan.totals]
    assert whole["preparations"] == [preparation_record(p, plan.tz) for p in preparations(plan.administrations)]


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_the_apis_json_is_the_command_lines_document(regimen_id: str) -> None:
    """The web API writes a plan with orjson, without indentation: the same JSON values as ``regimen expand
    --format json`` writes with the standard library (numbers, texts, non-ASCII text such as m² and →)."""
    plan = regimen.expand(
        regimen.load(regimen_id),
        regimen.make_patient(weight="93.7", bsa="2.13", age="71"),
        start=dt.date(2027, 3, 22),
        time=dt.time(9),
        tz="Europe/Berlin",
    )
    answer = orjson.dumps(plan_record(plan, paths=False))
    assert json.loads(answer) == json.loads(plan_to_json(plan, paths=False))
    assert json.loads(answer)["regimen"]["file"] == f"{regimen_id}.toml"  # its name, not where it lies


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
@pytest.mark.parametrize("timed", [True, False])
def test_a_preparations_record_says_what_the_preparation_says_of_itself(regimen_id: str, timed: bool) -> None:
    """preparation_record reads the fields a preparation shares with its first row from that row (issue 29): the
    same values as the preparation's own properties, with the plan's numbers or others (a rounding of 3 figures),
    with and without times."""
    when = {"start": dt.date(2027, 3, 22), "time": dt.time(9), "tz": "Europe/Berlin"} if timed else {}
    plan = regimen.expand(regimen.load(regimen_id), regimen.make_patient(weight="93.7", bsa="2.13", age="71"), **when)
    zone = plan.tz
    for numbers in (Numbers(plan.rounding), Numbers(Rounding(3)), None):
        for prep in preparations(plan.administrations):
            record = preparation_record(prep, zone, numbers)
            assert record["days"] == list(prep.days) and record["continuous"] == prep.continuous
            assert record["warnings"] == list(prep.warnings)
            assert (record["drug"], record["component"], record["dose_unit"]) == (
                prep.drug,
                prep.component,
                prep.dose_unit,
            )
            mine = Numbers(prep.rounding)
            assert record["dose"] == mine.rounded(prep.dose) and record["dose_exact"] == mine.exact(prep.dose)
            assert record["rate"] == (mine.rounded(prep.rate) if prep.rate is not None else None)
            assert record["hours"] == (mine.hours(prep.hours) if prep.hours is not None else None)
            assert (record["connect"] is None) == (prep.connect is None) and (record["disconnect"] is None) == (
                prep.disconnect is None
            )
            if timed and prep.connect is not None:
                assert record["connect"] == prep.connect.astimezone(ZoneInfo("Europe/Berlin")).isoformat()
