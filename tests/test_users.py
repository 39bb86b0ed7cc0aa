"""Sign-in and roles (issue 28.3): users in the course database, managed by 'regimen users', Argon2id hashes,
sessions for the web app and the command line, lock-out, the one permission table, and a server that will not
serve other machines without sign-in. Tried as an adversary would, too: another user's session or form token, a
forged or replayed token, a brute force, and a signed-out client asking for the courses."""

from __future__ import annotations

import datetime as dt
import re
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from starlette.testclient import TestClient
from tests.helpers import CAPOX_FIXTURE, http
from tests.webserver import copied, course_db, running

from regimen.cli import cli
from regimen.store import users as users_module
from regimen.store.db import resolve
from regimen.store.roles import PERMISSIONS, ROLES, NotAllowed, allowed, require
from regimen.store.users import LOCKOUT, SignInError, UserStore
from regimen.web.app import create_app

ORIGIN = "http://127.0.0.1"
PW = "correct horse battery staple"
START = [CAPOX_FIXTURE, "--weight", "70", "--bsa", "1.8", "--start", "2026-12-01"]


@pytest.fixture
def session_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "state" / "session"
    monkeypatch.setenv("REGIMEN_SESSION", str(path))
    return path


def regimen(*args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=stdin)


def ok(result: Result) -> str:
    assert result.exit_code == 0, result.output
    return result.output


