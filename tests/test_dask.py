"""The Dask engine: same rows as the pandas engine, partitioned Parquet out, on a local cluster (loopback only)."""

from __future__ import annotations

import csv
import datetime as dt
import tempfile
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.conftest import SEED_IDS
from tests.helpers import examples
from tests.test_cohort import ADJUSTED, EXAMPLE_FORMULARY, clinical_options, clinical_patients

pytest.importorskip("dask")
pytest.importorskip("distributed")
pytest.importorskip("pyarrow")

from regimen import expand, load, make_patient
from regimen.cli import cli
from regimen.clinical.dose_change import DoseChange
from regimen.clinical.prepare import ClinicalOptions, StrictError
from regimen.engine.cohort import ID_COLUMN, CohortError, DaskEngine, cohort, run
from regimen.engine.row_frames import frame_records
from regimen.engine.rows import csv_record
from regimen.errors import PatientError
from regimen.export.frames import FrameWriter, write_cohort
from regimen.protocol.loader import amount


def _roster_folder(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    folder = tmp_path / "roster"
    folder.mkdir()
    roster = pd.DataFrame(
        {
            "patient_id": [f"p{i}" for i in range(30)],
            "weight_kg": [50.0 + i * 1.7 for i in range(30)],
            "bsa_m2": [1.4 + (i % 12) / 10 for i in range(30)],
            "age": [30 + i * 2 for i in range(30)],
            "start_date": [f"2026-01-{1 + i % 28:02d}" for i in range(30)],
        }
    )
    roster.loc[7, "weight_kg"] = -1.0  # impossible: rejected
    roster.loc[21, "patient_id"] = "p3"  # duplicate across files: both rows rejected
    roster.iloc[:18].to_parquet(folder / "a.parquet", row_group_size=5)
    roster.iloc[18:].to_parquet(folder / "b.parquet", row_group_size=5)
    return folder, roster


@pytest.fixture(scope="module")
def client():  # type: ignore[no-untyped-def]
    from distributed import Client, LocalCluster

    # processes=False: scheduler and workers in this process, talking in-process (no network at all)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster,
        Client(cluster) as c,
    ):
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
        ("a.parquet", "8", "weight_kg"),
        ("a.parquet", "4", "patient_id"),
        ("b.parquet", "4", "patient_id"),
    }


def test_dask_cli_with_the_local_threaded_scheduler(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder, _ = _roster_folder(tmp_path)
    result = runner.invoke(
        cli, ["cohort", "cenersen-arm3", str(folder), "-o", str(tmp_path / "out"), "--engine", "dask"]
    )
    assert result.exit_code == 3, result.output
    assert "patients in = expanded + rejected: 30 = 27 + 3" in result.output
    again = runner.invoke(
        cli, ["cohort", "cenersen-arm3", str(folder), "-o", str(tmp_path / "out"), "--engine", "dask"]
    )
    assert again.exit_code == 1 and "already exists" in again.output


def test_dask_engine_needs_a_folder_of_parquet(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(CohortError, match=r"no \.parquet files"):
        write_cohort(load("cenersen-arm3"), tmp_path / "empty", tmp_path / "out", engine=DaskEngine())
    assert not (tmp_path / "out").exists()


def _parts(folder: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in sorted(folder.glob("part-*.parquet"))], ignore_index=True)


#: Run-wide clinical options, the formulary included (it is pickled to the workers too).
OPTIONS = ClinicalOptions(
    bsa_cap=Fraction(2),
    dose_changes={"idarubicin": DoseChange(Fraction(75))},
    round_to={"cytarabine": amount("100mg", "round_to")},
    formulary=EXAMPLE_FORMULARY,
    vial_round=True,
)
#: And under strict (without the example formulary, whose warning every plan would carry).
STRICT = ClinicalOptions(
    bsa_cap=Fraction(2),
    dose_changes={"idarubicin": DoseChange(Fraction(75))},
    round_to={"cytarabine": amount("100mg", "round_to")},
    strict=True,
)


def test_dask_engine_with_worker_processes(tmp_path: Path) -> None:
    """The expander, its clinical options and the sink pickle: a worker process (TCP on loopback only) gives the
    same rows as the pandas engine, with and without options. One worker: every part crosses the process boundary
    to it, which is what is tested; a second (its own interpreter importing pandas, Arrow and regimen) added only
    start-up time; parts done by two workers at once are test_dask_engine_matches_pandas_engine_on_a_local_cluster's."""
    from distributed import Client, LocalCluster

    folder, roster = _roster_folder(tmp_path)
    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        Client(cluster) as c,
    ):
        summary = write_cohort(load("cenersen-arm3"), folder, tmp_path / "out", engine=DaskEngine(client=c))
        with_options = write_cohort(
            load("cenersen-arm3"), folder, tmp_path / "opt", OPTIONS, engine=DaskEngine(client=c)
        )
    assert summary.expanded == 27
    got = _parts(tmp_path / "out")
    assert frame_records(got) == frame_records(cohort(load("cenersen-arm3"), roster).frame)
    expected = cohort(load("cenersen-arm3"), roster, options=OPTIONS)
    assert with_options.expanded == expected.expanded == 27
    got = _parts(tmp_path / "opt")
    assert frame_records(got) == frame_records(expected.frame)
    assert got["calculation"].str.contains("whole vials").any()


