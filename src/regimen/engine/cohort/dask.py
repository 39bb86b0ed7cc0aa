"""Cohorts beyond one machine's memory: the runner's per-part function, run by Dask.

The roster is a folder of Parquet files. Each row group of each file is one task: it is read and expanded by
:func:`regimen.engine.cohort.runner.expand_part` (exactly the pandas engine's code, with the same options), in
slices of about :data:`SLICE_ROWS` output rows, and each slice's rows are written by the sink from the task as soon
as they are made (a folder of Parquet parts, one file per row group: :class:`regimen.export.frames.ParquetParts`);
only the problems and counts come back. Repeated patient ids are found first, over the whole roster (one column
read). Row numbers in the errors are per file (``file``, ``row``, 1 = the file's first row).

A task's memory is bounded by its slices, not by the roster's row groups (a row group pandas writes holds up to
1,048,576 patients, 60 million mFOLFOX6 rows), and its Arrow buffers come from the C library's allocator, as in the
process that starts the run (:func:`regimen.engine.cohort.runner.arrow_memory`). Why, measured (issue 29, 1,000,000
mFOLFOX6 patients, row groups of 20,000 patients: 1.2 M rows a task, 2 worker processes of 1 GiB): with Arrow's
default pool (mimalloc) in the workers, each worker's peak grew with every task it ran, from 463 to 542 MiB over 25
tasks, memory it kept and did not give back; at 5,000,000 patients both workers stood paused at 80 % of their limit
after 242 of 250 tasks. With the C allocator the peaks stayed level (420-430 MiB); in slices, lower still.

Needs the optional extra: ``pip install 'regimen-schedules[dask]'``. With no scheduler given, Dask's local threaded
scheduler runs the tasks; pass a ``distributed.Client`` (or its address) for a cluster. The expander (with the
run's clinical options) and the sink are pickled to worker processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar, Protocol

from regimen.engine.cohort.expander import CohortExpander
from regimen.engine.cohort.roster import ERROR_COLUMNS, ID_COLUMN, CohortError, as_text, more_than_once
from regimen.engine.cohort.runner import PartResult, Progress, RowSink, arrow_memory, expand_part
from regimen.errors import option

#: Columns of a Dask run's problems: the roster file, then those of a pandas run.
DASK_ERROR_COLUMNS: tuple[str, ...] = ("file", *ERROR_COLUMNS)
_KEY = "regimen-part-"


def need_dask() -> None:
    try:
        import dask  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        raise CohortError(
            f"{option('engine')} dask needs Dask and pyarrow: pip install 'regimen-schedules[dask]'"
        ) from None


@dataclass(frozen=True, slots=True)
class RosterPart:
    """One task: a row group of one roster file."""

    file: Path
    row_group: int
    first_row: int  # 1-based row of the file where this row group starts
    rows: int
    index: int  # output part number


def roster_parts(folder: str | Path) -> list[RosterPart]:
    """One task per row group of each Parquet file in ``folder`` (sorted by name)."""
    import pyarrow.parquet as pq

    root = Path(folder)
    if not root.is_dir():
        raise CohortError(f"{root}: with {option('engine')} dask, the roster is a folder of .parquet files")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in (".parquet", ".pq") and p.is_file())
    if not files:
        raise CohortError(f"{root}: no .parquet files; write the roster as Parquet files in this folder")
    parts: list[RosterPart] = []
    for file in files:
        meta = pq.ParquetFile(file).metadata
        first = 1
        for rg in range(meta.num_row_groups):
            rows = meta.row_group(rg).num_rows
            parts.append(RosterPart(file, rg, first, rows, len(parts)))
            first += rows
    return parts


#: Output rows a task makes and writes at a time: a row group's patients are expanded in slices of about this many
#: rows (the rows a patient has so far, times the patients), each written before the next is made. The pandas
#: engine's parts are about this size for cenersen-arm3 (25,000 patients), the size measured fastest there.
SLICE_ROWS = 262_144
#: Patients of a task's first slice, before its rows a patient are known.
FIRST_SLICE = 1_024


class PartWriter(RowSink, Protocol):
    """Where one task's slices go, in order: ``write(rows, part)`` for each, then ``close(ok)``."""

    def close(self, ok: bool = True) -> None: ...


