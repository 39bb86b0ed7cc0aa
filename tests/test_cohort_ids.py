"""A roster read in columns (issue 29): :class:`regimen.engine.cohort.roster.PatientIds` gives every id exactly as
:func:`cell_texts` reads it, finds the same repeated ids and control characters, :func:`distinct_cells` codes a
column as pandas.factorize does, and a run with ids of every awkward kind writes the same rows and rejects the
same rows, in CSV and in Parquet."""

from __future__ import annotations

import re
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.helpers import examples

from regimen.cli import cli
from regimen.engine.cohort.roster import (
    _ID_CONTROLS,
    _WHITESPACE,
    PatientIds,
    cell_texts,
    distinct_cells,
    id_counts,
    id_problems,
)


def test_ids_are_trimmed_of_what_python_counts_as_whitespace() -> None:
    """Arrow's own whitespace differs from Python's: the ids are trimmed of exactly the characters str.strip()
    removes, every one of Unicode's."""
    assert set(_WHITESPACE) == {chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()}
    assert len(set(_WHITESPACE)) == len(_WHITESPACE)


# cells as a person's roster may hold them: spaces of every kind around or inside, control characters (some of
# them whitespace to Python: \x1c-\x1f, \x85), line separators, blanks, missing cells, repeats
_AWKWARD = st.sampled_from(
    ["", " ", "P1", "P1 ", " P1", "P\x1f", "\x1fP", "P\x85", "\u3000P2\u3000", "P\x011", "é", "P\u2028"]
)
_CELL = st.one_of(st.none(), _AWKWARD, st.text(max_size=4))


def _controls_by_hand(texts: list[str | None], first_row: int) -> list[int]:
    return [first_row + i for i, t in enumerate(texts) if t and re.search(_ID_CONTROLS, t)]


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(_CELL, max_size=30), st.sampled_from(["str", "object"]), st.integers(0, 30), st.integers(0, 30))
def test_ids_read_in_columns_are_the_ids_read_cell_by_cell(
    cells: list[str | None], dtype: str, lo: int, hi: int
) -> None:
    """Every id, the repeated ones with their counts, and the rows holding a control character: the same as
    reading each cell with cell_texts, for the whole roster and for any part of it."""
    series = pd.Series(cells, dtype=dtype)
    expected = cell_texts(series)
    ids = PatientIds.read(series)
    assert ids.listed() == expected
    assert [ids[i] for i in range(len(ids))] == [t or "" for t in expected]
    assert ids.missing().tolist() == [t is None for t in expected]
    assert ids.repeated() == id_counts(expected)
    assert ids.distinct == (id_counts(expected) == {})  # known from then on, by every part
    assert [p[0] for p in id_problems(ids, 1)] == _controls_by_hand(expected, 1)
    lo, hi = sorted((min(lo, len(cells)), min(hi, len(cells))))
    part = ids.slice(lo, hi)
    assert part.listed() == expected[lo:hi] and part.distinct == ids.distinct
    assert [p[0] for p in id_problems(part, 1 + lo)] == _controls_by_hand(expected[lo:hi], 1 + lo)


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.text(min_size=1, max_size=4).filter(lambda t: t.strip() == t and t), max_size=30), st.booleans())
def test_ids_in_order_are_distinct_and_repeats_in_order_are_counted(texts: list[str], repeat: bool) -> None:
    """A roster sorted by id (found distinct by comparing each id with the next): no repeat when each id is greater
    than the one before; an id given twice in a row, in order, is counted as any repeat is."""
    cells = sorted(set(texts))
    if repeat and cells:
        cells.insert(len(cells) // 2, cells[len(cells) // 2])
    ids = PatientIds.read(pd.Series(cells, dtype=object))
    assert ids.repeated() == id_counts(list(cells))
    assert ids.distinct == (len(set(cells)) == len(cells))


def test_sorted_ids_with_a_repeat_by_hand() -> None:
    ids = PatientIds.read(pd.Series(["P1", "P2", "P2", "P3"]))
    assert ids.repeated() == {"P2": 2} and not ids.distinct
    ids = PatientIds.read(pd.Series(["P1", "P2", "P3"]))
    assert ids.repeated() == {} and ids.distinct


def test_ids_that_are_not_text_are_read_as_cell_texts_reads_them() -> None:
    """Whole numbers, floats, dates and a mix of them (a Parquet roster's ids need not be text)."""
    import datetime as dt

    for cells in ([7, 12, 7], [1.5, float("nan"), 2.0], [dt.date(2026, 1, 5), None], ["P1", 3, 2.5, None]):
        series = pd.Series(cells)
        assert PatientIds.read(series).listed() == cell_texts(series), cells


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(_CELL, max_size=30), st.sampled_from(["str", "object", "string[pyarrow]", "string[python]"]))
def test_a_column_read_by_arrow_has_the_codes_and_values_factorize_gives(cells: list[str | None], dtype: str) -> None:
    """A roster column's distinct cells, coded by Arrow when Arrow holds the text: the codes (-1 for a missing
    cell) and distinct values, in order, of pandas.factorize."""
    series = pd.Series(cells, dtype=dtype)
    codes, uniques = distinct_cells(series)
    expected_codes, expected = pd.factorize(series, use_na_sentinel=True)
    assert codes.tolist() == expected_codes.tolist()
    assert uniques == list(expected) and all(type(u) is str for u in uniques)


