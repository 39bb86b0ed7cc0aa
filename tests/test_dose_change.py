"""Issue 24, items 1 and 2: a change of dose has one reading, and it changes the dose that would be given.

Reproduced on the main before this change: ``--reduce oxaliplatin=0.8`` gave oxaliplatin 1.36 mg (0.8 % of
170 mg, a 100-fold underdose) with exit 0; ``--reduce`` said "reduce" and meant "give"; vincristine 1.4 mg/m²
capped at 2 mg at 2.1 m² and "reduced" to 75 % was still 2 mg (2.94 → 2.205 → capped 2 mg).

Every expected dose is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import datetime as dt
import json
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient
from tests.helpers import CAPOX_FIXTURE, examples
from tests.test_web import ORIGIN, PATIENT, errors_of, post_form

from regimen import ClinicalOptions, expand, load, make_patient
from regimen.cli import cli
from regimen.clinical.dose_change import DoseChange, DoseChangeError, dose_percent, reduce_by
from regimen.engine.courses import Change, CourseStart
from regimen.engine.courses.replay import replay
from regimen.web.app import create_app

MFOLFOX6 = ["mfolfox6", "--weight", "82", "--bsa", "2", "--cycles", "1"]


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def oxaliplatin(*options: str) -> dict[str, object]:
    code, out, err = run("expand", *MFOLFOX6, *options, "--format", "json")
    assert code == 0, err
    rows = [r for r in json.loads(out)["administrations"] if r["drug"] == "oxaliplatin"]
    assert len(rows) == 1
    return rows[0]


# ---- item 1: one reading --------------------------------------------------------------------------------


def test_the_old_reduce_spelling_is_refused_and_shows_the_new_ones() -> None:
    """--reduce oxaliplatin=0.8 gave 1.36 mg with exit 0."""
    code, out, err = run("expand", *MFOLFOX6, "--reduce", "oxaliplatin=0.8")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "--reduce oxaliplatin=0.8 is no longer accepted" in err
    assert "--dose-percent oxaliplatin=80% (give 80 % of the dose) or --reduce-by oxaliplatin=20%" in err
    # a value with its sign says what the old option did, so a user can carry it over without a change of meaning
    code, _, err = run("expand", *MFOLFOX6, "--reduce", "oxaliplatin=75%")
    assert code == 1
    assert (
        "it gave 75 % of the dose: write --dose-percent oxaliplatin=75% for that, or --reduce-by oxaliplatin=25%" in err
    )


@pytest.mark.parametrize("flag", ["--dose-percent", "--reduce-by"])
@pytest.mark.parametrize("value", ["0.8", "80", "20", ".5"])
def test_a_bare_number_is_refused_naming_both_readings(flag: str, value: str) -> None:
    code, out, err = run("expand", *MFOLFOX6, flag, f"oxaliplatin={value}")
    assert code == 1 and out == ""
    assert f"{flag} oxaliplatin={value}: a bare number can be read two ways" in err
    assert "--dose-percent oxaliplatin=80% gives 80 % of the dose" in err
    assert "--reduce-by oxaliplatin=20% gives 80 % of the dose (reduced by 20 %)" in err


def test_both_spellings_give_the_same_dose_and_the_working_says_both_readings() -> None:
    # 85 mg/m² × 2 m² = 170 mg; 80 % of 170 mg = 136 mg; over 2 h = 68 mg/h
    given_80 = oxaliplatin("--dose-percent", "oxaliplatin=80%")
    reduced_20 = oxaliplatin("--reduce-by", "oxaliplatin=20%")
    assert given_80["dose"] == reduced_20["dose"] == 136
    assert given_80["rate"] == 68
    assert "80 % of the dose (reduced by 20 %): 170 mg → 136 mg" in str(given_80["calculation"])
    assert given_80["calculation"] == reduced_20["calculation"]


def test_a_change_below_half_or_above_the_full_dose_needs_confirming() -> None:
    code, _, err = run("expand", *MFOLFOX6, "--dose-percent", "oxaliplatin=0.8%")
    assert code == 1
    assert "--dose-percent oxaliplatin=0.8%: 0.8 % of the dose (reduced by 99.2 %) is less than 50 % of the dose" in err
    assert "(0.8 % may be a slip for 80 %)" in err and "confirm it with --confirm" in err
    code, _, err = run("expand", *MFOLFOX6, "--reduce-by", "oxaliplatin=60%")
    assert code == 1 and "40 % of the dose (reduced by 60 %) is less than 50 % of the dose" in err
    code, _, err = run("expand", *MFOLFOX6, "--dose-percent", "oxaliplatin=120%")
    assert code == 1 and "120 % of the dose (increased by 20 %) is more than the full dose" in err
    # confirmed: 40 % of 170 mg = 68 mg, and the working says it was confirmed
    row = oxaliplatin("--reduce-by", "oxaliplatin=60%", "--confirm")
    assert row["dose"] == 68
    assert "40 % of the dose (reduced by 60 %), confirmed as less than 50 % of the dose: 170 mg → 68 mg" in str(
        row["calculation"]
    )
    # 50 % and 100 % are inside the range: no confirmation (170 mg × 1/2 = 85 mg)
    assert oxaliplatin("--dose-percent", "oxaliplatin=50%")["dose"] == 85
    assert oxaliplatin("--dose-percent", "oxaliplatin=100%")["dose"] == 170


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dose-percent", "oxaliplatin=0%"], "0 % of the dose is not a dose change regimen gives"),
        (["--dose-percent", "oxaliplatin=250%", "--confirm"], "at most 200 % of the dose"),
        (["--reduce-by", "oxaliplatin=100%"], "a reduction is by more than 0 % and less than 100 % of the dose"),
        (["--reduce-by", "oxaliplatin=0%"], "a reduction is by more than 0 % and less than 100 % of the dose"),
        (["--dose-percent", "oxaliplatin=80%", "--reduce-by", "oxaliplatin=20%"], "give one change per drug"),
        (["--dose-percent", "aspirin=80%"], "--dose-percent (or --reduce-by) aspirin: mfolfox6 has no drug"),
        (["--dose-percent", "oxaliplatin=eighty%"], "give a percentage with its sign"),
    ],
)
def test_impossible_changes_are_one_line(args: list[str], message: str) -> None:
    code, out, err = run("expand", *MFOLFOX6, *args)
    assert code == 1 and out == "" and message in err and err.count("\n") == 1


def test_the_library_takes_a_dose_change_never_a_bare_number() -> None:
    assert dose_percent("80%").percent == reduce_by("20%").percent == 80
    assert dose_percent("80 %").describe() == "80 % of the dose (reduced by 20 %)"
    assert DoseChange(Fraction(120), confirmed=True).describe() == "120 % of the dose (increased by 20 %)"
    with pytest.raises(DoseChangeError, match="confirm it"):
        DoseChange(Fraction(40))
    with pytest.raises(DoseChangeError, match="bare number can be read two ways"):
        dose_percent("0.8")
    with pytest.raises(ValueError, match="give a DoseChange"):
        ClinicalOptions(dose_changes={"oxaliplatin": 80})  # type: ignore[dict-item]
    change = reduce_by("60%", confirm=True)
    assert DoseChange.from_dict(change.to_dict()) == change


def test_cohort_takes_the_new_spellings_and_refuses_the_old(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("patient_id,weight_kg,bsa_m2\na,82,2\n")
    out = tmp_path / "out.csv"
    code, _, err = run("cohort", "mfolfox6", str(roster), "-o", str(out), "--reduce-by", "oxaliplatin=20%")
    assert code == 0, err
    lines = [line for line in out.read_text().splitlines() if ",oxaliplatin," in line]
    assert lines and all(",136," in line for line in lines)  # 80 % of 170 mg
    code, _, err = run("cohort", "mfolfox6", str(roster), "-o", str(tmp_path / "b.csv"), "--reduce", "oxaliplatin=80%")
    assert code == 1 and "--reduce oxaliplatin=80% is no longer accepted" in err
    assert not (tmp_path / "b.csv").exists()


# ---- the web form and the API ---------------------------------------------------------------------------


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(rate=0), base_url=ORIGIN, raise_server_exceptions=False)


def test_the_api_takes_one_reading_and_refuses_the_old_field(client: TestClient) -> None:
    body = {"regimen": "mfolfox6", "weight": "82", "bsa": "2", "cycles": "1"}
    plan = client.post("/api/plan", json={**body, "reduce_by": ["oxaliplatin=20%"]})
    assert plan.status_code == 200, plan.text
    row = next(r for r in plan.json()["administrations"] if r["drug"] == "oxaliplatin")
    assert row["dose"] == 136 and "80 % of the dose (reduced by 20 %)" in row["calculation"]
    old = client.post("/api/plan", json={**body, "reduce": "oxaliplatin=0.8"})
    assert old.status_code == 400 and "--reduce oxaliplatin=0.8 is no longer accepted" in old.text
    bare = client.post("/api/plan", json={**body, "dose_percent": "oxaliplatin=0.8"})
    assert bare.status_code == 400 and "a bare number can be read two ways" in bare.text
    low = client.post("/api/plan", json={**body, "dose_percent": "oxaliplatin=40%"})
    assert low.status_code == 400 and "less than 50 % of the dose" in low.text
    confirmed = client.post("/api/plan", json={**body, "dose_percent": "oxaliplatin=40%", "confirm": True})
    assert confirmed.status_code == 200
    row = next(r for r in confirmed.json()["administrations"] if r["drug"] == "oxaliplatin")
    assert row["dose"] == 68  # 40 % of 170 mg


def test_the_form_shows_the_two_readings_and_the_refusal_beside_its_field(client: TestClient) -> None:
    page = client.get("/regimens/cenersen-arm3")
    assert 'name="dose_percent"' in page.text and 'name="reduce_by"' in page.text and 'name="reduce"' not in page.text
    error = post_form(client, "/plan", {**PATIENT, "dose_percent": "idarubicin=0.75"})
    assert error.status_code == 400
    assert "a bare number can be read two ways" in errors_of(error)["dose_percent"]
    ok = post_form(client, "/plan", {**PATIENT, "reduce_by": "idarubicin=25%"})
    assert ok.status_code == 200
    # 12 mg/m²/day × 1.8 m² = 21.6 mg; 75 % of it = 16.2 mg
    assert "75 % of the dose (reduced by 25 %): 21.6 mg → 16.2 mg" in ok.text


# ---- a course -------------------------------------------------------------------------------------------


def test_a_course_records_one_reading_and_its_confirmation(tmp_path: Path) -> None:
    db = str(tmp_path / "c.sqlite3")
    start = ["--weight", "70", "--bsa", "1.8", "--age", "60", "--start", "2026-12-01"]
    code, _, err = run("course", "start", CAPOX_FIXTURE, "--course", "bed4", *start, "--db", db)
    assert code == 0, err
    base = ["course", "dose", "bed4", "--cycle", "2", "--drug", "oxaliplatin", "--reason", "PN", "--db", db]
    code, _, err = run(*base, "--reduce", "0.8")
    assert code == 1 and "--reduce 0.8 is no longer accepted" in err
    code, _, err = run(*base, "--dose-percent", "0.8")
    assert code == 1 and "a bare number can be read two ways" in err
    code, _, err = run(*base, "--reduce-by", "60%")
    assert code == 1 and "confirm it with --confirm" in err
    code, out, err = run(*base, "--reduce-by", "60%", "--confirm")
    assert code == 0, err
    assert "oxaliplatin: 40 % of the dose (reduced by 60 %), confirmed as less than 50 % of the dose from cycle 2" in (
        out + err
    )
    code, out, _ = run("course", "show", "bed4", "--format", "json", "--db", db)
    rows = json.loads(out)["rows"]
    ox = {r["cycle"]: r["dose"] for r in rows if r["drug"] == "oxaliplatin"}
    # capox oxaliplatin 130 mg/m² × 1.8 m² = 234 mg; from cycle 2: 40 % of 234 mg = 93.6 mg
    assert ox[1] == 234 and ox[2] == 93.6 and ox[8] == 93.6
    code, out, _ = run("course", "export", "bed4", "--db", db)
    data = json.loads(out)["records"]["changes"][0]["data"]
    assert data["dose_percent"] == "40%" and data["confirmed"] is True and data["as_typed"] == "reduce_by 60%"


def test_a_course_recorded_with_the_old_reduce_still_reads_as_it_meant(tmp_path: Path) -> None:
    """Before issue 24 a course stored ``reduce: "75%"``, meaning "give 75 %": it is replayed so, and says so."""
    text = Path(load("capox").path or "").read_text(encoding="utf-8")
    start = CourseStart(
        course_id="old",
        regimen_text=text,
        regimen_file="capox.toml",
        start=dt.date(2026, 12, 1),
        patient={"weight": "70", "bsa": "1.8", "age": "60"},
        options={"reduce": ("capecitabine=75%",)},
    )
    old = {"phase": "main", "cycle": 2, "drug": "oxaliplatin", "reduce": "75%"}
    change = Change.read(1, "dose", dt.datetime(2026, 12, 1, tzinfo=dt.UTC), "a", "PN", json.dumps(old))  # as stored
    view = replay(start, [change])
    doses = {(cr.row.cycle, cr.row.drug): cr.row.dose for cr in view.rows}
    assert doses[(1, "capecitabine")] == 1350  # 1000 mg/m² × 1.8 m² = 1,800 mg; 75 % = 1,350 mg
    assert doses[(1, "oxaliplatin")] == 234 and doses[(2, "oxaliplatin")] == Fraction("175.5")  # 75 % of 234 mg


# ---- item 2: a change applies to the dose as it would be given ------------------------------------------


def vincristine(bsa: str, *options: str) -> dict[str, object]:
    code, out, err = run(
        "expand", "r-chop-21", "--weight", "80", "--bsa", bsa, "--cycles", "1", *options, "--format", "json"
    )
    assert code == 0, err
    rows = [r for r in json.loads(out)["administrations"] if r["drug"] == "vincristine"]
    assert len(rows) == 1
    return rows[0]


def test_a_reduction_applies_after_the_protocol_cap() -> None:
    """1.4 mg/m² × 2.1 m² = 2.94 mg, capped at 2 mg; 75 % of 2 mg = 1.5 mg (was 2 mg); 50 % = 1 mg (was 1.47)."""
    three_quarters = vincristine("2.1", "--dose-percent", "vincristine=75%")
    assert three_quarters["dose"] == 1.5
    assert (
        "1.4 mg/m² × 2.1 m² = 2.94 mg; capped at the regimen maximum 2 mg per administration: 2.94 mg → 2 mg; "
        "75 % of the dose (reduced by 25 %): 2 mg → 1.5 mg"
    ) in str(three_quarters["calculation"])
    assert vincristine("2.1", "--reduce-by", "vincristine=50%")["dose"] == 1
    # under the cap the order makes no difference: 1.4 × 1.2 = 1.68 mg, 75 % = 1.26 mg
    assert vincristine("1.2", "--dose-percent", "vincristine=75%")["dose_exact"] == "1.26"


def test_rounding_comes_last_and_a_change_it_undoes_is_a_warning() -> None:
    # 2 mg capped, 95 % = 1.9 mg, rounded to 1 mg steps within 10 %: 2 mg, the full dose again: said
    row = vincristine("2.1", "--dose-percent", "vincristine=95%", "--round", "vincristine=1mg")
    assert row["dose"] == 2
    assert any("the change of dose was undone by rounding: 1.9 mg rounds to 2 mg" in w for w in row["warnings"])


@settings(max_examples=examples(80), deadline=None)
@given(
    bsa=st.decimals(min_value="0.5", max_value="3", places=2),
    percent=st.fractions(min_value=50, max_value=100).map(lambda f: f.limit_denominator(100)),
)
def test_a_reduced_capped_dose_is_at_most_the_cap_times_the_fraction(bsa: object, percent: Fraction) -> None:
    """For any BSA and fraction: final ≤ cap × fraction, and a change below 100 % always changes the dose."""
    regimen = load("r-chop-21")
    patient = make_patient(weight="80", bsa=str(bsa))
    full = expand(regimen, patient, cycles=1)
    changed = expand(
        regimen, patient, cycles=1, options=ClinicalOptions(dose_changes={"vincristine": DoseChange(percent)})
    )
    before = next(r for r in full.administrations if r.drug == "vincristine")
    after = next(r for r in changed.administrations if r.drug == "vincristine")
    assert after.dose <= 2 * percent / 100  # the cap is 2 mg
    assert after.dose == before.dose * percent / 100  # exactly the fraction of the dose as it would be given
    if percent < 100:
        assert after.dose < before.dose


def test_the_web_door_takes_the_dpyd_result_as_the_command_line_does(client: TestClient) -> None:
    """Issue 27 through the API: an intermediate DPYD metabolizer gets 50 % of fluorouracil, as with --dpyd."""
    body = {"regimen": "mfolfox6", "weight": "82", "bsa": "2", "cycles": "1"}
    answer = client.post("/api/plan", json={**body, "dpyd": "intermediate"})
    assert answer.status_code == 200, answer.text
    bolus = next(r for r in answer.json()["administrations"] if r["component"] == "fluorouracil-bolus")
    assert bolus["dose"] == 400  # 400 mg/m² × 2 m² = 800 mg; 50 % = 400 mg
    code, out, _ = run("expand", *MFOLFOX6, "--dpyd", "intermediate", "--format", "json")
    assert code == 0
    cli_bolus = next(r for r in json.loads(out)["administrations"] if r["component"] == "fluorouracil-bolus")
    assert cli_bolus["calculation"] == bolus["calculation"]
    wrong = client.post("/api/plan", json={**body, "dpyd": "purple"})
    assert wrong.status_code == 400 and "is not a DPYD result" in wrong.text


def test_a_changed_dose_over_a_stated_time_ends_its_working_with_the_rate_it_runs_at() -> None:
    """mFOLFOX6 at 1.8 m², oxaliplatin 85 mg/m² over 2 h: 153 mg at 76.5 mg/h. At 80 %: 122.4 mg, and 122.4 / 2 =
    61.2 mg/h. The working gave only the rate before the change ('(76.5 mg/h)'), readable as the rate to set. A
    step that does not change the amount (a fluid's additives) restates nothing; nor does a row left as it is."""
    patient = make_patient(bsa="1.8", weight="70")
    options = ClinicalOptions(dose_changes={"oxaliplatin": DoseChange(Fraction(80))})
    changed = expand(load("mfolfox6"), patient, cycles=1, options=options)
    oxaliplatin = next(r for r in changed.administrations if r.drug == "oxaliplatin")
    assert (oxaliplatin.dose, oxaliplatin.rate) == (Fraction("122.4"), Fraction("61.2"))
    assert oxaliplatin.calculation == (
        "85 mg/m² × 1.8 m² = 153 mg over 2 h (76.5 mg/h); 80 % of the dose (reduced by 20 %): 153 mg → 122.4 mg over "
        "2 h (61.2 mg/h)"
    )
    plain = next(r for r in expand(load("mfolfox6"), patient, cycles=1).administrations if r.drug == "oxaliplatin")
    assert plain.calculation == "85 mg/m² × 1.8 m² = 153 mg over 2 h (76.5 mg/h)"
    fluids = [
        r for r in expand(load("cisplatin-etoposide"), patient, cycles=1).administrations if "added" in r.calculation
    ]
    assert fluids and all(r.calculation.count("(500 mL/h)") == 1 for r in fluids)