class _WholePart:
    """The part writer of a sink that takes each part in one piece (``write(rows, part)`` once): the slices are
    kept and handed over together when the part is done. A sink that writes files offers ``open_part`` instead."""

    takes_coded = False  # plain frames: they are joined with pandas

    def __init__(self, sink: RowSink, part: int) -> None:
        self.sink = sink
        self.part = part
        self.slices: list[Any] = []

    def write(self, rows: Any, part: int) -> None:
        self.slices.append(rows)

    def close(self, ok: bool = True) -> None:
        import pandas as pd

        if ok:
            rows = self.slices[0] if len(self.slices) == 1 else pd.concat(self.slices, ignore_index=True)
            self.sink.write(rows, self.part)
        self.slices = []


def part_writer(sink: RowSink, part: int) -> PartWriter:
    """The sink's writer of one part (its ``open_part``), or one that hands it the whole part when done."""
    open_part = getattr(sink, "open_part", None)
    return open_part(part) if open_part is not None else _WholePart(sink, part)


def next_slice(results: list[PartResult]) -> int:
    """Patients of a task's next slice: about :data:`SLICE_ROWS` rows at the rows a patient of its slices so far
    (rejected patients have none); :data:`FIRST_SLICE` until a patient has rows."""
    expanded = sum(r.patients - r.rejected for r in results)
    rows = sum(r.rows for r in results)
    return max(1, SLICE_ROWS * expanded // rows) if rows else FIRST_SLICE


def expand_row_group(
    expander: CohortExpander, part: RosterPart, repeated: Mapping[str, int], sink: RowSink
) -> list[PartResult]:
    """One task: read one row group and expand it into ``sink``, a slice at a time (:data:`SLICE_ROWS`), each slice's
    rows written before the next is made; the slices' problems carry the file's name."""
    import pyarrow.parquet as pq

    with arrow_memory():
        table = pq.ParquetFile(part.file).read_row_group(part.row_group)
        writer = part_writer(sink, part.index)
        results: list[PartResult] = []
        try:
            lo, patients = 0, FIRST_SLICE
            while True:  # an empty row group is one empty slice: its part is written, with no rows
                roster = table.slice(lo, patients).to_pandas()
                result = expand_part(
                    expander, roster, part.first_row + lo, repeated, writer, part.index, where=str(part.file)
                )
                result.problems.insert(0, "file", part.file.name)
                results.append(result)
                lo += len(roster)
                if lo >= table.num_rows:
                    break
                patients = next_slice(results)
        except BaseException:
            writer.close(ok=False)
            raise
        writer.close()
    return results


def repeated_ids(parts: list[RosterPart], scheduler: Any = "threads") -> dict[str, int]:
    """Patient ids that occur more than once anywhere in the roster, with their counts (one column read), counted by
    ``scheduler``: a ``distributed.Client``, or Dask's local threads (never Dask's process-wide default, which a
    client made and closed earlier in the process leaves pointing at no scheduler). On threads the count shuffles by
    tasks: Dask's peer-to-peer shuffle, which it picks when a client is the default, runs only on a cluster."""
    import dask
    import dask.dataframe as dd

    files = sorted({str(p.file) for p in parts})
    on_threads = isinstance(scheduler, str)
    with dask.config.set({"dataframe.shuffle.method": "tasks"} if on_threads else {}):
        ids = dd.read_parquet(files, columns=[ID_COLUMN])[ID_COLUMN].map(as_text, meta=(ID_COLUMN, object)).dropna()
        # counted in as many parts as the roster has, and only the repeated ids gathered: every id in one part is a
        # roster's worth of strings in one worker (a 5M-patient roster overran a 1 GiB worker; issue 15)
        counts = ids.value_counts(split_out=max(ids.npartitions, 1))
        return more_than_once(counts[counts > 1].compute(scheduler=scheduler))


@dataclass(frozen=True, slots=True)
class DaskEngine:
    """Every roster row group a Dask task. ``client``: a ``distributed.Client``, its address, or None for Dask's
    local threaded scheduler. The sink must take parts in any order (see :class:`.runner.RowSink`); one with
    ``open_part(part)`` (a :class:`PartWriter` of that part) is given a part's rows a slice at a time."""

    client: Any = None
    error_columns: ClassVar[tuple[str, ...]] = DASK_ERROR_COLUMNS

    def run(
        self, expander: CohortExpander, roster: str | Path, sink: RowSink, progress: Progress | None
    ) -> list[PartResult]:
        need_dask()
        if not getattr(sink, "parts_in_any_order", False):
            raise CohortError(
                f"{option('engine')} dask writes the parts of a run in any order, from its workers: give "
                "it a sink that takes them so (a folder of Parquet parts)"
            )
        client = self.client
        if isinstance(client, str):
            from distributed import Client

            try:
                client = Client(client, set_as_default=False)  # type: ignore[no-untyped-call]
            except OSError as exc:
                raise CohortError(
                    f"cannot reach the Dask scheduler at {self.client} ({exc}): check the address, or "
                    "leave it out to run on this machine's threads"
                ) from None
            try:  # the client made here is closed here: a program running several cohorts keeps no stale one
                return self._run(expander, roster, sink, progress, client)
            finally:
                client.close()  # type: ignore[no-untyped-call]
        return self._run(expander, roster, sink, progress, client)

    def _run(
        self, expander: CohortExpander, roster: str | Path, sink: RowSink, progress: Progress | None, client: Any
    ) -> list[PartResult]:
        import pyarrow.parquet as pq
        from dask.delayed import delayed

        parts = roster_parts(roster)
        expander.required_columns([str(c) for c in pq.read_schema(parts[0].file).names])
        repeated = repeated_ids(parts, client if client is not None else "threads")
        total = sum(p.rows for p in parts)
        # each task the function with its arguments bound, given to Dask as one opaque callable: called with its
        # arguments, Dask walks every argument for Dask collections inside it, the expander's regimen (dataclasses
        # all the way down) once per task: 2.2 s of a 3.3 s run of 600 mFOLFOX6 patients in 30 row groups, before
        # any patient was expanded. Each task still carries its own arguments, as a worker process is sent them
        tasks = [
            delayed(partial(expand_row_group, expander, part, repeated, sink), traverse=False)(
                dask_key_name=f"{_KEY}{part.index}"
            )
            for part in parts
        ]
        if progress is not None:
            progress(0, total)
        if client is not None:
            return _on_cluster(client, tasks, parts, total, progress)
        return _on_threads(tasks, total, progress)


def _on_cluster(
    client: Any, tasks: list[Any], parts: list[RosterPart], total: int, progress: Progress | None
) -> list[PartResult]:
    from distributed import KilledWorker, as_completed

    try:
        futures = client.compute(tasks)
        of_key = {future.key: part for future, part in zip(futures, parts, strict=True)}
        results: list[list[PartResult]] = [[] for _ in parts]
        done = 0
        # each task's results fetched as it finishes, and its future let go: a worker keeps a task it ran, with the
        # arguments it ran on (its copy of the expander, grown by the part's distinct rows: 2-3 MiB), until the
        # client lets go of its future. Gathered at the end, those copies filled the workers (issue 29: 5,000,000
        # mFOLFOX6 patients, both 1 GiB workers paused at 80 % after 242 of 250 parts)
        finished = as_completed(futures, loop=client.loop, with_results=True)  # type: ignore[no-untyped-call]
        del futures
        for future, result in finished:
            finished_part = of_key.pop(future.key)
            del future
            results[finished_part.index] = result
            done += finished_part.rows
            if progress is not None:
                progress(done, total)
        return [result for part_results in results for result in part_results]
    except KilledWorker as exc:  # every worker that ran a part died (out of memory, killed): one line, not 47
        key = str(exc.args[0]) if exc.args else "a part"
        lost = key.removeprefix(_KEY) if key.startswith(_KEY) else key
        raise CohortError(
            f"the Dask workers died while expanding roster part {lost} (each worker given it was lost): no output was "
            "written; check the workers' memory limit and logs and run again, or leave out "
            f"{option('scheduler')} to run on this machine's threads"
        ) from None


def _on_threads(tasks: list[Any], total: int, progress: Progress | None) -> list[PartResult]:
    from dask.base import compute
    from dask.callbacks import Callback

    done = 0

    def posttask(key: Any, result: Any, *_: Any) -> None:
        nonlocal done
        if progress is not None and isinstance(key, str) and key.startswith(_KEY):
            done += sum(r.patients for r in result)
            progress(done, total)

    with Callback(posttask=posttask):  # type: ignore[no-untyped-call]
        results = compute(*tasks, scheduler="threads")  # type: ignore[no-untyped-call]
    return [result for part in results for result in part]


__all__ = [
    "DASK_ERROR_COLUMNS",
    "FIRST_SLICE",
    "SLICE_ROWS",
    "DaskEngine",
    "PartWriter",
    "RosterPart",
    "expand_row_group",
    "need_dask",
    "next_slice",
    "part_writer",
    "repeated_ids",
    "roster_parts",
]
