"""``regimen users add/list/disable/reset-password``, ``regimen login`` and ``regimen logout``: sign-in for a unit.

Users live in the course database (``--db``), so the web app and the command line of one unit share them. A
password is read from a hidden prompt (typed twice) or, for scripts, one line of standard input
(``--password-stdin``); never from the command line, where other users of the machine and the shell's history
could read it.

``regimen login`` checks a password once and writes a session token to a file only its user may read (0600),
for 8 hours; the course commands then record the signed-in user as who made each change (``--who`` is refused:
the audit trail names who signed in, not a typed name) and refuse what the user's role may not do. Once the
database has an administrator, only a signed-in administrator manages users; the first one is added by whoever
may open the database (its file's owner, or the PostgreSQL role of the URL).
"""

from __future__ import annotations

import getpass
import hashlib
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from regimen.errors import RegimenError
from regimen.store.roles import ROLES, Role, require

SESSION_ENV = "REGIMEN_SESSION"  # the session file, instead of the default one for the database


class NotSignedIn(RegimenError):
    """Sign-in is configured for this database and this command line has no live session."""


def _db_option(fn: Any) -> Any:
    return click.option(
        "--db",
        metavar="FILE|URL",
        help="The course database whose users these are (default: $REGIMEN_DB, else the user's courses.sqlite3).",
    )(fn)


def _users(db: str | None, *, write: bool = True) -> Any:
    from regimen.store.users import UserStore  # lazy: SQLAlchemy and argon2 only for these commands

    return UserStore.open(db, write=write)


def session_file(store: Any, environ: Mapping[str, str] | None = None) -> Path:
    """Where this user's session for ``store``'s database is kept: $REGIMEN_SESSION, else a file named after the
    database in $XDG_STATE_HOME/regimen (~/.local/state/regimen)."""
    env = os.environ if environ is None else environ
    if env.get(SESSION_ENV):
        return Path(env[SESSION_ENV]).expanduser()
    base = Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "regimen"
    key = hashlib.sha256(store.where.encode()).hexdigest()[:16]
    return base / f"session-{key}"


def _write_private(path: Path, text: str) -> None:
    """``text`` to ``path``, readable by this user only (0600, in a 0700 folder), all at once."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _read_token(path: Path) -> str:
    try:
        if path.stat().st_mode & 0o077:
            raise NotSignedIn(f"the session file {path} may be read by others: remove it and run 'regimen login'")
        return path.read_text().strip()
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise NotSignedIn(f"cannot read the session file {path}: {exc.strerror}") from None


def signed_in(store: Any, *, needed: str | None = None) -> Any:
    """The signed-in user of this command line for ``store``'s database (refused in one line if none)."""
    token = _read_token(session_file(store))
    user = store.session_user(token, "cli") if token else None
    if user is None:
        raise NotSignedIn(
            f"sign-in is configured for {store.where}: sign in first with 'regimen login' (and the same --db)"
        )
    if needed is not None:
        require(user.role, needed)
    return user


def identity(db: str | None, who: str | None, action: str) -> str | None:
    """Who records a change to a course: the signed-in user, if the database has users (``--who`` refused, the
    role checked against ``action``); None if sign-in is not configured (then the caller's free text stands)."""
    store = _users(db)
    try:
        if not store.configured():
            return None
        if who is not None:
            raise RegimenError(
                "--who: sign-in is configured for this database, so the change is recorded as the signed-in user; "
                "leave --who out"
            )
        return str(signed_in(store, needed=action).name)
    finally:
        store.close()


def _password(stdin: bool, *, twice: bool) -> str:
    if stdin:
        line = sys.stdin.readline()
        if not line.strip():
            raise RegimenError("--password-stdin: standard input has no password (one line)")
        return line.rstrip("\r\n")
    text: str = click.prompt("Password", hide_input=True, confirmation_prompt=twice)
    return text


