"""The CalDAV client leaks nothing and holds nothing (issue 11.6): against servers that misbehave on purpose,
credentials and data stay with the origin the user named, every request and run has a deadline, answers have a
size cap, a shared ~/.netrc is refused, and a failure midway says what was written; a re-run completes it."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner
from tests.test_caldav import PASSWORD, USER, Server, radicale  # noqa: F401 - the real Radicale server fixture
from tests.test_ics import make_plan

from regimen.cli import cli
from regimen.export import caldav as caldav_mod
from regimen.export.caldav import CalDAVError, Client, credentials
from regimen.export.calendar import publish

AUTH = {"REGIMEN_CALDAV_USER": USER, "REGIMEN_CALDAV_PASSWORD": PASSWORD}


class Recorder(http.server.BaseHTTPRequestHandler):
    """A scripted server: ``script(handler)`` answers; every request is recorded with its headers."""

    script: Any = None
    seen: ClassVar[list[tuple[str, str, dict[str, str]]]] = []

    def _any(self) -> None:
        type(self).seen.append((self.command, self.path, dict(self.headers)))
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        type(self).script(self)

    do_GET = do_PUT = do_DELETE = do_REPORT = do_PROPFIND = _any

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def scripted() -> Iterator[Any]:
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(script: Any) -> tuple[str, type[Recorder]]:
        handler = type("Handler", (Recorder,), {"script": staticmethod(script), "seen": []})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        # serve_forever looks for shutdown() every poll_interval: 0.5 s by default, which every test's teardown waited
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/cal/", handler

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def answer(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Any:
    def script(h: Recorder) -> None:
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return script


def multistatus(href: str) -> bytes:
    event = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:regimen-x-1\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    return (
        '<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
        f'<d:response><d:href>{href}</d:href><d:propstat><d:prop><d:getetag>"1"</d:getetag>'
        f"<c:calendar-data>{event}</c:calendar-data></d:prop></d:propstat></d:response></d:multistatus>"
    ).encode()


def plan() -> Any:
    return make_plan("cenersen-arm1", dt.date(2026, 6, 1))


def test_an_href_to_another_origin_is_refused_and_nothing_is_sent_there(scripted: Any) -> None:
    elsewhere, other = scripted(answer(201))
    url, _ = scripted(answer(207, multistatus(elsewhere + "stolen.ics")))
    with pytest.raises(CalDAVError, match="another origin; regimen sends nothing there"):
        Client(url, None).events()
    assert other.seen == []


def test_a_redirect_is_never_followed_with_the_login(scripted: Any) -> None:
    elsewhere, other = scripted(answer(207, multistatus("/cal/a.ics")))
    url, _ = scripted(answer(307, headers={"Location": elsewhere}))
    with pytest.raises(CalDAVError, match=r"redirects \(307\).*does not follow redirects"):
        Client(url, ("u", "secret")).events()
    assert other.seen == []


def test_plain_http_to_another_machine_is_refused_unless_allowed() -> None:
    with pytest.raises(CalDAVError, match="plain http to another machine sends patient data unencrypted"):
        Client("http://calendar.example.org/cal/", None, environ={})
    Client("http://calendar.example.org/cal/", None, environ={"REGIMEN_CALDAV_ALLOW_HTTP": "1"})
    with pytest.raises(CalDAVError, match="credentials are sent only over https"):
        Client("http://calendar.example.org/cal/", ("u", "p"), environ={"REGIMEN_CALDAV_ALLOW_HTTP": "1"})


def test_a_server_trickling_bytes_meets_the_request_deadline(scripted: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def trickle(h: Recorder) -> None:
        h.send_response(207)
        h.send_header("Content-Length", "1000")
        h.end_headers()
        for _ in range(30):  # 6 s of one byte every 0.2 s: never a socket timeout, never a complete answer
            try:
                h.wfile.write(b" ")
                h.wfile.flush()
            except OSError:
                return
            time.sleep(0.2)

    # a deadline of 0.6 s: three bytes arrive before it, each well within any socket timeout (the test waits out the
    # deadline, so the shorter it is, the less of the fast subset's time it holds a worker idle)
    monkeypatch.setattr(caldav_mod, "REQUEST_SECONDS", 0.6)
    url, _ = scripted(trickle)
    began = time.monotonic()
    with pytest.raises(CalDAVError, match=r"no complete answer to REPORT within 1 s"):
        Client(url, None).events()
    assert time.monotonic() - began < 3


def test_the_run_has_a_deadline_too(scripted: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url, _ = scripted(answer(207, multistatus("/cal/a.ics")))
    client = Client(url, None)
    client.deadline = time.monotonic() - 1
    with pytest.raises(CalDAVError, match="took longer than"):
        client.events()


def test_an_answer_larger_than_the_cap_is_refused(scripted: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(caldav_mod, "MAX_RESPONSE_BYTES", 10_000)
    url, _ = scripted(answer(207, b"x" * 50_000))
    with pytest.raises(CalDAVError, match="larger than"):
        Client(url, None).events()


def test_a_netrc_others_can_read_is_refused(tmp_path: Path) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine cal.example.org login u password p\n")
    netrc.chmod(0o644)
    with pytest.raises(CalDAVError, match=r"may be read by other users \(mode 644\).*chmod 600"):
        credentials("https://cal.example.org/cal/", {"NETRC": str(netrc)})
    netrc.chmod(0o600)
    assert credentials("https://cal.example.org/cal/", {"NETRC": str(netrc)}) == ("u", "p")


def test_a_failure_midway_says_what_was_written_and_a_rerun_completes(
    radicale: Server,  # noqa: F811 - the fixture
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = radicale.calendar("midway")
    real = Client.request
    puts = {"n": 0}

    def flaky(self: Client, method: str, target: str, *args: Any, **kwargs: Any) -> Any:
        if method == "PUT":
            puts["n"] += 1
            if puts["n"] == 3:
                raise CalDAVError(f"{target}: PUT failed (500 Internal Server Error); check the calendar URL")
        return real(self, method, target, *args, **kwargs)

    monkeypatch.setattr(Client, "request", flaky)
    p = plan()
    with pytest.raises(CalDAVError, match=r"stopped after .*: 2 event\(s\) created.* of \d+ event\(s\); running the "):
        publish(p, url, environ=AUTH)
    assert len(radicale.stored("midway")) == 2
    monkeypatch.setattr(Client, "request", real)
    upload = publish(p, url, environ=AUTH)
    assert len(upload.unchanged) == 2 and len(radicale.stored("midway")) == len(upload.created) + 2


def test_the_command_says_which_files_were_written_when_the_upload_fails(tmp_path: Path) -> None:
    out, ics = tmp_path / "plan.csv", tmp_path / "plan.ics"
    result = CliRunner().invoke(
        cli,
        [
            *("expand", "cenersen-arm1", "--weight", "70", "--bsa", "1.8", "--start", "2026-06-01", "-o", str(out)),
            *("--ics", str(ics), "--caldav", "http://127.0.0.1:9/cal/"),
        ],
    )
    assert result.exit_code == 1
    line = result.stderr.strip().splitlines()[-1]
    assert "cannot reach the server" in line and f"already written: {out} (the plan), {ics} (the calendar file)" in line
    assert out.exists() and ics.exists()
