"""A cohort with kidney values: only the patients the renal tables change are expanded one at a time.

Regimens with renal tables (ABVD's bleomycin, CAPOX's capecitabine, EP's cisplatin and etoposide, oblimersen-fc's
fludarabine, mFOLFOX6's oxaliplatin), rosters of patients with and without a creatinine or a measured GFR, a sex or
not: each patient's rows equal 'regimen expand' with their values (which the sample check of a run checks only for a
few), and the patients whose clearance no table row holds take the vectorised path. The hand-worked doses are in
tests/test_cohort.py (KIDNEY_ROSTER).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.helpers import CREATININES, examples
from tests.test_cohort import _by_patient, _cohort_csv, _csv_rows, _patient_of

from regimen import expand, load
from regimen.engine.cohort import CohortExpander, PandasEngine, cohort
from regimen.engine.cohort.kidney import read_kidneys
from regimen.engine.cohort.roster import Column
from regimen.errors import PatientError
from regimen.export.frames import write_cohort

RENAL = ["abvd", "capox", "cisplatin-etoposide", "oblimersen-fc", "mfolfox6"]


def _expected(regimen_id: str, row: dict[str, str]) -> list[dict[str, str]]:
    """The CSV rows of 'regimen expand ... --cycles 1' for one roster row, parsed."""
    start = dt.date.fromisoformat(row["start_date"]) if row.get("start_date") else None
    return _csv_rows(expand(load(regimen_id), _patient_of(row), start=start, cycles=1))


kidney_patients = st.fixed_dictionaries(
    {
        "age": st.integers(18, 95).map(str),
        "sex": st.sampled_from(["female", "male", ""]),
        "weight_kg": st.integers(40, 130).map(str),
        # 0.4 to 6 mg/dL (a value under the usual range among them), or none
        "scr_mgdl": st.one_of(st.just(""), CREATININES),
        "gfr_mlmin": st.one_of(st.just(""), st.just(""), st.integers(5, 140).map(str)),
        "start_date": st.sampled_from(["", "2026-01-05", "2026-03-29"]),
    }
)


@pytest.mark.parametrize("regimen_id", RENAL)
@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(kidney_patients, min_size=1, max_size=12))
def test_each_patient_of_a_kidney_roster_gets_the_rows_of_their_own_plan(
    regimen_id: str, rows: list[dict[str, str]]
) -> None:
    roster = [{**r, "patient_id": f"p{i}", "bsa_m2": "1.8"} for i, r in enumerate(rows)]
    result = cohort(load(regimen_id), pd.DataFrame(roster), cycles=1)
    got = _by_patient(_cohort_csv(result.frame), drop_id=True)
    rejected = set(result.errors["patient_id"]) if len(result.errors) else set()
    for row in roster:
        if row["patient_id"] in rejected:
            # refused by 'regimen expand' too (an impossible clearance), or its plan shows each sex's doses (a
            # creatinine without the sex, where the sexes' renal doses differ): not one plan, not a cohort's rows
            try:
                plan = expand(load(regimen_id), _patient_of(row), cycles=1)
            except PatientError:
                continue
            assert any(r.condition for r in plan.administrations) and not row["sex"], row
            continue
        assert got.get(row["patient_id"], []) == _expected(regimen_id, row), row
    assert list(dict.fromkeys(r["patient_id"] for r in _cohort_csv(result.frame))) == [
        r["patient_id"] for r in roster if r["patient_id"] not in rejected
    ]  # in roster order


def test_only_the_patients_the_vectorised_rows_cannot_show_are_expanded_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CAPOX: capecitabine's table has rows below 30 (contraindicated) and 30–50 mL/min (75 %). A man of 50 at 70 kg
    and 1.0 mg/dL: (140 − 50) × 70 / 72 = 87.5 mL/min, no row: his rows are the vectorised ones. A man of 70 at 1.5
    mg/dL (45.37 mL/min) and a measured GFR of 40: 75 %, applied to their vectorised rows (1,800 → 1,350 mg). A GFR
    of 20: capecitabine left out, its rows dropped from the vectorised ones and the plan's warning said. A creatinine
    without the sex (each sex's doses): expand(), one at a time."""
    each: list[int] = []
    original = CohortExpander._rows_each

    def counting(self: CohortExpander, good: np.ndarray, *args: Any) -> Any:
        each.append(len(good))
        return original(self, good, *args)

    monkeypatch.setattr(CohortExpander, "_rows_each", counting)
    rows = [
        {"patient_id": "fine", "age": "50", "sex": "male", "weight_kg": "70", "scr_mgdl": "1.0", "gfr_mlmin": ""},
        {"patient_id": "none", "age": "50", "sex": "male", "weight_kg": "70", "scr_mgdl": "", "gfr_mlmin": ""},
        {"patient_id": "m70", "age": "70", "sex": "male", "weight_kg": "70", "scr_mgdl": "1.5", "gfr_mlmin": ""},
        {"patient_id": "nosex", "age": "50", "sex": "", "weight_kg": "70", "scr_mgdl": "1.0", "gfr_mlmin": ""},
        {"patient_id": "g40", "age": "50", "sex": "male", "weight_kg": "70", "scr_mgdl": "", "gfr_mlmin": "40"},
        {"patient_id": "g90", "age": "50", "sex": "male", "weight_kg": "70", "scr_mgdl": "", "gfr_mlmin": "90"},
        {"patient_id": "g20", "age": "50", "sex": "male", "weight_kg": "70", "scr_mgdl": "", "gfr_mlmin": "20"},
        # 2.5 mg/dL is usual for adults (0.3-5), not for children (0.1-2): a man of 60 is vectorised, (140 − 60) × 70
        # / 180 = 31.11 mL/min, 75 %; a child of 10 at 60 kg (130 × 60 / 180 = 43.33) gets the warning: expand()
        {"patient_id": "m25", "age": "60", "sex": "male", "weight_kg": "70", "scr_mgdl": "2.5", "gfr_mlmin": ""},
        {"patient_id": "child", "age": "10", "sex": "male", "weight_kg": "60", "scr_mgdl": "2.5", "gfr_mlmin": ""},
    ]
    roster = pd.DataFrame([{**r, "bsa_m2": "1.8"} for r in rows])
    result = cohort(load("capox"), roster, cycles=1)
    assert each == [2]  # nosex and the child; the rest vectorised, m70's, g40's and m25's band applied, g20's drop
    got = _by_patient(_cohort_csv(result.frame), drop_id=True)
    for row in rows:
        assert got[row["patient_id"]] == _expected("capox", {**row, "bsa_m2": "1.8"}), row["patient_id"]
    first = {pid: [r["dose"] for r in rs if r["drug"] == "capecitabine"][:1] for pid, rs in got.items()}
    assert first == {
        **{pid: ["1800"] for pid in ("fine", "none", "nosex", "g90")},
        **{pid: ["1350"] for pid in ("m70", "g40", "m25", "child")},
        "g20": [],
    }
    m70 = next(r for r in got["m70"] if r["drug"] == "capecitabine")
    assert m70["calculation"].endswith(
        "; renal: CrCl 45.37 mL/min (Cockcroft–Gault) is 30–50 mL/min: 75 % of the dose (capecitabine US prescribing "
        "information 2.4): 1,800 mg → 1,350 mg"
    )


