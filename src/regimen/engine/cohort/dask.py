"""Cohorts beyond one machine's memory: the runner's per-part function, run by Dask.

The roster is a folder of Parquet files. Each row group of each file is one task: it is read and expanded by
:func:`regimen.engine.cohort.runner.expand_part` (exactly the pandas engine's code, with the same options), and
its rows are written by the sink from the task (a folder of Parquet parts:
:class:`regimen.export.frames.ParquetParts`); only the problems and counts come back. Repeated patient ids are
found first, over the whole roster (one column read). Row numbers in the errors are per file (``file``, ``row``,
1 = the file's first row).

Needs the optional extra: ``pip install 'regimen-schedules[dask]'``. With no scheduler given, Dask's local threaded
scheduler runs the tasks; pass a ``distributed.Client`` (or its address) for a cluster. The expander (with the
run's clinical options) and the sink are pickled to worker processes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from regimen.engine.cohort.expander import CohortExpander
from regimen.engine.cohort.roster import ERROR_COLUMNS, ID_COLUMN, CohortError, as_text, more_than_once
from regimen.engine.cohort.runner import PartResult, Progress, RowSink, expand_part
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


def expand_row_group(
    expander: CohortExpander, part: RosterPart, repeated: Mapping[str, int], sink: RowSink
) -> PartResult:
    """One task: read one row group, expand it into ``sink``; its problems carry the file's name."""
    import pyarrow.parquet as pq

    roster = pq.ParquetFile(part.file).read_row_group(part.row_group).to_pandas()
    result = expand_part(expander, roster, part.first_row, repeated, sink, part.index, where=str(part.file))
    result.problems.insert(0, "file", part.file.name)
    return result


def repeated_ids(parts: list[RosterPart]) -> dict[str, int]:
    """Patient ids that occur more than once anywhere in the roster, with their counts (one column read)."""
    import dask.dataframe as dd

    files = sorted({str(p.file) for p in parts})
    ids = dd.read_parquet(files, columns=[ID_COLUMN])[ID_COLUMN].map(as_text, meta=(ID_COLUMN, object)).dropna()
    # counted in as many parts as the roster has, and only the repeated ids gathered: every id in one part is a
    # roster's worth of strings in one worker (a 5M-patient roster overran a 1 GiB worker; issue 15)
    counts = ids.value_counts(split_out=max(ids.npartitions, 1))
    return more_than_once(counts[counts > 1].compute())


@dataclass(frozen=True, slots=True)
class DaskEngine:
    """Every roster row group a Dask task. ``client``: a ``distributed.Client``, its address, or None for Dask's
    local threaded scheduler. The sink must take parts in any order (see :class:`.runner.RowSink`)."""

    client: Any = None
    error_columns: ClassVar[tuple[str, ...]] = DASK_ERROR_COLUMNS

    def run(
        self, expander: CohortExpander, roster: str | Path, sink: RowSink, progress: Progress | None
    ) -> list[PartResult]:
        need_dask()
        import pyarrow.parquet as pq
        from dask.delayed import delayed

        if not getattr(sink, "parts_in_any_order", False):
            raise CohortError(
                f"{option('engine')} dask writes the parts of a run in any order, from its workers: give "
                "it a sink that takes them so (a folder of Parquet parts)"
            )
        client = self.client
        if isinstance(client, str):
            from distributed import Client

            try:
                client = Client(client)  # type: ignore[no-untyped-call]
            except OSError as exc:
                raise CohortError(
                    f"cannot reach the Dask scheduler at {self.client} ({exc}): check the address, or "
                    "leave it out to run on this machine's threads"
                ) from None
        parts = roster_parts(roster)
        expander.required_columns([str(c) for c in pq.read_schema(parts[0].file).names])
        repeated = repeated_ids(parts)
        total = sum(p.rows for p in parts)
        tasks = [
            delayed(expand_row_group)(expander, part, repeated, sink, dask_key_name=f"{_KEY}{part.index}")
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
    from distributed import KilledWorker

    try:
        futures = client.compute(tasks)
        if progress is not None:
            from distributed import as_completed

            rows = {future.key: part.rows for future, part in zip(futures, parts, strict=True)}
            done = 0
            for future in as_completed(futures):  # type: ignore[no-untyped-call]
                done += rows[future.key]
                progress(done, total)
        return list(client.gather(futures))
    except KilledWorker as exc:  # every worker that ran a part died (out of memory, killed): one line, not 47
        key = str(exc.args[0]) if exc.args else "a part"
        part = key.removeprefix(_KEY) if key.startswith(_KEY) else key
        raise CohortError(
            f"the Dask workers died while expanding roster part {part} (each worker given it was lost): no output was "
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
            done += result.patients
            progress(done, total)

    with Callback(posttask=posttask):  # type: ignore[no-untyped-call]
        results = compute(*tasks, scheduler="threads")  # type: ignore[no-untyped-call]
    return list(results)


__all__ = [
    "DASK_ERROR_COLUMNS",
    "DaskEngine",
    "RosterPart",
    "expand_row_group",
    "need_dask",
    "repeated_ids",
    "roster_parts",
]