def refused(result: Result) -> str:
    """The one line of a refusal (exit 1, no traceback)."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    return result.output.strip()


def login(where: str, name: str, password: str = PW) -> str:
    return ok(regimen("login", "--user", name, "--db", where, "--password-stdin", stdin=password + "\n"))


def rows(where: str, query: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(resolve(where))
    with engine.connect() as conn:
        found = [tuple(r) for r in conn.execute(sa.text(query))]
    engine.dispose()
    return found


# ---- the command line: users, login, and who records a change --------------------------------------------------


def test_users_round_trip_and_the_audit_trail_names_who_signed_in(db: str, session_file: Path) -> None:
    # the first user is the administrator, added by whoever may open the database; the password is typed twice
    assert "first user of a database is its administrator" in refused(
        regimen("users", "add", "rsmith", "--role", "nurse", "--db", db, stdin=f"{PW}\n{PW}\n")
    )
    ok(regimen("users", "add", "admin", "--role", "administrator", "--db", db, stdin=f"{PW}\n{PW}\n"))
    # then only a signed-in administrator manages users
    assert "sign in first with 'regimen login'" in refused(
        regimen("users", "add", "rsmith", "--role", "nurse", "--db", db, "--password-stdin", stdin=PW)
    )
    assert "signed in as admin (administrator)" in login(db, "admin")
    assert stat.S_IMODE(session_file.stat().st_mode) == 0o600  # the token is this user's alone
    for name, role in (("rsmith", "nurse"), ("dr.jones", "prescriber"), ("vlee", "viewer")):
        ok(regimen("users", "add", name, "--role", role, "--db", db, "--password-stdin", stdin=PW + "\n"))
    assert ok(regimen("users", "list", "--db", db)).splitlines() == [
        "user\trole\tstate",
        "admin\tadministrator\tactive",
        "dr.jones\tprescriber\tactive",
        "rsmith\tnurse\tactive",
        "vlee\tviewer\tactive",
    ]
    # the administrator manages users, nothing clinical
    assert refused(regimen("course", "start", *START, "--course", "bed4", "--db", db)).endswith(
        "an administrator may not start a course: that is for a prescriber"
    )
    login(db, "dr.jones")
    assert "leave --who out" in refused(
        regimen("course", "start", *START, "--course", "bed4", "--db", db, "--who", "Dr Somebody Else")
    )
    ok(regimen("course", "start", *START, "--course", "bed4", "--db", db))
    assert refused(
        regimen("course", "omit", "bed4", "--cycle", "1", "--day", "1", "--reason", "refused", "--db", db)
    ).endswith("a prescriber may not record an administration: that is for a nurse")
    login(db, "rsmith")
    delay = regimen("course", "delay", "bed4", "--cycle", "2", "--by", "7d", "--reason", "x", "--db", db)
    assert refused(delay).endswith("a nurse may not change a course: that is for a prescriber")
    ok(regimen("course", "omit", "bed4", "--cycle", "1", "--day", "2", "--reason", "declined", "--db", db))
    assert rows(db, "SELECT created_by FROM courses") == [("dr.jones",)]
    assert rows(db, "SELECT who FROM course_changes") == [("rsmith",)]
    # signed out, nothing is recorded; disabled, the password no longer signs in and the session has ended
    ok(regimen("logout", "--db", db))
    assert not session_file.exists()
    assert "sign in first" in refused(regimen("course", "omit", "bed4", "--cycle", "1", "--reason", "x", "--db", db))
    login(db, "admin")
    ok(regimen("users", "disable", "vlee", "--db", db))
    assert "vlee\tviewer\tdisabled" in ok(regimen("users", "list", "--db", db))
    assert refused(regimen("login", "--user", "vlee", "--db", db, "--password-stdin", stdin=PW)).endswith(
        "wrong user name or password"
    )
    ok(regimen("users", "reset-password", "vlee", "--db", db, "--password-stdin", stdin="a new long passphrase\n"))
    assert "signed in as vlee (viewer)" in login(db, "vlee", "a new long passphrase")


def test_passwords_are_argon2id_hashes_never_the_password(
    db: str,
    session_file: Path,
    production_password_hashing: None,
) -> None:
    ok(regimen("users", "add", "admin", "--role", "administrator", "--db", db, stdin=f"{PW}\n{PW}\n"))
    [(hashed,)] = rows(db, "SELECT password_hash FROM users")
    assert isinstance(hashed, str) and hashed.startswith("$argon2id$v=19$") and PW not in hashed
    # RFC 9106's second recommended option, as shipped (the other tests hash cheaply: tests/conftest.py)
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    # a second hash of the same password differs (its own salt)
    store = UserStore.open(db)
    store.add("other", "viewer", PW, by="test")
    store.close()
    assert len({h for (h,) in rows(db, "SELECT password_hash FROM users")}) == 2
    # the session file and the database hold no password; the database holds the token's hash, not the token
    login(db, "admin")
    token = session_file.read_text().strip()
    assert PW not in token and rows(db, "SELECT token_sha256 FROM user_sessions") != [(token,)]


def test_an_unknown_name_is_checked_against_a_hash_at_the_shipped_parameters(
    tmp_path: Path, production_password_hashing: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A wrong name costs one Argon2id check at the shipped parameters, as a wrong password does (the answer's time
    does not tell who exists); the hash it checks against is made when first needed, not at import."""
    checked: list[str] = []
    verify = users_module._verify
    monkeypatch.setattr(
        users_module, "_verify", lambda hashed, password: checked.append(hashed) or verify(hashed, password)
    )
    store = UserStore.open(str(tmp_path / "c.sqlite3"))  # nobody in it: every name is unknown
    with pytest.raises(SignInError, match="wrong user name or password"):
        store.sign_in("nobody", PW)
    store.close()
    [hashed] = checked
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # RFC 9106's second recommended option, as shipped


def test_a_password_is_never_an_argument(tmp_path: Path) -> None:
    path = str(tmp_path / "c.sqlite3")
    for command in (["users", "add", "a", "--role", "viewer"], ["users", "reset-password", "a"], ["login"]):
        assert regimen(*command, "--password", PW, "--db", path).exit_code == 2  # no such option
    assert "too short: at least 12 characters" in refused(
        regimen("users", "add", "admin", "--role", "administrator", "--db", path, "--password-stdin", stdin="short\n")
    )


def test_five_failures_lock_the_account_for_15_minutes_across_restarts(db: str) -> None:
    store = UserStore.open(db)
    store.add("rsmith", "nurse", PW, by="test")
    at = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    for attempt in range(4):
        with pytest.raises(SignInError, match=r"^wrong user name or password$"):
            store.sign_in("rsmith", f"guess {attempt}", now=at)
    with pytest.raises(SignInError, match="5 failures in a row: this account is locked for 15 minutes"):
        store.sign_in("rsmith", "guess 5", now=at)
    store.close()
    store = UserStore.open(db)  # another process, or the server restarted: the lock holds
    with pytest.raises(SignInError, match="locked for 15 more minutes"):
        store.sign_in("rsmith", PW, now=at)
    with pytest.raises(SignInError, match="locked for 1 more minute"):
        store.sign_in("rsmith", PW, now=at + LOCKOUT - dt.timedelta(seconds=30))
    assert store.sign_in("rsmith", PW, now=at + LOCKOUT).name == "rsmith"
    # a success clears the count: four more failures do not lock
    for _ in range(4):
        with pytest.raises(SignInError):
            store.sign_in("rsmith", "again wrong", now=at + LOCKOUT)
    assert store.sign_in("rsmith", PW, now=at + LOCKOUT).name == "rsmith"
    store.close()


