"""Outputs never destroy anything (issue 11.4): only regular files are replaced, no run writes over its own input
or writes one file twice, SIGTERM leaves no temporary file, a full disk is one line, and no CSV cell a
spreadsheet would run as a formula is written as one."""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from regimen.cli import cli
from regimen.export import io as io_mod
from regimen.export.cells import safe_cell, safe_frame
from regimen.export.io import OutputError, check_paths, write_atomic

PATIENT = ["--weight", "70", "--bsa", "1.8", "--age", "45"]
ROSTER = "patient_id,weight_kg,bsa_m2,age\nP0,70,1.8,45\nP1,70 mg,1.8,45\n"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stderr


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), lines
    return lines[0]


def snapshot(folder: Path) -> dict[str, tuple[int, bytes | None]]:
    return {
        p.name: (p.lstat().st_mode, p.read_bytes() if p.is_file() and not p.is_symlink() else None)
        for p in folder.iterdir()
    }


# ---- only regular files are replaced --------------------------------------------------------------------


def special_files(tmp_path: Path) -> list[Path]:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    out = [fifo, tmp_path]
    if os.geteuid() == 0:  # as root, '-o /dev/null' replaced the device: a device node of our own shows it
        dev = tmp_path / "null-device"
        os.mknod(dev, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        link = tmp_path / "link-to-device"
        link.symlink_to(dev)
        out += [dev, link]
    return out


def test_expand_refuses_to_replace_anything_but_a_regular_file(tmp_path: Path) -> None:
    for target in special_files(tmp_path):
        before = snapshot(tmp_path)
        code, stderr = invoke("expand", "cenersen-arm3", *PATIENT, "--format", "csv", "-o", str(target))
        assert code in (1, 2), stderr  # a folder is refused by the option's own check (usage, 2)
        assert len(stderr.strip().splitlines()) == 1
        assert snapshot(tmp_path) == before, target


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_is_refused_by_every_writer(tmp_path: Path) -> None:
    dev = tmp_path / "dev.csv"
    os.mknod(dev, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    before = snapshot(tmp_path)
    for args in (
        ["cohort", "cenersen-arm3", str(roster), "-o", str(dev)],
        ["cohort", "cenersen-arm3", str(roster), "-o", str(tmp_path / "out.csv"), "--errors", str(dev)],
        ["expand", "cenersen-arm3", *PATIENT, "--start", "2026-01-05", "--ics", str(dev)],
        ["supply", "cenersen-arm3", str(roster), "--errors", str(dev)],
    ):
        code, stderr = invoke(*args)
        assert code == 1 and "it is a device, which regimen never replaces" in one_line(stderr), args
        assert stat.S_ISCHR(dev.lstat().st_mode)
    assert {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("out")} == before


def test_a_symbolic_link_is_followed_and_kept(tmp_path: Path) -> None:
    real = tmp_path / "real.csv"
    real.write_text("old\n")
    link = tmp_path / "plan.csv"
    link.symlink_to(real)
    write_atomic(link, "new\n")
    assert link.is_symlink() and real.read_text() == "new\n"


# ---- one file is one output, and never an input ---------------------------------------------------------


def test_the_same_file_twice_in_one_run_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)
    (tmp_path / "x.csv").write_text("keep\n")
    monkeypatch.chdir(tmp_path)
    cases = {
        ("cohort", "cenersen-arm3", "roster.csv", "-o", "roster.csv"): "-o roster.csv is the ROSTER this run reads",
        ("cohort", "cenersen-arm3", "roster.csv", "-o", "out.csv", "--errors", "roster.csv"): (
            "--errors roster.csv is the ROSTER this run reads"
        ),
        ("cohort", "cenersen-arm3", "roster.csv", "-o", "x.csv", "--errors", "./x.csv"): (
            "-o and --errors are the same file"
        ),
        ("expand", "cenersen-arm3", *PATIENT, "--start", "2026-01-05", "--ics", "x.csv", "-o", "x.csv"): (
            "-o and --ics are the same file"
        ),
        ("supply", "cenersen-arm3", "roster.csv", "-o", "roster.csv"): "-o roster.csv is the ROSTER this run reads",
        ("supply", "cenersen-arm3", "roster.csv", "--errors", "roster.csv"): "is the ROSTER this run reads",
        ("expand", str(Path(__file__).parents[1] / "regimens" / "abvd.toml"), *PATIENT, "-o", "abvd.toml"): None,
    }
    for args, message in cases.items():
        before = snapshot(tmp_path)
        code, stderr = invoke(*args)
        if message is None:  # a different file of the same name is not the input
            assert code == 0, stderr
            (tmp_path / "abvd.toml").unlink()
            continue
        assert code == 1 and message in one_line(stderr), (args, stderr)
        assert snapshot(tmp_path) == before, args


def test_a_default_errors_file_that_would_be_the_roster_is_refused(tmp_path: Path) -> None:
    roster = tmp_path / "plan.errors.csv"
    roster.write_text(ROSTER)
    code, stderr = invoke("cohort", "cenersen-arm3", str(roster), "-o", str(tmp_path / "plan.csv"))
    assert code == 1 and "--errors" in one_line(stderr) and "ROSTER" in stderr
    assert roster.read_text() == ROSTER


def test_check_paths_compares_files_not_names(tmp_path: Path) -> None:
    a = tmp_path / "a.csv"
    a.write_text("x")
    (tmp_path / "b.csv").hardlink_to(a)
    with pytest.raises(OutputError, match="are the same file"):
        check_paths({"output": a, "errors": tmp_path / "b.csv"})
    check_paths({"output": a, "errors": tmp_path / "c.csv"}, {"roster": "-"})


def test_supply_leaves_an_errors_file_it_does_not_need_alone(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text("patient_id,weight_kg,bsa_m2,age\nP0,70,1.8,45\n")
    errors = tmp_path / "roster.errors.csv"
    errors.write_text("an earlier cohort run's rejected rows\n")
    code, stderr = invoke("supply", "cenersen-arm3", str(roster))
    assert code == 0, stderr
    assert errors.read_text() == "an earlier cohort run's rejected rows\n"


# ---- a full disk, a read-only folder, SIGTERM --------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "code", "text"),
    [("fsync", errno.ENOSPC, "No space left on device"), ("mkstemp", errno.EROFS, "Read-only file system")],
)
def test_a_full_disk_or_read_only_folder_is_one_line_and_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str, code: int, text: str
) -> None:
    def fail(*_: object, **__: object) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os if where == "fsync" else tempfile, where, fail)
    out = tmp_path / "plan.csv"
    exit_code, stderr = invoke("expand", "cenersen-arm3", *PATIENT, "-o", str(out))
    assert exit_code == 1
    assert one_line(stderr) == f"Error: cannot write {out}: {text} (nothing was written there)"
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_during_a_cohort_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER)

    def full(*_: object, **__: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    code, stderr = invoke("cohort", "cenersen-arm3", str(roster), "-o", str(tmp_path / "out.csv"))
    assert code == 1 and "No space left on device" in one_line(stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roster.csv"]


@pytest.mark.slow
def test_sigterm_removes_the_temporary_output(tmp_path: Path) -> None:
    """A cohort of 200,000 patients stopped by SIGTERM while it writes: no hidden .tmp file stays."""
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "patient_id,weight_kg,bsa_m2,age\n" + "".join(f"P{i},{60 + i % 40},1.8,45\n" for i in range(200_000))
    )
    out = tmp_path / "out.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "regimen", "cohort", "cenersen-arm3", str(roster), "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.csv.*.tmp")):  # wait until it writes
        assert proc.poll() is None and time.monotonic() < deadline, "the run ended before it wrote"
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == -signal.SIGTERM
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roster.csv"]


def test_the_sigterm_handler_removes_what_is_tracked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    killed: list[int] = []
    monkeypatch.setattr(os, "kill", lambda pid, sig: killed.append(sig))
    monkeypatch.setattr(signal, "signal", lambda *a: None)
    with io_mod.atomic_target(tmp_path / "x.csv") as tmp:
        tmp.write_text("partial")
        io_mod._on_sigterm(signal.SIGTERM, None)
        assert not tmp.exists()
        folder = io_mod.track(tmp_path / "parts.tmp")
        folder.mkdir()
        (folder / "part-0.parquet").write_text("x")
        io_mod._on_sigterm(signal.SIGTERM, None)
        assert not folder.exists()
        tmp.write_text("complete")  # the run would have ended; here it goes on, to show the rename still works
    assert killed == [signal.SIGTERM, signal.SIGTERM]
    assert (tmp_path / "x.csv").read_text() == "complete"


# ---- spreadsheet formulas -------------------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+cmd|' /C calc'!A0", "@SUM(1+1)", "-2+3", "\t=1", "＝1+1"]


@pytest.mark.parametrize("text", FORMULAS)
def test_a_cell_that_begins_like_a_formula_is_text(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["-5", "+1.5e3", "-0.25", "P1", "", "mg/m²", 5, None, "1 = 1"])
def test_numbers_and_plain_text_stay_as_they_are(value: object) -> None:
    assert safe_cell(value) == value


def test_safe_frame_is_safe_cell_on_every_text_cell() -> None:
    frame = pd.DataFrame({"a": [*FORMULAS, "-5", None], "n": range(8)})
    out = safe_frame(frame)
    assert list(out["a"]) == [safe_cell(v) for v in frame["a"]]
    assert list(out["n"]) == list(range(8)) and frame["a"].iloc[0] == FORMULAS[0]  # the input is left as it was


def test_cohort_output_and_errors_file_neutralise_formulas(tmp_path: Path) -> None:
    roster = tmp_path / "roster.csv"
    pd.DataFrame(
        {
            "patient_id": ['=HYPERLINK("http://evil.example","click")', "+cmd|x", "@SUM(A1)", "-1"],
            "weight_kg": ["70", "=1+1", "70", "70"],
            "bsa_m2": ["1.8"] * 4,
            "age": ["45"] * 4,
        }
    ).to_csv(roster, index=False)
    code, _ = invoke("cohort", "cenersen-arm3", str(roster), "-o", str(tmp_path / "out.csv"))
    assert code == 3
    rows = pd.read_csv(tmp_path / "out.csv", dtype=str, keep_default_na=False)
    assert set(rows["patient_id"]) == {'\'=HYPERLINK("http://evil.example","click")', "'@SUM(A1)", "-1"}
    errors = pd.read_csv(tmp_path / "out.errors.csv", dtype=str, keep_default_na=False)
    assert list(errors["patient_id"]) == ["'+cmd|x"]
    for path in (tmp_path / "out.csv", tmp_path / "out.errors.csv"):
        for line in path.read_text().splitlines():
            for cell in line.split(","):
                assert not cell.lstrip('"').startswith(("=", "+", "@")), (path, line)


def test_expand_and_supply_csv_neutralise_formulas(tmp_path: Path) -> None:
    text = (Path(__file__).parents[1] / "regimens" / "cenersen-arm3.toml").read_text(encoding="utf-8")
    hostile = tmp_path / "hostile.toml"
    hostile.write_text(text.replace('drug = "cenersen"', 'drug = "=cenersen"', 1), encoding="utf-8")
    result = CliRunner().invoke(cli, ["expand", str(hostile), *PATIENT, "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    assert "'=cenersen" in result.stdout and ",=cenersen" not in result.stdout
    roster = tmp_path / "roster.csv"
    roster.write_text("patient_id,weight_kg,bsa_m2,age\nP0,70,1.8,45\n")
    result = CliRunner().invoke(cli, ["supply", str(hostile), str(roster), "--format", "csv"])
    assert result.exit_code == 0, result.stderr
    assert "'=cenersen" in result.stdout and ",=cenersen" not in result.stdout
