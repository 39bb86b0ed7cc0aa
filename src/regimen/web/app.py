"""The web app: pages for people who do not use a terminal, and a JSON API with an OpenAPI description.

Starlette (a small, well-kept ASGI framework) with Jinja2 templates; served by uvicorn (``regimen serve``). This
module assembles it: the pages (web.pages), sign-in (web.accounts), the API (web.api) and the guards
(web.security), which say which of Starlette's middleware they use and why the rest is written here.

Safe by default: the command line listens on 127.0.0.1 and the app answers only requests addressed to this machine
by name (a page elsewhere cannot rebind its own host name to 127.0.0.1 and read the course pages); no patient value
is logged (uvicorn's access log is off, every plan is sent by POST, never in a URL, and an unexpected error is
logged by its kind and place only, never its message) or written to disk; requests are limited in size, in rate
per client, and in the work they may ask for; forms carry a CSRF token (HMAC-signed and bound to the session,
double-submit cookie, SameSite=Strict) and are refused from another origin; every answer has a security-header
set with a Content-Security-Policy that allows no script at all (the core flow needs none). Bad input gets a 4xx
with the command line's one-line message, never a stack trace. With users in the course database, every page and
API answer but the sign-in page asks who is there, and each action is checked against the roles' one table
(store.roles).
"""

from __future__ import annotations

import secrets
from collections.abc import Collection
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from regimen.errors import RegimenError
from regimen.web import api
from regimen.web.accounts import Accounts
from regimen.web.api import MAX_CHART_ROWS, MAX_PAGE_ROWS, MAX_ROWS
from regimen.web.chair import Chair
from regimen.web.inputs import api_message
from regimen.web.pages import Pages
from regimen.web.security import (
    CSP,
    INTERNAL_ERROR,
    LOOPBACK,
    MAX_BODY,
    Csrf,
    SessionBackend,
    SignInGate,
    guard,
    protected,
    refused_unconfigured,
    wants_json,
)

# ---- errors ----------------------------------------------------------------------------------------------


async def on_regimen_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RegimenError)
    return await on_http_error(request, HTTPException(400, api_message(exc)))


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "bad request"
    if wants_json(request.url.path) or exc.status_code in (413, 415, 429):
        return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)
    pages: Pages = request.app.state.pages
    page = pages.render(request, "error.html", exc.status_code, status=exc.status_code, message=message)
    page.headers.update(exc.headers or {})  # a 405's Allow
    return page


async def on_unexpected(request: Request, exc: Exception) -> Response:
    """Never a stack trace in an answer (web.security.SecurityHeaders logs its kind and place, nothing more)."""
    return JSONResponse({"error": INTERNAL_ERROR}, status_code=500)


def create_app(
    db: str | None = None,
    *,
    rate: float = 300,
    max_body: int = MAX_BODY,
    hosts: Collection[str] | None = LOOPBACK,
    secret: bytes | None = None,
    require_sign_in: bool = False,
) -> Any:
    """The ASGI app. ``db``: the course database for the course pages, the worklist and the users who sign in
    (None: no course pages, nobody signs in); ``hosts``: the Host names it answers to (None: any, for a server
    reachable by other names); ``secret``: the key of its CSRF tokens (the same for every worker of one server;
    default: a new random one); ``require_sign_in``: a server other machines reach, which refuses every request
    while the database has no active user instead of serving them openly."""
    pages = Pages(db, Csrf(secret or secrets.token_bytes(32)))
    accounts = Accounts(db, pages)
    chair = Chair(pages)

    def read(endpoint: Any) -> Any:
        return protected("read", endpoint)

    routes = [
        Route("/", read(pages.index)),
        Route("/regimens/{regimen_id}", read(pages.regimen_form)),
        Route("/plan", read(pages.plan), methods=["POST"]),
        Route("/download/{kind}", read(pages.download), methods=["POST"]),
        Route("/courses", read(pages.courses)),
        Route("/courses/start", chair.start, methods=["POST"]),  # the prescriber's
        Route("/courses/{course_id}", read(chair.course)),
        Route("/courses/{course_id}/check", read(chair.check), methods=["POST"]),
        Route("/courses/{course_id}/orders", read(chair.orders), methods=["POST"]),
        Route("/courses/{course_id}/record/{kind}", chair.record, methods=["POST"]),  # each kind's own role
        Route("/due", read(pages.due)),
        Route("/signin", accounts.signin_form),
        Route("/signin", accounts.signin, methods=["POST"]),
        Route("/signout", accounts.signout, methods=["POST"]),
        Route("/users", accounts.users),
        Route("/users/{name}/disable", accounts.disable, methods=["POST"]),
        Route("/api/regimens", read(api.api_regimens)),
        Route("/api/regimens/{regimen_id}", read(api.api_regimen)),
        Route("/api/plan", read(api.api_plan), methods=["POST"]),
        Route("/api/calendar", read(api.api_calendar), methods=["POST"]),
        Route("/api/cohort", read(api.api_cohort), methods=["POST"]),
        Route("/api/verify", read(api.api_verify), methods=["POST"]),
        Route("/api/session", accounts.api_session, methods=["POST", "DELETE"]),
        Route("/api/health", api.health),
        Route("/openapi.json", read(api.api_openapi)),
        Route("/docs", read(pages.api_docs)),
        Mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                AuthenticationMiddleware,
                backend=SessionBackend(accounts.store, require_sign_in),
                on_error=refused_unconfigured,
            ),
            Middleware(SignInGate),
        ],
        exception_handlers={
            RegimenError: on_regimen_error,
            HTTPException: on_http_error,
            Exception: on_unexpected,
        },
    )
    app.state.pages = pages
    return guard(app, max_body=max_body, rate=rate, hosts=hosts)


__all__ = ["CSP", "LOOPBACK", "MAX_CHART_ROWS", "MAX_PAGE_ROWS", "MAX_ROWS", "create_app"]
