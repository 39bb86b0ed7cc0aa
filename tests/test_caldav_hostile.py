"""A CalDAV client that leaks nothing (issue 11.6), against servers that try: a redirect or an href to another
origin, an answer trickled a byte at a time, an endless answer, a netrc others may read, plain http, and an
upload that fails midway (against a real Radicale: the message says what was written; a re-run completes it)."""

from __future__ import annotations

import datetime as dt
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from tests.test_caldav import ENV, OPTIONS, PASSWORD, Server, radicale
from tests.test_ics import make_plan

from regimen.cli import cli
from regimen.export import caldav as caldav_mod
from regimen.export.caldav import CalDAVError, Client, credentials
from regimen.export.calendar import publish

__all__ = ["radicale"]  # the Radicale fixture of test_caldav, used here too

Handler = Callable[[socket.socket, bytes], None]


class Fake:
    """A TCP server on 127.0.0.1 that answers every request with ``handler`` and records what it received."""

    def __init__(self, handler: Handler, host: str = "127.0.0.1") -> None:
        self.received: list[bytes] = []
        fake = self

        class _Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                data = b""
                self.request.settimeout(5)
                try:
                    while b"\r\n\r\n" not in data:
                        chunk = self.request.recv(65536)
                        if not chunk:
                            return
                        data += chunk
                except OSError:
                    return
                fake.received.append(data)
                try:
                    handler(self.request, data)
                except OSError:
                    pass

        self.server = socketserver.ThreadingTCPServer((host, 0), _Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}/cal/"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fakes() -> Iterator[Callable[..., Fake]]:
    made: list[Fake] = []

    def make(handler: Handler, host: str = "127.0.0.1") -> Fake:
        made.append(Fake(handler, host))
        return made[-1]

    yield make
    for f in made:
        f.close()


def answer(status: str, body: bytes = b"", headers: str = "") -> Handler:
    def handle(sock: socket.socket, _request: bytes) -> None:
        sock.sendall(
            f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n{headers}Connection: close\r\n\r\n".encode() + body
        )

    return handle


def multistatus(href: str, uid: str) -> bytes:
    data = (
        f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\nUID:{uid}\r\n"
        "DTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20260601\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    return (
        '<?xml version="1.0"?><d:multistatus xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:response>'
        f'<d:href>{href}</d:href><d:propstat><d:prop><d:getetag>"1"</d:getetag><c:calendar-data>{data}'
        "</c:calendar-data></d:prop></d:propstat></d:response></d:multistatus>"
    ).encode()


AUTH = ("nurse", "s3cret")


def test_a_redirect_to_another_origin_is_refused_and_the_login_never_goes_there(fakes: Any) -> None:
    thief = fakes(answer("201 Created"), host="127.0.0.2")
    server = fakes(answer("307 Temporary Redirect", headers=f"Location: {thief.url}steal.ics\r\n"))
    with pytest.raises(CalDAVError, match=r"points to http://127\.0\.0\.2:\d+/cal/steal\.ics, on another host"):
        Client(server.url, AUTH).request("PUT", server.url + "a.ics", b"data")
    assert len(server.received) == 1 and b"Authorization: Basic" in server.received[0]
    assert thief.received == []


def test_a_redirect_within_the_origin_is_followed(fakes: Any) -> None:
    calls: list[bytes] = []

    def handle(sock: socket.socket, request: bytes) -> None:
        calls.append(request)
        if b"/cal/a.ics" in request.split(b"\r\n")[0]:
            answer("308 Permanent Redirect", headers="Location: /cal/b.ics\r\n")(sock, request)
        else:
            answer("201 Created")(sock, request)

    server = fakes(handle)
    status, _, _ = Client(server.url, None).request("PUT", server.url + "a.ics", b"data")
    assert status == 201 and calls[1].startswith(b"PUT /cal/b.ics ")


def test_an_href_on_another_origin_is_refused(fakes: Any) -> None:
    thief = fakes(answer("201 Created"), host="127.0.0.2")
    server = fakes(answer("207 Multi-Status", multistatus(f"{thief.url}evil.ics", "regimen-x-1")))
    with pytest.raises(CalDAVError, match="on another host, port or scheme; regimen sends nothing there"):
        caldav_mod.sync(server.url, "regimen-x-", lambda stored: {}, environ=ENV)
    assert thief.received == []


def trickle(sock: socket.socket, _request: bytes) -> None:
    sock.sendall(b"HTTP/1.1 207 Multi-Status\r\nContent-Length: 100000\r\n\r\n")
    for _ in range(200):
        sock.sendall(b" ")
        time.sleep(0.25)


def test_a_server_trickling_its_answer_is_stopped_at_the_request_deadline(fakes: Any) -> None:
    server = fakes(trickle)
    began = time.monotonic()
    with pytest.raises(CalDAVError, match=r"no complete answer to REPORT within 2 s"):
        Client(server.url, None, request_seconds=2).events()
    assert time.monotonic() - began < 5


