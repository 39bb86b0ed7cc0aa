"""Cohort expansion: same rows as 'regimen expand' for every patient, rejected rows reported, files written."""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import BUNDLED_IDS, SEED_IDS
from tests.helpers import examples

from regimen import expand, load, make_patient
from regimen.cli import cli
from regimen.clinical.dose_change import DoseChange
from regimen.clinical.formulary import load_formulary
from regimen.clinical.prepare import ClinicalOptions, StrictError
from regimen.engine.cohort import (
    ID_COLUMN,
    OUTPUT_COLUMNS,
    CohortError,
    PandasEngine,
    RejectedRowsWarning,
    cohort,
    expand_cohort,
    read_roster,
)
from regimen.engine.plan import Plan
from regimen.engine.row_frames import csv_text, frame_records
from regimen.engine.rows import ROW_FIELDS, csv_record
from regimen.errors import PatientError
from regimen.export.frames import write_cohort
from regimen.export.records import plan_to_csv
from regimen.model import Regimen
from regimen.protocol.loader import amount, load_text

#: The AUC (Calvert) example regimen: its carboplatin dose needs each patient's GFR.
GOG158_PATH = str(Path(__file__).parent.parent / "examples" / "carboplatin-paclitaxel-gog158.toml")
GOG158 = load(GOG158_PATH)


def _patient_of(row: dict[str, str]) -> Any:
    """The patient 'regimen expand' is given for a roster row (its empty cells: not given)."""
    return make_patient(
        weight=row.get("weight_kg") or None,
        bsa=row.get("bsa_m2") or None,
        age=row.get("age") or None,
        height=row.get("height_cm") or None,
        sex=row.get("sex") or None,
        scr=row.get("scr_mgdl") or None,
        gfr=row.get("gfr_mlmin") or None,
    )


def _expected(regimen_id: str, row: dict[str, str]) -> list[dict[str, str]]:
    """The CSV rows 'regimen expand' gives one patient, parsed."""
    return _csv_rows(_plan_of(regimen_id, row))


def _plan_of(regimen_id: str, row: dict[str, str]) -> Plan:
    start = dt.date.fromisoformat(row["start_date"]) if row.get("start_date") else None
    return expand(load(regimen_id), _patient_of(row), start=start)


def _csv_rows(plan: Plan) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(plan_to_csv(plan))))