def test_the_screen_reads_table_bounds_exactly() -> None:
    """Capecitabine: 30–50 mL/min holds at 30 and at 50 exactly, not at 50.01; below 30: contraindicated. In
    hundredths, as the estimates are: 2999, 3000, 5000 change the plan (the first by expand(), the others by the band
    on the vectorised rows); 5001 does not."""
    regimen = load("capox")
    # four men of 50 at 1 mg/dL: (140 − 50) × W / 72 = 29.99, 30, 50, 50.01 mL/min for these weights
    weights = [23.992, 24, 40, 40.008]
    cols = {
        "age": Column(np.zeros(4, dtype=np.int64), [50]),
        "sex": Column(np.zeros(4, dtype=np.int64), ["male"]),
        "weight": Column(np.arange(4, dtype=np.int64), weights),
        "scr": Column(np.zeros(4, dtype=np.int64), [1]),
    }
    readings = read_kidneys(regimen, cols, np.arange(4))
    # 29.99: contraindicated, left out of the vectorised rows; 30 and 50: 75 %, applied to them; 50.01: no row holds
    assert readings.exact.tolist() == [False] * 4 and sorted(readings.scaled) == [0, 1, 2]
    assert [b.stop for b in readings.scaled[0][1].values()] == ["contraindicated"]
    assert readings.stopped(0) == {"capecitabine": (readings.scaled[0][1]["capecitabine"], "CrCl 29.99 mL/min "
                                                    "(Cockcroft–Gault)")}  # fmt: skip
    assert readings.stopped(1) == {}


def test_a_row_whose_doses_depend_on_the_age_it_does_not_give_is_rejected() -> None:
    """CAPOX, a man of 70 kg at 1.3 mg/dL without the age: capecitabine 1,800 mg to age 73, 1,350 mg from 74 to 99,
    none from 100 ('regimen expand' shows the three). A roster row is one plan: rejected, naming the column; the same
    row with the age (70: 52.35 mL/min, the full dose) is planned."""
    rows = [
        {"patient_id": "noage", "bsa_m2": "1.8", "weight_kg": "70", "sex": "male", "age": "", "scr_mgdl": "1.3"},
        {"patient_id": "aged", "bsa_m2": "1.8", "weight_kg": "70", "sex": "male", "age": "70", "scr_mgdl": "1.3"},
    ]
    result = cohort(load("capox"), pd.DataFrame(rows), cycles=1)
    (problem,) = result.errors.to_dict("records")
    said = problem["problem"]
    assert problem["patient_id"] == "noage" and said.startswith("the doses depend on a value this row does not give")
    assert "only if age ≤ 73 years" in said and "only if 74 ≤ age ≤ 99 years" in said and said.endswith("; fill in age")
    got = _by_patient(_cohort_csv(result.frame), drop_id=True)
    assert {r["dose"] for r in got["aged"] if r["drug"] == "capecitabine"} == {"1800"}


