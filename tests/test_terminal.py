"""The command as a person at a terminal sees it (issue 10): the table fitted to the terminal's width, warnings in
colour, long output through a pager; files and pipes get the plain text. Run in a real pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
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


def at_terminal(
    columns: int, lines: int, command: list[str] = COMMAND, keys: tuple[tuple[bytes, bytes], ...] = (), **env: str
) -> str:
    """Run the command with stdin, stdout and stderr on a pseudo-terminal of this size, its controlling terminal (a
    pager reads its keys there); what the screen got. ``keys``: in turn, what to type once the screen shows a text
    (after the keys before it were typed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", lines, columns, 0, 0))
    environ = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "PAGER", "COLUMNS", "LINES", "LESS")}
    environ.update(TERM="xterm", **env)
    proc = subprocess.Popen(
        command,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=environ,
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(slave)
    chunks: list[bytes] = []
    waiting, since = list(keys), 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not select.select([master], [], [], 1)[0]:
            continue
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
        screen = b"".join(chunks)
        if waiting and waiting[0][0] in screen[since:]:
            os.write(master, waiting.pop(0)[1])
            since = len(screen)
    os.close(master)
    assert proc.wait(timeout=60) == 0
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def test_the_table_fits_the_terminal_and_numbers_keep_their_units() -> None:
    screen = at_terminal(140, 500)
    plain = ANSI.sub("", screen)
    assert max(len(line) for line in plain.splitlines()) <= 140
    # without a start the empty Date column is left out; the working wraps under its column (100 characters in), a
    # number never parted from its unit, an operator never ending a line
    assert "Cycle  Day  Drug        Dose                    Rate       Route  Method" in plain
    # at 140 columns the working goes under each row, whole (the infusion's, then this day's share)
    assert (
        "  Working: 0.1 mg/kg/h × 70.3 kg = 7.03 mg/h continuously over 96 h = 674.9 mg (from 674.88); this day's "
        "share: 7.03 mg/h × 24 h = 168.7 mg"
    ) in plain
    assert not re.search(r"\d\n\s+(mg|kg|h)\b", plain)
    assert not re.search(r"[×=]\n", plain)


MFOLFOX6 = [sys.executable, "-m", "regimen", "expand", "mfolfox6", "--weight", "82", "--height", "180"]
TIMED = [*MFOLFOX6, "--start", "2026-01-05", "--time", "09:00"]
#: A screen taller than the whole plan, so that no pager is started: mFOLFOX6 with its antiemetics (108 rows) is 376
#: lines at 110 columns, 515 at 80 and 621 at 60 (as paragraphs), more than the 500 used before they were added.
TALL = 1000


@pytest.mark.parametrize("columns", [110, 80, 60])
def test_mfolfox6_fits_a_terminal_of_110_80_and_60_columns(columns: int) -> None:
    """Issue 26: 182 characters on a 110-column terminal. Every line now fits; nothing is cut (each dose and each
    working is on the screen whole, once the wrapping is undone)."""
    plain = ANSI.sub("", at_terminal(columns, TALL, TIMED))
    assert max(len(line) for line in plain.splitlines()) <= columns
    flat = " ".join(plain.split())
    # 2400 mg/m² × 2.025 m² = 4860 mg over 46 h = 105.652… mg/h; × 24 h = 2535.65… mg, shown to 4 figures
    assert "2,536 mg (from 2,535.652173913…)" in flat
    working = (
        "2,400 mg/m² × 2.025 m² (BSA, Mosteller) = 4,860 mg over 46 h = 105.7 mg/h (from 105.652173913…); this day's "
        "share: 105.7 mg/h (from 105.652173913…) × 24 h = 2,536 mg"
    )
    assert working in flat
    assert flat.count("oxaliplatin") >= 12 and "Research software: verify every dose" in flat
    assert not re.search(r"\d\n\s+(mg|kg|h|m²)\b", plain)


def test_at_111_columns_the_working_goes_under_each_row() -> None:
    """Wrapping ten columns into 111 characters takes more lines than giving the working its own line: the
    columns keep their header line and the working follows each row, the number of lines being the smaller.

    111 is the narrowest this layout fits (110 before the antiemetics): the nine columns before the working at their
    longest unbroken text, Cycle 5 + Day 3 + Date 10 + Time 11 ('11:00–11:00') + Drug 22 ('dexamethasone-days-2-3',
    was 18 'fluorouracil-bolus') + Dose 17 ('2,535.652173913…)') + Rate 10 ('105.7 mg/h') + Route 5 + Method 12
    ('(day 1 of 2)') = 95, and 8 gaps of 2 = 111."""
    plain = ANSI.sub("", at_terminal(111, TALL, TIMED))
    lines = plain.splitlines()
    header = next(line for line in lines if line.startswith("Cycle  Day"))
    assert header.split() == ["Cycle", "Day", "Date", "Time", "Drug", "Dose", "Rate", "Route", "Method"]
    first = lines.index(header) + 2
    # the antiemetics come first, an hour before oxaliplatin: the drug column at its narrowest wraps the mark under
    # the name, and the working follows
    assert lines[first].split() == ["1", "1", "2026-01-05", "08:00", "ondansetron", "8", "mg", "oral", "by", "mouth"]
    assert lines[first + 1].strip() == "[supportive]"
    assert lines[first + 2] == "  Working: 8 mg (flat dose)"
    assert lines[first + 3].split()[4] == "dexamethasone" and lines[first + 4].strip() == "[supportive]"
    first += 6
    assert lines[first].split()[:6] == ["1", "1", "2026-01-05", "09:00–11:00", "oxaliplatin", "172.1"]
    assert lines[first + 1].strip() == "(from 172.125)"  # the dose column wrapped, its aside kept whole
    working = "  Working: 85 mg/m² × 2.025 m² (BSA, Mosteller) = 172.1 mg (from 172.125) over 2 h (86.06 mg/h (from"
    assert lines[first + 2].startswith(working)


def test_a_narrow_terminal_gets_one_paragraph_per_row() -> None:
    plain = ANSI.sub("", at_terminal(80, TALL, TIMED))
    assert "Cycle: 1; Day: 1; Date: 2026-01-05; Time: 09:00–11:00; Drug: oxaliplatin;\n" in plain
    assert "\n  Dose: 172.1 mg (from 172.125); Rate: 86.06 mg/h; Route: IV; Method: infusion;\n" in plain


def test_warnings_are_coloured_on_a_terminal_and_never_with_no_color_or_in_a_pipe() -> None:
    screen = at_terminal(200, 500)
    assert "\x1b[" in screen and ANSI.sub("", screen).count("age 17 years is outside the eligibility") == 2
    assert re.search(r"\x1b\[[0-9;]*m- age 17 years is outside", screen)  # in the table's warnings
    assert re.search(r"\x1b\[[0-9;]*mwarning: age 17 years", screen)  # and the stderr line
    assert "\x1b[" not in at_terminal(200, 500, NO_COLOR="1")
    piped = subprocess.run(COMMAND, capture_output=True, text=True, check=True)
    assert "\x1b[" not in piped.stdout + piped.stderr
    # a pipe gets the unwrapped text, as -o files and the golden files have it
    assert (
        "0.1 mg/kg/h × 70.3 kg = 7.03 mg/h continuously over 96 h = 674.9 mg (from 674.88); this day's share: "
        "7.03 mg/h × 24 h = 168.7 mg (from 168.72)"
    ) in piped.stdout


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


def test_the_default_pager_is_less_and_shows_the_colour_as_colour() -> None:
    """No $PAGER: click runs ``less``, given ``-R`` so the warnings' colour is colour, not the text "ESC[33m"."""
    prompt = b"\n:\x1b[K"  # less's prompt
    screen = at_terminal(110, 20, keys=((prompt, b"/Warnings\r"), (prompt, b"q")))
    assert "Warnings:" in ANSI.sub("", screen)  # the end of the plan was shown, by less
    assert re.search(r"\x1b\[[0-9;]*m- age 17 years is outside", screen)
    assert "ESC[" not in screen
