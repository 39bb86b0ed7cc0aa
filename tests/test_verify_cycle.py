"""A pharmacist's verification of a cycle (issue 28.1): 'regimen course verify' records the dose figures checked,
a later new weight leaves the doses it changes unverified, and in a unit's team (a database with users) a dose is
recorded as given only once verified; on SQLite and on the PostgreSQL server (the ``db`` fixture)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_users import PW, login, ok, refused, regimen, rows, session_file  # noqa: F401

from regimen.store.users import UserStore

# mFOLFOX6 for 70 kg, 175 cm: BSA (Mosteller) √(175 × 70 / 3600) = 1.845 m²; oxaliplatin 85 mg/m² × 1.845 =
# 156.825 mg. At 80 kg: √(175 × 80 / 3600) = 1.972 m², 85 × 1.972 = 167.62 mg.
START = ["mfolfox6", "--weight", "70", "--height", "175", "--age", "60", "--sex", "female", "--start", "2026-12-01"]
GIVEN = ["course", "given", "bed4", "--cycle", "1", "--day", "1", "--drug", "oxaliplatin", "--dose", "156.8 mg"]


def _team(where: str) -> None:
    store = UserStore.open(where)
    for name, role in (("admin", "administrator"), ("dr.jones", "prescriber"), ("pkhan", "pharmacist")):
        store.add(name, role, PW, by="test")
    store.add("rsmith", "nurse", PW, by="test")
    store.close()


def _statuses(where: str, cycle: int) -> set[str]:
    return set(_status_of_each(where, cycle).values())


def _status_of_each(where: str, cycle: int) -> dict[tuple[str, int], str]:
    """Each preparation of the cycle, by component and first day, with its status."""
    shown = json.loads(ok(regimen("course", "show", "bed4", "--format", "json", "--db", where)))
    return {(p["component"], p["days"][0]): p["status"] for p in shown["preparations"] if p["cycle"] == cycle}


def test_in_a_team_a_dose_is_given_only_once_a_pharmacist_verified_it(db: str, session_file: Path) -> None:  # noqa: F811
    _team(db)
    login(db, "dr.jones")
    ok(regimen("course", "start", *START, "--course", "bed4", "--db", db))
    ok(regimen("course", "requirement", "bed4", "--id", "dpyd", "--status", "met", "--db", db))
    # the prescriber may not verify their own order, nor the nurse; the pharmacist may
    assert refused(regimen("course", "verify", "bed4", "--cycle", "1", "--db", db)).endswith(
        "a prescriber may not verify a cycle's doses: that is for a pharmacist"
    )
    login(db, "rsmith")
    assert refused(regimen("course", "verify", "bed4", "--cycle", "1", "--db", db)).endswith(
        "a nurse may not verify a cycle's doses: that is for a pharmacist"
    )
    # given before the verification: refused, naming the command that verifies
    line = refused(regimen(*GIVEN, "--db", db))
    assert "oxaliplatin cycle 1 day 1 is not verified as planned now" in line
    assert line.endswith("a pharmacist verifies it first with 'regimen course verify bed4' (--cycle 1)")
    login(db, "pkhan")
    said = ok(regimen("course", "verify", "bed4", "--cycle", "1", "--db", db))
    # the cycle's doses in the plan's order: the antiemetics (flat 8 mg) an hour before oxaliplatin come first
    assert (
        "cycle 1: doses verified against the protocol (day 1 ondansetron 8 mg, day 1 dexamethasone 8 mg, "
        "day 1 oxaliplatin 156.825 mg"
    ) in said
    assert _statuses(db, 1) == {"verified"} and _statuses(db, 2) == {"planned"}
    assert "already verified as planned (change 2)" in refused(
        regimen("course", "verify", "bed4", "--cycle", "1", "--db", db)
    )
    login(db, "rsmith")
    ok(regimen(*GIVEN, "--db", db))
    assert rows(db, "SELECT kind, who FROM course_changes ORDER BY seq") == [
        ("requirement", "dr.jones"),
        ("verify", "pkhan"),
        ("given", "rsmith"),
    ]


def test_a_new_weight_after_the_verification_unverifies_the_doses_it_changes(db: str, session_file: Path) -> None:  # noqa: F811
    _team(db)
    login(db, "dr.jones")
    ok(regimen("course", "start", *START, "--course", "bed4", "--db", db))
    ok(regimen("course", "requirement", "bed4", "--id", "dpyd", "--status", "met", "--db", db))
    login(db, "pkhan")
    ok(regimen("course", "verify", "bed4", "--cycle", "1", "--db", db))
    login(db, "dr.jones")
    ok(regimen("course", "measure", "bed4", "--cycle", "1", "--weight", "80", "--reason", "weighed", "--db", db))
    # every anticancer dose of the cycle is by BSA: each changed, each unverified; the antiemetics are flat 8 mg
    # doses, unchanged by the weight, so they stay verified
    flat = {("ondansetron", 1), ("dexamethasone", 1), ("dexamethasone-days-2-3", 2), ("dexamethasone-days-2-3", 3)}
    assert _status_of_each(db, 1) == {
        key: "verified" if key in flat else "planned"
        for key in [*flat, ("oxaliplatin", 1), ("leucovorin", 1), ("fluorouracil-bolus", 1), ("fluorouracil-pump", 1)]
    }
    login(db, "rsmith")
    assert "is not verified as planned now" in refused(regimen(*GIVEN[:-1], "167.6 mg", "--db", db))
    login(db, "pkhan")
    said = ok(regimen("course", "verify", "bed4", "--cycle", "1", "--db", db))
    assert "day 1 oxaliplatin 167.62 mg" in said
    login(db, "rsmith")
    ok(regimen(*GIVEN[:-1], "167.6 mg", "--db", db))
    assert _statuses(db, 1) == {"given", "verified"}


def test_on_ones_own_machine_a_dose_is_given_without_a_verification(tmp_path: Path) -> None:
    # no users: one person, no team to check their orders; documented in the README ("Running regimen for a unit")
    where = str(tmp_path / "c.sqlite3")
    ok(regimen("course", "start", *START, "--course", "bed4", "--db", where))
    ok(regimen("course", "requirement", "bed4", "--id", "dpyd", "--status", "met", "--db", where))
    ok(regimen(*GIVEN, "--db", where))
    # verification still records, and says so in the history, by the login name
    said = ok(regimen("course", "verify", "bed4", "--cycle", "2", "--db", where))
    assert "cycle 2: doses verified against the protocol" in said


def test_a_verifications_figures_read_as_every_dose_is_written() -> None:
    """The exact figures a verification recorded, in the course's history: thousands separated (ISMP, as every dose
    regimen prints), exact to the last place, and a fraction that does not end as a decimal as n/d."""
    from regimen.engine.courses.describe import verified_what
    from regimen.engine.courses.events import Verification

    e = Verification(
        phase="main",
        cycle=1,
        doses=(
            ("day 1-2 fluorouracil-pump", "4428 mg"),  # 2,400 mg/m² x 1.845 m²
            ("day 1 oxaliplatin", "6273/40 mg"),  # 85 mg/m² x 1.845 m² = 156.825 mg
            ("day 1 ondansetron", "8 mg"),
            ("day 1 x", "490/3 mg"),
        ),
    )
    assert verified_what(e) == (
        "day 1-2 fluorouracil-pump 4,428 mg, day 1 oxaliplatin 156.825 mg, day 1 ondansetron 8 mg, day 1 x 490/3 mg"
    )
