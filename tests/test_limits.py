"""Bounded work for any input (issue 11.2): each hostile value below hung, filled memory or gave a traceback.
Now each is one line on stderr naming the value and the limit, exit code 1, within a second."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from regimen.cli import cli
from regimen.protocol.loader import load_text
from regimen.quantities.limits import MAX_CYCLES, MAX_NESTING, decimal_from

BASE = (Path(__file__).resolve().parents[1] / "regimens" / "cenersen-arm3.toml").read_text(encoding="utf-8")
PATIENT = ["--weight", "70", "--bsa", "1.8", "--age", "45"]


@pytest.fixture(autouse=True)
def within_seconds() -> Iterator[None]:
    """Every case here must finish in seconds: a hang fails the test instead of holding the run."""

    def stop(*_: object) -> None:
        raise TimeoutError("took more than 10 s")

    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(10)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def mutate(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new, 1)


FILES = {
    "a billion cycles": (mutate("cycles = 1\n", "cycles = 1000000000\n"), f"at most {MAX_CYCLES}"),
    "two billion days": (mutate('days = "1-4"', 'days = "1-2000000000"'), "is not a day or a range"),
    "days past the limit": (mutate('days = "1-4"', 'days = "1-4000"'), "past day 3,660 of a cycle"),
    "a duration of 1e999999999 days": (
        mutate('duration = "4 days"', 'duration = "1e999999999 days"'),
        "out of range: regimen reads numbers from 1e-12 to 1e12",
    ),
    "a dose of 1e-999999999 mg": (
        mutate('dose = "12 mg/m²/day"', 'dose = "1e-999999999 mg/m²/day"'),
        "out of range",
    ),
    "division by zero in a unit": (mutate('dose = "12 mg/m²/day"', 'dose = "12 mg/0"'), "unknown unit 'mg/0'"),
    "a unit of 30,000 characters": (
        mutate('dose = "12 mg/m²/day"', 'dose = "12 mg' + "/kg*kg" * 5000 + '"'),
        "at most 5,000 are read",
    ),
    "a unit of 100 characters": (
        mutate('dose = "12 mg/m²/day"', 'dose = "12 mg' + "/kg*kg" * 15 + '"'),
        "at most 60 are read",
    ),
    "min_age = inf": (mutate("eligibility = { min_age = 18 }", "eligibility = { min_age = inf }"), "not a finite"),
    "min_age = nan": (mutate("eligibility = { min_age = 18 }", "eligibility = { min_age = nan }"), "not a finite"),
    "100,000 nested arrays": (BASE + "\nx = " + "[" * 100000 + "]" * 100000 + "\n", f"at most {MAX_NESTING}"),
    "5,000 nested tables": (BASE + "\ny = " + "{a=" * 5000 + "1" + "}" * 5000 + "\n", f"at most {MAX_NESTING}"),
    "a huge integer": (mutate("cycles = 1\n", "cycles = 100000000000000000000\n"), "out of range"),
    "a carriage return in the name": (mutate('name = "Cenersen', 'name = "Cen\\rersen'), "U+000D"),
    "a NUL in a note": (mutate('notes = [\n  "One', 'notes = [\n  "O\\u0000ne'), "U+0000"),
    "a rule nested 50 deep": (mutate('when = "age > 60"', 'when = "' + "(" * 50 + "age > 60" + ")" * 50 + '"'), "deep"),
    "a file of 2 MB": (BASE + "\n# " + "x" * 2_000_000 + "\n", "larger than 1,000,000 bytes"),
}


@pytest.mark.parametrize("name", FILES)
def test_a_hostile_regimen_file_is_one_line_and_exit_1(tmp_path: Path, name: str) -> None:
    text, expected = FILES[name]
    path = tmp_path / "hostile.toml"
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["expand", str(path), *PATIENT])
    assert result.exit_code == 1, (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and expected in lines[0], lines


def test_a_byte_order_mark_is_read_as_the_utf8_it_marks() -> None:
    assert load_text("\ufeff" + BASE).id == "cenersen-arm3"


OPTIONS = {
    "--weight 1e-99999": (["--weight", "1e-99999", "--bsa", "1.8", "--age", "45"], "weight '1e-99999'"),
    "--weight 1e999999999": (["--weight", "1e999999999", "--bsa", "1.8", "--age", "45"], "out of range"),
    "--bsa-cap inf": ([*PATIENT, "--bsa-cap", "inf"], "--bsa-cap 'inf' is not a finite number"),
    "--gfr-cap 1e400": ([*PATIENT, "--gfr-cap", "1e400"], "out of range"),
    "--start 9999-12-30": ([*PATIENT, "--start", "9999-12-30"], "outside the years 1900–2999"),
    "--cycles 1000000000": ([*PATIENT, "--cycles", "1000000000", "--cycle-length", "28"], "at most 500"),
    "--cycle-length huge": ([*PATIENT, "--cycles", "400", "--cycle-length", "3000"], "days of the course"),
}


@pytest.mark.parametrize("name", OPTIONS)
def test_a_hostile_option_is_one_line_and_exit_1(name: str) -> None:
    args, expected = OPTIONS[name]
    result = CliRunner().invoke(cli, ["expand", "cenersen-arm3", *args])
    assert result.exit_code == 1, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines


@pytest.mark.parametrize("raw", ["1e13", "1e-13", "inf", "-inf", "nan", "1" * 31, "0." + "1" * 31, "x", True])
def test_the_number_limits(raw: object) -> None:
    with pytest.raises(ValueError):
        decimal_from(raw, "value")


@pytest.mark.parametrize("raw", ["1e12", "1e-12", "0", "70.5", 70.5, 2, "1234567890.12345678901234567890"])
def test_numbers_within_the_limits_are_read_exactly(raw: object) -> None:
    assert decimal_from(raw, "value") == Decimal(repr(raw) if isinstance(raw, float) else str(raw))


def test_the_control_characters_are_each_code_point_the_rule_names() -> None:
    """The character class names every code point of the rule (C0 but tab and line break, DEL, C1, U+2028, U+2029,
    U+FEFF) and no other: checked against the rule written out over the Basic Multilingual Plane, where every code
    point the rule names lies, and beyond it, where the class must find none."""
    from regimen.quantities.limits import ALLOWED_CONTROLS, control_characters, without_control_characters

    def rule(ch: str) -> bool:
        return ch not in ALLOWED_CONTROLS and (ord(ch) < 32 or 127 <= ord(ch) < 160 or ch in "\u2028\u2029\ufeff")

    plane = "".join(chr(i) for i in range(0x10000) if not 0xD800 <= i <= 0xDFFF)
    named = [ch for ch in plane if rule(ch)]
    assert control_characters(plane) == named and len(named) == 30 + 33 + 3  # C0 less 2, DEL and C1, 3 more
    kept = set(plane) - set(named)
    assert without_control_characters(plane) == "".join(ch for ch in plane if ch in kept)
    beyond = "".join(chr(i) for i in range(0x10000, 0x110000))
    assert control_characters(beyond) == [] and without_control_characters(beyond) == beyond
    assert without_control_characters("a\tb\nc\rd\x00e\u2028f\x85g") == "a\tb\ncdefg"
