"""A plan's notes on a few of its rows (rate-escalated infusions, anthracyclines, capped doses) read those rows
alone, picked out of each expanded cycle's rows (``Cycles.rows_where``, issue 29): the rows picked are exactly the
rows of the whole plan that the test picks, in the plan's order, for every bundled regimen and for a regimen whose
cycles differ (a variant from cycle 3)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from tests.conftest import BUNDLED_IDS

import regimen
from regimen.engine import expand as expand_module
from regimen.engine import fastpath
from regimen.engine.cycles import Cycles
from regimen.model import Administration
from regimen.protocol.loader import load_text

#: Cycles 1-2 and 3-4 differ (idarubicin's variant), and both have capped rows (idarubicin's and vincristine's).
DIFFERING = load_text(
    """id = "picked-rows-test"
name = "Picked rows test"
cycle_length = 14
cycles = 4
[[component]]
drug = "idarubicin"
dose = "12 mg/m²/day"
days = "1-3"
route = "IV"
max_daily = "20 mg"
[[component.variant]]
when = "cycle >= 3"
dose = "10 mg/m²/day"
days = "1-2"
[[component]]
drug = "vincristine"
dose = "1.4 mg/m²"
days = "1,8"
route = "IV"
max_dose = "2 mg"
[[source]]
citation = "test"
""",
    "<test>",
)


def _plan_and_cycles(
    monkeypatch: pytest.MonkeyPatch, which: str | regimen.Regimen, start: dt.date | None = None
) -> tuple[regimen.Plan, Cycles]:
    """The plan, and the rows of each cycle as the expansion kept them."""
    made: list[Cycles] = []

    class Kept(Cycles):
        def __init__(self, *args: object) -> None:
            super().__init__(*args)  # type: ignore[arg-type]
            made.append(self)

    monkeypatch.setattr(expand_module, "Cycles", Kept)
    patient = regimen.make_patient(weight="70", bsa="1.8", age="60", sex="female", scr="1.0")
    plan = regimen.expand(regimen.load(which) if isinstance(which, str) else which, patient, start=start)
    assert len(made) == 1
    return plan, made[0]


def _picks(plan: regimen.Plan) -> dict[str, Callable[[Administration], bool]]:
    picks: dict[str, Callable[[Administration], bool]] = {
        "flagged": lambda r: bool(r.warnings or r.caps),
        "nothing": lambda r: False,
    }
    for drug in {r.drug for r in plan.administrations}:
        picks[f"drug {drug}"] = lambda r, drug=drug: r.drug == drug  # type: ignore[misc]
    for comp in {r.component for r in plan.administrations}:
        picks[f"component {comp}"] = lambda r, comp=comp: r.component == comp  # type: ignore[misc]
    return picks


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_the_rows_picked_from_each_cycle_are_the_plans_rows_that_hold(
    monkeypatch: pytest.MonkeyPatch, regimen_id: str
) -> None:
    plan, cycles = _plan_and_cycles(monkeypatch, regimen_id, dt.date(2026, 2, 2))
    for key, pick in _picks(plan).items():
        picked = cycles.rows_where(key, pick)
        expected = [r for r in plan.administrations if pick(r)]
        assert picked == expected, key
        # the very rows of the plan, not equal copies; asked again, the same (the positions are kept by key)
        assert all(a is b for a, b in zip(picked, expected, strict=True))
        assert cycles.rows_where(key, pick) == expected


def test_cycles_that_differ_are_each_read_and_a_worked_out_plan_is_read_row_by_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Cycles 3 and 4 repeat cycle 3, not cycle 1: the rows picked are cycle 1's kind, then cycle 3's; with REUSE
    off (every cycle expanded) the same rows are picked."""
    plan, cycles = _plan_and_cycles(monkeypatch, DIFFERING)
    idarubicin = cycles.rows_where("I", lambda r: r.drug == "idarubicin")
    # by hand: days 1-3 of cycles 1-2 (course days 1-3, 15-17), days 1-2 of cycles 3-4 (29-30, 43-44)
    assert [r.course_day for r in idarubicin] == [1, 2, 3, 15, 16, 17, 29, 30, 43, 44]
    # 12 mg/m² × 1.8 m² = 21.6 mg capped at 20 mg in cycles 1-2; 10 × 1.8 = 18 mg in cycles 3-4, under the cap
    capped = cycles.rows_where("capped", lambda r: bool(r.caps))
    assert [(r.drug, r.course_day) for r in capped] == [
        ("idarubicin", 1),
        ("vincristine", 1),
        ("idarubicin", 2),
        ("idarubicin", 3),
        ("vincristine", 8),
        ("idarubicin", 15),
        ("vincristine", 15),
        ("idarubicin", 16),
        ("idarubicin", 17),
        ("vincristine", 22),
        ("vincristine", 29),
        ("vincristine", 36),
        ("vincristine", 43),
        ("vincristine", 50),
    ]
    assert capped == [r for r in plan.administrations if r.caps]
    monkeypatch.setattr(fastpath, "REUSE", False)
    plain, each = _plan_and_cycles(monkeypatch, DIFFERING)
    assert plain == plan
    assert each.rows_where("I", lambda r: r.drug == "idarubicin") == idarubicin
    assert each.rows_where("capped", lambda r: bool(r.caps)) == capped


@pytest.mark.parametrize("regimen_id", [*BUNDLED_IDS, "differing"])
def test_rows_picked_by_a_field_or_a_flag_in_c_are_the_rows_a_test_of_each_picks(
    monkeypatch: pytest.MonkeyPatch, regimen_id: str
) -> None:
    """Cycles.rows_with (a drug or component among some) and Cycles.rows_flagged (a warning or a maximum dose that
    applied) pick the rows rows_where picks with the same question asked of each row."""
    plan, cycles = _plan_and_cycles(monkeypatch, DIFFERING if regimen_id == "differing" else regimen_id)
    for field in ("drug", "component"):
        values = sorted({getattr(r, field) for r in plan.administrations})
        for some in [values[:1], values[1:], values]:
            chosen = frozenset(some)
            expected = [r for r in plan.administrations if getattr(r, field) in chosen]
            assert cycles.rows_with((field, chosen), field, chosen) == expected
            assert cycles.rows_where(("each", field, chosen), lambda r, f=field, c=chosen: getattr(r, f) in c) == (
                expected
            )
    flagged = cycles.rows_flagged()
    assert flagged == [r for r in plan.administrations if r.warnings or r.caps]
    if regimen_id in ("differing", "r-chop-21"):  # vincristine capped at 2 mg (1.4 × 1.8 = 2.52 mg)
        assert flagged and all(r.caps for r in flagged)
