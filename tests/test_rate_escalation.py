"""Infusion-rate escalation (``[[component.rate_escalation]]``, issue 27 item 4): rituximab in R-CHOP-21.

Hand-worked at BSA 1.8 m²: 375 mg/m² × 1.8 m² = 675 mg.

* First infusion (RITUXAN US label: 50 mg/h, +50 mg/h every 30 min, at most 400 mg/h): 50, 100, 150, 200, 250,
  300 mg/h for 30 min each give 25 + 50 + 75 + 100 + 125 + 150 = 525 mg in 3 h; the next rate, 350 mg/h, would give
  175 mg in 30 min, more than the 150 mg left, so the last 150 mg take 150/350 h = 3/7 h = 25.714... min; in all
  3 h 25.714... min = 205.714... min, 3 h 26 min to the nearest minute.
* Later infusions (100 mg/h, +100 mg/h every 30 min, at most 400 mg/h): 100, 200, 300 mg/h for 30 min each give
  50 + 100 + 150 = 300 mg in 1 h 30 min; the 375 mg left go at the maximum, 400 mg/h: 375/400 h = 56.25 min; in all
  146.25 min, 2 h 26 min to the nearest minute.
"""

from __future__ import annotations

import json
import textwrap
from fractions import Fraction
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import regimen
from regimen.cli import cli
from regimen.clinical.rate_escalation import _ladder, _working, least_time, working
from regimen.errors import RegimenFileError
from regimen.export.fhir import definition
from regimen.interop.fhir import regimen_data
from regimen.model import RateEscalation
from regimen.protocol.catalog import find
from regimen.protocol.loader import load_data, load_text
from regimen.protocol.schema import SCHEMA
from regimen.quantities.exact import DEFAULT_ROUNDING, Rounding

FIRST = RateEscalation("first", Fraction(50), Fraction(50), Fraction(1, 2), Fraction(400), "mg", "30 min", "label")
LATER = RateEscalation("later", Fraction(100), Fraction(100), Fraction(1, 2), Fraction(400), "mg", "30 min", "label")


def test_first_infusion_of_675_mg_takes_at_least_3_h_26_min() -> None:
    t = least_time(Fraction(675), FIRST)
    assert t.whole == tuple(Fraction(r) for r in (50, 100, 150, 200, 250, 300))
    assert (t.last_rate, t.rest) == (350, 150)
    assert t.hours == 3 + Fraction(150, 350)  # 3 h + 3/7 h, exact
    assert working(Fraction(675), FIRST, DEFAULT_ROUNDING) == (
        "675 mg: 50, 100, 150, 200, 250, 300 mg/h for 30 min each = 25 + 50 + 75 + 100 + 125 + 150 = 525 mg in 3 h; "
        "the remaining 150 mg at 350 mg/h take 150/350 h ≈ 25.71 min; "
        "at least 3 h 26 min (rounded to the nearest minute) if each step is tolerated"
    )


def test_later_infusion_of_675_mg_reaches_the_maximum_and_takes_at_least_2_h_26_min() -> None:
    t = least_time(Fraction(675), LATER)
    assert t.whole == (100, 200, 300) and (t.last_rate, t.rest) == (400, 375)
    assert t.hours == Fraction(3, 2) + Fraction(375, 400)
    assert working(Fraction(675), LATER, DEFAULT_ROUNDING) == (
        "675 mg: 100, 200, 300 mg/h for 30 min each = 50 + 100 + 150 = 300 mg in 1 h 30 min; "
        "the remaining 375 mg at 400 mg/h (the maximum) take 375/400 h = 56.25 min; "
        "at least 2 h 26 min (rounded to the nearest minute) if each step is tolerated"
    )


