"""Hostile input, round three (issue 26): each defect as a person meets it at the command line or the API, and the
friction a new user met. Every error is one line, exit code 1, no traceback, nothing written or created."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient
from tests.helpers import CAPOX_FIXTURE
from tests.postgres import postgres_server

from regimen.cli import cli
from regimen.store.db import HEAD
from regimen.web.app import create_app

REGIMENS = Path(__file__).resolve().parents[1] / "regimens"
FORMULARY = Path(__file__).resolve().parents[1] / "formulary" / "example.toml"
START = ["--weight", "70", "--bsa", "1.8", "--age", "60", "--start", "2026-12-01"]


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), env=env)


def one_line(result: Any) -> str:
    """The one line of a refused run: exit 1, 'Error: ...', no traceback."""
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ") and "Traceback" not in result.output
    return lines[0]


def started(db: str, course: str = "h1") -> None:
    result = run("course", "start", CAPOX_FIXTURE, "--course", course, *START, "--db", db)
    assert result.exit_code == 0, result.output


# ---- 1. a duration beyond any protocol --------------------------------------------------------------------


@pytest.mark.parametrize("duration", ["1000000000 days", "999999999999 h"])
def test_1_an_endless_infusion_is_refused_when_the_file_is_loaded(tmp_path: Path, duration: str) -> None:
    text = (REGIMENS / "capox.toml").read_text()
    path = tmp_path / "long.toml"
    path.write_text(re.sub(r'^duration\s*=\s*"[^"]*"', f'duration = "{duration}"', text, count=1, flags=re.M))
    assert duration in path.read_text()
    validated = run("validate", str(path))
    assert validated.exit_code == 1 and "longer than regimen plans (at most 36,600 days" in validated.output
    line = one_line(run("expand", str(path), *START[:6], "--start", "2026-12-01", "--time", "08:00", "--tz", "UTC"))
    assert f"duration '{duration}' is longer than regimen plans" in line


# ---- 2. a worklist from the end of time -------------------------------------------------------------------


@pytest.mark.parametrize("command", [["due"], ["supply", "--due"]])
def test_2_a_worklist_from_9999_is_one_line(tmp_path: Path, command: list[str]) -> None:
    db = str(tmp_path / "c.sqlite3")
    started(db)
    line = one_line(run(*command, "--from", "9999-12-31", "--days", "2", "--db", db))
    assert line == "Error: --from 9999-12-31 is outside the years 1900–2999 that regimen plans"


# ---- 3. a damaged database ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["course", "show", "h1"], ["course", "list"], ["due", "--from", "2026-12-01"]])
def test_3_a_database_with_corrupted_pages_is_one_line(tmp_path: Path, command: list[str]) -> None:
    db = tmp_path / "c.sqlite3"
    started(str(db))
    with sqlite3.connect(db) as conn:  # every page in the file itself, none left in the write-ahead log
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = db.stat().st_size // 4096
    with db.open("r+b") as f:  # dd if=/dev/urandom of=db bs=4096 seek=1 count=... conv=notrunc: all but the header
        f.seek(4096)
        f.write(os.urandom((pages - 1) * 4096))
    line = one_line(run(*command, "--db", str(db)))
    assert f"the course database {db} is damaged (database disk image is malformed)" in line
    assert "restore it from a backup" in line and "SELECT" not in line


# ---- 4. a database of a newer schema ----------------------------------------------------------------------


def _newer(line: str) -> None:
    assert f"was written by a newer regimen (schema '9999zz'; this one knows up to '{HEAD}')" in line
    assert "upgrade regimen" in line and "nothing was changed" in line


def test_4_a_newer_sqlite_database_is_refused_untouched(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    started(str(db))
    with sqlite3.connect(db) as conn:
        conn.execute("update alembic_version set version_num='9999zz'")
    before = db.read_bytes()
    _newer(one_line(run("course", "list", "--db", str(db))))
    _newer(one_line(run("course", "delay", "h1", "--cycle", "2", "--by", "7d", "--reason", "x", "--db", str(db))))
    assert db.read_bytes() == before


# ---- 5. a password in a URL ----------------------------------------------------------------------------------


def test_5_a_password_is_never_echoed() -> None:
    line = one_line(run("course", "list", "--db", "postgresql://u:Secret99@[::1"))
    assert "Secret99" not in line and "postgresql://u:***@[::1" in line


def test_5_a_caldav_url_with_a_password_is_masked(tmp_path: Path) -> None:
    line = one_line(run("expand", "capox", *START, "--caldav", "ftp://u:Secret99@example.org/cal/"))
    assert "Secret99" not in line


# ---- 3, 4, 5, 12 on PostgreSQL -------------------------------------------------------------------------------


def _postmaster(url: str) -> int:
    import psycopg

    with psycopg.connect(
        url
    ) as conn:  # the backend's parent, read while the backend lives (it ends with the connection)
        backend = conn.execute("select pg_backend_pid()").fetchone()
        assert backend is not None
        status = Path(f"/proc/{backend[0]}/status").read_text()
    return int(re.search(r"^PPid:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]


def _until_gone(url: str) -> None:
    """Wait (a minute at most) until the server refuses a new connection: it has stopped."""
    import psycopg

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            psycopg.connect(url, connect_timeout=2).close()
        except psycopg.OperationalError:
            return
        time.sleep(0.05)
    raise AssertionError(f"the server at {url} still answers a minute after SIGQUIT")


#: ``regimen ARGS`` as a person runs it, with the store's test seam (``before_commit``) set to make the MARK file
#: once the change is written and to wait there, inside the transaction, so that the test can stop the server.
PAUSED_COMMAND = """
import pathlib, sys, time
import regimen.store.courses as courses
mark, args = sys.argv[1], sys.argv[2:]
opened = courses.CourseStore.__init__
def pause():  # until the test has stopped the server (MARK.go), for a minute at most
    pathlib.Path(mark).touch()
    go, deadline = pathlib.Path(mark + ".go"), time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