def _by_patient(rows: list[dict[str, Any]], drop_id: bool = False) -> dict[str, list[dict[str, Any]]]:
    """Rows by their patient id, in their order (without the id when ``drop_id``)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["patient_id"], []).append({k: v for k, v in r.items() if k != "patient_id"} if drop_id else r)
    return out


def _cohort_csv(frame: pd.DataFrame) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(csv_text(frame).to_csv(index=False, lineterminator="\n"))))


patients = st.fixed_dictionaries(
    {
        "weight_kg": st.decimals(Decimal("0.5"), Decimal("300"), places=3).map(str),
        "bsa_m2": st.decimals(Decimal("0.2"), Decimal("3.5"), places=2).map(str),
        "age": st.integers(0, 110).map(str),  # completed years (a fractional age is refused, as by 'regimen expand')
        "sex": st.sampled_from(["female", "male", "F", "m"]),
        "start_date": st.one_of(st.just(""), st.dates(dt.date(2024, 1, 1), dt.date(2030, 12, 31)).map(str)),
        "gfr": st.decimals(Decimal("5"), Decimal("250"), places=1).map(str),
        "scr": st.decimals(Decimal("2.3"), Decimal("15"), places=2).map(str),
    }
)


# pumps, twice-daily tablets, capped doses, rules, phases; and a dose by target AUC
@pytest.mark.parametrize("regimen_id", [*BUNDLED_IDS, GOG158_PATH])
@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(patients, min_size=1, max_size=12),
    weight_places=st.integers(0, 3),
    seed=st.integers(0, 10**6),
)
def test_every_patient_gets_exactly_the_rows_of_regimen_expand(
    regimen_id: str, rows: list[dict[str, str]], weight_places: int, seed: int
) -> None:
    """The property: cohort rows == expand() + csv_record() for each patient, field by field (CSV and frame)."""
    # vary the precision of weights, and repeat some values so that distinct-value sharing is exercised
    for i, row in enumerate(rows):
        row["patient_id"] = f"P{i}"
        row["weight_kg"] = str(max(Decimal(row["weight_kg"]).quantize(Decimal(1).scaleb(-weight_places)), Decimal(1)))
        if i and (seed + i) % 3 == 0:
            row["bsa_m2"] = rows[0]["bsa_m2"]
        gfr, scr = row.pop("gfr"), row.pop("scr")
        if regimen_id == GOG158_PATH:  # a GFR measured, or estimated from a creatinine high enough that no weight
            row["gfr_mlmin"], row["scr_mgdl"] = (gfr, "") if (seed + i) % 2 else ("", scr)  # and age make it >300
    roster = pd.DataFrame(rows, columns=["patient_id", "weight_kg", "bsa_m2", "age", "sex", "start_date"])
    if regimen_id == GOG158_PATH:
        roster = pd.DataFrame(rows, columns=[*roster.columns, "gfr_mlmin", "scr_mgdl"])
    result = cohort(load(regimen_id), roster)
    assert result.rejected == 0, result.errors.to_dict("records")
    assert not any("one patient at a time" in n for n in result.notes)  # the vectorised path made these rows
    # each patient's rows found once (not by scanning every row for each patient), and the plan expanded once for
    # both comparisons: the same checks (0.5 s of CPU of its 10 s less)
    got = _by_patient(_cohort_csv(result.frame), drop_id=True)
    records = _by_patient(frame_records(result.frame))
    for row in rows:
        plan = _plan_of(regimen_id, row)
        assert got.get(row["patient_id"], []) == _csv_rows(plan)
        for admin, frame_row in zip(plan.administrations, records.get(row["patient_id"], []), strict=True):
            want = csv_record(plan, admin)  # warnings and plan warnings '; '-joined, as CSV and frames hold them
            for field in ROW_FIELDS:
                assert frame_row[field] == want[field], (field, frame_row[field], want[field])


def test_rows_from_height_match_regimen_expand_with_height() -> None:
    roster = pd.DataFrame(
        {
            "patient_id": ["a", "b", "c"],
            "weight_kg": ["70", "82.5", "70"],
            "height_cm": ["170", "181", "170"],
            "age": ["45", "70", "45"],
        }
    )
    result = cohort(load("cenersen-arm3"), roster)
    assert result.rejected == 0
    assert not any("one patient at a time" in n for n in result.notes)
    got = _cohort_csv(result.frame)
    for row in roster.to_dict("records"):
        mine = [{k: v for k, v in r.items() if k != "patient_id"} for r in got if r["patient_id"] == row["patient_id"]]
        assert mine == _expected("cenersen-arm3", row)
    assert "Mosteller" in got[2]["calculation"] or "Mosteller" in " ".join(r["calculation"] for r in got)
    assert any("Mosteller" in n for n in result.notes)


def test_bad_rows_are_reported_with_row_column_and_problem_and_never_dropped() -> None:
    roster = pd.DataFrame(
        {
            "patient_id": ["ok", "w", "", "b", "dup", "dup", "d", "a"],
            "weight_kg": ["70", "seventy", "70", "70", "70", "70", "70", "70"],
            "bsa_m2": ["1.8", "1.8", "1.8", "9", "1.8", "1.8", "1.8", "1.8"],
            "age": ["45", "45", "45", "45", "45", "45", "45", ""],
            "start_date": ["2026-01-05", "", "", "", "", "", "05/01/2026", ""],
        }
    )
    result = cohort(load("cenersen-arm3"), roster)
    assert (result.patients_in, result.expanded, result.rejected) == (8, 1, 7)
    assert result.summary() == "patients in = expanded + rejected: 8 = 1 + 7"
    problems = {(r["row"], r["column"]): r["problem"] for r in result.errors.to_dict("records")}
    assert "not a number" in problems[(2, "weight_kg")]
    assert problems[(3, "patient_id")].startswith("missing")
    assert "impossible" in problems[(4, "bsa_m2")]
    assert "appears 2 times" in problems[(5, "patient_id")] and "appears 2 times" in problems[(6, "patient_id")]
    assert "YYYY-MM-DD" in problems[(7, "start_date")]
    assert problems[(8, "age")] == "missing: this regimen needs age"
    assert set(result.frame["patient_id"]) == {"ok"}


def test_a_missing_column_stops_the_run_with_the_fix() -> None:
    roster = pd.DataFrame({"patient_id": ["a"], "weight_kg": ["70"], "age": ["45"]})
    with pytest.raises(CohortError, match=r"no column bsa_m2 .*height_cm"):
        cohort(load("cenersen-arm3"), roster)


def test_only_the_columns_the_regimen_needs_are_required() -> None:
    # oblimersen-mono is dosed per kg with a cycle rule only: weight is all it needs
    frame = expand_cohort(load("oblimersen-mono"), pd.DataFrame({"patient_id": ["x"], "weight_kg": [70.5]}), cycles=2)
    assert list(frame.columns) == list(OUTPUT_COLUMNS)
    assert frame["cycle"].tolist().count(2) == 7 and frame["cycle"].tolist().count(1) == 5
    assert frame.attrs["rejected"] == 0


def test_expand_cohort_warns_about_rejected_rows_and_lists_them() -> None:
    roster = pd.DataFrame({"patient_id": ["a", "b"], "weight_kg": [70.0, -3.0]})
    with pytest.warns(RejectedRowsWarning, match="1 of 2 roster rows rejected"):
        frame = expand_cohort(load("oblimersen-mono"), roster)
    assert frame.attrs["errors"][0]["row"] == 2 and frame.attrs["errors"][0]["column"] == "weight_kg"


def test_float_cells_read_as_written_like_make_patient() -> None:
    roster = pd.DataFrame({"patient_id": ["a"], "weight_kg": [70.1], "bsa_m2": [1.83], "age": [61]})
    rows = _cohort_csv(cohort(load("cenersen-arm3"), roster).frame)
    assert rows == [
        {"patient_id": "a", **r}
        for r in _expected("cenersen-arm3", {"weight_kg": "70.1", "bsa_m2": "1.83", "age": "61"})
    ]


def test_fallback_patient_by_patient_when_the_self_check_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """If the per-value decomposition disagrees with expand(), rows come from expand() itself, with a note."""
    import regimen.engine.cohort.templates as module  # where the rows' doses are worked out

    def wrong(*args, **kwargs):  # type: ignore[no-untyped-def]
        return [(amount + 1, *rest) for amount, *rest in original(*args, **kwargs)]

    def wrong_columns(*args, **kwargs):  # type: ignore[no-untyped-def]  # the doses by weight or BSA, in arrays
        found = original_columns(*args, **kwargs)
        return {**found, "dose_exact_num": found["dose_exact_num"] + found["dose_exact_den"]}  # one more mg

    original, original_columns = module.day_doses, module.dose_columns
    monkeypatch.setattr(module, "day_doses", wrong)
    monkeypatch.setattr(module, "dose_columns", wrong_columns)
    roster = pd.DataFrame(
        {"patient_id": ["a", "b"], "weight_kg": ["70", "80"], "bsa_m2": ["1.8", "2"], "age": ["45", "70"]}
    )
    result = cohort(load("cenersen-arm3"), roster)
    assert any("one patient at a time" in n for n in result.notes)
    got = _cohort_csv(result.frame)
    for row in roster.to_dict("records"):
        mine = [{k: v for k, v in r.items() if k != "patient_id"} for r in got if r["patient_id"] == row["patient_id"]]
        assert mine == _expected("cenersen-arm3", row)


# ---- CLI --------------------------------------------------------------------------------------------


def _write_roster(path: Path, lines: list[str]) -> Path:
    path.write_text("patient_id,weight_kg,bsa_m2,age,start_date\n" + "".join(line + "\n" for line in lines))
    return path


def test_cli_cohort_writes_csv_errors_file_and_summary(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    roster = _write_roster(tmp_path / "roster.csv", ["a,70,1.8,45,2026-01-05", "b,80,2.0,70,", "c,x,1.8,45,"])
    out = tmp_path / "plan.csv"
    result = runner.invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(out)])
    assert result.exit_code == 3, result.output
    assert "patients in = expanded + rejected: 3 = 2 + 1" in result.output
    errors = list(csv.DictReader((tmp_path / "plan.errors.csv").open()))
    assert errors == [
        {
            "row": "3",
            "patient_id": "c",
            "column": "weight_kg",
            "problem": "weight 'x' is not a number: give it as e.g. weight_kg 70 (kg), weight_kg '154 lb'",
        }
    ]
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == list(OUTPUT_COLUMNS)
    expected_a = runner.invoke(
        cli,
        [
            "expand",
            "cenersen-arm3",
            "--weight",
            "70",
            "--bsa",
            "1.8",
            "--age",
            "45",
            "--start",
            "2026-01-05",
            "--format",
            "csv",
        ],
    ).output
    mine = "".join(
        line.split(",", 1)[1] for line in out.read_text().splitlines(keepends=True)[1:] if line.startswith("a,")
    )
    assert mine == expected_a.split("\n", 1)[1]


def test_cli_cohort_parquet_round_trip(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("pyarrow")
    roster = pd.DataFrame(
        {
            "patient_id": ["a", "b"],
            "weight_kg": [70.0, 82.3],
            "bsa_m2": [1.8, 2.01],
            "age": [45, 66],
            "start_date": ["2026-01-05", "2026-02-01"],
        }
    )
    roster.to_parquet(tmp_path / "roster.parquet")
    assert read_roster(tmp_path / "roster.parquet")["weight_kg"].tolist() == [70.0, 82.3]
    result = runner.invoke(
        cli, ["cohort", "cenersen-arm3", str(tmp_path / "roster.parquet"), "-o", str(tmp_path / "plan.parquet")]
    )
    assert result.exit_code == 0, result.output
    back = pd.read_parquet(tmp_path / "plan.parquet")
    assert list(back.columns) == list(OUTPUT_COLUMNS)
    direct = cohort(load("cenersen-arm3"), roster).frame
    assert frame_records(back) == frame_records(direct)
    assert not (tmp_path / "plan.errors.csv").exists()  # nothing rejected, nothing stale to overwrite


def test_cli_cohort_bad_extension_and_missing_column_are_one_line_errors(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    roster = _write_roster(tmp_path / "roster.csv", ["a,70,1.8,45,"])
    result = runner.invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(tmp_path / "plan.xlsx")])
    assert result.exit_code == 1 and "use a .csv or .parquet file name" in result.output
    assert not (tmp_path / "plan.xlsx").exists()
    (tmp_path / "thin.csv").write_text("patient_id,weight_kg\na,70\n")
    result = runner.invoke(cli, ["cohort", "cenersen-arm3", str(tmp_path / "thin.csv"), "-o", str(tmp_path / "p.csv")])
    assert result.exit_code == 1 and "no column bsa_m2, age" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "p.csv").exists()


def test_cli_cohort_progress_bar_only_when_asked_or_on_a_terminal(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    roster = _write_roster(tmp_path / "roster.csv", [f"p{i},70,1.8,45," for i in range(5)])
    quiet = runner.invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(tmp_path / "a.csv")])
    assert "Expanding" not in quiet.output  # CliRunner is not a terminal
    shown = runner.invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(tmp_path / "b.csv"), "--progress"])
    assert "Expanding cenersen-arm3" in shown.output
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_chunks_give_the_same_file_as_one_pass(tmp_path: Path) -> None:
    lines = [
        f"p{i},{60 + i % 7}.{i % 10},{1.5 + (i % 9) / 10},{40 + i % 40},2026-01-{1 + i % 28:02d}" for i in range(60)
    ]
    roster = _write_roster(tmp_path / "roster.csv", lines)
    a = write_cohort(load("cenersen-arm3"), roster, tmp_path / "one.csv", engine=PandasEngine(chunk_size=1000))
    b = write_cohort(load("cenersen-arm3"), roster, tmp_path / "many.csv", engine=PandasEngine(chunk_size=7))
    assert (a.patients_in, a.expanded, a.rows) == (b.patients_in, b.expanded, b.rows) == (60, 60, a.rows)
    assert (tmp_path / "one.csv").read_text() == (tmp_path / "many.csv").read_text()


def test_parquet_without_pyarrow_is_a_one_line_error(runner, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    roster = _write_roster(tmp_path / "roster.csv", ["a,70,1.8,45,"])
    result = runner.invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(tmp_path / "plan.parquet")])
    assert result.exit_code == 1
    assert "Parquet needs pyarrow: pip install 'regimen-schedules[parquet]'" in result.output
    assert not (tmp_path / "plan.parquet").exists()


def test_cli_cohort_cycles_option_reaches_every_patient(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "roster.csv").write_text("patient_id,weight_kg\na,70\nb,81.5\n")
    result = runner.invoke(
        cli,
        ["cohort", "oblimersen-mono", str(tmp_path / "roster.csv"), "-o", str(tmp_path / "plan.csv"), "--cycles", "3"],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((tmp_path / "plan.csv").open()))
    assert {(r["patient_id"], r["cycle"]) for r in rows} == {(p, str(c)) for p in "ab" for c in (1, 2, 3)}
    assert len(rows) == 2 * (5 + 7 + 7)


# ---- clinical options (the run-wide options of 'regimen expand') -------------------------------------------

ADJUSTED_TOML = """id = "cohort-adjusted"
name = "Test regimen with dose levels, maximum doses and rounding"
cycle_length = 21
cycles = 2

