"""Continuous infusions whose duration is not whole days (e.g. 46 h): the last treatment day is partial."""

from __future__ import annotations

from fractions import Fraction as F

import pytest

import regimen
from regimen.errors import RegimenFileError
from regimen.protocol.loader import load_text

FILE = """
id = "fu46"
name = "46-hour infusion"
[[source]]
citation = "test"
[[component]]
drug = "fluorouracil"
dose = "{dose}"
route = "IV"
method = "continuous infusion"
duration = "{duration}"
days = "{days}"
"""


def plan(dose: str = "1200 mg/m2/day", duration: str = "46 h", days: str = "1-2") -> regimen.Plan:
    reg = load_text(FILE.format(dose=dose, duration=duration, days=days))
    return regimen.expand(reg, regimen.make_patient(bsa="1.8"))


def test_46_hours_is_24_then_22_hours() -> None:
    rows = plan().administrations
    # 1,200 mg/m²/day × 1.8 m² = 2,160 mg/day = 90 mg/h; 90 × 24 = 2,160 mg, then 90 × 22 = 1,980 mg
    assert [(r.day, r.rate, r.duration_hours, r.dose) for r in rows] == [
        (1, F(90), 24, F(2160)),
        (2, F(90), 22, F(1980)),
    ]
    assert rows[1].calculation.endswith("× 22 h = 1,980 mg")
    assert {r.infusion.hours for r in rows if r.infusion} == {F(46)}


def test_two_46_hour_infusions_in_one_run_of_days() -> None:
    rows = plan(days="1-4").administrations
    assert [(r.infusion.day_index, r.duration_hours) for r in rows if r.infusion] == [
        (1, 24),
        (2, 22),
        (1, 24),
        (2, 22),
    ]


@pytest.mark.parametrize(("duration", "days"), [("46 h", "1-3"), ("36 h", "1")])
def test_days_must_fit_the_duration(duration: str, days: str) -> None:
    with pytest.raises(RegimenFileError, match="do not fit a 2-day infusion"):
        plan(duration=duration, days=days)
