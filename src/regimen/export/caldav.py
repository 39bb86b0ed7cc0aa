"""Keeping a set of resources of a CalDAV calendar collection (RFC 4791) in step, over plain HTTP.

The client stores calendar bytes it is given; it knows nothing of plans or of what goes into an
event (that is :mod:`regimen.export.ics`'s, and :mod:`regimen.export.calendar` joins the two). It
reads only the UIDs of what the server holds. :func:`sync` asks the collection for the events it
holds (REPORT calendar-query), keeps those whose UID starts with a prefix (a plan's
``regimen-<plan key>-``) and those a caller's test picks by their data (the earlier plan this one
replaces), hands their data to a callback that returns every resource that should be
there (UID -> calendar bytes, and whether each changed), then PUTs the new ones (to ``<uid>.ics``,
with If-None-Match) and the changed ones (to the resource that holds the UID, with If-Match),
leaves unchanged ones alone, and DELETEs those the callback no longer returns (with If-Match).

Credentials never come from the command line: $REGIMEN_CALDAV_USER and $REGIMEN_CALDAV_PASSWORD,
else the URL's host in ~/.netrc (or $NETRC; refused when others may read it, as curl and ftp do), else none.

What the client promises, whatever the server does (issue 11.6):

- it talks only to the origin the user named (scheme, host and port): an href from the server to another origin
  is refused and a redirect is never followed, so credentials and patient data go nowhere else;
- plain http is used only to this machine (loopback), unless the user sets ``REGIMEN_CALDAV_ALLOW_HTTP=1`` for a
  server without login; credentials never travel over plain http to another machine;
- every request has a deadline (:data:`REQUEST_SECONDS`, a watchdog closes a connection that trickles) and so has
  the run (:data:`RUN_SECONDS`); an answer larger than :data:`MAX_RESPONSE_BYTES` is refused;
- a failure midway says which events were written; running the same command again completes the upload (new
  events are found by their UIDs and updated, not duplicated).

It is hand-written on http.client rather than the ``caldav`` package: that package follows redirects with the
login attached and exposes neither a run deadline nor a cap on what it reads, and regimen needs only REPORT, PUT
and DELETE on one collection.
"""

from __future__ import annotations

import base64
import http.client
import ipaddress
import netrc
import os
import socket
import stat
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import icalendar  # only to read the UIDs of what the server holds

from regimen.errors import RegimenError, hide_password, option

#: Seconds one request may take, from connecting to the last byte of the answer.
REQUEST_SECONDS = 60
#: Seconds a whole upload may take.
RUN_SECONDS = 600
#: Seconds one read from the network may wait.
SOCKET_SECONDS = 20
#: Bytes of one answer (a calendar's REPORT included).
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
ALLOW_HTTP = "REGIMEN_CALDAV_ALLOW_HTTP"
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
    """What an upload did: UIDs created, updated (content changed), unchanged, and deleted; ``replaced``: those of
    the updated that were picked by their data (an earlier plan's), not by the prefix."""

    created: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    deleted: tuple[str, ...]
    replaced: tuple[str, ...] = ()

    def summary(self, url: str) -> str:
        earlier = f" ({len(self.replaced)} of them an earlier plan's)" if self.replaced else ""
        return (
            f"{url}: {len(self.created)} event(s) created, {len(self.updated)} updated{earlier}, "
            f"{len(self.unchanged)} unchanged, {len(self.deleted)} removed"
        )


def _origin(parts: urllib.parse.SplitResult) -> tuple[str, str, int]:
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
    mode = os.stat(path).st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CalDAVError(
            f"{path} may be read by other users (mode {stat.S_IMODE(mode):03o}): its passwords are not used; "
            f"make it private with 'chmod 600 {path}'"
        )
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (netrc.NetrcParseError, OSError) as exc:
        raise CalDAVError(f"cannot read {path} ({exc}); fix it or set REGIMEN_CALDAV_USER/PASSWORD") from None
    if entry is None:
        return None
    login, _account, secret = entry
    return login, secret or ""


