"""The course engine without a database (issue 25): each change kind's parser and record format, the pure replay,
and the correction (void), with property tests.

capox for a patient given as 70 kg and 1.8 m²: oxaliplatin 130 mg/m² on day 1 (234 mg), capecitabine 1,000 mg/m²
twice a day on days 1-14 (1,800 mg), every 21 days, 8 cycles, day 1 of cycle 1 on 2026-12-01.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers import examples

from regimen.clinical.dose_change import DoseChange
from regimen.engine.courses import Change, Context, CourseError, CourseStart, CourseState, append, parse_event
from regimen.engine.courses.events import KINDS, Delay, Dose, Given, Measure, Omit, Stop, Void, event_from_dict
from regimen.engine.courses.replay import Planner, live_changes, replay

CAPOX = Path(__file__).resolve().parent / "data" / "capox-course-fixture.toml"  # the course tests' capox (tests/data)
START = CourseStart(
    course_id="bed4",
    regimen_text=CAPOX.read_text(encoding="utf-8"),
    regimen_file=str(CAPOX),
    start=dt.date(2026, 12, 1),
    patient={"weight": "70", "bsa": "1.8", "age": "60"},
)
NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.UTC)
#: The expansions of START, kept across the property tests' examples (a replay is pure: sharing them is safe).
PLANNER = Planner(START)
CTX = Context(START.regimen, None, NOW)


def change(seq: int, kind: str, recorded: dt.datetime = NOW, **values: Any) -> Change:
    return Change(seq=seq, at=recorded, who="nurse", why="test", event=parse_event(kind, values, CTX))


def oxaliplatin(state: CourseState, cycle: int) -> Any:
    (found,) = [cr for cr in state.rows if cr.row.cycle == cycle and cr.row.day == 1 and cr.row.drug == "oxaliplatin"]
    return found


# ---- each kind: its record as the database has always held it, read and written back unchanged ------------

RECORDS = [
    ("delay", {"phase": "main", "cycle": 3, "days": 7}),
    ("measure", {"phase": "main", "cycle": 4, "values": {"weight": "62", "bsa": "1.6"}}),
    ("measure", {"phase": "main", "cycle": 4, "values": {"weight": "35"}, "confirmed": True}),
    ("dose", {"phase": "main", "cycle": 5, "drug": "oxaliplatin", "level": -1}),
    ("dose", {"phase": "main", "cycle": 5, "drug": None, "level": -2}),
    ("dose", {"phase": "main", "cycle": 5, "drug": "oxaliplatin", "reduce": "75%"}),  # before issue 24
    ("dose", {"phase": "main", "cycle": 5, "drug": "oxaliplatin", "dose_percent": "80%", "as_typed": "reduce_by 20%"}),
    ("dose", {"phase": "main", "cycle": 5, "drug": "oxaliplatin", "dose_percent": "40%", "confirmed": True}),
    ("omit", {"phase": "main", "cycle": 2, "day": 1, "drug": "oxaliplatin"}),
    ("omit", {"phase": "main", "cycle": 2, "day": 3, "drug": "capecitabine", "dose_number": 2}),
    ("omit", {"phase": "main", "cycle": 2, "day": None, "drug": "capecitabine", "confirmed": True}),
    ("given", {"phase": "main", "cycle": 1, "day": 1, "drug": "oxaliplatin", "dose": "230 mg", "dose_number": None}),
    (
        "given",
        {
            "phase": "main",
            "cycle": 1,
            "day": 1,
            "drug": "capecitabine",
            "dose": "1800 mg",
            "dose_number": 1,
            "at": "2026-12-01T08:00:00+00:00",
            "lot": "LOT-7",
            "confirmed": True,
        },
    ),
    ("stop", {"from": "2027-03-01"}),
    ("void", {"change": 2}),
]


@pytest.mark.parametrize(("kind", "data"), RECORDS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(RECORDS)])
def test_a_record_reads_back_as_it_was_written(kind: str, data: dict[str, Any]) -> None:
    event = event_from_dict(kind, data)
    assert type(event) is KINDS[kind] and event.kind == kind
    assert event.to_dict() == data
    assert KINDS[kind].from_dict(event.to_dict()) == event  # type: ignore[attr-defined]


def test_an_old_reduce_reads_as_the_percentage_it_gave() -> None:
    """Before issue 24, 'reduce: 75%' gave 75 % of the dose: read as that, and said so in the history."""
    event = event_from_dict("dose", {"phase": "main", "cycle": 5, "drug": "oxaliplatin", "reduce": "75%"})
    assert isinstance(event, Dose) and event.change == DoseChange(Fraction(75), confirmed=True)
    state = replay(START, [Change(1, NOW, "n", "PN", event)])
    assert oxaliplatin(state, 5).row.dose == Fraction(351, 2)  # 75 % of 234 = 175.5
    assert oxaliplatin(state, 4).row.dose == 234
    assert any(
        "recorded before issue 24 as 'reduce 75%', which meant: give 75%" in m for m in oxaliplatin(state, 5).marks
    )


def test_each_kind_reads_what_a_person_types() -> None:
    assert parse_event("delay", {"cycle": "3", "by": "2w"}, CTX) == Delay("main", 3, 14)
    assert parse_event("measure", {"cycle": 4, "weight": "62", "bsa": None}, CTX) == Measure(
        "main", 4, (("weight", "62"),)
    )
    dose = parse_event("dose", {"cycle": "5", "drug": "oxaliplatin", "reduce_by": "20%"}, CTX)
    assert isinstance(dose, Dose) and dose.change is not None and dose.change.percent == 80
    assert dose.to_dict() == {
        "phase": "main",
        "cycle": 5,
        "drug": "oxaliplatin",
        "dose_percent": "80%",
        "as_typed": "reduce_by 20%",
    }
    assert parse_event("omit", {"cycle": "2", "drug": "oxaliplatin"}, CTX) == Omit("main", 2, None, "oxaliplatin")
    g = parse_event(
        "given", {"cycle": "1", "day": 1, "drug": "oxaliplatin", "dose": " 230 mg ", "at": "2026-12-01T09:30"}, CTX
    )
    assert g == Given("main", 1, 1, "oxaliplatin", "230 mg", None, dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC))
    assert parse_event("stop", {"on": dt.date(2027, 3, 1)}, CTX) == Stop(dt.date(2027, 3, 1))
    assert parse_event("void", {"change": "2"}, CTX) == Void(2)


@pytest.mark.parametrize(
    ("kind", "values", "message"),
    [
        ("delay", {"cycle": "3", "by": "0d"}, "a delay is 1 to 366 days"),
        ("delay", {"cycle": "x", "by": "7d"}, "give a cycle number"),
        ("measure", {"cycle": "3"}, "give at least one of"),
        ("dose", {"cycle": "3", "drug": "oxaliplatin", "dose_percent": "80"}, "a bare number can be read two ways"),
        ("dose", {"cycle": "3", "drug": "oxaliplatin", "dose_percent": "40%"}, "confirm"),
        ("dose", {"cycle": "3", "drug": "oxaliplatin", "reduce": "75%"}, "no longer accepted"),
        ("omit", {"cycle": "3"}, "name the drug"),
        ("given", {"cycle": "1", "drug": "oxaliplatin", "dose": "230 mg", "at": "2026-12-07T09:00"}, "in the future"),
        ("void", {"change": "two"}, "give the number of a change"),
    ],
)
def test_each_kind_refuses_what_cannot_be_right(kind: str, values: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message):
        parse_event(kind, values, CTX)


# ---- the replay -------------------------------------------------------------------------------------------


def test_a_delay_moves_its_cycle_and_every_later_one() -> None:
    """Cycle 3's day 1 is day 43: 2027-01-12, + 7 = 2027-01-19; cycle 2 stays on 2026-12-22."""
    state = replay(START, [change(1, "delay", cycle="3", by="7d")])
    assert oxaliplatin(state, 2).row.date == dt.date(2026, 12, 22)
    assert oxaliplatin(state, 3).row.date == dt.date(2027, 1, 19)
    assert oxaliplatin(state, 8).row.date == dt.date(2027, 5, 4)  # day 148 is 2027-04-27, + 7
    assert oxaliplatin(state, 3).marks == ("delayed 7 days from this cycle on (change 1)",)


