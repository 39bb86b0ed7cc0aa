"""Patient values from what people type: '70', '70 kg', '154lb', '5ft9in', '1.8 m2', 'female'.

Bare numbers are kg, m², years and cm. A value of the wrong kind (a weight in metres), a value
that is not a finite number, or one outside what is physically possible stops with one line
that names the value and the fix. Conversions are exact and kept as working
("154 lb = 69.85322498 kg").
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from fractions import Fraction

from regimen.errors import PatientError, UnitError, option
from regimen.model import Patient, Sex
from regimen.quantities.exact import below, format_fraction
from regimen.quantities.units import parse_measure, plain_measure, split_number


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


# What is physically possible (above it: an error). Weight, height and age lie above the records (Guinness World
# Records: the heaviest person, Jon Brower Minnoch, about 635 kg; the tallest, Robert Wadlow, 272 cm; the oldest
# verified, Jeanne Calment, 122 years); the lower bounds of weight and BSA lie below the smallest surviving newborns
# (about 0.25 kg; a BSA of about 0.04 m² by Mosteller), so '70 mg' typed for a weight is an error, not 0.00007 kg.
# BSA 5 m² and GFR 300 mL/min are project choices; GFR's limit holds for a
# measured GFR and for every estimate (regimen.clinical.prepare) and bounds the GFR cap (regimen.clinical.options).
# Pairs of values (weight with height) are checked in regimen.clinical.plausibility.
WEIGHT = Measure(
    "weight",
    "weight",
    "kilogram",
    "kg",
    "kilogram",
    Fraction(1, 5),
    Fraction(650),
    f"{option('weight')} 70 (kg), {option('weight')} '154 lb'",
)
BSA = Measure(
    "body-surface area",
    "bsa",
    "meter ** 2",
    "m²",
    "meter ** 2",
    Fraction(1, 50),
    Fraction(5),
    f"{option('bsa')} 1.8 (m²)",
)
AGE = Measure("age", "age", "year", "years", "year", Fraction(-1), Fraction(125), f"{option('age')} 45 (years)")
HEIGHT = Measure(
    "height",
    "height",
    "centimeter",
    "cm",
    "centimeter",
    Fraction(0),  # a height in feet or metres typed as cm is caught with the weight (BMI), naming the slip
    Fraction(275),
    f"{option('height')} 170 (cm), {option('height')} 5ft9in",
)
GFR = Measure(
    "GFR",
    "gfr",
    "milliliter / minute",
    "mL/min",
    "milliliter / minute",
    Fraction(0),
    Fraction(300),
    f"{option('gfr')} 100 (mL/min)",
)

#: Serum creatinine: µmol/L ÷ 88.42 = mg/dL. Above 40 mg/dL (3,537 µmol/L) is taken as impossible, a project
#: choice well above reported survivable values; a bare number is mg/dL.
SCR_UMOL_PER_MG_DL = Fraction(8842, 100)
SCR_MAX_MG_DL = Fraction(40)
_SCR_UNITS = {
    "mg/dl": Fraction(1),
    "umol/l": 1 / SCR_UMOL_PER_MG_DL,
    "µmol/l": 1 / SCR_UMOL_PER_MG_DL,
    "μmol/l": 1 / SCR_UMOL_PER_MG_DL,
    "micromol/l": 1 / SCR_UMOL_PER_MG_DL,
}


def read_scr(text: str | float | Fraction) -> tuple[Fraction, str | None]:
    """Serum creatinine in mg/dL from '1.1', '1.1 mg/dL' or '97 umol/L' (µmol/L ÷ 88.42)."""
    raw = str(text).strip()
    split = split_number(raw)
    unit_text = split[1].replace(" ", "").lower() if split else ""
    if split is None or not split[0].is_finite() or (unit_text and unit_text not in _SCR_UNITS):
        raise PatientError(
            f"serum creatinine {raw!r} is not understood: give e.g. {option('scr')} 1.1 (mg/dL) or "
            f"{option('scr')} '97 umol/L'"
        )
    value = Fraction(split[0]) * _SCR_UNITS.get(unit_text or "mg/dl", Fraction(1))
    if not 0 < value <= SCR_MAX_MG_DL:
        hint = " (if it is in µmol/L, write e.g. '88 umol/L')" if value > SCR_MAX_MG_DL else ""
        raise PatientError(
            f"serum creatinine {format_fraction(value)} mg/dL is impossible{hint}: give a value above 0 "
            f"and at most {format_fraction(SCR_MAX_MG_DL)} mg/dL ({option('scr')})"
        )
    working = None
    if unit_text and unit_text != "mg/dl":
        shown = format_fraction(value)
        exact = Fraction(shown.replace(",", "")) == value
        rounded = "" if exact else " (rounded half up to 8 decimals where shown; the estimates use the unrounded value)"
        working = f"serum creatinine {format_fraction(Fraction(split[0]))} µmol/L ÷ 88.42 = {shown} mg/dL{rounded}"
    return value, working


def read_measure(text: str | int | float | Fraction, m: Measure) -> tuple[Fraction, str | None]:
    """Parse and check one value; returns (value in canonical units, working or None)."""
    plain = None
    if type(text) is not str and isinstance(text, Fraction):  # a string, as most callers give it: no ABC check
        value, raw = text, None
    else:
        raw = str(text).strip()
        if isinstance(text, float) and text != text:  # NaN from a DataFrame or a caller
            raise PatientError(f"{m.what} is not a number: give it as e.g. {m.examples}")
        plain = plain_measure(raw, m.default_unit, m.target)  # a bare number, as most callers give it: no unit
        try:
            value = (
                plain
                if plain is not None
                else parse_measure(raw, target=m.target, default_unit=m.default_unit, what=m.what, examples=m.examples)
            )
        except UnitError as exc:
            raise PatientError(exc.message) from None
    if not _possible(value, m) or (m is AGE and value.numerator < 0):
        shown = format_fraction(value)
        bound = f"between {format_fraction(max(m.low, Fraction(0)))} and {format_fraction(m.high)} {m.symbol}"
        raise PatientError(f"{m.what} {shown} {m.symbol} is impossible: give a value {bound} ({option(m.option)})")
    if m is AGE and value.denominator != 1:  # rules compare completed years ("older than 60"): 60.5 is not one
        raise PatientError(
            f"age {format_fraction(value)} years: give the age in completed years (a whole number, e.g. "
            f"{option('age')} 45), or the date of birth ({option('dob')} with {option('start')})"
        )
    working = None
    if raw is not None and plain is None and _has_unit(raw):
        working = f"{m.what} {raw} = {format_fraction(value)} {m.symbol}"
    return value, working


def _possible(value: Fraction, m: Measure) -> bool:
    """``m.low < value <= m.high``, compared in integers (:func:`below`)."""
    return below(m.low, value) and not below(m.high, value)


def _has_unit(raw: str) -> bool:
    """Whether ``raw`` holds a letter or a unit's mark (', ", ²): each character read in C."""
    return any(map(str.isalpha, raw)) or not _UNIT_MARKS.isdisjoint(raw)


