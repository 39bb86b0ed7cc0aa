"""One row schema: a plan's frame, cohort frames (pandas and Dask), CSV and Parquet type and spell each column alike."""

from __future__ import annotations

import csv
import datetime as dt
import io
from fractions import Fraction
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from regimen import expand, expand_cohort, load, make_patient
from regimen.cli import cli
from regimen.clinical.prepare import ClinicalOptions
from regimen.engine.cohort import ID_COLUMN, OUTPUT_COLUMNS, cohort
from regimen.engine.row_frames import csv_text, empty_frame, frame_records, records_frame
from regimen.engine.rows import DTYPES, ROW_FIELDS, ROW_SCHEMA, csv_record
from regimen.export.frames import FrameWriter, arrow_schema, write_frame
from regimen.protocol.loader import amount

PATIENTS = [  # (regimen, roster row): dated and undated, variants (age > 60), continuous infusions, weight only
    ("cenersen-arm3", {"weight_kg": "70", "bsa_m2": "1.8", "age": "45", "start_date": "2026-01-05"}),
    ("cenersen-arm3", {"weight_kg": "82.3", "bsa_m2": "2.01", "age": "66", "start_date": ""}),
    ("oblimersen-dex", {"weight_kg": "64.5", "bsa_m2": "1.7", "age": "50", "start_date": "2026-03-30"}),
    ("oblimersen-mono", {"weight_kg": "91", "start_date": ""}),
]


def _plan_frame(regimen_id: str, row: dict[str, str], options: ClinicalOptions | None = None) -> pd.DataFrame:
    patient = make_patient(weight=row.get("weight_kg"), bsa=row.get("bsa_m2"), age=row.get("age"))
    start = dt.date.fromisoformat(row["start_date"]) if row.get("start_date") else None
    return expand(load(regimen_id), patient, start=start, options=options).to_dataframe()


def _cohort_frame(regimen_id: str, row: dict[str, str], **kwargs: Any) -> pd.DataFrame:
    frame = expand_cohort(load(regimen_id), pd.DataFrame([{ID_COLUMN: "p", **row}]), **kwargs)
    return frame.drop(columns=[ID_COLUMN])


@pytest.mark.parametrize(("regimen_id", "row"), PATIENTS)
def test_plan_frame_and_cohort_frame_have_the_same_columns_dtypes_and_values(
    regimen_id: str, row: dict[str, str]
) -> None:
    single = _plan_frame(regimen_id, row)
    many = _cohort_frame(regimen_id, row)
    assert list(single.columns) == list(many.columns) == list(ROW_FIELDS)
    assert single.dtypes.to_dict() == many.dtypes.to_dict() == {f.name: f.dtype for f in ROW_SCHEMA}
    pd.testing.assert_frame_equal(single, many, check_exact=True)


def test_the_same_with_clinical_options_and_row_warnings() -> None:
    # 5 mg steps cannot round idarubicin 21.6 mg within 5 %: left unrounded, with a warning on the row
    options = ClinicalOptions(round_to={"idarubicin": amount("5mg", "round_to")}, threshold=Fraction(5))
    row = PATIENTS[0][1]
    single = _plan_frame("cenersen-arm3", row, options)
    assert single["warnings"].str.contains("not rounded").any()  # a row warning, '; '-joined text
    pd.testing.assert_frame_equal(single, _cohort_frame("cenersen-arm3", row, options=options), check_exact=True)


def test_the_schema_types_date_as_datetime_counts_as_nullable_ints_and_warnings_as_text() -> None:
    assert {f.name: f.dtype for f in ROW_SCHEMA if f.kind != "text"} == {
        "cycle": "int64",
        "day": "int64",
        "course_day": "int64",
        "date": "datetime64[s]",
        "dose": "float64",
        "rate": "float64",
        "duration_h": "float64",
        "infusion_day": "Int64",
        "infusion_days": "Int64",
        "infusion_hours": "float64",
        "dose_number": "Int64",
        "doses_per_day": "Int64",
        "dose_exact_num": "int64",
        "dose_exact_den": "int64",
    }
    assert DTYPES["text"] == "object"
    frame = _plan_frame(*PATIENTS[0])
    assert frame["date"].dt.date.iloc[0] == dt.date(2026, 1, 5)
    assert frame["infusion_day"].iloc[0] == 1 and frame["infusion_day"].isna().any()
    assert isinstance(frame["warnings"].iloc[0], str)
    empty = empty_frame(OUTPUT_COLUMNS)
    assert list(empty.columns) == list(OUTPUT_COLUMNS) and empty["date"].dtype == "datetime64[s]"
    assert empty[ID_COLUMN].dtype == object


