"""Keeping a set of resources of a CalDAV calendar collection (RFC 4791) in step, over HTTP.

The client stores calendar bytes it is given; it knows nothing of plans or of what goes into an
event (that is :mod:`regimen.export.ics`'s, and :mod:`regimen.export.calendar` joins the two). It
reads only the UIDs of what the server holds. :func:`sync` asks the collection for the events it
holds (REPORT calendar-query), keeps those whose UID starts with a prefix (a plan's
``regimen-<plan key>-``), hands their data to a callback that returns every resource that should be
there (UID -> calendar bytes, and whether each changed), then PUTs the new ones (to ``<uid>.ics``,
with If-None-Match) and the changed ones (to the resource that holds the UID, with If-Match),
leaves unchanged ones alone, and DELETEs those the callback no longer returns (with If-Match).

It leaks nothing (issue 11.6):

- Credentials never come from the command line: $REGIMEN_CALDAV_USER and $REGIMEN_CALDAV_PASSWORD, else the URL's
  host in ~/.netrc (or $NETRC), refused when others may read it (as ftp and Python's netrc do), else none. They
  are sent only over https, or over http to this machine (loopback).
- Plain http to another machine is refused (patient data in transit) unless $REGIMEN_CALDAV_ALLOW_HTTP=1 says so;
  even then no credentials go over it.
- Every request goes to the origin the user named (scheme, host and port): an href or a redirect from the server
  to anywhere else is refused before anything is sent there. Redirects are not followed blindly: one to the same
  origin is followed (at most 3 times), any other is an error naming it.
- Each request has an overall deadline (:data:`REQUEST_SECONDS`, however slowly the server trickles its answer:
  the connection is closed when it passes), the run has one (:data:`RUN_SECONDS`), and an answer larger than
  :data:`MAX_RESPONSE_BYTES` is refused.
- A failure midway says which events were written, and a re-run completes the upload: what the failed run stored
  is found again by its UIDs and left as it is (or replaced, if it changed).

Why not the ``caldav`` library (3.x): it brings niquests, lxml, dnspython, pyyaml and more for what is five
requests here; niquests reads ~/.netrc without checking who may read it; its timeout is per socket read, so a
server trickling a byte every 20 s holds a run for ever; it has no cap on an answer's size; and its RFC 6764
discovery asks DNS where to send the login. Each rule above would have to be added around it.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import netrc
import os
import ssl
import stat
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import icalendar  # only to read the UIDs (and titles) of calendar data

from regimen.errors import RegimenError, option

#: Overall deadline of one request (connect, send, the whole answer), and of a whole upload.
REQUEST_SECONDS = 30.0
RUN_SECONDS = 300.0
#: The largest answer read from the server (a REPORT of a calendar of a few thousand events is a few MB).
MAX_RESPONSE_BYTES = 32_000_000
#: Set to 1 to allow plain http to another machine (a hospital's internal server); no credentials go over it.
ALLOW_HTTP_VAR = "REGIMEN_CALDAV_ALLOW_HTTP"
MAX_REDIRECTS = 3
NS = {"d": "DAV:", "c": "urn:ietf:params:xml:ns:caldav"}
QUERY = b"""<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/><c:calendar-data/></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"/></c:comp-filter></c:filter>
</c:calendar-query>
"""


class CalDAVError(RegimenError):
    """The calendar server could not be reached, refused us, or is not a CalDAV calendar."""


@dataclass(frozen=True, slots=True)
class Resource:
    """One resource that should be in the collection: its calendar data and whether it differs from the
    server's copy (an unchanged resource is not uploaded again; a new one is always uploaded)."""

    data: bytes
    changed: bool = True


#: Given the server's copies (UID -> calendar data) of the resources :func:`sync` keeps in step, every
#: resource that should be there (UID -> :class:`Resource`), in the order to upload them.
Render = Callable[[Mapping[str, bytes]], Mapping[str, Resource]]