_UNIT_MARKS = frozenset("'\"²")


def read_date_of_birth(value: str | dt.date) -> dt.date:
    """A date of birth, YYYY-MM-DD."""
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        born = dt.date.fromisoformat(text)
    except ValueError:
        raise PatientError(
            f"date of birth {text!r} is not a date: give it as YYYY-MM-DD, e.g. {option('dob')} 1961-04-30"
        ) from None
    if born.year < 1880 or born > dt.date.today():
        raise PatientError(f"date of birth {text} is impossible: check {option('dob')}")
    return born


SEXES: dict[str, Sex] = {"male": "male", "m": "male", "female": "female", "f": "female"}


def read_sex(text: str) -> Sex:
    key = text.strip().lower()
    if key not in SEXES:
        raise PatientError(f"sex {text!r} is not recognised: give {option('sex')} female or {option('sex')} male")
    return SEXES[key]


def make_patient(
    *,
    weight: str | float | Fraction | None = None,
    bsa: str | float | Fraction | None = None,
    age: str | float | Fraction | None = None,
    height: str | float | Fraction | None = None,
    sex: str | None = None,
    scr: str | float | Fraction | None = None,
    gfr: str | float | Fraction | None = None,
    dob: str | dt.date | None = None,
) -> Patient:
    """A :class:`Patient` from user values (strings with optional units, or numbers).

    ``dob``, the date of birth (YYYY-MM-DD), stands for the age: with a start date, the plan counts the age in
    completed years at the start and each rule sees the age at its cycle's start."""
    if dob is not None and age is not None:
        raise PatientError(f"give the age ({option('age')}) or the date of birth ({option('dob')}), not both")
    birth_date = read_date_of_birth(dob) if dob is not None else None
    working: list[str] = []
    values: dict[str, Fraction | None] = {}
    for key, raw, m in (
        ("weight", weight, WEIGHT),
        ("bsa", bsa, BSA),
        ("age", age, AGE),
        ("height", height, HEIGHT),
        ("gfr", gfr, GFR),
    ):
        if raw is None:
            values[key] = None
            continue
        if isinstance(raw, float):
            raw = repr(raw) if raw == raw and raw not in (float("inf"), float("-inf")) else str(raw)
        value, note = read_measure(raw, m)
        values[key] = value
        if note:
            working.append(note)
    scr_mg_dl = None
    if scr is not None:
        scr_mg_dl, note = read_scr(scr)
        if note:
            working.append(note)
    return Patient(
        weight_kg=values["weight"],
        bsa_m2=values["bsa"],
        age_years=values["age"],
        height_cm=values["height"],
        sex=read_sex(sex) if sex is not None else None,
        working=tuple(working),
        scr_mg_dl=scr_mg_dl,
        gfr_ml_min=values["gfr"],
        birth_date=birth_date,
    )
