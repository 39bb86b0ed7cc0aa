"""Calendar identity (issue 12.2): events keyed by the course, so a re-export after a change updates exactly the
changed events, cancels those that left the plan, and leaves the rest byte for byte as they were.

Each file is read by icalendar, vobject and ics.py and checked against its VTIMEZONE (``agreed``); the CalDAV
part runs against the real Radicale server of test_caldav.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from pathlib import Path

import icalendar
from click.testing import CliRunner
from tests.helpers import CAPOX_FIXTURE
from tests.test_caldav import ENV, Server, radicale
from tests.test_courses import db, ok, postgres
from tests.test_ics import agreed

from regimen.cli import cli

__all__ = ["db", "postgres", "radicale"]

PATIENT = ["--weight", "70", "--height", "175", "--age", "60"]


def blocks(raw: bytes) -> dict[str, bytes]:
    """UID -> the event's bytes, as written."""
    out = {}
    for block in re.findall(rb"BEGIN:VEVENT\r\n.*?END:VEVENT\r\n", raw, flags=re.S):
        uid = re.search(rb"\r\nUID:(.*?)\r\n", block.replace(b"\r\n ", b""))
        assert uid is not None
        out[uid.group(1).decode()] = block
    return out


def events(raw: bytes) -> dict[str, icalendar.Event]:
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(raw).walk("VEVENT")}


def export(db: str, path: Path, epoch: int, *, readers: bool = True) -> bytes:
    """The course's calendar file, written by ``course calendar``; with ``readers``, read by the four readers.

    A test that follows one course through several changes has the readers read its first and its last file: the
    last holds every kind of change the ones between made (new doses, moved dates across a change of clocks,
    cancelled events, raised SEQUENCE), and those between are compared with it byte for byte. The readers cost
    about a second a file of 232 events (ics.py most of it), so reading each of six files was most of the test."""
    result = CliRunner().invoke(
        cli, ["course", "calendar", "c1", "--ics", str(path), "--db", db], env={"SOURCE_DATE_EPOCH": str(epoch)}
    )
    assert result.exit_code == 0, result.output
    raw = path.read_bytes()
    if readers:
        agreed(raw)  # the four readers agree on every event's instants
    return raw


