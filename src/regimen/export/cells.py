"""CSV cells a spreadsheet will not run: text that begins like a formula is written as text (issue 11.4).

A CSV file is opened in a spreadsheet, which runs a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and, in some
programs, a tab or a carriage return) as a formula: a patient id ``=HYPERLINK(...)`` or ``+cmd|...`` from a roster
would be run on the pharmacist's machine. As OWASP recommends (CSV Injection), such a cell is written with a single
quote in front (``'=HYPERLINK(...)``), which spreadsheets show as text. A number (``-5``, ``+1.5e3``) is a number, not
a formula, and stays as it is. The full-width forms of the four signs are treated the same, as some spreadsheets read
them as the signs. Every CSV file regimen writes goes through :func:`safe_cell` or :func:`safe_frame`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

#: The first characters that make a spreadsheet read a cell as a formula.
FORMULA_STARTS = "=+-@\t\r\uff1d\uff0b\uff0d\uff20"
_STARTS = re.compile("[" + re.escape(FORMULA_STARTS) + "]")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def safe_cell(value: Any) -> Any:
    """``value``, or a text that begins like a formula with a single quote in front (a number stays a number)."""
    if isinstance(value, str) and _STARTS.match(value) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def safe_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A CSV row (column -> cell) with :func:`safe_cell` applied to each cell."""
    return {k: safe_cell(v) for k, v in record.items()}


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with :func:`safe_cell` applied to every text cell (columns of numbers are numbers).

    Each distinct text is checked once (cohort columns repeat a few texts over millions of rows)."""
    import pandas as pd

    out = frame
    for name in frame.columns:
        column = frame[name]
        if column.dtype.kind not in "OSUT" and str(column.dtype) not in ("string", "str"):
            continue
        codes, uniques = pd.factorize(column, use_na_sentinel=True)
        fixed = {i: safe_cell(u) for i, u in enumerate(uniques) if isinstance(u, str) and _STARTS.match(u)}
        fixed = {i: v for i, v in fixed.items() if v != uniques[i]}
        if fixed:
            if out is frame:
                out = frame.copy(deep=False)
            cells = column.astype(object).to_numpy(copy=True)
            for i, v in fixed.items():
                cells[codes == i] = v
            out[name] = pd.Series(cells, index=column.index, dtype=object)
    return out


__all__ = ["FORMULA_STARTS", "safe_cell", "safe_frame", "safe_record"]