def init(self, engine, before_commit=None):
    opened(self, engine, pause)
courses.CourseStore.__init__ = init
from regimen.__main__ import main
sys.argv = ["regimen", *args]
main()
"""


def test_postgresql_newer_schema_password_and_a_server_dying_mid_commit(tmp_path: Path) -> None:
    with postgres_server() as url:
        started(url, "pg1")
        # 5: a wrong password's refusal shows the URL with the password hidden
        host = url.split("@", 1)[1].rsplit("/", 1)[0]
        line = one_line(run("course", "list", "--db", f"postgresql://nobody:Secret99@{host}/nothere"))
        assert "Secret99" not in line and f"postgresql://nobody:***@{host}/nothere" in line
        # 4: a newer schema: refused, the version left as it was
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("update alembic_version set version_num='9999zz'")
        _newer(one_line(run("course", "list", "--db", url)))
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("select version_num from alembic_version").fetchone() == ("9999zz",)
            conn.execute(f"update alembic_version set version_num='{HEAD}'")
        # 12: the server stops (immediate shutdown, as pg_ctl -m immediate) while a change commits
        mark = tmp_path / "mark"
        argv = ["course", "delay", "pg1", "--cycle", "2", "--by", "7d", "--reason", "neutrophils", "--db", url]
        proc = subprocess.Popen(
            [sys.executable, "-c", PAUSED_COMMAND, str(mark), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 60
        while not mark.exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        os.kill(_postmaster(url), signal.SIGQUIT)
        _until_gone(url)
        (tmp_path / "mark.go").touch()  # the change commits now, to a server that is no longer there
        _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("Error: lost the connection to the course database postgresql://postgres@")
    assert "may or may not have been recorded" in lines[0] and "'regimen course show'" in lines[0]


# ---- 6. a lone surrogate -------------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["label", "weight", "tz"])
def test_6_a_lone_surrogate_is_a_400_in_every_field(field: str) -> None:
    client = TestClient(create_app(rate=0), base_url="http://127.0.0.1", raise_server_exceptions=False)
    body = {"regimen": "capox", "weight": "70", "bsa": "1.8", "age": "50", "start": "2026-12-01", "time": "08:00"}
    text = ", ".join(f'"{k}": "{v}"' for k, v in {**body, field: "@@"}.items()).replace("@@", "\\ud800")
    answer = client.post(
        "/api/calendar", content=("{" + text + "}").encode(), headers={"content-type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"error": f"{field}: not text (it holds a lone UTF-16 surrogate); send UTF-8 text"}


# ---- 7. an output that is an input -----------------------------------------------------------------------


def test_7_no_command_writes_over_one_of_its_inputs(tmp_path: Path) -> None:
    os.chdir(tmp_path)
    definition = tmp_path / "c.json"
    assert run("export-definition", "capox", "-o", str(definition)).exit_code == 0
    regimen = tmp_path / "h6.toml"
    regimen.write_text((REGIMENS / "mfolfox6.toml").read_text())
    formulary = tmp_path / "f.toml"
    formulary.write_text(FORMULARY.read_text())
    roster = tmp_path / "roster.csv"
    roster.write_text("patient_id,weight_kg,bsa_m2,age\np1,70,1.8,50\n")
    db = str(tmp_path / "c.sqlite3")
    started(db)
    # the course database is in WAL mode: the last connection to close (a reader's too) may copy the log into the
    # file, changing its bytes but not its data; copied first, so that the bytes compared below are the data's
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    link = tmp_path / "link.toml"
    link.symlink_to(regimen)
    cases = [
        (["import-definition", str(definition), "-o", str(definition)], "FILE", definition),
        (["export-definition", str(regimen), "-o", str(regimen)], "REGIMEN", regimen),
        (["export-definition", str(regimen), "-o", str(link)], "REGIMEN", regimen),  # the same inode by another name
        (["expand", "mfolfox6", *START[:6], "--formulary", str(formulary), "--vial-round", "-o", str(formulary)],
         "--formulary", formulary),
        (["supply", "capox", str(roster), "-o", str(roster)], "ROSTER", roster),
        (["cohort", "capox", str(roster), "-o", str(roster)], "ROSTER", roster),
        (["course", "show", "h1", "--db", db, "-o", db], "--db", Path(db)),
        (["course", "calendar", "h1", "--db", db, "--ics", db], "--db", Path(db)),
    ]  # fmt: skip
    for argv, named, victim in cases:
        before = victim.read_bytes()
        line = one_line(run(*argv))
        assert f"is the same file as {named}: writing it would destroy that" in line, (argv, line)
        assert victim.read_bytes() == before


def test_7_a_regimen_named_by_its_id_is_not_an_output(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    target = folder / "capox.toml"  # found by its id through --regimen-path, as the bundled file is
    target.write_text((REGIMENS / "capox.toml").read_text())
    before = target.read_bytes()
    line = one_line(run("expand", "capox", *START[:6], "--regimen-path", str(folder), "-o", str(target)))
    assert "is the same file as REGIMEN" in line and target.read_bytes() == before


# ---- 8. vial sizes too fine ------------------------------------------------------------------------------


def test_8_supply_and_vial_rounding_share_one_bound(tmp_path: Path) -> None:
    tiny = tmp_path / "tiny.toml"
    tiny.write_text('name = "tiny"\n[[drug]]\ndrug = "oxaliplatin"\nvials = ["0.000000000001 mg"]\n')
    roster = tmp_path / "roster.csv"
    roster.write_text("patient_id,weight_kg,bsa_m2,age\np1,70,1.8,50\n")
    began = time.monotonic()
    line = one_line(run("supply", "capox", str(roster), "--formulary", str(tiny)))
    assert time.monotonic() - began < 30
    # oxaliplatin 130 mg/m² × 1.8 m² = 234 mg: 234 / 1e-12 = 2.34e14 steps, + the largest vial (1 step)
    assert "whole vials of 0.000000000001 mg for 234 mg would take 234,000,000,000,001 combinations" in line
    assert "(at most 200,000): give oxaliplatin larger vial sizes in the formulary" in line
    rounded = one_line(run("expand", "capox", *START[:6], "--formulary", str(tiny), "--vial-round"))
    assert "would take 234,000,000,000,001 combinations to search (at most 200,000)" in rounded


# ---- 9. a very long regimen path -------------------------------------------------------------------------


def test_9_a_very_long_regimen_path_is_one_line() -> None:
    line = one_line(run("list", "--regimen-path", "a" * 5000))
    assert line.startswith("Error: regimen folder from --regimen-path 'aaaa") and "is 5,000 characters" in line
    line = one_line(run("list", env={"REGIMEN_PATH": "/a" * 3000}))
    assert "from REGIMEN_PATH '/a/a" in line and "is 6,000 characters, too long a path for this system" in line
    line = one_line(run("expand", "b" * 300 + ".toml", "--weight", "70"))
    assert "regimen file 'bbbb" in line and "305 characters" in line


# ---- 10. readers create nothing -------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["course", "show", "nope"], ["due"], ["course", "list"], ["supply", "--due"]])
def test_10_a_reader_never_creates_a_database(tmp_path: Path, command: list[str]) -> None:
    ghost = tmp_path / "ghost.sqlite3"
    line = one_line(run(*command, "--db", str(ghost)))
    assert f"no course database at {ghost}: nothing is recorded there yet" in line
    assert list(tmp_path.iterdir()) == []


def test_10_a_missing_home_folder_is_not_created(tmp_path: Path) -> None:
    home = tmp_path / "nohome"
    line = one_line(run("course", "list", env={"HOME": str(home), "XDG_DATA_HOME": "", "REGIMEN_DB": ""}))
    assert "no course database at" in line and not home.exists()


def test_10_an_empty_file_is_refused_for_reads_and_a_writer_says_it_creates(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    line = one_line(run("course", "list", "--db", str(empty)))
    assert line == f"Error: {empty} is an empty file, not a course database: give --db the course database's file"
    assert empty.stat().st_size == 0
    fresh = tmp_path / "new" / "c.sqlite3"
    result = run("course", "start", CAPOX_FIXTURE, "--course", "n1", *START, "--db", str(fresh))
    assert result.exit_code == 0 and f"created a new course database: {fresh}" in result.stderr
    again = run("course", "start", CAPOX_FIXTURE, "--course", "n2", *START, "--db", str(fresh))
    assert again.exit_code == 0 and "created" not in again.stderr
    shown = run("course", "list", "--db", str(fresh))
    assert shown.exit_code == 0 and "2 course(s)" in shown.stdout


# ---- 13. every Dask worker dies ----------------------------------------------------------------------------


def test_13_workers_that_all_die_are_one_line(tmp_path: Path) -> None:
    pytest.importorskip("distributed")
    import cloudpickle
    import dask
    import pandas as pd
    from distributed import Client, LocalCluster, WorkerPlugin

    class KillOnPart(WorkerPlugin):
        """Ends its worker's process as soon as it starts expanding a roster part."""

        def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
            if finish == "executing" and str(key).startswith("regimen-part-"):
                os._exit(1)

    folder = tmp_path / "roster"
    folder.mkdir()
    pd.DataFrame(
        {"patient_id": ["a", "b"], "weight_kg": [70.0, 80.0], "bsa_m2": [1.8, 1.9], "age": [40, 50]}
    ).to_parquet(folder / "a.parquet")
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the plugin, to workers that cannot import tests
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):
        client.register_plugin(KillOnPart(), name="kill-on-part")
        out = tmp_path / "out"
        result = run("cohort", "capox", str(folder), "--engine", "dask", "--scheduler", cluster.scheduler_address,
                     "-o", str(out), "--no-progress")  # fmt: skip
    line = one_line(result)
    assert "the Dask workers died while expanding roster part 0" in line and "no output was written" in line
    assert "leave out --scheduler" in line
    assert not out.exists() and not list(tmp_path.glob(".out*"))


