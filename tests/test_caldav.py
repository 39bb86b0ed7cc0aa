"""--caldav: upload to a real Radicale server on 127.0.0.1 (a free port, a temporary storage folder; the ``radicale``
fixture of tests/conftest.py, one server per test process).

What the server stores is read back from its storage folder, not only through its HTTP answers.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path
from typing import Any

import icalendar
import pytest
from tests.conftest import radicale
from tests.helpers import free_port
from tests.servers import ENV, PASSWORD, USER, Server
from tests.test_ics import STAMP, agreed, make_plan, plan_to_ics

from regimen.cli import cli
from regimen.export import caldav as caldav_mod
from regimen.export import ics as ics_mod
from regimen.export.caldav import CalDAVError, Client, Resource, credentials, sync
from regimen.export.calendar import publish
from regimen.export.ics import plan_key

__all__ = ["ENV", "PASSWORD", "USER", "Server", "radicale"]  # kept importable from here by other test modules

OPTIONS: dict[str, Any] = {"time": dt.time(9), "tz": "Europe/Berlin", "dtstamp": STAMP}


def test_upload_stores_one_resource_per_event_as_in_the_file(radicale: Server) -> None:
    url = radicale.calendar("first")
    plan = make_plan("oblimersen-dtic", dt.date(2026, 10, 20), cycles=2)
    result = publish(plan, url, environ=ENV, **OPTIONS)
    stored = radicale.stored("first")
    assert len(stored) == 4 and len(result.created) == 4 and not result.updated and not result.deleted
    file_events = {str(e["UID"]): e for e in icalendar.Calendar.from_ical(plan_to_ics(plan, **OPTIONS)).walk("VEVENT")}
    assert set(stored) == set(file_events)
    for uid, event in stored.items():
        assert event.to_ical() == file_events[uid].to_ical()  # same content, times, SEQUENCE 0
    # each stored resource is a whole calendar with its VTIMEZONE, read alike by every reader
    for item in (radicale.storage / "collection-root" / USER / "first").glob("*.ics"):
        agreed(item.read_bytes())


def test_second_upload_replaces_the_first(radicale: Server) -> None:
    url = radicale.calendar("replace")
    two = make_plan("oblimersen-dtic", dt.date(2026, 10, 20), cycles=2)
    publish(two, url, environ=ENV, **OPTIONS)
    first = radicale.stored("replace")
    # another patient's plan in the same calendar must survive (a label keeps patients of the same regimen and start
    # apart; without one, a plan under other patient values is this one before a new weight: see below)
    other = make_plan("oblimersen-dtic", dt.date(2026, 10, 20), cycles=1, weight="80")
    publish(other, url, environ=ENV, **{**OPTIONS, "label": "bed 4"})
    other_uids = set(radicale.stored("replace")) - set(first)
    assert len(other_uids) == 2

    one = make_plan("oblimersen-dtic", dt.date(2026, 10, 20), cycles=1)
    result = publish(one, url, environ=ENV, **{**OPTIONS, "time": dt.time(10)})
    stored = radicale.stored("replace")
    cancelled = {u for u in first if str(stored[u].get("STATUS", "")) == "CANCELLED"}
    kept = set(first) - cancelled
    # cycle 2 of this plan left it: its events stay on the server as cancelled (SEQUENCE + 1), as in a file
    assert len(kept) == 2 and len(cancelled) == 2 and not result.deleted and set(result.updated) == set(first)
    assert set(stored) == set(first) | other_uids  # the other plan untouched
    assert all(int(stored[u]["SEQUENCE"]) == 1 for u in cancelled)
    for uid in kept:
        assert int(stored[uid]["SEQUENCE"]) == 1
        # the infusion starts at the new time; dacarbazine follows it, at its day's time (the infusion ended at
        # 09:00 on the day the clocks went back)
        assert stored[uid].decoded("DTSTART").hour == 10
    again = publish(one, url, environ=ENV, **{**OPTIONS, "time": dt.time(10)})
    assert set(again.unchanged) == set(first) and not again.updated and not again.created and not again.deleted
    assert {int(e["SEQUENCE"]) for u, e in radicale.stored("replace").items() if u in kept} == {1}
    assert all(u.startswith(f"regimen-{plan_key(one)}-") for u in kept)


def test_cli_caldav_with_credentials_from_environment(radicale: Server, runner: Any, tmp_path: Path) -> None:
    url = radicale.calendar("cli")
    args = [
        "expand",
        "cenersen-arm3",
        "--weight",
        "70",
        "--bsa",
        "1.8",
        "--age",
        "45",
        "--start",
        "2026-12-01",
        "--time",
        "08:00",
        "--tz",
        "Europe/Berlin",
        "--caldav",
        url,
        "--ics",
        str(tmp_path / "p.ics"),
    ]
    result = runner.invoke(cli, args, env=ENV)
    assert result.exit_code == 0, result.output
    assert f"{url}: 8 event(s) created, 0 updated, 0 unchanged, 0 removed" in result.stderr
    assert set(radicale.stored("cli")) == {
        str(e["UID"]) for e in icalendar.Calendar.from_ical((tmp_path / "p.ics").read_bytes()).walk("VEVENT")
    }


def test_a_new_weight_without_course_cancels_the_earlier_events_on_the_server_as_in_the_file(
    radicale: Server, runner: Any, tmp_path: Path
) -> None:
    """Issue 26: after 70 -> 72 kg without --course the file cancelled the 8 events of the 70 kg plan but the server
    kept them active beside the 8 new ones (16 active events for 8 administrations). One behaviour now: the earlier
    plan's events are withdrawn on both, and another patient's (labelled) plan in the same calendar is untouched."""
    url = radicale.calendar("weight")
    ics = tmp_path / "plan.ics"

    def expand(weight: str, *more: str) -> Any:
        args = ["expand", "cenersen-arm3", "--weight", weight, "--bsa", "1.8", "--age", "45", "--start", "2026-12-01"]
        result = runner.invoke(
            cli, [*args, "--time", "08:00", "--tz", "Europe/Berlin", "--caldav", url, *more], env=ENV
        )
        assert result.exit_code == 0, result.output
        return result

    def active(events: dict[str, icalendar.Event]) -> set[str]:
        return {uid for uid, e in events.items() if str(e.get("STATUS", "")) != "CANCELLED"}

    expand("70", "--ics", str(ics))
    first = set(radicale.stored("weight"))
    expand("80", "--label", "bed 4")  # another patient, same regimen and start
    neighbour = set(radicale.stored("weight")) - first
    assert len(first) == len(neighbour) == 8  # 4 cenersen days as 1 event, 3 idarubicin, 4 cytarabine (age 45)
    result = expand("72", "--ics", str(ics))
    assert (
        "8 event(s) of the same regimen and start with other patient values (weight 70 kg; BSA 1.8 m²) are cancelled"
        in result.stderr
    )
    assert (
        f"{url}: 8 event(s) created, 8 updated (8 of them an earlier plan's), 0 unchanged, 0 removed" in result.stderr
    )
    server = radicale.stored("weight")
    file = {str(e["UID"]): e for e in icalendar.Calendar.from_ical(ics.read_bytes()).walk("VEVENT")}
    assert len(active(file)) == 8 and set(file) - active(file) == first  # the file: 8 new, the 8 old cancelled
    assert active(server) == active(file) | neighbour  # the server: the same, the neighbour's as they were
    for uid in first:  # withdrawn alike: cancelled, SEQUENCE 1, nothing of the old plan's doses left
        # the same event but for DTSTAMP, the instant each was written (the two runs may be a second apart)
        assert re.sub(rb"DTSTAMP:[^\r]*", b"", server[uid].to_ical()) == re.sub(
            rb"DTSTAMP:[^\r]*", b"", file[uid].to_ical()
        )
        assert int(server[uid]["SEQUENCE"]) == 1 and "DESCRIPTION" not in server[uid]
    again = expand("72")
    assert f"{url}: 0 event(s) created, 0 updated, 8 unchanged, 0 removed" in again.stderr
    assert "are cancelled" not in again.stderr and radicale.stored("weight") == server


def test_credentials_from_netrc(radicale: Server, tmp_path: Path) -> None:
    url = radicale.calendar("netrc")
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login {USER} password {PASSWORD}\n")
    netrc.chmod(0o600)
    assert credentials(url, {"NETRC": str(netrc)}) == (USER, PASSWORD)
    publish(make_plan("cenersen-arm1", dt.date(2026, 6, 1)), url, environ={"NETRC": str(netrc)}, **OPTIONS)
    assert len(radicale.stored("netrc")) == 4


def test_wrong_password_is_a_one_line_error(radicale: Server, runner: Any) -> None:
    url = radicale.calendar("refused")
    result = runner.invoke(
        cli,
        ["expand", "cenersen-arm1", "--weight", "70", "--bsa", "1.8", "--start", "2026-06-01", "--caldav", url],
        env={"REGIMEN_CALDAV_USER": USER, "REGIMEN_CALDAV_PASSWORD": "wrong"},
    )
    assert result.exit_code == 1
    assert "refused the login (401)" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert radicale.stored("refused") == {}


def test_missing_calendar_is_a_clear_error(radicale: Server) -> None:
    with pytest.raises(CalDAVError, match=r"no calendar there \(404\); create the calendar first"):
        publish(make_plan("cenersen-arm1", dt.date(2026, 6, 1)), f"{radicale.base}/{USER}/missing/", environ=ENV)


def test_unreachable_server() -> None:
    with pytest.raises(CalDAVError, match="cannot reach the server"):
        Client(f"http://127.0.0.1:{free_port()}/cal/", None).events()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://nurse:pw@127.0.0.1:1/cal/", "do not put credentials in the URL"),
        ("http://calendar.example/cal/", "credentials are sent only over https"),
        ("ftp://127.0.0.1/cal/", "give the http(s) URL"),
    ],
)
def test_unsafe_urls_are_refused_before_any_request(url: str, message: str) -> None:
    with pytest.raises(CalDAVError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Client(url, ("nurse", "pw"))


def vevent(uid: str, summary: str) -> bytes:
    return (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
        f"DTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20260601\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n"
    ).encode()


def test_sync_stores_the_bytes_it_is_given_and_touches_only_its_prefix(radicale: Server) -> None:
    url = radicale.calendar("sync")
    seen: list[dict[str, bytes]] = []

    def render(resources: dict[str, Resource]) -> Any:
        def call(stored: Any) -> dict[str, Resource]:
            seen.append(dict(stored))
            return resources

        return call

    created = sync(
        url, "a-", render({"a-1": Resource(vevent("a-1", "one")), "a-2": Resource(vevent("a-2", "two"))}), environ=ENV
    )
    sync(url, "b-", render({"b-1": Resource(vevent("b-1", "other"))}), environ=ENV)
    assert created.created == ("a-1", "a-2") and seen[-1] == {}
    result = sync(
        url,
        "a-",
        render({"a-1": Resource(vevent("a-1", "one"), changed=False), "a-3": Resource(vevent("a-3", "three"))}),
        environ=ENV,
    )
    assert set(seen[-1]) == {"a-1", "a-2"} and b"SUMMARY:two" in seen[-1]["a-2"]  # the server's copies
    assert (result.created, result.updated, result.unchanged, result.deleted) == (("a-3",), (), ("a-1",), ("a-2",))
    assert {uid: str(e["SUMMARY"]) for uid, e in radicale.stored("sync").items()} == {
        "a-1": "one",
        "a-3": "three",
        "b-1": "other",
    }
    with pytest.raises(ValueError, match="outside the prefix"):
        sync(url, "a-", render({"b-2": Resource(vevent("b-2", "stray"))}), environ=ENV)


def test_the_caldav_client_and_the_ics_writer_do_not_know_each_other() -> None:
    def imports(module: Any) -> set[str]:
        tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
        found = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        return found | {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}

    assert {m for m in imports(caldav_mod) if m.startswith("regimen")} == {"regimen.errors"}  # no plans, no ics
    assert not {m for m in imports(ics_mod) if m.startswith(("regimen.export.caldav", "regimen.export.calendar"))}


def test_partial_credentials() -> None:
    with pytest.raises(CalDAVError, match="both REGIMEN_CALDAV_USER and REGIMEN_CALDAV_PASSWORD"):
        credentials("https://x.example/", {"REGIMEN_CALDAV_USER": "nurse"})
    assert credentials("https://x.example/", {"NETRC": "/nonexistent/netrc"}) is None