def _by_administrator(store: Any) -> str:
    """Who manages users: a signed-in administrator, once one exists; else the operating system's user, who may
    open the database and so adds the first administrator."""
    if store.administrators():
        return str(signed_in(store, needed="users.manage").name)
    try:
        return f"{getpass.getuser()} (the first users, before any administrator)"
    except (KeyError, OSError):
        return "the first users, before any administrator"


_STDIN = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of standard input (for scripts)."
)


@click.group()
def users() -> None:
    """The unit's users and their roles, for sign-in to the web app and the course commands.

    \b
    Roles: prescriber (starts and changes courses), pharmacist (verifies a cycle's doses), nurse (records
    administrations), viewer (reads), administrator (manages users).

    \b
    Example:
      regimen users add admin --role administrator --db unit.sqlite3
      regimen login --user admin --db unit.sqlite3
      regimen users add rsmith --role nurse --db unit.sqlite3
    """


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(ROLES), help="The user's role.")
@_STDIN
@_db_option
def add(name: str, role: str, password_stdin: bool, db: str | None) -> None:
    """Add a user (the password is asked for, hidden, twice)."""
    store = _users(db)
    by = _by_administrator(store)
    if not store.administrators() and role != Role.ADMINISTRATOR.value:
        raise RegimenError("the first user of a database is its administrator: add one with --role administrator")
    user = store.add(name, role, _password(password_stdin, twice=True), by=by)
    click.echo(f"user {user.name}: added ({user.role.value}) to {store.where}", err=True)


@users.command("list")
@_db_option
def list_users(db: str | None) -> None:
    """The users, their roles, and whether each is active or locked."""
    store = _users(db, write=False)
    if store.administrators():
        signed_in(store, needed="users.manage")
    click.echo("user\trole\tstate")
    for user in store.all():
        state = "active" if user.active else "disabled"
        if user.active and user.locked_until is not None:
            state = f"locked until {user.locked_until:%Y-%m-%d %H:%M} UTC"
        click.echo(f"{user.name}\t{user.role.value}\t{state}")


@users.command("disable")
@click.argument("name")
@_db_option
def disable(name: str, db: str | None) -> None:
    """Disable a user: their sessions end and they cannot sign in (the audit trail keeps their name)."""
    store = _users(db)
    me = _by_administrator(store)
    if name == me and store.administrators() == 1:
        raise RegimenError(f"{name} is the last administrator: add another before disabling this one")
    store.disable(name)
    click.echo(f"user {name}: disabled; their sessions are ended", err=True)


@users.command("reset-password")
@click.argument("name")
@_STDIN
@_db_option
def reset_password(name: str, password_stdin: bool, db: str | None) -> None:
    """Give a user a new password (asked for, hidden, twice): it also lifts a lock-out, enables a disabled user
    and ends their sessions."""
    store = _users(db)
    _by_administrator(store)
    store.reset_password(name, _password(password_stdin, twice=True))
    click.echo(f"user {name}: new password set; their sessions are ended", err=True)


@click.command()
@click.option("--user", "name", metavar="NAME", help="Your user name (default: your login name).")
@_STDIN
@_db_option
def login(name: str | None, password_stdin: bool, db: str | None) -> None:
    """Sign in the course commands for 8 hours (a session file only you may read).

    \b
    Example:
      regimen login --user rsmith --db unit.sqlite3
    """
    store = _users(db)
    name = name or getpass.getuser()
    user = store.sign_in(name, _password(password_stdin, twice=False))
    path = session_file(store)
    _write_private(path, store.new_session(user, "cli") + "\n")
    click.echo(f"signed in as {user.name} ({user.role.value}) to {store.where} for 8 hours", err=True)


@click.command()
@_db_option
def logout(db: str | None) -> None:
    """End this command line's session for the database."""
    store = _users(db)
    path = session_file(store)
    token = _read_token(path)
    if token:
        store.end_session(token)
    path.unlink(missing_ok=True)
    click.echo("signed out", err=True)


__all__ = ["NotSignedIn", "identity", "login", "logout", "session_file", "signed_in", "users"]
