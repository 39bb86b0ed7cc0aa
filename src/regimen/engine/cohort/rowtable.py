"""The run's row table and a chunk's output columns: every distinct output row of a cohort run, coded (text as
codes into dictionaries, numbers as arrays), and a chunk's rows as row numbers into it, handed on as a pandas frame
or an Arrow table built from the codes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from regimen.engine.cohort.roster import (
    ID_COLUMN,
)
from regimen.engine.row_frames import (
    Validity,
    arrow_array,
    arrow_schema,
    coded_schema,
    date_column,
    dictionary_array,
    rows_frame,
    valid_array,
    validity,
)
from regimen.engine.rows import DOSE_FIELDS, ROW_FIELDS, kind_of

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from regimen.engine.cohort.templates import _Template


#: Columns of a cohort's rows: ``patient_id``, then the row schema.
OUTPUT_COLUMNS: tuple[str, ...] = (ID_COLUMN, *ROW_FIELDS)
#: Kinds of row columns held as floats while they are filled (see :data:`regimen.engine.rows.ROW_SCHEMA`).
_NUMERIC = ("number", "count")

#: The columns a template row gives (all but the patient's id and the plan's warnings), by how they are held.
_ROW_TEXT = tuple(c for c in OUTPUT_COLUMNS if kind_of(c) == "text" and c not in (ID_COLUMN, "plan_warnings"))
_ROW_INTS = tuple(c for c in OUTPUT_COLUMNS if kind_of(c) == "int")
_ROW_FLOATS = tuple(c for c in OUTPUT_COLUMNS if kind_of(c) in _NUMERIC)  # NaN for missing; counts become Int64
#: Where each of :data:`DOSE_FIELDS` is held in a :class:`_RowTable`: ("text", its row of texts), ("int", ...) or
#: ("float", ...).
_DOSE_AT = tuple(
    ("text", _ROW_TEXT.index(name))
    if kind_of(name) == "text"
    else ("int", _ROW_INTS.index(name))
    if kind_of(name) == "int"
    else ("float", _ROW_FLOATS.index(name))
    for name in DOSE_FIELDS
)


class _Dictionary:
    """The distinct values of a text column and their codes (-1: missing), in order of first appearance."""

    __slots__ = ("index", "values")

    def __init__(self, values: list[str] | None = None) -> None:
        self.values: list[str] = values if values is not None else []
        self.index: dict[str, int] | None = None  # made when first asked (a chunk's ids never are)

    def codes(self, values: list[str | None]) -> list[int]:
        """:meth:`code` of each of ``values``: a cohort's new dose texts, thousands at once. The index holds the
        values in their order (each new one added to both at once), so a value new to it is numbered by the index's
        size as it is added, and the new ones are then the index's last."""
        if None in values:  # a missing value is -1, never in the dictionary
            return [self.code(v) for v in values]
        if self.index is None:
            self.index = {v: i for i, v in enumerate(self.values)}
        index = self.index
        numbered = [index.setdefault(v, len(index)) for v in cast("list[str]", values)]  # none missing (above)
        if len(index) > len(self.values):
            self.values.extend(list(index)[len(self.values) :])
        return numbered

    def code(self, value: str | None) -> int:
        if value is None:
            return -1
        if self.index is None:
            self.index = {v: i for i, v in enumerate(self.values)}
        found = self.index.get(value)
        if found is None:
            found = self.index[value] = len(self.values)
            self.values.append(value)
        return found