[[source]]
citation = "test"

[[component]]
drug = "cenersen"
dose = "0.1 mg/kg/h"
route = "IV"
method = "continuous infusion"
duration = "2 days"
days = "1-2"
max_daily = "200 mg"

[[component]]
drug = "idarubicin"
dose = "12 mg/m²/day"
route = "IV"
days = "2-4"
max_dose = "25 mg"
levels = { "-1" = "75%", "-2" = "9 mg/m²/day" }

[[component]]
drug = "cytarabine"
dose = "1 g/m²/day"
route = "IV"
days = "2-5"
round = "100 mg"

[[component.variant]]
when = "age > 60"
days = "2-4"

[[component]]
drug = "dexamethasone"
dose = "40 mg"
route = "oral"
days = "1"
"""
ADJUSTED = load_text(ADJUSTED_TOML, "<test>")
EXAMPLE_FORMULARY = load_formulary()


@st.composite
def clinical_options(draw: st.DrawFn, reg: Regimen) -> ClinicalOptions:
    """Random run-wide options that are valid for ``reg`` (dose levels only where the regimen defines them)."""
    drugs = sorted({c.drug for c in reg.components()})
    levels = any(c.levels for c in reg.components())
    vial_round = draw(st.booleans())
    return ClinicalOptions(
        bsa_formula=draw(st.sampled_from(["mosteller", "dubois", "schlich"])),
        bsa_cap=draw(
            st.one_of(st.none(), st.decimals(Decimal("1.5"), Decimal("2.5"), places=2).map(lambda d: Fraction(d)))
        ),
        dosing_weight=draw(st.sampled_from([None, "actual", "ideal", "ideal-robinson", "adjusted", "lean"])),
        adjusted_factor=draw(st.sampled_from([Fraction(2, 5), Fraction(1, 4)])),
        dose_level=draw(st.sampled_from([None, 0, -1, -2])) if levels else None,
        dose_changes=draw(
            st.dictionaries(
                st.sampled_from(drugs),
                st.sampled_from([Fraction(50), Fraction(75), Fraction(100)]).map(DoseChange),
                max_size=2,
            )
        ),
        round_to=draw(
            st.dictionaries(
                st.sampled_from(drugs),
                st.sampled_from([amount("0.5mg", "--round"), amount("10 mg", "--round")]),
                max_size=1,
            )
        ),
        formulary=EXAMPLE_FORMULARY if vial_round else None,
        vial_round=vial_round,
        threshold=draw(st.sampled_from([Fraction(10), Fraction(6)])),
        strict=draw(st.booleans()),
    )


clinical_patients = st.fixed_dictionaries(
    {
        "weight_kg": st.decimals(Decimal("30"), Decimal("160"), places=1).map(str),
        "bsa_m2": st.one_of(st.just(""), st.decimals(Decimal("1.2"), Decimal("2.8"), places=2).map(str)),
        "height_cm": st.decimals(Decimal("140"), Decimal("200"), places=1).map(str),
        "age": st.integers(10, 90).map(str),
        "sex": st.sampled_from(["female", "male"]),
        "start_date": st.one_of(st.just(""), st.dates(dt.date(2026, 1, 1), dt.date(2026, 12, 31)).map(str)),
    }
)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    regimen_id=st.sampled_from([*SEED_IDS, "cohort-adjusted"]),
    rows=st.lists(clinical_patients, min_size=1, max_size=8),
)
def test_with_clinical_options_every_patient_gets_exactly_the_rows_of_regimen_expand(
    data: st.DataObject, regimen_id: str, rows: list[dict[str, str]]
) -> None:
    """The same property under random ClinicalOptions: rows == expand(options=...) + csv_record(), and under
    --strict exactly the patients whose plans carry a warning are rejected."""
    reg = ADJUSTED if regimen_id == "cohort-adjusted" else load(regimen_id)
    options = data.draw(clinical_options(reg))
    for i, row in enumerate(rows):
        row["patient_id"] = f"P{i}"
        if i and i % 2:  # shared values: distinct-value blocks are reused
            row["weight_kg"], row["height_cm"], row["sex"] = rows[0]["weight_kg"], rows[0]["height_cm"], rows[0]["sex"]
    roster = pd.DataFrame(rows, columns=["patient_id", "weight_kg", "bsa_m2", "height_cm", "age", "sex", "start_date"])
    result = cohort(reg, roster, options=options)
    if not options.strict and not len(result.errors):
        assert not any("one patient at a time" in n for n in result.notes)  # the vectorised path made these rows
    records = frame_records(result.frame)
    rejected = set(result.errors["patient_id"])
    for row in rows:
        patient = make_patient(
            weight=row["weight_kg"], bsa=row["bsa_m2"] or None, height=row["height_cm"], age=row["age"], sex=row["sex"]
        )
        start = dt.date.fromisoformat(row["start_date"]) if row["start_date"] else None
        try:
            plan = expand(reg, patient, start=start, options=options)
        except (StrictError, PatientError):
            assert row["patient_id"] in rejected
            assert not [r for r in records if r["patient_id"] == row["patient_id"]]
            continue
        assert row["patient_id"] not in rejected, result.errors.to_dict("records")
        mine = [r for r in records if r["patient_id"] == row["patient_id"]]
        want = []
        for admin in plan.administrations:
            rec = csv_record(plan, admin)
            want.append({ID_COLUMN: row["patient_id"], **rec})
        assert mine == want
    assert result.patients_in == len(rows) and result.expanded == len(rows) - len(rejected)


def test_options_and_bsa_formula_must_agree() -> None:
    roster = pd.DataFrame({"patient_id": ["a"], "weight_kg": ["70"], "bsa_m2": ["1.8"], "age": ["45"]})
    with pytest.raises(CohortError, match="differ"):
        cohort(load("cenersen-arm3"), roster, bsa_formula="dubois", options=ClinicalOptions(bsa_formula="mosteller"))


def test_auc_doses_in_a_cohort_come_from_each_patients_gfr() -> None:
    """Issue 29: a regimen dosed by target AUC is expanded from the roster's gfr_mlmin, or its scr_mgdl with age,
    sex and weight (Cockcroft-Gault, as 'regimen expand --scr' estimates it), the vectorised way; a row with neither
    is rejected with one problem."""
    roster = pd.DataFrame(
        [[pid, "70", "1.8", "60", "female", scr, gfr] for pid, scr, gfr in [
            ("measured", "", "100"), ("capped", "", "150"), ("estimated", "1.0", ""), ("neither", "", "")
        ]],
        columns=["patient_id", "weight_kg", "bsa_m2", "age", "sex", "scr_mgdl", "gfr_mlmin"],
    )  # fmt: skip
    # (140 - 20) x 120 kg / (72 x 0.4 mg/dL) = 500 mL/min: refused as 'regimen expand' refuses it, this row only
    roster.loc[len(roster)] = ["impossible", "120", "1.8", "20", "male", "0.4", ""]
    result = cohort(GOG158, roster)
    assert not any("one patient at a time" in n for n in result.notes), result.notes
    assert result.errors[["patient_id", "column"]].values.tolist() == [["neither", "gfr_mlmin"], ["impossible", ""]]
    assert "AUC dosing needs gfr_mlmin, or scr_mgdl with age, sex, weight_kg" in result.errors["problem"][0]
    assert result.errors["problem"][1].startswith("Cockcroft–Gault creatinine clearance 500 mL/min is impossible")
    carboplatin = result.frame[result.frame["drug"] == "carboplatin"].groupby("patient_id")["dose_exact"].first()
    # Calvert: AUC 7.5 x (GFR + 25); 150 mL/min is capped at 125 (FDA 2010); Cockcroft-Gault (140 - 60) x 70 kg /
    # (72 x 1.0 mg/dL) x 0.85 = 66.11 mL/min (to 2 places): 7.5 x 91.11 = 683.325 mg
    assert carboplatin.to_dict() == {"measured": "937.5", "capped": "1125", "estimated": "683.325"}
    records = frame_records(result.frame)
    for pid, values in (("measured", {"gfr": "100"}), ("estimated", {"scr": "1.0"})):
        plan = expand(GOG158, make_patient(weight="70", bsa="1.8", age="60", sex="female", **values))
        assert [r for r in records if r[ID_COLUMN] == pid] == [
            {ID_COLUMN: pid, **csv_record(plan, a)} for a in plan.administrations
        ]


def test_an_auc_roster_without_a_gfr_or_creatinine_column_is_refused_naming_both() -> None:
    roster = pd.DataFrame({"patient_id": ["a"], "weight_kg": ["70"], "bsa_m2": ["1.8"], "age": ["45"]})
    with pytest.raises(CohortError, match=r"roster has no column scr_mgdl, sex .*measured GFR in gfr_mlmin"):
        cohort(GOG158, roster)


# ---- clinical options on the command line ------------------------------------------------------------------

CLINICAL_ROSTER = (
    "patient_id,weight_kg,bsa_m2,height_cm,age,sex,start_date\n"
    "a,70,1.8,170,45,female,2026-01-05\nb,120,2.4,180,70,male,\nc,50,1.5,150,16,female,\n"
)


def _clinical_run(
    runner,
    tmp_path: Path,
    command: str,
    regimen_ref: str,
    *args: str,  # type: ignore[no-untyped-def]
    roster_text: str = CLINICAL_ROSTER,
) -> tuple[int, str, list[dict[str, str]]]:
    roster = tmp_path / "roster.csv"
    roster.write_text(roster_text)
    out = tmp_path / "plan.csv"
    target = ["-o", str(out)] if command == "cohort" else ["--format", "csv", "-o", str(out)]
    result = runner.invoke(cli, [command, regimen_ref, str(roster), *target, *args])
    rows = (
        list(csv.DictReader(out.open())) if out.exists() and result.exit_code in (0, 3) else []
    )  # 3: written, rows rejected
    return result.exit_code, result.output, rows


def _expand_csv(runner, regimen_ref: str, row: dict[str, str], *args: str) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    cmd = [
        "expand",
        regimen_ref,
        "--weight",
        row["weight_kg"],
        "--bsa",
        row["bsa_m2"],
        "--height",
        row["height_cm"],
        "--age",
        row["age"],
        "--sex",
        row["sex"],
        "--format",
        "csv",
        *args,
    ]
    if row["start_date"]:
        cmd += ["--start", row["start_date"]]
    result = runner.invoke(cli, cmd)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


def _assert_like_expand(
    runner,
    regimen_ref: str,
    rows: list[dict[str, str]],
    *args: str,  # type: ignore[no-untyped-def]
    skip: tuple[str, ...] = (),
) -> None:
    for row in csv.DictReader(io.StringIO(CLINICAL_ROSTER)):
        if row["patient_id"] in skip:
            continue
        mine = [{k: v for k, v in r.items() if k != ID_COLUMN} for r in rows if r[ID_COLUMN] == row["patient_id"]]
        assert mine == _expand_csv(runner, regimen_ref, row, *args), row["patient_id"]


@pytest.mark.parametrize(
    "args",
    [
        ("--bsa-cap", "2"),
        ("--dosing-weight", "lean", "--bsa-formula", "dubois"),
        ("--dose-percent", "idarubicin=75%", "--reduce-by", "cytarabine=50%"),
        ("--round", "idarubicin=1mg"),
        ("--round", "idarubicin=5mg", "--round-threshold", "5%"),
    ],
)
def test_cli_cohort_clinical_options_give_the_rows_of_regimen_expand(
    runner,
    tmp_path: Path,  # type: ignore[no-untyped-def]
    args: tuple[str, ...],
) -> None:
    code, output, rows = _clinical_run(runner, tmp_path, "cohort", "cenersen-arm3", *args)
    assert code == 0, output
    assert "patients in = expanded + rejected: 3 = 3 + 0" in output
    _assert_like_expand(runner, "cenersen-arm3", rows, *args)


@pytest.mark.parametrize(
    "args", [("--dosing-weight", "ideal"), ("--dosing-weight", "adjusted", "--adjusted-factor", "0.3")]
)
def test_cli_cohort_ideal_weights_reject_the_patient_outside_the_formulas_range(  # type: ignore[no-untyped-def]
    runner, tmp_path: Path, args: tuple[str, ...]
) -> None:
    # patient c is 150 cm and 16 years: under the 60 in (152.4 cm) and the adult age of the IBW formulas
    code, output, rows = _clinical_run(runner, tmp_path, "cohort", "cenersen-arm3", *args)
    assert code == 3, output  # written, with rows rejected
    assert "patients in = expanded + rejected: 3 = 2 + 1" in output
    _assert_like_expand(runner, "cenersen-arm3", rows, *args, skip=("c",))
    errors = list(csv.DictReader((tmp_path / "plan.errors.csv").open()))
    assert [e["patient_id"] for e in errors] == ["c"] and "152.4 cm (60 in)" in errors[0]["problem"]


def test_cli_cohort_dose_level_and_caps_of_the_regimen(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "adjusted.toml").write_text(ADJUSTED_TOML)
    ref = str(tmp_path / "adjusted.toml")
    for args in [("--dose-level", "-1"), ("--dose-level", "-2", "--bsa-cap", "2"), ()]:
        code, output, rows = _clinical_run(runner, tmp_path, "cohort", ref, *args)
        assert code == 0, output
        _assert_like_expand(runner, ref, rows, *args)
    level = [r for r in rows if r["drug"] == "idarubicin"]
    assert level and all("capped at the regimen maximum" in r["calculation"] for r in level if r[ID_COLUMN] == "b")
    code, output, rows = _clinical_run(runner, tmp_path, "cohort", ref, "--dose-level", "-1")
    assert any("dose level -1: 75 % of the dose (reduced by 25 %)" in r["calculation"] for r in rows)


def test_cli_cohort_row_warnings_reach_the_warnings_column(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # 5 mg steps cannot round idarubicin 21.6 mg within 5 %: left unrounded, with a warning on the row
    code, output, rows = _clinical_run(
        runner, tmp_path, "cohort", "cenersen-arm3", "--round", "idarubicin=5mg", "--round-threshold", "5%"
    )
    assert code == 0, output
    a = [r for r in rows if r[ID_COLUMN] == "a" and r["drug"] == "idarubicin"]
    assert a and all("not rounded" in r["warnings"] for r in a)


def test_cli_cohort_vial_rounding_with_a_formulary_and_band(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    formulary = str(Path(__file__).parent.parent / "formulary" / "example.toml")
    for args in [("--vial-round", "--formulary", formulary), ("--band", "6%", "--formulary", formulary)]:
        code, output, rows = _clinical_run(runner, tmp_path, "cohort", "cenersen-arm3", *args)
        assert code == 0, output
        _assert_like_expand(runner, "cenersen-arm3", rows, *args)
        assert any("whole vials" in r["calculation"] for r in rows)
        assert "vial sizes from formulary 'example'" in output  # the plan's warning, as a run note


def test_cli_cohort_strict_rejects_patients_with_warnings_and_writes_the_others(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, output, rows = _clinical_run(runner, tmp_path, "cohort", "cenersen-arm3", "--strict")
    assert code == 3, output  # written, with rows rejected
    assert "patients in = expanded + rejected: 3 = 2 + 1" in output
    errors = list(csv.DictReader((tmp_path / "plan.errors.csv").open()))
    assert [(e["row"], e["patient_id"], e["column"]) for e in errors] == [("3", "c", "")]
    # a cell starting with '-' is a formula to a spreadsheet: the errors file quotes it (OWASP), Excel hides the quote
    assert errors[0]["problem"].startswith("'--strict: age 16 years is outside the eligibility of cenersen-arm3")
    assert {r[ID_COLUMN] for r in rows} == {"a", "b"}
    _assert_like_expand(runner, "cenersen-arm3", rows, "--strict", skip=("c",))
    # a run-wide warning (the cap applies to b) rejects b too
    code, output, rows = _clinical_run(runner, tmp_path, "cohort", "cenersen-arm3", "--strict", "--bsa-cap", "2")
    assert "3 = 1 + 2" in output and {r[ID_COLUMN] for r in rows} == {"a"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--dose-level", "-1"), "--dose-level -1: cenersen-arm3 defines no dose levels"),
        (
            ("--dose-percent", "foo=50%"),
            "--dose-percent (or --reduce-by) foo: cenersen-arm3 has no drug or component 'foo'",
        ),
        (
            ("--dose-percent", "idarubicin=150%"),
            "is more than the full dose: if that is meant, confirm it with --confirm",
        ),
        (("--dose-percent", "idarubicin"), "write DRUG=VALUE"),
        (("--reduce-by", "idarubicin=0.2"), "a bare number can be read two ways"),
        (("--reduce", "idarubicin=75%"), "--reduce idarubicin=75% is no longer accepted"),
        (("--round", "idarubicin=lots"), "--round"),
        (("--bsa-cap", "9"), "--bsa-cap 9 m² is not a possible BSA"),
        (("--bsa-cap", "two"), "--bsa-cap 'two' is not a number"),
        (("--adjusted-factor", "2", "--dosing-weight", "adjusted"), "--adjusted-factor 2 must be between 0 and 1"),
        (("--vial-round",), "--vial-round and --band need the vial sizes: pass --formulary FILE"),
        (("--band", "6%", "--round-threshold", "5%"), "--band and --round-threshold both set the rounding threshold"),
    ],
)
def test_cli_cohort_clinical_option_errors_are_one_line(
    runner,
    tmp_path: Path,
    args: tuple[str, ...],  # type: ignore[no-untyped-def]
    message: str,
) -> None:
    code, output, _ = _clinical_run(runner, tmp_path, "cohort", "cenersen-arm3", *args)
    assert code == 1 and message in output, output
    assert output.count("\n") == 1 and output.startswith("Error: ")
    assert not (tmp_path / "plan.csv").exists()


def test_cli_cohort_dosing_weight_needs_height_and_sex_columns(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, output, _ = _clinical_run(
        runner,
        tmp_path,
        "cohort",
        "cenersen-arm3",
        "--dosing-weight",
        "ideal",
        roster_text="patient_id,weight_kg,bsa_m2,age\na,70,1.8,45\n",
    )
    assert code == 1
    assert (
        "roster has no column height_cm, sex (needed by cenersen-arm3): add them (the ideal, adjusted and lean "
        "body weights need each patient's height_cm and sex)" in output
    )
    code, output, rows = _clinical_run(
        runner,
        tmp_path,
        "cohort",
        "cenersen-arm3",
        "--dosing-weight",
        "ideal",
        roster_text="patient_id,weight_kg,bsa_m2,height_cm,age,sex\na,70,1.8,170,45,female\nb,70,1.8,,45,male\n",
    )
    assert code == 3 and "2 = 1 + 1" in output and {r[ID_COLUMN] for r in rows} == {"a"}
    errors = list(csv.DictReader((tmp_path / "plan.errors.csv").open()))
    assert errors == [
        {"row": "2", "patient_id": "b", "column": "height_cm", "problem": "missing: this regimen needs height_cm"}
    ]


def test_cli_cohort_of_an_auc_regimen_takes_the_gfr_from_the_roster(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gog = str(Path(__file__).parent.parent / "examples" / "carboplatin-paclitaxel-gog158.toml")
    code, output, rows = _clinical_run(
        runner,
        tmp_path,
        "cohort",
        gog,
        "--gfr-cap",
        "none",
        roster_text="patient_id,weight_kg,bsa_m2,age,sex,gfr_mlmin\na,70,1.8,60,female,150\n",
    )
    assert code == 0, output
    carboplatin = [r for r in rows if r["drug"] == "carboplatin"]
    # 7.5 x (150 + 25) = 1,312.5 mg, uncapped; shown rounded half up to 1,313 mg
    assert len(carboplatin) == 6 and {(r["dose"], r["dose_exact"]) for r in carboplatin} == {("1313", "1312.5")}
    assert "GFR cap lifted" in carboplatin[0]["plan_warnings"]
    # the Dask engine takes the clinical options too: tests/test_dask.py


@pytest.mark.parametrize(
    "option",
    [
        "--bsa-formula",
        "--bsa-cap",
        "--dosing-weight",
        "--adjusted-factor",
        "--dose-level",
        "--dose-percent",
        "--reduce-by",
        "--confirm",
        "--round",
        "--formulary",
        "--vial-round",
        "--round-threshold",
        "--band",
        "--strict",
    ],
)
def test_cohort_and_supply_document_the_clinical_options(runner, option: str) -> None:  # type: ignore[no-untyped-def]
    assert option in runner.invoke(cli, ["cohort", "--help"]).stdout
    assert option in runner.invoke(cli, ["supply", "--help"]).stdout
    assert "--prior" not in runner.invoke(cli, ["cohort", "--help"]).stdout


# ---- the runner: sinks, progress, names -------------------------------------------------------------------


def test_run_hands_each_chunk_to_the_sink_and_reports_progress() -> None:
    from regimen.engine.cohort import run

    class Sink:
        def __init__(self) -> None:
            self.parts: list[tuple[int, int]] = []

        def write(self, rows: pd.DataFrame, part: int) -> None:
            self.parts.append((part, rows[ID_COLUMN].nunique()))

    roster = pd.DataFrame({"patient_id": [f"p{i}" for i in range(5)], "weight_kg": ["70", "80", "x", "60", "75"]})
    sink, calls = Sink(), []
    summary = run(
        load("oblimersen-mono"),
        roster,
        sink,
        engine=PandasEngine(chunk_size=2),
        progress=lambda done, total: calls.append((done, total)),
    )
    assert sink.parts == [(0, 2), (1, 1), (2, 1)]  # p2 ('x') rejected, never written
    assert calls == [(0, 5), (2, 5), (4, 5), (5, 5)]
    assert (summary.patients_in, summary.expanded, summary.rejected) == (5, 4, 1)
    assert summary.errors.to_dict("records") == [
        {"row": 3, "patient_id": "p2", "column": "weight_kg", "problem": summary.errors["problem"].iloc[0]}
    ]


def test_problems_and_notes_name_inputs_by_roster_column_else_by_the_callers_names(
    runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """A library message names an input with option(): a roster shows its column, the rest by the caller's names
    (parameter names in Python, flags on the command line)."""
    import regimen.engine.cohort.roster as roster_module
    from regimen.errors import PatientError, option

    original = roster_module.read_measure

    def read_measure(value, m):  # type: ignore[no-untyped-def]
        if str(value) == "999":
            raise PatientError(
                f"weight 999 is not plausible: check {option('weight')} or run without {option('strict')}"
            )
        return original(value, m)

    monkeypatch.setattr(roster_module, "read_measure", read_measure)
    roster = pd.DataFrame(
        {"patient_id": ["a", "b"], "weight_kg": ["70", "999"], "bsa_m2": ["1.8", "1.8"], "age": ["45", "45"]}
    )
    result = cohort(load("cenersen-arm3"), roster, options=ClinicalOptions(strict=True))
    assert result.errors["problem"].tolist() == ["weight 999 is not plausible: check weight_kg or run without strict"]
    assert any(n.startswith("strict: patients whose plans carry a warning") for n in result.notes)
    roster.to_csv(tmp_path / "roster.csv", index=False)
    cli_run = runner.invoke(
        cli, ["cohort", "cenersen-arm3", str(tmp_path / "roster.csv"), "-o", str(tmp_path / "out.csv"), "--strict"]
    )
    assert cli_run.exit_code == 3, cli_run.output
    assert "--strict: patients whose plans carry a warning" in cli_run.output
    errors = list(csv.DictReader((tmp_path / "out.errors.csv").open()))
    assert errors[0]["problem"] == "weight 999 is not plausible: check weight_kg or run without --strict"


def test_library_errors_are_not_worded_as_flags() -> None:
    roster = pd.DataFrame({"patient_id": ["a"], "weight_kg": ["70"], "bsa_m2": ["1.8"], "age": ["45"]})
    with pytest.raises(CohortError) as refused:
        cohort(GOG158, roster)
    assert "--" not in str(refused.value) and "gfr_mlmin" in str(refused.value)
    with pytest.raises(CohortError) as missing:
        cohort(load("cenersen-arm3"), roster.drop(columns=["bsa_m2"]))
    assert "BSA by bsa_formula" in str(missing.value) and "--" not in str(missing.value)


def test_the_engine_imports_neither_click_nor_the_export_layer() -> None:
    import subprocess
    import sys

    code = (
        "import sys, regimen.engine.cohort, regimen.engine.supply; "
        "print(sorted(m for m in sys.modules if m == 'click' or m.startswith('regimen.export')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_a_pumps_second_day_in_a_cohort_is_its_22_hours() -> None:
    """Issue 29: mFOLFOX6's 46 h pump runs 24 h on day 1 and 22 h on day 2. At 1.8 m²: 2,400 mg/m² x 1.8 m² =
    4,320 mg over 46 h = 93.913... mg/h; x 22 h = 95,040/46 = 2,066.087 mg (not 24 h's 2,253.9 mg), made the
    vectorised way for every cycle, and the Infusion's own rule says the same."""
    from regimen.model import Infusion

    assert [Infusion(1, Fraction(46), k, 2).hours_today for k in (1, 2)] == [24, 22]
    roster = pd.DataFrame({"patient_id": ["a", "b"], "bsa_m2": ["1.8", "1.8"], "age": ["60", "61"]})
    result = cohort(load("mfolfox6"), roster)
    assert not any("one patient at a time" in n for n in result.notes), result.notes
    pump = result.frame[result.frame["component"] == "fluorouracil-pump"]
    second = pump[pump["infusion_day"] == 2]
    assert len(second) == 24 and set(second["duration_h"]) == {22.0}  # 12 cycles, two patients
    # 95,040/46 = 47,520/23 exactly, shown to 4 significant figures as a single plan shows it
    assert set(second["dose_exact"]) == {"47520/23"} and set(second["dose"]) == {2066.0}


#: Rosters with each patient's kidney values, for the regimens with renal tables (capecitabine in CAPOX; cisplatin in
#: cisplatin-etoposide). Cockcroft–Gault at 70 kg: (140 − 70) × 70 / (72 × 1.5) = 45.37 mL/min for a man of 70
#: (capecitabine 30–50 mL/min: 75 % of 1,000 mg/m² × 1.8 m² = 1,350 mg; cisplatin 45 to under 60: 80 %), × 0.85 =
#: 38.56 for a woman (cisplatin, below 45: left out); 14.17 for a woman of 80 with 3.5 mg/dL (capecitabine
#: contraindicated, left out); a measured GFR of 40; a creatinine without a sex (CAPOX: 75 % for either sex; EP: the
#: sexes' doses differ, the row rejected); none.
KIDNEY_ROSTER = [
    {"patient_id": "m70", "age": "70", "sex": "male", "scr_mgdl": "1.5", "gfr_mlmin": ""},
    {"patient_id": "f70", "age": "70", "sex": "female", "scr_mgdl": "1.5", "gfr_mlmin": ""},
    {"patient_id": "f80", "age": "80", "sex": "female", "scr_mgdl": "3.5", "gfr_mlmin": ""},
    {"patient_id": "g40", "age": "55", "sex": "", "scr_mgdl": "", "gfr_mlmin": "40"},
    {"patient_id": "nosex", "age": "70", "sex": "", "scr_mgdl": "1.5", "gfr_mlmin": ""},
    {"patient_id": "none", "age": "50", "sex": "male", "scr_mgdl": "", "gfr_mlmin": ""},
]


@pytest.mark.parametrize("regimen_id", ["capox", "cisplatin-etoposide"])
def test_a_rosters_kidney_values_change_the_doses_as_they_do_in_regimen_expand(regimen_id: str) -> None:
    """A roster's scr_mgdl (with age, sex and weight_kg) or gfr_mlmin: each patient's renal band applied, as
    'regimen expand --scr/--gfr' applies it. Before, a cohort read them for AUC dosing only and planned every patient
    at the full dose: capecitabine 1,800 mg twice a day for the man of 70, whose plan gives 1,350 mg."""
    rows = [{**r, "weight_kg": "70", "bsa_m2": "1.8", "start_date": "2026-01-05"} for r in KIDNEY_ROSTER]
    result = cohort(load(regimen_id), pd.DataFrame(rows))
    # a creatinine without the sex, where the sexes' renal doses differ (cisplatin: left out below 45 mL/min, 80 %
    # above): 'regimen expand' shows each sex's doses; a cohort's rows are one plan, so the row is rejected, saying so
    refused = result.errors.to_dict("records")
    if regimen_id == "capox":
        assert refused == []
    else:
        assert [(e["patient_id"], e["problem"]) for e in refused] == [
            (
                "nosex",
                "the doses depend on a value this row does not give: some are given only if sex male; fill in sex",
            )
        ]
    got = _by_patient(_cohort_csv(result.frame), drop_id=True)
    for row in rows:
        if row["patient_id"] in {e["patient_id"] for e in refused}:
            assert row["patient_id"] not in got
            continue
        assert got.get(row["patient_id"], []) == _expected(regimen_id, row), row["patient_id"]
    first = {pid: [r for r in rs if r["drug"] in ("capecitabine", "cisplatin")][:1] for pid, rs in got.items()}
    if regimen_id == "capox":
        assert [r["dose"] for r in first["m70"]] == ["1350"] and [r["dose"] for r in first["none"]] == ["1800"]
        assert first["f80"] == []  # contraindicated below 30 mL/min: left out, with a warning
    else:
        # cisplatin 80 mg/m² × 1.8 m² = 144 mg; 45.37 mL/min is in 45 to under 60: 80 % of it, 115.2 mg
        assert [r["dose"] for r in first["m70"]] == ["115.2"]
        assert first["f70"] == [] and first["g40"] == []  # below 45 mL/min: avoided, left out
    warned = {pid for pid, rs in got.items() if "sex not given" in rs[0]["plan_warnings"]}
    if regimen_id == "capox":  # 38.56 if female, 45.37 if male: both 30–50 mL/min, 75 % whatever the sex
        assert [r["dose"] for r in first["nosex"]] == ["1350"] and not warned
    else:  # cisplatin avoided below 45 mL/min if female, 80 % if male: rejected above
        assert "nosex" not in first and not warned
    assert not any("kidney function not checked" in rs[0]["plan_warnings"] for rs in got.values())
    assert any("applied by each patient's plan from the roster's scr_mgdl" in n for n in result.notes)
    # the same regimen without kidney values in the roster: said, and every patient at the full dose
    plain = cohort(load(regimen_id), pd.DataFrame(rows).drop(columns=["scr_mgdl", "gfr_mlmin"]))
    assert any(n.startswith("kidney function not checked") and "add scr_mgdl" in n for n in plain.notes)
