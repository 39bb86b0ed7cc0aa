"""The web app safe by default (issue 13.3), tried as an adversary would: forged forms, a rebound host name, bodies
too big or too many, hostile JSON, and a look at every page for what it loads and at every log and file for a
patient's value. Also what a keyboard and a screen reader need: every field labelled."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from tests import system
from tests.conftest import BUNDLED_IDS
from tests.helpers import examples
from tests.webserver import course_db, running

from regimen.web import api as web_api
from regimen.web import app as web_app
from regimen.web import pages as web_pages
from regimen.web.app import CSP, create_app
from regimen.web.serve import hosts_for

PATIENT = {"regimen": "cenersen-arm3", "weight": "70", "bsa": "1.8", "age": "45"}
ORIGIN = "http://127.0.0.1"
WHEN = {"start": "2026-12-01", "time": "08:00", "tz": "Europe/Berlin"}


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(rate=0), base_url=ORIGIN, raise_server_exceptions=False)


def token(client: TestClient, path: str = "/regimens/cenersen-arm3") -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert match is not None
    return match.group(1)


# ---- cross-site request forgery ---------------------------------------------------------------------------


def test_a_form_without_its_token_is_refused(client: TestClient) -> None:
    answer = client.post("/plan", data=PATIENT)
    assert answer.status_code == 403 and "security token is missing or stale" in answer.text
    client.get("/regimens/cenersen-arm3")  # the cookie is set, the form's copy missing
    assert client.post("/plan", data=PATIENT).status_code == 403
    assert client.post("/plan", data={**PATIENT, "csrf": "x" * 40}).status_code == 403


def test_a_token_this_server_did_not_sign_is_refused(client: TestClient) -> None:
    # another page on this machine (any port: cookies do not tell ports apart) can set the cookie and put the same
    # value in its form; the value is not signed with this server's key, so it is not taken
    forged = "abc.0123456789abcdef0123456789abcdef"
    client.cookies.set("regimen_csrf", forged)
    answer = client.post("/plan", data={**PATIENT, "csrf": forged})
    assert answer.status_code == 403
    other = TestClient(create_app(rate=0), base_url=ORIGIN)  # another server's genuine token
    theirs = token(other)
    client.cookies.set("regimen_csrf", theirs)
    assert client.post("/plan", data={**PATIENT, "csrf": theirs}).status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://127.0.0.1:3000"},  # another app on this machine
        {"origin": "https://evil.example"},
        {"origin": "null"},  # a sandboxed frame
        {"sec-fetch-site": "same-site"},
        {"sec-fetch-site": "cross-site"},
    ],
)
def test_a_form_from_another_origin_is_refused_even_with_the_token(client: TestClient, headers: dict[str, str]) -> None:
    answer = client.post("/plan", data={**PATIENT, "csrf": token(client)}, headers=headers)
    assert answer.status_code == 403 and "a form sent from another site is refused" in answer.text


@pytest.mark.parametrize("headers", [{"origin": ORIGIN}, {"sec-fetch-site": "same-origin"}, {}])
def test_this_apps_own_form_is_taken(client: TestClient, headers: dict[str, str]) -> None:
    answer = client.post("/plan", data={**PATIENT, "csrf": token(client)}, headers=headers)
    assert answer.status_code == 200 and "Plan: cenersen-arm3" in answer.text


def test_the_token_cookie_is_strict_and_out_of_scripts_reach(client: TestClient) -> None:
    cookie = client.get("/").headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie


# ---- the host: a page elsewhere cannot rebind its name to 127.0.0.1 and read the course pages ----------------


@pytest.mark.parametrize(
    ("host", "code"),
    [
        ("evil.example", 400),
        ("evil.example:8000", 400),
        ("127.0.0.1.nip.io", 400),
        ("localhost:8000", 200),
        ("127.0.0.1:8000", 200),
        ("[::1]:8000", 200),
    ],
)
def test_only_requests_for_this_machine_are_answered(client: TestClient, host: str, code: int) -> None:
    answer = client.get("/courses", headers={"host": host})
    assert answer.status_code == code
    if code == 400:
        assert answer.json() == {"error": "this server answers requests for this machine only (127.0.0.1 or localhost)"}


def test_the_host_names_of_a_server() -> None:
    assert hosts_for("127.0.0.1") == {"127.0.0.1", "localhost", "::1", "[::1]"}
    assert hosts_for("192.168.1.5") == {"127.0.0.1", "localhost", "::1", "[::1]", "192.168.1.5"}
    assert hosts_for("fe80::1") == {"127.0.0.1", "localhost", "::1", "[::1]", "fe80::1", "[fe80::1]"}
    assert hosts_for("0.0.0.0") is None  # every address: it answers whatever name reaches it (and says so at start)


def test_the_default_address_is_this_machine() -> None:
    from regimen.cli.web import serve

    assert next(p.default for p in serve.params if p.name == "host") == "127.0.0.1"


# ---- headers and what a page loads ------------------------------------------------------------------------


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.labels: dict[str, str] = {}
        self._label: str | None = None
        self.texts: dict[int, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "label":
            self._label = dict(attrs).get("for") or ""
            self.labels[self._label] = ""
        if tag == "button":
            self.texts[len(self.tags) - 1] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._label = None

    def handle_data(self, data: str) -> None:
        if self._label is not None:
            self.labels[self._label] += data
        if self.texts:
            last = max(self.texts)
            if self.tags[last][0] == "button":
                self.texts[last] += data


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, httpx.Response]:
    """Every kind of page the app serves, as a browser gets it."""
    db = course_db(tmp_path_factory.mktemp("db") / "c.sqlite3")
    client = TestClient(create_app(db, rate=0), base_url=ORIGIN, raise_server_exceptions=False)
    out = {"index": client.get("/"), "search": client.get("/", params={"q": "oxaliplatin"})}
    for rid in BUNDLED_IDS:
        out[f"form {rid}"] = client.get(f"/regimens/{rid}")
    csrf = token(client)
    post = {"data": {**PATIENT, **WHEN, "csrf": csrf}, "headers": {"origin": ORIGIN}}
    out["plan"] = client.post("/plan", **post)  # type: ignore[arg-type]
    out["plan without age"] = client.post("/plan", **{**post, "data": {**post["data"], "age": ""}})  # type: ignore[arg-type]
    out["form with an error"] = client.post("/plan", **{**post, "data": {**post["data"], "weight": "700"}})  # type: ignore[arg-type]
    out["handout"] = client.post("/download/handout.html?view=1", **post)  # type: ignore[arg-type]
    out["courses"] = client.get("/courses")
    out["course"] = client.get("/courses/bed4")
    # the course page with a gate check's proposal and with an order check's verdicts (issue 28: their forms too)
    out["course check"] = client.post("/courses/bed4/check", data={"cycle": "2", "neuropathy": "1", "csrf": csrf})
    orders = {"cycle": "1", "orders": "oxaliplatin@1=240mg over 2h", "csrf": csrf}
    out["course orders"] = client.post("/courses/bed4/orders", data=orders)
    out["due"] = client.get("/due", params={"from": "2026-12-01", "days": "7"})
    out["not found"] = client.get("/nope")
    out["forged"] = client.post("/plan", data=PATIENT)
    return out


def test_every_answer_has_the_security_headers(pages: dict[str, httpx.Response], client: TestClient) -> None:
    answers = dict(pages)
    answers["api"] = client.post("/api/plan", json=PATIENT)
    answers["api error"] = client.post("/api/plan", json={"regimen": "nope"})
    answers["static"] = client.get("/static/style.css")
    answers["openapi"] = client.get("/openapi.json")
    answers["too big"] = client.post(
        "/api/plan", content=b"{" * 1_000_001, headers={"content-type": "application/json"}
    )
    answers["bad host"] = client.get("/", headers={"host": "evil.example"})
    answers["too many"] = TestClient(create_app(rate=1), base_url=ORIGIN).get("/api/health")
    for name, answer in answers.items():
        h = answer.headers
        csp = h["content-security-policy"]
        assert "script-src" not in csp and csp.startswith("default-src 'none'"), name  # no script may run at all
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp, name
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY", name
        assert h["referrer-policy"] == "same-origin" and h["cache-control"] == "no-store", name
        assert h["cross-origin-opener-policy"] == "same-origin", name
    assert pages["index"].headers["content-security-policy"] == CSP
    assert "frame-ancestors 'none'" in CSP and "form-action 'self'" in CSP and "base-uri 'none'" in CSP


def test_no_page_loads_anything_from_elsewhere_or_runs_a_script(pages: dict[str, httpx.Response]) -> None:
    for name, answer in pages.items():
        assert answer.headers["content-type"].startswith("text/html"), name
        html = answer.text
        assert "<script" not in html.lower() and "javascript:" not in html.lower(), name
        page = parse(html)
        for tag, attrs in page.tags:
            assert not any(k.startswith("on") for k in attrs), (name, tag, attrs)  # no event handler
            assert "style" not in attrs, (name, tag)  # no inline style (the CSP would refuse it)
            for key in ("src", "href", "action", "formaction", "srcset", "data", "poster"):
                value = attrs.get(key)
                if value is not None:
                    assert value.startswith(("/", "data:image/svg+xml;base64,", "#")), (name, tag, key, value)
        assert not re.search(r"https?://", re.sub(r"<(p|li|pre|td)[^>]*>[^<]*", "", html)), name  # only in text
        styles = re.findall(r"<style>(.*?)</style>", html, re.S)
        assert not styles or name == "handout", name  # the handout's own print style, allowed by its hash
        for css in styles:
            assert "url(" not in css and "@import" not in css
    css = Path(web_app.__file__).with_name("static").joinpath("style.css").read_text()
    assert "url(" not in css and "@import" not in css and "http" not in css


def test_every_field_has_a_label_and_every_button_a_name(pages: dict[str, httpx.Response]) -> None:
    for name, answer in pages.items():
        page = parse(answer.text)
        ids = [a["id"] for _, a in page.tags if a.get("id")]
        assert len(ids) == len(set(ids)), (name, ids)  # a label points at one field
        for i, (tag, attrs) in enumerate(page.tags):
            if tag in ("input", "select", "textarea") and attrs.get("type") not in ("hidden", "submit"):
                field = attrs.get("id")
                assert field and page.labels.get(field, "").strip(), (name, tag, attrs)
            if tag == "button":
                assert page.texts.get(i, "").strip(), (name, attrs)
        for field, text in page.labels.items():
            assert field in ids and text.strip(), (name, field)


def test_the_form_offers_every_field_with_its_choices(pages: dict[str, httpx.Response]) -> None:
    page = parse(pages["form cenersen-arm3"].text)
    named = [a["name"] for t, a in page.tags if t in ("input", "select") and a.get("type") != "hidden"]
    from regimen.web.inputs import PLAN_FIELDS

    assert set(named) == PLAN_FIELDS - {"regimen"}
    options = [a["value"] for t, a in page.tags if t == "option"]
    assert {"female", "male", "mosteller", "dubois", "ideal", "adjusted", "ckd-epi-2021", "esc-2022"} <= set(options)


# ---- limits: size, rate, work --------------------------------------------------------------------------------


def test_a_body_too_big_is_refused_before_it_is_read(client: TestClient) -> None:
    big = client.post("/api/plan", content=b"x" * 1_000_001, headers={"content-type": "application/json"})
    assert big.status_code == 413 and big.json() == {"error": "the request is larger than 1,000,000 bytes"}
    form = client.post("/plan", data={**PATIENT, "weight": "7" * 1_000_001})
    assert form.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(200):
            yield b" " * 10_000

    streamed = client.post("/api/plan", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413


def test_too_many_requests_are_refused() -> None:
    limited = TestClient(create_app(rate=2), base_url=ORIGIN)  # 2 a second, a burst of 4
    codes = [limited.get("/api/health").status_code for _ in range(10)]
    assert codes[:4] == [200] * 4 and codes[4:] == [429] * 6
    answer = limited.get("/")
    assert answer.status_code == 429 and answer.json() == {"error": "too many requests: wait a moment and try again"}


@pytest.mark.slow
def test_too_many_requests_to_a_running_server(tmp_path: Path) -> None:
    with running(tmp_path / "server.log", "--rate-limit", "1") as base, httpx.Client() as http:
        codes = [http.post(f"{base}/api/plan", json=PATIENT, timeout=30).status_code for _ in range(6)]
    # the start-up poll took one of the burst of 2 (or none, if a second passed): then 429
    assert codes[0] == 200 and codes[-1] == 429 and set(codes) == {200, 429}


def test_a_roster_of_too_much_work_is_refused(client: TestClient) -> None:
    # capox: 272 administrations a patient (8 cycles of 34: oxaliplatin, 28 capecitabine, 5 antiemetics); 74 patients
    # are 20,128, over the 20,000 of a request
    roster = {"regimen": "capox", "patients": [{"weight": "70", "bsa": "1.8"}] * 74}
    answer = client.post("/api/cohort", json=roster)
    assert answer.status_code == 413
    assert "the roster's plans have more than 20,000 administrations together" in answer.json()["error"]
    fewer = client.post("/api/cohort", json={**roster, "patients": roster["patients"][:73]})  # 19,856
    assert fewer.status_code == 200 and len(fewer.json()["plans"]) == 73


def test_a_plan_of_too_much_work_is_refused(client: TestClient) -> None:
    # capox 500 cycles: 17,000 administrations (34 a cycle), within the API's 20,000; a calendar of them is over 5,000
    assert (
        client.post("/api/plan", json={"regimen": "capox", "weight": "70", "bsa": "1.8", "cycles": "500"}).status_code
        == 200
    )
    calendar = client.post(
        "/api/calendar", json={"regimen": "capox", "weight": "70", "bsa": "1.8", "cycles": "500", "start": "2026-12-01"}
    )
    assert calendar.status_code == 400 and "this plan has 17,000 administrations" in calendar.json()["error"]


def test_a_handout_of_too_many_months_is_refused(client: TestClient) -> None:
    # capox 40 cycles of 21 days: 840 days, 28 months (1,360 administrations, a page's worth)
    answer = client.post(
        "/download/handout.pdf",
        data={
            "regimen": "capox",
            "weight": "70",
            "bsa": "1.8",
            "cycles": "40",
            "start": "2026-12-01",
            "csrf": token(client),
        },
    )
    assert answer.status_code == 400 and "a handout of 28 months is more than the 24 pages" in answer.text


# ---- hostile input: never a 500, never a trace -----------------------------------------------------------------

_FUZZ = TestClient(create_app(rate=0), base_url=ORIGIN, raise_server_exceptions=False)
_FIELDS = st.sampled_from(
    [
        "regimen",
        "weight",
        "bsa",
        "age",
        "dob",
        "height",
        "sex",
        "start",
        "time",
        "tz",
        "cycles",
        "cycle_length",
        "bsa_cap",
        "bsa_formula",
        "dose_level",
        "dose_percent",
        "reduce_by",
        "round",
        "prior",
        "anthracycline_table",
        "gfr_cap",
        "x",
        "__proto__",
        "label",
    ]
)
_VALUES = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.text(max_size=5), max_size=3),
    st.sampled_from(
        [
            "cenersen-arm3",
            "capox",
            "70",
            "1.8",
            "1e308",
            "-1",
            "NaN",
            "2026-02-30",
            "25:61",
            "UTC",
            "esc-2022",
            "../x.toml",
            "maintenance=2",
        ]
    ),
)


@settings(max_examples=examples(150), deadline=None)
@given(st.dictionaries(_FIELDS, _VALUES, max_size=8))
def test_no_body_makes_the_api_fail_with_a_500(body: dict[str, Any]) -> None:
    for path in ("/api/plan", "/api/calendar"):
        answer = _FUZZ.post(path, json=body)
        assert answer.status_code in (200, 400), (path, body, answer.status_code, answer.text[:300])
        if answer.status_code == 400:
            message = answer.json()["error"]
            assert message and "\n" not in message and "Traceback" not in message


@pytest.mark.parametrize(
    "raw",
    [
        '{"regimen": "cenersen-arm3", "weight": NaN, "bsa": "1.8"}',
        '{"regimen": "cenersen-arm3", "weight": Infinity, "bsa": "1.8"}',
        '{"regimen": "cenersen-arm3", "weight": 1e999, "bsa": "1.8"}',
        '{"regimen": "cenersen-arm3", "weight": {"a": 1}}',
        '{"regimen": "' + "x" * 5000 + '"}',
        "[" * 100_000,
        '{"a":' * 50_000 + "1" + "}" * 50_000,
        '{"regimen": "cenersen-arm3", "cycles": "99999999999999999999"}',
        '{"regimen": "../../etc/passwd"}',
        '{"regimen": "cenersen-arm3", "weight": "70", "bsa": "1.8", "regimen": "capox"}',
        '{"regimen": "\\u0000"}',
        '{"regimen": "cenersen-arm3", "weight": "\ud800"}',
        "\xff\xfe{}",
    ],
)
def test_raw_hostile_bodies_get_a_4xx(raw: str) -> None:
    data = raw.encode("utf-8", "surrogatepass") if "\ud800" in raw else raw.encode("latin-1", "replace")
    for path in ("/api/plan", "/api/calendar", "/api/cohort"):
        answer = _FUZZ.post(path, content=data, headers={"content-type": "application/json"})
        assert 400 <= answer.status_code < 500, (raw[:60], path, answer.status_code, answer.text[:200])
        assert "\n" not in answer.json()["error"]


def test_a_cohort_with_hostile_patients_gets_a_4xx(client: TestClient) -> None:
    for patients in (["x"], [None], [[1]], [{"weight": {"a": 1}}], "all", {"a": 1}):
        answer = client.post("/api/cohort", json={"regimen": "capox", "patients": patients})
        assert answer.status_code == 400 or (answer.status_code == 200 and answer.json()["rejected"]), patients


# ---- no patient value in a log, in an answer's error, or on disk ---------------------------------------------


def test_an_unexpected_error_is_one_line_and_its_message_is_not_logged(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("weight 73.456 kg of Zebedee Quux")

    monkeypatch.setattr(web_api, "read", broken)  # the API and the pages read their fields in their own modules
    monkeypatch.setattr(web_pages, "read", broken)
    with caplog.at_level(logging.DEBUG):
        api = client.post("/api/plan", json={**PATIENT, "weight": "73.456"})
        form = client.post("/plan", data={**PATIENT, "csrf": token(client)})
    for answer in (api, form):
        assert answer.status_code == 500
        assert answer.json() == {"error": "internal error: nothing was computed; please report it"}
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") + str(r.exc_text or "") for r in caplog.records)
    assert "RuntimeError at api.py:" in logged and "RuntimeError at pages.py:" in logged  # its kind and place
    assert "73.456" not in logged and "Zebedee" not in logged and "Traceback" not in logged


@pytest.mark.slow
def test_no_patient_value_reaches_a_log_or_a_file(tmp_path: Path) -> None:
    system.weasyprint()  # the server draws the PDF handout too
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "HOME": str(home),
        "TMPDIR": str(home),
        "XDG_CACHE_HOME": str(home / "cache"),
        "MPLCONFIGDIR": str(home / "mpl"),
        "XDG_DATA_HOME": str(home / "data"),
    }
    secret_weight, secret_label = "73.456", "Zebedee Quux"
    log = tmp_path / "server.log"
    with running(log, env=env, cwd=home) as base, httpx.Client(base_url=base, timeout=60) as http:
        form = http.get("/regimens/cenersen-arm3")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        values = {**PATIENT, **WHEN, "weight": secret_weight, "csrf": csrf.group(1)}
        assert http.post("/plan", data=values).status_code == 200
        for kind in ("csv", "json", "ics", "fhir", "timeline.png", "handout.html", "handout.pdf"):
            answer = http.post(f"/download/{kind}", data={**values, "label": secret_label})
            assert answer.status_code == 200, kind
        assert http.post("/plan", data={**values, "weight": f"{secret_weight} furlongs"}).status_code == 400
        assert http.post("/api/plan", json={**PATIENT, "weight": secret_weight}).status_code == 200
        assert http.post("/api/calendar", json={**PATIENT, **WHEN, "label": secret_label}).status_code == 200
        assert http.post("/api/plan", json={**PATIENT, "weight": f"{secret_weight} stone!"}).status_code == 400
        assert (
            http.post(
                "/api/cohort", json={"regimen": "capox", "patients": [{"weight": secret_weight, "bsa": "1.8"}]}
            ).status_code
            == 200
        )
    text = log.read_text(errors="replace")
    assert secret_weight not in text and secret_label not in text
    for path in home.rglob("*"):  # whatever the server wrote (a font cache): none holds a value
        if path.is_file():
            data = path.read_bytes()
            assert secret_weight.encode() not in data and secret_label.encode() not in data, path


def test_an_error_answer_holds_no_more_than_the_command_line_says(client: TestClient) -> None:
    answer = client.post("/api/plan", json={**PATIENT, "weight": "7000"})
    assert answer.json() == {"error": "weight 7,000 kg is impossible: give a value between 0.2 and 650 kg (weight)"}
    assert json.dumps(answer.json()).count("\\n") == 0


# ---- found by schemathesis against /openapi.json ---------------------------------------------------------------


def test_a_method_not_allowed_says_which_are(client: TestClient) -> None:
    for method, path, allowed in (("TRACE", "/api/plan", "POST"), ("GET", "/plan", "POST"), ("PUT", "/", "GET, HEAD")):
        answer = client.request(method, path)
        said = {m.strip() for m in answer.headers["allow"].split(",")}  # in no fixed order
        assert answer.status_code == 405 and said == set(allowed.split(", ")), (method, path)


def test_a_roster_names_its_regimen_and_ids_its_patients(client: TestClient) -> None:
    no_regimen = client.post("/api/cohort", json={"patients": [{}]})
    assert no_regimen.status_code == 400 and no_regimen.json()["error"].startswith("regimen: choose a regimen")
    unknown = client.post("/api/cohort", json={"regimen": "nope", "patients": [{}]})
    assert unknown.status_code == 400 and "unknown regimen 'nope'" in unknown.json()["error"]
    for pid in ({}, [1], True, 1.5, "x" * 101):
        answer = client.post("/api/cohort", json={"regimen": "capox", "patients": [{"patient_id": pid}]})
        assert answer.status_code == 400 and "patient_id is text or a whole number" in answer.json()["error"], pid


def test_a_plan_of_many_cycles_leaves_the_server_answering_others_meanwhile() -> None:
    """A plan of the regimen's own cycles is worked out in the event loop (1-3 ms); one whose body names up to 500
    cycles (CAPOX: 17 MB of JSON, about a quarter of a second) goes to a worker thread, so that a request sent after
    it, to the same process, is answered before it is done. Both answers are the same plan as the other way would
    give: the thread runs the same function."""
    import asyncio
    import time

    app = create_app(rate=0)
    finished: dict[str, float] = {}

    async def ask(client: httpx.AsyncClient, name: str, body: dict[str, Any] | None) -> httpx.Response:
        if body is None:
            answer = await client.get("/api/health")
        else:
            answer = await client.post("/api/plan", json=body)
        finished[name] = time.perf_counter()
        return answer

    async def both() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
            big = asyncio.create_task(
                ask(client, "big", {"regimen": "capox", "weight": "70", "bsa": "1.8", "cycles": "500"})
            )
            await asyncio.sleep(0.02)  # the big plan is under way in its thread
            small = await ask(client, "health", None)
            return await big, small

    big, small = asyncio.run(both())
    assert big.status_code == 200 and small.status_code == 200
    assert len(big.json()["administrations"]) > 10_000  # a plan of 500 cycles
    assert finished["health"] < finished["big"]
    # the regimen's own cycles: worked out in the loop, the same record as the thread's
    own = {"regimen": "capox", "weight": "70", "bsa": "1.8"}
    with TestClient(app, base_url=ORIGIN) as client:
        assert client.post("/api/plan", json=own).content == web_api._plan_json(dict(own))