def test_a_dose_given_within_the_first_step_and_a_dose_ending_on_a_whole_minute() -> None:
    # 20 mg at 50 mg/h: 20/50 h = 24 min, within the first 30-min step (which would give 25 mg)
    assert working(Fraction(20), FIRST, DEFAULT_ROUNDING) == (
        "20 mg: all 20 mg at 50 mg/h take 20/50 h = 24 min; at least 24 min if each step is tolerated"
    )
    # 100 mg: 50 mg/h for 30 min gives 25 mg (75 left), 100 mg/h for 30 min gives 50 mg (25 left); 150 mg/h would
    # give 75 mg in 30 min, so the last 25 mg take 25/150 h = 10 min: 1 h 10 min, a whole number of minutes
    t = least_time(Fraction(100), FIRST)
    assert t.whole == (50, 100) and (t.last_rate, t.rest) == (150, 25) and t.hours * 60 == 70
    assert working(Fraction(100), FIRST, DEFAULT_ROUNDING).endswith(
        "the remaining 25 mg at 150 mg/h take 25/150 h = 10 min; at least 1 h 10 min if each step is tolerated"
    )


def test_a_step_that_overshoots_the_maximum_is_capped() -> None:
    # start 100, step 150, max 400: 100 (50 mg), 250 (125 mg), then 400 (capped, not 400 + ...): 1000 mg leaves
    # 1000 - 175 = 825 mg at 400 mg/h = 825/400 h = 123.75 min; 60 + 123.75 = 183.75 min -> 3 h 4 min
    row = RateEscalation("first", Fraction(100), Fraction(150), Fraction(1, 2), Fraction(400), "mg", "30 min", "s")
    t = least_time(Fraction(1000), row)
    assert t.whole == (100, 250) and (t.last_rate, t.rest) == (400, 825)
    assert "at least 3 h 4 min (rounded to the nearest minute)" in working(Fraction(1000), row, DEFAULT_ROUNDING)


#: Rows of every shape: the label's two, a step that overshoots the maximum, a start at the maximum (no step), steps
#: and times in fractions, and a micrograms row.
SHAPES = (
    FIRST,
    LATER,
    RateEscalation("first", Fraction(100), Fraction(150), Fraction(1, 2), Fraction(400), "mg", "30 min", "s"),
    RateEscalation("first", Fraction(400), Fraction(50), Fraction(1, 2), Fraction(400), "mg", "30 min", "s"),
    RateEscalation("first", Fraction(1, 3), Fraction(1, 7), Fraction(1, 3), Fraction(5, 2), "mg", "20 min", "s"),
    RateEscalation("first", Fraction(25), Fraction(25), Fraction(1, 4), Fraction(200), "mcg", "15 min", "s"),
)


@given(
    row=st.sampled_from(SHAPES),
    amount=st.fractions(min_value=Fraction(1, 10**4), max_value=10**6, max_denominator=10**4),
    digits=st.integers(1, 8),
)
def test_a_plan_s_working_from_the_row_s_ladder_is_the_worked_one(
    row: RateEscalation, amount: Fraction, digits: int
) -> None:
    # the notes state each dose's steps from the steps worked out once per row (issue 29), never other text than
    # working() gives step by step: on any dose, near a step's boundary too, and in any rounding
    rounding = Rounding(digits)
    assert _working(amount, row, rounding) == working(amount, row, rounding)
    for boundary in (Fraction(25), Fraction(75), Fraction(1, 6), Fraction(1, 2)):  # what a first step gives
        assert _working(boundary, row, rounding) == working(boundary, row, rounding)


def test_a_ladder_s_rung_holds_the_steps_text_once_per_row() -> None:
    # 675 mg and 676 mg take the same six whole steps (525 mg): one rung, and only the rest differs
    ladder = _ladder(FIRST, DEFAULT_ROUNDING)
    assert ladder is not None
    assert [r.delivered for r in ladder] == [0, 25, 75, 150, 250, 375, 525, 700]  # 50..350 mg/h for 30 min each
    assert ladder[-1].rate == 400 and ladder[-1].middle == " at 400 mg/h (the maximum) take "
    assert _working(Fraction(676), FIRST, DEFAULT_ROUNDING) == (
        "676 mg: 50, 100, 150, 200, 250, 300 mg/h for 30 min each = 25 + 50 + 75 + 100 + 125 + 150 = 525 mg in 3 h; "
        "the remaining 151 mg at 350 mg/h take 151/350 h ≈ 25.89 min; "
        "at least 3 h 26 min (rounded to the nearest minute) if each step is tolerated"
    )


