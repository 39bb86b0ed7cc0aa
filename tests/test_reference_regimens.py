"""The reference-example regimens, hand-computed at two patients, through the command line (issue 9.6).

Patient A: 70 kg, BSA 1.8 m², 45 years. Patient B: 85 kg, BSA 2.1 m², 67 years. Every dose below is the
protocol dose × the patient's BSA (or flat), worked by hand; sources: docs/reference-sources.md.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from fractions import Fraction

import pytest
from click.testing import CliRunner
from tests.conftest import REFERENCE_IDS

from regimen.cli import cli

A = ["--weight", "70", "--bsa", "1.8", "--age", "45"]
B = ["--weight", "85", "--bsa", "2.1", "--age", "67"]

#: regimen -> (drug, cycle-1 days, dose per administration at A, at B) in mg (bleomycin in units)
EXPECTED: dict[str, list[tuple[str, list[int], str, str]]] = {
    "mfolfox6": [  # oxaliplatin 85, leucovorin 400, 5-FU bolus 400 mg/m²; pump 2,400 mg/m² over 46 h (24 h + 22 h)
        ("oxaliplatin", [1], "153", "178.5"),
        ("leucovorin", [1], "720", "840"),
    ],
    "folfiri": [  # irinotecan 180, leucovorin 400, 5-FU bolus 400 mg/m²; pump 2,400 mg/m² over 46 h
        ("irinotecan", [1], "324", "378"),
        ("leucovorin", [1], "720", "840"),
    ],
    "capox": [  # oxaliplatin 130 mg/m²; capecitabine 1,000 mg/m² twice daily days 1-14
        ("oxaliplatin", [1], "234", "273"),
        ("capecitabine", [d for d in range(1, 15) for _ in (1, 2)], "1800", "2100"),
    ],
    "r-chop-21": [  # 375, 750, 50, 1.4 (max 2 mg) mg/m²; prednisone 100 mg flat days 1-5
        ("rituximab", [1], "675", "787.5"),
        ("cyclophosphamide", [1], "1350", "1575"),
        ("doxorubicin", [1], "90", "105"),
        ("vincristine", [1], "2", "2"),  # 2.52 and 2.94 capped at 2
        ("prednisone", [1, 2, 3, 4, 5], "100", "100"),
    ],
    "abvd": [  # 25 mg/m², 10 units/m², 6 mg/m², 375 mg/m², days 1 and 15
        ("doxorubicin", [1, 15], "45", "52.5"),
        ("bleomycin", [1, 15], "18", "21"),
        ("vinblastine", [1, 15], "10.8", "12.6"),
        ("dacarbazine", [1, 15], "675", "787.5"),
    ],
    "7-plus-3": [  # cytarabine 100 mg/m²/day continuous days 1-7; daunorubicin 60 mg/m² days 1-3 (AML17)
        ("cytarabine", [1, 2, 3, 4, 5, 6, 7], "180", "210"),
        ("daunorubicin", [1, 2, 3], "108", "126"),
    ],
    "gemcitabine-d1-8-15": [("gemcitabine", [1, 8, 15], "1800", "2100")],  # 1,000 mg/m²
    "cisplatin-etoposide": [  # cisplatin 80 mg/m² day 1; etoposide 100 mg/m² days 1-3
        ("cisplatin", [1], "144", "168"),
        ("etoposide", [1, 2, 3], "180", "210"),
    ],
    "paclitaxel-weekly": [("paclitaxel", [1], "144", "168")],  # 80 mg/m² weekly
    "dd-ac-t": [  # AC 60/600 mg/m² every 14 days × 4, then paclitaxel 175 mg/m² every 14 days × 4
        ("doxorubicin", [1], "108", "126"),
        ("cyclophosphamide", [1], "1080", "1260"),
        ("paclitaxel", [1], "315", "367.5"),
    ],
}


def rows(regimen_id: str, patient: list[str]) -> list[dict[str, str]]:
    result = CliRunner().invoke(cli, ["expand", regimen_id, *patient, "--format", "csv", "--strict"])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.output)))


@pytest.mark.parametrize("regimen_id", sorted(EXPECTED))
@pytest.mark.parametrize("who", ["A", "B"])
def test_cycle_one_doses_and_days(regimen_id: str, who: str) -> None:
    got = rows(regimen_id, A if who == "A" else B)
    for drug, days, at_a, at_b in EXPECTED[regimen_id]:
        mine = [
            r
            for r in got
            if r["drug"] == drug
            and r["cycle"] == "1"
            and r["role"] == "anticancer"  # the ABVD bleomycin test dose is bleomycin too
            and r["phase"] in ("main", "ac", "paclitaxel")
            and (r["phase"] != "ac" or drug != "paclitaxel")
        ]
        assert [int(r["day"]) for r in mine] == days, drug
        assert {Decimal(r["dose_exact"]) for r in mine} == {Decimal(at_a if who == "A" else at_b)}, drug


def test_every_reference_regimen_is_marked_as_such_and_cited() -> None:
    assert sorted(EXPECTED) == sorted(REFERENCE_IDS)
    listed = CliRunner().invoke(cli, ["list", "--format", "json"]).output
    found = {r["id"]: r for r in json.loads(listed)}
    for regimen_id in EXPECTED:
        assert found[regimen_id]["status"] == "reference example" and found[regimen_id]["sources"]
    shown = CliRunner().invoke(cli, ["show", "r-chop-21"]).output
    assert "Vincristine 1.4 mg/m²" in shown and "Maximum per administration 2 mg" in shown


@pytest.mark.parametrize("regimen_id", ["mfolfox6", "folfiri"])
@pytest.mark.parametrize(("who", "bsa"), [("A", "1.8"), ("B", "2.1")])
def test_the_fluorouracil_bolus_and_pump_stay_apart(regimen_id: str, who: str, bsa: str) -> None:
    """Bolus 400 mg/m² × BSA; pump 2,400 mg/m² × BSA over 46 h: 24/46 of it on day 1, 22/46 on day 2."""
    got = rows(regimen_id, A if who == "A" else B)
    bolus = [r for r in got if r["component"] == "fluorouracil-bolus"]
    pump = [r for r in got if r["component"] == "fluorouracil-pump" and r["cycle"] == "1"]
    total = Decimal(2400) * Decimal(bsa)
    assert [Decimal(r["dose_exact"]) for r in bolus[:1]] == [Decimal(400) * Decimal(bsa)]
    assert [(r["day"], r["duration_h"]) for r in pump] == [("1", "24"), ("2", "22")]
    assert sum(Fraction(r["dose_exact"]) for r in pump) == Fraction(total)
    assert Fraction(pump[0]["dose_exact"]) == Fraction(total) * 24 / 46


def test_r_chop_caps_vincristine_as_the_protocol_and_plans_under_strict() -> None:
    got = rows("r-chop-21", B)
    vincristine = next(r for r in got if r["drug"] == "vincristine")
    assert (
        "1.4 mg/m² × 2.1 m² = 2.94 mg; capped at the regimen maximum 2 mg per administration"
        in vincristine["calculation"]
    )
    assert vincristine["warnings"] == ""
