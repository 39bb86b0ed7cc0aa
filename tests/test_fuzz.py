"""The fuzz suite (issue 11): hostile regimen files, option values and rosters, each run as a person would run the
command, under a time limit. Every case must end in one of two ways:

- exit 0 with a plan (or a cohort whose patients in = expanded + rejected), or
- one line on stderr ("Error: ..."), a non-zero exit, no traceback, and no output file changed or left behind.

A quick fixed-seed profile runs by default (a few hundred cases); ``REGIMEN_FUZZ=long`` runs a longer random one.
With ``REGIMEN_FUZZ_REPORT=FILE`` each test adds its counts (tried, planned, refused cleanly) to FILE as JSON lines.
Each case runs under a 20 s alarm, and the process's peak memory must stay under 2.5 GB. A case that breaks the
promise fails the test with its input (hypothesis shrinks it).
"""

from __future__ import annotations

import json
import os
import resource
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, settings
from hypothesis import given as hgiven
from hypothesis import strategies as st

from regimen.cli import cli

LONG = os.environ.get("REGIMEN_FUZZ") == "long"
settings.register_profile(
    "fuzz-quick", max_examples=60, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.register_profile("fuzz-long", max_examples=1500, deadline=None, suppress_health_check=list(HealthCheck))
FUZZ = settings.get_profile("fuzz-long" if LONG else "fuzz-quick")

REGIMENS = sorted((Path(__file__).resolve().parents[1] / "regimens").glob("*.toml"))
COUNTS: Counter[str] = Counter()


@pytest.fixture(autouse=True, scope="module")
def report() -> Iterator[None]:
    yield
    where = os.environ.get("REGIMEN_FUZZ_REPORT")
    if where:
        with open(where, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"profile": "long" if LONG else "quick", **COUNTS}) + "\n")


