"""Cohorts beyond one machine's memory: the same per-partition function, run by Dask.

The roster is a folder of Parquet files. Each row group of each file is one task: it is read, expanded
by :class:`regimen.engine.cohort.CohortExpander` (exactly the pandas engine's code), and written as one Parquet
part of the output folder; only the problems and counts come back. Duplicate patient ids are found
first, over the whole roster (one column read). Row numbers in the errors file are per file (``file``,
``row``, 1 = the file's first row).

Needs the optional extra: ``pip install 'regimen[dask]'``. With no scheduler given, Dask's local
threaded scheduler runs the tasks; pass a ``distributed.Client`` (or its address) for a cluster.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from regimen.engine.cohort import (
    ERROR_COLUMNS,
    ID_COLUMN,
    CohortError,
    CohortExpander,
    RunSummary,
    duplicate_problems,
    rendered,
    write_frame,
)
from regimen.export.io import atomic_target
from regimen.model import Regimen

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

DASK_ERROR_COLUMNS = ("file", *ERROR_COLUMNS)


def _need_dask() -> None:
    try:
        import dask  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        raise CohortError("--engine dask needs Dask and pyarrow: pip install 'regimen[dask]'") from None


@dataclass(frozen=True, slots=True)
class _Part:
    file: Path
    row_group: int
    first_row: int  # 1-based row of the file where this row group starts
    index: int  # output part number


def roster_parts(folder: str | Path) -> list[_Part]:
    """One task per row group of each Parquet file in ``folder`` (sorted by name)."""
    import pyarrow.parquet as pq

    root = Path(folder)
    if not root.is_dir():
        raise CohortError(f"{root}: with --engine dask, ROSTER is a folder of .parquet files")
    files = sorted(p for p in root.iterdir() if p.suffix.lower() in (".parquet", ".pq") and p.is_file())
    if not files:
        raise CohortError(f"{root}: no .parquet files; write the roster as Parquet files in this folder")
    parts: list[_Part] = []
    for file in files:
        meta = pq.ParquetFile(file).metadata
        first = 1
        for rg in range(meta.num_row_groups):
            parts.append(_Part(file, rg, first, len(parts)))
            first += meta.row_group(rg).num_rows
    return parts


def expand_part(expander: CohortExpander, part: _Part, out_dir: str, duplicated: Mapping[str, int]
                ) -> tuple[pd.DataFrame, int, int, tuple[str, ...]]:
    """The per-partition function: read one row group, expand it, write it; return (problems, in, rows, notes)."""
    import numpy as np
    import pandas as pd
    import pyarrow.parquet as pq

    roster = pq.ParquetFile(part.file).read_row_group(part.row_group).to_pandas()
    if ID_COLUMN not in roster.columns:
        raise CohortError(f"{part.file}: roster has no column {ID_COLUMN}: add one, with one row per patient")
    mine = pd.DataFrame(duplicate_problems(roster[ID_COLUMN], part.first_row, duplicated),
                        columns=list(ERROR_COLUMNS))
    dup = np.zeros(len(roster), dtype=bool)
    dup[mine["row"].to_numpy(dtype=np.int64) - part.first_row] = True
    rows, problems = expander.expand(roster, part.first_row, dup)
    if len(mine):
        problems = pd.concat([problems, mine], ignore_index=True) if len(problems) else mine
    write_frame(rows, Path(out_dir) / f"part-{part.index:05d}.parquet")
    problems.insert(0, "file", part.file.name)
    return problems, len(roster), len(rows), tuple(expander.notes)


def _duplicates(parts: list[_Part]) -> dict[str, int]:
    """Patient ids that occur more than once anywhere in the roster, with their counts (one column read)."""
    import dask.dataframe as dd

    files = sorted({str(p.file) for p in parts})
    ids = dd.read_parquet(files, columns=[ID_COLUMN])[ID_COLUMN].dropna().astype(str).str.strip()
    counts = ids.value_counts().compute()
    return {str(i): int(n) for i, n in counts[counts > 1].items()}


def run_dask(regimen: Regimen, roster_dir: str | Path, out_dir: str | Path, *, errors_path: str | Path | None = None,
             bsa_formula: str | None = None, cycles: int | Mapping[str, int] | None = None,
             cycle_length: int | None = None, client: Any = None) -> RunSummary:
    """Expand every roster row group as a Dask task; write ``out_dir/part-NNNNN.parquet`` and the errors file.

    The output folder appears whole or not at all (written beside it, then renamed into place).
    """
    _need_dask()
    import pandas as pd
    from dask.base import compute
    from dask.delayed import delayed

    if isinstance(client, str):
        from distributed import Client

        client = Client(client)  # type: ignore[no-untyped-call]
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CohortError(f"{out} already exists: remove it or choose a new output folder")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise CohortError(f"cannot write {out}: folder {parent} does not exist; create it or choose another path")
    parts = roster_parts(roster_dir)
    expander = CohortExpander(regimen, bsa_formula=bsa_formula, cycles=cycles, cycle_length=cycle_length)
    columns = [str(c) for c in pd.read_parquet(parts[0].file).columns]
    expander.required_columns(columns)
    err_path = Path(errors_path) if errors_path is not None else out.with_name(out.name + ".errors.csv")
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    try:
        duplicated = _duplicates(parts)
        tasks = [delayed(expand_part)(expander, part, str(tmp), duplicated) for part in parts]
        if client is not None:
            results = client.gather(client.compute(tasks))
        else:
            results = compute(*tasks, scheduler="threads")  # type: ignore[no-untyped-call]
        problems = [r[0] for r in results if len(r[0])]
        errors = pd.concat(problems, ignore_index=True) if problems else pd.DataFrame(columns=list(DASK_ERROR_COLUMNS))
        with atomic_target(err_path) as target:
            rendered(errors).to_csv(target, index=False, lineterminator="\n")
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    patients = sum(r[1] for r in results)
    rejected = int(errors[["file", "row"]].drop_duplicates().shape[0]) if len(errors) else 0
    return RunSummary(patients_in=patients, expanded=patients - rejected, rows=sum(r[2] for r in results),
                      errors_path=err_path, notes=tuple(dict.fromkeys(n for r in results for n in r[3])))


__all__ = ["expand_part", "roster_parts", "run_dask"]
