"""The web app: pages for people who do not use a terminal, and a JSON API with an OpenAPI description.

Starlette (a small, well-kept ASGI framework) with Jinja2 templates; served by uvicorn (``regimen serve``).

Safe by default: the command line listens on 127.0.0.1; no patient value is logged (uvicorn's access log is off and
every plan is sent by POST, never in a URL) or written to disk; requests are limited in size and, per client, in
rate; forms carry a CSRF token (double-submit cookie, SameSite=Strict); every answer has a security-header set
with a Content-Security-Policy that allows no script at all (the core flow needs none). Bad input gets a 4xx with
the command line's one-line message, never a stack trace.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from regimen.engine.plan import Plan
from regimen.errors import RegimenError, as_flag
from regimen.export.chart import chart_bytes
from regimen.export.handout import handout_html, handout_pdf
from regimen.export.ics import plan_to_ics
from regimen.export.records import plan_to_csv, plan_to_json
from regimen.export.table import DISCLAIMER, patient_line
from regimen.protocol.catalog import list_regimens
from regimen.protocol.describe import describe
from regimen.quantities.clock import tzinfo_for
from regimen.quantities.exact import amount_text
from regimen.web.inputs import LABELS, api_message, form_errors, plan_from, regimen_of
from regimen.web.openapi import openapi

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_BODY = 1_000_000  # bytes of a request body
MAX_ROSTER = 500  # patients of an API cohort
CSRF_COOKIE = "regimen_csrf"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
DOWNLOADS = {
    "csv": ("text/csv; charset=utf-8", "plan.csv"),
    "json": ("application/json", "plan.json"),
    "ics": ("text/calendar; charset=utf-8", "plan.ics"),
    "fhir": ("application/fhir+json", "plan.fhir.json"),
    "timeline.svg": ("image/svg+xml", "timeline.svg"),
    "timeline.png": ("image/png", "timeline.png"),
    "handout.html": ("text/html; charset=utf-8", "handout.html"),
    "handout.pdf": ("application/pdf", "handout.pdf"),
}


# ---- middleware: size, rate, headers ------------------------------------------------------------------


class Guard:
    """Security headers on every answer; bodies over ``max_body`` refused (413); more than ``rate`` requests a
    second from one client (a token bucket holding ``2 × rate``) refused (429). ``rate`` 0: no limit."""

    def __init__(self, app: ASGIApp, max_body: int = MAX_BODY, rate: float = 300) -> None:
        self.app, self.max_body, self.rate = app, max_body, rate
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = {name for name, _ in message.get("headers", [])}  # a response's own policy stands
                message["headers"] = [*message.get("headers", []), *(h for h in SECURITY_HEADERS if h[0] not in own)]
            await send(message)

        client = (scope.get("client") or ("?", 0))[0]
        if not self._allowed(client):
            await _plain(send_with_headers, 429, "too many requests: wait a moment and try again")
            return
        length = dict(scope.get("headers") or []).get(b"content-length")
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

        await self.app(scope, limited, send_with_headers)


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


# ---- pages ------------------------------------------------------------------------------------------------


def _env() -> Environment:
    env = Environment(loader=PackageLoader("regimen.web", "templates"), autoescape=select_autoescape(["html"]))
    env.globals.update(disclaimer=DISCLAIMER, labels=LABELS)
    return env


class Pages:
    def __init__(self, db: str | None) -> None:
        self.env = _env()
        self.db = db

    def render(self, request: Request, name: str, code: int = 200, **context: Any) -> HTMLResponse:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        html = self.env.get_template(name).render(csrf=token, **context)
        response = HTMLResponse(html, status_code=code)
        if request.cookies.get(CSRF_COOKIE) != token:
            response.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    async def form_values(self, request: Request) -> dict[str, Any]:
        form = await request.form()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if not cookie or not hmac.compare_digest(cookie, str(values.pop("csrf", ""))):
            raise HTTPException(403, "the form's security token is missing or stale: reload the page and submit again")
        return values

    async def index(self, request: Request) -> HTMLResponse:
        query = request.query_params.get("q", "").strip()[:100]
        regimens = [r for r in _catalog() if _matches(r, query)]
        return self.render(request, "index.html", regimens=regimens, q=query)

    async def regimen_form(self, request: Request) -> HTMLResponse:
        regimen_id = request.path_params["regimen_id"]
        try:
            regimen = regimen_of(regimen_id)
        except RegimenError as exc:
            raise HTTPException(404, api_message(exc)) from None
        return self.render(request, "form.html", regimen=regimen, about=describe(regimen), values={}, errors={})

    async def plan(self, request: Request) -> HTMLResponse:
        values = await self.form_values(request)
        try:
            plan = plan_from(values)
        except RegimenError as exc:
            field, text = form_errors(exc)
            try:
                regimen = regimen_of(values.get("regimen", ""))
            except RegimenError:
                raise HTTPException(400, text) from None
            errors = {field or "_": text}
            return self.render(
                request, "form.html", 400, regimen=regimen, about=describe(regimen), values=values, errors=errors
            )
        chart = base64.b64encode(chart_bytes(plan, "svg")).decode()
        return self.render(request, "plan.html", plan=plan, values=values, chart=chart, rows=_rows(plan),
                           patient=patient_line(plan), totals=_totals(plan))  # fmt: skip

    async def download(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in DOWNLOADS:
            raise HTTPException(404, f"no download {kind!r}")
        values = await self.form_values(request)
        try:
            plan = plan_from(values)
            data = _download(plan, kind, values.get("paper", "a4"), values.get("label"))
        except RegimenError as exc:
            raise HTTPException(400, form_errors(exc)[1]) from None
        media, name = DOWNLOADS[kind]
        inline = kind.startswith("handout") and request.query_params.get("view") == "1"
        disposition = f'{"inline" if inline else "attachment"}; filename="{plan.regimen.id}-{name}"'
        headers = {"content-disposition": disposition}
        if kind == "handout.html":  # its print stylesheet is inline: allowed by its hash, and nothing else
            headers["content-security-policy"] = _style_policy(data.decode())
        return Response(data, media_type=media, headers=headers)

    def _store(self) -> Any:
        if self.db is None:
            return None
        from regimen.store.courses import CourseStore  # lazy: SQLAlchemy only when courses are served

        return CourseStore.open(self.db)

    async def courses(self, request: Request) -> HTMLResponse:
        store = self._store()
        listed = store.courses() if store is not None else None
        return self.render(request, "courses.html", courses=listed)

    async def course(self, request: Request) -> HTMLResponse:
        store = self._store()
        if store is None:
            raise HTTPException(404, f"no course database: start the server with {as_flag('db')} FILE")
        try:
            record = json.loads(store.shown(request.path_params["course_id"])[1])
        except RegimenError as exc:
            raise HTTPException(404, api_message(exc)) from None
        return self.render(request, "course.html", course=record)

    async def due(self, request: Request) -> HTMLResponse:
        store = self._store()
        if store is None:
            raise HTTPException(404, f"no course database: start the server with {as_flag('db')} FILE")
        try:
            first = dt.date.fromisoformat(request.query_params.get("from") or dt.date.today().isoformat())
            days = max(1, min(366, int(request.query_params.get("days") or 1)))
        except ValueError:
            raise HTTPException(400, "from: a date as YYYY-MM-DD; days: a whole number") from None
        rows = store.due(first, first + dt.timedelta(days=days - 1))
        return self.render(request, "due.html", rows=rows, first=first, days=days)


def _style_policy(html: str) -> str:
    """A CSP for a page whose only style is its inline <style> element: that style, by its SHA-256, and nothing else."""
    styles = re.findall(r"<style>(.*?)</style>", html, flags=re.S)
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in styles)
    return f"default-src 'none'; style-src {hashes}; img-src data:; form-action 'none'; frame-ancestors 'none'"


def _catalog() -> list[Any]:
    regimens, _ = list_regimens()
    return sorted(regimens, key=lambda r: r.id)


def _matches(regimen: Any, query: str) -> bool:
    if not query:
        return True
    text = " ".join([regimen.id, regimen.name, regimen.indication or "", *(c.drug for c in regimen.components())])
    return all(word in text.lower() for word in query.lower().split())


def _rows(plan: Plan) -> list[dict[str, Any]]:
    out = []
    for r in plan.administrations:
        out.append(
            {
                "cycle": r.cycle if r.phase == "main" else f"{r.phase} {r.cycle}",
                "day": r.day,
                "date": r.date.isoformat() if r.date else "",
                "time": r.start.astimezone(_zone(plan)).strftime("%H:%M") if r.start else "",
                "drug": r.drug,
                "dose": r.dose_text,
                "rate": r.rate_text or "",
                "route": r.route or "",
                "working": r.calculation,
                "condition": r.condition,
                "warnings": r.warnings,
            }
        )
    return out


def _zone(plan: Plan) -> Any:
    return tzinfo_for(plan.tz)


def _totals(plan: Plan) -> list[str]:
    out = []
    for t in plan.totals:
        if t.cycle is None:
            who = f" ({t.component})" if t.component else ""
            cond = f" if {t.condition}" if t.condition else ""
            out.append(f"{t.drug}{who}: {amount_text(t.amount, t.unit, plan.rounding)} over the course{cond}")
    return out


def _download(plan: Plan, kind: str, paper: str, label: str | None) -> bytes:
    if kind == "csv":
        return plan_to_csv(plan).encode()
    if kind == "json":
        return plan_to_json(plan).encode()
    if kind == "ics":
        return plan_to_ics(plan, label=label)
    if kind == "fhir":
        from regimen.export.fhir import plan_fhir_json  # lazy: FHIR only when asked for

        return plan_fhir_json(plan).encode()
    if kind.startswith("timeline."):
        return chart_bytes(plan, kind.split(".", 1)[1])
    if kind == "handout.html":
        return handout_html(plan, paper, label).encode()
    return handout_pdf(plan, paper, label)


# ---- the API ----------------------------------------------------------------------------------------------


async def _json_body(request: Request) -> dict[str, Any]:
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise HTTPException(415, "send the request as JSON (Content-Type: application/json)")
    try:
        body = json.loads(await request.body())
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
            "indication": regimen.indication,
            "sources": [str(s) for s in regimen.sources],
            "description": describe(regimen),
        }
    )


async def api_plan(request: Request) -> Response:
    plan = plan_from(await _json_body(request))
    return Response(plan_to_json(plan), media_type="application/json")


async def api_calendar(request: Request) -> Response:
    body = await _json_body(request)
    label = body.pop("label", None)
    plan = plan_from(body)
    return Response(plan_to_ics(plan, label=label), media_type="text/calendar; charset=utf-8")


async def api_cohort(request: Request) -> JSONResponse:
    body = await _json_body(request)
    patients = body.get("patients")
    if not isinstance(patients, list) or not patients or len(patients) > MAX_ROSTER:
        raise HTTPException(400, f"patients: a list of 1 to {MAX_ROSTER} objects of patient values")
    common = {k: v for k, v in body.items() if k != "patients"}
    results, rejected = [], []
    for n, patient in enumerate(patients, start=1):
        if not isinstance(patient, dict):
            rejected.append({"patient": n, "error": "each patient is an object of values"})
            continue
        pid = str(patient.get("patient_id", n))
        values = {k: v for k, v in patient.items() if k != "patient_id"}
        try:
            plan = plan_from({**common, **values})
        except RegimenError as exc:
            rejected.append({"patient": n, "patient_id": pid, "error": api_message(exc)})
            continue
        results.append({"patient_id": pid, "plan": json.loads(plan_to_json(plan))})
    return JSONResponse({"plans": results, "rejected": rejected})


async def api_openapi(request: Request) -> JSONResponse:
    return JSONResponse(openapi())


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
        return JSONResponse({"error": message}, status_code=exc.status_code)
    pages: Pages = request.app.state.pages
    return pages.render(request, "error.html", exc.status_code, status=exc.status_code, message=message)


async def on_unexpected(request: Request, exc: Exception) -> Response:
    """Never a stack trace in an answer (and nothing of the request in the log)."""
    return JSONResponse({"error": "internal error: nothing was computed; please report it"}, status_code=500)


def create_app(db: str | None = None, *, rate: float = 300, max_body: int = MAX_BODY) -> Any:
    """The ASGI app. ``db``: the course database for the course pages and the worklist (None: no course pages)."""
    pages = Pages(db)
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
        Route("/api/health", health),
        Route("/openapi.json", api_openapi),
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
    return Guard(app, max_body=max_body, rate=rate)


__all__ = ["create_app"]
