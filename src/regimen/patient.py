"""Patient values from what people type: '70', '70 kg', '154lb', '5ft9in', '1.8 m2', 'female'.

Bare numbers are kg, m², years and cm. A value of the wrong kind (a weight in metres), a value
that is not a finite number, or one outside what is physically possible stops with one line
that names the value and the fix. Conversions are exact and kept as working
("154 lb = 69.85322498 kg").
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .errors import PatientError, UnitError
from .model import Patient, Sex
from .numbers import format_fraction
from .units import parse_measure


@dataclass(frozen=True, slots=True)
class Measure:
    """How to read one patient value and what is physically possible for it."""

    what: str
    option: str
    target: str  # pint unit name
    symbol: str
    default_unit: str
    low: Fraction  # exclusive lower bound of the possible
    high: Fraction  # inclusive upper bound of the possible
    examples: str


WEIGHT = Measure("weight", "--weight", "kilogram", "kg", "kilogram", Fraction(0), Fraction(650),
                 "--weight 70 (kg), --weight '154 lb'")
BSA = Measure("body-surface area", "--bsa", "meter ** 2", "m²", "meter ** 2", Fraction(0), Fraction(5),
              "--bsa 1.8 (m²)")
AGE = Measure("age", "--age", "year", "years", "year", Fraction(-1), Fraction(125), "--age 45 (years)")
HEIGHT = Measure("height", "--height", "centimeter", "cm", "centimeter", Fraction(0), Fraction(275),
                 "--height 170 (cm), --height 5ft9in")


def read_measure(text: str | int | float | Fraction, m: Measure) -> tuple[Fraction, str | None]:
    """Parse and check one value; returns (value in canonical units, working or None)."""
    if isinstance(text, Fraction):
        value, raw = text, None
    else:
        raw = str(text).strip()
        if isinstance(text, float) and text != text:  # NaN from a DataFrame or a caller
            raise PatientError(f"{m.what} is not a number: give it as e.g. {m.examples}")
        try:
            value = parse_measure(raw, target=m.target, default_unit=m.default_unit, what=m.what, examples=m.examples)
        except UnitError as exc:
            raise PatientError(str(exc)) from None
    shown = format_fraction(value)
    if not (m.low < value <= m.high) or (m is AGE and value < 0):
        bound = f"between {format_fraction(max(m.low, Fraction(0)))} and {format_fraction(m.high)} {m.symbol}"
        raise PatientError(f"{m.what} {shown} {m.symbol} is impossible: give a value {bound} ({m.option})")
    working = None
    if raw is not None and _has_unit(raw):
        working = f"{m.what} {raw} = {shown} {m.symbol}"
    return value, working


def _has_unit(raw: str) -> bool:
    return any(ch.isalpha() or ch in "'\"²" for ch in raw)


SEXES: dict[str, Sex] = {"male": "male", "m": "male", "female": "female", "f": "female"}


def read_sex(text: str) -> Sex:
    key = text.strip().lower()
    if key not in SEXES:
        raise PatientError(f"sex {text!r} is not recognised: give --sex female or --sex male")
    return SEXES[key]


def make_patient(*, weight: str | float | Fraction | None = None, bsa: str | float | Fraction | None = None,
                 age: str | float | Fraction | None = None, height: str | float | Fraction | None = None,
                 sex: str | None = None) -> Patient:
    """A :class:`Patient` from user values (strings with optional units, or numbers)."""
    working: list[str] = []
    values: dict[str, Fraction | None] = {}
    for key, raw, m in (("weight", weight, WEIGHT), ("bsa", bsa, BSA), ("age", age, AGE), ("height", height, HEIGHT)):
        if raw is None:
            values[key] = None
            continue
        if isinstance(raw, float):
            raw = repr(raw) if raw == raw and raw not in (float("inf"), float("-inf")) else str(raw)
        value, note = read_measure(raw, m)
        values[key] = value
        if note:
            working.append(note)
    return Patient(weight_kg=values["weight"], bsa_m2=values["bsa"], age_years=values["age"],
                   height_cm=values["height"], sex=read_sex(sex) if sex is not None else None,
                   working=tuple(working))
