"""The stated limits on everything regimen reads, checked before any work is done with it.

A regimen file, a roster cell, a command-line value or a Python argument can be anything. These limits make every
input take bounded time and memory, and turn what no protocol or patient has into one clear line instead of a
hang, a traceback or a number nobody asked for. They are far outside any real protocol or patient: where a value
can be plausible or not (a weight, a GFR), the clinical limits apply first and are narrower. Each one is listed in
the README ("Limits on what regimen reads").
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from regimen.errors import RegimenError

#: A number has at most this many significant digits ...
MAX_DIGITS = 30
#: ... and lies between 10**-MAX_EXPONENT and 10**MAX_EXPONENT in size (or is zero).
MAX_EXPONENT = 12
#: Characters of one value as written: a dose with its unit, a duration, a patient value, a rule.
MAX_VALUE_TEXT = 200
#: Characters of a unit ('mg/m²/day'), before it is parsed.
MAX_UNIT_TEXT = 60
#: Characters of any other text of a regimen file (a name, a note, a citation).
MAX_TEXT = 5_000
#: Bytes of a regimen file.
MAX_FILE_BYTES = 1_000_000
#: Nesting of tables and arrays in a regimen file, and of brackets in a rule.
MAX_NESTING = 12
#: Items of one array in a regimen file (components, notes, sources, days).
MAX_ITEMS = 1_000
#: Cycles of one phase, from the file or the command line.
MAX_CYCLES = 500
#: The highest day number of a cycle (and of a cycle length, in days).
MAX_DAY = 3_660
#: Days of a whole course (all phases and cycles): a hundred years.
MAX_COURSE_DAYS = 36_600
#: Administrations of one plan (rows of a table).
MAX_ROWS = 100_000
#: Dates: a start date, and every date of a plan, lie in these years.
FIRST_YEAR, LAST_YEAR = 1900, 2999
#: Whole numbers in a regimen file (a version, a count, a level).
MAX_INTEGER = 10**9
#: The numerator and denominator of an exact dose in a row (``dose_exact_num``, ``dose_exact_den``): 64-bit integers
#: in frames and Parquet (checked as the row is written, :func:`regimen.engine.rows.exact_parts`).
MAX_EXACT_PART = 2**63 - 1


class LimitError(RegimenError):
    """An input beyond the stated limits (too long, too big, too deep, too many)."""


def check_decimal(value: Decimal, what: str) -> Decimal:
    """``value`` if it is finite and within the limits of size and digits; else :class:`LimitError` naming ``what``."""
    if not value.is_finite():
        raise LimitError(f"{what} is not a finite number")
    if value == 0:
        return value
    if abs(value.adjusted()) > MAX_EXPONENT:
        raise LimitError(
            f"{what} is out of range: regimen reads numbers from 1e-{MAX_EXPONENT} to 1e{MAX_EXPONENT} in size"
        )
    digits = value.as_tuple().digits
    significant = len(digits) - (len(digits) - len(bytes(digits).rstrip(b"\x00")))
    if significant > MAX_DIGITS:
        raise LimitError(f"{what} has more than {MAX_DIGITS} significant digits")
    return value


def decimal_from(raw: object, what: str) -> Decimal:
    """A number as an exact Decimal within the limits: from text, an int, a Decimal or a float (as written, repr)."""
    if isinstance(raw, bool):
        raise LimitError(f"{what} is not a number")
    if isinstance(raw, Decimal):
        return check_decimal(raw, what)
    if isinstance(raw, float):
        text = repr(raw)
    elif isinstance(raw, (int, Fraction)):
        if isinstance(raw, Fraction):
            return check_decimal(Decimal(raw.numerator) / Decimal(raw.denominator), what)
        text = str(raw) if abs(raw) < 10 ** (MAX_EXPONENT + 1) else "1e999"
    else:
        text = str(raw).strip()
    check_length(text, what, MAX_VALUE_TEXT)
    try:
        return check_decimal(Decimal(text), what)
    except InvalidOperation:
        raise LimitError(f"{what} is not a number") from None


def fraction_from(raw: object, what: str) -> Fraction:
    """:func:`decimal_from` as an exact Fraction (a Fraction given stays itself, after the check)."""
    if isinstance(raw, Fraction):
        decimal_from(raw, what)
        return raw
    return Fraction(decimal_from(raw, what))


def check_length(text: str, what: str, limit: int = MAX_VALUE_TEXT) -> str:
    if len(text) > limit:
        raise LimitError(f"{what} is {len(text):,} characters long; at most {limit:,} are read")
    return text


def check_count(n: int, what: str, limit: int) -> int:
    if n > limit:
        raise LimitError(f"{what} {n:,} is more than regimen expands (at most {limit:,})")
    return n


def check_date(value: dt.date, what: str) -> dt.date:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise LimitError(f"{what} {value.isoformat()} is outside the years {FIRST_YEAR}–{LAST_YEAR} that regimen plans")
    return value


#: Control characters that may stand in text (a line break or a tab in a note); all others are refused or removed.
ALLOWED_CONTROLS = frozenset("\n\t")  # not in the class below

#: The control characters (C0 but for the tab and the line break, DEL, C1, the line and paragraph separators and the
#: byte-order mark), as one character class: the regular-expression engine scans a text in C, where a Python loop
#: over each character made a calendar of 200 events spend a third of its writing here.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def control_characters(text: str) -> list[str]:
    """The control characters (C0, DEL, C1, and the line/paragraph separators) in ``text``, other than \\n and \\t."""
    return _CONTROL.findall(text)


def without_control_characters(text: str) -> str:
    """``text`` with every character :func:`control_characters` names removed."""
    return _CONTROL.sub("", text)


__all__ = [
    "FIRST_YEAR",
    "LAST_YEAR",
    "MAX_COURSE_DAYS",
    "MAX_CYCLES",
    "MAX_DAY",
    "MAX_DIGITS",
    "MAX_EXACT_PART",
    "MAX_EXPONENT",
    "MAX_FILE_BYTES",
    "MAX_INTEGER",
    "MAX_ITEMS",
    "MAX_NESTING",
    "MAX_ROWS",
    "MAX_TEXT",
    "MAX_UNIT_TEXT",
    "MAX_VALUE_TEXT",
    "LimitError",
    "check_count",
    "check_date",
    "check_decimal",
    "check_length",
    "control_characters",
    "decimal_from",
    "fraction_from",
    "without_control_characters",
]