class Client:
    """Just enough WebDAV/CalDAV for one collection, at one origin, within deadlines."""

    def __init__(self, url: str, auth: tuple[str, str] | None, *, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        try:
            parts = urllib.parse.urlsplit(url)
            parts.port  # noqa: B018  # a port that is not a number is refused here, not at the first request
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise CalDAVError(
                f"{option('caldav')} {hide_password(url)!r}: give the http(s) URL of a calendar collection"
            )
        if parts.username or parts.password:
            raise CalDAVError(
                f"{option('caldav')}: do not put credentials in the URL; set REGIMEN_CALDAV_USER and "
                "REGIMEN_CALDAV_PASSWORD or use ~/.netrc"
            )
        if parts.scheme == "http" and not _is_loopback(parts.hostname):
            if auth is not None:
                raise CalDAVError(
                    f"{option('caldav')} {url!r}: credentials are sent only over https (or to this "
                    "machine); use the server's https URL"
                )
            if env.get(ALLOW_HTTP) != "1":
                raise CalDAVError(
                    f"{option('caldav')} {url!r}: plain http to another machine sends patient data unencrypted; use "
                    f"the server's https URL (or set {ALLOW_HTTP}=1 for a server on a trusted network)"
                )
        self.url = url if url.endswith("/") else url + "/"
        self.origin = _origin(parts)
        self.deadline = time.monotonic() + RUN_SECONDS
        self.headers: dict[str, str] = {"User-Agent": "regimen"}
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode("ascii")
            self.headers["Authorization"] = f"Basic {token}"

    def same_origin(self, url: str) -> str:
        """``url`` if it is at the origin the user named; else an error (nothing is sent there)."""
        parts = urllib.parse.urlsplit(url)
        if _origin(parts) != self.origin:
            raise CalDAVError(
                f"{self.url}: the server pointed to {parts.scheme}://{parts.netloc}, another origin; regimen sends "
                "nothing there (check the calendar URL and the server)"
            )
        return url

    def request(
        self, method: str, url: str, body: bytes | None = None, headers: Mapping[str, str] | None = None
    ) -> tuple[int, bytes, Mapping[str, str]]:
        parts = urllib.parse.urlsplit(self.same_origin(url))
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise CalDAVError(f"{self.url}: the upload took longer than {RUN_SECONDS} s; stopped (run it again)")
        limit = min(REQUEST_SECONDS, remaining)
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = kind(parts.hostname or "", parts.port, timeout=min(SOCKET_SECONDS, limit))
        expired = threading.Event()
        opened: list[socket.socket] = []  # the connection's socket: the response keeps reading it after conn lets go

        def watchdog() -> None:  # a server that trickles bytes never trips the socket timeout: close it
            expired.set()
            for sock in opened:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        timer = threading.Timer(limit, watchdog)
        timer.daemon = True
        timer.start()
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        try:
            conn.connect()
            if conn.sock is not None:
                opened.append(conn.sock)
            conn.request(method, target, body=body, headers={**self.headers, **(headers or {})})
            resp = conn.getresponse()
            data = bytearray()
            while chunk := resp.read1(65536):
                data += chunk
                if len(data) > MAX_RESPONSE_BYTES:
                    raise CalDAVError(
                        f"{self.url}: the server's answer is larger than {MAX_RESPONSE_BYTES // (1024 * 1024)} MiB; "
                        "stopped (check the calendar URL)"
                    )
            if expired.is_set():  # the watchdog closed the connection: what came is not the whole answer
                raise OSError("deadline")
            status, answer = resp.status, bytes(data)
            reason, answer_headers = resp.reason, dict(resp.headers)
        except (OSError, http.client.HTTPException) as exc:
            if expired.is_set():
                raise CalDAVError(
                    f"{self.url}: no complete answer to {method} within {limit:.0f} s; stopped (check the server)"
                ) from None
            raise CalDAVError(f"{self.url}: cannot reach the server ({exc}); check the URL and network") from None
        finally:
            timer.cancel()
            conn.close()
        if 300 <= status < 400:
            raise CalDAVError(
                f"{url}: the server redirects ({status}) to {answer_headers.get('Location', 'elsewhere')}; regimen "
                "does not follow redirects (credentials stay with the origin you named): give the calendar's own URL"
            )
        if status == 401:
            raise CalDAVError(
                f"{self.url}: the server refused the login (401); set REGIMEN_CALDAV_USER and "
                "REGIMEN_CALDAV_PASSWORD or add the host to ~/.netrc"
            )
        if status == 403:
            raise CalDAVError(f"{url}: {method} forbidden (403); check that this user may write the calendar")
        if status == 404 and url == self.url:
            raise CalDAVError(f"{self.url}: no calendar there (404); create the calendar first or fix the URL")
        if status >= 400:
            raise CalDAVError(f"{url}: {method} failed ({status} {reason}); check the calendar URL")
        return status, answer, answer_headers

    def events(self) -> dict[str, tuple[str, str | None, bytes]]:
        """The collection's events: UID -> (href, etag, calendar data)."""
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
                    where = self.same_origin(urllib.parse.urljoin(self.url, href))
                    found[str(event["UID"])] = (where, etag, data.encode("utf-8"))
        return found


def sync(
    url: str,
    prefix: str,
    render: Render,
    *,
    replaces: Callable[[bytes], bool] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Upload:
    """Make the resources of the collection at ``url`` whose UID starts with ``prefix`` those ``render`` returns.

    ``render`` gets the server's copies of those resources, and of those ``replaces`` picks by their calendar data
    (an earlier plan that this one replaces), and returns every one that should be there; each UID it returns must
    start with ``prefix`` (else a later sync could not find it again) or be one of those picked.
    Other resources are never touched.
    """
    client = Client(url, credentials(url, environ), environ=environ)
    events = client.events()
    stored = {uid: v for uid, v in events.items() if uid.startswith(prefix)}
    picked = {uid for uid, (_href, _etag, data) in events.items() if uid not in stored and replaces and replaces(data)}
    stored.update({uid: events[uid] for uid in sorted(picked)})
    wanted = render({uid: data for uid, (_href, _etag, data) in stored.items()})
    strays = sorted(uid for uid in wanted if not uid.startswith(prefix) and uid not in picked)
    if strays:
        raise ValueError(f"sync: UIDs outside the prefix {prefix!r}: {', '.join(strays)}")
    created: list[str] = []
    updated: list[str] = []
    unchanged: list[str] = []
    deleted: list[str] = []

    def done() -> Upload:
        return Upload(
            tuple(created), tuple(updated), tuple(unchanged), tuple(deleted), tuple(u for u in updated if u in picked)
        )

    try:
        for uid, resource in wanted.items():
            headers = {"Content-Type": "text/calendar; charset=utf-8"}
            old = stored.get(uid)
            if old is None:
                target = client.url + urllib.parse.quote(uid) + ".ics"
                headers["If-None-Match"] = "*"
            elif not resource.changed:
                unchanged.append(uid)
                continue
            else:
                target = old[0]
                if old[1]:
                    headers["If-Match"] = old[1]
            client.request("PUT", target, resource.data, headers)
            (created if old is None else updated).append(uid)
        for uid, (href, etag, _data) in stored.items():
            if uid not in wanted:
                client.request("DELETE", href, None, {"If-Match": etag} if etag else None)
                deleted.append(uid)
    except CalDAVError as exc:
        raise CalDAVError(
            f"{exc.message} -- stopped after {done().summary(client.url)} of {len(wanted)} event(s); "
            "running the same command again completes the upload"
        ) from None
    return done()


__all__ = ["CalDAVError", "Client", "Render", "Resource", "Upload", "credentials", "sync"]
