"""The servers the tests start, one of each per test process, shared by every test module that uses it.

A server starts when the first test asks for it and stops when the session ends (``stop_all``, called by
tests/conftest.py). The fixtures in conftest.py only return what ``shared`` gives, so a test module that imports a
fixture from another module (as older modules do) still gets the same server rather than a second one. Under
pytest-xdist each worker is its own process and has its own servers, on free ports.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import icalendar
from tests.helpers import free_port, stop

T = TypeVar("T")
_STARTED: dict[str, Any] = {}
_STACK = contextlib.ExitStack()


def shared(name: str, start: Callable[[], contextlib.AbstractContextManager[T]]) -> T:
    """The running server ``name`` of this process, started with ``start()`` the first time it is asked for."""
    if name not in _STARTED:
        _STARTED[name] = _STACK.enter_context(start())
    value: T = _STARTED[name]
    return value


def stop_all() -> None:
    """Stop every server started in this process, the last started first."""
    _STARTED.clear()
    _STACK.close()


# ---- Radicale, a real CalDAV server -----------------------------------------------------------------------

USER, PASSWORD = "nurse", "s3cret"
ENV = {"REGIMEN_CALDAV_USER": USER, "REGIMEN_CALDAV_PASSWORD": PASSWORD}


@dataclass(frozen=True)
class Server:
    base: str  # http://127.0.0.1:PORT
    storage: Path

    def calendar(self, name: str) -> str:
        """Create calendar ``name`` of the user (MKCALENDAR) and return its URL. Names are unique per session."""
        url = f"{self.base}/{USER}/{name}/"
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        req = urllib.request.Request(url, method="MKCALENDAR", headers={"Authorization": f"Basic {token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 201
        return url

    def stored(self, name: str) -> dict[str, icalendar.Event]:
        """The events Radicale keeps on disk for calendar ``name``, by UID."""
        folder = self.storage / "collection-root" / USER / name
        out = {}
        for item in folder.glob("*.ics"):
            cal = icalendar.Calendar.from_ical(item.read_bytes())
            for event in cal.walk("VEVENT"):
                out[str(event["UID"])] = event
        return out


@contextlib.contextmanager
def radicale_server() -> Iterator[Server]:
    """Radicale (a pip package of the test extra) on 127.0.0.1 and a free port, storing in a temporary folder.

    Its throttles are off (``delay``, ``delay_on_error``): Radicale waits a second before it answers a wrong password
    or a server error, to slow down guessing; the tests' answers are the same without the wait."""
    with tempfile.TemporaryDirectory(prefix="regimen-radicale-") as folder:
        root = Path(folder)
        (root / "users").write_text(f"{USER}:{PASSWORD}\n")
        port = free_port()
        config = root / "config"
        config.write_text(f"""[server]
hosts = 127.0.0.1:{port}
delay_on_error = 0
[auth]
type = htpasswd
htpasswd_filename = {root / "users"}
htpasswd_encryption = plain
delay = 0
[rights]
type = owner_only
[storage]
filesystem_folder = {root / "storage"}
[logging]
level = warning
""")
        with (root / "log").open("wb") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "radicale", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
            )
            try:
                deadline = time.monotonic() + 30
                while True:  # bounded poll until the port accepts connections
                    if proc.poll() is not None:
                        raise RuntimeError(f"radicale exited: {(root / 'log').read_text()}")
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                        break
                    except OSError:
                        if time.monotonic() > deadline:
                            raise RuntimeError("radicale did not start within 30 s") from None
                        time.sleep(0.05)
                yield Server(f"http://127.0.0.1:{port}", root / "storage")
            finally:
                stop(proc, timeout=10)


__all__ = ["ENV", "PASSWORD", "USER", "Server", "radicale_server", "shared", "stop_all"]
