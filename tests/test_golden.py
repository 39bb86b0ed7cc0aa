"""Golden outputs: the table, CSV and JSON for every seed regimen, compared byte for byte.

Regenerate after an intended change with ``REGIMEN_UPDATE_GOLDEN=1 pytest tests/test_golden.py``
and review the diff like code: every changed number must be explained.

``test_golden`` only compares the code's output with what the code wrote before: it pins the spelling of every
format (columns, number style, working text), not the numbers' truth. That is checked independently by
``test_the_golden_doses_are_the_hand_computed_ones`` below (each dose and count worked by hand from the regimen file)
and, regimen by regimen, by tests/test_seed_regimens.py.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.conftest import SEED_IDS

from regimen.cli import cli

GOLDEN = Path(__file__).parent / "golden" / "expand"
PATIENT = ["--weight", "70", "--bsa", "1.8", "--age", "45", "--start", "2026-12-01"]


def normalise(fmt: str, text: str) -> str:
    if fmt != "json":
        return text
    data = json.loads(text)
    data["regimen"]["file"] = Path(data["regimen"]["file"]).name  # absolute path differs between checkouts
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
@pytest.mark.parametrize("regimen_id", SEED_IDS)
def test_golden(regimen_id: str, fmt: str) -> None:
    result = CliRunner().invoke(cli, ["expand", regimen_id, *PATIENT, "--format", fmt])
    assert result.exit_code == 0, result.output
    got = normalise(fmt, result.output)
    path = GOLDEN / f"{regimen_id}.{ {'table': 'txt'}.get(fmt, fmt) }"
    if os.environ.get("REGIMEN_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}: run with REGIMEN_UPDATE_GOLDEN=1 and review it"
    assert got == path.read_text(encoding="utf-8")


# The golden patient: 70 kg, 1.8 m², 45 years. (phase, drug) -> (the one dose in mg, how many administrations), worked
# from the regimen files; the number of cycles is the file's own (1 when the source gives none).
HAND = {
    # cenersen 0.1 mg/kg/h × 70 kg × 24 h = 168 mg a day, days 1-4; idarubicin 12 mg/m² × 1.8 m² = 21.6 mg, days 2-4
    "cenersen-arm1": {("main", "cenersen"): ("168", 4), ("main", "idarubicin"): ("21.6", 3)},
    # ... and cytarabine 100 mg/m² × 1.8 m² = 180 mg on 7 days
    "cenersen-arm2": {
        ("main", "cenersen"): ("168", 4),
        ("main", "idarubicin"): ("21.6", 3),
        ("main", "cytarabine"): ("180", 7),
    },
    # ... or cytarabine 1 g/m² × 1.8 m² = 1,800 mg on 4 days (45 years: not the 3 days of those over 60)
    "cenersen-arm3": {
        ("main", "cenersen"): ("168", 4),
        ("main", "idarubicin"): ("21.6", 3),
        ("main", "cytarabine"): ("1800", 4),
    },
    # cenersen 2.4 mg/kg/day × 70 kg = 168 mg, days 1-4; fludarabine 25 × 1.8 = 45 mg and cyclophosphamide
    # 250 × 1.8 = 450 mg, days 2-4; rituximab 375 × 1.8 = 675 mg on day 2; no cycle length: 1 cycle
    "cenersen-fcr": {
        ("main", "cenersen"): ("168", 4),
        ("main", "fludarabine"): ("45", 3),
        ("main", "cyclophosphamide"): ("450", 3),
        ("main", "rituximab"): ("675", 1),
    },
    # 6 cycles: oblimersen 3 mg/kg × 70 kg = 210 mg on 7 days, fludarabine 45 mg and cyclophosphamide 450 mg on 3
    "oblimersen-fc": {
        ("main", "oblimersen"): ("210", 42),
        ("main", "fludarabine"): ("45", 18),
        ("main", "cyclophosphamide"): ("450", 18),
    },
    # 8 cycles: oblimersen 7 mg/kg × 70 kg = 490 mg on days 1-5, dacarbazine 1,000 mg/m² × 1.8 m² = 1,800 mg on day 6
    "oblimersen-dtic": {("main", "oblimersen"): ("490", 40), ("main", "dacarbazine"): ("1800", 8)},
    # induction: oblimersen 490 mg on days 1-7 and 15-21 (14), dexamethasone 40 mg on 4-7, 11-14, 18-21 (12);
    # one maintenance cycle (no count given): oblimersen on days 1-7, dexamethasone on 4-7
    "oblimersen-dex": {
        ("induction", "oblimersen"): ("490", 14),
        ("induction", "dexamethasone"): ("40", 12),
        ("maintenance", "oblimersen"): ("490", 7),
        ("maintenance", "dexamethasone"): ("40", 4),
    },
    # one cycle (no count given), 5 days in cycle 1: oblimersen 3 mg/kg × 70 kg = 210 mg
    "oblimersen-mono": {("main", "oblimersen"): ("210", 5)},
}


@pytest.mark.parametrize("regimen_id", SEED_IDS)
def test_the_golden_doses_are_the_hand_computed_ones(regimen_id: str) -> None:
    """An independent check of the golden files: their doses and counts against the hand-worked ones, and the CSV
    read by the csv module giving the same rows as the JSON."""
    data = json.loads((GOLDEN / f"{regimen_id}.json").read_text(encoding="utf-8"))
    rows = data["administrations"]
    doses: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        doses.setdefault((r["phase"], r["drug"]), set()).add(r["dose_exact"])
        assert r["dose_unit"] == "mg"
    counts = Counter((r["phase"], r["drug"]) for r in rows)
    assert {key: (*doses[key], counts[key]) for key in counts} == HAND[regimen_id]
    assert min(r["date"] for r in rows) == "2026-12-01"  # the start given
    table = list(csv.DictReader(io.StringIO((GOLDEN / f"{regimen_id}.csv").read_text(encoding="utf-8"))))
    fields = ("phase", "cycle", "day", "drug", "dose_exact")
    assert [tuple(r[f] for f in fields) for r in table] == [tuple(str(r[f]) for f in fields) for r in rows]