class TimeLimit:
    """SIGALRM after ``seconds``: a case that hangs fails instead of holding the run."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds

    def __enter__(self) -> None:
        def stop(*_: object) -> None:
            raise TimeoutError(f"took more than {self.seconds} s")

        self.old = signal.signal(signal.SIGALRM, stop)
        signal.alarm(self.seconds)

    def __exit__(self, *_: object) -> None:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, self.old)


def check(args: list[str], folder: Path, kind: str, stdin: str | None = None) -> str:
    """Run the command in-process; assert the promise; return 'planned' or 'refused'."""
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    with TimeLimit(20):
        result = CliRunner().invoke(cli, args, input=stdin)
    COUNTS[f"{kind} tried"] += 1
    # bounded memory: the test process's peak resident size stays under 2.5 GB whatever the case (Linux: KiB)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 2_500_000, "memory grew past 2.5 GB"
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), f"{type(exc).__name__}: {exc} for {args}"
    assert "Traceback" not in result.stderr, result.stderr
    after = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    hidden = [p.name for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]
    assert not hidden, hidden
    if result.exit_code in (0, 3):
        outcome = "planned"
    else:
        lines = [line for line in result.stderr.strip().splitlines() if not line.startswith(("note:", "warning:"))]
        if kind == "validate":  # a report: one line per problem, naming the file, then the count
            assert lines and lines[-1].startswith("Error: ") and all(x.startswith(args[1]) for x in lines[:-1]), (
                args,
                result.stderr,
            )
        else:
            assert len(lines) == 1 and lines[0].startswith("Error: "), (args, result.stderr)
        assert result.exit_code in (1, 2), result.exit_code
        changed = {n for n in before.keys() | after.keys() if before.get(n) != after.get(n)}
        assert not changed, f"a refused run changed {changed}"
        outcome = "refused"
    COUNTS[f"{kind} {outcome}"] += 1
    return outcome


# ---- hostile values -----------------------------------------------------------------------------------

HOSTILE_VALUES = [
    "1e999999999",
    "1e-999999999",
    "inf",
    "-inf",
    "nan",
    "-1",
    "0",
    "",
    " ",
    "1" * 400,
    "9" * 30 + ".5",
    "1_000",
    "0x10",
    "70 kg**1.5/kg**0.5",
    "70 ㎏",
    "70\x00",
    "\r\n",
    "12 mg/0",
    "12 mg/lb",
    "12 mg/m²/week",
    "((((((((((((((",
    "mg" * 200,
    "１２ mg",
    "12 mg\u202e",
    "1-2000000000",
    "9999-12-31",
    "10000-01-01",
    "0000-00-00",
    '=HYPERLINK("x")',
    "age > 60 and " * 20 + "age > 1",
    "\ufeff12 mg",
]
values = st.one_of(
    st.sampled_from(HOSTILE_VALUES),
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30),
    st.from_regex(
        r"-?[0-9]{0,12}(\.[0-9]{0,8})?(e-?[0-9]{1,12})? ?(mg|kg|m2|g/m²/day|mg/kg/h|h|days|lb|in)?", fullmatch=True
    ),
)

# ---- mutated regimen files ----------------------------------------------------------------------------


def mutate(text: str, line_index: int, value: str, how: int) -> str:
    """Replace, in one line of a regimen file, its value (after '=') by ``value`` as TOML text, or insert raw text."""
    lines = text.splitlines()
    candidates = [i for i, line in enumerate(lines) if "=" in line and not line.lstrip().startswith("#")]
    if not candidates:
        return text
    i = candidates[line_index % len(candidates)]
    key = lines[i].split("=", 1)[0]
    if how == 0:
        lines[i] = f"{key}= {json.dumps(value, ensure_ascii=False)}"  # a string value
    elif how == 1:
        lines[i] = f"{key}= {value}"  # raw TOML (a number, a table, garbage)
    elif how == 2:
        lines.insert(i, value)  # a raw line
    else:
        lines[i] = lines[i] * 2  # a duplicated key or a broken value
    return "\n".join(lines) + "\n"


@FUZZ
@hgiven(
    regimen=st.sampled_from(REGIMENS),
    line_index=st.integers(0, 200),
    value=values,
    how=st.integers(0, 3),
)
def test_fuzz_mutated_regimen_files(
    tmp_path_factory: pytest.TempPathFactory, regimen: Path, line_index: int, value: str, how: int
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "mutant.toml"
    path.write_text(mutate(regimen.read_text(encoding="utf-8"), line_index, value, how), encoding="utf-8")
    out = folder / "plan.csv"
    out.write_text("an earlier plan\n")
    patient = ["--weight", "70", "--bsa", "1.8", "--age", "45", "--height", "175", "--sex", "female", "--scr", "1"]
    check(["expand", str(path), *patient, "--cycle-length", "21", "-o", str(out)], folder, "file")
    check(["validate", str(path)], folder, "validate")


# ---- hostile option values ----------------------------------------------------------------------------

OPTIONS = ["--weight", "--bsa", "--age", "--height", "--start", "--cycles", "--bsa-cap", "--gfr-cap", "--time", "--tz"]


@FUZZ
@hgiven(option=st.sampled_from(OPTIONS), value=values, regimen=st.sampled_from([p.stem for p in REGIMENS]))
def test_fuzz_option_values(tmp_path_factory: pytest.TempPathFactory, option: str, value: str, regimen: str) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    base = {"--weight": "70", "--bsa": "1.8", "--age": "45", "--height": "175", "--scr": "1", "--sex": "female"}
    base[option] = value
    args = [a for k, v in base.items() for a in (k, v)]
    extra = [option, value] if option not in base or option in ("--weight", "--bsa", "--age", "--height") else []
    if option in ("--time", "--tz"):
        extra = ["--start", "2026-03-01", "--time", "08:00", "--tz", "Europe/Berlin"]
        extra[extra.index(option) + 1] = value
    elif option not in ("--weight", "--bsa", "--age", "--height"):
        extra = [option, value]
    check(["expand", regimen, *args, *extra, "-o", str(folder / "plan.json")], folder, "option")


# ---- hostile rosters ----------------------------------------------------------------------------------

cells = st.one_of(values, st.sampled_from(["70", "1.8", "45", "2026-01-05", "P1", ""]))


@FUZZ
@hgiven(rows=st.lists(st.tuples(cells, cells, cells, cells, cells), min_size=1, max_size=8), extra=st.booleans())
def test_fuzz_rosters(tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[str, ...]], extra: bool) -> None:
    import csv
    import io

    folder = tmp_path_factory.mktemp("fuzz")
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # CRLF records: a CR or LF inside a cell is quoted
    writer.writerow(["patient_id", "weight_kg", "bsa_m2", "age", "start_date"])
    for i, row in enumerate(rows):
        writer.writerow([f"P{i}" if not row[0] else row[0], *row[1:], *(["x"] if extra and i == 0 else [])])
    roster = folder / "roster.csv"
    roster.write_bytes(buffer.getvalue().encode("utf-8"))
    out = folder / "out.csv"
    result = CliRunner().invoke(cli, ["cohort", "cenersen-arm3", str(roster), "-o", str(out)])
    outcome = check(["cohort", "cenersen-arm3", str(roster), "-o", str(folder / "again.csv")], folder, "roster")
    if outcome == "planned":
        line = next(x for x in result.stderr.splitlines() if "patients in = expanded + rejected" in x)
        counts = line.split(": ")[2].split(";")[0]
        total, rest = counts.split(" = ")
        expanded, rejected = rest.split(" + ")
        assert int(total.replace(",", "")) == len(rows) == int(expanded) + int(rejected)