@dataclass(frozen=True, slots=True)
class Upload:
    """What an upload did: UIDs created, updated (content changed), unchanged, and deleted."""

    created: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    deleted: tuple[str, ...]

    def summary(self, url: str) -> str:
        return (
            f"{url}: {len(self.created)} event(s) created, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.deleted)} removed"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _netrc_entry(path: str, host: str) -> tuple[str, str] | None:
    """(login, password) of ``host`` in the netrc file at ``path``; refused when others may read or write it."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise CalDAVError(f"cannot read {path} ({exc.strerror}); fix it or set REGIMEN_CALDAV_USER/PASSWORD") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CalDAVError(
            f"{path} may be read by others (mode {stat.filemode(mode)}): it holds passwords, so it is not used; "
            f"run 'chmod 600 {path}', or set REGIMEN_CALDAV_USER/PASSWORD"
        )
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (netrc.NetrcParseError, OSError) as exc:
        raise CalDAVError(f"cannot read {path} ({exc}); fix it or set REGIMEN_CALDAV_USER/PASSWORD") from None
    if entry is None:
        return None
    login, _account, secret = entry
    return login, secret or ""


def credentials(url: str, environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """(user, password) from the environment or netrc; None for a server without login."""
    env = os.environ if environ is None else environ
    user, password = env.get("REGIMEN_CALDAV_USER"), env.get("REGIMEN_CALDAV_PASSWORD")
    if user and password is not None:
        return user, password
    if user or password:
        raise CalDAVError("set both REGIMEN_CALDAV_USER and REGIMEN_CALDAV_PASSWORD, or neither (then ~/.netrc)")
    host = urllib.parse.urlsplit(url).hostname or ""
    path = env.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    if not os.path.isfile(path):
        return None
    return _netrc_entry(path, host)


def _origin(parts: urllib.parse.SplitResult) -> tuple[str, str, int]:
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


@dataclass
class _Watch:
    """Closes a connection when its deadline passes: a server that trickles its answer cannot hold a run."""

    conn: http.client.HTTPConnection
    expired: bool = False

    def fire(self) -> None:
        self.expired = True
        sock = self.conn.sock
        if sock is not None:
            try:
                sock.shutdown(2)  # socket.SHUT_RDWR: the blocked read returns at once
            except OSError:
                pass


class Client:
    """Just enough WebDAV/CalDAV for one collection, at one origin, within deadlines."""

    def __init__(
        self,
        url: str,
        auth: tuple[str, str] | None,
        *,
        allow_http: bool = False,
        run_seconds: float = RUN_SECONDS,
        request_seconds: float = REQUEST_SECONDS,
        max_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise CalDAVError(f"{option('caldav')} {url!r}: give the http(s) URL of a calendar collection")
        if parts.username or parts.password:
            raise CalDAVError(
                f"{option('caldav')}: do not put credentials in the URL; set REGIMEN_CALDAV_USER and "
                "REGIMEN_CALDAV_PASSWORD or use ~/.netrc"
            )
        plain = parts.scheme == "http" and not _is_loopback(parts.hostname)
        if plain and auth is not None:
            raise CalDAVError(
                f"{option('caldav')} {url!r}: credentials are sent only over https (or to this "
                "machine); use the server's https URL"
            )
        if plain and not allow_http:
            raise CalDAVError(
                f"{option('caldav')} {url!r}: plain http to another machine would carry patient data unencrypted; "
                f"use the server's https URL (or set {ALLOW_HTTP_VAR}=1 for a server reached only inside a "
                "trusted network)"
            )
        self.url = url if url.endswith("/") else url + "/"
        self.origin = _origin(urllib.parse.urlsplit(self.url))
        self.headers: dict[str, str] = {"User-Agent": "regimen"}
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {token}"
        self.request_seconds = request_seconds
        self.max_bytes = max_bytes
        self.deadline = time.monotonic() + run_seconds
        self.run_seconds = run_seconds

    def same_origin(self, url: str) -> str:
        """``url`` resolved against the collection, when it is on the collection's origin; else :class:`CalDAVError`
        (nothing, and no login, goes anywhere else)."""
        absolute = urllib.parse.urljoin(self.url, url)
        if _origin(urllib.parse.urlsplit(absolute)) != self.origin:
            raise CalDAVError(
                f"{self.url}: the server points to {absolute}, on another host, port or scheme; regimen sends "
                "nothing there (check the calendar URL, or the server's configuration)"
            )
        return absolute

    def _connection(self, parts: urllib.parse.SplitResult, seconds: float) -> http.client.HTTPConnection:
        host, port = parts.hostname or "", parts.port
        if parts.scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=seconds, context=ssl.create_default_context())
        return http.client.HTTPConnection(host, port, timeout=seconds)

    def _once(
        self, method: str, url: str, body: bytes | None, headers: Mapping[str, str]
    ) -> tuple[int, str, bytes, dict[str, str]]:
        seconds = min(self.request_seconds, self.deadline - time.monotonic())
        if seconds <= 0:
            raise CalDAVError(
                f"{self.url}: the upload took longer than {self.run_seconds:.0f} s and was stopped; "
                "check the server and run again"
            )
        parts = urllib.parse.urlsplit(url)
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        conn = self._connection(parts, seconds)
        watch = _Watch(conn)
        timer = threading.Timer(seconds, watch.fire)
        timer.daemon = True
        timer.start()
        try:
            conn.request(method, target, body=body, headers={**self.headers, **headers})
            resp = conn.getresponse()
            data = resp.read(self.max_bytes + 1)
            if watch.expired:  # the read ended because the deadline closed the connection: the answer is cut short
                raise OSError("deadline")
            if len(data) > self.max_bytes:
                raise CalDAVError(
                    f"{url}: the server's answer to {method} is larger than {self.max_bytes:,} bytes; "
                    "regimen reads no more (check the calendar URL)"
                )
            return resp.status, resp.reason, data, {k.lower(): v for k, v in resp.getheaders()}
        except (OSError, http.client.HTTPException) as exc:
            if watch.expired:
                raise CalDAVError(
                    f"{url}: no complete answer to {method} within {seconds:.0f} s; the server is too slow or "
                    "stalled (check it and run again)"
                ) from None
            reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
            raise CalDAVError(f"{self.url}: cannot reach the server ({reason}); check the URL and network") from None
        finally:
            timer.cancel()
            conn.close()

    def request(
        self, method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes, Mapping[str, str]]:
        """One request to the collection's origin, following redirects only within it; errors as one line."""
        url = self.same_origin(url)
        for _ in range(MAX_REDIRECTS + 1):
            status, reason, data, got = self._once(method, url, body, headers or {})
            if status in (301, 302, 303, 307, 308) and "location" in got:
                url = self.same_origin(urllib.parse.urljoin(url, got["location"]))
                continue
            break
        else:
            raise CalDAVError(f"{url}: more than {MAX_REDIRECTS} redirects; check the calendar URL")
        if status < 400:
            return status, data, got
        if status == 401:
            raise CalDAVError(
                f"{self.url}: the server refused the login (401); set REGIMEN_CALDAV_USER and "
                "REGIMEN_CALDAV_PASSWORD or add the host to ~/.netrc"
            )
        if status == 403:
            raise CalDAVError(f"{url}: {method} forbidden (403); check that this user may write the calendar")
        if status == 404 and url == self.url:
            raise CalDAVError(f"{self.url}: no calendar there (404); create the calendar first or fix the URL")
        raise CalDAVError(f"{url}: {method} failed ({status} {reason}); check the calendar URL")

    def events(self) -> dict[str, tuple[str, str | None, bytes]]:
        """The collection's events: UID -> (href, etag, calendar data). Every href is on the collection's origin."""
        status, body, _ = self.request(
            "REPORT", self.url, QUERY, {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}
        )
        if status != 207:
            raise CalDAVError(f"{self.url}: not a CalDAV calendar (REPORT answered {status}); give a calendar's URL")
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            raise CalDAVError(
                f"{self.url}: the server's answer is not WebDAV XML; give a CalDAV calendar's URL"
            ) from None
        found: dict[str, tuple[str, str | None, bytes]] = {}
        for response in root.findall("d:response", NS):
            href = response.findtext("d:href", default="", namespaces=NS)
            etag = response.findtext(".//d:getetag", default=None, namespaces=NS)
            data = response.findtext(".//c:calendar-data", default="", namespaces=NS)
            if not href or not data:
                continue
            try:
                cal = icalendar.Calendar.from_ical(data)
            except ValueError:
                continue  # someone else's unreadable event: not ours to touch
            for event in cal.walk("VEVENT"):
                if "UID" in event:
                    found[str(event["UID"])] = (self.same_origin(href), etag, data.encode("utf-8"))
        return found


def _title(data: bytes, uid: str) -> str:
    """An event's SUMMARY (to say which events a failed upload wrote), or its UID."""
    try:
        for event in icalendar.Calendar.from_ical(data).walk("VEVENT"):
            return str(event.get("SUMMARY", uid))
    except ValueError:
        pass
    return uid


@dataclass
class _Progress:
    """What an upload has done so far, to say it when a request fails."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)

    def failed(self, exc: CalDAVError, total: int) -> CalDAVError:
        done = [*self.created, *self.updated]
        if not done and not self.deleted:
            return CalDAVError(f"{exc.message}; nothing was changed on the server")
        shown = [self.titles.get(uid, uid) for uid in done[:3]]
        more = f" and {len(done) - 3} more" if len(done) > 3 else ""
        wrote = f"{len(done)} of {total} event(s) written ({'; '.join(shown)}{more})" if done else "no event written"
        removed = f", {len(self.deleted)} removed" if self.deleted else ""
        return CalDAVError(
            f"{exc.message}; {wrote}{removed} before it stopped: run the same command again to complete the upload "
            "(what was written is found and kept)"
        )


def sync(
    url: str,
    prefix: str,
    render: Render,
    *,
    environ: Mapping[str, str] | None = None,
    run_seconds: float = RUN_SECONDS,
    request_seconds: float = REQUEST_SECONDS,
) -> Upload:
    """Make the resources of the collection at ``url`` whose UID starts with ``prefix`` those ``render`` returns.

    ``render`` gets the server's copies of those resources and returns every one that should be there;
    each UID it returns must start with ``prefix`` (else a later sync could not find it again).
    Resources whose UID does not start with ``prefix`` are never touched. A failure midway is a
    :class:`CalDAVError` saying which events were written; running the same sync again completes it.
    """
    env = os.environ if environ is None else environ
    client = Client(
        url,
        credentials(url, env),
        allow_http=env.get(ALLOW_HTTP_VAR, "") == "1",
        run_seconds=run_seconds,
        request_seconds=request_seconds,
    )
    stored = {uid: v for uid, v in client.events().items() if uid.startswith(prefix)}
    wanted = render({uid: data for uid, (_href, _etag, data) in stored.items()})
    strays = sorted(uid for uid in wanted if not uid.startswith(prefix))
    if strays:
        raise ValueError(f"sync: UIDs outside the prefix {prefix!r}: {', '.join(strays)}")
    done = _Progress()
    unchanged = []
    total = sum(1 for uid, r in wanted.items() if r.changed or uid not in stored)
    try:
        for uid, resource in wanted.items():
            headers = {"Content-Type": "text/calendar; charset=utf-8"}
            old = stored.get(uid)
            if old is None:
                target = client.url + urllib.parse.quote(uid) + ".ics"
                headers["If-None-Match"] = "*"
                kind = done.created
            elif not resource.changed:
                unchanged.append(uid)
                continue
            else:
                target = old[0]
                if old[1]:
                    headers["If-Match"] = old[1]
                kind = done.updated
            client.request("PUT", target, resource.data, headers)
            kind.append(uid)
            done.titles[uid] = _title(resource.data, uid)
        for uid, (href, etag, _data) in stored.items():
            if uid not in wanted:
                client.request("DELETE", href, None, {"If-Match": etag} if etag else None)
                done.deleted.append(uid)
    except CalDAVError as exc:
        raise done.failed(exc, total) from None
    return Upload(tuple(done.created), tuple(done.updated), tuple(unchanged), tuple(done.deleted))


__all__ = [
    "ALLOW_HTTP_VAR",
    "MAX_RESPONSE_BYTES",
    "REQUEST_SECONDS",
    "RUN_SECONDS",
    "CalDAVError",
    "Client",
    "Render",
    "Resource",
    "Upload",
    "credentials",
    "sync",
]
