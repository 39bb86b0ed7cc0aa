"""The web app and HTTP API (issue 13), used as a person and as a client would: pages through Starlette's test client,
the API against a real uvicorn server started on 127.0.0.1 by ``regimen serve``, the chart for every bundled regimen.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import icalendar
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient
from tests.conftest import BUNDLED_IDS
from tests.helpers import free_port

import regimen
from regimen.cli import cli
from regimen.export.chart import chart_bytes
from regimen.web.app import create_app

PATIENT = {"regimen": "cenersen-arm3", "weight": "70", "bsa": "1.8", "age": "45"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``regimen serve`` in its own process, as a user starts it, with a course database."""
    port = free_port()
    db = tmp_path_factory.mktemp("web") / "courses.sqlite3"
    subprocess.run(
        [sys.executable, "-m", "regimen", "course", "start", "capox", "--course", "bed4", "--weight", "70", "--bsa",
         "1.8", "--start", "2026-12-01", "--db", str(db)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    log = (tmp_path_factory.mktemp("weblog") / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "regimen", "serve", "--port", str(port), "--db", str(db), "--rate-limit", "0"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # bounded poll until the server answers
            assert proc.poll() is None, "regimen serve exited"
            try:
                if httpx.get(f"{base}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "regimen serve did not start within 60 s"
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
        log.close()


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(), raise_server_exceptions=False)


def csrf(client: TestClient, path: str = "/regimens/cenersen-arm3") -> str:
    page = client.get(path)
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match is not None
    return match.group(1)


# ---- the API against the real server -------------------------------------------------------------------------


def test_api_plan_is_the_json_of_expand(server: str) -> None:
    answer = httpx.post(f"{server}/api/plan", json=PATIENT, timeout=30)
    assert answer.status_code == 200
    cli_json = CliRunner().invoke(
        cli, ["expand", "cenersen-arm3", "--weight", "70", "--bsa", "1.8", "--age", "45", "--format", "json"]
    )
    assert answer.json() == json.loads(cli_json.stdout)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({**PATIENT, "weight": "700"}, "weight 700 kg is impossible"),
        ({**PATIENT, "weight": "-5"}, None),
        ({**PATIENT, "bsa": "18"}, None),
        ({**PATIENT, "regimen": "nope"}, None),
        ({**PATIENT, "start": "2026-13-01"}, "--start"),
        ({**PATIENT, "time": "25:00", "start": "2026-12-01"}, None),
        ({**PATIENT, "tz": "Mars/Olympus", "time": "08:00", "start": "2026-12-01"}, None),
        ({**PATIENT, "cycles": "0"}, "--cycles"),
        ({**PATIENT, "bsa_cap": "x"}, "--bsa-cap"),
        ({**PATIENT, "colour": "red"}, "unknown field 'colour'"),
        ({**PATIENT, "weight": ["70"]}, "--weight"),
        ({"weight": "70"}, "--regimen"),
    ],
)
def test_api_bad_input_is_a_4xx_with_the_command_line_message(server: str, body: Any, expected: str | None) -> None:
    answer = httpx.post(f"{server}/api/plan", json=body, timeout=30)
    assert 400 <= answer.status_code < 500
    message = answer.json()["error"]
    assert "\n" not in message and "Traceback" not in message and message
    if expected:
        assert expected in message
    if body.get("weight") == "700":  # word for word what the command line says
        result = CliRunner().invoke(cli, ["expand", "cenersen-arm3", "--weight", "700", "--bsa", "1.8"])
        assert result.stderr.strip() == f"Error: {message}"


def test_api_refuses_what_is_not_json_and_what_is_too_big(server: str) -> None:
    assert httpx.post(f"{server}/api/plan", content="weight=70", timeout=30).status_code == 415
    bad = httpx.post(f"{server}/api/plan", content="{", headers={"content-type": "application/json"}, timeout=30)
    assert bad.status_code == 400 and "not valid JSON" in bad.json()["error"]
    big = httpx.post(f"{server}/api/plan", content=b"x" * 2_000_000, headers={"content-type": "application/json"})
    assert big.status_code == 413
    assert httpx.post(f"{server}/api/plan", json=[1, 2], timeout=30).status_code == 400


def test_api_lists_searches_and_shows_regimens(server: str) -> None:
    listed = httpx.get(f"{server}/api/regimens", timeout=30).json()
    assert {r["id"] for r in listed} == set(BUNDLED_IDS)
    by_drug = httpx.get(f"{server}/api/regimens", params={"q": "oxaliplatin"}, timeout=30).json()
    assert {r["id"] for r in by_drug} == {"capox", "mfolfox6"}
    shown = httpx.get(f"{server}/api/regimens/capox", timeout=30).json()
    assert shown["id"] == "capox" and "oxaliplatin" in shown["description"]
    assert httpx.get(f"{server}/api/regimens/nope", timeout=30).status_code == 404


def test_api_calendar_and_cohort(server: str) -> None:
    ics = httpx.post(f"{server}/api/calendar", json={**PATIENT, "start": "2026-12-01"}, timeout=30)
    assert ics.status_code == 200 and ics.headers["content-type"].startswith("text/calendar")
    summaries = sorted(str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(ics.content).walk("VEVENT"))
    assert len(summaries) == 8 and summaries[0].startswith("Cenersen 672 mg")
    roster = {
        "regimen": "cenersen-arm3",
        "patients": [
            {"patient_id": "a", "weight": "70", "bsa": "1.8", "age": "45"},
            {"patient_id": "b", "weight": "9000", "bsa": "1.8"},
        ],
    }
    cohort = httpx.post(f"{server}/api/cohort", json=roster, timeout=30).json()
    assert [p["patient_id"] for p in cohort["plans"]] == ["a"]
    assert cohort["rejected"][0]["patient_id"] == "b" and "--weight" in cohort["rejected"][0]["error"]


def test_openapi_describes_every_api_route(server: str) -> None:
    spec = httpx.get(f"{server}/openapi.json", timeout=30).json()
    assert spec["openapi"].startswith("3.1")
    assert set(spec["paths"]) == {
        "/api/regimens",
        "/api/regimens/{regimen_id}",
        "/api/plan",
        "/api/calendar",
        "/api/cohort",
        "/api/health",
    }
    fields = spec["components"]["schemas"]["PlanRequest"]["properties"]
    assert {"regimen", "weight", "bsa", "age", "start", "time", "tz"} <= set(fields)


def test_security_headers_and_the_default_address(server: str) -> None:
    page = httpx.get(f"{server}/", timeout=30)
    csp = page.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp  # no script may run, inline or not
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text
    from regimen.cli.web import serve

    assert next(p.default for p in serve.params if p.name == "host") == "127.0.0.1"


def test_no_patient_value_reaches_the_log(server: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    httpx.post(f"{server}/api/plan", json={**PATIENT, "weight": "73.456"}, timeout=30)
    logs = list(Path(str(tmp_path_factory.getbasetemp())).glob("weblog*/server.log"))
    assert logs and all("73.456" not in p.read_text() for p in logs)


def test_rate_limit() -> None:
    limited = TestClient(create_app(rate=2))
    codes = [limited.get("/api/health").status_code for _ in range(10)]
    assert codes[:4] == [200] * 4 and 429 in codes


# ---- pages ----------------------------------------------------------------------------------------------


def test_a_form_without_its_token_is_refused(client: TestClient) -> None:
    answer = client.post("/plan", data=PATIENT)
    assert answer.status_code == 403 and "security token" in answer.text


def test_the_plan_page_shows_every_dose_with_its_working(client: TestClient) -> None:
    token = csrf(client)
    page = client.post("/plan", data={**PATIENT, "csrf": token, "start": "2026-12-01"})
    assert page.status_code == 200
    assert "0.1 mg/kg/h × 70 kg" in page.text and "21.6 mg" in page.text and "1,800 mg" in page.text
    assert 'src="data:image/svg+xml;base64,' in page.text


def test_errors_are_shown_beside_their_field(client: TestClient) -> None:
    token = csrf(client)
    page = client.post("/plan", data={**PATIENT, "weight": "700", "csrf": token})
    assert page.status_code == 400
    assert re.search(r'id="e-weight"[^>]*>[^<]*700 kg is impossible', page.text)
    assert 'aria-invalid="true"' in page.text


def test_missing_age_marks_the_conditional_rows(client: TestClient) -> None:
    token = csrf(client)
    page = client.post("/plan", data={**PATIENT, "age": "", "csrf": token})
    assert page.status_code == 200 and 'class="conditional"' in page.text and "only if age" in page.text


@pytest.mark.parametrize(
    "kind", ["csv", "json", "ics", "fhir", "timeline.svg", "timeline.png", "handout.html", "handout.pdf"]
)
def test_downloads(client: TestClient, kind: str) -> None:
    token = csrf(client)
    answer = client.post(f"/download/{kind}", data={**PATIENT, "csrf": token, "start": "2026-12-01"})
    assert answer.status_code == 200, answer.text[:300]
    assert "attachment" in answer.headers["content-disposition"]
    assert len(answer.content) > 200


def test_course_pages_and_worklist(server: str) -> None:
    courses = httpx.get(f"{server}/courses", timeout=30)
    assert "bed4" in courses.text
    course = httpx.get(f"{server}/courses/bed4", timeout=30)
    assert course.status_code == 200 and "oxaliplatin" in course.text and "planned" in course.text
    due = httpx.get(f"{server}/due", params={"from": "2026-12-01"}, timeout=30)
    assert due.status_code == 200 and "oxaliplatin" in due.text and "234" in due.text
    assert httpx.get(f"{server}/courses/nope", timeout=30).status_code == 404


# ---- the chart ------------------------------------------------------------------------------------------

SVG = "{http://www.w3.org/2000/svg}"


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_the_chart_of_every_bundled_regimen(regimen_id: str) -> None:
    values = {"weight": "70", "bsa": "1.8", "age": "45", "height": "175", "sex": "female", "scr": "1"}
    plan = regimen.expand(
        regimen.load(regimen_id),
        regimen.make_patient(**values),
        start=dt.date(2026, 12, 1),
        cycle_length=21 if regimen_id.startswith("cen") else None,
    )
    root = ElementTree.fromstring(chart_bytes(plan, "svg"))
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    ids = [g.get("id", "") for g in root.iter(f"{SVG}g")]
    drugs = {r.drug for r in plan.administrations}
    for drug in drugs:  # a lane per drug
        assert any(drug in t for t in texts), drug
    infusions = {
        (r.phase, r.component, r.cycle, r.infusion.start_course_day) for r in plan.administrations if r.infusion
    }
    bars = [i for i in ids if i.startswith("infusion-")]
    assert len(bars) == len(set(bars)) == len(infusions)  # a bar per continuous infusion
    for r in plan.administrations:
        if r.infusion is None:
            assert any(r.dose_text in t for t in texts), r.dose_text  # each mark has its dose
    assert any(re.search(r"\bC1\b", t) for t in texts)  # cycle boundaries, with dates
    assert any("2026" in t for t in texts)


def test_plot_from_the_command_line(tmp_path: Path) -> None:
    for suffix, magic in (("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")):
        out = tmp_path / f"timeline.{suffix}"
        result = CliRunner().invoke(
            cli,
            ["plot", "cenersen-arm3", "--weight", "70", "--bsa", "1.8", "--age", "45", "--start", "2026-12-01", "-o",
             str(out)],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert out.read_bytes().startswith(magic)
    bad = CliRunner().invoke(cli, ["plot", "cenersen-arm3", "--weight", "70", "--bsa", "1.8", "-o", "x.gif"])
    assert bad.exit_code == 1 and "name a .svg, .png or .pdf file" in bad.stderr


def test_without_the_web_extra_plot_and_serve_say_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for module in ("matplotlib", "uvicorn"):
        monkeypatch.setitem(sys.modules, module, None)  # as if not installed
    plot = CliRunner().invoke(
        cli, ["plot", "cenersen-arm3", "--weight", "70", "--bsa", "1.8", "-o", str(tmp_path / "t.svg")]
    )
    assert (
        plot.exit_code == 1 and "pip install 'regimen-schedules[web]'" in plot.stderr and "Traceback" not in plot.output
    )
    serve = CliRunner().invoke(cli, ["serve"])
    assert serve.exit_code == 1 and "pip install 'regimen-schedules[web]'" in serve.stderr


# ---- hostile input: never a 500 -------------------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_FIELDS = st.sampled_from(["regimen", "weight", "bsa", "age", "dob", "height", "sex", "start", "time", "tz", "cycles",
                           "cycle_length", "bsa_cap", "dose_level", "reduce", "x", "__proto__"])  # fmt: skip
_VALUES = st.one_of(
    st.text(max_size=40),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.lists(st.text(max_size=5), max_size=3),
    st.sampled_from(["cenersen-arm3", "capox", "70", "1.8", "1e308", "-1", "NaN", "2026-02-30", "25:61", "UTC"]),
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_FIELDS, _VALUES, max_size=8))
def test_no_body_makes_the_api_fail_with_a_500(body: dict[str, Any]) -> None:
    answer = _FUZZ_CLIENT.post("/api/plan", json=body)
    assert answer.status_code in (200, 400), (body, answer.status_code, answer.text[:300])
    if answer.status_code == 400:
        message = answer.json()["error"]
        assert message and "\n" not in message and "Traceback" not in message


