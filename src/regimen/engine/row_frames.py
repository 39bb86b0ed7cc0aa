"""The plan's rows as frames and Arrow tables (pandas, Parquet, the cohort's row table), by the one row schema of
:mod:`regimen.engine.rows`: each column's dtype and Arrow type come from :data:`~regimen.engine.rows.ROW_SCHEMA`.
pandas, numpy and pyarrow are imported where used, so that a plan that is only printed never imports them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from regimen.engine.rows import ARROW_TYPES, ROW_FIELDS, csv_records, kind_of

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

    from regimen.engine.plan import Plan


def plan_to_dataframe(plan: Plan) -> pd.DataFrame:
    """The administrations as a frame of :data:`ROW_SCHEMA`, one row per drug per treatment day; the plan's warnings,
    notes and rounding rule travel with it in ``frame.attrs``."""
    frame = records_frame(csv_records(plan))
    frame.attrs.update(
        regimen=plan.regimen.id, warnings=list(plan.warnings), notes=list(plan.notes), rounding=plan.rounding.rule
    )
    return frame


# ---- frames of the schema ----------------------------------------------------------------------------

_EPOCH = dt.date(1970, 1, 1).toordinal()


def date_column(ordinals: Any) -> Any:
    """A ``datetime64[s]`` array from proleptic ordinals (``date.toordinal()``; -1 = no date): no text parsed."""
    import numpy as np

    days = np.asarray(ordinals, dtype=np.int64)
    out = np.where(days >= 0, days - _EPOCH, np.iinfo(np.int64).min).astype("datetime64[D]")
    return out.astype("datetime64[s]")


def _column(kind: str, values: Any) -> Any:
    import numpy as np
    import pandas as pd

    if kind == "text":
        if isinstance(values, pd.Categorical):  # a cohort's coded text, kept coded (a file writes its dictionary)
            return pd.Series(values)
        return pd.Series(values, dtype=object)
    if kind == "int":
        return pd.Series(np.asarray(values, dtype=np.int64))
    if kind == "count":
        if isinstance(values, np.ndarray) and values.dtype.kind == "f":  # a cohort's counts: floats, NaN for none
            missing = np.isnan(values)
            return pd.Series(pd.arrays.IntegerArray(np.where(missing, 0, values).astype(np.int64), missing))
        return pd.Series(pd.array(values, dtype="Int64"))
    if kind == "number":
        return pd.Series(np.asarray(values, dtype=np.float64))
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":  # already dates
        return pd.Series(values.astype("datetime64[s]"))
    ordinals = [dt.date.fromisoformat(v).toordinal() if v is not None else -1 for v in values]
    return pd.Series(date_column(ordinals))


def arrow_schema(names: Sequence[str]) -> pa.Schema:
    """The Parquet (Arrow) types of the row schema's columns (any other column is text)."""
    import pyarrow as pa

    return pa.schema([(name, pa.type_for_alias(ARROW_TYPES[kind_of(name)])) for name in names])


def arrow_array(values: Any, missing: Any) -> pa.Array:
    """A numpy array of numbers as an Arrow array, null where ``missing`` (a bool array) is true: its buffer taken
    as it is, with a validity bitmap packed by numpy (``pyarrow.array(values, mask=...)`` takes 40 times as long,
    issue 15). What ``values`` holds under a null is never read."""
    return valid_array(values, validity(missing))


#: A validity bitmap as Arrow takes it, and how many values it marks missing (None: nothing missing).
Validity = tuple["pa.Buffer", int] | None


def validity(missing: Any) -> Validity:
    """The Arrow validity bitmap of ``missing`` (a bool array: true where a value is missing), packed by numpy,
    with its count of missing values; None when nothing is missing (an array needs no bitmap then). Made once, it
    serves every column missing in the same rows (:func:`valid_array`)."""
    import numpy as np
    import pyarrow as pa

    nulls = int(np.count_nonzero(missing))
    if not nulls:
        return None
    return pa.py_buffer(np.packbits(~np.asarray(missing, dtype=bool), bitorder="little")), nulls


