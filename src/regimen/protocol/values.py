"""Readers of single values of a regimen file: text, ids, counts, durations, days, doses, amounts, percentages.

Each takes the value as TOML gives it and returns the typed value, or raises ValueError with a one-line message
that names the value and the fix. :mod:`regimen.protocol.fields` attaches them to the fields they read.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from decimal import Decimal
from fractions import Fraction
from typing import cast

from regimen.model import (
    METHODS,
    Amount,
    AucDose,
    Dose,
    DoseLevel,
    Method,
)
from regimen.quantities.days import parse_days
from regimen.quantities.limits import MAX_COURSE_DAYS, MAX_CYCLES, MAX_DAY, LimitError, check_count, fraction_from
from regimen.quantities.units import classify_dose_unit, parse_dose, parse_duration_hours, split_number

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
LEVEL_PATTERN = re.compile(r"^[+-]?[1-9]\d*$")
_AUC = re.compile(r"^\s*AUC\s*=?\s*(\d+(?:\.\d+)?)\s*(?:mg\s*/\s*mL\s*[·.*]?\s*min)?\s*$", re.IGNORECASE)
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


def text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be non-empty text")
    return value.strip()


def ident(value: object, what: str) -> str:
    """An id as the schema's pattern has it: lower-case letters, digits, '.', '-' and '_', no spaces."""
    found = text(value, what)
    if found != value or not ID_PATTERN.match(found):
        raise ValueError(f"{what} {value!r} must be lower-case letters, digits, '.', '-' or '_'")
    return found