# ---- 14. temporary files of a killed cohort run -------------------------------------------------------------


def test_14_a_cohort_run_removes_what_a_killed_run_left(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "patient_id,weight_kg,bsa_m2,age\n" + "".join(f"p{i},{60 + i % 40},1.8,{30 + i % 40}\n" for i in range(30000))
    )
    out = tmp_path / "out.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "regimen", "cohort", "capox", str(roster), "-o", str(out), "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".out.csv.*.tmp")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = list(tmp_path.glob(".out.csv.*.tmp"))
    assert len(left) == 1 and f".out.csv.{proc.pid}-" in left[0].name
    older = tmp_path / ".out.csv.wrye6low.tmp"  # the naming of an older regimen, held by no process
    older.write_text("partial")
    past = time.time() - 60
    for p in (*left, older):
        os.utime(p, (past, past))
    small = tmp_path / "small.csv"
    small.write_text("patient_id,weight_kg,bsa_m2,age\np1,70,1.8,50\n")
    result = run("cohort", "capox", str(small), "-o", str(out), "--no-progress")
    assert result.exit_code == 0, result.output
    assert "removed 2 temporary file(s) left by an earlier run that was stopped" in result.stderr
    assert left[0].name in result.stderr and older.name in result.stderr
    assert not list(tmp_path.glob(".out.csv.*")) and out.is_file()