def test_r_chop_21_plan_states_both_least_times_and_sets_no_duration_or_end() -> None:
    result = CliRunner().invoke(
        cli,
        ["expand", "r-chop-21", "--bsa", "1.8", "--start", "2026-12-01", "--time", "08:00", "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    plan = json.loads(result.stdout)
    notes = "\n".join(plan["notes"])
    assert (
        "rituximab, cycle 1 day 1 (the course's first infusion), rate-escalated (start at 50 mg/h; if tolerated, up "
        "by 50 mg/h every 30 min to at most 400 mg/h;" in notes
    )
    assert "at least 3 h 26 min (rounded to the nearest minute) if each step is tolerated" in notes
    assert "rituximab, cycles 2–8 day 1 (later infusions), rate-escalated (start at 100 mg/h;" in notes
    assert "the remaining 375 mg at 400 mg/h (the maximum) take 375/400 h = 56.25 min; at least 2 h 26 min" in notes
    assert "rituximab: infusion duration not stated in the source" not in notes  # it is escalated, not unstated
    rituximab = [a for a in plan["administrations"] if a["component"] == "rituximab"]
    assert len(rituximab) == 8
    assert all(a["end"] is None and a["duration_h"] is None and a["rate"] is None for a in rituximab)


def test_regimen_show_lists_the_escalation_with_its_source() -> None:
    result = CliRunner().invoke(cli, ["show", "r-chop-21"])
    assert result.exit_code == 0, result.output
    assert "- Rituximab 375 mg/m² IV infusion (rate-escalated), day 1." in result.stdout
    assert (
        "    Rate escalation, first infusion of the course: start at 50 mg/h; if tolerated, up by 50 mg/h every "
        "30 min to at most 400 mg/h (RITUXAN (rituximab) US prescribing information, 2 Dosage and Administration"
        in result.stdout
    )
    assert "    Rate escalation, later infusions: start at 100 mg/h; if tolerated, up by 100 mg/h every 30 min" in (
        result.stdout
    )


def test_export_definition_keeps_the_escalation() -> None:
    import tomllib

    original = regimen.load("r-chop-21")
    raw: dict[str, Any] = tomllib.loads(find("r-chop-21").read_text(encoding="utf-8"))
    back = load_data(regimen_data(json.loads(json.dumps(definition(original, raw)))), "<round trip>")
    (before,) = [c for c in original.components() if c.id == "rituximab"]
    (after,) = [c for c in back.components() if c.id == "rituximab"]
    assert before.rate_escalation and after.rate_escalation == before.rate_escalation


def test_the_schema_declares_the_rows() -> None:
    rows = SCHEMA["$defs"]["rate_escalation"]
    assert set(rows["required"]) == {"infusions", "start", "step", "every", "max", "source"}
    assert SCHEMA["$defs"]["component"]["properties"]["rate_escalation"]["items"] == {"$ref": "#/$defs/rate_escalation"}


_FILE = """
id = "x"
name = "X"
[[source]]
citation = "s"
[[component]]
drug = "rituximab"
dose = "{dose}"
route = "IV"
method = "{method}"
days = "1"
{extra}
[[component.rate_escalation]]
infusions = "first"
start = "{start}"
step = "50 mg/h"
every = "30 min"
max = "{max}"
source = "label"
{more}
"""


def _load(
    dose: str = "375 mg/m²",
    method: str = "infusion",
    start: str = "50 mg/h",
    maximum: str = "400 mg/h",
    extra: str = "",
    more: str = "",
) -> regimen.Regimen:
    text = _FILE.format(dose=dose, method=method, start=start, max=maximum, extra=extra, more=more)
    return load_text(textwrap.dedent(text), "x.toml")


def test_a_valid_row_loads_exactly() -> None:
    (row,) = _load(start="0.05 g/h").components()[0].rate_escalation
    assert (row.start, row.step, row.every_hours, row.maximum, row.unit) == (50, 50, Fraction(1, 2), 400, "mg")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"maximum": "40 mg/h"}, "max '40 mg/h' is below the start '50 mg/h'"),
        ({"start": "0 mg/h"}, "start '0 mg/h' must be above zero"),
        ({"start": "50 mg"}, "start '50 mg' must be an amount per hour"),
        ({"start": "50 mg/m²/h"}, "must be an amount per hour"),
        ({"start": "50 mcg/h"}, "start '50 mcg/h' must be in mg/h, the unit of the component's dose"),
        ({"method": "bolus"}, "a rate escalation is for an infusion"),
        ({"extra": 'duration = "4 h"'}, "give a duration ('4 h') or a rate escalation, not both"),
        (
            {
                "more": '[[component.rate_escalation]]\ninfusions = "first"\nstart = "1 mg/h"\nstep = "1 mg/h"\n'
                'every = "1 h"\nmax = "2 mg/h"\nsource = "s"'
            },
            "a second row for infusions = 'first'",
        ),
        ({"more": 'colour = "blue"'}, "unknown field 'colour'"),
    ],
)
def test_load_refuses_a_wrong_row_naming_it(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(RegimenFileError) as e:
        _load(**kwargs)
    assert message in str(e.value) and "rate_escalation" in str(e.value)


def test_a_later_row_alone_is_refused() -> None:
    text = _FILE.format(dose="375 mg/m²", method="infusion", start="50 mg/h", max="400 mg/h", extra="", more="")
    with pytest.raises(RegimenFileError, match="needs a row for infusions = 'first'"):
        load_text(text.replace('infusions = "first"', 'infusions = "later"'), "x.toml")


def test_weekly_rituximab_names_the_first_infusion_and_groups_the_later_ones() -> None:
    """Days 1, 8, 15 and 22 of a 28-day cycle, 2 cycles, 100 mg flat: the first infusion is cycle 1 day 1; the later
    ones are cycle 1 days 8, 15 and 22 and cycle 2 days 1, 8, 15 and 22. Later: 100 mg/h for 30 min gives 50 mg, then
    the remaining 50 mg at 200 mg/h take 50/200 h = 15 min: at least 45 min."""
    text = _FILE.format(dose="100 mg", method="infusion", start="50 mg/h", max="400 mg/h", extra="", more="")
    text = text.replace('days = "1"', 'days = "1, 8, 15, 22"').replace('name = "X"', 'name = "X"\ncycle_length = 28')
    text += (
        '[[component.rate_escalation]]\ninfusions = "later"\nstart = "100 mg/h"\nstep = "100 mg/h"\n'
        'every = "30 min"\nmax = "400 mg/h"\nsource = "label"\n'
    )
    plan = regimen.expand(load_text(text, "x.toml"), regimen.make_patient(), cycles=2)
    mine = [n for n in plan.notes if n.startswith("rituximab, cycle")]
    assert len(mine) == 2
    assert mine[0].startswith("rituximab, cycle 1 day 1 (the course's first infusion), rate-escalated")
    assert "100 mg: 50, 100 mg/h for 30 min each = 25 + 50 = 75 mg in 1 h; the remaining 25 mg at 150 mg/h" in mine[0]
    assert mine[1].startswith(
        "rituximab, cycle 1 days 8, 15 and 22; cycle 2 days 1, 8, 15 and 22 (later infusions), rate-escalated"
    )
    assert (
        "100 mg: 100 mg/h for 30 min = 50 mg in 30 min; the remaining 50 mg at 200 mg/h take 50/200 h = 15 min; "
        "at least 45 min if each step is tolerated" in mine[1]
    )