def test_a_course_calendar_follows_its_changes(db: str, tmp_path: Path) -> None:
    ok(db, "course", "start", CAPOX_FIXTURE, "--course", "c1", *PATIENT, "--start", "2027-02-02", "--time", "09:00",
       "--tz", "Europe/Berlin")  # fmt: skip
    ics = tmp_path / "c1.ics"
    first = export(db, ics, 1_800_000_000)
    again = export(db, ics, 1_800_000_100, readers=False)
    assert again == first  # nothing changed: the file is byte for byte the same, DTSTAMP included

    # a new weight from cycle 4: BSA (Mosteller, from height) and so every dose of cycles 4-8 change
    ok(db, "course", "measure", "c1", "--cycle", "4", "--weight", "62", "--reason", "re-weighed")
    second = export(db, ics, 1_800_000_200, readers=False)
    old, new = blocks(first), blocks(second)
    assert set(new) == set(old)  # the same events: no duplicates, nothing cancelled
    changed = {u for u in new if new[u] != old[u]}
    by_uid = events(second)
    cycles = {u: int(re.search(r"C(\d+) ", str(e["SUMMARY"])).group(1)) for u, e in by_uid.items()}  # type: ignore[union-attr]
    assert {cycles[u] for u in changed} == {4, 5, 6, 7, 8}
    assert all(int(by_uid[u]["SEQUENCE"]) == 1 for u in changed)
    assert all(new[u] == old[u] for u in new if cycles[u] < 4)  # cycles 1-3 byte-identical

    # cycle 3 a week late: cycles 3-8 move (same UIDs), cycles 1-2 stay as they were
    ok(db, "course", "delay", "c1", "--cycle", "3", "--by", "7d", "--reason", "neutrophils")
    third = export(db, ics, 1_800_000_300, readers=False)
    moved = blocks(third)
    assert set(moved) == set(old)
    assert {cycles[u] for u in moved if moved[u] != new[u]} == {3, 4, 5, 6, 7, 8}
    after = events(third)
    assert all(int(after[u]["SEQUENCE"]) == (2 if cycles[u] >= 4 else 1) for u in moved if cycles[u] >= 3)

    def oxaliplatin(cycle: int) -> str:
        return next(u for u, e in after.items() if cycles[u] == cycle and "oxaliplatin" in str(e["SUMMARY"]).lower())

    assert after[oxaliplatin(3)].decoded("DTSTART").isoformat() == "2027-03-23T09:00:00+01:00"  # 03-16 + 7 days
    # cycle 4 moves from winter into summer time (clocks change on 2027-03-28): still 09:00 on the wall clock
    assert after[oxaliplatin(4)].decoded("DTSTART").isoformat() == "2027-04-13T09:00:00+02:00"  # 04-06 + 7 days

    # an omitted oxaliplatin: its event stays in the file, cancelled, SEQUENCE + 1; the rest untouched
    ok(db, "course", "omit", "c1", "--cycle", "2", "--day", "1", "--drug", "oxaliplatin", "--reason", "reaction")
    fourth = export(db, ics, 1_800_000_400, readers=False)
    last = events(fourth)
    gone = next(u for u, e in last.items() if cycles[u] == 2 and "oxaliplatin" in str(e["SUMMARY"]).lower())
    assert str(last[gone]["STATUS"]) == "CANCELLED" and int(last[gone]["SEQUENCE"]) == 1
    assert {u for u in blocks(fourth) if blocks(fourth)[u] != moved[u]} == {gone}

    # stopped from the first day of cycle 6 (2027-02-02 + 5 × 21 + 7 = 2027-05-25): cycles 6-8 are cancelled,
    # SEQUENCE + 1 (3: after the new weight and the delay), cycles 1-5 stay byte for byte
    ok(db, "course", "stop", "c1", "--on", "2027-05-25", "--reason", "progression")
    fifth = export(db, ics, 1_800_000_500)
    final, final_blocks, kept = events(fifth), blocks(fifth), blocks(fourth)
    assert set(final) == set(last)
    stopped = {u for u in final if str(final[u].get("STATUS")) == "CANCELLED" and u != gone}
    assert {cycles[u] for u in stopped} == {6, 7, 8} and len(stopped) == 3 * 29
    assert all(int(final[u]["SEQUENCE"]) == 3 for u in stopped)
    assert {u for u in final_blocks if final_blocks[u] != kept[u]} == stopped


