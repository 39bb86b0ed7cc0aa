"""Cohort rows to files: one CSV or Parquet file, a folder of Parquet parts, and the errors file; all atomic.

The sinks here take the parts of a run (:func:`regimen.engine.cohort.run`): :class:`FrameWriter` appends them,
in order, to one file; :class:`ParquetParts` writes each to its own file of a folder, in any order and from any
process (the Dask engine's sink). Either output appears whole when the run succeeds, and not at all otherwise.
CSV text is that of ``regimen expand --format csv`` (:func:`regimen.engine.row_frames.csv_text`); Parquet columns have
the types of the row schema (:data:`regimen.engine.rows.ROW_SCHEMA`), whatever a part holds.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from regimen.clinical.prepare import ClinicalOptions
from regimen.engine.cohort.dask import DaskEngine
from regimen.engine.cohort.expander import OUTPUT_COLUMNS
from regimen.engine.cohort.roster import CohortError, file_kind, need_pyarrow
from regimen.engine.cohort.runner import Engine, Progress, RunSummary, arrow_memory, run
from regimen.engine.row_frames import arrow_schema, coded_schema, csv_text, dictionary_array, empty_frame
from regimen.errors import RegimenError
from regimen.export.csvrows import write_rows
from regimen.export.io import atomic_target, cannot_write, done_with, put_in_place, temporary_folder
from regimen.export.spreadsheet import safe_frame
from regimen.model import Regimen

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa


def _table(frame: pd.DataFrame) -> pa.Table:
    import pyarrow as pa

    return pa.Table.from_pandas(frame, schema=arrow_schema([str(c) for c in frame.columns]), preserve_index=False)


def _coded_table(frame: pd.DataFrame) -> pa.Table:
    """The frame as Arrow columns with every text column dictionary-encoded (:func:`_file_schema` says how they read).

    A cohort's text columns come coded (:class:`pandas.Categorical`: a few thousand distinct texts for a million
    rows); Parquet stores text as a dictionary and its codes anyway, so handing it the dictionary spares turning
    every cell into a string and hashing it back (issue 15). Text held as objects is encoded here."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    dense = arrow_schema([str(c) for c in frame.columns])
    arrays: list[pa.Array] = []
    for name, kind in zip(frame.columns, dense, strict=True):
        series = frame[name]
        if kind.type != pa.string():
            arrays.append(pa.Array.from_pandas(series, type=kind.type))
        elif isinstance(series.dtype, pd.CategoricalDtype):
            codes = np.asarray(series.cat.codes, dtype=np.int32)
            arrays.append(dictionary_array(codes, list(series.cat.categories)))
        else:
            text = pa.array(series.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
            arrays.append(text.dictionary_encode().cast(pa.dictionary(pa.int32(), pa.string())))
    return pa.Table.from_arrays(arrays, schema=coded_schema(dense))


def _file_schema(names: Sequence[str]) -> dict[bytes, bytes]:
    """The key-value metadata a Parquet file of these columns declares: exactly what pandas' ``to_parquet`` of the
    row schema's frame writes (the pandas metadata, and the Arrow schema with plain ``string`` text), so that the
    file reads back as it always has, whatever encoding its columns were handed over in."""
    return dict(_file_schema_of(tuple(names)))


@functools.lru_cache(maxsize=16)
def _file_schema_of(names: tuple[str, ...]) -> tuple[tuple[bytes, bytes], ...]:
    """:func:`_file_schema`, made once a process for each list of columns: an empty frame made and handed to Arrow
    takes about 4 ms, and a Dask run closes a file of the same columns for every task."""
    import base64

    schema = _table(empty_frame(names)).schema
    return (
        (b"pandas", schema.metadata[b"pandas"]),
        (b"ARROW:schema", base64.b64encode(schema.serialize().to_pybytes())),
    )


class FrameWriter:
    """Appends frames to one CSV or Parquet file (by extension; Parquet row groups), written atomically when closed.

    A sink for :class:`~regimen.engine.cohort.runner.PandasEngine`: parts come in order, one at a time. A Parquet
    part is written by a thread of its own while the next part is expanded (Arrow's writer does not hold the GIL):
    at most one part is being written at a time, and its failure is raised by the next ``write`` or ``close``."""

    def __init__(self, path: str | Path) -> None:
        self.kind = file_kind(path, "output")
        if self.kind == "parquet":
            need_pyarrow()
        self._ctx = atomic_target(path)
        self._tmp = self._ctx.__enter__()
        self._target = Path(path)
        self._handle: Any = None
        self._parquet: Any = None
        self._names: list[str] = []
        self._pool: Any = None  # the Parquet writer's thread
        self._pending: Any = None  # the part it is writing (a Future)
        self.rows = 0
        # what the run hands over (:class:`~regimen.engine.cohort.runner.RowSink`): a CSV file takes coded text
        # columns, a Parquet file the rows as an Arrow table
        self.takes_coded: bool | str = "arrow" if self.kind == "parquet" else True

    def write(self, frame: pd.DataFrame | pa.Table, part: int = 0) -> None:
        try:
            self._write(frame)
        except OSError as exc:  # a full disk, a quota: one line naming the output (the caller removes the rest)
            raise cannot_write(self._target, exc) from None

    def _write(self, frame: pd.DataFrame | pa.Table) -> None:
        import pandas as pd

        if self.kind == "csv":
            if not isinstance(frame, pd.DataFrame):
                raise TypeError("a CSV file is written from a DataFrame")
            if self._handle is None:
                self._handle = open(self._tmp, "w", encoding="utf-8", newline="")
                csv_text(frame.iloc[:0]).to_csv(self._handle, index=False, lineterminator="\n")
            write_rows(frame, self._handle)  # the text of safe_frame(csv_text(frame)).to_csv(...), faster
        else:
            import pyarrow.parquet as pq

            table = _coded_table(frame) if isinstance(frame, pd.DataFrame) else frame
            self._finish_pending()
            if self._parquet is None:
                from concurrent.futures import ThreadPoolExecutor

                self._names = [str(c) for c in table.column_names]
                # batches of 65,536 values rather than 1,024: Arrow works out a dictionary column's statistics per
                # batch (the distinct codes, then their texts), a fifth of the write at 1,024 (issue 15; CPU of one
                # 265k-row part, medians of 15: 115 ms at 1,024, 92 at 8,192, 84 at 65,536); pages are still cut at
                # the same size, and the file is byte for byte the same size, with the same table and statistics
                self._parquet = pq.ParquetWriter(self._tmp, table.schema, store_schema=False, write_batch_size=65536)
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="regimen-parquet")
            self._pending = self._pool.submit(self._parquet.write_table, table)
        self.rows += len(frame)

    def _finish_pending(self) -> None:
        """Wait for the part being written; its error (a full disk) is raised here."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self, ok: bool = True) -> None:
        """Put the file in place (``ok``), or remove what was written."""
        try:
            if ok and self._handle is None and self._parquet is None:
                self.write(empty_frame(OUTPUT_COLUMNS))
            if self._handle is not None:
                self._handle.close()
            if self._parquet is not None:
                # the file's metadata made while the last part is still being written (Arrow's writer does not
                # hold the GIL): the end of a run waits for that part alone
                metadata = _file_schema(self._names) if ok else None
                self._finish_pending()
                if metadata is not None:
                    self._parquet.add_key_value_metadata(metadata)
                self._parquet.close()
                self._pool.shutdown()
        except (OSError, RegimenError) as failed:  # the last bytes did not fit: nothing is put in place
            self._handle = self._parquet = None
            self.close(ok=False)
            if isinstance(failed, RegimenError):
                raise
            raise cannot_write(self._target, failed) from None
        if ok:
            self._ctx.__exit__(None, None, None)
        else:
            cancelled = CohortError("cancelled")
            try:
                self._ctx.__exit__(type(cancelled), cancelled, None)
            except CohortError:
                pass


class ParquetParts:
    """A folder of Parquet files, ``part-NNNNN.parquet`` per part, written beside it and renamed into place when
    closed: the folder appears whole or not at all.

    A sink for the Dask engine: picklable (it holds paths only), each part written on its own by the task that made
    it, in any order: a slice at a time into its own file (:meth:`open_part`), or whole (:meth:`write`)."""

    parts_in_any_order: ClassVar[bool] = True
    takes_coded: ClassVar[str] = "arrow"  # each part goes to a Parquet FrameWriter

    def __init__(self, folder: str | Path) -> None:
        out = Path(folder)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise CohortError(f"{out} already exists: remove it or choose a new output folder")
        parent = out.parent if str(out.parent) else Path(".")
        if not parent.is_dir():
            raise CohortError(f"cannot write {out}: folder {parent} does not exist; create it or choose another path")
        need_pyarrow()
        self.folder = out
        self.tmp = temporary_folder(out)

    def write(self, frame: pd.DataFrame | pa.Table, part: int) -> None:
        write_frame(frame, self.tmp / f"part-{part:05d}.parquet")

    def open_part(self, part: int) -> FrameWriter:
        """The file of one part, its slices appended in order (a row group each), put in place when closed."""
        return FrameWriter(self.tmp / f"part-{part:05d}.parquet")

    def close(self, ok: bool = True) -> None:
        """Rename the folder into place (``ok``), or remove what was written."""
        if not ok:
            shutil.rmtree(self.tmp, ignore_errors=True)
            done_with(self.tmp)
            return
        try:
            if self.folder.exists():
                self.folder.rmdir()
            put_in_place(self.tmp, self.folder)
        except BaseException:
            shutil.rmtree(self.tmp, ignore_errors=True)
            raise
        finally:
            done_with(self.tmp)


def write_frame(frame: pd.DataFrame | pa.Table, path: str | Path) -> None:
    """Write a whole frame to CSV or Parquet (by extension), atomically."""
    writer = FrameWriter(path)
    try:
        writer.write(frame)
    except BaseException:
        writer.close(ok=False)
        raise
    writer.close()


# ---- the errors file ----------------------------------------------------------------------------------


def errors_path_for(output: str | Path, folder: bool = False) -> Path:
    """Where the errors file goes by default: beside the output, ``OUT-stem.errors.csv`` (``OUT.errors.csv`` for an
    output ``folder``)."""
    p = Path(output)
    return p.with_name((p.name if folder else p.stem) + ".errors.csv")


def write_errors(errors: pd.DataFrame, path: str | Path) -> None:
    """The rejected rows and their problems (one line per problem), atomically. Written when there are any, or to
    replace the errors file of an earlier run: a stale one is never left beside a new output."""
    target = Path(path)
    if len(errors) or target.exists():
        with atomic_target(target) as tmp:
            safe_frame(errors).to_csv(tmp, index=False, lineterminator="\n")


# ---- a run into files ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CohortFiles:
    """A run written to files: its summary, the output, and where the errors file is."""

    run: RunSummary
    output: Path
    errors_path: Path

    @property
    def patients_in(self) -> int:
        return self.run.patients_in

    @property
    def expanded(self) -> int:
        return self.run.expanded

    @property
    def rejected(self) -> int:
        return self.run.rejected

    @property
    def rows(self) -> int:
        return self.run.rows


def write_cohort(
    regimen: Regimen,
    roster: Any,
    output: str | Path,
    options: ClinicalOptions | None = None,
    *,
    errors_path: str | Path | None = None,
    cycles: int | Mapping[str, int] | None = None,
    cycle_length: int | None = None,
    engine: Engine | None = None,
    progress: Progress | None = None,
    name: Callable[[str], str] | None = None,
) -> CohortFiles:
    """ROSTER -> OUT (+ the errors file), by :func:`regimen.engine.cohort.run`.

    With the pandas engine (the default), ROSTER is a DataFrame or a CSV or Parquet file and OUT a .csv or .parquet
    file; with :class:`~regimen.engine.cohort.dask.DaskEngine`, both are folders (of Parquet files). OUT appears
    whole or not at all. The errors file goes to ``errors_path``, by default beside OUT (:func:`errors_path_for`).
    """
    with arrow_memory():  # the whole write: the Parquet writer's last row group and footer come after the run
        dask = isinstance(engine, DaskEngine)
        sink: FrameWriter | ParquetParts = ParquetParts(output) if dask else FrameWriter(output)
        where = Path(errors_path) if errors_path is not None else errors_path_for(output, folder=dask)
        try:
            summary = run(
                regimen,
                roster,
                sink,
                options,
                cycles=cycles,
                cycle_length=cycle_length,
                engine=engine,
                progress=progress,
                name=name,
            )
            write_errors(summary.errors, where)
        except BaseException:
            sink.close(ok=False)
            raise
        sink.close()
        return CohortFiles(run=summary, output=Path(output), errors_path=where)


__all__ = [
    "CohortFiles",
    "FrameWriter",
    "ParquetParts",
    "arrow_schema",
    "errors_path_for",
    "write_cohort",
    "write_errors",
    "write_frame",
]