@pytest.mark.parametrize("known", [True, False])
def test_ids_handed_to_the_rows_in_arrow_get_the_codes_factorize_gives(known: bool) -> None:
    """Distinct ids are each their own code, the column itself the dictionary (known distinct, or checked); repeated
    ones are numbered as pandas.factorize numbers them."""
    import numpy as np

    from regimen.engine.cohort.rowtable import _Columns, _RowTable

    counts = np.array([3, 0, 2, 1])
    for ids in (["P2", "P10", "=x", "P1"], ["a", "b", "a", "c"]):
        arrow, plain = _Columns(6, _RowTable()), _Columns(6, _RowTable())
        arrow.set_ids(pa.array(ids, pa.string()), counts, distinct=known and len(set(ids)) == len(ids))
        plain.set_per_patient("patient_id", np.asarray(ids, dtype=object), counts)
        assert arrow.own["patient_id"][0].tolist() == plain.own["patient_id"][0].tolist()
        codes, held = arrow.own["patient_id"]
        values = held.to_pylist() if isinstance(held, pa.Array) else held.values
        assert [values[c] for c in codes] == [i for i, n in zip(ids, counts, strict=True) for _ in range(n)]


HEADER = "patient_id,weight_kg,bsa_m2,age"
# the roster of the runs below: ids padded by spaces, one repeated only once trimmed, a blank one, one padded by
# characters that are whitespace to Python and control characters to the id check (\x1f, \x85), and one with a
# control character inside; hand-read: P0 and P4 are expanded, the rest rejected
ROSTER = [
    (" P0 ", "70", "1.8", "45"),  # 'P0'
    ("P1", "70", "1.8", "45"),  # 'P1', and again on the next row once trimmed: both copies rejected
    ("P1\u3000", "71", "1.8", "45"),
    ("  ", "70", "1.8", "45"),  # no id
    ("\x1fP4\x85", "72", "1.9", "50"),  # 'P4': Python strips \x1f and \x85 from the ends
    ("P\x855", "70", "1.8", "45"),  # a control character inside
]


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_run_rejects_repeated_blank_and_control_ids_and_writes_the_others(tmp_path: Path, kind: str) -> None:
    frame = pd.DataFrame(ROSTER, columns=HEADER.split(","), dtype=str)
    roster = tmp_path / f"roster.{kind}"
    if kind == "csv":
        frame.to_csv(roster, index=False)
    else:
        frame.to_parquet(roster, index=False)
    out = tmp_path / f"out.{kind}"
    result = CliRunner().invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(out)])
    assert result.exit_code == 3, (result.output, result.exception)
    assert "patients in = expanded + rejected: 6 = 2 + 4" in result.stderr
    errors = pd.read_csv(tmp_path / "out.errors.csv", keep_default_na=False, dtype=str)
    problems = dict(zip(errors["row"], errors["problem"], strict=True))
    assert sorted(problems) == ["2", "3", "4", "6"]
    assert "patient_id 'P1' appears 2 times" in problems["2"] and "appears 2 times" in problems["3"]
    assert problems["4"] == "missing: give every row a patient_id"
    assert "holds a control character" in problems["6"]
    rows = pd.read_csv(out, dtype=str) if kind == "csv" else pq.read_table(out).to_pandas()
    assert list(dict.fromkeys(rows["patient_id"])) == ["P0", "P4"]
    assert Counter(rows["patient_id"]) == {"P0": len(rows) // 2, "P4": len(rows) // 2}


def test_an_empty_parquet_roster_writes_an_empty_file(tmp_path: Path) -> None:
    roster = tmp_path / "roster.parquet"
    pq.write_table(pa.table({c: pa.array([], pa.string()) for c in HEADER.split(",")}), roster)
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    assert "patients in = expanded + rejected: 0 = 0 + 0" in result.stderr
    written = pq.read_table(out)
    assert written.num_rows == 0 and written.column_names[0] == "patient_id"


def test_a_roster_that_cannot_be_used_is_one_line_and_no_file(tmp_path: Path) -> None:
    """Text ids read in columns, but a column the regimen needs is missing: the one-line error, exit 1, nothing
    written (not a partial output, not a temporary file)."""
    roster = tmp_path / "roster.parquet"
    pq.write_table(pa.table({"patient_id": ["P0", "P1"], "weight_kg": ["70", "80"]}), roster)
    out = tmp_path / "out.parquet"
    result = CliRunner().invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(out)])
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0 and "roster has no column" in result.stderr
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roster.parquet"]