# ---- friction a new user met ------------------------------------------------------------------------------


def test_a_mistyped_course_id_gets_a_did_you_mean(tmp_path: Path) -> None:
    db = str(tmp_path / "c.sqlite3")
    started(db, "bed4")
    line = one_line(run("course", "show", "bde1", "--db", db))
    assert line == f"Error: no course 'bde1' in {db}: did you mean 'bed4'? 'regimen course list' shows the courses"
    line = one_line(run("course", "delay", "bde4", "--cycle", "2", "--by", "7d", "--reason", "x", "--db", db))
    assert "did you mean 'bed4'?" in line
    assert "did you mean" not in one_line(run("course", "show", "zzzzzz", "--db", db))


def test_a_missing_bsa_says_that_the_height_computes_it() -> None:
    line = one_line(run("expand", "mfolfox6", "--weight", "82"))
    assert line == (
        "Error: mfolfox6 needs the patient's body-surface area: pass --bsa ... (or --height ...: the BSA is then "
        "computed, Mosteller by default)"
    )
    assert "(or --height ... and --weight ...:" in one_line(run("expand", "mfolfox6", "--age", "60"))


def test_a_nonmem_cohort_gives_the_bsa_computed_from_height(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("patient_id,weight_kg,height_cm,age\np1,70,175,50\n")
    out = tmp_path / "x.nonmem.csv"
    assert run("cohort", "mfolfox6", str(roster), "-o", str(out)).exit_code == 0
    # Mosteller √(70 × 175 / 3600) = 1.8445 m² -> 1.845 (three places, as 'expand' computes and doses with it)
    header, first = (line.split(",") for line in out.read_text().splitlines()[:2])
    assert [first[header.index(c)] for c in ("WT", "BSA", "AGE")] == ["70", "1.845", "50"]
    single = run("expand", "mfolfox6", "--weight", "70", "--height", "175", "--age", "50", "--format", "nonmem")
    header, first = (line.split(",") for line in single.stdout.splitlines()[:2])
    assert [first[header.index(c)] for c in ("WT", "BSA", "AGE")] == ["70", "1.845", "50"]


def test_the_api_names_fields_hides_paths_and_documents_itself() -> None:
    client = TestClient(create_app(rate=0), base_url="http://127.0.0.1", raise_server_exceptions=False)
    plan = client.post("/api/plan", json={"regimen": "capox", "weight": "70", "height": "175", "age": "50"})
    assert plan.status_code == 200 and plan.json()["regimen"]["file"] == "capox.toml"
    assert str(REGIMENS) not in plan.text
    refused = client.post("/api/plan", json={"regimen": "capox", "weight": "9000", "bsa": "1.8", "age": "50"})
    assert refused.json() == {"error": "weight 9,000 kg is impossible: give a value between 0.2 and 650 kg (weight)"}
    docs = client.get("/docs")
    assert docs.status_code == 200 and "<code>POST /api/plan</code>" in docs.text
    assert "<code>weight</code>" in docs.text and 'href="/openapi.json"' in docs.text
    outside = re.findall(r'(?:src|href)="((?:https?:)?//[^"]*)"', docs.text)
    assert outside == [] and "<script" not in docs.text
    assert "default-src 'none'" in docs.headers["content-security-policy"]


def test_regimen_show_ends_each_sentence_once() -> None:
    for path in sorted(REGIMENS.glob("*.toml")):
        text = run("show", path.stem).stdout
        assert not re.search(r"[^.]\.\.(\s|$)", text), (path.stem, re.findall(r".{30}[^.]\.\.(?:\s|$)", text))


def test_course_start_takes_the_machines_zone_as_expand_does(tmp_path: Path) -> None:
    db = str(tmp_path / "c.sqlite3")
    env = {"TZ": "Europe/Berlin"}
    result = run("course", "start", CAPOX_FIXTURE, "--course", "z1", *START, "--time", "08:00", "--db", db, env=env)
    assert result.exit_code == 0, result.output
    assert "Day 1: 2026-12-01, first drug at 08:00 (Europe/Berlin)" in run("course", "show", "z1", "--db", db).stdout
    plan = run("expand", "capox", *START, "--time", "08:00", "--format", "json", env=env)
    assert '"start": "2026-12-01T08:00:00+01:00"' in plan.stdout
