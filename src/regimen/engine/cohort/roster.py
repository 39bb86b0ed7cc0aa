"""Rosters: reading one, its columns (each distinct value read and checked once), and repeated patient ids.

A roster is a table with one row per patient: ``patient_id``, the body values a regimen needs in columns whose
names carry their units (:data:`COLUMNS`), and an optional ``start_date``. Cells are read exactly as
``regimen expand`` reads its patient values (:func:`regimen.clinical.patient.read_measure`, same limits).
A problem with a row is a *problem record* ``(row, patient_id, column, problem)``: the row is rejected and
reported, never dropped silently.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regimen.clinical.patient import AGE, BSA, GFR, HEIGHT, WEIGHT, Measure, read_measure, read_scr
from regimen.errors import PatientError, RegimenError
from regimen.quantities.limits import LimitError, check_date, fraction_from

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd
    import pyarrow as pa

ID_COLUMN = "patient_id"
START_COLUMN = "start_date"
#: Roster column for each patient value the engine knows (units in the names).
#: ``scr_mgdl`` (serum creatinine, mg/dL or with its unit, as ``--scr``) and ``gfr_mlmin`` (a measured GFR, as
#: ``--gfr``) are read for regimens dosed by a target AUC (Calvert) and for regimens with renal dose tables.
COLUMNS: dict[str, str] = {
    "weight": "weight_kg",
    "bsa": "bsa_m2",
    "age": "age",
    "height": "height_cm",
    "sex": "sex",
    "scr": "scr_mgdl",
    "gfr": "gfr_mlmin",
}
MEASURES: dict[str, Measure] = {"weight": WEIGHT, "bsa": BSA, "age": AGE, "height": HEIGHT, "gfr": GFR}
#: Columns of the problems of a run (the errors file); the Dask engine puts ``file`` first.
ERROR_COLUMNS: tuple[str, ...] = ("row", ID_COLUMN, "column", "problem")

#: One problem with one roster row: (row, 1 = the first data row; patient_id; column, or '' for the whole row;
#: the problem, with the inputs it names marked by :func:`regimen.errors.option`).
RowProblem = tuple[int, str, str, str]

_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class CohortError(RegimenError):
    """A roster that cannot be used at all (a missing column, an unreadable file)."""


def column_names(other: Callable[[str], str] | None = None) -> Callable[[str], str]:
    """How a cohort names a caller's input in problems and notes: by its roster column where it has one
    (weight -> weight_kg, bsa -> bsa_m2, height -> height_cm, age, sex), else by ``other`` (default: the
    parameter name; the command line gives its flags)."""

    def name(key: str) -> str:
        column = COLUMNS.get(key)
        if column is not None:
            return column
        return other(key) if other is not None else key

    return name


# ---- files ---------------------------------------------------------------------------------------


def file_kind(path: str | Path, what: str) -> str:
    """'csv' or 'parquet', by the file name's extension; ``what`` names the file in the error."""
    suffix = Path(path).suffix.lower()
    if suffix in (".csv", ".parquet", ".pq"):
        return "parquet" if suffix != ".csv" else "csv"
    raise CohortError(f"{what} {path}: use a .csv or .parquet file name")


def need_pyarrow() -> None:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise CohortError("Parquet needs pyarrow: pip install 'regimen-schedules[parquet]'") from None


#: The roster name that means standard input (``regimen cohort REGIMEN - -o out.csv``): CSV.
STDIN = "-"


#: A column read_roster adds when some CSV lines could not be read as rows (a field too many or too few): the
#: line's problem, or ''. The runner rejects those rows with it and drops the column; it never reaches an output.
ROW_PROBLEM = "__line_problem__"