_FUZZ_CLIENT = TestClient(create_app(rate=0), raise_server_exceptions=False)


@pytest.mark.parametrize(
    "raw",
    [
        '{"regimen": "cenersen-arm3", "weight": NaN, "bsa": "1.8"}',
        '{"regimen": "cenersen-arm3", "weight": Infinity, "bsa": "1.8"}',
        '{"regimen": "cenersen-arm3", "weight": 1e999, "bsa": "1.8"}',
        '{"regimen": "cenersen-arm3", "weight": {"a": 1}}',
        '{"regimen": "' + "x" * 5000 + '"}',
        "[" * 100_000,
        '{"regimen": "cenersen-arm3", "cycles": "99999999999999999999"}',
        '{"regimen": "../../etc/passwd"}',
    ],
)
def test_raw_hostile_bodies_get_a_4xx(raw: str) -> None:
    answer = _FUZZ_CLIENT.post("/api/plan", content=raw, headers={"content-type": "application/json"})
    assert 400 <= answer.status_code < 500, (raw[:60], answer.status_code, answer.text[:200])


@pytest.mark.parametrize("paper", ["a4", "letter"])
def test_the_pdf_handout_has_a_page_a_month(paper: str, tmp_path: Path) -> None:
    from regimen.export.handout import handout_pdf, months_of

    plan = regimen.expand(
        regimen.load("capox"), regimen.make_patient(weight="70", bsa="1.8", age="60"), start=dt.date(2026, 12, 1)
    )
    pdf = tmp_path / "handout.pdf"
    pdf.write_bytes(handout_pdf(plan, paper))
    subprocess.run(["pdftoppm", "-r", "20", "-png", str(pdf), str(tmp_path / "p")], check=True)
    assert len(list(tmp_path.glob("p-*.png"))) == months_of(plan) == 6