class _RowTable:
    """Every distinct output row of a run (a template row for one body value), as the output holds it: the codes
    of its texts (:data:`_ROW_TEXT`, into the table's dictionaries) and its numbers (:data:`_ROW_INTS`,
    :data:`_ROW_FLOATS`), one array per column. A cohort of a million patients has a few thousand such rows; a
    chunk's output is each column of this table taken at the chunk's row numbers, one numpy gather per column."""

    def __init__(self) -> None:
        import numpy as np

        self.size = 0
        # the columns as a chunk's Arrow columns are made from them (:meth:`arrow_columns`), and the size they are of
        self._arrow: tuple[int, list[_ArrowColumn]] | None = None
        # arrays that are the same in every chunk but for their length (:meth:`repeated`), made with the columns
        self._repeated: dict[Any, Any] = {}
        self.dictionaries = {c: _Dictionary() for c in _ROW_TEXT}
        self.texts = np.full((len(_ROW_TEXT), 256), -1, dtype=np.int32)
        self.ints = np.zeros((len(_ROW_INTS), 256), dtype=np.int64)
        self.floats = np.full((len(_ROW_FLOATS), 256), np.nan)

    def encode(self, records: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The records as the table holds rows: text codes, ints and floats, a column per record."""
        import numpy as np

        n = len(records)
        texts = np.array(
            [[self.dictionaries[c].code(r.get(c)) for r in records] for c in _ROW_TEXT], dtype=np.int32
        ).reshape(len(_ROW_TEXT), n)
        ints = np.array([[r[c] for r in records] for c in _ROW_INTS], dtype=np.int64).reshape(len(_ROW_INTS), n)
        floats = np.array(
            [[float("nan") if r.get(c) is None else r[c] for r in records] for c in _ROW_FLOATS], dtype=np.float64
        ).reshape(len(_ROW_FLOATS), n)
        return texts, ints, floats

    def dose_codes(self, fields: dict[str, Any]) -> tuple[int | float, ...]:
        """The :data:`DOSE_FIELDS` of a record as the table holds them, in the order of :data:`_DOSE_AT`: text as
        its code, an int as it is (a numerator is never taken through a float), a number as a float."""
        out: list[int | float] = []
        for name, (kind, _) in zip(DOSE_FIELDS, _DOSE_AT, strict=True):
            value = fields.get(name)
            if kind == "text":
                out.append(self.dictionaries[name].code(value))
            elif kind == "int":
                out.append(int(fields[name]))  # never missing (an exact dose's numerator or denominator)
            else:
                out.append(float("nan") if value is None else float(value))
        return tuple(out)

    def append(self, texts: np.ndarray, ints: np.ndarray, floats: np.ndarray) -> int:
        """Add coded rows (a column each, as :meth:`encode` gives them); the table's row number of the first."""
        import numpy as np

        first, self.size = self.size, self.size + texts.shape[1]
        if self.size > self.texts.shape[1]:  # grow by doubling
            cap = max(2 * self.texts.shape[1], self.size)

            def grown(held: np.ndarray) -> np.ndarray:
                # the rows held copied into new memory, once; the rest left as it comes: every reader takes the
                # first :attr:`size` rows (a target AUC adds a block per GFR, 100,000 rows over a run: the spare
                # rows filled, then the whole copied again by a concatenation, cost half of the appends' time)
                bigger = np.empty((held.shape[0], cap), dtype=held.dtype)
                bigger[:, :first] = held[:, :first]
                return bigger

            self.texts, self.ints, self.floats = grown(self.texts), grown(self.ints), grown(self.floats)
        self.texts[:, first : self.size] = texts
        self.ints[:, first : self.size] = ints
        self.floats[:, first : self.size] = floats
        return first

    def add(self, records: list[dict[str, Any]]) -> int:
        """Add the rows of ``records``; the table's row number of the first."""
        return self.append(*self.encode(records))

    def arrow_columns(self) -> list[_ArrowColumn]:
        """How each of the table's columns becomes an Arrow column of a chunk (:meth:`_Columns.arrow`), in the order
        text, ints, floats (:class:`_ArrowColumn`). Made again only when rows were added (a run adds rows in its
        first chunks, then seldom)."""
        import numpy as np
        import pyarrow as pa

        if self._arrow is not None and self._arrow[0] == self.size:
            return self._arrow[1]
        n = self.size
        held: list[tuple[np.ndarray, np.ndarray | None, pa.Array | None]] = []
        for k, c in enumerate(_ROW_TEXT):
            codes = self.texts[k, :n]
            held.append((codes, codes < 0, pa.array(self.dictionaries[c].values, pa.string())))
        held += [(self.ints[k, :n], None, None) for k in range(len(_ROW_INTS))]
        for k, c in enumerate(_ROW_FLOATS):
            values = self.floats[k, :n]
            gaps = np.isnan(values)
            held.append((np.where(gaps, 0, values).astype(np.int64) if kind_of(c) == "count" else values, gaps, None))
        columns: list[_ArrowColumn] = []
        for k, (values, gaps, dictionary) in enumerate(held):
            if gaps is not None and gaps.all():
                columns.append(_ArrowColumn(None, None, dictionary, k, k, False))
                continue
            gaps = gaps if gaps is not None and gaps.any() else None
            same = next(
                (
                    j
                    for j, c in enumerate(columns)
                    if c.values is not None
                    and c.values.dtype == values.dtype
                    and np.array_equal(c.values, values)
                    and _same_mask(c.missing, gaps)
                ),
                k,
            )
            mask = next((j for j, c in enumerate(columns) if gaps is not None and _same_mask(c.missing, gaps)), k)
            present = values if gaps is None else values[~gaps]
            constant = bool(len(present)) and bool((present == present[0]).all())
            columns.append(_ArrowColumn(values, gaps, dictionary, same, mask, constant))
        self._arrow = (n, columns)
        self._repeated = {}  # a constant column may have got a second value
        return columns

    def repeated(self, key: Any, n: int, make: Callable[[int], Any]) -> Any:
        """The first ``n`` values of an array that is the same in every chunk of the run (a constant column's
        values, a column missing everywhere): made by ``make(length)`` for the longest chunk yet and sliced, a
        view of the same memory (a numpy or Arrow slice copies nothing). Until rows are added to the table."""
        held = self._repeated.get(key)
        if held is None or len(held) < n:
            held = self._repeated[key] = make(n)
        return held[:n]


def _same_mask(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Whether two masks of missing values (None: nowhere) are the same."""
    import numpy as np

    if a is None or b is None:
        return a is b
    return bool(np.array_equal(a, b))


@dataclass(frozen=True, slots=True)
class _ArrowColumn:
    """A row table's column as a chunk's Arrow column is made from it (:meth:`_RowTable.arrow_columns`)."""

    #: its values as the output holds them (int32 codes for text; a count as int64); None: missing in every row
    values: np.ndarray | None
    #: where they are missing (a code of -1, a NaN); None: nowhere
    missing: np.ndarray | None
    #: a text column's dictionary
    dictionary: pa.Array | None
    #: the first column of the same values and mask (its own number if none before it): a chunk gathers those
    #: values once, as ``drug`` and ``component`` often are
    same: int
    #: the first column missing in the same rows (its own number if none before it): a chunk gathers that mask and
    #: packs its bitmap once, as the columns of an infusion (``rate``, ``rate_unit``, ``infusion_day`` ...) are
    mask: int
    #: one value wherever it is given (a regimen of one phase, one route, one unit): a chunk's column is that value
    #: repeated, with nothing gathered
    constant: bool


class _Columns:
    """A chunk's output: each row's number in the run's :class:`_RowTable`, its date, and the columns of its
    patient (the id and the plan's warnings). The frame hands text on as :class:`pandas.Categorical` (which
    Parquet writes as its dictionary) or as str objects taken from the distinct values once."""

    def __init__(self, n: int, table: _RowTable) -> None:
        import numpy as np

        self.n = n
        self.table = table
        self.rows = np.zeros(n, dtype=np.int64)  # each output row's row in the table
        # the ids and the plan's warnings: codes and their values (the ids' as an Arrow column, :meth:`set_ids`)
        self.own: dict[str, tuple[np.ndarray, _Dictionary | pa.Array]] = {}
        self.date_ord = np.full(n, -1, dtype=np.int64)  # date.toordinal(); -1: no date

    def fill_dates(self, pos: np.ndarray, start_ord: np.ndarray, t: _Template) -> None:
        import numpy as np

        course = np.asarray([r.course_day for r in t.plan.administrations], dtype=np.int64)
        dated = start_ord >= 0
        self.date_ord[pos[dated]] = start_ord[dated][:, None] + course[None, :] - 1

    def set_per_patient(self, column: str, values: np.ndarray, counts: np.ndarray, distinct: bool = False) -> None:
        """Every row gets its patient's value: ``values`` (objects, None for missing) per patient, whose rows are
        ``counts`` consecutive rows each, in order, from the first row. ``distinct``: the values are known to be
        distinct and none missing, so each is its own code (as :func:`pandas.factorize` would number them)."""
        import numpy as np
        import pandas as pd

        if distinct:
            codes, uniques = np.arange(len(values)), list(values)
        else:
            codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
        self.own[column] = (np.repeat(np.asarray(codes, dtype=np.int32), counts), _Dictionary(list(uniques)))

    def set_ids(self, ids: pa.Array, counts: np.ndarray, distinct: bool = False) -> None:
        """Every row gets its patient's id: ``ids`` (an Arrow string column, one per patient, none missing) whose
        rows are ``counts`` consecutive rows each. Ids that are distinct (a run's always are: every copy of a
        repeated one is rejected) are each their own code, the column itself the dictionary, with no Python string
        made (issue 29); otherwise they are numbered as :meth:`set_per_patient` numbers them. ``distinct``: known to
        be distinct (the run counted them), not checked again."""
        import numpy as np
        import pyarrow.compute as pc

        if ids.null_count or (not distinct and len(pc.unique(ids)) != len(ids)):
            self.set_per_patient(ID_COLUMN, np.asarray(ids.to_pylist(), dtype=object), counts)
            return
        self.own[ID_COLUMN] = (np.repeat(np.arange(len(ids), dtype=np.int32), counts), ids)

    def frame(self, coded: bool = False, at: np.ndarray | None = None) -> pd.DataFrame:
        """The frame of the rows (of the rows at positions ``at`` only, if given); ``coded``: its text columns as
        :class:`pandas.Categorical`."""
        import numpy as np
        import pandas as pd

        def text(codes: np.ndarray, held: list[str] | _Dictionary | pa.Array) -> Any:
            values = (
                held if isinstance(held, list) else held.values if isinstance(held, _Dictionary) else held.to_pylist()
            )
            if coded:
                return pd.Categorical.from_codes(codes, categories=pd.Index(values, dtype=object), validate=False)
            return np.asarray([*values, None], dtype=object)[codes]

        t = self.table
        rows = self.rows if at is None else self.rows[at]
        columns: dict[str, Any] = {c: text(codes if at is None else codes[at], d) for c, (codes, d) in self.own.items()}
        columns.update({c: text(t.texts[k][rows], t.dictionaries[c].values) for k, c in enumerate(_ROW_TEXT)})
        columns.update({c: t.ints[k][rows] for k, c in enumerate(_ROW_INTS)})
        columns.update({c: t.floats[k][rows] for k, c in enumerate(_ROW_FLOATS)})
        dates = date_column(self.date_ord if at is None else self.date_ord[at])
        return rows_frame({**columns, "date": dates}, OUTPUT_COLUMNS)

    def arrow(self) -> pa.Table:
        """The rows as an Arrow table of :func:`~regimen.engine.row_frames.coded_schema` (text as its dictionary
        and int32 codes, missing values null), built from the codes without a pandas frame in between (issue 15): each
        of the row table's columns gathered at the chunk's row numbers by numpy, a text column's codes handed to
        Arrow with the dictionary made once per run (:meth:`_RowTable.arrow_columns`); then the patient's own
        columns and the dates. The same table as ``pyarrow.Table.from_pandas`` of :meth:`frame`, coded (a test
        holds them equal).

        Numpy rather than Arrow's ``take`` of a table of the distinct rows (issue 29: a part of 265,000 rows of
        cenersen-arm3, warm, 26-30 ms against 33-36 ms, and the take was slower still on fresh memory); a column
        with nothing missing in the whole run needs no validity bitmap, columns of the same values are gathered
        once, and columns missing in the same rows share one bitmap. A column missing everywhere (a regimen with
        no twice-daily tablets has no ``dose_number``) or holding one value wherever given (one phase, one route)
        gathers nothing: one array made for the run, sliced for each part (:meth:`_RowTable.repeated`; issue 29,
        cenersen-arm3 at 100,000 patients: the parts' tables 0.10 -> 0.07 s of CPU)."""
        import numpy as np
        import pyarrow as pa

        schema = coded_schema(arrow_schema(OUTPUT_COLUMNS))
        arrays: dict[str, Any] = {}
        taken: dict[int, pa.Array] = {}  # gathered values, by the first column that holds them
        masks: dict[int, Validity] = {}  # validity bitmaps, by the first column missing in the same rows
        columns = zip((*_ROW_TEXT, *_ROW_INTS, *_ROW_FLOATS), self.table.arrow_columns(), strict=True)
        for c, column in columns:
            kind = schema.field(c).type
            if column.values is None:
                arrays[c] = self.table.repeated(kind, self.n, partial(pa.nulls, type=kind))
                continue
            got = taken.get(column.same)
            if got is None:
                values = column.values
                if column.constant:  # the value wherever given (what is held under a null is never read)
                    given = values[0] if column.missing is None else values[np.argmin(column.missing)]
                    fill = partial(np.full, fill_value=given, dtype=values.dtype)
                    picked = self.table.repeated(column.same, self.n, fill)
                else:
                    picked = values[self.rows]
                valid = None
                if column.missing is not None:
                    if column.mask not in masks:
                        masks[column.mask] = validity(column.missing[self.rows])
                    valid = masks[column.mask]
                got = taken[column.same] = valid_array(picked, valid)
            arrays[c] = got if column.dictionary is None else pa.DictionaryArray.from_arrays(got, column.dictionary)
        for c, (codes, d) in self.own.items():
            if isinstance(d, _Dictionary):
                arrays[c] = dictionary_array(codes, d.values)
            else:  # the ids' own column as the dictionary (:meth:`set_ids`)
                arrays[c] = pa.DictionaryArray.from_arrays(arrow_array(codes, codes < 0), d)
        days = self.date_ord
        seconds = arrow_array((days - _EPOCH_ORDINAL) * np.int64(86_400), days < 0)
        arrays["date"] = seconds.view(pa.timestamp("s"))
        return pa.Table.from_arrays([arrays[c] for c in OUTPUT_COLUMNS], schema=schema)


#: ``date.toordinal()`` of 1970-01-01: Arrow's timestamps count seconds from it.
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


__all__ = ["OUTPUT_COLUMNS"]
