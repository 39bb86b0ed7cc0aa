"""The web app's guards: what each request passes before a page or the API sees it, and what each answer carries.

Outside in (:func:`guard`): the security headers and the last word on an unexpected error; the Host check
(Starlette's ``TrustedHostMiddleware``); the rate limit; the body-size cap. Inside the Starlette app: who is
there (Starlette's ``AuthenticationMiddleware`` with :class:`SessionBackend`, sessions kept in the course
database) and :class:`SignInGate`; forms check :class:`Csrf`.

Kept hand-written, each for a reason (said again where it is written):

- security headers: Starlette has no middleware for them, and the set is a list of constant headers;
- rate limit: the maintained choice, slowapi, counts fixed or moving windows per decorated route through the
  ``limits`` package; the app wants one burst-tolerant token bucket per client across every route, in 20 lines;
- body cap: neither Starlette nor uvicorn limits a request body (Starlette reads forms and JSON whole);
- CSRF: starlette-csrf reads the token from a header only (no script runs on these pages, so a form cannot set
  one) and has had no release since 2023; asgi-csrf lets a request without cookies through and its token is not
  bound to the sign-in session, so a token taken from one user's page, or from before signing out, would still
  pass. Here the token is an HMAC of a nonce *and the session*, in a SameSite=Strict cookie and in each form;
- sessions: Starlette's ``SessionMiddleware`` keeps the session in a signed cookie, which signing out or disabling
  a user cannot revoke; here the cookie holds a random token whose hash the database keeps (store.users).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import traceback
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.authentication import AuthCredentials, AuthenticationBackend, AuthenticationError, BaseUser
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from regimen.store.roles import DOING, PERMISSIONS, NotAllowed, require, scopes

if TYPE_CHECKING:
    from regimen.store.users import User, UserStore

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger("regimen.web")

MAX_BODY = 1_000_000  # bytes of a request body
#: The host names a server on this machine only answers to (the Host header of every request).
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
CSRF_COOKIE = "regimen_csrf"
SESSION_COOKIE = "regimen_session"
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
INTERNAL_ERROR = "internal error: nothing was computed; please report it"
HOST_REFUSED = "this server answers requests for this machine only (127.0.0.1 or localhost)"
#: Paths anyone may reach on a server with sign-in (the sign-in page itself, its stylesheet, the health check).
PUBLIC = ("/signin", "/static/", "/api/health", "/api/session")


async def plain(send: Send, status: int, text: str) -> None:
    """A one-line JSON error, sent before the app has answered anything."""
    body = json.dumps({"error": text}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


# ---- outside the app: headers, host, rate, size ----------------------------------------------------------


class SecurityHeaders:
    """The security-header set on every answer, a response's own policy standing (Starlette has no middleware for
    headers, and this is a constant list). An exception nothing else handled is logged by its kind and place (never
    its message, which may hold a patient's value) and answered with one line (500)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                own = {name for name, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in SECURITY_HEADERS if h[0] not in own)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:  # Starlette answered 500 already (and re-raised it for the log): log it here
            frames = traceback.extract_tb(exc.__traceback__)
            ours = [f for f in frames if "/regimen/" in Path(f.filename).as_posix()] or frames  # the deepest of ours
            place = f" at {Path(ours[-1].filename).name}:{ours[-1].lineno}" if ours else ""
            log.error("internal error: %s%s (its message is not logged: it may hold a patient's value)",
                      type(exc).__name__, place)  # fmt: skip
            if not started:
                await plain(send_with_headers, 500, INTERNAL_ERROR)


class TrustedHosts:
    """Starlette's ``TrustedHostMiddleware`` decides whether the Host is one of ``hosts`` (its parsing of ports and
    IPv6 brackets); its refusal is answered in this app's words, one line of JSON, like every other refusal."""

    def __init__(self, app: ASGIApp, hosts: Collection[str] | None) -> None:
        self.app = app
        allowed = ["*"] if hosts is None else sorted(h.lower() for h in hosts)
        self.check = TrustedHostMiddleware(self._passed, allowed_hosts=allowed, www_redirect=False)

    async def _passed(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["regimen.host_ok"] = True
        await self.app(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def in_our_words(message: Message) -> None:
            if scope.get("regimen.host_ok"):
                await send(message)
            elif message["type"] == "http.response.start":  # Starlette's plain-text refusal: ours instead
                await plain(send, 400, HOST_REFUSED)

        await self.check(scope, receive, in_our_words)


class RateLimit:
    """More than ``rate`` requests a second from one client refused (429; 0: no limit): a token bucket holding
    ``2 × rate`` per client address, in memory, bounded. Hand-written: slowapi (the maintained Starlette limiter)
    limits decorated routes by fixed or moving windows, not one bucket per client across the whole app."""

    def __init__(self, app: ASGIApp, rate: float) -> None:
        self.app, self.rate = app, rate
        self.buckets: dict[str, tuple[float, float]] = {}
        self.lock = threading.Lock()

    def allowed(self, client: str) -> bool:
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
        if scope["type"] == "http" and not self.allowed((scope.get("client") or ("?", 0))[0]):
            await plain(send, 429, "too many requests: wait a moment and try again")
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """Bodies over ``max_body`` bytes refused (413): by their Content-Length before reading, or as they arrive.
    Hand-written: neither Starlette nor uvicorn caps a body, and Starlette reads a form or JSON body whole."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app, self.max_body = app, max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_big = f"the request is larger than {self.max_body:,} bytes"
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await plain(send, 413, too_big)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise HTTPException(413, too_big)
            return message

        await self.app(scope, limited, send)


def guard(app: ASGIApp, *, max_body: int, rate: float, hosts: Collection[str] | None) -> ASGIApp:
    """``app`` behind the headers, the Host check (None: any host), the rate limit (0: none) and the body cap."""
    return SecurityHeaders(TrustedHosts(RateLimit(BodyLimit(app, max_body), rate), hosts))


# ---- who is there ------------------------------------------------------------------------------------------


class Account(BaseUser):
    """A signed-in user, and the hash of their session token (the CSRF tokens of their pages are bound to it)."""

    def __init__(self, user: User, session: str) -> None:
        self.user, self.session = user, session

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return self.user.name


class OpenUser(BaseUser):
    """Whoever uses a server without sign-in: one person on their own machine (``regimen serve`` on loopback)."""

    session = ""

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return ""


#: What the user of a server without sign-in may do: everything but managing users (there are none).
OPEN_SCOPES = [action for action in PERMISSIONS if action != "users.manage"]


class SessionBackend(AuthenticationBackend):
    """Starlette's authentication backend over the course database's users: no users (or no database) and not
    ``required``: open, as for one person on their own machine; users: the session cookie's user, or nobody.
    ``required`` (a server reachable from other machines) with no active user: refused, never open."""

    def __init__(self, users: Callable[[], UserStore | None], required: bool) -> None:
        self.users, self.required = users, required

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser] | None:
        store = self.users()
        configured = store is not None and await run_in_threadpool(store.configured)
        if store is None or not configured:
            if self.required:
                raise AuthenticationError(
                    "sign-in is not configured: an administrator adds users with 'regimen users add'"
                )
            return AuthCredentials(OPEN_SCOPES), OpenUser()
        token = conn.cookies.get(SESSION_COOKIE, "")
        user = await run_in_threadpool(store.session_user, token, "web") if token else None
        if user is None:
            return None
        from regimen.store.users import token_hash  # lazy: SQLAlchemy only on a server with a course database

        return AuthCredentials(scopes(user.role)), Account(user, token_hash(token))


def refused_unconfigured(conn: HTTPConnection, exc: AuthenticationError) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=503)


def wants_json(path: str) -> bool:
    return path.startswith("/api/") or path == "/openapi.json"


class SignInGate:
    """Inside Starlette's ``AuthenticationMiddleware``: nobody signed in reaches only :data:`PUBLIC` paths; a page
    sends them to the sign-in form (and back after), the API answers 401 in one line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        user = scope.get("user")
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or (user is not None and user.is_authenticated) or path.startswith(PUBLIC):
            await self.app(scope, receive, send)
            return
        response: Response
        if wants_json(path):
            response = JSONResponse({"error": "sign in first (POST /api/session)"}, status_code=401)
        else:
            target = path if scope.get("method") == "GET" else "/"
            query = scope.get("query_string", b"").decode("latin-1")
            target = f"{target}?{query}" if query and scope.get("method") == "GET" else target
            response = RedirectResponse(f"/signin?{urlencode({'next': target})}", status_code=303)
        await response(scope, receive, send)


def permit(request: Request, action: str) -> None:
    """A 403 naming who may, unless the request's user may take ``action`` (the one table, store.roles)."""
    if action in request.auth.scopes:
        return
    user = request.user
    if isinstance(user, Account):
        try:
            require(user.user.role, action)
        except NotAllowed as exc:
            raise HTTPException(403, exc.message) from None
    raise HTTPException(403, f"nobody may {DOING[action]} without signing in: see 'regimen users'")


def protected(action: str, endpoint: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Any]:
    """``endpoint``, answered only for a user who may take ``action``."""

    async def checked(request: Request) -> Response:
        permit(request, action)
        return await endpoint(request)

    checked.__name__ = getattr(endpoint, "__name__", "endpoint")
    return checked


# ---- forms: cross-site request forgery ------------------------------------------------------------------


class Csrf:
    """A random nonce and an HMAC of it with the server's secret *and the session* (the SHA-256 of its token; empty
    without sign-in), in a SameSite=Strict cookie and in each form. A cookie set by another page of this host (any
    port shares 127.0.0.1's cookies) is not signed, so not taken; a token from another user's page or from before
    signing out is not signed for this session, so not taken either."""

    def __init__(self, secret: bytes) -> None:
        self.secret = secret

    def token(self, session: str) -> str:
        nonce = secrets.token_urlsafe(24)
        return f"{nonce}.{self._sign(nonce, session)}"

    def _sign(self, nonce: str, session: str) -> str:
        return hmac.new(self.secret, f"{nonce}|{session}".encode(), hashlib.sha256).hexdigest()[:32]

    def valid(self, token: str, session: str) -> bool:
        nonce, _, mac = token.partition(".")
        return bool(nonce) and hmac.compare_digest(mac, self._sign(nonce, session))

    def cookie(self, request: Request) -> tuple[str, bool]:
        """The token this request's pages carry, and whether it is new (then the page sets it as the cookie)."""
        session = session_of(request)
        cookie = request.cookies.get(CSRF_COOKIE, "")
        if self.valid(cookie, session):
            return cookie, False
        return self.token(session), True

    async def form(self, request: Request) -> dict[str, str]:
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
        if not (cookie and self.valid(cookie, session_of(request)) and hmac.compare_digest(cookie, token)):
            raise HTTPException(403, "the form's security token is missing or stale: reload the page and submit again")
        return values


def session_of(request: Request) -> str:
    user = request.scope.get("user")
    return str(getattr(user, "session", ""))


def set_cookie(response: Response, request: Request, name: str, value: str, max_age: int | None = None) -> None:
    """A cookie out of scripts' reach (HttpOnly), sent to this site only (SameSite=Strict), and over TLS only when
    the request came by TLS (uvicorn reads X-Forwarded-Proto from a trusted proxy: --forwarded-allow-ips)."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="strict",
        path="/",
        secure=request.url.scheme == "https",
    )


__all__ = [
    "CSP",
    "CSRF_COOKIE",
    "INTERNAL_ERROR",
    "LOOPBACK",
    "MAX_BODY",
    "SESSION_COOKIE",
    "Account",
    "Csrf",
    "SessionBackend",
    "SignInGate",
    "guard",
    "permit",
    "protected",
    "set_cookie",
    "wants_json",
]
