"""The Dask engine: same rows as the pandas engine, partitioned Parquet out, on a local cluster (loopback only)."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("dask")
pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

from regimen import load
from regimen.cli import cli
from regimen.engine.cohort import CohortError, DaskEngine, cohort
from regimen.engine.rows import frame_records
from regimen.export.frames import write_cohort


def _roster_folder(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path / "roster"
    folder.mkdir()
    roster = pd.DataFrame({
        "patient_id": [f"p{i}" for i in range(30)],
        "weight_kg": [50.0 + i * 1.7 for i in range(30)],
        "bsa_m2": [1.4 + (i % 12) / 10 for i in range(30)],
        "age": [30 + i * 2 for i in range(30)],
        "start_date": [f"2026-01-{1 + i % 28:02d}" for i in range(30)],
    })
    roster.loc[7, "weight_kg"] = -1.0  # impossible: rejected
    roster.loc[21, "patient_id"] = "p3"  # duplicate across files: both rows rejected
    roster.iloc[:18].to_parquet(folder / "a.parquet", row_group_size=5)
    roster.iloc[18:].to_parquet(folder / "b.parquet", row_group_size=5)
    return folder, roster


@pytest.fixture(scope="module")
def client():  # type: ignore[no-untyped-def]
    from distributed import Client, LocalCluster

    # processes=False: scheduler and workers in this process, talking in-process (no network at all)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as c:
        yield c


def test_dask_engine_matches_pandas_engine_on_a_local_cluster(tmp_path: Path, client) -> None:  # type: ignore[no-untyped-def]
    folder, roster = _roster_folder(tmp_path)
    summary = write_cohort(load("cenersen-arm3"), folder, tmp_path / "out", engine=DaskEngine(client=client))
    assert (summary.patients_in, summary.expanded, summary.rejected) == (30, 27, 3)
    parts = sorted((tmp_path / "out").glob("part-*.parquet"))
    assert len(parts) == 7  # row groups of 5 rows: 4 in a.parquet (18 rows), 3 in b.parquet (12 rows)
    got = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    expected = cohort(load("cenersen-arm3"), roster).frame
    assert frame_records(got) == frame_records(expected)
    errors = list(csv.DictReader((tmp_path / "out.errors.csv").open()))
    assert {(e["file"], e["row"], e["column"]) for e in errors} == {
        ("a.parquet", "8", "weight_kg"), ("a.parquet", "4", "patient_id"), ("b.parquet", "4", "patient_id")}


def test_dask_cli_with_the_local_threaded_scheduler(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder, _ = _roster_folder(tmp_path)
    result = runner.invoke(cli, ["cohort", "cenersen-arm3", str(folder), "-o", str(tmp_path / "out"),
                                 "--engine", "dask"])
    assert result.exit_code == 0, result.output
    assert "patients in = expanded + rejected: 30 = 27 + 3" in result.output
    again = runner.invoke(cli, ["cohort", "cenersen-arm3", str(folder), "-o", str(tmp_path / "out"),
                                "--engine", "dask"])
    assert again.exit_code == 1 and "already exists" in again.output


def test_dask_engine_needs_a_folder_of_parquet(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CohortError, match=r"no \.parquet files"):
        write_cohort(load("cenersen-arm3"), tmp_path / "empty", tmp_path / "out", engine=DaskEngine())
    assert not (tmp_path / "out").exists()


def test_dask_engine_with_worker_processes(tmp_path: Path) -> None:
    """The expander and its tasks pickle: worker processes (TCP on loopback only) give the same rows."""
    from distributed import Client, LocalCluster

    folder, roster = _roster_folder(tmp_path)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, worker_dashboard_address=None) as cluster, Client(cluster) as c:
        summary = write_cohort(load("cenersen-arm3"), folder, tmp_path / "out", engine=DaskEngine(client=c))
    assert summary.expanded == 27
    got = pd.concat([pd.read_parquet(p) for p in sorted((tmp_path / "out").glob("part-*.parquet"))],
                    ignore_index=True)
    assert frame_records(got) == frame_records(cohort(load("cenersen-arm3"), roster).frame)
