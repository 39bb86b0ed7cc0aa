"""The pages: the regimen catalogue, a plan's form and page, its downloads, and the course pages and worklist of a
course database. Every form is checked against cross-site forgery (web.security.Csrf) before it is read."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import re
import threading
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from regimen.errors import RegimenError, as_flag, option
from regimen.export.chart import chart_bytes
from regimen.export.course import due_table, rendered
from regimen.export.handout import handout_html, handout_pdf, months_of
from regimen.export.ics import plan_to_ics
from regimen.export.records import plan_to_csv, plan_to_json
from regimen.export.table import DISCLAIMER, header_lines, plan_table
from regimen.protocol.describe import describe
from regimen.web import inputs
from regimen.web.api import MAX_CHART_ROWS, MAX_HANDOUT_MONTHS, MAX_PAGE_ROWS, catalog, matches, within
from regimen.web.inputs import LABELS, form_errors, in_words, read, regimen_of
from regimen.web.openapi import openapi, reference
from regimen.web.security import CSRF_COOKIE, Csrf, set_cookie

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


# ---- pages ------------------------------------------------------------------------------------------------


@functools.cache
def _env() -> Environment:
    """The templates' one environment in a process: set up once and only read after, so every app made in the process
    (a test makes one for each test; a server makes one) shares the compiled templates instead of compiling each again
    on its first page (about 15 ms for a regimen page)."""
    env = Environment(loader=PackageLoader("regimen.web", "templates"), autoescape=select_autoescape(["html"]))
    env.globals.update(disclaimer=DISCLAIMER, labels=LABELS, choices=inputs.CHOICES)
    return env


class Pages:
    """The pages of one server: ``db`` its course database (None: no course pages), ``csrf`` its form guard."""

    def __init__(self, db: str | None, csrf: Csrf) -> None:
        self.env = _env()
        self.db = db
        self.csrf = csrf
        self._opened: Any = None
        self._open_lock = threading.Lock()

    def render(self, request: Request, name: str, code: int = 200, **context: Any) -> HTMLResponse:
        """A template with this request's CSRF token (set as the cookie when new) and who is signed in."""
        token, new = self.csrf.cookie(request)
        user = request.scope.get("user")
        scopes = list(getattr(request.scope.get("auth"), "scopes", ()))  # what this user may do (store.roles)
        html = self.env.get_template(name).render(
            csrf=token, signed_in=getattr(user, "display_name", ""), role=_role(user), scopes=scopes, **context
        )
        response = HTMLResponse(html, status_code=code)
        if new:
            set_cookie(response, request, CSRF_COOKIE, token)
        return response

    async def form_values(self, request: Request) -> dict[str, Any]:
        return await self.csrf.form(request)

    async def api_docs(self, request: Request) -> HTMLResponse:
        """/openapi.json as a page to read: served from this server alone (no script, style or font from elsewhere)."""
        spec = openapi([r.id for r in catalog()])
        return self.render(request, "docs.html", description=spec["info"]["description"], operations=reference(spec))

    async def index(self, request: Request) -> HTMLResponse:
        query = request.query_params.get("q", "").strip()[:100]
        regimens = [r for r in catalog() if matches(r, query)]
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

    def need_store(self) -> Any:
        store = self._store()
        if store is None:
            raise HTTPException(404, f"no course database: start the server with {as_flag('db')} FILE")
        return store

    async def courses(self, request: Request) -> HTMLResponse:
        store = self._store()
        listed = await run_in_threadpool(store.courses) if store is not None else None
        return self.render(request, "courses.html", courses=listed, regimens=catalog(), error="", values={})

    async def due(self, request: Request) -> HTMLResponse:
        store = self.need_store()
        try:
            first = dt.date.fromisoformat(request.query_params.get("from") or dt.date.today().isoformat())
            days = int(request.query_params.get("days") or 1)
            if not 1 <= days <= 366:
                raise ValueError
        except ValueError:
            raise HTTPException(400, "From: a date as YYYY-MM-DD; Days: a whole number from 1 to 366") from None
        last = first + dt.timedelta(days=days - 1)
        rows = await run_in_threadpool(lambda: store.due(first, last, done=True))  # with each one's status
        header, cells = due_table(rows)
        return self.render(
            request,
            "due.html",
            header=("Status", *header),
            rows=[(r.status, *c) for r, c in zip(rows, cells, strict=True)],
            first=first,
            days=days,
        )


def _role(user: Any) -> str:
    account = getattr(user, "user", None)
    return str(account.role.value) if account is not None else ""


def _plan_page(values: dict[str, Any]) -> dict[str, Any]:
    """Everything the plan page shows, worked out away from the event loop."""
    request = read(values, inputs.PLAN_FIELDS)
    plan = within(request.plan, MAX_PAGE_ROWS)
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


def _download(values: dict[str, Any], kind: str) -> tuple[bytes, str]:
    request = read(values, inputs.DOWNLOAD_FIELDS)
    plan = within(request.plan, MAX_PAGE_ROWS)
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
        within(plan, MAX_CHART_ROWS)
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


__all__ = ["DOWNLOADS", "Pages"]
