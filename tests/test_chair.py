"""Recording at the chair (issue 28.2, and the web part of issue 27.3): the course page's forms record what
'regimen course' records, through the same library calls and refusals, each a POST with the page's CSRF token,
each kind for its role only, recorded as the signed-in user; the worklist page shows each administration's status.
Tried as an adversary would, too: a form without its token or with another session's, a session after signing out,
a forged session cookie, a viewer, and nobody signed in. The role and verification tests run on SQLite and on the
PostgreSQL server (the ``db`` fixture)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient
from tests.test_users import PW, client_of, rows, sign_in
from tests.webserver import copied, copied_db

from regimen.cli import cli
from regimen.store import users as users_module
from regimen.store.roles import ROLES
from regimen.store.users import UserStore

# mFOLFOX6 for 70 kg, 175 cm: BSA (Mosteller) √(175 × 70 / 3600) = 1.845 m²; oxaliplatin 85 mg/m² × 1.845 m² =
# 156.825 mg (shown 156.8 mg); leucovorin and the fluorouracil bolus 400 mg/m² × 1.845 = 738 mg.
START = "mfolfox6 --course bed4 --weight 70 --height 175 --age 60 --sex female --start 2026-12-01"
GIVEN = {"cycle": "1", "day": "1", "drug": "oxaliplatin", "dose": "156.8 mg", "lot": "LOT-7", "at": ""}
FORMS = {  # one valid form of each kind, for the role matrix
    "given": GIVEN,
    "omit": {"cycle": "1", "day": "1", "drug": "leucovorin", "reason": "declined"},
    "delay": {"cycle": "3", "by": "7d", "reason": "holiday"},
    "measure": {"cycle": "2", "weight": "68", "reason": "weighed"},
    "dose": {"cycle": "4", "drug": "oxaliplatin", "dose_percent": "80%", "reason": "neuropathy"},
    "requirement": {"id": "dpyd", "status": "met", "result": "normal metabolizer"},
    "verify": {"cycle": "1"},
    "check": {"cycle": "2", "neuropathy": "2 persistent", "decision": "accept"},
}
ROLE_OF = {  # who may post each form (store.roles, written out by hand from issue 28)
    "given": "nurse",
    "omit": "nurse",
    "delay": "prescriber",
    "measure": "prescriber",
    "dose": "prescriber",
    "requirement": "prescriber",
    "verify": "pharmacist",
    "check": "prescriber",
}
NAME = {role: role[:5] for role in ROLES}  # presc, pharm, nurse, viewe, admin


def _unit(where: str) -> str:
    result = CliRunner().invoke(cli, ["course", "start", *START.split(), "--db", where])
    assert result.exit_code == 0, result.output
    store = UserStore.open(where)
    for role in ROLES:
        store.add(NAME[role], role, PW, by="test")
    store.close()
    return where


@pytest.fixture
def unit(tmp_path: Path) -> str:
    """A SQLite course database with course bed4 (mFOLFOX6) and one user of each role (made once per test process,
    copied after)."""
    return copied(tmp_path / "unit.sqlite3", ("chair unit", users_module._HASHER), _unit)


def signed(where: str, role: str) -> TestClient:
    client = client_of(where)
    sign_in(client, NAME[role])
    return client


def page_token(client: TestClient) -> str:
    page = client.get("/courses/bed4")
    assert page.status_code == 200, page.text
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match is not None
    return match.group(1)


def post(client: TestClient, kind: str, form: dict[str, str], token: str | None = "") -> object:
    data = {**form, "csrf": page_token(client) if token == "" else token} if token is not None else dict(form)
    path = "/courses/bed4/check" if kind == "evaluate" else f"/courses/bed4/record/{kind}"
    return client.post(path, data=data)


def recorded(client: TestClient, kind: str, form: dict[str, str]) -> str:
    """The history line of the change a form recorded (303 to the course page, which says it)."""
    answer = post(client, kind, form)
    assert answer.status_code == 303, answer.text  # type: ignore[attr-defined]
    page = client.get(answer.headers["location"])  # type: ignore[attr-defined]
    said = re.search(r'<p class="recorded" role="status">Recorded: ([^<]*)</p>', page.text)
    assert said is not None
    return said.group(1)


def refusal(answer: object) -> str:
    assert answer.status_code == 400, answer.text  # type: ignore[attr-defined]
    found = re.search(r'<p class="error" role="alert" id="error-\w+">([^<]*)</p>', answer.text)  # type: ignore[attr-defined]
    assert found is not None
    return found.group(1).replace("&#39;", "'")


def test_a_day_at_the_chair_through_every_form(db: str) -> None:
    where = _unit(db)
    presc, pharm, nurse = signed(where, "prescriber"), signed(where, "pharmacist"), signed(where, "nurse")
    said = recorded(presc, "requirement", FORMS["requirement"])
    assert "presc: requirement dpyd: met (normal metabolizer) (why: requirement recorded)" in said
    assert "presc: weight 68 from cycle 2" in recorded(presc, "measure", FORMS["measure"])
    assert "presc: cycle 3 delayed 7 days" in recorded(presc, "delay", FORMS["delay"])
    assert "oxaliplatin: 80 % of the dose (reduced by 20 %) from cycle 4" in recorded(presc, "dose", FORMS["dose"])
    # the gate check: the proposal of the regimen's table, then the decision and the dose change it makes recorded
    shown = post(presc, "evaluate", {"cycle": "2", "neuropathy": "2 persistent"})
    assert shown.status_code == 200  # type: ignore[attr-defined]
    assert re.findall(r'<h4 id="proposal-title">([^<]*)</h4>', shown.text) == ["mfolfox6, cycle 2: REDUCE"]  # type: ignore[attr-defined]
    assert "oxaliplatin: REDUCE — if neuropathy grade = 2: give oxaliplatin at 65 mg/m²" in shown.text  # type: ignore[attr-defined]
    said = recorded(presc, "check", FORMS["check"])  # the last of the two: 65 of 85 mg/m² is 1300/17 % of the dose
    assert "oxaliplatin: 76.47058824 % of the dose (reduced by 23.52941176 %) from cycle 2" in said
    # the pharmacist verifies cycle 1 as planned now; the nurse records the dose given, with its lot
    assert (
        "pharm: cycle 1: doses verified against the protocol (day 1 ondansetron 8 mg, day 1 dexamethasone 8 mg, "
        "day 1 oxaliplatin 156.825 mg"  # the antiemetics first, as the plan gives them
    ) in recorded(pharm, "verify", {"cycle": "1", "seen": "6"})
    assert "nurse: given: oxaliplatin cycle 1 day 1 156.8 mg, lot LOT-7" in recorded(nurse, "given", GIVEN)
    assert "nurse: omitted: leucovorin cycle 1 day 1" in recorded(nurse, "omit", FORMS["omit"])
    # the audit trail names who signed in, on either database
    assert rows(where, "SELECT kind, who FROM course_changes ORDER BY seq") == [
        ("requirement", "presc"),
        ("measure", "presc"),
        ("delay", "presc"),
        ("dose", "presc"),
        ("check", "presc"),
        ("dose", "presc"),
        ("verify", "pharm"),
        ("given", "nurse"),
        ("omit", "nurse"),
    ]
    # the worklist page: each administration of 1 December with its status
    due = nurse.get("/due", params={"from": "2026-12-01"}).text
    statuses = re.findall(r'<td><span class="tag status-(\w+)">\w+</span></td><td>[^<]*</td><td>[^<]*</td>'
                          r'<td><a href="/courses/bed4">bed4</a></td><td>([^<]*)</td>', due)  # fmt: skip
    assert statuses == [
        ("verified", "ondansetron [supportive]"),  # the antiemetics an hour before oxaliplatin, verified with the cycle
        ("verified", "dexamethasone [supportive]"),
        ("given", "oxaliplatin"),
        ("omitted", "leucovorin"),
        ("verified", "fluorouracil"),  # the bolus
        ("verified", "fluorouracil"),  # the 46 h pump, verified whole
    ]


def test_a_refusal_is_the_librarys_one_line_on_the_page(unit: str) -> None:
    presc, pharm, nurse = signed(unit, "prescriber"), signed(unit, "pharmacist"), signed(unit, "nurse")
    # 0.8 % is refused as the command line refuses '--dose-percent 0.8%', until confirmed
    line = refusal(post(presc, "dose", {**FORMS["dose"], "dose_percent": "0.8%"}))
    assert "0.8 % of the dose (reduced by 99.2 %) is less than 50 % of the dose (0.8 % may be a slip for 80 %)" in line
    assert line.endswith("confirm it with ‘Confirm as typed’")
    assert "0.8 % of the dose" in recorded(presc, "dose", {**FORMS["dose"], "dose_percent": "0.8%", "confirm": "1"})
    assert "every change says why" in refusal(post(presc, "delay", {"cycle": "3", "by": "7d"}))
    assert "weight 700 kg" in refusal(post(presc, "measure", {"cycle": "2", "weight": "700", "reason": "x"}))
    assert "only with a reason" in refusal(post(presc, "requirement", {"id": "dpyd", "status": "waived"}))
    assert "overridden only with a reason" in refusal(post(presc, "check", {**FORMS["check"], "decision": "override",
                                                                            "override": "delay"}))  # fmt: skip
    assert "‘Day’ 'x': a whole number from 1" in refusal(post(nurse, "given", {**GIVEN, "day": "x"}))
    # the first dose waits for the DPYD result; then for the pharmacist's verification
    assert "the first dose waits for what must be known before it: dpyd" in refusal(post(nurse, "given", GIVEN))
    recorded(presc, "requirement", FORMS["requirement"])
    line = refusal(post(nurse, "given", GIVEN))
    assert "oxaliplatin cycle 1 day 1 is not verified as planned now" in line
    assert line.endswith("a pharmacist verifies it first with 'regimen course verify bed4' (‘Cycle’ 1)")
    # a verification of a page shown before a change is refused: nothing is verified that was not seen
    assert "the course changed since the page was shown" in refusal(post(pharm, "verify", {"cycle": "1", "seen": "1"}))
    recorded(pharm, "verify", {"cycle": "1", "seen": "2"})
    recorded(nurse, "given", GIVEN)
    assert "is already recorded as given" in refusal(post(nurse, "given", GIVEN))


def test_the_gate_check_shows_each_gate_against_its_threshold(tmp_path: Path) -> None:
    where = str(tmp_path / "open.sqlite3")  # one person on their own machine: no sign-in, recorded as their login
    start = "r-chop-21 --course bed4 --weight 70 --height 175 --age 60 --start 2026-12-01"
    assert CliRunner().invoke(cli, ["course", "start", *start.split(), "--db", where]).exit_code == 0
    client = client_of(where)
    shown = post(client, "evaluate", {"cycle": "2", "anc": "1.2", "platelets": "150"})
    gates = re.findall(r'<li class="(ok|flag)">([^<]*)</li>', shown.text)  # type: ignore[attr-defined]
    assert [(c, g.split(" (")[0]) for c, g in gates] == [
        ("flag", "anc 1.2 ×10⁹/L — needs anc &gt;= 1.5 ×10⁹/L: NOT MET"),  # R-CHOP-21's one gate
    ]
    assert re.findall(r'<h4 id="proposal-title">([^<]*)</h4>', shown.text) == [
        "r-chop-21, cycle 2: DELAY (delay 7 days)"
    ]  # type: ignore[attr-defined]
    said = recorded(client, "check", {"cycle": "2", "anc": "1.2", "platelets": "150", "decision": "accept"})
    assert "cycle 2 delayed 7 days" in said  # the delay the accepted proposal makes, recorded with the check
    overridden = recorded(
        client, "check", {"cycle": "2", "anc": "1.6", "platelets": "150", "decision": "override", "override": "delay",
                          "reason": "infection"}
    )  # fmt: skip
    assert "GO" not in overridden.split("overriding")[0] and "DELAY, overriding the proposal GO" in overridden


def test_the_gate_check_page_shows_the_notes_the_command_prints(tmp_path: Path) -> None:
    """What the cycle check says beside its gates reaches the page as it reaches `regimen course check`: a gate's
    value not given ("not given, so not checked"), a value no gate reads (R-CHOP-21 gates on neutrophils alone, so
    platelets typed in hold nothing), a gate the table does not answer. Before, the page showed the gates and the
    proposal only, and a prescriber who typed the neutrophils of an mFOLFOX6 course alone read GO with no word that
    its platelet gate went unchecked."""
    where = str(tmp_path / "open.sqlite3")
    for start in (
        "r-chop-21 --course bed4 --weight 70 --height 175 --age 60 --start 2026-12-01",
        "mfolfox6 --course bed5 --weight 70 --height 175 --age 60 --start 2026-12-01",
    ):
        assert CliRunner().invoke(cli, ["course", "start", *start.split(), "--db", where]).exit_code == 0
    client = client_of(where)

    def notes(course: str, values: dict[str, str]) -> list[str]:
        shown = client.post(f"/courses/{course}/check", data={**values, "csrf": page_token(client)})
        listed = re.findall(r'<ul class="notes">(.*?)</ul>', shown.text)
        return re.findall(r"<li>([^<]*)</li>", listed[0]) if listed else []

    assert notes("bed4", {"cycle": "2", "anc": "1.2", "platelets": "150"}) == [
        "read by no gate or rule of r-chop-21, so not holding the cycle: platelets 150 ×10⁹/L"
    ]
    # mFOLFOX6 gates on neutrophils and platelets (US oxaliplatin label): the platelets not given
    said = notes("bed5", {"cycle": "2", "anc": "2.0"})
    assert said[0] == "not given, so not checked: platelets"
    cli_said = CliRunner().invoke(cli, ["course", "check", "bed5", "--cycle", "2", "--anc", "2.0", "--db", where])
    assert "- not given, so not checked: platelets" in cli_said.output


def test_a_new_weight_after_the_verification_is_verified_again_before_the_dose(unit: str) -> None:
    presc, pharm, nurse = signed(unit, "prescriber"), signed(unit, "pharmacist"), signed(unit, "nurse")
    recorded(presc, "requirement", FORMS["requirement"])
    recorded(pharm, "verify", {"cycle": "1"})
    recorded(presc, "measure", {"cycle": "1", "weight": "80", "reason": "weighed"})
    # 80 kg: √(175 × 80 / 3600) = 1.972 m²; 85 × 1.972 = 167.62 mg, no longer the 156.825 mg verified
    assert "is not verified as planned now" in refusal(post(nurse, "given", {**GIVEN, "dose": "167.6 mg"}))
    assert "day 1 oxaliplatin 167.62 mg" in recorded(pharm, "verify", {"cycle": "1"})
    recorded(nurse, "given", {**GIVEN, "dose": "167.6 mg"})


@pytest.mark.parametrize("kind", sorted(FORMS))
def test_each_form_is_for_its_role_alone(db: str, kind: str) -> None:
    where = copied_db(db, ("chair unit", users_module._HASHER), _unit)  # as the unit fixture's, on both kinds
    for role in ROLES:
        answer = post(signed(where, role), kind, FORMS[kind], token=None if role == "administrator" else "")
        if role == ROLE_OF[kind]:
            assert answer.status_code in (303, 400), (role, answer.text)  # type: ignore[attr-defined]
        else:
            assert answer.status_code == 403, (role, kind)  # type: ignore[attr-defined]
            assert "may not" in answer.text  # type: ignore[attr-defined]
    assert {who for (who,) in rows(where, "SELECT who FROM course_changes")} <= {NAME[ROLE_OF[kind]]}


@pytest.mark.parametrize("kind", sorted(FORMS))
def test_a_form_without_its_token_or_with_another_sessions_is_refused(unit: str, kind: str) -> None:
    client, other = signed(unit, ROLE_OF[kind]), signed(unit, ROLE_OF[kind])
    missing = post(client, kind, FORMS[kind], token=None)
    assert missing.status_code == 403 and "security token is missing or stale" in missing.text  # type: ignore[attr-defined]
    theirs = page_token(other)  # the same user's other session: its token is bound to that session
    client.cookies.set("regimen_csrf", theirs)
    assert post(client, kind, FORMS[kind], token=theirs).status_code == 403  # type: ignore[attr-defined]
    forged = "abc.0123456789abcdef0123456789abcdef"
    client.cookies.set("regimen_csrf", forged)
    assert post(client, kind, FORMS[kind], token=forged).status_code == 403  # type: ignore[attr-defined]
    assert rows(unit, "SELECT count(*) FROM course_changes") == [(0,)]


def test_a_session_is_nothing_after_signing_out_and_a_forged_one_never_was(unit: str) -> None:
    nurse = signed(unit, "nurse")
    token = page_token(nurse)
    stolen = nurse.cookies["regimen_session"]
    nurse.post("/signout", data={"csrf": token})
    thief = client_of(unit)
    thief.cookies.set("regimen_session", stolen)
    thief.cookies.set("regimen_csrf", token)
    answer = thief.post("/courses/bed4/record/omit", data={**FORMS["omit"], "csrf": token})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/signin")
    forged = client_of(unit)
    forged.cookies.set("regimen_session", stolen[:-4] + "AAAA")
    assert forged.get("/courses/bed4").status_code == 303
    assert rows(unit, "SELECT count(*) FROM course_changes") == [(0,)]


def test_a_viewer_reads_and_nobody_signed_out_sees_anything(unit: str) -> None:
    viewer = signed(unit, "viewer")
    page = viewer.get("/courses/bed4")
    assert page.status_code == 200 and "oxaliplatin" in page.text
    # no form of the course (matched on the form's action, not on a word the page may hold elsewhere: the
    # regimen file's path is shown, and a clone under /check/... once made "/check" appear in it)
    assert 'action="/courses/bed4/' not in page.text and '<form class="chair"' not in page.text
    assert viewer.post("/courses/bed4/record/given", data={**GIVEN, "csrf": page_token(viewer)}).status_code == 403
    nurse = signed(unit, "nurse")
    shown = nurse.get("/courses/bed4").text
    assert 'action="/courses/bed4/record/given"' in shown and "/record/verify" not in shown
    anonymous = client_of(unit)
    for path in ("/courses/bed4", "/due?from=2026-12-01"):
        answer = anonymous.get(path)
        assert answer.status_code == 303 and "oxaliplatin" not in answer.text and "bed4" not in answer.text
    for kind in FORMS:
        answer = anonymous.post(f"/courses/bed4/record/{kind}", data=FORMS[kind])
        assert answer.status_code == 303 and answer.headers["location"].startswith("/signin")


def test_the_pharmacist_sees_an_overdose_order_flagged(unit: str) -> None:
    pharm = signed(unit, "pharmacist")
    # 10 % over the 156.825 mg of oxaliplatin: 172.5 mg is +9.995 %, outside the default ±5 %; the bolus is right
    answer = pharm.post(
        "/courses/bed4/orders",
        data={
            "cycle": "1",
            "orders": "oxaliplatin@1=172.5mg over 2h\nleucovorin@1=738mg over 2h",
            "csrf": page_token(pharm),
        },
    )
    assert answer.status_code == 200
    flagged = re.findall(r'<tr class="flag"><td>([^<]*)</td>.*?<strong class="error">([^<]*)</strong>', answer.text)
    assert flagged == [("oxaliplatin@1=172.5mg over 2h", "OUTSIDE the ±5 % tolerance")]
    assert re.search(r'<tr class="ok"><td>leucovorin@1=738mg over 2h</td>', answer.text)
    assert "NOT VERIFIED: 1 of 2 orders within tolerance; 1 order outside the tolerance" in answer.text
    assert rows(unit, "SELECT count(*) FROM course_changes") == [(0,)]  # a check of orders records nothing


def test_the_prescriber_starts_a_course_from_the_courses_page(db: str) -> None:
    where = _unit(db)
    presc = signed(where, "prescriber")
    page = presc.get("/courses")
    assert 'action="/courses/start"' in page.text
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    form = {"regimen": "capox", "course": "bed5", "start": "2026-12-01", "weight": "70", "bsa": "1.8", "age": "60"}
    answer = presc.post("/courses/start", data={**form, "csrf": token.group(1)})
    assert answer.status_code == 303 and answer.headers["location"] == "/courses/bed5"
    shown = presc.get("/courses/bed5").text
    assert "oxaliplatin" in shown and "234 mg" in shown  # 130 mg/m² × 1.8 m², as 'regimen course start' plans it
    assert rows(where, "SELECT created_by FROM courses WHERE id = 'bed5'") == [("presc",)]
    # the library's refusals, on the page; a path on the server is never read as a regimen
    again = presc.post("/courses/start", data={**form, "csrf": token.group(1)})
    assert again.status_code == 400 and "course &#39;bed5&#39; already exists" in again.text
    path = presc.post("/courses/start", data={**form, "regimen": "/etc/passwd.toml", "csrf": token.group(1)})
    assert path.status_code == 400 and "choose one of the regimens listed" in path.text
    # only a prescriber starts a course; a viewer sees no form
    for role in ("nurse", "pharmacist", "viewer", "administrator"):
        other = signed(where, role)
        csrf = re.search(r'name="csrf" value="([^"]+)"', other.get("/signin").text)
        assert csrf is not None
        data = {**form, "course": "bed6", "csrf": csrf.group(1)}
        assert other.post("/courses/start", data=data).status_code == 403, role
    assert 'action="/courses/start"' not in signed(where, "viewer").get("/courses").text


def test_the_measure_form_takes_an_age_and_a_sex_as_the_command_does(unit: str) -> None:
    """'course measure --age/--sex' at the chair: the age of a birthday recorded from cycle 2; a sex other than the
    one recorded (female) refused unless confirmed, naming the check box."""
    presc = signed(unit, "prescriber")
    page = presc.get("/courses/bed4").text
    assert 'id="measure-age" name="age"' in page and '<select id="measure-sex" name="sex">' in page
    assert "presc: age 61 from cycle 2" in recorded(presc, "measure", {"cycle": "2", "age": "61", "reason": "birthday"})
    said = refusal(post(presc, "measure", {"cycle": "2", "sex": "male", "reason": "typo"}))
    assert "sex male from cycle 2, where the course records female" in said and "‘Confirm as typed’" in said


def test_accepting_a_renal_row_at_the_chair_is_refused_naming_the_creatinine_to_record(unit: str) -> None:
    """mFOLFOX6 started without a creatinine: at a CrCl of 25 mL/min the renal table gives oxaliplatin 65 mg/m², a
    row the planned doses lack. The check form shows it; accepting it is refused beside the form (400, one line),
    naming 'course measure --scr', so the plan applies the table once (tests/test_course_check.py)."""
    presc = signed(unit, "prescriber")
    form = {"cycle": "2", "anc": "2", "platelets": "150", "crcl": "25"}
    shown = post(presc, "evaluate", form)
    assert shown.status_code == 200  # type: ignore[attr-defined]
    assert "give oxaliplatin at 65 mg/m²" in shown.text.replace("&#39;", "'")  # type: ignore[attr-defined]
    said = refusal(post(presc, "check", {**form, "decision": "accept"}))
    assert "is not in the planned doses" in said
    assert "record the creatinine from cycle 2 with 'course measure' (‘SCR’), so the plan applies the row" in said