def read_roster(path: str | Path) -> pd.DataFrame:
    """A roster from CSV (every cell read as text, nothing guessed) or Parquet; ``-``: CSV from standard input.

    A CSV line with more or fewer fields than the header does not stop the run: it becomes a row rejected with its
    problem (column :data:`ROW_PROBLEM`). A file that is not CSV or Parquet at all is one error."""
    import pandas as pd

    if str(path) == STDIN:
        return _read_csv(sys.stdin.buffer.read(), "standard input")
    p = Path(path)
    if not p.is_file():
        raise CohortError(f"{p}: no such roster file; check the path")
    if file_kind(p, "roster") == "csv":
        return _read_csv(p.read_bytes(), str(p))
    need_pyarrow()
    try:
        return pd.read_parquet(p)
    except Exception as exc:  # pyarrow's ArrowInvalid, OSError, ...: a truncated or foreign file
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CohortError(f"{p}: not a readable Parquet roster ({first[:200]}); check the file") from None


def _read_csv(data: bytes, name: str) -> pd.DataFrame:
    import io

    import pandas as pd

    if data.startswith(b"\xef\xbb\xbf"):  # a byte-order mark, as spreadsheets write UTF-8 CSV
        data = data[3:]
    options: dict[str, Any] = {"dtype": str, "keep_default_na": False, "na_filter": False, "skipinitialspace": True}
    try:
        return pd.read_csv(io.BytesIO(data), **options)
    except pd.errors.ParserError:
        return _read_csv_lines(data, name)  # some lines have a field too many: each becomes a rejected row
    except (UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise CohortError(
            f"{name}: not a readable CSV roster ({str(exc).strip().splitlines()[0]}); save it as "
            "UTF-8 CSV with a header row"
        ) from None


def _read_csv_lines(data: bytes, name: str) -> pd.DataFrame:
    """The slow, forgiving reading: line by line with the csv module; a line whose field count differs from the
    header's is kept as a row with its problem in :data:`ROW_PROBLEM`."""
    import csv
    import io

    import pandas as pd

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CohortError(
            f"{name}: not a readable CSV roster ({exc}); save it as UTF-8 CSV with a header row"
        ) from None
    try:
        lines = list(csv.reader(io.StringIO(text, newline=""), skipinitialspace=True))
    except csv.Error as exc:
        raise CohortError(
            f"{name}: not a readable CSV roster ({exc}); save it as UTF-8 CSV with a header row"
        ) from None
    if not lines:
        raise CohortError(f"{name}: the roster is empty; give a header row and one row per patient")
    header, body = lines[0], [line for line in lines[1:] if line]
    width = len(header)
    rows: list[list[str]] = []
    problems: list[str] = []
    for line in body:  # a short line's missing fields are empty cells, as pandas reads them
        rows.append((line + [""] * width)[:width])
        problems.append(
            f"the line has {len(line)} fields where the header has {width}: check for an unquoted comma"
            if len(line) > width
            else ""
        )
    frame = pd.DataFrame(rows, columns=header, dtype=str)
    frame[ROW_PROBLEM] = problems
    return frame


# ---- cells ---------------------------------------------------------------------------------------


def as_text(raw: object) -> str | None:
    """A roster cell as the text a person would have typed; None when empty."""
    if type(raw) is str:  # the usual cell, first: a roster has one per patient and column (issue 15)
        return raw.strip() or None
    if raw is None:
        return None
    if isinstance(raw, float):  # numpy float64 too; same reading as make_patient: repr, never binary noise
        if raw != raw:
            return None
        return repr(float(raw)) if raw not in (float("inf"), float("-inf")) else str(raw)
    if isinstance(raw, (dt.date, dt.datetime)):
        return raw.isoformat()
    text = str(raw).strip()
    return text or None


def _cell_text(raw: object) -> object:
    """A cell pandas cannot hash (a list or a struct from Parquet) as text that no reader accepts."""
    if isinstance(raw, (str, int, float, bool, dt.date)) or raw is None:
        return raw
    return f"<{type(raw).__name__} {str(raw)[:40]}>"


def read_number(text: str, m: Measure) -> Fraction:
    """A body value read and checked exactly as ``regimen expand`` reads --weight/--bsa/--age/--height."""
    if _PLAIN_NUMBER.fullmatch(text):  # the common case, without the unit machinery: same exact value
        try:
            value = fraction_from(text, f"{m.what} {text!r}")
        except LimitError as exc:
            raise PatientError(exc.message) from None
        return read_measure(value, m)[0]
    return read_measure(text, m)[0]


def read_creatinine(text: str) -> Fraction:
    """A serum creatinine read and checked exactly as ``regimen expand --scr`` reads it (mg/dL, or µmol/L)."""
    return read_scr(text)[0]


def read_date(text: str) -> dt.date:
    stem = text[:10] if len(text) > 10 and text[10:] in ("T00:00:00", " 00:00:00") else text
    if not _ISO_DATE.fullmatch(stem):
        raise PatientError(f"start date {text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-01-05")
    try:
        date = dt.date.fromisoformat(stem)
    except ValueError:
        raise PatientError(f"start date {text!r} does not exist: give a real calendar date (YYYY-MM-DD)") from None
    return check_date(date, "start date")  # the years expand's --start takes (1900-2999): one validation


@dataclass
class Column:
    """One roster column of a chunk: a code per patient (-1 = missing or invalid) and its distinct values."""

    codes: np.ndarray
    values: list[Any]


def distinct_cells(series: pd.Series) -> tuple[np.ndarray, list[Any]]:
    """Each cell's code (-1: empty, a missing value) and the distinct cells, in order of first appearance: what
    :func:`pandas.factorize` gives.

    Text that Arrow holds (every CSV roster's columns, a Parquet roster's text) is coded by Arrow itself and its
    distinct values made Python strings at once: pandas' factorize of such a column, then its distinct values
    taken one at a time, was a tenth of a small regimen's cohort (issue 29). A property test holds the two
    readings equal."""
    import numpy as np
    import pandas as pd

    if isinstance(series.dtype, (pd.StringDtype, pd.ArrowDtype)):
        import pyarrow as pa

        column: Any = pa.array(series.array)
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            encoded = column.dictionary_encode()  # nulls stay null: code -1
            codes = np.asarray(encoded.indices.fill_null(-1), dtype=np.int64)
            return codes, encoded.dictionary.to_pylist()
    try:
        found, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # list- or struct-typed Parquet cells are not hashable: read as their text, and refused
        found, uniques = pd.factorize(series.map(_cell_text), use_na_sentinel=True)
    return np.asarray(found, dtype=np.int64), list(uniques)


def read_column(
    series: pd.Series,
    reader: Callable[[str], Any],
    name: str,
    first_row: int,
    ids: PatientIds,
    problems: list[RowProblem],
    required: bool,
) -> Column:
    """Read each distinct value of ``series`` once with ``reader``; a value it refuses is a problem of each row
    holding it, and so is an empty cell when the column is ``required``."""
    import numpy as np

    codes, uniques = distinct_cells(series)
    values: list[Any] = []
    bad: dict[int, str] = {}
    for i, raw in enumerate(uniques):
        text = as_text(raw)
        if text is None:
            bad[i] = ""
            values.append(None)
            continue
        try:
            values.append(reader(text))
        except RegimenError as exc:
            bad[i] = exc.message
            values.append(None)
    missing = codes < 0
    if bad:
        empty = [i for i, msg in bad.items() if msg == ""]
        missing |= np.isin(codes, empty)
        for i, msg in bad.items():
            if msg:
                for pos in np.flatnonzero(codes == i):
                    problems.append((first_row + int(pos), ids[pos], name, msg))
        codes = np.where(np.isin(codes, list(bad)), -1, codes)
    if required:
        for pos in np.flatnonzero(missing):
            problems.append((first_row + int(pos), ids[pos], name, f"missing: this regimen needs {name}"))
    return Column(codes, values)


# ---- patient ids -----------------------------------------------------------------------------------


def require_ids(columns: Iterable[str], where: str = "") -> None:
    """Stop when a roster has no ``patient_id`` column (``where``: the file, for a roster of several)."""
    if ID_COLUMN not in columns:
        raise CohortError(
            f"{where + ': ' if where else ''}roster has no column {ID_COLUMN}: add one, with one row per patient"
        )


def cell_texts(series: pd.Series) -> list[str | None]:
    """Each cell of ``series`` as :func:`as_text` reads it, in order (a str cell read here, without the call)."""
    return [(v.strip() or None) if type(v) is str else as_text(v) for v in series.tolist()]


#: What :meth:`str.strip` removes from a cell: every character Python counts as whitespace (Arrow's own
#: ``utf8_trim_whitespace`` counts others; a test holds this to ``str.isspace`` over all of Unicode).
_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


class PatientIds:
    """A roster's patient ids, each as :func:`cell_texts` reads it, held as one Arrow string column (null: no id)
    rather than a Python string per patient.

    The speed seam of a run's ids (issue 29): a roster of text ids (every CSV roster, and a Parquet one of string
    ids) is trimmed, checked for repeats and for control characters, and handed to the output's id column in
    Arrow, in C; a Python string is made only for a row that is reported (``ids[pos]``). A column of other cells
    (numbers, dates, mixed) is read by :func:`cell_texts` itself. Invariant: ``ids[pos]`` is
    ``cell_texts(series)[pos] or ""`` for every row (a property test holds the two readings equal)."""

    __slots__ = ("distinct", "texts")

    def __init__(self, texts: pa.Array, distinct: bool = False) -> None:
        self.texts = texts  # pa.string(), null where the cell gives no id
        self.distinct = distinct  # known to hold no id twice (:meth:`repeated` found none), as any part of it

    @classmethod
    def read(cls, series: pd.Series) -> PatientIds:
        import pyarrow as pa
        import pyarrow.compute as pc

        try:
            column: Any = pa.array(series, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):  # mixed cells: one at a time
            column = None
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if column is None or not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            return cls(pa.array(cell_texts(series), type=pa.string()))
        trimmed = pc.utf8_trim(column, characters=_WHITESPACE).cast(pa.string())
        empty = pc.equal(trimmed, "")
        if pc.any(empty).as_py():  # a blank cell is no id, as cell_texts reads it
            trimmed = pc.if_else(empty, pa.nulls(len(trimmed), pa.string()), trimmed)
        return cls(trimmed)

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, pos: int | np.integer[Any]) -> str:
        """The id of row ``pos`` ('' when none)."""
        return self.texts[int(pos)].as_py() or ""

    def slice(self, lo: int, hi: int) -> PatientIds:
        return PatientIds(self.texts.slice(lo, max(hi - lo, 0)), self.distinct)

    def listed(self) -> list[str | None]:
        """The ids as :func:`cell_texts` gives them (for the rare rows reported one by one)."""
        return self.texts.to_pylist()  # type: ignore[no-any-return]

    def missing(self) -> np.ndarray:
        """Per row: whether it has no id."""
        import numpy as np

        if not self.texts.null_count:
            return np.zeros(len(self.texts), dtype=bool)
        return np.asarray(self.texts.is_null().to_numpy(zero_copy_only=False), dtype=bool)

    def taken(self, rows: np.ndarray) -> pa.Array:
        """The ids of ``rows`` (positions), as an Arrow string column."""
        return self.texts.take(rows)

    def repeated(self) -> dict[str, int]:
        """:func:`id_counts` of these ids: found in C when no id is repeated (the usual roster). Ids in increasing
        order (a roster exported sorted by id) are distinct, found in one pass comparing each with the next: a third
        of the time of hashing them all (issue 29)."""
        import pyarrow.compute as pc

        n = len(self.texts)
        if not self.texts.null_count and (
            n < 2 or pc.all(pc.less(self.texts.slice(0, n - 1), self.texts.slice(1))).as_py()
        ):
            self.distinct = True
            return {}
        distinct = len(pc.unique(self.texts)) - (1 if self.texts.null_count else 0)
        if distinct == len(self.texts) - self.texts.null_count:
            self.distinct = True
            return {}
        return id_counts(self.listed())

    def printable_ascii(self) -> bool:
        """Whether every id is printable ASCII (then none holds a control character): the bytes read in C."""
        import numpy as np

        a = self.texts
        buffers = a.buffers()
        if not len(a) or buffers[2] is None:
            return True
        offsets = np.frombuffer(buffers[1], dtype=np.int32)
        data = np.frombuffer(buffers[2], dtype=np.uint8)[offsets[a.offset] : offsets[a.offset + len(a)]]
        return bool(((data >= 0x20) & (data < 0x7F)).all())


