"""Rosters: reading one, its columns (each distinct value read and checked once), and repeated patient ids.

A roster is a table with one row per patient: ``patient_id``, the body values a regimen needs in columns whose
names carry their units (:data:`COLUMNS`), and an optional ``start_date``. Cells are read exactly as
``regimen expand`` reads its patient values (:func:`regimen.clinical.patient.read_measure`, same limits).
A problem with a row is a *problem record* ``(row, patient_id, column, problem)``: the row is rejected and
reported, never dropped silently.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regimen.clinical.patient import AGE, BSA, HEIGHT, WEIGHT, Measure, read_measure
from regimen.errors import PatientError, RegimenError
from regimen.quantities.limits import CONTROL_CHARACTERS, MAX_VALUE_TEXT, check_date

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

ID_COLUMN = "patient_id"
START_COLUMN = "start_date"
#: Roster column for each patient value the engine knows (units in the names).
COLUMNS: dict[str, str] = {"weight": "weight_kg", "bsa": "bsa_m2", "age": "age", "height": "height_cm", "sex": "sex"}
MEASURES: dict[str, Measure] = {"weight": WEIGHT, "bsa": BSA, "age": AGE, "height": HEIGHT}
#: Columns of the problems of a run (the errors file); the Dask engine puts ``file`` first.
ERROR_COLUMNS: tuple[str, ...] = ("row", ID_COLUMN, "column", "problem")

#: One problem with one roster row: (row, 1 = the first data row; patient_id; column, or '' for the whole row;
#: the problem, with the inputs it names marked by :func:`regimen.errors.option`).
RowProblem = tuple[int, str, str, str]

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


#: ``frame.attrs`` key of the problems of whole rows found while reading a roster: {row position: problem}. A CSV line
#: with more or fewer fields than the header is such a row: rejected and reported, never the end of the run.
ROW_PROBLEMS = "regimen_row_problems"


def read_roster(path: str | Path) -> pd.DataFrame:
    """A roster from CSV (every cell read as text, nothing guessed) or Parquet; ``-``: CSV from standard input.

    A file that is not a roster of its kind (not CSV text, not Parquet, cut short) is one :class:`CohortError`; a
    line of a CSV file with the wrong number of fields is a rejected row (:data:`ROW_PROBLEMS`)."""
    import pandas as pd

    if str(path) == STDIN:
        return _read_csv(sys.stdin.buffer.read(), "standard input")
    p = Path(path)
    if not p.is_file():
        raise CohortError(f"{p}: no such roster file; check the path")
    if file_kind(p, "roster") == "csv":
        return _read_csv(p.read_bytes(), str(p))
    need_pyarrow()
    import pyarrow as pa

    try:
        return pd.read_parquet(p)
    except (pa.ArrowException, OSError, ValueError, TypeError) as exc:
        raise unreadable_parquet(p, exc) from None


def unreadable_parquet(path: str | Path, exc: BaseException) -> CohortError:
    """The one line for a file that is not a readable Parquet roster (truncated, another format, unsupported types)."""
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
    return CohortError(f"{path}: not a readable Parquet roster ({first}); write it again as Parquet, or use CSV")


def _read_csv(data: bytes, name: str) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, na_filter=False, skipinitialspace=True)
    except pd.errors.ParserError as exc:
        if "fields" not in str(exc):
            raise _unreadable_csv(name, exc) from None
        return _read_csv_by_line(data, name)  # a line with too many or too few fields: that row is rejected
    except (UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise _unreadable_csv(name, exc) from None


def _unreadable_csv(name: str, exc: BaseException) -> CohortError:
    return CohortError(
        f"{name}: not a readable CSV roster ({str(exc).strip().splitlines()[0][:200]}); save it as "
        "UTF-8 CSV with a header row"
    )


def _read_csv_by_line(data: bytes, name: str) -> pd.DataFrame:
    """A CSV roster whose lines do not all have the header's fields: each such line is a row whose problem is kept
    in ``attrs[ROW_PROBLEMS]`` (its cells as far as the header goes), as pandas would read the others."""
    import csv

    import pandas as pd

    try:
        lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), skipinitialspace=True))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _unreadable_csv(name, exc) from None
    header = lines[0]
    width = len(header)
    body: list[list[str]] = []
    problems: dict[int, str] = {}
    for line in lines[1:]:
        if not line:
            continue  # a blank line, as pandas skips it
        if len(line) != width:
            problems[len(body)] = f"this line has {len(line)} fields and the header {width}: fix the line"
            line = (line + [""] * width)[:width]
        body.append(line)
    frame = pd.DataFrame(body, columns=header, dtype=str)
    frame.attrs[ROW_PROBLEMS] = problems
    return frame


# ---- cells ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NotAValue:
    """A cell that holds no single value (a list or a struct of a Parquet column): a problem of its row."""

    kind: str


def is_value(raw: object) -> bool:
    """Whether a cell holds one value (text, a number, a date, or nothing) rather than a list, array or struct."""
    return raw is None or isinstance(raw, (str, int, float, dt.date, NotAValue)) or getattr(raw, "ndim", None) == 0


def _values(series: pd.Series) -> pd.Series:
    """``series`` with each cell that is not one value replaced by a :class:`NotAValue` (hashable, and refused)."""
    return series.map(lambda v: v if is_value(v) else NotAValue(kind_of_cell(v)))


def kind_of_cell(raw: object) -> str:
    """'struct' for a mapping, else 'list' (a list, an array): what a cell holds instead of one value."""
    return "struct" if isinstance(raw, Mapping) else "list"


def as_text(raw: object) -> str | None:
    """A roster cell as the text a person would have typed; None when empty (or not one value)."""
    if raw is None or not is_value(raw) or isinstance(raw, NotAValue):
        return None
    if isinstance(raw, float):  # numpy float64 too; same reading as make_patient: repr, never binary noise
        if raw != raw:
            return None
        return repr(float(raw)) if raw not in (float("inf"), float("-inf")) else str(raw)
    if isinstance(raw, (dt.date, dt.datetime)):
        return raw.isoformat()
    text = str(raw).strip()
    return text or None


def read_number(text: str, m: Measure) -> Fraction:
    """A body value read and checked by the code that reads ``regimen expand``'s --weight/--bsa/--age/--height: the
    same limits and the same messages (a roster has no shortcut around them)."""
    return read_measure(text, m)[0]


def read_date(text: str) -> dt.date:
    stem = text[:10] if len(text) > 10 and text[10:] in ("T00:00:00", " 00:00:00") else text
    if not _ISO_DATE.fullmatch(stem):
        raise PatientError(f"start date {text!r} is not a date: write it as YYYY-MM-DD, e.g. 2026-01-05")
    try:
        date = dt.date.fromisoformat(stem)
    except ValueError:
        raise PatientError(f"start date {text!r} does not exist: give a real calendar date (YYYY-MM-DD)") from None
    return check_date(date, "start date")  # the years 'regimen expand --start' takes


@dataclass
class Column:
    """One roster column of a chunk: a code per patient (-1 = missing or invalid) and its distinct values."""

    codes: np.ndarray
    values: list[Any]


def read_column(
    series: pd.Series,
    reader: Callable[[str], Any],
    name: str,
    first_row: int,
    ids: list[str],
    problems: list[RowProblem],
    required: bool,
) -> Column:
    """Read each distinct value of ``series`` once with ``reader``; a value it refuses is a problem of each row
    holding it, and so is an empty cell when the column is ``required``."""
    import numpy as np
    import pandas as pd

    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:  # unhashable cells: lists or structs of a Parquet column
        codes, uniques = pd.factorize(_values(series), use_na_sentinel=True)
    codes = np.asarray(codes, dtype=np.int64)
    values: list[Any] = []
    bad: dict[int, str] = {}
    for i, raw in enumerate(uniques):
        if isinstance(raw, NotAValue):
            bad[i] = f"{name} holds a {raw.kind}, not one value: give one value per cell"
            values.append(None)
            continue
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


def more_than_once(counts: pd.Series) -> dict[str, int]:
    """The ids of an id -> count series (``value_counts`` of ids read by :func:`as_text`) counted more than once."""
    return {str(i): int(n) for i, n in counts[counts > 1].items()}


def id_counts(ids: pd.Series) -> dict[str, int]:
    """Patient ids that occur more than once in ``ids``, with their counts."""
    return more_than_once(ids.map(as_text).dropna().value_counts())


def duplicate_problems(ids: pd.Series, first_row: int, counts: Mapping[str, int]) -> list[RowProblem]:
    """A problem for each row of ``ids`` whose id is one of ``counts`` (ids repeated anywhere in the roster, with
    their counts: :func:`id_counts`). Every copy is rejected: none is preferred."""
    import numpy as np

    if not counts:
        return []
    text = ids.map(as_text)
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


def row_problems(roster: pd.DataFrame, first_row: int) -> list[RowProblem]:
    """Problems of whole rows of a roster part: a CSV line with the wrong number of fields (found when it was read,
    :data:`ROW_PROBLEMS`), and a patient_id that is not one line of text of at most MAX_VALUE_TEXT characters (a
    control character in an id would break the lines of every output that names it)."""
    import numpy as np

    out: list[RowProblem] = []
    found: Mapping[int, str] = roster.attrs.get(ROW_PROBLEMS) or {}
    ids = roster[ID_COLUMN] if ID_COLUMN in roster.columns else None
    text = ids.map(as_text) if ids is not None else None
    for pos, problem in found.items():
        at = pos - (first_row - 1)
        if 0 <= at < len(roster):
            out.append((first_row + at, "" if text is None else (text.iloc[at] or ""), "", problem))
    if ids is None or text is None or not len(roster):
        return out
    strings = text.fillna("").astype(str)
    bad_text = strings.str.contains(CONTROL_CHARACTERS, regex=True) | (strings.str.len() > MAX_VALUE_TEXT)
    not_value = ~ids.map(is_value).astype(bool)
    for i in np.flatnonzero((bad_text | not_value).to_numpy()):
        raw, shown = ids.iloc[i], strings.iloc[i]
        if not is_value(raw):
            problem = f"{ID_COLUMN} holds a {kind_of_cell(raw)}, not one value: give one id per row"
        elif len(shown) > MAX_VALUE_TEXT:
            problem = f"{ID_COLUMN} is {len(shown):,} characters long; at most {MAX_VALUE_TEXT} are read"
        else:
            problem = f"{ID_COLUMN} {shown!r} holds a control character: give ids of printable characters"
        out.append((first_row + int(i), "", ID_COLUMN, problem))
    return out


__all__ = [
    "COLUMNS",
    "ERROR_COLUMNS",
    "ID_COLUMN",
    "ROW_PROBLEMS",
    "START_COLUMN",
    "CohortError",
    "NotAValue",
    "RowProblem",
    "column_names",
    "duplicate_problems",
    "file_kind",
    "id_counts",
    "more_than_once",
    "read_roster",
    "require_ids",
    "row_problems",
    "unreadable_parquet",
]