def test_expand_with_a_course_key_updates_instead_of_duplicating(tmp_path: Path) -> None:
    """The case of the issue: 70 -> 72 kg re-exported gave new UIDs and cancelled nothing (two cenersen doses)."""
    ics = tmp_path / "plan.ics"
    common = ["--bsa", "1.8", "--age", "45", "--start", "2026-12-01", "--time", "08:00", "--tz", "Europe/Berlin"]

    def run(weight: str, *extra: str) -> bytes:
        result = CliRunner().invoke(
            cli, ["expand", "cenersen-arm3", "--weight", weight, *common, "--ics", str(ics), *extra]
        )
        assert result.exit_code == 0, result.output
        return ics.read_bytes()

    first = blocks(run("70", "--course", "p1"))
    second_raw = run("72", "--course", "p1")
    second = blocks(second_raw)
    agreed(second_raw)
    assert set(second) == set(first)
    summaries = {u: str(e["SUMMARY"]) for u, e in events(second_raw).items()}
    first_summaries = {
        u: str(e["SUMMARY"])
        for u, e in events(
            b"".join(first.values()).join([b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n", b"END:VCALENDAR\r\n"])
        ).items()
    }
    # each event says the patient values its dose was worked out from: only cenersen's (the weight) is updated
    # (SEQUENCE 1); idarubicin and cytarabine (the BSA) stay as they were (issue 26)
    assert {summaries[u].split()[0]: int(e["SEQUENCE"]) for u, e in events(second_raw).items()} == {
        "Cenersen": 1,
        "Idarubicin": 0,
        "Cytarabine": 0,
    }
    retitled = {summaries[u].split()[0] for u in second if summaries[u] != first_summaries[u]}
    assert retitled == {"Cenersen"}  # idarubicin and cytarabine are per m²: same titles
    cenersen = next(u for u in second if summaries[u].startswith("Cenersen"))
    assert "691.2 mg" in summaries[cenersen]  # 0.1 mg/kg/h × 72 kg × 96 h
    assert not any("672 mg" in s for s in summaries.values())  # no stale dose beside the new one
    # without the key, the plan's identity is its patient values: a new weight makes new events and cancels the old
    ics.unlink()
    run("70")
    third = events(run("72"))
    assert sum(str(e.get("STATUS")) == "CANCELLED" for e in third.values()) == len(first)


def test_a_course_on_caldav_follows_its_changes(db: str, radicale: Server) -> None:
    name = f"course-{uuid.uuid4().hex[:8]}"
    url = radicale.calendar(name)
    ok(db, "course", "start", CAPOX_FIXTURE, "--course", "c1", *PATIENT, "--start", "2027-02-02", "--cycles", "2")

    def upload() -> str:
        result = CliRunner().invoke(cli, ["course", "calendar", "c1", "--caldav", url, "--db", db], env=ENV)
        assert result.exit_code == 0, result.output
        return result.stderr

    upload()
    before = radicale.stored(name)
    ok(db, "course", "omit", "c1", "--cycle", "2", "--day", "3", "--reason", "holiday")
    said = upload()
    after = radicale.stored(name)
    assert set(after) == set(before)
    cancelled = {u for u, e in after.items() if str(e.get("STATUS")) == "CANCELLED"}
    # day 3 of cycle 2 has two capecitabine doses: both events cancelled (SEQUENCE 1), every other one untouched
    assert len(cancelled) == 2 and all(int(after[u]["SEQUENCE"]) == 1 for u in cancelled)
    assert f"{len(before) - 2} unchanged" in said

    def cycle_of(event: icalendar.Event) -> int:
        found = re.search(r"C(\d+) ", str(event["SUMMARY"]))
        assert found is not None
        return int(found.group(1))

    # a new weight from cycle 2: BSA √(62 × 175 / 3600) = 1.736 m² (from 1.845), so cycle 2's doses change
    ok(db, "course", "measure", "c1", "--cycle", "2", "--weight", "62", "--reason", "re-weighed")
    said = upload()
    weighed = radicale.stored(name)
    assert set(weighed) == set(before)
    changed = {u for u in weighed if weighed[u].to_ical() != after[u].to_ical()}
    assert {cycle_of(weighed[u]) for u in changed} == {2} and len(changed) == 29 - 2  # not the cancelled ones
    assert all(int(weighed[u]["SEQUENCE"]) == 1 for u in changed)
    oxaliplatin = next(u for u in changed if "oxaliplatin" in str(weighed[u]["SUMMARY"]).lower())
    assert "225.7 mg" in str(weighed[oxaliplatin]["SUMMARY"])  # 130 × 1.736 = 225.68 mg (was 239.85)
    assert f"{len(before) - 27} unchanged" in said
    # cycle 2 a week late: its events move (same UIDs, SEQUENCE 2), cycle 1 untouched
    ok(db, "course", "delay", "c1", "--cycle", "2", "--by", "7d", "--reason", "neutrophils")
    upload()
    delayed = radicale.stored(name)
    moved = {u for u in delayed if delayed[u].to_ical() != weighed[u].to_ical()}
    assert moved == changed
    assert delayed[oxaliplatin].decoded("DTSTART") == weighed[oxaliplatin].decoded("DTSTART") + dt.timedelta(days=7)
    assert all(int(delayed[u]["SEQUENCE"]) == 2 for u in moved)
    assert all(delayed[u].to_ical() == before[u].to_ical() for u in delayed if cycle_of(delayed[u]) == 1)


def sequences(raw: bytes) -> dict[str, tuple[str, int]]:
    """UID -> (title, SEQUENCE)."""
    return {uid: (str(e["SUMMARY"]), int(e["SEQUENCE"])) for uid, e in events(raw).items()}


def test_a_new_weight_moves_only_the_weight_based_event_on_both_paths(db: str, tmp_path: Path) -> None:
    """Issue 26: after 70 -> 72 kg, 'expand --course --ics' raised SEQUENCE on idarubicin and cytarabine, whose
    doses are by BSA and did not change, because each event named every patient value. Each event now names the
    values its dose was worked out from: only cenersen (0.1 mg/kg/h × 72 kg) changes, on both paths alike."""
    patient = ["--bsa", "1.8", "--age", "45", "--start", "2026-12-01"]
    plan = tmp_path / "plan.ics"
    for weight in ("70", "72"):
        result = CliRunner().invoke(
            cli, ["expand", "cenersen-arm3", "--weight", weight, *patient, "--course", "c1", "--ics", str(plan)]
        )
        assert result.exit_code == 0, result.output
        if weight == "70":
            before = plan.read_bytes()
    ok(db, "course", "start", "cenersen-arm3", "--course", "c1", "--weight", "70", *patient)
    course = tmp_path / "course.ics"
    course_before = export(db, course, 1_800_000_000)
    ok(db, "course", "measure", "c1", "--cycle", "1", "--weight", "72", "--reason", "weighed")
    course_after = export(db, course, 1_800_000_100)

    after = plan.read_bytes()
    moved = {uid for uid, (title, _) in sequences(after).items() if title.startswith("Cenersen")}
    # 0.1 mg/kg/h × 72 kg = 7.2 mg/h; × 96 h = 691.2 mg (was 7 mg/h, 672 mg)
    assert [sequences(after)[u] for u in moved] == [
        ("Cenersen 691.2 mg IV continuous over 96 h, 7.2 mg/h — C1 D1–4", 1)
    ]
    assert sequences(course_after) == sequences(after)  # the same UIDs (keyed by c1), the same SEQUENCE on both
    for old, new in ((before, after), (course_before, course_after)):
        kept = {uid: block for uid, block in blocks(new).items() if uid not in moved}
        assert len(kept) == 7 and all(blocks(old)[uid] == block for uid, block in kept.items())  # byte for byte
    ida = str(next(e for e in events(after).values() if "Idarubicin" in str(e["SUMMARY"]))["DESCRIPTION"])
    assert "Patient values used: BSA 1.8 m²\n" in ida and "72 kg" not in ida


def test_the_worklist_calendar_raises_sequence_with_each_change_of_the_course(db: str, tmp_path: Path) -> None:
    """Issue 26: 'due -o due.ics' had no SEQUENCE, so a delayed event did not move in a client that had it. It is
    the course's number of recorded changes: the same on every run, higher after each change."""
    ok(db, "course", "start", "cenersen-arm3", "--course", "c1", "--weight", "70", "--bsa", "1.8", "--age", "45",
       "--start", "2026-12-01", "--time", "08:00", "--tz", "Europe/Berlin")  # fmt: skip
    due = tmp_path / "due.ics"

    def worklist() -> dict[str, tuple[str, int, str]]:
        ok(db, "due", "--from", "2026-12-01", "--days", "10", "-o", str(due))
        return {u: (str(e["SUMMARY"]), int(e["SEQUENCE"]), str(e.decoded("DTSTART"))) for u, e in events(
            due.read_bytes()).items()}  # fmt: skip

    first = worklist()
    # a row per preparation: the 4-day cenersen infusion is one pump, + 3 idarubicin + 4 cytarabine
    assert len(first) == 8 and {seq for _, seq, _ in first.values()} == {0}
    assert worklist() == first  # written afresh, the same
    ok(db, "course", "delay", "c1", "--cycle", "1", "--by", "2d", "--reason", "neutrophils")
    delayed = worklist()
    assert set(delayed) == set(first) and {seq for _, seq, _ in delayed.values()} == {1}
    cen = min(first, key=lambda u: first[u][2])  # day 1: the cenersen infusion's first day
    assert first[cen][2] == "2026-12-01 07:00:00+00:00" and delayed[cen][2] == "2026-12-03 07:00:00+00:00"
    ok(db, "course", "measure", "c1", "--cycle", "1", "--weight", "72", "--reason", "weighed")
    assert {seq for _, seq, _ in worklist().values()} == {2}