def age(value: object, what: str) -> Fraction:
    """An age in years from the file: a number of at least 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{what} must be a number of years, got {value!r}")
    return fraction_from(value, what)


def positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a whole number of at least 1, got {value!r}")
    if what == "cycles":
        check_count(value, "cycles", MAX_CYCLES)
    elif what in ("cycle_length", "on_day", "days_before"):
        check_count(value, what, MAX_DAY)
    return value


def cycle_length(value: object) -> int:
    if isinstance(value, str):
        hours = parse_duration_hours(value)
        if hours % 24 != 0:
            raise ValueError(f"cycle_length {value!r} must be a whole number of days")
        value = int(hours / 24)
    return positive_int(value, "cycle_length")


def duration(value: object) -> tuple[Fraction, str]:
    """Exact hours and the text; at most a whole course's days (a longer time is no protocol's and would overflow
    the clock arithmetic of a plan with times of day)."""
    written = text(value, "duration")
    hours = parse_duration_hours(written)
    if hours > MAX_COURSE_DAYS * 24:
        raise LimitError(
            f"duration {written!r} is longer than regimen plans (at most {MAX_COURSE_DAYS:,} days, a hundred years)"
        )
    return hours, written


def days_of(value: object) -> tuple[Fraction, str]:
    """A duration in days, with the text as written: '1 year' -> (365.25, '1 year')."""
    hours, written = duration(value)
    return hours / 24, written


def times_per_day(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 24:
        raise ValueError(f"times_per_day must be a whole number of doses a day from 1 to 24, got {value!r}")
    return value


METHOD_ALIASES: dict[str, Method] = {
    "bolus": "bolus",
    "infusion": "infusion",
    "continuous infusion": "continuous infusion",
    "continuous": "continuous infusion",
    "iv push": "IV push",
    "push": "IV push",
    "slow iv push": "IV push",
}


def method(value: object) -> Method:
    key = " ".join(text(value, "method").lower().split())
    if key not in METHOD_ALIASES:
        raise ValueError(
            f"unknown method {value!r}; use one of {', '.join(METHODS)} (or leave it out when the source does not say)"
        )
    return METHOD_ALIASES[key]


def cycle_list(value: object) -> tuple[int, ...]:
    """The cycles a component is given in (``in_cycles``), written like days: "1", "1-3", [1, 2]."""
    if isinstance(value, bool) or not isinstance(value, (str, int, list)):
        raise ValueError('in_cycles must be a list of cycles such as "1" or "1-3"')
    return parse_days(cast("str | int | list[object]", value))


def choice(value: object, what: str, allowed: Mapping[str, str], hint: str = "") -> str:
    """One of ``allowed`` (written in any case and spacing), as its canonical spelling."""
    key = " ".join(value.lower().split()) if isinstance(value, str) else None
    if key is None or key not in allowed:
        shown = ", ".join(dict.fromkeys(allowed.values()))
        raise ValueError(f"{what} {value!r} is not known; use one of {shown}{hint}")
    return allowed[key]


def exact_choice(value: object, what: str, allowed: Collection[str]) -> str:
    """One of ``allowed``, exactly as written there."""
    if value not in allowed:
        raise ValueError(f"{what} {value!r} is not known; use one of {', '.join(allowed)}")
    return str(value)


def dose(value: object) -> Dose:
    """A dose as written: '12 mg/m²/day', '0.1 mg/kg/h', '40 mg', or a target AUC 'AUC 5' (Calvert)."""
    written = text(value, "dose")
    auc = _AUC.match(written)
    if auc:
        number = Decimal(auc.group(1))
        if number <= 0:
            raise ValueError(f"dose {written!r}: the target AUC must be positive")
        return AucDose(text=written, value=number)
    if written.lower().startswith("auc"):
        raise ValueError(f"dose {written!r}: write a target AUC as 'AUC 5' (mg/mL·min)")
    return parse_dose(written)


def amount(value: object, what: str) -> Amount:
    """A plain amount of drug, '2 mg' or '500 mcg' (no per kg, per m² or per day)."""
    written = text(value, what)
    split = split_number(written)
    if split is None or not split[1]:
        raise ValueError(f"{what} {written!r} must be an amount with a unit, e.g. '2 mg'")
    unit = classify_dose_unit(split[1])
    if unit.basis != "flat" or unit.time != "none":
        raise ValueError(f"{what} {written!r} must be a plain amount (mg, g or mcg), not per kg, m² or time")
    if not split[0].is_finite() or split[0] <= 0:
        raise ValueError(f"{what} {written!r} must be positive")
    return Amount(text=written, value=Fraction(split[0]) * unit.to_canonical, unit=unit.output_unit)


def percent(value: object, what: str) -> Fraction:
    """'75%' -> Fraction(75); must be more than 0."""
    match = _PERCENT.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{what} {value!r} must be a percentage such as '75%'")
    number = Fraction(Decimal(match.group(1)))
    if number <= 0:
        raise ValueError(f"{what} {value!r} must be more than 0%")
    return number


def levels(value: object, full: Dose | None) -> tuple[DoseLevel, ...]:
    """A component's dose levels; each a percentage or a dose written like the full dose ``full``."""
    if not isinstance(value, dict) or not value:
        raise ValueError('levels must be a table such as { "-1" = "75%", "-2" = "9 mg/m²/day" }')
    out = []
    for key, raw in value.items():
        if re.fullmatch(r"[+-]?0+", str(key)):
            raise ValueError("dose level 0 is the full dose: list only the other levels (-1, -2, ...)")
        if not LEVEL_PATTERN.match(str(key)):
            raise ValueError(f"dose level {key!r} must be a whole number such as -1 or -2")
        level = int(key)
        if isinstance(raw, str) and _PERCENT.match(raw):
            out.append(DoseLevel(level=level, percent=percent(raw, f"dose level {level}")))
            continue
        level_dose = dose(raw)
        if isinstance(level_dose, AucDose) or (
            full is not None
            and (
                isinstance(full, AucDose)
                or level_dose.unit.basis != full.unit.basis
                or level_dose.unit.time != full.unit.time
            )
        ):
            shown = full.text if full is not None else "the dose"
            raise ValueError(
                f"dose level {level} {level_dose.text!r} must be a percentage or a dose written like {shown!r}"
            )
        out.append(DoseLevel(level=level, dose=level_dose))
    return tuple(sorted(out, key=lambda x: -x.level))


def text_list(value: object, what: str) -> tuple[str, ...]:
    """A list of text (notes)."""
    if not isinstance(value, list) or not all(isinstance(n, str) for n in value):
        raise ValueError(f"{what} must be a list of text")
    return tuple(value)


def version(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise ValueError(f'version {value!r} must be text such as "1" (or a whole number)')
    return str(value)


__all__ = [
    "ID_PATTERN",
    "METHOD_ALIASES",
    "age",
    "amount",
    "choice",
    "cycle_length",
    "cycle_list",
    "days_of",
    "dose",
    "duration",
    "exact_choice",
    "ident",
    "levels",
    "method",
    "percent",
    "positive_int",
    "text",
    "text_list",
    "times_per_day",
    "version",
]
