"""The command as a person at a terminal sees it (issue 10): the table fitted to the terminal's width, warnings in
colour, long output through a pager; files and pipes get the plain text. Run in a real pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # starts processes

COMMAND = [
    sys.executable,
    "-m",
    "regimen",
    "expand",
    "cenersen-arm3",
    "--weight",
    "70.3",
    "--bsa",
    "1.8",
    "--age",
    "17",
]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def at_terminal(columns: int, lines: int, **env: str) -> str:
    """Run the command with stdin, stdout and stderr on a pseudo-terminal of this size; what the screen got."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "PAGER", "COLUMNS", "LINES")}
    environ.update(TERM="xterm", **env)
    proc = subprocess.Popen(COMMAND, stdin=slave, stdout=slave, stderr=slave, env=environ)
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def test_the_table_fits_the_terminal_and_numbers_keep_their_units() -> None:
    screen = at_terminal(140, 500)
    plain = ANSI.sub("", screen)
    assert max(len(line) for line in plain.splitlines()) <= 140
    # the working wrapped under its column (106 characters in), a number never parted from its unit
    assert "0.1 mg/kg/h × 70.3 kg = 7.03 mg/h;\n" in plain
    assert "\n" + " " * 106 + "× 24 h = 168.7 mg (from 168.72)\n" in plain
    assert not re.search(r"\d\n\s+(mg|kg|h)\b", plain)


def test_warnings_are_coloured_on_a_terminal_and_never_with_no_color_or_in_a_pipe() -> None:
    screen = at_terminal(200, 500)
    assert "\x1b[" in screen and ANSI.sub("", screen).count("age 17 years is outside the eligibility") == 2
    assert re.search(r"\x1b\[[0-9;]*m- age 17 years is outside", screen)  # in the table's warnings
    assert re.search(r"\x1b\[[0-9;]*mwarning: age 17 years", screen)  # and the stderr line
    assert "\x1b[" not in at_terminal(200, 500, NO_COLOR="1")
    piped = subprocess.run(COMMAND, capture_output=True, text=True, check=True)
    assert "\x1b[" not in piped.stdout + piped.stderr
    # a pipe gets the unwrapped text, as -o files and the golden files have it
    assert "0.1 mg/kg/h × 70.3 kg = 7.03 mg/h; × 24 h = 168.7 mg (from 168.72)" in piped.stdout


def test_output_longer_than_the_screen_goes_through_the_pager(tmp_path: Path) -> None:
    paged = tmp_path / "paged.txt"
    pager = tmp_path / "pager"
    pager.write_text(f"#!/bin/sh\ncat > '{paged}'\n")
    pager.chmod(0o755)
    screen = at_terminal(200, 20, PAGER=str(pager))
    assert "Cycle  Day" not in screen  # the table went to the pager, not straight to the screen
    assert "Cycle  Day" in paged.read_text(encoding="utf-8")
    paged.unlink()
    assert "Cycle  Day" in at_terminal(200, 500, PAGER=str(pager))
    assert not paged.exists()  # a table that fits the screen is not paged