def more_than_once(counts: pd.Series) -> dict[str, int]:
    """The ids of an id -> count series (``value_counts`` of ids read by :func:`as_text`) counted more than once."""
    return {str(i): int(n) for i, n in counts[counts > 1].items()}


def id_counts(ids: list[str | None]) -> dict[str, int]:
    """Patient ids that occur more than once in ``ids`` (a column's cells as :func:`cell_texts` reads them), with
    their counts."""
    distinct = set(ids)
    distinct.discard(None)
    if len(distinct) == len(ids) - ids.count(None):  # the usual roster: no id twice, found by a set at half the cost
        return {}
    import pandas as pd

    texts = pd.Series(ids, dtype=object).dropna()
    return more_than_once(texts[texts.duplicated(keep=False)].value_counts())  # counting only the repeated ones


def duplicate_problems(ids: PatientIds, first_row: int, counts: Mapping[str, int]) -> list[RowProblem]:
    """A problem for each row of ``ids`` (a part's ids) whose id is one of ``counts`` (ids repeated anywhere in the
    roster, with their counts: :func:`id_counts`). Every copy is rejected: none is preferred."""
    import numpy as np

    if not counts:
        return []
    import pandas as pd

    text = pd.Series(ids.listed(), dtype=object)
    mask = text.isin(list(counts)).to_numpy()
    return [
        (
            first_row + int(pos),
            str(text.iloc[pos]),
            ID_COLUMN,
            f"patient_id {text.iloc[pos]!r} appears {counts[text.iloc[pos]]} times: give each patient one row",
        )
        for pos in np.flatnonzero(mask)
    ]