def valid_array(values: Any, valid: Validity) -> pa.Array:
    """A numpy array of numbers as an Arrow array, its buffer taken as it is, null where ``valid`` (a
    :func:`validity`) says; what ``values`` holds under a null is never read."""
    import numpy as np
    import pyarrow as pa

    values = np.ascontiguousarray(values)
    if valid is None:
        return pa.array(values)
    bitmap, nulls = valid
    kind = pa.from_numpy_dtype(values.dtype)
    return pa.Array.from_buffers(kind, len(values), [bitmap, pa.py_buffer(values)], null_count=nulls)


def dictionary_array(codes: Any, values: list[str]) -> pa.Array:
    """Text held as int32 ``codes`` (-1: missing) into its distinct ``values``, as an Arrow dictionary array."""
    import pyarrow as pa

    return pa.DictionaryArray.from_arrays(arrow_array(codes, codes < 0), pa.array(values, type=pa.string()))


def coded_schema(dense: pa.Schema) -> pa.Schema:
    """``dense`` with every text column dictionary-encoded (int32 codes): how a cohort's rows are handed to Parquet,
    which stores text as a dictionary and codes anyway."""
    import pyarrow as pa

    code = pa.dictionary(pa.int32(), pa.string())
    return pa.schema([pa.field(f.name, code if f.type == pa.string() else f.type) for f in dense])


def rows_frame(columns: Mapping[str, Any], names: Sequence[str] = ROW_FIELDS) -> pd.DataFrame:
    """A frame of the schema from column values: lists of record values, or numpy arrays of the kind's values
    (floats with NaN for missing numbers and counts, ``datetime64`` for dates)."""
    import pandas as pd

    # copy=False: the columns are new, so the frame takes them as they are instead of copying the numbers into
    # consolidated blocks (a tenth of a second per cohort chunk, issue 15)
    return pd.DataFrame(
        {name: _column(kind_of(name), columns[name]) for name in names}, columns=list(names), copy=False
    )


def records_frame(records: Sequence[Mapping[str, Any]], names: Sequence[str] = ROW_FIELDS) -> pd.DataFrame:
    """A frame of the schema from records (:func:`csv_record`, with any extra text columns such as ``patient_id``)."""
    return rows_frame({name: [r[name] for r in records] for name in names}, names)


def empty_frame(names: Sequence[str] = ROW_FIELDS) -> pd.DataFrame:
    """A frame of the schema with no rows."""
    return rows_frame({name: [] for name in names}, names)