def test_patient_values_are_parsed_once_per_set_in_force(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight cycles, two sets of values (the start's, and from cycle 4 the new BSA): two patients made, not eight."""
    import importlib

    module = importlib.import_module("regimen.engine.courses.replay")
    made: list[dict[str, str]] = []
    real = module.make_patient

    def counting(**values: str) -> Any:
        made.append(values)
        return real(**values)

    monkeypatch.setattr(module, "make_patient", counting)
    state = replay(START, [change(1, "measure", cycle="4", bsa="1.6")])
    assert len(made) == 2
    assert oxaliplatin(state, 4).row.dose == 208  # 130 × 1.6


def test_a_void_undoes_exactly_its_change_and_the_history_keeps_both() -> None:
    """A delay typed twice moves the rest of the course 14 days; voiding the second puts it back to 7."""
    first = change(1, "delay", cycle="3", by="7d")
    twice = change(2, "delay", cycle="3", by="7d", recorded=NOW + dt.timedelta(minutes=1))
    with pytest.raises(CourseError, match="the same as change 1"):
        append(START, [first], twice)
    assert oxaliplatin(append(START, [first], twice, confirm=True), 3).row.date == dt.date(2027, 1, 26)
    fix = change(3, "void", change="2")
    state = append(START, [first, twice], fix)
    assert oxaliplatin(state, 3).row.date == dt.date(2027, 1, 19)
    assert [c.seq for c in state.changes] == [1, 2, 3] and state.voided == {2: 3}
    for target, message in [("0", "the start"), ("9", "no change 9"), ("2", "already void")]:
        with pytest.raises(CourseError, match=message):
            append(START, [first, twice, fix], change(4, "void", change=target))
    with pytest.raises(CourseError, match="itself a correction"):
        append(START, [first, twice, fix], change(4, "void", change="3"))


def test_a_void_of_a_change_something_was_given_under_is_refused() -> None:
    done = [
        change(1, "delay", cycle="2", by="7d"),
        change(2, "given", cycle="2", day=1, drug="oxaliplatin", dose="234 mg"),
    ]
    with pytest.raises(CourseError, match="oxaliplatin cycle 2 day 1 is recorded as given"):
        append(START, done, change(3, "void", change="1"))
    assert append(START, done, change(3, "void", change="2")).voided == {2: 3}  # the dose given first, then the delay


def test_a_dose_given_before_day_1_needs_confirming() -> None:
    early = change(1, "given", cycle="1", day=1, drug="oxaliplatin", dose="234 mg", at="2026-11-30T09:00")
    with pytest.raises(CourseError, match="before day 1 of the course"):
        append(START, [], early)
    sure = change(1, "given", cycle="1", day=1, drug="oxaliplatin", dose="234 mg", at="2026-11-30T09:00", confirm=True)
    assert oxaliplatin(append(START, [], sure), 1).status == "given"


def test_a_day_1_long_past_needs_confirming() -> None:
    values: dict[str, Any] = {
        "course_id": "old",
        "regimen_text": START.regimen_text,
        "regimen_file": START.regimen_file,
        "start": dt.date(2026, 11, 5),  # 31 days before 2026-12-06
        "today": dt.date(2026, 12, 6),
        "patient": dict(START.patient),
        "options": {},
    }
    with pytest.raises(CourseError, match="31 days before today"):
        CourseStart.parse(**values)
    assert CourseStart.parse(**values, confirm=True).to_dict()["confirmed"] is True
    assert "confirmed" not in CourseStart.parse(**{**values, "start": dt.date(2026, 11, 6)}).to_dict()  # 30 days


# ---- properties ----------------------------------------------------------------------------------------------

CYCLES = st.integers(min_value=1, max_value=8)
VALUES = st.one_of(
    st.builds(lambda c, d: ("delay", {"cycle": str(c), "by": f"{d}d"}), CYCLES, st.integers(1, 14)),
    st.builds(lambda c, b: ("measure", {"cycle": str(c), "bsa": b}), CYCLES, st.sampled_from(["1.7", "1.8", "1.9"])),
    st.builds(
        lambda c, p: ("dose", {"cycle": str(c), "drug": "oxaliplatin", "dose_percent": f"{p}%"}),
        CYCLES,
        st.sampled_from([75, 80, 100]),
    ),
    st.builds(lambda c, d: ("omit", {"cycle": str(c), "day": d, "drug": "capecitabine"}), CYCLES, st.integers(1, 14)),
    st.builds(lambda c: ("given", {"cycle": str(c), "day": 1, "drug": "oxaliplatin", "dose": "230 mg"}), CYCLES),
    st.builds(lambda k: ("void", {"change": str(k)}), st.integers(1, 10)),
)


def _recorded(drawn: list[tuple[str, dict[str, Any]]]) -> list[Change]:
    """The changes of ``drawn`` that a course accepts, in order (as a nurse would record them: each checked)."""
    out: list[Change] = []
    for n, (kind, values) in enumerate(drawn):
        new = Change(len(out) + 1, NOW + dt.timedelta(days=n), "n", "x", parse_event(kind, values, CTX))
        try:
            append(START, out, new, planner=PLANNER)
        except CourseError:
            continue
        out.append(new)
    return out


def standing(state: CourseState) -> tuple[Any, ...]:
    """The course as it stands, without its history."""
    rows = tuple(
        (cr.row.date, cr.row.drug, cr.row.dose, cr.row.day, cr.status, cr.given, cr.marks) for cr in state.rows
    )
    return rows, state.warnings, state.notes, state.stopped, state.given_totals


PROPERTY = settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(st.lists(VALUES, min_size=1, max_size=6), st.integers(min_value=0, max_value=6))
def test_replaying_more_never_changes_an_administration_already_given(drawn: list[Any], cut: int) -> None:
    changes = _recorded(drawn)
    prefix = replay(START, changes[: min(cut, len(changes))], PLANNER)
    full = replay(START, changes, PLANNER)
    voided = live_changes(changes)[1]
    for before, after in zip(prefix.rows, full.rows, strict=True):
        if before.given is not None and before.given.change not in voided:  # unless a correction undid it
            assert after == before  # same date, dose, status, record and marks


@PROPERTY
@given(st.lists(VALUES, min_size=1, max_size=6), st.data())
def test_a_void_undoes_exactly_its_change(drawn: list[Any], data: st.DataObject) -> None:
    changes = _recorded(drawn)
    live, _ = live_changes(changes)
    if not live:
        return
    k = data.draw(st.sampled_from([c.seq for c in live]))
    fix = Change(len(changes) + 1, NOW + dt.timedelta(days=30), "n", "entered in error", Void(k))
    without = [c for c in changes if c.seq != k]
    try:
        expected = standing(replay(START, without, PLANNER))
    except CourseError:
        with pytest.raises(CourseError):
            replay(START, [*changes, fix], PLANNER)
        return
    voided = replay(START, [*changes, fix], PLANNER)
    assert standing(voided) == expected
    assert voided.changes == (*changes, fix) and voided.voided[k] == fix.seq  # the history keeps both


def test_replay_is_pure_and_repeatable() -> None:
    changes = [change(1, "delay", cycle="3", by="7d"), change(2, "omit", cycle="2", day=1, drug="oxaliplatin")]
    assert standing(replay(START, changes)) == standing(replay(START, list(changes)))
    assert dataclasses.replace(START).to_dict() == START.to_dict()