def test_the_run_has_a_deadline_too(fakes: Any) -> None:
    server = fakes(answer("207 Multi-Status", b'<d:multistatus xmlns:d="DAV:"/>'))
    client = Client(server.url, None, run_seconds=0.5)
    client.events()
    time.sleep(0.6)
    with pytest.raises(CalDAVError, match=r"the upload took longer than 0 s and was stopped"):
        client.events()


def test_an_answer_over_the_size_cap_is_refused(fakes: Any) -> None:
    server = fakes(answer("207 Multi-Status", b"x" * 5000))
    with pytest.raises(CalDAVError, match="larger than 1,000 bytes"):
        Client(server.url, None, max_bytes=1000).events()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_netrc_others_may_read_is_refused(tmp_path: Path, mode: int) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine cal.example login nurse password s3cret\n")
    netrc.chmod(mode)
    with pytest.raises(CalDAVError, match=r"may be read by others .*chmod 600"):
        credentials("https://cal.example/", {"NETRC": str(netrc)})
    netrc.chmod(0o600)
    assert credentials("https://cal.example/", {"NETRC": str(netrc)}) == AUTH


def test_plain_http_to_another_machine_needs_explicit_consent() -> None:
    with pytest.raises(CalDAVError, match="would carry patient data unencrypted"):
        Client("http://calendar.example/cal/", None)
    Client("http://calendar.example/cal/", None, allow_http=True)  # allowed, without credentials
    with pytest.raises(CalDAVError, match="credentials are sent only over https"):
        Client("http://calendar.example/cal/", AUTH, allow_http=True)
    Client("http://127.0.0.1:1/cal/", AUTH)  # this machine
    Client("https://calendar.example/cal/", AUTH)


def test_consent_comes_from_the_environment(fakes: Any) -> None:
    with pytest.raises(CalDAVError, match="REGIMEN_CALDAV_ALLOW_HTTP=1"):
        caldav_mod.sync("http://192.0.2.1/cal/", "p-", lambda s: {}, environ={})


# ---- a failure midway, against a real server --------------------------------------------------------------


def fail_on(monkeypatch: pytest.MonkeyPatch, method: str, number: int) -> None:
    """The ``number``-th ``method`` request fails as a dropped connection would."""
    real = Client._once
    count = {"n": 0}

    def once(self: Client, m: str, url: str, body: bytes | None, headers: Any) -> Any:
        if m == method:
            count["n"] += 1
            if count["n"] == number:
                raise CalDAVError(f"{self.url}: cannot reach the server (connection reset); check the URL and network")
        return real(self, m, url, body, headers)

    monkeypatch.setattr(Client, "_once", once)


def test_a_failed_put_says_what_was_written_and_a_rerun_completes(
    radicale: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = radicale.calendar("partial")
    plan = make_plan("cenersen-arm3", dt.date(2026, 12, 1))
    fail_on(monkeypatch, "PUT", 3)
    with pytest.raises(CalDAVError) as failure:
        publish(plan, url, environ=ENV, **OPTIONS)
    message = str(failure.value)
    assert "connection reset" in message and "2 of 8 event(s) written (Cenersen" in message
    assert "run the same command again to complete the upload" in message and "\n" not in message
    assert len(radicale.stored("partial")) == 2
    monkeypatch.undo()
    again = publish(plan, url, environ=ENV, **OPTIONS)
    assert (len(again.created), len(again.unchanged), len(again.updated)) == (6, 2, 0)
    assert len(radicale.stored("partial")) == 8
    third = publish(plan, url, environ=ENV, **OPTIONS)  # complete: a third run changes nothing
    assert (third.created, third.updated, len(third.unchanged)) == ((), (), 8)


def test_a_failure_before_anything_is_written_says_so(radicale: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    url = radicale.calendar("nothing")
    fail_on(monkeypatch, "PUT", 1)
    with pytest.raises(CalDAVError, match="nothing was changed on the server"):
        publish(make_plan("cenersen-arm1", dt.date(2026, 6, 1)), url, environ=ENV, **OPTIONS)


def test_the_command_line_names_the_local_files_it_wrote(
    radicale: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = radicale.calendar("cli-partial")
    fail_on(monkeypatch, "PUT", 2)
    out, ics = tmp_path / "plan.csv", tmp_path / "plan.ics"
    args = ["expand", "cenersen-arm3", "--weight", "70", "--bsa", "1.8", "--age", "45", "--start", "2026-12-01"]
    result = CliRunner().invoke(cli, [*args, "-o", str(out), "--ics", str(ics), "--caldav", url], env=ENV)
    assert result.exit_code == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: ") and "1 of 8 event(s) written" in line
    assert line.endswith(f"written complete before the upload: {out}, {ics}")
    assert out.exists() and ics.exists() and len(radicale.stored("cli-partial")) == 1
    assert PASSWORD not in result.stderr