def test_a_drug_left_out_drops_its_tied_care_and_says_so_as_the_plan_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """EP: cisplatin is avoided under 45 mL/min, and the hydration and mannitol tied to it go with it. A man of 80 at
    50 kg and 2.2 mg/dL: (140 − 80) × 50 / (72 × 2.2) = 18.94 mL/min: no cisplatin, prehydration, mannitol or
    posthydration, etoposide at 75 % (15–50 mL/min: 180 → 135 mg), and on each of his rows the plan's two warnings.
    A woman of 70 at 60 kg and 1.9 mg/dL: 70 × 60 / 136.8 × 0.85 = 26.1 mL/min, the same. Nobody is expanded one
    at a time, and every row is 'regimen expand''s."""
    each: list[int] = []
    original = CohortExpander._rows_each
    monkeypatch.setattr(
        CohortExpander, "_rows_each", lambda self, good, *a: (each.append(len(good)), original(self, good, *a))[1]
    )
    rows = [
        {"patient_id": "A", "age": "80", "sex": "male", "weight_kg": "50", "scr_mgdl": "2.2"},
        {"patient_id": "B", "age": "50", "sex": "male", "weight_kg": "70", "scr_mgdl": "0.9"},
        {"patient_id": "C", "age": "70", "sex": "female", "weight_kg": "60", "scr_mgdl": "1.9"},
    ]
    roster = pd.DataFrame([{**r, "bsa_m2": "1.8", "gfr_mlmin": ""} for r in rows])
    result = cohort(load("cisplatin-etoposide"), roster, cycles=1)
    assert each == [] and result.rejected == 0
    got = _by_patient(_cohort_csv(result.frame), drop_id=True)
    for row in roster.to_dict("records"):
        assert got[row["patient_id"]] == _expected("cisplatin-etoposide", row), row["patient_id"]
    tied = {"cisplatin", "prehydration", "mannitol", "posthydration"}
    assert tied <= {r["component"] for r in got["B"]}
    for pid, crcl in (("A", "18.94"), ("C", "26.1")):
        assert not tied & {r["component"] for r in got[pid]}
        assert {r["dose"] for r in got[pid] if r["drug"] == "etoposide"} == {"135"}
        said = {r["plan_warnings"] for r in got[pid]}
        assert len(said) == 1
        (warning,) = said
        assert warning.startswith(
            f"cisplatin left out of the plan: CrCl {crcl} mL/min (Cockcroft–Gault) is below 45 mL/min, where its "
            "source says avoid"
        )
        assert "; supportive care given for cisplatin left out with it: prehydration" in warning


@pytest.mark.parametrize("regimen_id", ["capox", "cisplatin-etoposide", "mfolfox6"])
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_kidney_roster_written_to_a_file_is_each_patients_plan(regimen_id: str, suffix: str, tmp_path: Path) -> None:
    """Through a file, as the command writes it: the rows stay coded text (pandas Categoricals) while bands are
    applied, drugs left out dropped and the parts joined in roster order, in chunks of 5 so that a chunk holds
    vectorised, banded, dropped and one-at-a-time patients together (a child's creatinine of 2.5 mg/dL, outside
    the children's range: expand(); a creatinine without the sex: rejected where the sexes' doses differ). Every
    patient's rows read back from the file are 'regimen expand''s."""
    rng = np.random.default_rng(3)
    n = 40
    rows = [
        {
            "patient_id": f"p{i:02d}",
            "bsa_m2": "1.8",
            "age": str(int(rng.integers(8, 90))),
            "sex": str(rng.choice(["female", "male", "male", ""])),
            "weight_kg": str(int(rng.integers(40, 110))),
            "scr_mgdl": f"{rng.uniform(0.5, 3.0):.2f}",
            "gfr_mlmin": "",
            "start_date": "2026-01-05",
        }
        for i in range(n)
    ]
    out = tmp_path / f"out{suffix}"
    summary = write_cohort(load(regimen_id), pd.DataFrame(rows), out, cycles=1, engine=PandasEngine(chunk_size=5))
    if suffix == ".csv":  # the file's text as it is
        records = pd.read_csv(out, dtype=str, keep_default_na=False).to_dict("records")
    else:  # the table, written as the CSV writes it
        records = _cohort_csv(pd.read_parquet(out))
    got = _by_patient(records, drop_id=True)
    errors = pd.read_csv(summary.errors_path, dtype=str) if summary.errors_path.exists() else pd.DataFrame()
    rejected = set(errors["patient_id"]) if len(errors) else set()
    for row in rows:
        if row["patient_id"] in rejected:
            assert not row["sex"] or int(row["age"]) < 18, row  # refused by the rules above only
            continue
        assert got[row["patient_id"]] == _expected(regimen_id, row), row["patient_id"]
    assert list(got) == [r["patient_id"] for r in rows if r["patient_id"] not in rejected]