@pytest.mark.parametrize(("regimen_id", "row"), PATIENTS)
def test_regimen_expand_csv_and_cohort_csv_are_the_same_text(
    runner,
    tmp_path: Path,
    regimen_id: str,  # type: ignore[no-untyped-def]
    row: dict[str, str],
) -> None:
    args = ["--weight", row["weight_kg"]]
    for flag, column in (("--bsa", "bsa_m2"), ("--age", "age"), ("--start", "start_date")):
        if row.get(column):
            args += [flag, row[column]]
    expanded = runner.invoke(cli, ["expand", regimen_id, *args, "--format", "csv"])
    assert expanded.exit_code == 0, expanded.output
    roster = tmp_path / "roster.csv"
    pd.DataFrame([{ID_COLUMN: "p", **row}]).to_csv(roster, index=False)
    result = runner.invoke(cli, ["cohort", regimen_id, str(roster), "-o", str(tmp_path / "out.csv")])
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "out.csv").read_text(encoding="utf-8").splitlines(keepends=True)
    assert "".join(line.split(",", 1)[1] for line in lines) == expanded.stdout


def test_csv_text_spells_numbers_and_dates_as_regimen_expand_does() -> None:
    plan = expand(load("cenersen-arm3"), make_patient(weight="70", bsa="1.83", age="45"), start=dt.date(2026, 1, 5))
    frame = csv_text(plan.to_dataframe())
    text = frame.to_csv(index=False, lineterminator="\n")
    assert list(csv.DictReader(io.StringIO(text))) == [
        {k: "" if v is None else str(v) for k, v in csv_record(plan, r).items()} for r in plan.administrations
    ]
    idarubicin = frame[frame["drug"] == "idarubicin"].iloc[0]
    assert (idarubicin["dose"], idarubicin["rate"], idarubicin["date"]) == ("21.96", "", "2026-01-06")
    assert frame.iloc[0]["dose"] == "168"  # never 168.0
    undated = csv_text(expand(load("cenersen-arm3"), make_patient(weight="70", bsa="1.8", age="45")).to_dataframe())
    assert set(undated["date"]) == {""}


def test_frame_records_read_a_frame_back_as_the_csv_records() -> None:
    plan = expand(load("cenersen-arm3"), make_patient(weight="70.1", bsa="1.8", age="45"), start=dt.date(2026, 1, 5))
    records = [csv_record(plan, r) for r in plan.administrations]
    assert frame_records(plan.to_dataframe()) == records
    assert frame_records(records_frame(records)) == records


def test_json_keeps_its_contract() -> None:
    plan = expand(load("cenersen-arm3"), make_patient(weight="70", bsa="1.8", age="45"), start=dt.date(2026, 1, 5))
    first = plan.to_dict()["administrations"][0]
    assert first["date"] == "2026-01-05" and first["warnings"] == [] and first["dose"] == 168
    assert first["infusion_day"] == 1 and isinstance(first["infusion_day"], int)


