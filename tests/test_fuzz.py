"""The fuzz suite (issue 11): hostile regimen files, options and rosters, each run through the command line as a
person would, each under a time and a memory limit. Every case must end in one of two ways:

- exit 0 (or 3 for a cohort with rejected rows) with a plan: JSON that parses, every dose a positive exact number;
  for a cohort, ``patients in = expanded + rejected`` with the output and errors file agreeing;
- one line on stderr (``Error: ...``), a non-zero exit, and no file changed.

Anything else (a traceback, a hang, running out of memory, two lines, a file written by a failed run) is a break.

Profiles: the default run is a fixed-seed quick profile (a few hundred cases, well under a minute on 2 cores);
``REGIMEN_FUZZ=long python -m pytest tests/test_fuzz.py -s`` runs thousands and prints the counts (tried /
refused cleanly / broke) at the end. In-process cases are limited by SIGALRM (seconds) and RLIMIT_AS (the
process's memory, raised back after each case); a sample also runs in a subprocess with both limits set by the
kernel, which also stops a hang in C code that a signal cannot interrupt.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regimen.cli import cli

LONG = os.environ.get("REGIMEN_FUZZ") == "long"
#: examples per test: (quick, long)
EXAMPLES = {"files": (400, 6000), "options": (300, 3000), "rosters": (150, 1500)}
SECONDS = 10  # per case, in process (the limits module promises far less: a few seconds on a slow machine)
MEMORY = 1_500_000_000  # bytes of address space a case may add
REGIMENS = Path(__file__).resolve().parents[1] / "regimens"
BUNDLED = sorted(REGIMENS.glob("*.toml"))
PATIENT = ["--weight", "70", "--bsa", "1.8", "--age", "45", "--height", "175", "--sex", "female", "--scr", "1"]

#: The hostile values of the issue and of the sweep before it, and their relatives.
HOSTILE = [
    "1e999999999 days",
    "1e-999999999 mg",
    "1e999999999",
    "1e-99999",
    "1000000000",
    "1-2000000000",
    "1-4000",
    "inf",
    "-inf",
    "nan",
    "12 mg/0",
    "5 mg/lb",
    "12 mg/m²/week",
    "12 mg/ft²",
    "70 kg**1.5/kg**0.5",
    "70 kg**99999999",
    "70 ㎏",
    "70\x00",
    "\r",
    "\n",
    "\ufeff",
    "\u2028",
    "age > 60 and " * 30 + "age > 1",
    "(" * 60 + "age > 60" + ")" * 60,
    "9999-12-31",
    "10000-01-01",
    "0001-01-01",
    "-1",
    "0",
    "",
    " ",
    '=HYPERLINK("http://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "@SUM(1+1)",
    "1e12",
    "1e-12",
    "1e13",
    "0." + "1" * 40,
    "x" * 10_000,
    "mg" + "/kg*kg" * 200,
    "70 mg",
    "1e-300",
    "12 mg/m²/day",
    "0.1 mg/kg/h",
    "4 days",
    "96 h",
    "1-4",
    "1,8,15",
    "day 1",
]
NUMBERS = ["1000000000", "100000000000000000000", "-1", "0", "inf", "nan", "1e999", "3.5", "99999", "4000", "500"]

COUNTS: Counter[str] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report() -> Iterator[None]:
    yield
    if COUNTS:
        total = sum(COUNTS.values())
        line = (
            f"fuzz ({'long' if LONG else 'quick'} profile): {total} tried, {COUNTS['ok']} planned, "
            f"{COUNTS['refused']} refused cleanly, {COUNTS['broke']} broke"
        )
        print("\n" + line, file=sys.stderr)
        target = os.environ.get("REGIMEN_FUZZ_REPORT")
        if target:
            Path(target).write_text(line + "\n" + json.dumps(dict(COUNTS)) + "\n")


def fuzz_settings(kind: str) -> Any:
    return settings(
        max_examples=EXAMPLES[kind][1 if LONG else 0],
        deadline=None,
        derandomize=not LONG,  # the quick profile is the same cases every run
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
    )


# ---- one case, bounded ------------------------------------------------------------------------------------


def _address_space() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


@contextmanager
def bounded() -> Iterator[None]:
    """SIGALRM after SECONDS, and at most MEMORY more bytes of address space, for the block."""

    def stop(*_: object) -> None:
        raise TimeoutError(f"case took more than {SECONDS} s")

    old_handler = signal.signal(signal.SIGALRM, stop)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space() + MEMORY
    if hard == resource.RLIM_INFINITY or limit < hard:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    signal.alarm(SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old_handler)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run_case(folder: Path, args: list[str], stdin: str | None = None) -> tuple[str, Any]:
    """Run the CLI in ``folder``; returns ('ok' | 'refused', result) or fails the test with what broke."""
    before = snapshot(folder)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        with bounded():
            result = CliRunner().invoke(cli, args, input=stdin)
    finally:
        os.chdir(cwd)
    after = snapshot(folder)
    exc = result.exception if not isinstance(result.exception, SystemExit) else None
    lines = result.stderr.strip().splitlines()
    if exc is None and result.exit_code in (0, 3):
        COUNTS["ok"] += 1
        return "ok", result
    if exc is None and result.exit_code in (1, 2) and len(lines) >= 1 and lines[-1].startswith("Error: "):
        # notes may precede the error (a time zone, 'calendar: ... written'); the error is one line
        assert after == before, f"a failed run changed files: {args!r}: {set(after) ^ set(before)}"
        COUNTS["refused"] += 1
        return "refused", result
    COUNTS["broke"] += 1
    detail = repr(exc) if exc is not None else f"exit {result.exit_code}, stderr {result.stderr[-500:]!r}"
    raise AssertionError(f"broke: {args!r}: {detail}")


def check_plan(text: str) -> None:
    """A plan as JSON: every dose a positive exact number, every total the sum of its rows."""
    data = json.loads(text)
    rows = data["administrations"]
    for row in rows:
        dose = Fraction(row["dose_exact"])
        assert dose > 0, row
    for total in data["totals"]["course"]:
        if total.get("component") is not None or total.get("condition") is not None:
            continue  # per component or per outcome of a rule: not the drug's whole sum
        mine = [r for r in rows if r["drug"] == total["drug"]]
        if any(r.get("condition") for r in mine):
            continue
        assert Fraction(total["amount_exact"]) == sum((Fraction(r["dose_exact"]) for r in mine), Fraction(0)), total


# ---- regimen files ----------------------------------------------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
_NUMBER = re.compile(r"(?<=[=\[,] )-?\d+(?:\.\d+)?(?=\s*[\n,\]}])")


def toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


@st.composite
def mutated_file(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(BUNDLED)).read_text(encoding="utf-8")
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["string", "number", "drop line", "copy line", "insert", "truncate", "bytes"]))
        if how == "string" and _STRING.search(text):
            spots = list(_STRING.finditer(text))
            m = spots[draw(st.integers(0, len(spots) - 1))]
            value = draw(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=30)))
            text = text[: m.start()] + toml_string(value) + text[m.end() :]
        elif how == "number" and _NUMBER.search(text):
            spots = list(_NUMBER.finditer(text))
            m = spots[draw(st.integers(0, len(spots) - 1))]
            text = text[: m.start()] + draw(st.sampled_from(NUMBERS)) + text[m.end() :]
        elif how in ("drop line", "copy line"):
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            lines[i : i + 1] = [] if how == "drop line" else [lines[i], lines[i]]
            text = "\n".join(lines)
        elif how == "insert":
            i = draw(st.integers(0, len(text)))
            text = (
                text[:i]
                + draw(st.sampled_from(["[", "{", '"', "\\", "=", "\x00", "\r", "[[x]]\n", "\ufeff"]))
                + text[i:]
            )
        elif how == "truncate":
            text = text[: draw(st.integers(0, len(text)))]
        else:
            i = draw(st.integers(0, len(text)))
            text = text[:i] + draw(st.text(min_size=1, max_size=5)) + text[i:]
    return text


@fuzz_settings("files")
@given(text=mutated_file(), output=st.booleans())
def test_fuzzed_regimen_files(tmp_path_factory: pytest.TempPathFactory, text: str, output: bool) -> None:
    folder = tmp_path_factory.mktemp("fuzz-file")
    (folder / "hostile.toml").write_text(text, encoding="utf-8", errors="surrogatepass")
    args = ["expand", "hostile.toml", *PATIENT, "--format", "json", *(["-o", "plan.json"] if output else [])]
    outcome, result = run_case(folder, args)
    if outcome == "ok":
        check_plan((folder / "plan.json").read_text() if output else result.stdout)
        if output:
            assert set(snapshot(folder)) == {"hostile.toml", "plan.json"}


# ---- options ----------------------------------------------------------------------------------------------

OPTION_NAMES = [
    "--weight",
    "--bsa",
    "--age",
    "--height",
    "--scr",
    "--gfr",
    "--start",
    "--cycles",
    "--cycle-length",
    "--bsa-cap",
    "--gfr-cap",
    "--reduce",
    "--round-threshold",
    "--time",
    "--tz",
    "--remind",
    "--label",
    "--dob",
]


@fuzz_settings("options")
@given(
    regimen=st.sampled_from([p.stem for p in BUNDLED]),
    changes=st.lists(
        st.tuples(st.sampled_from(OPTION_NAMES), st.one_of(st.sampled_from(HOSTILE), st.text(max_size=20))),
        min_size=1,
        max_size=3,
    ),
)
def test_fuzzed_options(tmp_path_factory: pytest.TempPathFactory, regimen: str, changes: list[tuple[str, str]]) -> None:
    folder = tmp_path_factory.mktemp("fuzz-options")
    values = dict(zip(PATIENT[::2], PATIENT[1::2], strict=True))
    values.update(changes)
    if "--dob" in values:
        values.pop("--age", None)
    args = ["expand", regimen, *[x for kv in values.items() for x in kv], "--format", "json"]
    if any(k in values for k in ("--time", "--tz", "--remind", "--label")):
        args += ["--start", values.get("--start", "2026-01-05"), "--ics", "plan.ics"]
    outcome, result = run_case(folder, args)
    if outcome == "ok":
        check_plan(result.stdout)


# ---- rosters ----------------------------------------------------------------------------------------------

CELL = st.one_of(
    st.sampled_from(["70", "1.8", "45", "175", "female", "2026-01-05", "P1"]),
    st.sampled_from(HOSTILE),
    st.text(max_size=12),
)
HEADERS = ["patient_id", "weight_kg", "bsa_m2", "age", "height_cm", "sex", "start_date"]
_SUMMARY = re.compile(r"patients in = expanded \+ rejected: ([\d,]+) = ([\d,]+) \+ ([\d,]+)")


@fuzz_settings("rosters")
@given(
    columns=st.lists(st.sampled_from(HEADERS), min_size=1, max_size=7, unique=True),
    rows=st.lists(st.lists(CELL, min_size=0, max_size=8), min_size=0, max_size=6),
)
def test_fuzzed_rosters(tmp_path_factory: pytest.TempPathFactory, columns: list[str], rows: list[list[str]]) -> None:
    import csv
    import io

    import pandas as pd

    folder = tmp_path_factory.mktemp("fuzz-roster")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["patient_id", *[c for c in columns if c != "patient_id"]])
    for i, row in enumerate(rows):
        writer.writerow([f"P{i}" if not row else row[0], *row[1:]])
    (folder / "roster.csv").write_bytes(out.getvalue().encode("utf-8", errors="surrogatepass"))
    outcome, result = run_case(folder, ["cohort", "cenersen-arm3", "roster.csv", "-o", "out.csv"])
    if outcome == "ok":
        found = _SUMMARY.search(result.stderr)
        assert found, result.stderr
        patients, expanded, rejected = (int(g.replace(",", "")) for g in found.groups())
        assert patients == expanded + rejected
        written = pd.read_csv(folder / "out.csv", dtype=str, keep_default_na=False)
        assert written["patient_id"].nunique() == expanded
        if rejected:
            errors = pd.read_csv(folder / "out.errors.csv", dtype=str, keep_default_na=False)
            assert errors["row"].nunique() == rejected
            assert result.exit_code == 3


# ---- a sample in a subprocess, limited by the kernel -------------------------------------------------------


def _limits() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (2_000_000_000, 2_000_000_000))
    resource.setrlimit(resource.RLIMIT_CPU, (20, 20))


SUBPROCESS_CASES = {
    "a billion cycles": ("cycles = 1\n", "cycles = 1000000000\n"),
    "days 1-2000000000": ('days = "1-4"', 'days = "1-2000000000"'),
    "1e999999999 days": ('duration = "4 days"', 'duration = "1e999999999 days"'),
    "a unit power of 99999999": ('dose = "12 mg/m²/day"', 'dose = "12 mg/m²/day**99999999"'),
    "nested tables": ("cycles = 1\n", "cycles = 1\nx = " + "{a=" * 3000 + "1" + "}" * 3000 + "\n"),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_hostile_files_in_a_subprocess_under_kernel_limits(tmp_path: Path, name: str) -> None:
    old, new = SUBPROCESS_CASES[name]
    text = (REGIMENS / "cenersen-arm3.toml").read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "hostile.toml").write_text(text.replace(old, new, 1), encoding="utf-8")
    before = snapshot(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "regimen", "expand", "hostile.toml", *PATIENT],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        preexec_fn=_limits,
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr[-1000:]
    assert snapshot(tmp_path) == before
