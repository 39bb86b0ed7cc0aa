"""Signing in and out (the page, and the API's ``/api/session`` for scripts), and the administrator's list of users.

Users are those of the course database (``regimen users``); a session is a random token in an HttpOnly,
SameSite=Strict cookie (Secure over TLS) whose hash the database keeps for 8 hours, ended by signing out. A wrong
password counts towards the database's lock-out (store.users); the answer never says whether a name exists.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from regimen.store.roles import scopes
from regimen.web.api import json_body
from regimen.web.security import CSRF_COOKIE, SESSION_COOKIE, Account, permit, set_cookie

if TYPE_CHECKING:
    from regimen.store.users import User, UserStore
    from regimen.web.pages import Pages

SESSION_SECONDS = 8 * 3600


def _next(target: str | None, user: User) -> str:
    """Where to go after signing in: back where the user was sent from (a path of this site only), else home."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")) and "\n" not in target:
        return target
    return "/" if "read" in scopes(user.role) else "/users"


class Accounts:
    def __init__(self, db: str | None, pages: Pages) -> None:
        self.db, self.pages = db, pages
        self._store: UserStore | None = None
        self._lock = threading.Lock()

    def store(self) -> UserStore | None:
        """The users of the course database (None without one), opened when first asked for."""
        if self.db is None:
            return None
        with self._lock:
            if self._store is None:
                from regimen.store.users import UserStore  # lazy: SQLAlchemy and argon2 only with a course database

                self._store = UserStore.open(self.db)
            return self._store

    def _need(self) -> UserStore:
        store = self.store()
        if store is None:
            raise HTTPException(404, "sign-in needs a course database with users: see 'regimen users'")
        return store

    async def _sign_in(self, name: str, password: str) -> tuple[User, str]:
        from regimen.store.users import SignInError  # lazy: as above

        store = self._need()
        try:
            user = await run_in_threadpool(store.sign_in, name.strip().lower(), password)
        except SignInError as exc:
            raise HTTPException(401, exc.message) from None
        return user, await run_in_threadpool(store.new_session, user, "web")

    def _signed_in(self, request: Request, response: Response, token: str) -> Response:
        set_cookie(response, request, SESSION_COOKIE, token, max_age=SESSION_SECONDS)
        response.delete_cookie(CSRF_COOKIE, path="/")  # the next page gets a token bound to the new session
        return response

    # ---- pages ------------------------------------------------------------------------------------------

    async def signin_form(self, request: Request) -> Response:
        store = self.store()
        if store is None or not await run_in_threadpool(store.configured):
            return RedirectResponse("/", status_code=303)  # nobody to sign in as: the server is open
        return self.pages.render(request, "signin.html", next=request.query_params.get("next", ""), error="")

    async def signin(self, request: Request) -> Response:
        values = await self.pages.form_values(request)
        try:
            user, token = await self._sign_in(values.get("user", ""), values.get("password", ""))
        except HTTPException as exc:
            page = self.pages.render(request, "signin.html", 401, next=values.get("next", ""), error=exc.detail)
            return page
        return self._signed_in(request, RedirectResponse(_next(values.get("next"), user), status_code=303), token)

    async def signout(self, request: Request) -> Response:
        await self.pages.form_values(request)  # a forged sign-out is refused too
        await self._end(request)
        response = RedirectResponse("/signin", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.delete_cookie(CSRF_COOKIE, path="/")
        return response

    async def _end(self, request: Request) -> None:
        token = request.cookies.get(SESSION_COOKIE, "")
        store = self.store()
        if token and store is not None:
            await run_in_threadpool(store.end_session, token)

    async def users(self, request: Request) -> Response:
        permit(request, "users.manage")
        listed = await run_in_threadpool(self._need().all)
        return self.pages.render(request, "users.html", users=listed)

    async def disable(self, request: Request) -> Response:
        permit(request, "users.manage")
        await self.pages.form_values(request)
        name = request.path_params["name"]
        me = request.user.user.name if isinstance(request.user, Account) else ""
        if name == me:
            raise HTTPException(400, "you cannot disable yourself: another administrator can")
        from regimen.store.users import UserError  # lazy: as above

        try:
            await run_in_threadpool(self._need().disable, name)
        except UserError as exc:
            raise HTTPException(404, exc.message) from None
        return RedirectResponse("/users", status_code=303)

    # ---- the API: a session for a script ------------------------------------------------------------------

    async def api_session(self, request: Request) -> Response:
        """POST {"user", "password"}: signed in (the cookie set); DELETE: signed out."""
        if request.method == "DELETE":
            await self._end(request)
            response = JSONResponse({"signed_out": True})
            response.delete_cookie(SESSION_COOKIE, path="/")
            return response
        body = await json_body(request)
        name, password = body.get("user"), body.get("password")
        if not isinstance(name, str) or not isinstance(password, str):
            raise HTTPException(400, 'give {"user": NAME, "password": PASSWORD}')
        user, token = await self._sign_in(name, password)
        return self._signed_in(request, JSONResponse({"user": user.name, "role": user.role.value}), token)


__all__ = ["Accounts"]
