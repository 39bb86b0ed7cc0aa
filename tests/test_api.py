"""The Python API: load, expand, rows, dict and DataFrame agree with each other."""

from __future__ import annotations

import datetime as dt
from fractions import Fraction

import pytest

import regimen


def test_api_round_trip_to_dataframe() -> None:
    reg = regimen.load("cenersen-arm3")
    plan = regimen.expand(reg, regimen.make_patient(weight=70, bsa=1.8, age=45), start=dt.date(2026, 12, 1))
    frame = plan.to_dataframe()
    assert len(frame) == len(plan.administrations) == 4 + 3 + 4
    idarubicin = frame[frame["drug"] == "idarubicin"]
    assert idarubicin["dose"].tolist() == [21.6, 21.6, 21.6]
    assert idarubicin["date"].dt.date.tolist() == [dt.date(2026, 12, 2), dt.date(2026, 12, 3), dt.date(2026, 12, 4)]
    assert frame["dose"].sum() == pytest.approx(float(sum(t.amount for t in plan.totals if t.cycle is None)))
    assert plan.to_dict()["administrations"][0]["dose"] == frame.iloc[0]["dose"]


def test_numbers_from_python_floats_are_read_as_written() -> None:
    patient = regimen.make_patient(weight=70.1, bsa=1.81)
    assert patient.weight_kg == Fraction("70.1") and patient.bsa_m2 == Fraction("1.81")


def test_list_regimens() -> None:
    found, errors = regimen.list_regimens()
    assert not errors
    assert {r.id for r in found} >= {"cenersen-arm3", "oblimersen-dex"}


def test_expand_cohort_is_part_of_the_public_api() -> None:
    import pandas as pd

    roster = pd.DataFrame({"patient_id": ["a", "b"], "weight_kg": [70, 80], "bsa_m2": [1.8, 2.0], "age": [45, 65]})
    frame = regimen.expand_cohort(regimen.load("cenersen-arm3"), roster)
    assert set(frame["patient_id"]) == {"a", "b"}
    b_cytarabine = frame[(frame["patient_id"] == "b") & (frame["drug"] == "cytarabine")]
    assert b_cytarabine["dose"].tolist() == [2000, 2000, 2000]  # 1 g/m² × 2.0 m², 3 days (older than 60)