def test_parquet_columns_have_the_schema_types_whatever_a_part_holds(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    roster = pd.DataFrame(
        {
            ID_COLUMN: ["a", "b"],
            "weight_kg": ["70", "80"],
            "bsa_m2": ["1.8", "2"],
            "age": ["45", "70"],
            "start_date": ["2026-01-05", ""],
        }
    )
    frame = cohort(load("cenersen-arm3"), roster).frame
    first = frame.iloc[:4].assign(rate_unit=None, warnings=None)  # a part whose text columns are all empty
    writer = FrameWriter(tmp_path / "out.parquet")
    writer.write(first, 0)
    writer.write(frame.iloc[4:], 1)
    writer.close()
    schema = pq.read_schema(tmp_path / "out.parquet")
    assert schema.field("date").type == pa.timestamp("ms")  # Parquet's coarsest timestamp holds datetime64[s]
    assert schema.field("rate_unit").type == pa.string() and schema.field("infusion_day").type == pa.int64()
    assert {f.name: f.type for f in arrow_schema(OUTPUT_COLUMNS)}["date"] == pa.timestamp("s")
    back = pd.read_parquet(tmp_path / "out.parquet")
    assert frame_records(back) == frame_records(pd.concat([first, frame.iloc[4:]], ignore_index=True))
    assert back["infusion_day"].dtype == "Int64" and back["date"].dtype.kind == "M"
    write_frame(empty_frame(OUTPUT_COLUMNS), tmp_path / "empty.parquet")
    assert pq.read_schema(tmp_path / "empty.parquet").names == list(OUTPUT_COLUMNS)


# ---- one field table (issue 25.2) ------------------------------------------------------------------------------

#: The JSON Schema type, pandas dtype and Arrow type each kind of column is given (written out here, not derived).
KIND_TYPES = {
    "text": ("string", "object", "string"),
    "int": ("integer", "int64", "int64"),
    "count": ("integer", "Int64", "int64"),
    "number": ("number", "float64", "double"),
    "date": ("string", "datetime64[s]", "timestamp[s]"),
}


def test_the_openapi_row_schema_is_the_field_table() -> None:
    from regimen.web.openapi import openapi

    row = openapi()["components"]["schemas"]["Administration"]
    assert list(row["properties"]) == list(ROW_FIELDS) and sorted(row["required"]) == sorted(ROW_FIELDS)
    for f in ROW_SCHEMA:
        prop = row["properties"][f.name]
        if f.listed:
            assert prop["type"] == "array", f.name
            continue
        expected = KIND_TYPES[f.kind][0]
        assert prop["type"] == ([expected, "null"] if f.nullable else expected), f.name
        assert prop["description"].startswith(f.description), f.name
    assert row["properties"]["date"]["format"] == "date" and row["properties"]["start"]["format"] == "date-time"
    assert row["properties"]["role"]["enum"] == ["anticancer", "supportive"]
    assert row["properties"]["duration_h"]["description"].endswith("(unit: h)")


def test_the_csv_header_the_arrow_schema_the_frame_and_the_json_keys_are_the_field_table(runner) -> None:  # type: ignore[no-untyped-def]
    """Every output's columns compared with the table: a field added to the table shows up in each, with its type."""
    pa = pytest.importorskip("pyarrow")
    result = runner.invoke(cli, ["expand", "capox", "--weight", "70", "--bsa", "1.8", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split(",") == [f.name for f in ROW_SCHEMA]
    schema = arrow_schema(ROW_FIELDS)
    assert schema.names == [f.name for f in ROW_SCHEMA]
    assert [str(t) for t in schema.types] == [KIND_TYPES[f.kind][2] for f in ROW_SCHEMA]
    assert schema.field("dose_exact_num").type == pa.int64()
    plan = expand(load("capox"), make_patient(weight="70", bsa="1.8"))
    frame = plan.to_dataframe()
    assert {k: str(v) for k, v in frame.dtypes.items()} == {f.name: KIND_TYPES[f.kind][1] for f in ROW_SCHEMA}
    record = plan.to_dict()["administrations"][0]
    assert list(record) == [f.name for f in ROW_SCHEMA]
    assert {f.name for f in ROW_SCHEMA if f.listed} == {k for k, v in record.items() if isinstance(v, list)}
    assert not {f.name for f in ROW_SCHEMA if not f.nullable and f.kind != "number"} & {
        k for k, v in record.items() if v is None
    }


def test_a_field_added_to_the_table_reaches_the_openapi_schema_and_the_frame() -> None:
    """The derivations take the table: a new field is described and typed with nothing else written."""
    from regimen.engine.rows import Field, row_json_schema

    extra = Field("dose_per_kg", "number", "the dose per kg of body weight", unit="mg/kg", nullable=True)
    described = row_json_schema((*ROW_SCHEMA, extra))
    assert described["properties"]["dose_per_kg"] == {
        "type": ["number", "null"],
        "description": "the dose per kg of body weight (unit: mg/kg)",
    }
    assert set(described["properties"]) - set(ROW_FIELDS) == {"dose_per_kg"}
    assert extra.dtype == "float64"


def _bundled_csv(regimen_id: str, runner: Any) -> str:
    # 70.3 kg and 1.83 m²: doses that do not all terminate (a 46 h pump split over 24 h and 22 h: 23rds)
    args = ["--weight", "70.3", "--bsa", "1.83", "--age", "45", "--start", "2026-12-01", "--format", "csv"]
    result = runner.invoke(cli, ["expand", regimen_id, *args])
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def test_every_bundled_regimens_exact_dose_is_two_integer_columns(runner) -> None:  # type: ignore[no-untyped-def]
    """Issue 26: ``dose_exact`` mixes "805.6" and "290016/115" in one column. ``dose_exact_num`` /
    ``dose_exact_den`` hold every row's exact dose as two integers in lowest terms, equal to the engine's dose to
    full precision, and a CSV reader types both columns as integers."""
    from math import gcd

    from tests.conftest import BUNDLED_IDS

    fractions_seen = 0
    for regimen_id in BUNDLED_IDS:
        text = _bundled_csv(regimen_id, runner)
        rows = list(csv.DictReader(io.StringIO(text)))
        plan = expand(load(regimen_id), make_patient(weight="70.3", bsa="1.83", age="45"), start=dt.date(2026, 12, 1))
        assert len(rows) == len(plan.administrations), regimen_id
        for row, adm in zip(rows, plan.administrations, strict=True):
            num, den = int(row["dose_exact_num"]), int(row["dose_exact_den"])
            assert den >= 1 and gcd(num, den) == 1, (regimen_id, row)
            assert Fraction(num, den) == adm.dose == Fraction(row["dose_exact"]), (regimen_id, row)
            fractions_seen += "/" in row["dose_exact"]
        frame = pd.read_csv(io.StringIO(text))
        assert (frame["dose_exact_num"].dtype, frame["dose_exact_den"].dtype) == ("int64", "int64"), regimen_id
    assert fractions_seen  # the check met doses that are not decimals, not only ones that are


def test_an_exact_dose_beyond_64_bits_is_refused_in_one_line_and_a_cohort_rejects_that_patient(
    runner,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    """A weight to 23 decimal places (30 significant digits are read) makes an exact dose whose denominator is
    1.25e23: beyond the 64-bit ``dose_exact_num`` / ``dose_exact_den``. The outputs refuse it in one line (a frame
    would otherwise fail with an OverflowError); a cohort rejects that patient and writes the others."""
    weight = "70.12345678901234567890123"
    result = runner.invoke(cli, ["expand", "cenersen-arm1", "--weight", weight, "--bsa", "1.8", "--format", "csv"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "fewer decimal places" in result.output and len(result.output.strip().splitlines()) == 1
    roster = tmp_path / "roster.csv"
    roster.write_text(f"patient_id,weight_kg,bsa_m2,age\na,{weight},1.8,45\nb,70,1.8,45\n", encoding="utf-8")
    errors = tmp_path / "errors.csv"
    out = tmp_path / "out.csv"
    args = ["cohort", "cenersen-arm1", str(roster), "-o", str(out), "--errors", str(errors)]
    result = runner.invoke(cli, args)
    assert result.exit_code == 3, result.output  # rows were rejected
    rejected = list(csv.DictReader(errors.open(encoding="utf-8")))
    assert [(r["patient_id"], "fewer decimal places" in r["problem"]) for r in rejected] == [("a", True)]
    written = pd.read_csv(out)
    assert set(written["patient_id"]) == {"b"} and written["dose_exact_num"].dtype == "int64"
