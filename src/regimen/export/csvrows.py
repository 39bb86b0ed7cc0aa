"""Frames of the row schema to CSV lines, each distinct cell written once: the cohort's CSV writer.

``write_rows(frame, handle)`` writes exactly the text of
``safe_frame(csv_text(frame)).to_csv(handle, index=False, header=False, lineterminator="\\n")``: numbers and
dates as ``regimen expand --format csv`` writes them (:func:`regimen.engine.row_frames.csv_text`), text a spreadsheet
would run made safe (:func:`regimen.export.spreadsheet.safe_text`), quoted by Python's :mod:`csv` rules, missing
values empty.

Why not pandas' ``to_csv``: a cohort's output repeats a few thousand distinct cells a million times (the same drug,
working and dose for every patient of one weight), and pandas formats and quotes every one of them, which was most
of a cohort run (issue 15: 9 of 15 s for 100,000 patients). Here each column is factorised, each distinct value is
formatted, made safe and quoted once, neighbouring columns are joined into segments while their distinct
combinations stay few (so ``main,1,2,2`` or a whole working is one string), and each line is the join of a few
segments. A frame this module does not know how to write (a column of another type, a single column) is written by
pandas, as before.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

from regimen.engine.row_frames import csv_text
from regimen.engine.rows import kind_of
from regimen.export.spreadsheet import safe_frame, safe_text

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

#: Lines formatted and written at a time: bounds the memory of the text to a few tens of MB.
LINES_PER_WRITE = 100_000


def write_rows(frame: pd.DataFrame, handle: IO[str]) -> None:
    """Write ``frame``'s rows (no header) to ``handle`` as CSV, each distinct cell formatted once."""
    if not len(frame):
        return
    columns = _columns(frame)
    if columns is None:
        safe_frame(csv_text(frame)).to_csv(handle, index=False, header=False, lineterminator="\n")
        return
    for text in _lines(_segments(columns, len(frame)), len(frame)):
        handle.write(text)


def _columns(frame: pd.DataFrame) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Per column: the code of each row's value and the CSV text of each code (the last one, -1, is ''); None when
    a column is of a type this writer does not format as pandas would."""
    import numpy as np
    import pandas as pd
    from pandas.api.types import is_datetime64_dtype, is_float_dtype, is_integer_dtype, is_string_dtype

    if frame.shape[1] < 2 or not frame.columns.is_unique:
        return None  # a lone empty cell is written '""' by the csv module; not worth a special case
    out: list[tuple[np.ndarray, np.ndarray]] = []
    for name in frame.columns:
        series = frame[name]
        kind = kind_of(str(name))
        dtype = series.dtype
        if kind == "date" and is_datetime64_dtype(dtype):
            fmt = _date
        elif kind == "number" and is_float_dtype(dtype):
            fmt = _number
        elif kind in ("int", "count") and is_integer_dtype(dtype):
            fmt = _integer
        elif kind == "text" and isinstance(dtype, pd.CategoricalDtype) and is_string_dtype(dtype.categories.dtype):
            # a cohort's coded text (:class:`pandas.Categorical`): its codes and distinct values are at hand
            texts = [_quoted(_text(u)) for u in dtype.categories]
            out.append((np.asarray(series.cat.codes, dtype=np.int64), np.asarray([*texts, ""], dtype=object)))
            continue
        elif kind == "text" and is_string_dtype(dtype):
            fmt = _text
        else:
            return None
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        texts = [_quoted(fmt(u)) for u in np.asarray(uniques, dtype=object)]
        out.append((np.asarray(codes, dtype=np.int64), np.asarray([*texts, ""], dtype=object)))
    return out


def _number(value: Any) -> str:
    """As :func:`~regimen.engine.row_frames.csv_text` writes a number (168, never 168.0), made safe as text is."""
    x = float(value)
    return str(safe_text(str(int(x)) if x.is_integer() else repr(x)))


def _date(value: Any) -> str:
    return str(safe_text(value.date().isoformat()))


def _integer(value: Any) -> str:
    return str(int(value))


def _text(value: Any) -> Any:
    return safe_text(value)  # a str; pandas hands any other object to the csv module as it is


#: Characters that make the csv module quote a cell (the delimiter, the quote, line ends).
_SPECIAL = frozenset(',"\r\n')


def _quoted(value: Any) -> str:
    """One cell as Python's csv module writes it in a row (quoted when it holds a comma, a quote or a line end)."""
    if type(value) is str and _SPECIAL.isdisjoint(value):
        return value  # written as it is: the csv module would not touch it
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow([value, ""])
    return buffer.getvalue()[:-2]  # the cell, without the ',' of the empty cell after it and the line end


def _segments(columns: list[tuple[np.ndarray, np.ndarray]], rows: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Neighbouring columns joined while their distinct combinations stay few: (codes, text of each code)."""
    import numpy as np
    import pandas as pd

    limit = max(4096, rows // 8)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    codes, texts = columns[0]
    codes = np.where(codes < 0, len(texts) - 1, codes)
    for more_codes, more_texts in columns[1:]:
        more_codes = np.where(more_codes < 0, len(more_texts) - 1, more_codes)
        width = len(more_texts)
        if len(texts) * width < 2**62:
            joined, pairs = pd.factorize(codes * width + more_codes)
            if len(pairs) <= limit:
                left, right = np.divmod(np.asarray(pairs, dtype=np.int64), width)
                codes, texts = np.asarray(joined, dtype=np.int64), texts[left] + "," + more_texts[right]
                continue
        out.append((codes, texts))
        codes, texts = more_codes, more_texts
    out.append((codes, texts))
    return out


def _lines(segments: list[tuple[np.ndarray, np.ndarray]], rows: int) -> Iterator[str]:
    """The CSV text, :data:`LINES_PER_WRITE` lines at a time."""
    for lo in range(0, rows, LINES_PER_WRITE):
        parts = [texts[codes[lo : lo + LINES_PER_WRITE]] for codes, texts in segments]
        lines = parts[0].tolist() if len(parts) == 1 else [",".join(cells) for cells in zip(*parts, strict=True)]
        yield "\n".join(lines) + "\n"


__all__ = ["LINES_PER_WRITE", "write_rows"]