def test_a_session_ends_after_its_8_hours(tmp_path: Path) -> None:
    store = UserStore.open(str(tmp_path / "c.sqlite3"))
    user = store.add("rsmith", "nurse", PW, by="test")
    at = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
    token = store.new_session(user, "web", now=at)
    assert store.session_user(token, "web", now=at + dt.timedelta(hours=7, minutes=59)) == user
    assert store.session_user(token, "web", now=at + dt.timedelta(hours=8)) is None
    assert store.session_user(token, "cli", now=at) is None  # a browser's token is not a command line's
    store.close()


# ---- the one permission table -------------------------------------------------------------------------------


def test_who_may_do_what() -> None:
    expected = {  # written out by hand from issue 28: the table must say exactly this
        "prescriber": {"read", "course.start", "course.change"},
        "pharmacist": {"read", "cycle.verify"},
        "nurse": {"read", "course.record"},
        "viewer": {"read"},
        "administrator": {"users.manage"},
    }
    assert set(ROLES) == set(expected)
    for role, actions in expected.items():
        assert {a for a in PERMISSIONS if allowed(role, a)} == actions
    with pytest.raises(NotAllowed, match=r"^a nurse may not verify a cycle's doses: that is for a pharmacist$"):
        require("nurse", "cycle.verify")
    with pytest.raises(NotAllowed, match=r"^a viewer may not record an administration: that is for a nurse$"):
        require("viewer", "course.record")
    require("pharmacist", "cycle.verify")


# ---- the web app ---------------------------------------------------------------------------------------------


@pytest.fixture
def unit(tmp_path: Path) -> str:
    """A course database with a course and one user of each role (made once per test process, copied after)."""
    return copied(tmp_path / "unit.sqlite3", ("users unit", users_module._HASHER), _users_unit)


def _users_unit(where: str) -> None:
    course_db(Path(where))
    store = UserStore.open(where)
    for role in ROLES:
        store.add(role[:5], role, PW, by="test")  # presc, pharm, nurse, viewe, admin
    store.close()


def client_of(where: str, base: str = ORIGIN, **options: object) -> TestClient:
    return TestClient(create_app(where, rate=0, **options), base_url=base, follow_redirects=False)  # type: ignore[arg-type]


def token(client: TestClient, path: str = "/signin") -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert match is not None
    return match.group(1)


def sign_in(client: TestClient, name: str, password: str = PW) -> None:
    answer = client.post("/signin", data={"user": name, "password": password, "csrf": token(client), "next": ""})
    assert answer.status_code == 303, answer.text


PLAN = {"regimen": "cenersen-arm3", "weight": "70", "bsa": "1.8", "age": "45"}


def test_sign_in_and_out_through_the_web(unit: str) -> None:
    client = client_of(unit)
    assert client.get("/courses").headers["location"] == "/signin?next=%2Fcourses"
    form = client.get("/signin?next=/courses")
    assert form.status_code == 200 and 'name="password"' in form.text
    answer = client.post("/signin", data={"user": "viewe", "password": PW, "csrf": token(client), "next": "/courses"})
    assert answer.status_code == 303 and answer.headers["location"] == "/courses"
    cookie = answer.headers["set-cookie"]
    assert "regimen_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain HTTP on this machine: a Secure cookie would never come back
    page = client.get("/courses")
    assert page.status_code == 200 and "bed4" in page.text and "Signed in as viewe (viewer)" in page.text
    assert client.post("/signout", data={"csrf": token(client, "/courses")}).headers["location"] == "/signin"
    assert client.get("/courses").status_code == 303  # signed out
    # a sign-in elsewhere than this site's own paths goes home instead
    answer = client.post(
        "/signin", data={"user": "viewe", "password": PW, "csrf": token(client), "next": "//evil.example/"}
    )
    assert answer.headers["location"] == "/"