def test_dask_cli_takes_the_clinical_options_of_the_pandas_engine(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder, roster = _roster_folder(tmp_path)
    args = ["--bsa-cap", "2", "--dose-percent", "idarubicin=75%", "--round", "cytarabine=100mg", "--strict"]
    result = runner.invoke(
        cli, ["cohort", "cenersen-arm3", str(folder), "-o", str(tmp_path / "out"), "--engine", "dask", *args]
    )
    assert result.exit_code == 3, result.output
    expected = cohort(load("cenersen-arm3"), roster, options=STRICT)
    assert 0 < expected.expanded < 27  # strict rejects the patients whose BSA is capped
    assert f"patients in = expanded + rejected: 30 = {expected.expanded} + {expected.rejected}" in result.output
    assert "--strict: patients whose plans carry a warning are rejected" in result.output  # a note, in flags
    got = _parts(tmp_path / "out")
    assert frame_records(got) == frame_records(expected.frame)
    assert got["calculation"].str.contains("75 % of the dose (reduced by 25 %)", regex=False).any()
    errors = list(csv.DictReader((tmp_path / "out.errors.csv").open()))
    strict = [e for e in errors if e["column"] == ""]
    assert strict and all(e["problem"].startswith("'--strict: ") for e in strict)  # quoted for spreadsheets (OWASP)
    assert len({(e["file"], e["row"]) for e in errors}) == expected.rejected
    pandas = runner.invoke(
        cli, ["cohort", "cenersen-arm3", str(folder / "a.parquet"), "-o", str(tmp_path / "a.csv"), *args]
    )
    assert pandas.exit_code == 3, pandas.output
    assert pandas.output.splitlines()[:-2] == result.output.splitlines()[:-2]  # the same notes


class _Parts:
    """An in-memory sink for the threaded scheduler: parts in any order."""

    parts_in_any_order = True

    def __init__(self) -> None:
        self.parts: dict[int, pd.DataFrame] = {}

    def write(self, rows: pd.DataFrame, part: int) -> None:
        self.parts[part] = rows

    def frame(self) -> pd.DataFrame:
        return pd.concat([self.parts[i] for i in sorted(self.parts)], ignore_index=True)


@settings(max_examples=examples(8), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    regimen_id=st.sampled_from([*SEED_IDS, "cohort-adjusted"]),
    rows=st.lists(clinical_patients, min_size=1, max_size=7),
)
def test_dask_with_clinical_options_every_patient_gets_exactly_the_rows_of_regimen_expand(
    data: st.DataObject, regimen_id: str, rows: list[dict[str, str]]
) -> None:
    """The pandas engine's property, on Dask's threaded scheduler: under random ClinicalOptions each patient's rows
    == expand(options=...) + csv_record(), and under strict exactly the patients whose plans warn are rejected."""
    reg = ADJUSTED if regimen_id == "cohort-adjusted" else load(regimen_id)
    options = data.draw(clinical_options(reg))
    for i, row in enumerate(rows):
        row["patient_id"] = f"P{i}"
        if i and i % 2:  # shared values: distinct-value blocks are reused
            row["weight_kg"], row["height_cm"], row["sex"] = rows[0]["weight_kg"], rows[0]["height_cm"], rows[0]["sex"]
    roster = pd.DataFrame(rows, columns=["patient_id", "weight_kg", "bsa_m2", "height_cm", "age", "sex", "start_date"])
    sink = _Parts()
    with tempfile.TemporaryDirectory() as tmp:
        half = max(1, len(roster) // 2)  # two files of row groups of 2: several tasks
        roster.iloc[:half].to_parquet(Path(tmp) / "a.parquet", row_group_size=2)
        if len(roster) > half:
            roster.iloc[half:].to_parquet(Path(tmp) / "b.parquet", row_group_size=2)
        summary = run(reg, tmp, sink, options, engine=DaskEngine())
    records = frame_records(sink.frame())
    rejected = set(summary.errors[ID_COLUMN])
    for row in rows:
        patient = make_patient(
            weight=row["weight_kg"], bsa=row["bsa_m2"] or None, height=row["height_cm"], age=row["age"], sex=row["sex"]
        )
        start = dt.date.fromisoformat(row["start_date"]) if row["start_date"] else None
        try:
            plan = expand(reg, patient, start=start, options=options)
        except (StrictError, PatientError):
            assert row["patient_id"] in rejected
            assert not [r for r in records if r[ID_COLUMN] == row["patient_id"]]
            continue
        assert row["patient_id"] not in rejected, summary.errors.to_dict("records")
        mine = [r for r in records if r[ID_COLUMN] == row["patient_id"]]
        assert mine == [{ID_COLUMN: row["patient_id"], **csv_record(plan, a)} for a in plan.administrations]
    assert summary.patients_in == len(rows) and summary.expanded == len(rows) - len(rejected)


def test_dask_frames_have_the_row_schema_and_progress_is_reported(tmp_path: Path) -> None:
    folder, roster = _roster_folder(tmp_path)
    sink = _Parts()
    calls: list[tuple[int, int]] = []
    summary = run(load("cenersen-arm3"), folder, sink, engine=DaskEngine(), progress=lambda d, t: calls.append((d, t)))
    assert summary.rejected == 3 and len(sink.parts) == 7
    expected = cohort(load("cenersen-arm3"), roster).frame
    for part in sink.parts.values():
        assert part.dtypes.to_dict() == expected.dtypes.to_dict()
    assert frame_records(sink.frame()) == frame_records(expected)
    assert calls[0] == (0, 30) and calls[-1] == (30, 30) and [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_dask_engine_needs_a_sink_that_takes_parts_in_any_order(tmp_path: Path) -> None:
    folder, _ = _roster_folder(tmp_path)
    writer = FrameWriter(tmp_path / "out.csv")
    with pytest.raises(CohortError, match="engine dask writes the parts of a run in any order"):
        run(load("cenersen-arm3"), folder, writer, engine=DaskEngine())
    writer.close(ok=False)
    assert not (tmp_path / "out.csv").exists()


def test_an_unreachable_scheduler_is_a_one_line_error(runner, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import distributed

    def refuse(address: str, **options: object) -> None:
        raise OSError(f"Timed out trying to connect to {address}")

    monkeypatch.setattr(distributed, "Client", refuse)
    folder, _ = _roster_folder(tmp_path)
    result = runner.invoke(
        cli,
        [
            "cohort",
            "cenersen-arm3",
            str(folder),
            "-o",
            str(tmp_path / "out"),
            "--engine",
            "dask",
            "--scheduler",
            "tcp://127.0.0.1:1",
        ],
    )
    assert result.exit_code == 1 and result.output.count("\n") == 1
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in result.output
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out.*"))


@pytest.fixture
def eager_thread_switches():  # type: ignore[no-untyped-def]
    """Threads switch every microsecond (Python's default: 5 ms), so that a race between tasks shows every run."""
    import sys

    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


def _distinct_roster(n: int, seed: int) -> pd.DataFrame:
    """Patients whose weights and BSAs are all different: every chunk adds rows to the expander's row table."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "patient_id": [f"p{i}" for i in range(n)],
            "weight_kg": [f"{w:.2f}" for w in rng.uniform(45, 120, n)],
            "bsa_m2": [f"{b:.3f}" for b in rng.uniform(1.4, 2.4, n)],
            "age": [str(a) for a in rng.integers(20, 80, n)],
        }
    )


@pytest.mark.usefixtures("eager_thread_switches")
def test_one_expander_on_many_threads_gives_every_chunk_its_own_rows() -> None:
    """Issue 26: Dask's local scheduler runs a run's tasks on threads that share one expander; chunks expanded at
    once broke its row table ('could not broadcast input array') or gave rows the self-check had to redo. Eight
    threads, sixteen chunks: each chunk's rows are those the chunk gets alone, made the vectorised way."""
    from concurrent.futures import ThreadPoolExecutor

    from regimen.engine.cohort.expander import CohortExpander

    roster = _distinct_roster(2400, seed=0)
    chunks = [roster.iloc[lo : lo + 150].reset_index(drop=True) for lo in range(0, len(roster), 150)]
    alone = [frame_records(CohortExpander(load("cenersen-arm3")).expand(c)[0]) for c in chunks]
    for _ in range(3):
        shared = CohortExpander(load("cenersen-arm3"))
        with ThreadPoolExecutor(8) as pool:
            done = [pool.submit(shared.expand, c, 1 + 150 * k) for k, c in enumerate(chunks)]
            got = [frame_records(d.result()[0]) for d in done]
        assert got == alone
        assert not any("one patient at a time" in n for n in shared.notes), shared.notes


@pytest.mark.usefixtures("eager_thread_switches")
@pytest.mark.parametrize("regimen_id", ["cenersen-arm3", "mfolfox6"])
def test_the_cli_on_the_threaded_scheduler_writes_the_pandas_engines_rows_every_time(
    runner, tmp_path: Path, regimen_id: str
) -> None:  # type: ignore[no-untyped-def]
    """Issue 26: two roster files of several row groups (30 tasks), on Dask's default scheduler (local threads),
    three runs: each writes exactly the rows of the pandas engine."""
    import pickle

    from regimen.engine.cohort.expander import CohortExpander

    roster = _distinct_roster(600, seed=1)
    folder = tmp_path / "roster"
    folder.mkdir()
    roster.iloc[:300].to_parquet(folder / "a.parquet", row_group_size=20)
    roster.iloc[300:].to_parquet(folder / "b.parquet", row_group_size=20)
    expected = frame_records(cohort(load(regimen_id), roster).frame)
    first = None
    for k in range(3):
        out = tmp_path / f"out{k}"
        result = runner.invoke(cli, ["cohort", regimen_id, str(folder), "-o", str(out), "--engine", "dask"])
        assert result.exit_code == 0, result.output
        got = _parts(out)
        if first is None:  # the pandas engine's rows, cell by cell (0.6 s of CPU a run)
            assert frame_records(got) == expected
            first = got
        else:  # the first run's frame again, cell for cell and column types too: so the same rows (a 100th of that)
            assert got.equals(first)
    # an expander still pickles for worker processes (without its lock; the copy has its own)
    copy = pickle.loads(pickle.dumps(CohortExpander(load(regimen_id))))
    assert frame_records(copy.expand(roster)[0]) == expected


@pytest.fixture
def small_slices(monkeypatch):  # type: ignore[no-untyped-def]
    """Slices of about 25 rows (2 or 3 cenersen-arm3 patients), the first of 2 patients: a row group of 30 patients
    is many slices."""
    import regimen.engine.cohort.dask as engine

    monkeypatch.setattr(engine, "SLICE_ROWS", 25)
    monkeypatch.setattr(engine, "FIRST_SLICE", 2)


def _one_row_group(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """The 30 patients of :func:`_roster_folder` (a weight of -1 in row 8, row 22's id repeating row 4's) in one
    file of one row group."""
    _, roster = _roster_folder(tmp_path)
    folder = tmp_path / "one"
    folder.mkdir()
    roster.to_parquet(folder / "all.parquet", row_group_size=len(roster))
    return folder, roster


@pytest.mark.usefixtures("small_slices")
def test_a_row_group_is_expanded_and_written_a_slice_at_a_time(tmp_path: Path, client) -> None:  # type: ignore[no-untyped-def]
    """Issue 29: a task's memory is bounded by its slices, not by the roster's row group. One row group of 30
    patients is one task and one output file, written a slice at a time (a row group of the file each): the rows
    are the pandas engine's, and the problems keep the file's row numbers across slices."""
    import pyarrow.parquet as pq

    folder, roster = _one_row_group(tmp_path)
    summary = write_cohort(load("cenersen-arm3"), folder, tmp_path / "out", engine=DaskEngine(client=client))
    assert (summary.patients_in, summary.expanded, summary.rejected) == (30, 27, 3)
    [part] = (tmp_path / "out").glob("part-*.parquet")
    assert part.name == "part-00000.parquet"
    assert pq.ParquetFile(part).metadata.num_row_groups >= 10  # 2 patients, then 2 or 3 a slice: at least 10 slices
    assert frame_records(pd.read_parquet(part)) == frame_records(cohort(load("cenersen-arm3"), roster).frame)
    errors = list(csv.DictReader((tmp_path / "out.errors.csv").open()))
    assert sorted((e["file"], int(e["row"]), e["column"]) for e in errors) == [
        ("all.parquet", 4, "patient_id"),
        ("all.parquet", 8, "weight_kg"),
        ("all.parquet", 22, "patient_id"),
    ]


@pytest.mark.usefixtures("small_slices")
def test_a_sink_that_takes_whole_parts_gets_a_row_group_whole(tmp_path: Path) -> None:
    """A sink without ``open_part`` (here in memory) is given each row group's rows once, all its slices together,
    with the row schema's types; progress counts the patients of every slice."""
    folder, roster = _one_row_group(tmp_path)
    sink = _Parts()
    calls: list[tuple[int, int]] = []
    summary = run(load("cenersen-arm3"), folder, sink, engine=DaskEngine(), progress=lambda d, t: calls.append((d, t)))
    assert summary.rejected == 3 and list(sink.parts) == [0]
    expected = cohort(load("cenersen-arm3"), roster).frame
    assert sink.parts[0].dtypes.to_dict() == expected.dtypes.to_dict()
    assert frame_records(sink.parts[0]) == frame_records(expected)
    assert calls == [(0, 30), (30, 30)]


def test_slices_are_sized_by_the_rows_a_patient_has_so_far() -> None:
    from regimen.engine.cohort.dask import FIRST_SLICE, SLICE_ROWS, next_slice
    from regimen.engine.cohort.runner import PartResult

    def done(patients: int, rejected: int, rows: int) -> PartResult:
        return PartResult(problems=pd.DataFrame(), patients=patients, rows=rows, rejected=rejected, notes=())

    assert SLICE_ROWS == 262_144 and FIRST_SLICE == 1_024
    assert next_slice([done(1024, 0, 61_440)]) == 4_369  # mFOLFOX6, 60 rows a patient: 262,144 / 60 = 4,369.07
    # 1,000 expanded patients, 232,000 rows (CAPOX): 262,144 / 232 = 1,129.9
    assert next_slice([done(1024, 24, 200_000), done(10, 10, 0), done(100, 100, 32_000)]) == 1_129
    assert next_slice([done(5, 5, 0)]) == FIRST_SLICE  # nobody expanded yet: rows a patient unknown
    assert next_slice([done(1, 0, 10**6)]) == 1  # never an empty slice


def test_a_task_takes_arrow_buffers_from_the_c_allocator(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Issue 29: with Arrow's default pool (mimalloc) a Dask worker's memory grew with every task and was not given
    back, until the workers paused at 80 % of their limit. A task, wherever it runs, writes its rows with Arrow
    buffers from the C library's allocator (as the run's own process does), and restores the pool it found."""
    import pyarrow as pa

    from regimen.engine.cohort.dask import expand_row_group, roster_parts
    from regimen.engine.cohort.expander import CohortExpander

    class Pools:
        parts_in_any_order = True

        def __init__(self) -> None:
            self.pools: list[str] = []

        def write(self, rows: pd.DataFrame, part: int) -> None:
            self.pools.append(pa.default_memory_pool().backend_name)

    folder, _ = _roster_folder(tmp_path)
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)  # a pool the user chose is left alone
    before = pa.default_memory_pool()
    pa.set_memory_pool(pa.mimalloc_memory_pool())  # as a worker process starts (Arrow's default)
    try:
        sink = Pools()
        [result] = expand_row_group(CohortExpander(load("cenersen-arm3")), roster_parts(folder)[0], {}, sink)
        assert result.patients == 5 and sink.pools == ["system"]
        assert pa.default_memory_pool().backend_name == "mimalloc"
    finally:
        pa.set_memory_pool(before)


def test_the_client_lets_go_of_each_part_as_soon_as_its_results_are_in(tmp_path: Path, client) -> None:  # type: ignore[no-untyped-def]
    """Issue 29: a worker keeps a task it ran, with its arguments (its copy of the expander, grown by the part's
    rows: megabytes), for as long as the client holds the task's future. Held to the end, they filled the workers of a
    5,000,000-patient run. Each time a part is counted done, the client holds futures of the parts not done only."""
    import time

    folder, _ = _roster_folder(tmp_path)  # 7 row groups: 7 tasks
    held: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        # a future let go is counted off by the client's event loop, a moment later: up to 2 s for it
        not_done = 7 - len(held) if held else 0
        deadline = time.monotonic() + 2
        while True:
            futures = sum(1 for key in client.refcount if str(key).startswith("regimen-part-"))
            if futures <= not_done or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        held.append((done, futures))

    write_cohort(load("cenersen-arm3"), folder, tmp_path / "out", engine=DaskEngine(client=client), progress=progress)
    assert held[0] == (0, 0)  # before the tasks are sent
    assert [n for _, n in held[1:]] == [6, 5, 4, 3, 2, 1, 0]
    assert held[-1][0] == 30


def test_a_run_on_a_scheduler_address_leaves_no_client_behind(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A program that runs a cohort on a scheduler by its address, then one on its own threads: the client made from
    the address is closed by the run and never made the default, and Dask's process-wide scheduler setting is left
    as it was. Before, that client stayed the default after its cluster was gone, and the second run failed counting
    the repeated ids: "Requested dask.distributed scheduler but no Client active" (found when the suite's order put
    a threaded run after the hostile-input test that runs the command line on a scheduler)."""
    import dask
    import distributed

    made: list[distributed.Client] = []

    class RecordedClient(distributed.Client):  # type: ignore[misc]
        def __init__(self, *args, **options) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, **options)
            made.append(self)

    monkeypatch.setattr(distributed, "Client", RecordedClient)
    folder, roster = _one_row_group(tmp_path)
    before = dask.config.get("scheduler", None)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        summary = write_cohort(
            load("cenersen-arm3"), folder, tmp_path / "out", engine=DaskEngine(client=c.scheduler_address)
        )
        assert (summary.expanded, summary.rejected) == (27, 3)
        assert len(made) == 1 and made[0].status == "closed"
    assert dask.config.get("scheduler", None) == before
    sink = _Parts()
    again = run(load("cenersen-arm3"), folder, sink, engine=DaskEngine())  # Dask's threads, in this process
    assert again.rejected == 3
    assert frame_records(sink.frame()) == frame_records(cohort(load("cenersen-arm3"), roster).frame)
