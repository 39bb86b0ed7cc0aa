"""The web app: pages for people who do not use a terminal, and a JSON API with an OpenAPI description.

Starlette (a small, well-kept ASGI framework) with Jinja2 templates; served by uvicorn (``regimen serve``).

Safe by default: the command line listens on 127.0.0.1 and the app answers only requests addressed to this machine
by name (a page elsewhere cannot rebind its own host name to 127.0.0.1 and read the course pages); no patient value
is logged (uvicorn's access log is off, every plan is sent by POST, never in a URL, and an unexpected error is
logged by its kind and place only, never its message) or written to disk; requests are limited in size, in rate
per client, and in the work they may ask for; forms carry a CSRF token (HMAC-signed, double-submit cookie,
SameSite=Strict) and are refused from another origin; every answer has a security-header set with a
Content-Security-Policy that allows no script at all (the core flow needs none). Bad input gets a 4xx with the
command line's one-line message, never a stack trace.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import logging
import re
import secrets
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from regimen.engine.orders import orders_from_json
from regimen.engine.plan import Plan
from regimen.engine.verify import parse_tolerance, verify
from regimen.errors import RegimenError, as_flag, option
from regimen.export.chart import chart_bytes
from regimen.export.course import DUE_HEADER, course_parts, due_row, rendered
from regimen.export.handout import handout_html, handout_pdf, months_of
from regimen.export.ics import plan_to_ics
from regimen.export.records import plan_to_csv, plan_to_json
from regimen.export.table import DISCLAIMER, header_lines, plan_table
from regimen.export.verification import verification_json
from regimen.protocol.catalog import list_regimens
from regimen.protocol.describe import describe
from regimen.web import inputs
from regimen.web.inputs import LABELS, api_message, form_errors, in_words, read, regimen_of
from regimen.web.openapi import openapi, reference

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("regimen.web")

MAX_BODY = 1_000_000  # bytes of a request body
MAX_ROSTER = 500  # patients of an API cohort
MAX_ROWS = 20_000  # administrations one API request may expand (a plan, or all the plans of a roster)
MAX_PAGE_ROWS = 5_000  # administrations of a plan page or a download
MAX_CHART_ROWS = 1_500  # administrations a timeline is drawn for (beyond, it is a smear, and seconds of work)
MAX_HANDOUT_MONTHS = 24  # pages of a handout
#: The host names a server on this machine only answers to (the Host header of every request).
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
CSRF_COOKIE = "regimen_csrf"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # same-origin, not no-referrer: with no-referrer a browser sends 'Origin: null' on its own forms' POSTs, and
    # the origin check below could not tell them from a forged one. No URL here holds a patient value.
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
DOWNLOADS = {
    "csv": ("text/csv; charset=utf-8", "plan.csv"),
    "json": ("application/json", "plan.json"),
    "ics": ("text/calendar; charset=utf-8", "plan.ics"),
    "fhir": ("application/fhir+json", "plan.fhir.json"),
    "timeline.svg": ("image/svg+xml", "timeline.svg"),
    "timeline.png": ("image/png", "timeline.png"),
    "timeline.pdf": ("application/pdf", "timeline.pdf"),
    "handout.html": ("text/html; charset=utf-8", "handout.html"),
    "handout.pdf": ("application/pdf", "handout.pdf"),
}
INTERNAL_ERROR = "internal error: nothing was computed; please report it"


# ---- middleware: host, size, rate, headers, the last word on errors ----------------------------------------


class Guard:
    """Security headers on every answer; a Host not in ``hosts`` refused (400; None: any); bodies over
    ``max_body`` refused (413); more than ``rate`` requests a second from one client (a token bucket holding
    ``2 × rate``) refused (429; 0: no limit). An exception nothing else handled is logged by its kind and place
    (never its message, which may hold a patient's value) and answered with one line (500)."""

    def __init__(
        self, app: ASGIApp, max_body: int = MAX_BODY, rate: float = 300, hosts: Collection[str] | None = LOOPBACK
    ) -> None:
        self.app, self.max_body, self.rate = app, max_body, rate
        self.hosts = None if hosts is None else frozenset(h.lower() for h in hosts)
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def _allowed(self, client: str) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic()
        with self.lock:
            tokens, then = self.buckets.get(client, (2 * self.rate, now))
            tokens = min(2 * self.rate, tokens + (now - then) * self.rate)
            if tokens < 1:
                self.buckets[client] = (tokens, now)
                return False
            self.buckets[client] = (tokens - 1, now)
            if len(self.buckets) > 10_000:  # bounded memory whatever the clients
                self.buckets.clear()
            return True

    def _host_ok(self, headers: dict[bytes, bytes]) -> bool:
        if self.hosts is None:
            return True
        host = headers.get(b"host", b"").decode("latin-1").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host  # [::1]:8000, 127.0.0.1:8000
        return name in self.hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                own = {name for name, _ in message.get("headers", [])}  # a response's own policy stands
                message["headers"] = [*message.get("headers", []), *(h for h in SECURITY_HEADERS if h[0] not in own)]
            await send(message)

        headers = dict(scope.get("headers") or [])
        if not self._host_ok(headers):
            text = "this server answers requests for this machine only (127.0.0.1 or localhost)"
            await _plain(send_with_headers, 400, text)
            return
        client = (scope.get("client") or ("?", 0))[0]
        if not self._allowed(client):
            await _plain(send_with_headers, 429, "too many requests: wait a moment and try again")
            return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _plain(send_with_headers, 413, f"the request is larger than {self.max_body:,} bytes")
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise HTTPException(413, f"the request is larger than {self.max_body:,} bytes")
            return message

        try:
            await self.app(scope, limited, send_with_headers)
        except Exception as exc:  # Starlette answered 500 already (and re-raised it for the log): log it here
            frames = traceback.extract_tb(exc.__traceback__)
            ours = [f for f in frames if "/regimen/" in Path(f.filename).as_posix()] or frames  # the deepest of ours
            place = f" at {Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else ""
            log.error("internal error: %s%s (its message is not logged: it may hold a patient's value)",
                      type(exc).__name__, place)  # fmt: skip
            if not started:
                await _plain(send_with_headers, 500, INTERNAL_ERROR)


async def _plain(send: Send, status: int, text: str) -> None:
    body = json.dumps({"error": text}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


# ---- budgets ------------------------------------------------------------------------------------------------


def _within(plan: Plan, most: int) -> Plan:
    n = len(plan.administrations)
    if n > most:
        raise RegimenError(
            f"this plan has {n:,} administrations; the web app expands at most {most:,} in one request: give fewer "
            f"{option('cycles')}, or use 'regimen expand' on the command line"
        )
    return plan


# ---- pages ------------------------------------------------------------------------------------------------


def _env() -> Environment:
    env = Environment(loader=PackageLoader("regimen.web", "templates"), autoescape=select_autoescape(["html"]))
    env.globals.update(disclaimer=DISCLAIMER, labels=LABELS, choices=inputs.CHOICES)
    return env


class Pages:
    def __init__(self, db: str | None, secret: bytes) -> None:
        self.env = _env()
        self.db = db
        self.secret = secret
        self._opened: Any = None
        self._open_lock = threading.Lock()

    # -- CSRF: a random nonce signed with the server's secret, in a SameSite=Strict cookie and in each form. A
    # cookie set by another page of this host (any port shares 127.0.0.1's cookies) is not signed, so not taken.

    def _token(self) -> str:
        nonce = secrets.token_urlsafe(24)
        return f"{nonce}.{self._sign(nonce)}"

    def _sign(self, nonce: str) -> str:
        return hmac.new(self.secret, nonce.encode(), hashlib.sha256).hexdigest()[:32]

    def _valid(self, token: str) -> bool:
        nonce, _, mac = token.partition(".")
        return bool(nonce) and hmac.compare_digest(mac, self._sign(nonce))

    def render(self, request: Request, name: str, code: int = 200, **context: Any) -> HTMLResponse:
        cookie = request.cookies.get(CSRF_COOKIE, "")
        token = cookie if self._valid(cookie) else self._token()
        html = self.env.get_template(name).render(csrf=token, **context)
        response = HTMLResponse(html, status_code=code)
        if cookie != token:
            response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    async def form_values(self, request: Request) -> dict[str, Any]:
        """The form's fields, once it is known to come from this app's own page (origin, then token)."""
        site = request.headers.get("sec-fetch-site")
        origin = request.headers.get("origin")
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        if (site is not None and site not in ("same-origin", "none")) or (origin is not None and origin != own):
            raise HTTPException(403, "a form sent from another site is refused: use this app's own page")
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        cookie = request.cookies.get(CSRF_COOKIE, "")
        token = str(values.pop("csrf", ""))
        if not (cookie and self._valid(cookie) and hmac.compare_digest(cookie, token)):
            raise HTTPException(403, "the form's security token is missing or stale: reload the page and submit again")
        return values

    async def index(self, request: Request) -> HTMLResponse:
        query = request.query_params.get("q", "").strip()[:100]
        regimens = [r for r in _catalog() if _matches(r, query)]
        return self.render(request, "index.html", regimens=regimens, q=query)

    async def regimen_form(self, request: Request) -> HTMLResponse:
        try:
            regimen = regimen_of(request.path_params["regimen_id"])
        except RegimenError as exc:
            raise HTTPException(404, in_words(exc.message)) from None
        return self.render(request, "form.html", regimen=regimen, about=describe(regimen), values={}, errors={})

    async def plan(self, request: Request) -> HTMLResponse:
        values = await self.form_values(request)
        try:
            page = await run_in_threadpool(_plan_page, values)
        except RegimenError as exc:
            field, text = form_errors(exc)
            try:
                regimen = regimen_of(str(values.get("regimen", "")))
            except RegimenError:
                raise HTTPException(400, text) from None
            errors = {field or "_": text}
            return self.render(
                request, "form.html", 400, regimen=regimen, about=describe(regimen), values=values, errors=errors
            )
        return self.render(request, "plan.html", values=values, **page)

    async def download(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in DOWNLOADS:
            raise HTTPException(404, f"no download {kind!r}")
        values = await self.form_values(request)
        try:
            data, regimen_id = await run_in_threadpool(_download, values, kind)
        except RegimenError as exc:
            raise HTTPException(400, form_errors(exc)[1]) from None
        media, name = DOWNLOADS[kind]
        inline = kind.startswith("handout") and request.query_params.get("view") == "1"
        disposition = f'{"inline" if inline else "attachment"}; filename="{regimen_id}-{name}"'
        headers = {"content-disposition": disposition}
        if kind == "handout.html":  # its print stylesheet is inline: allowed by its hash, and nothing else
            headers["content-security-policy"] = _style_policy(data.decode())
        return Response(data, media_type=media, headers=headers)

    def _store(self) -> Any:
        if self.db is None:
            return None
        with self._open_lock:  # one store (and its connection pool) for the server, opened when first asked for
            if self._opened is None:
                from regimen.engine.courses import CourseBook  # lazy: only when courses are served
                from regimen.store.courses import CourseStore  # lazy: SQLAlchemy only when courses are served

                self._opened = CourseBook(CourseStore.open(self.db), rendered)
            return self._opened

    def _need_store(self) -> Any:
        store = self._store()
        if store is None:
            raise HTTPException(404, f"no course database: start the server with {as_flag('db')} FILE")
        return store

    async def courses(self, request: Request) -> HTMLResponse:
        store = self._store()
        listed = await run_in_threadpool(store.courses) if store is not None else None
        return self.render(request, "courses.html", courses=listed)

    async def course(self, request: Request) -> HTMLResponse:
        store = self._need_store()
        course_id = request.path_params["course_id"]

        def parts() -> Any:
            view, record = store.view(course_id), store.record(course_id)
            started = (dt.datetime.fromisoformat(record["started_at"]), record["started_by"], record["reason"])
            return course_parts(view, started)

        try:
            shown = await run_in_threadpool(parts)
        except RegimenError as exc:
            raise HTTPException(404, in_words(exc.message)) from None
        return self.render(request, "course.html", course_id=course_id, parts=shown)

    async def due(self, request: Request) -> HTMLResponse:
        store = self._need_store()
        try:
            first = dt.date.fromisoformat(request.query_params.get("from") or dt.date.today().isoformat())
            days = int(request.query_params.get("days") or 1)
            if not 1 <= days <= 366:
                raise ValueError
        except ValueError:
            raise HTTPException(400, "From: a date as YYYY-MM-DD; Days: a whole number from 1 to 366") from None
        last = first + dt.timedelta(days=days - 1)
        rows = await run_in_threadpool(store.due, first, last)
        return self.render(
            request, "due.html", header=DUE_HEADER, rows=[due_row(r) for r in rows], first=first, days=days
        )


def _plan_page(values: dict[str, Any]) -> dict[str, Any]:
    """Everything the plan page shows, worked out away from the event loop."""
    request = read(values, inputs.PLAN_FIELDS)
    plan = _within(request.plan, MAX_PAGE_ROWS)
    n = len(plan.administrations)
    chart = base64.b64encode(chart_bytes(plan, "svg")).decode() if 0 < n <= MAX_CHART_ROWS else None
    table = plan_table(plan)
    return {
        "plan": plan,
        # the terminal's header: regimen, indication, source, patient values with their working, start
        "header": [(in_words(line.strip()), line.startswith("  ")) for line in header_lines(plan)],
        "table": table,
        "rows": [[*cells[:-1], in_words(cells[-1])] for cells in table.rows],  # the working in the form's words
        "row_warnings": [[in_words(w) for w in r.warnings] for r in plan.administrations],
        "warnings": [in_words(w) for w in plan.warnings],
        "notes": [in_words(n) for n in (*request.notes, *plan.notes)],
        "chart": chart,
        "chart_omitted": None
        if chart or n == 0
        else f"{n:,} administrations: more than the {MAX_CHART_ROWS:,} "
        "a timeline is drawn for (download it as SVG or PNG for fewer cycles)",
    }


def _style_policy(html: str) -> str:
    """A CSP for a page whose only style is its inline <style> element: that style, by its SHA-256, and nothing else."""
    styles = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in styles)
    return f"default-src 'none'; style-src {hashes}; img-src data:; form-action 'none'; frame-ancestors 'none'"


_CATALOG: tuple[float, list[Any]] | None = None


def _catalog() -> list[Any]:
    """The regimens, read at most once a minute (every regimen file parsed is several milliseconds)."""
    global _CATALOG
    now = time.monotonic()
    if _CATALOG is None or now - _CATALOG[0] > 60:
        regimens, _ = list_regimens()
        _CATALOG = (now, sorted(regimens, key=lambda r: r.id))
    return _CATALOG[1]


def _matches(regimen: Any, query: str) -> bool:
    if not query:
        return True
    text = " ".join([regimen.id, regimen.name, regimen.indication or "", *(c.drug for c in regimen.components())])
    return all(word in text.lower() for word in query.lower().split())


def _download(values: dict[str, Any], kind: str) -> tuple[bytes, str]:
    request = read(values, inputs.DOWNLOAD_FIELDS)
    plan = _within(request.plan, MAX_PAGE_ROWS)
    if kind == "csv":
        data = plan_to_csv(plan).encode()
    elif kind == "json":
        data = plan_to_json(plan, paths=False).encode()
    elif kind == "ics":
        data = plan_to_ics(plan, label=request.label, remind=request.remind)
    elif kind == "fhir":
        from regimen.export.fhir import plan_fhir_json  # lazy: FHIR only when asked for

        data = plan_fhir_json(plan).encode()
    elif kind.startswith("timeline."):
        _within(plan, MAX_CHART_ROWS)
        data = chart_bytes(plan, kind.split(".", 1)[1])
    else:
        if months_of(plan) > MAX_HANDOUT_MONTHS:
            raise RegimenError(
                f"a handout of {months_of(plan)} months is more than the {MAX_HANDOUT_MONTHS} pages the web app "
                f"prints: give fewer {option('cycles')}"
            )
        if kind == "handout.html":
            data = handout_html(plan, request.paper, request.label).encode()
        else:
            data = handout_pdf(plan, request.paper, request.label)
    return data, plan.regimen.id


# ---- the API ----------------------------------------------------------------------------------------------


class _Twice(ValueError):
    pass


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Twice(key)
        out[key] = value
    return out


async def _json_body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise HTTPException(415, "send the request as JSON (Content-Type: application/json)")
    raw = await request.body()
    try:
        body = json.loads(raw, object_pairs_hook=_object)
    except _Twice as twice:
        raise HTTPException(400, f"the body gives the field {twice.args[0]!r} twice: give each field once") from None
    except (ValueError, RecursionError):  # RecursionError: nested deeper than the parser goes
        raise HTTPException(400, "the body is not valid JSON (or is nested too deep)") from None
    if not isinstance(body, dict):
        raise HTTPException(400, 'the body must be a JSON object of fields, e.g. {"regimen": "cenersen-arm3"}')
    return body


async def api_regimens(request: Request) -> JSONResponse:
    query = request.query_params.get("q", "").strip()[:100]
    return JSONResponse(
        [
            {"id": r.id, "name": r.name, "indication": r.indication, "drugs": sorted({c.drug for c in r.components()})}
            for r in _catalog()
            if _matches(r, query)
        ]
    )


async def api_regimen(request: Request) -> JSONResponse:
    try:
        regimen = regimen_of(request.path_params["regimen_id"])
    except RegimenError as exc:
        raise HTTPException(404, api_message(exc)) from None
    return JSONResponse(
        {
            "id": regimen.id,
            "name": regimen.name,
            "version": regimen.version,
            "status": regimen.status,
            "indication": regimen.indication,
            "sources": [{"citation": s.citation, "registry": s.registry, "url": s.url} for s in regimen.sources],
            "description": describe(regimen),
        }
    )


def _plan_json(body: dict[str, Any]) -> str:
    return plan_to_json(_within(read(body, inputs.PLAN_FIELDS).plan, MAX_ROWS), paths=False)


async def api_plan(request: Request) -> Response:
    body = await _json_body(request)
    return Response(await run_in_threadpool(_plan_json, body), media_type="application/json")


def _calendar(body: dict[str, Any]) -> bytes:
    asked = read(body, inputs.CALENDAR_FIELDS)
    return plan_to_ics(_within(asked.plan, MAX_PAGE_ROWS), label=asked.label, remind=asked.remind)


async def api_calendar(request: Request) -> Response:
    body = await _json_body(request)
    return Response(await run_in_threadpool(_calendar, body), media_type="text/calendar; charset=utf-8")


def _cohort(body: dict[str, Any]) -> str:
    patients = body.get("patients")
    if not isinstance(patients, list) or not patients or len(patients) > MAX_ROSTER:
        raise HTTPException(400, f"patients: a list of 1 to {MAX_ROSTER} objects of patient values")
    common = {k: v for k, v in body.items() if k != "patients"}
    checked = inputs.clean(common)  # the common fields are a plan's (checked once, not once per patient)
    if "regimen" not in checked:
        raise RegimenError(f"{option('regimen')}: choose a regimen (its id, e.g. cenersen-arm3) for the roster")
    regimen_of(checked["regimen"])
    parts, rejected, rows = [], [], 0
    for n, patient in enumerate(patients, start=1):
        if not isinstance(patient, dict):
            raise HTTPException(400, f"patient {n}: each patient is an object of values")
        extra = sorted(set(patient) - inputs.PATIENT_FIELDS - {"patient_id"})
        if extra:
            fields = ", ".join(["patient_id", *sorted(inputs.PATIENT_FIELDS)])
            raise HTTPException(400, f"patient {n}: unknown field {extra[0]!r}: a patient gives {fields}")
        pid = patient.get("patient_id", n)
        if isinstance(pid, bool) or not isinstance(pid, str | int) or len(str(pid)) > 100:
            raise HTTPException(400, f"patient {n}: patient_id is text or a whole number, at most 100 characters")
        pid = str(pid)
        values = {k: v for k, v in patient.items() if k != "patient_id"}
        try:
            plan = read({**common, **values}).plan
        except RegimenError as exc:
            rejected.append({"patient": n, "patient_id": pid, "error": api_message(exc)})
            continue
        rows += len(plan.administrations)
        if rows > MAX_ROWS:
            raise HTTPException(
                413,
                f"the roster's plans have more than {MAX_ROWS:,} administrations together: send fewer patients a "
                "request, or use 'regimen cohort' on the command line",
            )
        parts.append(f'{{"patient_id": {json.dumps(pid)}, "plan": {plan_to_json(plan, paths=False)}}}')
    return f'{{"plans": [{", ".join(parts)}], "rejected": {json.dumps(rejected, ensure_ascii=False)}}}'


async def api_cohort(request: Request) -> Response:
    body = await _json_body(request)
    return Response(await run_in_threadpool(_cohort, body), media_type="application/json")


def _verify(body: dict[str, Any]) -> str:
    """'regimen verify' over HTTP: the plan's fields, and orders (the command line's spellings or objects of the
    CSV columns), a FHIR bundle, tolerance and cycle; the answer is 'regimen verify --format json'."""
    asked = {k: body.pop(k) for k in ("orders", "bundle", "tolerance", "cycle") if k in body}
    orders, notes = orders_from_json(asked.get("orders"), asked.get("bundle"))
    if not orders:
        raise RegimenError(f"no order to check: give {option('orders')} or a FHIR {option('bundle')}")
    tolerance = asked.get("tolerance") or []
    tolerance = [tolerance] if isinstance(tolerance, str) else tolerance
    if not isinstance(tolerance, list) or len(tolerance) > 20 or not all(isinstance(t, str) for t in tolerance):
        raise RegimenError(f"{option('tolerance')}: '5%', 'carboplatin=10%', or a list of them")
    cycle = asked.get("cycle", 1)
    if isinstance(cycle, bool) or not isinstance(cycle, int) or not 1 <= cycle <= 500:
        raise RegimenError(f"{option('cycle')}: the cycle of the orders that give none, a whole number from 1")
    plan = _within(read(body).plan, MAX_ROWS)
    return verification_json(verify(plan, orders, parse_tolerance(tolerance), cycle=cycle, notes=notes))


async def api_verify(request: Request) -> Response:
    body = await _json_body(request)
    return Response(await run_in_threadpool(_verify, body), media_type="application/json")


async def api_openapi(request: Request) -> JSONResponse:
    return JSONResponse(openapi([r.id for r in _catalog()]))


async def api_docs(request: Request) -> HTMLResponse:
    """/openapi.json as a page to read: served from this server alone (no script, style or font from elsewhere)."""
    spec = openapi([r.id for r in _catalog()])
    pages: Pages = request.app.state.pages
    return pages.render(request, "docs.html", description=spec["info"]["description"], operations=reference(spec))


async def health(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


# ---- errors ----------------------------------------------------------------------------------------------


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith("/api/") or request.url.path == "/openapi.json"


async def on_regimen_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RegimenError)
    return await on_http_error(request, HTTPException(400, api_message(exc)))


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "bad request"
    if _wants_json(request) or exc.status_code in (413, 415, 429):
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)
    pages: Pages = request.app.state.pages
    page = pages.render(request, "error.html", exc.status_code, status=exc.status_code, message=message)
    page.headers.update(exc.headers or {})  # a 405's Allow
    return page


async def on_unexpected(request: Request, exc: Exception) -> Response:
    """Never a stack trace in an answer (the Guard logs the error's kind and place, nothing of the request)."""
    return JSONResponse({"error": INTERNAL_ERROR}, status_code=500)


def create_app(
    db: str | None = None,
    *,
    rate: float = 300,
    max_body: int = MAX_BODY,
    hosts: Collection[str] | None = LOOPBACK,
    secret: bytes | None = None,
) -> Any:
    """The ASGI app. ``db``: the course database for the course pages and the worklist (None: no course pages);
    ``hosts``: the Host names it answers to (None: any, for a server reachable by other names); ``secret``: the key
    of its CSRF tokens (the same for every worker of one server; default: a new random one)."""
    pages = Pages(db, secret or secrets.token_bytes(32))
    routes = [
        Route("/", pages.index),
        Route("/regimens/{regimen_id}", pages.regimen_form),
        Route("/plan", pages.plan, methods=["POST"]),
        Route("/download/{kind}", pages.download, methods=["POST"]),
        Route("/courses", pages.courses),
        Route("/courses/{course_id}", pages.course),
        Route("/due", pages.due),
        Route("/api/regimens", api_regimens),
        Route("/api/regimens/{regimen_id}", api_regimen),
        Route("/api/plan", api_plan, methods=["POST"]),
        Route("/api/calendar", api_calendar, methods=["POST"]),
        Route("/api/cohort", api_cohort, methods=["POST"]),
        Route("/api/verify", api_verify, methods=["POST"]),
        Route("/api/health", health),
        Route("/openapi.json", api_openapi),
        Route("/docs", api_docs),
        Mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        exception_handlers={
            RegimenError: on_regimen_error,
            HTTPException: on_http_error,
            Exception: on_unexpected,
        },
    )
    app.state.pages = pages
    return Guard(app, max_body=max_body, rate=rate, hosts=hosts)


__all__ = ["LOOPBACK", "MAX_CHART_ROWS", "MAX_PAGE_ROWS", "MAX_ROWS", "create_app"]