def test_the_session_cookie_is_secure_over_tls(unit: str) -> None:
    client = client_of(unit, "https://127.0.0.1")
    answer = client.post("/signin", data={"user": "nurse", "password": PW, "csrf": token(client), "next": ""})
    assert answer.status_code == 303 and "Secure" in answer.headers["set-cookie"]


def test_a_wrong_password_is_one_line_and_five_lock_the_account(unit: str) -> None:
    client = client_of(unit)
    for _ in range(4):
        answer = client.post("/signin", data={"user": "nurse", "password": "guess", "csrf": token(client)})
        assert answer.status_code == 401 and "wrong user name or password" in answer.text
    answer = client.post("/signin", data={"user": "nurse", "password": "guess", "csrf": token(client)})
    assert "this account is locked for 15 minutes" in answer.text
    answer = client.post("/signin", data={"user": "nurse", "password": PW, "csrf": token(client)})
    assert answer.status_code == 401 and "locked" in answer.text  # the right password too, for 15 minutes
    api = client.post("/api/session", json={"user": "nurse", "password": PW})
    assert api.status_code == 401 and "locked" in api.json()["error"]
    unknown = client.post("/api/session", json={"user": "nobody", "password": PW})
    assert unknown.status_code == 401 and unknown.json() == {"error": "wrong user name or password"}


def test_a_signed_out_client_sees_no_course(unit: str) -> None:
    # per-course access is not modelled: every signed-in user of the unit with a clinical role sees every course;
    # nobody signed out sees any, by page or API
    client = client_of(unit)
    for path in ("/courses", "/courses/bed4", "/due?from=2026-12-01&days=7", "/", "/regimens/capox", "/users"):
        answer = client.get(path)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/signin?next="), path
        assert "bed4" not in answer.text and "capox" not in answer.text
    for method, path in (("GET", "/api/regimens"), ("POST", "/api/plan"), ("GET", "/openapi.json")):
        answer = client.request(method, path, json=PLAN)
        assert answer.status_code == 401 and answer.json() == {"error": "sign in first (POST /api/session)"}, path
    assert client.get("/api/health").status_code == 200
    client.cookies.set("regimen_session", "forged-token-of-nobody")
    assert client.get("/courses/bed4").status_code == 303


def test_each_role_reaches_only_its_own_pages(unit: str) -> None:
    answers = {}
    for name in ("presc", "pharm", "nurse", "viewe", "admin"):
        client = client_of(unit)
        sign_in(client, name)
        answers[name] = (client.get("/courses/bed4").status_code, client.get("/users").status_code)
    assert answers == {
        "presc": (200, 403),
        "pharm": (200, 403),
        "nurse": (200, 403),
        "viewe": (200, 403),
        "admin": (403, 200),  # the administrator manages users and reads no patient's course
    }
    client = client_of(unit)
    sign_in(client, "viewe")
    refusal = client.get("/users")
    assert "a viewer may not manage users: that is for an administrator" in refusal.text


def test_a_viewer_or_nurse_cannot_manage_users_even_with_a_valid_form(unit: str) -> None:
    for name in ("viewe", "nurse"):
        client = client_of(unit)
        sign_in(client, name)
        answer = client.post("/users/presc/disable", data={"csrf": token(client, "/courses")})
        assert answer.status_code == 403 and "may not manage users" in answer.text
    admin = client_of(unit)
    sign_in(admin, "admin")
    assert admin.post("/users/presc/disable", data={"csrf": token(admin, "/users")}).status_code == 303
    store = UserStore.open(unit)
    assert {u.name: u.active for u in store.all()}["presc"] is False
    store.close()


def test_one_user_cannot_act_with_another_users_session_or_token(unit: str) -> None:
    admin, viewer = client_of(unit), client_of(unit)
    sign_in(admin, "admin")
    sign_in(viewer, "viewe")
    admins_token = token(admin, "/users")
    # the viewer's browser, with the administrator's form token (and its cookie): the token is bound to the
    # administrator's session, so it is not taken in the viewer's
    viewer.cookies.set("regimen_csrf", admins_token)
    answer = viewer.post("/plan", data={**PLAN, "csrf": admins_token})
    assert answer.status_code == 403 and "security token is missing or stale" in answer.text
    # the administrator's session token in another client is theirs until they sign out; after, it is nothing
    thief = client_of(unit)
    thief.cookies.set("regimen_session", admin.cookies["regimen_session"])
    assert thief.get("/users").status_code == 200
    admin.post("/signout", data={"csrf": admins_token})
    assert thief.get("/users").status_code == 303


