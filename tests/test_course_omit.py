"""Omitting from a course (issues 24 and 26): a pump is omitted whole, and a refusal says what the cycle has."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from regimen.cli import cli


def run(db: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "--db", db])
    return result.exit_code, result.stdout, result.stderr


def started(tmp_path: Path) -> str:
    db = str(tmp_path / "c.sqlite3")
    code, _, err = run(db, "course", "start", "mfolfox6", "--course", "p1", "--bsa", "1.8", "--weight", "70",
                       "--start", "2026-12-01")  # fmt: skip
    assert code == 0, err
    return db


def test_an_unknown_drug_is_refused_naming_what_the_cycle_gives(tmp_path: Path) -> None:
    db = started(tmp_path)
    code, _, err = run(db, "course", "omit", "p1", "--cycle", "1", "--drug", "aspirin", "--reason", "x")
    assert code == 1 and err.count("\n") == 1
    assert (
        # the cycle's components in the plan's order, the antiemetics with them (an hour before oxaliplatin on day 1,
        # dexamethasone again on days 2 and 3)
        "aspirin cycle 1 is not planned: that cycle gives ondansetron, dexamethasone, oxaliplatin, leucovorin, "
        "fluorouracil-bolus, fluorouracil-pump, dexamethasone-days-2-3 (on days 1, 2, 3)"
    ) in err


def test_a_repeated_omission_says_it_is_already_omitted(tmp_path: Path) -> None:
    db = started(tmp_path)
    args = ["course", "omit", "p1", "--cycle", "2", "--drug", "oxaliplatin", "--reason", "reaction"]
    assert run(db, *args)[0] == 0
    code, _, err = run(db, *args)
    assert code == 1 and "the same as change 1" in err  # an exact repeat within a day: typed twice? (issue 24)
    code, _, err = run(db, *args, "--confirm")  # confirmed, it is still refused, for what it is
    assert code == 1 and "oxaliplatin cycle 2 is already omitted (change 1)" in err


def test_omitting_a_day_of_a_pump_omits_the_whole_pump(tmp_path: Path) -> None:
    """The 46-h fluorouracil pump is one preparation: day 2 of it cannot be left out while day 1 runs."""
    db = started(tmp_path)
    code, _, err = run(db, "course", "omit", "p1", "--cycle", "1", "--day", "2", "--drug", "fluorouracil-pump",
                       "--reason", "pump fault")  # fmt: skip
    assert code == 0, err
    code, out, _ = run(db, "course", "show", "p1", "--format", "json")
    pump = [(r["day"], r["status"]) for r in json.loads(out)["rows"] if r["component"] == "fluorouracil-pump"]
    assert [s for d, s in pump[:2]] == ["omitted", "omitted"]  # cycle 1, days 1 and 2
    assert all(s == "planned" for _, s in pump[2:])  # later cycles' pumps are still planned
    code, out, _ = run(db, "due", "--from", "2026-12-01", "--days", "2", "--format", "json")
    due = json.loads(out)
    rows = due if isinstance(due, list) else due.get("rows", due.get("due", []))
    assert not any(r["component"] == "fluorouracil-pump" for r in rows)


def test_omitting_cisplatin_omits_the_hydration_given_for_it(tmp_path: Path) -> None:
    """Cisplatin-etoposide, cycle 1 day 1: cisplatin omitted (held for the kidneys, say). Its prehydration (before
    mannitol), mannitol (before cisplatin) and posthydration (after it) are given for it and are omitted with it by
    the same change; etoposide and the antiemetics stay planned; cycle 2's hydration is untouched. A void of the
    omission brings them all back."""
    db = str(tmp_path / "c.sqlite3")
    code, _, err = run(db, "course", "start", "cisplatin-etoposide", "--course", "e1", "--bsa", "1.8", "--gfr", "60",
                       "--start", "2026-12-01", "--cycles", "2")  # fmt: skip
    assert code == 0, err
    code, _, err = run(db, "course", "omit", "e1", "--cycle", "1", "--day", "1", "--drug", "cisplatin",
                       "--reason", "held")  # fmt: skip
    assert code == 0, err

    def statuses() -> dict[tuple[int, str], set[str]]:
        rows = json.loads(run(db, "course", "show", "e1", "--format", "json")[1])["rows"]
        out: dict[tuple[int, str], set[str]] = {}
        for r in rows:
            if r["day"] == 1:
                out.setdefault((r["cycle"], r["component"]), set()).add(r["status"])
        return out

    day1 = statuses()
    for comp in ("cisplatin", "prehydration", "mannitol", "posthydration"):
        assert day1[(1, comp)] == {"omitted"}, comp
        assert day1[(2, comp)] == {"planned"}, comp
    for comp in ("etoposide", "aprepitant", "ondansetron", "dexamethasone"):
        assert day1[(1, comp)] == {"planned"}, comp
    assert run(db, "course", "void", "e1", "--change", "1", "--reason", "entered in error")[0] == 0
    assert all(s == {"planned"} for s in statuses().values())
