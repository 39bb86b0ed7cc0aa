"""The unit's users, their passwords and their sessions, in the course database (tables ``users`` and
``user_sessions``, migration 0004): SQLite and PostgreSQL alike.

Passwords are hashed with Argon2id (argon2-cffi, the reference implementation's bindings, with its RFC 9106
parameters); the password itself is never stored, logged or put in an error. Five failed sign-ins in a row lock
the account for 15 minutes, recorded in the database so that a restart or another worker does not forget them.
A session is a random token held by the browser's cookie or the command line's session file; the database keeps
only its SHA-256, so a copy of the database does not sign anyone in.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Engine

from regimen.errors import RegimenError
from regimen.store.db import connect, resolve, shown
from regimen.store.roles import Role, role_of
from regimen.store.schema import sessions, users

MAX_FAILURES = 5  # failed sign-ins in a row before the account is locked
LOCKOUT = dt.timedelta(minutes=15)
SESSION_HOURS = {"web": 8, "cli": 8}  # one shift; then sign in again
MIN_PASSWORD = 12  # characters (NIST SP 800-63B asks at least 8; a shared unit's accounts get more)
MAX_PASSWORD = 1024  # hashing a longer one is work an attacker could ask for
_NAME = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
_HASHER = PasswordHasher()  # Argon2id, argon2-cffi's defaults (RFC 9106's second recommended option)


class SignInError(RegimenError):
    """A sign-in refused: wrong name or password, a disabled user, or an account locked after failures."""


class UserError(RegimenError):
    """A user cannot be added or changed as asked."""


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    active: bool = True
    locked_until: dt.datetime | None = None


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _now(now: dt.datetime | None) -> dt.datetime:
    return _utc(now) or dt.datetime.now(dt.UTC)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UserError(
            f"user name {name!r}: 1 to 64 characters of a-z, 0-9 and . _ @ - (lower case), starting with a letter "
            "or digit"
        )
    return name


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password is too short: at least {MIN_PASSWORD} characters (a phrase of words is good)")
    if len(password) > MAX_PASSWORD:
        raise UserError(f"the password is too long: at most {MAX_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    return _HASHER.hash(check_password(password))


class UserStore:
    """Users and sessions of one course database."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, db: str | None = None, environ: Mapping[str, str] | None = None, *, write: bool = True) -> UserStore:
        """The users of ``db``; ``write=False`` for a reader, which never creates a database (store.db.connect)."""
        return cls(connect(resolve(db, environ), write=write))

    @property
    def where(self) -> str:
        return shown(self.engine.url)

    def close(self) -> None:
        self.engine.dispose()

    # ---- who is there -----------------------------------------------------------------------------------

    def configured(self) -> bool:
        """Sign-in is configured: at least one active user (then every door asks who is there)."""
        with self.engine.connect() as conn:
            return conn.execute(sa.select(users.c.name).where(users.c.active.is_(True)).limit(1)).first() is not None

    def administrators(self) -> int:
        with self.engine.connect() as conn:
            query = sa.select(sa.func.count()).where(users.c.active.is_(True), users.c.role == Role.ADMINISTRATOR.value)
            return int(conn.execute(query).scalar() or 0)

    def all(self) -> list[User]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(users).order_by(users.c.name)).all()
        return [User(r.name, Role(r.role), bool(r.active), _utc(r.locked_until)) for r in rows]

    def get(self, name: str) -> User | None:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(users).where(users.c.name == name)).first()
        return None if r is None else User(r.name, Role(r.role), bool(r.active), _utc(r.locked_until))

    # ---- managing users -----------------------------------------------------------------------------------

    def add(self, name: str, role: str, password: str, *, by: str, now: dt.datetime | None = None) -> User:
        user = User(check_name(name), role_of(role))
        hashed = hash_password(password)
        with self.engine.begin() as conn:
            if conn.execute(sa.select(users.c.name).where(users.c.name == name)).first() is not None:
                raise UserError(f"user {name!r} already exists (a user is never removed: disable or reset it)")
            conn.execute(
                users.insert().values(
                    name=name,
                    role=user.role.value,
                    password_hash=hashed,
                    active=True,
                    failures=0,
                    locked_until=None,
                    created_at=_now(now),
                    created_by=by[:200],
                )
            )
        return user

    def _update(self, name: str, **values: object) -> None:
        with self.engine.begin() as conn:
            if conn.execute(users.update().where(users.c.name == name).values(**values)).rowcount != 1:
                raise UserError(f"no user {name!r}: see 'regimen users list'")
            conn.execute(sessions.delete().where(sessions.c.user_name == name))  # signed out everywhere

    def disable(self, name: str) -> None:
        self._update(name, active=False)

    def reset_password(self, name: str, password: str) -> None:
        self._update(name, password_hash=hash_password(password), failures=0, locked_until=None, active=True)

    # ---- signing in ---------------------------------------------------------------------------------------

    def sign_in(self, name: str, password: str, *, now: dt.datetime | None = None) -> User:
        """The user, if ``password`` is theirs; else :class:`SignInError`. A failure is counted (in the database);
        the fifth in a row locks the account for :data:`LOCKOUT`, during which even the right password is refused."""
        at = _now(now)
        if len(password) > MAX_PASSWORD:
            raise SignInError("wrong user name or password")
        with self.engine.begin() as conn:  # the count is written before the refusal is raised (after the commit)
            refusal = self._check(conn, name, password, at)
        if refusal is not None:
            raise SignInError(refusal)
        user = self.get(name)
        assert user is not None
        return User(user.name, user.role)

    def _check(self, conn: sa.Connection, name: str, password: str, at: dt.datetime) -> str | None:
        """Why ``password`` does not sign ``name`` in (None: it does), the failure or success written in ``conn``."""
        r = conn.execute(sa.select(users).where(users.c.name == name).with_for_update()).first()
        if r is None or not r.active:
            _verify(
                _dummy_hash(_HASHER), password
            )  # as long as a real check: the answer's time does not tell who exists
            return "wrong user name or password"
        locked = _utc(r.locked_until)
        if locked is not None and locked > at:
            minutes = max(1, round((locked - at).total_seconds() / 60))
            return (
                f"too many failed sign-ins: this account is locked for {minutes} more minute"
                f"{'s' if minutes != 1 else ''} (an administrator can reset its password)"
            )
        if not _verify(r.password_hash, password):
            failures = r.failures + 1
            if failures < MAX_FAILURES:
                conn.execute(users.update().where(users.c.name == name).values(failures=failures))
                return "wrong user name or password"
            conn.execute(users.update().where(users.c.name == name).values(failures=0, locked_until=at + LOCKOUT))
            minutes = int(LOCKOUT.total_seconds() // 60)
            return (
                f"wrong user name or password; {MAX_FAILURES} failures in a row: this account is locked for "
                f"{minutes} minutes"
            )
        values: dict[str, object] = {"failures": 0, "locked_until": None}
        if _HASHER.check_needs_rehash(r.password_hash):  # the library's parameters grew: hash again
            values["password_hash"] = _HASHER.hash(password)
        conn.execute(users.update().where(users.c.name == name).values(**values))
        return None

    def new_session(self, user: User, kind: str, *, now: dt.datetime | None = None) -> str:
        """A new session of ``user``: its token (given once, to the cookie or the session file)."""
        at = _now(now)
        token = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.expires_at < at))  # the expired ones go as new come
            conn.execute(
                sessions.insert().values(
                    token_sha256=token_hash(token),
                    user_name=user.name,
                    kind=kind,
                    created_at=at,
                    expires_at=at + dt.timedelta(hours=SESSION_HOURS[kind]),
                )
            )
        return token

    def session_user(self, token: str, kind: str, *, now: dt.datetime | None = None) -> User | None:
        """The active user of a live session, or None (unknown, expired, signed out, or the user disabled)."""
        if not token or len(token) > 200:
            return None
        query = (
            sa.select(users.c.name, users.c.role, sessions.c.expires_at)
            .join(users, users.c.name == sessions.c.user_name)
            .where(sessions.c.token_sha256 == token_hash(token), sessions.c.kind == kind, users.c.active.is_(True))
        )
        with self.engine.connect() as conn:
            r = conn.execute(query).first()
        if r is None or (_utc(r.expires_at) or _now(now)) <= _now(now):
            return None
        return User(r.name, Role(r.role))

    def end_session(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.token_sha256 == token_hash(token)))


@functools.cache
def _dummy_hash(hasher: PasswordHasher) -> str:
    """A hash to verify against when the user does not exist, so that a wrong name takes as long as a wrong password:
    made by ``hasher`` (so at its parameters) when first needed, not when the module is imported (a hash at the
    shipped parameters costs 0.1 s or more, paid by every command and test process that imports this module)."""
    return hasher.hash(secrets.token_urlsafe(16))


def _verify(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


__all__ = [
    "LOCKOUT",
    "MAX_FAILURES",
    "SESSION_HOURS",
    "SignInError",
    "User",
    "UserError",
    "UserStore",
    "hash_password",
    "token_hash",
]
