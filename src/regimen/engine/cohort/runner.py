"""Running a cohort: every patient of a roster expanded by an engine, the rows handed to a sink, problems counted.

:func:`run` is the one runner. An *engine* splits the roster into parts and expands each part with
:func:`expand_part` (the same per-part function for every engine): :class:`PandasEngine` in chunks, in memory,
in order; :class:`regimen.engine.cohort.dask.DaskEngine` one Dask task per Parquet row group. Both take the
same options. A *sink* (:class:`RowSink`) receives each part's rows: a file writer, a folder of Parquet parts
(:mod:`regimen.export.frames`), a supply forecast, or a list in memory (:func:`cohort`). The runner writes no file
itself; the rejected rows come back in :attr:`RunSummary.errors` for the caller to write.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from regimen.clinical.prepare import ClinicalOptions
from regimen.engine.cohort.expander import OUTPUT_COLUMNS, CohortExpander
from regimen.engine.cohort.roster import (
    ERROR_COLUMNS,
    ID_COLUMN,
    ROW_PROBLEM,
    CohortError,
    PatientIds,
    column_names,
    duplicate_problems,
    id_problems,
    read_roster,
    require_ids,
)
from regimen.engine.row_frames import empty_frame
from regimen.errors import render
from regimen.model import Regimen
from regimen.quantities.exact import DEFAULT_ROUNDING, Rounding

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa


@contextmanager
def arrow_memory() -> Iterator[None]:
    """Arrow's buffers come from the C library's allocator (``malloc``) while the block runs, then the pool that
    was the default is the default again; an ``ARROW_DEFAULT_MEMORY_POOL`` the user set is left alone.

    Why (issue 15): pyarrow's default pool, mimalloc, was slow on fresh memory here. Taking one part's 265,000
    rows into new buffers took 0.24-0.36 s with mimalloc and 0.04 s with malloc or jemalloc (the same take, in a
    new process); whole runs in process, medians of 6 interleaved: 100k patients 0.83 s (mimalloc), 0.72
    (jemalloc), 0.72 (malloc); 1M 5.47, 5.36, 4.96 s. Every buffer is freed to the pool it came from, so the
    switch is safe while Arrow data made before or after it is alive."""
    try:
        import pyarrow as pa
    except ImportError:  # a CSV run without pyarrow; a Parquet one stops with its own line (need_pyarrow)
        pa = None
    if pa is None or os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        yield
        return
    before = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(before)


#: ``progress(done, total)``: patients expanded or rejected so far, of the roster's patients.
Progress = Callable[[int, int], None]


class RowSink(Protocol):
    """Where a run's rows go: ``write(rows, part)`` once per roster part (a chunk or a row group), parts numbered
    from 0. :class:`PandasEngine` writes the parts in order, one at a time. The Dask engine writes them from its
    tasks, in any order and at the same time, on workers that may be other processes: its sink must be picklable,
    write each part on its own, and say so with a true ``parts_in_any_order`` attribute.

    A sink with a true ``takes_coded`` attribute may be given text columns as :class:`pandas.Categorical` (the
    codes a cohort's rows are built from), which a file writer writes without turning them into objects first;
    with ``takes_coded == "arrow"``, the rows may come as a :class:`pyarrow.Table` instead (a Parquet writer's)."""

    def write(self, rows: Any, part: int) -> None: ...


class RejectedRowsWarning(UserWarning):
    """Some roster rows were rejected by :func:`expand_cohort`; they are listed in ``frame.attrs['errors']``."""


@dataclass(frozen=True, slots=True)
class PartResult:
    """What expanding one roster part gives back to the runner (the rows went to the sink)."""

    problems: pd.DataFrame  # ERROR_COLUMNS (the Dask engine adds 'file' first); messages with their option marks
    patients: int
    rows: int
    rejected: int
    notes: tuple[str, ...]
    warned: int = 0  # patients whose plans carry a warning (their rows' plan_warnings)
    first_warning: str | None = None  # 'P3: age 17 years is outside ...'


def _warned(rows: Any) -> tuple[int, str | None]:
    """Patients of a part's rows (a DataFrame or an Arrow table) whose plans carry warnings, and the first of them
    with its warnings."""
    import pandas as pd

    if not isinstance(rows, pd.DataFrame):
        return _warned_arrow(rows)
    if not len(rows) or "plan_warnings" not in rows.columns:
        return 0, None
    said = rows["plan_warnings"]
    flagged = rows.loc[said.notna() & (said != ""), [ID_COLUMN, "plan_warnings"]]
    if not len(flagged):
        return 0, None
    first = flagged.iloc[0]
    return int(flagged[ID_COLUMN].nunique()), f"{first[ID_COLUMN]}: {first['plan_warnings']}"


def _warned_arrow(rows: pa.Table) -> tuple[int, str | None]:
    """:func:`_warned` of an Arrow table whose ``plan_warnings`` and ids are dictionary-encoded: read from the codes."""
    import numpy as np
    import pyarrow as pa

    if not rows.num_rows:
        return 0, None

    def codes(name: str) -> tuple[np.ndarray, pa.Array]:
        # per row, its code into the column's dictionary (a null: the code one past the last value)
        column = rows.column(name).combine_chunks()
        if not pa.types.is_dictionary(column.type):
            column = column.dictionary_encode()
        indices = column.indices
        held = indices.fill_null(len(column.dictionary)) if indices.null_count else indices
        return np.asarray(held), column.dictionary

    def text(values: pa.Array, code: int) -> Any:
        return values[code].as_py() if code < len(values) else None

    said, dictionary = codes("plan_warnings")
    texts = [*dictionary.to_pylist(), None]  # a few distinct warnings: read as text; a part's ids never are
    flagged = np.flatnonzero(np.asarray([bool(t) for t in texts], dtype=bool)[said])
    if not len(flagged):
        return 0, None
    ids, names = codes(ID_COLUMN)
    first = int(flagged[0])
    patients = int(np.count_nonzero(np.bincount(ids[flagged])))  # the distinct codes among the flagged rows
    return patients, f"{text(names, int(ids[first]))}: {texts[said[first]]}"


def expand_part(
    expander: CohortExpander,
    roster: pd.DataFrame,
    first_row: int,
    repeated: Mapping[str, int],
    sink: RowSink,
    part: int,
    where: str = "",
    ids: PatientIds | None = None,
) -> PartResult:
    """The per-part function of every engine: expand the part, reject its rows whose patient_id is repeated anywhere
    in the roster (``repeated``: id -> count), write its rows to ``sink``, and return its problems and counts.

    ``first_row`` numbers the part's first roster row (1 = the first data row); ``where`` names its file in errors;
    ``ids``: the part's ids (:class:`PatientIds`), when the caller has read them already."""
    import numpy as np
    import pandas as pd

    require_ids([str(c) for c in roster.columns], where)
    if ids is None:
        ids = PatientIds.read(roster[ID_COLUMN])  # read once for the part: its checks and its rows
    dup = pd.DataFrame(
        duplicate_problems(ids, first_row, repeated) + id_problems(ids, first_row),
        columns=list(ERROR_COLUMNS),
    )
    if ROW_PROBLEM in roster.columns:  # lines the reader could not split into the header's fields
        said = roster[ROW_PROBLEM].to_numpy()
        lines = pd.DataFrame(
            [
                (first_row + int(pos), str(roster[ID_COLUMN].iat[pos]), "", str(said[pos]))
                for pos in np.flatnonzero(said != "")
            ],
            columns=list(ERROR_COLUMNS),
        )
        dup = pd.concat([dup, lines], ignore_index=True) if len(dup) else lines
        roster = roster.drop(columns=[ROW_PROBLEM])
    reject = np.zeros(len(roster), dtype=bool)
    reject[dup["row"].to_numpy(dtype=np.int64) - first_row] = True
    coded = getattr(sink, "takes_coded", False)
    rows, problems = expander.expand(roster, first_row, reject, coded=coded, id_texts=ids)
    if len(dup):
        problems = pd.concat([problems, dup], ignore_index=True) if len(problems) else dup
        problems = problems.sort_values(["row", "column"], kind="stable", ignore_index=True)
    sink.write(rows, part)
    warned, first_warning = _warned(rows)
    return PartResult(
        problems=problems,
        patients=len(roster),
        rows=len(rows),
        rejected=int(problems["row"].nunique()),
        notes=tuple(expander.notes),
        warned=warned,
        first_warning=first_warning,
    )


@dataclass(frozen=True, slots=True)
class PandasEngine:
    """The roster in memory (a DataFrame, or a CSV or Parquet file), expanded in chunks of ``chunk_size`` patients,
    in order: memory stays bounded by one chunk's rows.

    25,000 rather than 50,000 (issue 15, measured on 100k and 1M patients of cenersen-arm3, medians of interleaved
    runs in process): CSV 100k went from 3.4 to 2.6 s and its peak RSS from 480 to 360 MiB, Parquet 100k from 0.87
    to 0.62 s, 1M about the same with a sixth less memory. Smaller parts have more page faults, not fewer, so the
    gain is likely the cache (a part's columns are gathered, formatted and written several times over); the
    measurements, not that reading, are the reason. A Parquet part is one row group (265,000 rows here)."""

    chunk_size: int = 25_000
    error_columns: ClassVar[tuple[str, ...]] = ERROR_COLUMNS

    def run(
        self, expander: CohortExpander, roster: pd.DataFrame | str | Path, sink: RowSink, progress: Progress | None
    ) -> list[PartResult]:
        import pandas as pd

        frame = roster if isinstance(roster, pd.DataFrame) else read_roster(roster)
        expander.required_columns([str(c) for c in frame.columns])
        ids = PatientIds.read(frame[ID_COLUMN])  # once for the run: its repeated ids, each part's checks and rows
        repeated = ids.repeated()
        total = len(frame)
        if progress is not None:
            progress(0, total)
        results: list[PartResult] = []
        for part, lo in enumerate(range(0, max(total, 1), self.chunk_size)):
            chunk = frame.iloc[lo : lo + self.chunk_size]
            results.append(
                expand_part(expander, chunk, 1 + lo, repeated, sink, part, ids=ids.slice(lo, lo + self.chunk_size))
            )
            if progress is not None:
                progress(min(lo + self.chunk_size, total), total)
        return results


class Engine(Protocol):
    """How a roster is split into parts and its parts expanded (:class:`PandasEngine`, ``DaskEngine``)."""

    @property
    def error_columns(self) -> tuple[str, ...]: ...

    def run(
        self, expander: CohortExpander, roster: Any, sink: RowSink, progress: Progress | None
    ) -> Sequence[PartResult]: ...


@dataclass(frozen=True, slots=True)
class RunSummary:
    """The counts of a run, its rejected rows with their problems, and its notes."""

    patients_in: int
    expanded: int
    rows: int
    errors: pd.DataFrame = field(compare=False)  # the engine's error columns, one row per problem
    notes: tuple[str, ...] = ()
    warned: int = 0  # expanded patients whose plans carry warnings (in their rows' plan_warnings)
    first_warning: str | None = None  # the first such patient and their warnings

    @property
    def rejected(self) -> int:
        return self.patients_in - self.expanded

    def summary(self) -> str:
        """'patients in = expanded + rejected', with the numbers."""
        return counts_line(self.patients_in, self.expanded)


def counts_line(patients_in: int, expanded: int) -> str:
    """'patients in = expanded + rejected: 300 = 297 + 3'."""
    return f"patients in = expanded + rejected: {patients_in:,} = {expanded:,} + {patients_in - expanded:,}"


def run(
    regimen: Regimen,
    roster: Any,
    sink: RowSink,
    options: ClinicalOptions | None = None,
    *,
    cycles: int | Mapping[str, int] | None = None,
    cycle_length: int | None = None,
    rounding: Rounding = DEFAULT_ROUNDING,
    engine: Engine | None = None,
    progress: Progress | None = None,
    name: Callable[[str], str] | None = None,
) -> RunSummary:
    """Expand ``regimen`` for every patient of ``roster`` into ``sink``; return the counts, problems and notes.

    ``options`` are the run's clinical options, as for :func:`regimen.engine.expand.expand`: every patient's rows are
    those of ``expand(regimen, patient, options=options)``, and with ``strict`` the patients whose plans carry a
    warning are rejected. ``engine``: :class:`PandasEngine` (the default; ``roster`` a DataFrame or a CSV or Parquet
    file) or ``DaskEngine`` (``roster`` a folder of Parquet files). ``progress(done, total)`` is called as patients
    are done. Problems and notes name an input by its roster column where it has one, else by ``name`` (default: its
    parameter name; the command line gives its flags).
    """
    import pandas as pd

    expander = CohortExpander(
        regimen,
        cycles=cycles,
        cycle_length=cycle_length,
        rounding=rounding,
        options=None if options == ClinicalOptions() else options,
    )
    engine = engine if engine is not None else PandasEngine()
    with arrow_memory():
        results = engine.run(expander, roster, sink, progress)
    named = column_names(name)
    problems = [r.problems for r in results if len(r.problems)]
    errors = pd.concat(problems, ignore_index=True) if problems else pd.DataFrame(columns=list(engine.error_columns))
    errors["problem"] = errors["problem"].map(lambda text: render(text, named))
    patients = sum(r.patients for r in results)
    notes = dict.fromkeys([*expander.notes, *(n for r in results for n in r.notes)])
    return RunSummary(
        patients_in=patients,
        expanded=patients - sum(r.rejected for r in results),
        rows=sum(r.rows for r in results),
        errors=errors,
        notes=tuple(render(n, named) for n in notes),
        warned=sum(r.warned for r in results),
        first_warning=next((r.first_warning for r in results if r.first_warning), None),
    )


# ---- in memory ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CohortResult:
    """Rows for the expanded patients, and the rejected roster rows with their problems."""

    frame: pd.DataFrame  # columns OUTPUT_COLUMNS, one row per drug per treatment day per patient
    errors: pd.DataFrame  # columns ERROR_COLUMNS, one row per problem (a patient may have several)
    patients_in: int
    expanded: int
    notes: tuple[str, ...] = ()

    @property
    def rejected(self) -> int:
        return self.patients_in - self.expanded

    def summary(self) -> str:
        """'patients in = expanded + rejected', with the numbers."""
        return counts_line(self.patients_in, self.expanded)


class MemorySink:
    """A sink that keeps the parts in memory, in order (in-memory cohorts, event tables)."""

    def __init__(self) -> None:
        self.parts: list[pd.DataFrame] = []

    def write(self, rows: pd.DataFrame, part: int) -> None:
        self.parts.append(rows)

    def frame(self) -> pd.DataFrame:
        import pandas as pd

        if not self.parts:
            return empty_frame(OUTPUT_COLUMNS)
        return self.parts[0] if len(self.parts) == 1 else pd.concat(self.parts, ignore_index=True)


def cohort(
    regimen: Regimen,
    roster: pd.DataFrame,
    *,
    bsa_formula: str | None = None,
    cycles: int | Mapping[str, int] | None = None,
    cycle_length: int | None = None,
    rounding: Rounding = DEFAULT_ROUNDING,
    options: ClinicalOptions | None = None,
) -> CohortResult:
    """Expand ``regimen`` for every row of ``roster``: rows, rejected rows, and the counts.

    ``options``: the run's clinical options, as for :func:`regimen.engine.expand.expand` (every patient's rows are
    those of ``expand(regimen, patient, options=options)``); with ``strict``, patients whose plans carry a
    warning are rejected. ``bsa_formula`` is a shorthand for ``options=ClinicalOptions(bsa_formula=...)``."""
    if bsa_formula is not None:
        if options is not None and bsa_formula != options.bsa_formula:
            raise CohortError(
                f"bsa_formula {bsa_formula!r} and options.bsa_formula {options.bsa_formula!r} differ: give one"
            )
        options = options if options is not None else ClinicalOptions(bsa_formula=bsa_formula)
    frames = MemorySink()
    summary = run(
        regimen,
        roster,
        frames,
        options,
        cycles=cycles,
        cycle_length=cycle_length,
        rounding=rounding,
        engine=PandasEngine(chunk_size=max(len(roster), 1)),
    )
    return CohortResult(
        frame=frames.frame(),
        errors=summary.errors,
        patients_in=summary.patients_in,
        expanded=summary.expanded,
        notes=summary.notes,
    )


def expand_cohort(regimen: Regimen, roster: pd.DataFrame, **options: Any) -> pd.DataFrame:
    """Expand ``regimen`` for every row of ``roster`` and return the rows (columns :data:`OUTPUT_COLUMNS`).

    Rejected roster rows are not dropped silently: a :class:`RejectedRowsWarning` is issued and
    ``frame.attrs`` holds ``patients_in``, ``expanded``, ``rejected`` and ``errors`` (a list of
    ``{row, patient_id, column, problem}`` records). Use :func:`cohort` for a :class:`CohortResult`.
    """
    result = cohort(regimen, roster, **options)
    frame = result.frame
    frame.attrs.update(
        patients_in=result.patients_in,
        expanded=result.expanded,
        rejected=result.rejected,
        errors=result.errors.to_dict("records"),
        notes=list(result.notes),
    )
    if result.rejected:
        first = result.errors.iloc[0]
        warnings.warn(
            f"{result.rejected} of {result.patients_in} roster rows rejected (first: row {first['row']}, "
            f"{first['column']}: {first['problem']}); see frame.attrs['errors']",
            RejectedRowsWarning,
            stacklevel=2,
        )
    return frame


__all__ = [
    "CohortResult",
    "Engine",
    "MemorySink",
    "PandasEngine",
    "PartResult",
    "Progress",
    "RejectedRowsWarning",
    "RowSink",
    "RunSummary",
    "cohort",
    "counts_line",
    "expand_cohort",
    "expand_part",
    "run",
]
