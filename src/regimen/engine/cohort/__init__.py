"""Cohorts: one regimen expanded for every patient of a roster, with the same rows as ``regimen expand`` gives each.

Modules, in the order a run uses them:

- :mod:`~regimen.engine.cohort.roster`: reading a roster, its columns (each distinct value read and checked once)
  and its repeated patient ids;
- :mod:`~regimen.engine.cohort.expander`: :class:`CohortExpander`, the vectorised expansion of a roster chunk;
  its parts: :mod:`~regimen.engine.cohort.values` (patient values read and checked once per distinct value),
  :mod:`~regimen.engine.cohort.templates` (a plan per variant group, its rows per distinct body value) and
  :mod:`~regimen.engine.cohort.rowtable` (the run's distinct rows, coded, and a chunk's rows taken from them);
- :mod:`~regimen.engine.cohort.runner`: :func:`run` (engine, sink, progress), the pandas engine, and
  :func:`cohort` / :func:`expand_cohort` for a roster in memory;
- :mod:`~regimen.engine.cohort.dask`: the Dask engine (a folder of Parquet files, one task per row group).

Output rows are those of ``regimen expand --format csv``, with ``patient_id`` first, in roster order, typed by the
row schema (:data:`regimen.engine.rows.ROW_SCHEMA`). Rows the engine cannot use are rejected, never dropped
silently: see :attr:`RunSummary.errors`. Writing files is the export layer's (:mod:`regimen.export.frames`).
"""

from __future__ import annotations

from regimen.engine.cohort.dask import DaskEngine
from regimen.engine.cohort.expander import OUTPUT_COLUMNS, CohortExpander
from regimen.engine.cohort.roster import COLUMNS, ERROR_COLUMNS, ID_COLUMN, CohortError, read_roster
from regimen.engine.cohort.runner import (
    CohortResult,
    PandasEngine,
    Progress,
    RejectedRowsWarning,
    RowSink,
    RunSummary,
    cohort,
    expand_cohort,
    run,
)

__all__ = [
    "COLUMNS",
    "ERROR_COLUMNS",
    "ID_COLUMN",
    "OUTPUT_COLUMNS",
    "CohortError",
    "CohortExpander",
    "CohortResult",
    "DaskEngine",
    "PandasEngine",
    "Progress",
    "RejectedRowsWarning",
    "RowSink",
    "RunSummary",
    "cohort",
    "expand_cohort",
    "read_roster",
    "run",
]