def frame_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of a frame of the schema as :func:`csv_record` gives them: numbers as in row_record (168, 21.82), dates
    as 'YYYY-MM-DD', None for missing."""
    import numpy as np
    import pandas as pd

    columns: list[list[Any]] = []
    for name in frame.columns:
        series = frame[name]
        if kind_of(str(name)) == "date" or series.dtype.kind == "M":
            codes, uniques = pd.factorize(series, use_na_sentinel=True)
            text = np.asarray([u.date().isoformat() for u in uniques] + [None], dtype=object)
            columns.append(text[codes].tolist())
            continue
        columns.append(_frame_cells(series))
    names = [str(c) for c in frame.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)] if columns else []


def _frame_cells(series: pd.Series) -> list[Any]:
    """A column's cells as :func:`frame_records` gives them (not its dates). Text and whole numbers are taken as
    they are, with None where a cell is missing, the column's kind asked once in C (pandas' ``infer_dtype``) rather
    than each cell's; floats in numpy (:func:`_float_cells`); other cells (mixed) one by one (:func:`_record_number`).
    The self-check and the tests read frames of up to tens of thousands of rows this way."""
    import numpy as np
    import pandas as pd

    kind = series.dtype
    if kind == np.int64:  # whole numbers, none missing: Python's ints
        return series.tolist()  # type: ignore[no-any-return]
    if isinstance(kind, pd.Int64Dtype):  # whole numbers, NA where missing
        return series.to_numpy(dtype=object, na_value=None).tolist()  # type: ignore[no-any-return]
    if kind == np.float64:
        return _float_cells(series.to_numpy())
    if isinstance(kind, pd.CategoricalDtype) and pd.api.types.infer_dtype(kind.categories) in ("string", "empty"):
        texts = np.asarray([*kind.categories, None], dtype=object)  # coded text: a code -1 is missing
        return texts[series.cat.codes.to_numpy()].tolist()  # type: ignore[no-any-return]
    text = isinstance(kind, pd.StringDtype) or (
        pd.api.types.is_object_dtype(kind) and pd.api.types.infer_dtype(series, skipna=True) in ("string", "empty")
    )
    if text:  # every cell a str, or missing (None, NaN or NA)
        values = series.tolist()
        for i in np.flatnonzero(series.isna().to_numpy()).tolist():
            values[i] = None
        return values  # type: ignore[no-any-return]
    return [None if v is pd.NA else _record_number(v) for v in series.astype(object).tolist()]


def _float_cells(values: Any) -> list[Any]:
    """A float array's cells as :func:`_record_number` reads each (NaN as None, a whole float as a Python int), in
    numpy: a whole float beyond ``int64`` is read one by one."""
    import numpy as np

    whole = np.isfinite(values) & (np.trunc(values) == values)
    if (np.abs(values[whole]) >= 2.0**63).any():
        return [_record_number(v) for v in values.tolist()]
    cells = values.astype(object)  # Python floats
    cells[whole] = values[whole].astype(np.int64)  # stored as Python ints (a test holds their type)
    cells[np.isnan(values)] = None
    return cells.tolist()  # type: ignore[no-any-return]


def _record_number(v: Any) -> Any:
    """A cell's number as row_record gives it: NaN as None (missing), a whole float as an int (168, never 168.0);
    anything else as it is."""
    if isinstance(v, float):
        return None if v != v else int(v) if v.is_integer() else v
    return v


def table_records(table: pa.Table) -> list[dict[str, Any]]:
    """Rows of an Arrow table of the schema (dense or coded) as :func:`frame_records` gives them from the frame of
    the same rows: numbers as in row_record (168, 21.82), dates as 'YYYY-MM-DD', None for missing."""
    columns = [_cells(column.combine_chunks()) for column in table.columns]
    names = table.column_names
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _cells(array: pa.Array) -> list[Any]:
    """An Arrow column's cells as :func:`table_records` gives them. Read a column at a time, in C where it can be
    (Arrow's ``to_pylist`` makes a scalar object of every cell first: half the self-check of a small chunk): a
    dictionary's codes pick its decoded values; floats by :func:`_float_cells`, as a frame's are (a missing cell as
    NaN); whole numbers with none missing through numpy; dates made text where a cell has one."""
    import numpy as np
    import pyarrow as pa

    kind = array.type
    if pa.types.is_dictionary(kind):
        decoded = np.asarray([*_cells(array.dictionary), None], dtype=object)  # code -1: missing
        return decoded[array.indices.fill_null(-1).to_numpy()].tolist()  # type: ignore[no-any-return]
    if pa.types.is_floating(kind):
        return _float_cells(array.to_numpy(zero_copy_only=False))
    if pa.types.is_integer(kind) and array.null_count == 0:
        return array.to_numpy().tolist()  # type: ignore[no-any-return]
    values = array.to_pylist()
    if pa.types.is_timestamp(kind):
        return [None if v is None else v.date().isoformat() for v in values]
    return values  # type: ignore[no-any-return]


def csv_text(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with numbers and dates as CSV writes them (168, 21.82, never 168.0; YYYY-MM-DD; empty for
    missing): ``csv_text(frame).to_csv(...)`` gives the text of ``regimen expand --format csv``."""
    import numpy as np
    import pandas as pd

    out = frame.copy(deep=False)
    for name in out.columns:
        kind = kind_of(str(name))
        if kind not in ("number", "date"):
            continue
        codes, uniques = pd.factorize(out[name], use_na_sentinel=True)
        if kind == "date":
            text = [u.date().isoformat() for u in uniques]
        else:
            text = [str(int(u)) if float(u).is_integer() else repr(float(u)) for u in uniques]
        out[name] = np.asarray([*text, ""], dtype=object)[codes]
    return out


__all__ = [
    "arrow_array",
    "arrow_schema",
    "coded_schema",
    "csv_text",
    "date_column",
    "dictionary_array",
    "empty_frame",
    "frame_records",
    "plan_to_dataframe",
    "records_frame",
    "rows_frame",
    "table_records",
    "valid_array",
    "validity",
]