def test_a_replayed_form_token_from_before_signing_out_is_refused(unit: str) -> None:
    client = client_of(unit)
    sign_in(client, "nurse")
    old = token(client, "/regimens/cenersen-arm3")
    assert client.post("/plan", data={**PLAN, "csrf": old}).status_code == 200
    client.post("/signout", data={"csrf": old})
    sign_in(client, "nurse")  # the same user, a new session
    client.cookies.set("regimen_csrf", old)
    answer = client.post("/plan", data={**PLAN, "csrf": old})
    assert answer.status_code == 403 and "security token is missing or stale" in answer.text
    forged = "abc.0123456789abcdef0123456789abcdef"
    client.cookies.set("regimen_csrf", forged)
    assert client.post("/plan", data={**PLAN, "csrf": forged}).status_code == 403


def test_the_api_signs_in_a_script(unit: str) -> None:
    client = client_of(unit)
    assert client.post("/api/plan", json=PLAN).status_code == 401
    answer = client.post("/api/session", json={"user": "pharm", "password": PW})
    assert answer.status_code == 200 and answer.json() == {"user": "pharm", "role": "pharmacist"}
    assert client.post("/api/plan", json=PLAN).status_code == 200
    assert client.delete("/api/session").status_code == 200
    assert client.post("/api/plan", json=PLAN).status_code == 401


def test_a_server_for_other_machines_without_users_refuses_everything(tmp_path: Path) -> None:
    client = client_of(course_db(tmp_path / "c.sqlite3"), require_sign_in=True, hosts=None)
    for path in ("/", "/courses", "/api/regimens"):
        answer = client.get(path)
        assert answer.status_code == 503 and "sign-in is not configured" in answer.json()["error"]
    open_client = client_of(course_db(tmp_path / "d.sqlite3"))  # on this machine alone it stays open
    assert open_client.get("/courses").status_code == 200


# ---- regimen serve -------------------------------------------------------------------------------------------


def test_serve_on_every_address_refuses_until_an_administrator_exists(tmp_path: Path) -> None:
    line = refused(regimen("serve", "--host", "0.0.0.0"))
    assert line.startswith("Error: regimen serve --host 0.0.0.0: other machines can reach it, so it needs sign-in")
    assert line.endswith("'regimen users add NAME --role administrator --db FILE' and serve with --db FILE")
    path = course_db(tmp_path / "c.sqlite3")
    store = UserStore.open(path)
    store.add("admin", "administrator", PW, by="test")
    store.add("rsmith", "nurse", PW, by="test")
    store.disable("admin")
    store.close()
    assert "has no active administrator" in refused(regimen("serve", "--host", "192.0.2.10", "--db", path))


@pytest.mark.slow
def test_serve_behind_a_proxy_starts_only_with_sign_in(tmp_path: Path) -> None:
    # --allowed-host (a name a reverse proxy forwards) makes the server reachable from elsewhere, so the same
    # check applies; the test listens on 127.0.0.1 only
    import httpx

    path = course_db(tmp_path / "c.sqlite3")
    assert "no active administrator" in refused(regimen("serve", "--allowed-host", "regimen.test", "--db", path))
    store = UserStore.open(path)
    store.add("admin", "administrator", PW, by="test")
    store.add("viewer", "viewer", PW, by="test")
    store.close()
    with running(tmp_path / "server.log", "--allowed-host", "regimen.test", "--db", path) as base:
        proxied = {"host": "regimen.test"}
        assert http().get(f"{base}/courses", headers=proxied).status_code == 303  # sign-in first
        assert http().get(f"{base}/courses", headers={"host": "evil.example"}).status_code == 400
        with httpx.Client(base_url=base, headers=proxied) as session:  # its own: it keeps the sign-in's cookie
            assert session.post("/api/session", json={"user": "viewer", "password": PW}).status_code == 200
            assert "bed4" in session.get("/courses").text