#: Characters no patient id may hold: control characters (line breaks and tabs too), the line and paragraph
#: separators and the byte-order mark. An id is one line of every output that names it (CSV, tables, calendars).
_ID_CONTROLS = "[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]"


def id_problems(ids: PatientIds, first_row: int) -> list[RowProblem]:
    """A problem for each row whose patient_id holds a control character: the row is rejected, as an id that is not
    one line of text would break the lines of every output that names it."""
    import numpy as np
    import pandas as pd

    if ids.printable_ascii():  # the usual part: every byte a printable ASCII character, read in C
        return []
    texts = [t or "" for t in ids.listed()]
    if not re.search(_ID_CONTROLS, "".join(texts)):  # the usual chunk: none at all, found in one search
        return []
    text = pd.Series(texts, dtype=object)
    bad = text.str.contains(_ID_CONTROLS, regex=True).to_numpy(dtype=bool)
    return [
        (
            first_row + int(pos),
            "",
            ID_COLUMN,
            f"patient_id {text.iloc[pos]!r} holds a control character: give ids of printable characters",
        )
        for pos in np.flatnonzero(bad)
    ]


__all__ = [
    "COLUMNS",
    "ERROR_COLUMNS",
    "ID_COLUMN",
    "START_COLUMN",
    "CohortError",
    "PatientIds",
    "RowProblem",
    "column_names",
    "distinct_cells",
    "duplicate_problems",
    "file_kind",
    "id_counts",
    "id_problems",
    "more_than_once",
    "read_roster",
    "require_ids",
]
