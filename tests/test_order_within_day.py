"""Order and time within a day: 'then the 5-FU bolus, then the pump', 'dacarbazine after the infusion' (issue 9.3).

Hand-worked: oblimersen-dtic from 23 March 2027 08:00 in Berlin: the 5-day (120 h) infusion ends 120 h of elapsed
time later, on 28 March, the day clocks go forward, at 09:00 CEST (07:00 UTC); dacarbazine starts then and ends at
10:00. mFOLFOX6 from 23 October 2026 08:00: oxaliplatin and leucovorin 08:00-10:00, the bolus at 10:00, the 46 h
pump from 10:00 to 25 October 07:00 CET (the clocks went back on the 25th).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zoneinfo

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import examples

import regimen
from regimen.cli import cli
from regimen.errors import RegimenFileError
from regimen.protocol.loader import load_text

UTC = dt.UTC


def plan(regimen_id: str, start: dt.date, time: dt.time, tz: str, **patient: str) -> regimen.Plan:
    return regimen.expand(
        regimen.load(regimen_id), regimen.make_patient(**patient), start=start, time=time, tz=tz, cycles=1
    )


def test_dacarbazine_starts_when_the_infusion_ends_across_the_spring_change() -> None:
    p = plan("oblimersen-dtic", dt.date(2027, 3, 23), dt.time(8), "Europe/Berlin", weight="70", bsa="1.8")
    infusion = [r for r in p.administrations if r.drug == "oblimersen"]
    dacarbazine = next(r for r in p.administrations if r.drug == "dacarbazine")
    assert infusion[0].start == dt.datetime(2027, 3, 23, 7, 0, tzinfo=UTC)
    assert infusion[-1].end == dt.datetime(2027, 3, 28, 7, 0, tzinfo=UTC) == dacarbazine.start
    assert dacarbazine.end == dt.datetime(2027, 3, 28, 8, 0, tzinfo=UTC)
    assert dacarbazine.time_note == "starts when oblimersen ends"
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    assert dacarbazine.start.astimezone(berlin).strftime("%H:%M") == "09:00"  # not the 08:00 of --time


def test_mfolfox6_order_through_the_command_line() -> None:
    args = [
        "expand",
        "mfolfox6",
        "--bsa",
        "1.8",
        "--start",
        "2026-10-23",
        "--time",
        "08:00",
        "--tz",
        "Europe/Berlin",
        "--cycles",
        "1",
    ]
    rows = list(csv.DictReader(io.StringIO(CliRunner().invoke(cli, [*args, "--format", "csv"]).output)))
    day1 = {(r["component"], r["start"], r["end"]) for r in rows if r["day"] == "1"}
    assert day1 == {
        # the antiemetics by mouth, at once, 60 min before oxaliplatin starts at 08:00 (NZ SRL: one hour prior)
        ("ondansetron", "2026-10-23T07:00:00+02:00", "2026-10-23T07:00:00+02:00"),
        ("dexamethasone", "2026-10-23T07:00:00+02:00", "2026-10-23T07:00:00+02:00"),
        ("oxaliplatin", "2026-10-23T08:00:00+02:00", "2026-10-23T10:00:00+02:00"),
        ("leucovorin", "2026-10-23T08:00:00+02:00", "2026-10-23T10:00:00+02:00"),
        ("fluorouracil-bolus", "2026-10-23T10:00:00+02:00", "2026-10-23T10:00:00+02:00"),
        ("fluorouracil-pump", "2026-10-23T10:00:00+02:00", "2026-10-24T10:00:00+02:00"),
    }
    pump_day2 = next(r for r in rows if r["component"] == "fluorouracil-pump" and r["day"] == "2")
    assert pump_day2["end"] == "2026-10-25T07:00:00+01:00"  # 46 h of elapsed time, across the change
    # dexamethasone on days 2 and 3 at the day's 08:00, local time on each side of the change (25 October 2026)
    dexamethasone = [(r["day"], r["start"]) for r in rows if r["component"] == "dexamethasone-days-2-3"]
    assert dexamethasone == [("2", "2026-10-24T08:00:00+02:00"), ("3", "2026-10-25T08:00:00+01:00")]
    table = CliRunner().invoke(cli, args).output
    assert "10:00–07:00 (+1 d)  fluorouracil-pump" in table
    data = json.loads(CliRunner().invoke(cli, [*args, "--format", "json"]).output)
    bolus = next(a for a in data["administrations"] if a["component"] == "fluorouracil-bolus")
    assert bolus["time_note"] == "starts when leucovorin ends"


ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Sydney",
    "America/St_Johns",
    "Pacific/Chatham",
    "Asia/Kolkata",
    "UTC",
    "America/Sao_Paulo",
]


@settings(max_examples=examples(40), deadline=None)
@given(
    regimen_id=st.sampled_from(["mfolfox6", "folfiri", "oblimersen-dtic"]),
    zone=st.sampled_from(ZONES),
    start=st.dates(dt.date(2024, 1, 1), dt.date(2030, 12, 31)),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 45]),
)
def test_property_no_two_ordered_events_overlap_in_any_zone(
    regimen_id: str, zone: str, start: dt.date, hour: int, minute: int
) -> None:
    reg = regimen.load(regimen_id)
    p = regimen.expand(
        reg, regimen.make_patient(weight="70", bsa="1.8"), start=start, time=dt.time(hour, minute), tz=zone, cycles=1
    )
    after = {c.id: c.after for c in reg.components() if c.after}
    for r in p.administrations:
        if r.component not in after or r.start is None:
            continue
        before = [
            x
            for x in p.administrations
            if x.component == after[r.component] and x.end is not None and x.course_day <= r.course_day
        ]
        assert before and r.start >= max(x.end for x in before if x.end is not None), (r.component, r.start)
    for r in p.administrations:  # an infusion's stated duration is elapsed time, whatever the clocks do
        if r.start is not None and r.end is not None and r.duration_hours is not None:
            assert r.end - r.start == dt.timedelta(hours=float(r.duration_hours))


def test_what_follows_an_infusion_of_unstated_duration_has_no_time() -> None:
    text = (
        'id = "x"\nname = "x"\n[[source]]\ncitation = "t"\n[[component]]\ndrug = "a"\ndose = "5 mg"\n'
        'route = "IV"\nmethod = "infusion"\ndays = "1"\n[[component]]\ndrug = "b"\ndose = "5 mg"\n'
        'route = "IV"\nmethod = "bolus"\ndays = "1"\nafter = "a"\n'
    )
    p = regimen.expand(load_text(text), regimen.make_patient(), start=dt.date(2026, 1, 5), time=dt.time(9))
    b = next(r for r in p.administrations if r.drug == "b")
    assert b.start is None and b.time_note == "after a, whose duration the source does not state: start not known"


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ('after = "zz"', "after 'zz' is not a component here"),
        ('gap = "30 min"', "a gap is the time after another component"),
    ],
)
def test_after_errors_name_the_field(extra: str, says: str) -> None:
    text = (
        'id = "x"\nname = "x"\n[[source]]\ncitation = "t"\n[[component]]\ndrug = "a"\ndose = "5 mg"\n'
        f'days = "1"\n{extra}\n'
    )
    with pytest.raises(RegimenFileError, match=says):
        load_text(text)


def test_an_after_loop_is_refused() -> None:
    text = (
        'id = "x"\nname = "x"\n[[source]]\ncitation = "t"\n[[component]]\ndrug = "a"\ndose = "5 mg"\n'
        'days = "1"\nafter = "b"\n[[component]]\ndrug = "b"\ndose = "5 mg"\ndays = "1"\nafter = "a"\n'
    )
    with pytest.raises(RegimenFileError, match="'after' forms a loop"):
        load_text(text)


def test_a_gap_is_added_after_the_end() -> None:
    text = (
        'id = "x"\nname = "x"\n[[source]]\ncitation = "t"\n[[component]]\ndrug = "a"\ndose = "5 mg"\n'
        'route = "IV"\nmethod = "infusion"\nduration = "90 min"\ndays = "1"\n[[component]]\ndrug = "b"\n'
        'dose = "5 mg"\nroute = "IV"\nmethod = "bolus"\ndays = "1"\nafter = "a"\ngap = "30 min"\n'
    )
    p = regimen.expand(load_text(text), regimen.make_patient(), start=dt.date(2026, 1, 5), time=dt.time(9))
    b = next(r for r in p.administrations if r.drug == "b")
    assert b.start == dt.datetime(2026, 1, 5, 11, 0, tzinfo=UTC) and b.time_note == "starts when a ends + 30 min"


def test_a_follower_pushed_past_midnight_by_a_dst_change_says_so_in_the_table() -> None:
    """Found by the calendar property test: oblimersen-dtic started at 23:00 in New York on 2005-11-01; in cycle 8
    the 120 h infusion spans the 2 April 2006 spring change and ends at 00:00 on 3 April. Dacarbazine, which follows
    it on day 6 (2 April), starts then: its row keeps day 6 and the table gives the real date beside the time."""
    import datetime as dt

    from regimen.engine.timing import span_text
    from regimen.quantities.clock import tzinfo_for

    plan = regimen.expand(
        regimen.load("oblimersen-dtic"),
        regimen.make_patient(weight="70", bsa="1.8", age="45"),
        start=dt.date(2005, 11, 1),
        cycles=8,
        time=dt.time(23, 0),
        tz="America/New_York",
    )
    row = next(a for a in plan.administrations if a.cycle == 8 and a.drug == "dacarbazine")
    assert row.date == dt.date(2006, 4, 2) and row.time_note == "starts when oblimersen ends"
    assert row.start == dt.datetime(2006, 4, 3, 4, 0, tzinfo=dt.UTC)  # 00:00 EDT
    assert span_text(row, tzinfo_for("America/New_York")).startswith("00:00 (next day, 2006-04-03)")
