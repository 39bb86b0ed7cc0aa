"""Units: the one pint registry, parsing of what people type, and exact conversion factors.

pint parses and checks units; the arithmetic itself is done on :class:`fractions.Fraction` so
that no float artefact can reach a person. Conversion factors come from a registry built on
``Decimal`` (every factor we use, such as 1 lb = 0.45359237 kg, is an exact decimal) and are
turned into fractions.

Protocols write doses in many spellings ("12 mg/m²/day", "1 g/m2", "375 mg/m**2", "0.1 mg/kg/h").
:func:`parse_dose` reduces each to a :class:`DoseUnit`: a drug mass unit, an optional body basis
(per kg of body weight, per m² of body-surface area) and an optional time basis (per day, per hour).
pint treats mg/kg as dimensionless, so we classify the unit's own factors, not its dimensionality.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Literal

from regimen.errors import UnitError
from regimen.quantities.exact import format_decimal
from regimen.quantities.limits import (
    MAX_EXPONENT,
    MAX_UNIT_TEXT,
    MAX_VALUE_TEXT,
    LimitError,
    check_decimal,
    check_length,
)

if TYPE_CHECKING:  # pragma: no cover
    import pint

Basis = Literal["flat", "weight", "bsa"]
TimeBasis = Literal["none", "day", "hour"]

#: Display symbols for drug mass units (ISMP: "mcg", never "µg").
MASS_SYMBOLS = {
    "microgram": "mcg",
    "milligram": "mg",
    "gram": "g",
    "kilogram": "kg",
    "unit": "units",
    "millilitre": "mL",  # the volume of a supportive fluid (parse_volume), never a drug's dose
}
#: Doses in units of activity (bleomycin 10 units/m²), kept as written: "units". International units (IU) are
#: refused, not read as units: for bleomycin 1 USP unit is 1,000 IU, so taking one for the other is a 1,000-fold
#: error.
_ACTIVITY = re.compile(r"^\s*units?\b\s*(.*)$", re.IGNORECASE)
DRUG_MASSES = ("microgram", "milligram", "gram")
BASIS_SUFFIX = {"flat": "", "weight": "/kg", "bsa": "/m²"}
TIME_SUFFIX = {"none": "", "day": "/day", "hour": "/h"}


#: Optional libraries pint looks for when it is first imported, for integrations regimen never uses (arrays,
#: dataframes, locales, uncertainties). Importing them is most of what ``import pint`` costs where they are installed
#: (numpy and dask, which brings yaml, toolz, psutil and jinja2: about 160 ms), and a command that expands one plan
#: uses none of them: they are hidden while pint loads, so pint makes no use of them. They import as usual
#: afterwards (a cohort imports numpy and pandas, the Dask engine dask), and one already imported is not hidden.
PINT_EXTRAS = ("numpy", "scipy", "dask", "babel", "uncertainties")


def import_pint() -> None:
    """Import pint, the first time without its optional integrations (:data:`PINT_EXTRAS`); then ``import pint``
    is a lookup."""
    if "pint" in sys.modules:
        return
    hidden = [name for name in PINT_EXTRAS if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # 'import name' fails, find_spec(name) is None
    try:
        import pint  # noqa: F401
    finally:
        for name in hidden:
            if name in sys.modules and sys.modules[name] is None:
                del sys.modules[name]


@lru_cache(maxsize=1)
def registry() -> pint.UnitRegistry[Decimal]:
    """The single unit registry (built on first use: pint takes a while to load).

    pint's definition cache (in the user's cache folder) cuts building the registry from about
    120 ms to 20 ms, which is most of ``regimen expand``'s start-up. It only caches the parsed
    definition file; a registry that cannot use it is built without it.
    """
    import_pint()
    import pint

    try:
        return pint.UnitRegistry(non_int_type=Decimal, cache_folder=":auto:")
    except Exception:  # the cache is an optimisation: any failure of it falls back to parsing
        return pint.UnitRegistry(non_int_type=Decimal)


_SUPERSCRIPTS = {"²": "**2", "³": "**3", "µ": "u", "μ": "u"}
# "m2" written for square metres: a unit letter followed directly by a digit.
_BARE_POWER = re.compile(r"(?<=[A-Za-z])([23])(?![\d.])")


def normalise_unit_text(text: str) -> str:
    """Rewrite common spellings into pint syntax: m² / m2 / m^2 -> m**2, µg -> ug."""
    out = text.strip()
    for old, new in _SUPERSCRIPTS.items():
        out = out.replace(old, new)
    out = out.replace("^", "**")
    out = _BARE_POWER.sub(r"**\1", out)
    return out


#: What a unit may be written with: letters, digits, spaces, . / * ^ ( ) ' " and ² ³ µ μ ·. Anything else (a
#: compatibility character such as '㎏', a control character) is refused before pint reads it.
_UNIT_CHARACTERS = re.compile(r"[A-Za-z0-9 ./*^()'\"²³µμ·_-]*")
_FRACTIONAL_POWER = re.compile(r"(\*\*|\^)\s*[-+]?\d*\.")


def parse_unit(text: str) -> pint.Unit:
    """Parse a unit expression or raise :class:`UnitError` naming it."""
    import_pint()

    check_length(text, f"unit {text[:40]!r}…" if len(text) > 40 else f"unit {text!r}", MAX_UNIT_TEXT)
    if not _UNIT_CHARACTERS.fullmatch(text) or _FRACTIONAL_POWER.search(text):
        # '㎏', a NUL, a stray symbol, 'kg**1.5/kg**0.5': never handed to pint's parser
        raise UnitError(f"unknown unit {text!r}: write units such as mg, mg/kg, mg/m², mg/kg/day, mg/kg/h")
    try:
        unit = registry().Unit(normalise_unit_text(text))
        if any(float(str(power)) != int(float(str(power))) for power in unit._units.values()):
            raise ValueError("a unit to a fractional power")  # 'kg**1.5/kg**0.5': no dose or body unit is one
        return unit
    except Exception as exc:  # pint's parser fails on garbage in many ways ('/' asserts, 'mg/0' divides by
        # zero, deep nesting recurses): whatever it raises, the unit is not one we know
        raise UnitError(f"unknown unit {text!r}: write units such as mg, mg/kg, mg/m², mg/kg/day, mg/kg/h") from exc


def exact(value: Decimal | int | str | Fraction) -> Fraction:
    """An exact fraction from a decimal number (never from a float)."""
    if isinstance(value, Fraction):
        return value
    return Fraction(Decimal(value)) if isinstance(value, str) else Fraction(value)


@lru_cache(maxsize=256)
def _base_factor(name: str) -> Fraction:
    """How many base units one ``name`` is; exact for units defined as decimal multiples (all we use)."""
    q = registry().Quantity(Decimal(1), name).to_base_units()
    return Fraction(Decimal(q.magnitude))


def _unit_factor(unit: pint.Unit) -> Fraction:
    out = Fraction(1)
    for name, power in unit._units.items():
        out *= _base_factor(name) ** int(float(str(power)))  # integral: parse_unit refuses fractional powers
    return out


def factor(from_unit: str | pint.Unit, to_unit: str | pint.Unit) -> Fraction:
    """The exact factor that converts ``from_unit`` to ``to_unit``.

    Computed unit by unit from each one's size in base units, so that divisions (min -> h,
    mg/kg/day -> mg/kg/h) stay exact fractions instead of 28-digit decimals.
    """
    if isinstance(from_unit, str) and isinstance(to_unit, str):
        return _named_factor(from_unit, to_unit)
    return _factor(from_unit, to_unit)


@lru_cache(maxsize=256)
def _named_factor(from_unit: str, to_unit: str) -> Fraction:
    """:func:`factor` between units named by text, remembered: every bare patient value ('70', a kg) converts by
    one, and asking pint each time was most of the time it took to read a patient's values (issue 15). The pairs
    of :data:`KNOWN_FACTORS` are answered without pint."""
    known = KNOWN_FACTORS.get((from_unit, to_unit))
    return known if known is not None else _factor(from_unit, to_unit)


def _factor(from_unit: str | pint.Unit, to_unit: str | pint.Unit) -> Fraction:
    reg = registry()
    a = reg.Unit(from_unit) if isinstance(from_unit, str) else from_unit
    b = reg.Unit(to_unit) if isinstance(to_unit, str) else to_unit
    if a.dimensionality != b.dimensionality:
        raise UnitError(f"cannot convert {a} to {b}")
    return _unit_factor(a) / _unit_factor(b)


@dataclass(frozen=True, slots=True)
class DoseUnit:
    """A dose unit split into its parts: ``mass`` per ``basis`` per ``time``.

    ``to_mg`` converts the mass part to milligrams exactly; ``per_m2``/``per_kg`` factors convert
    body units that were written differently (mg/lb, mg/cm²) to the canonical ones.
    """

    mass: str  # pint name: "milligram", "microgram", "gram"
    basis: Basis
    time: TimeBasis
    to_canonical: Fraction  # factor from the written unit to mg[/kg|/m²][/day|/h]
    #: Unit of the computed amount: mcg for microgram doses, units for units of activity, mg otherwise. This and
    #: ``symbol`` are worked out once, when the unit is made: every dose of every plan reads them (issue 29).
    output_unit: str = field(init=False, repr=False, compare=False)
    #: Readable symbol, e.g. 'mg/m²/day'.
    symbol: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "output_unit", {"microgram": "mcg", "unit": "units", "millilitre": "mL"}.get(self.mass, "mg")
        )
        object.__setattr__(self, "symbol", MASS_SYMBOLS[self.mass] + BASIS_SUFFIX[self.basis] + TIME_SUFFIX[self.time])


#: The units the bundled regimens and most protocols write, answered without pint: ``regimen expand`` of a regimen
#: that uses only these does not import pint (its import weighed as much as the rest of the command: issue 29's
#: start-up target). Each entry is what pint gives (:func:`classify_dose_unit`, :func:`factor`), checked against
#: pint by tests/test_units.py; any other unit is read by pint as before.
KNOWN_DOSE_UNITS: dict[str, DoseUnit] = {
    "mg": DoseUnit("milligram", "flat", "none", Fraction(1)),
    "g": DoseUnit("gram", "flat", "none", Fraction(1000)),
    "mcg": DoseUnit("microgram", "flat", "none", Fraction(1)),
    "mg/m²": DoseUnit("milligram", "bsa", "none", Fraction(1)),
    "mg/m2": DoseUnit("milligram", "bsa", "none", Fraction(1)),
    "mg/kg": DoseUnit("milligram", "weight", "none", Fraction(1)),
    "g/m²": DoseUnit("gram", "bsa", "none", Fraction(1000)),
    "g/m2": DoseUnit("gram", "bsa", "none", Fraction(1000)),
    "mcg/kg": DoseUnit("microgram", "weight", "none", Fraction(1)),
    "mcg/m²": DoseUnit("microgram", "bsa", "none", Fraction(1)),
    "mg/m²/day": DoseUnit("milligram", "bsa", "day", Fraction(1)),
    "mg/m2/day": DoseUnit("milligram", "bsa", "day", Fraction(1)),
    "mg/kg/day": DoseUnit("milligram", "weight", "day", Fraction(1)),
    "mg/kg/h": DoseUnit("milligram", "weight", "hour", Fraction(1)),
    "mg/h": DoseUnit("milligram", "flat", "hour", Fraction(1)),  # an infusion's rate (rate escalation)
    "mg/hr": DoseUnit("milligram", "flat", "hour", Fraction(1)),
    "g/m²/day": DoseUnit("gram", "bsa", "day", Fraction(1000)),
    "units/m²": DoseUnit("unit", "bsa", "none", Fraction(1)),
    "units/kg": DoseUnit("unit", "weight", "none", Fraction(1)),
    "units": DoseUnit("unit", "flat", "none", Fraction(1)),
}
#: Hours in one unit of time as durations are written ('4 days', '96 h', '30 min').
KNOWN_HOURS: dict[str, Fraction] = {
    "h": Fraction(1),
    "hour": Fraction(1),
    "hours": Fraction(1),
    "min": Fraction(1, 60),
    "minute": Fraction(1, 60),
    "minutes": Fraction(1, 60),
    "day": Fraction(24),
    "days": Fraction(24),
    "week": Fraction(168),
    "weeks": Fraction(168),
    "month": Fraction(1461, 2),  # pint's: a twelfth of a Julian year of 365.25 days
    "months": Fraction(1461, 2),
    "year": Fraction(8766),  # pint's: a Julian year, 365.25 days
    "years": Fraction(8766),
}
#: Factors between units named by text (:func:`factor`): a bare patient value is in the unit it is kept in.
KNOWN_FACTORS: dict[tuple[str, str], Fraction] = {
    ("kilogram", "kilogram"): Fraction(1),
    ("centimeter", "centimeter"): Fraction(1),
    ("meter ** 2", "meter ** 2"): Fraction(1),
    ("year", "year"): Fraction(1),
    ("day", "hour"): Fraction(24),
}


def classify_dose_unit(unit_text: str) -> DoseUnit:
    """Split a dose unit into mass / body basis / time; reject anything else.

    Accepted: a mass (mg), mass per body weight (mg/kg), mass per body area (mg/m²), and any of
    those per time (per day or per hour); and the same in units of activity (10 units/m²), which stay units.
    The units of :data:`KNOWN_DOSE_UNITS` are answered without pint.
    """
    known = KNOWN_DOSE_UNITS.get(unit_text)
    if known is not None:
        return known
    activity = _ACTIVITY.match(unit_text)
    if activity is not None:  # the same bases and times, on an amount that is not a mass
        rest = activity.group(1).strip()
        if rest and not rest.startswith("/"):
            raise UnitError(f"dose unit {unit_text!r}: write units of activity as e.g. units, units/m² or units/kg")
        shape = classify_dose_unit("mg" + rest)
        return DoseUnit(mass="unit", basis=shape.basis, time=shape.time, to_canonical=shape.to_canonical)
    unit = parse_unit(unit_text)
    reg = registry()
    mass: str | None = None
    basis: Basis = "flat"
    time: TimeBasis = "none"
    canonical_parts: list[str] = []
    ok = True
    stated = True  # per kg, per m², per day or per hour: the bases the working states as written
    for name, power in unit._units.items():
        dim = reg.get_dimensionality(name)
        if dim == reg.get_dimensionality("gram") and power == 1 and mass is None:
            mass = name
        elif dim == reg.get_dimensionality("gram") and power == -1 and basis == "flat":
            basis = "weight"
            stated &= name == "kilogram"
        elif dim == reg.get_dimensionality("meter") and power == -2 and basis == "flat":
            basis = "bsa"
            stated &= name == "meter"
        elif dim == reg.get_dimensionality("second") and power == -1 and time == "none":
            time = "hour" if factor(name, "hour") <= 1 else "day"
            stated &= name in ("hour", "day")
        else:
            ok = False
    if not ok or mass is None:
        raise UnitError(
            f"dose unit {unit_text!r} is not a mass, mass per body weight, mass per body area, or one of those "
            "per time: write e.g. mg, mg/kg, mg/m², mg/m²/day or mg/kg/h"
        )
    if not stated:
        # the working shows the dose as written times the patient's kg or m² and the hours or days: a dose per lb,
        # per ft² or per week would be converted but shown as if per kg, per m² or per day (issue 11)
        raise UnitError(
            f"dose unit {unit_text!r}: write the dose per kg or per m², and per day or per h, as protocols print "
            "it (e.g. mg/kg, mg/m²/day, mg/kg/h); a weekly dose is a dose per day given on the days of the week "
            "it falls on"
        )
    out_mass = "microgram" if mass == "microgram" else "milligram"
    canonical_parts.append(out_mass)
    if basis == "weight":
        canonical_parts.append("/ kilogram")
    elif basis == "bsa":
        canonical_parts.append("/ meter ** 2")
    if time != "none":
        canonical_parts.append("/ " + time)
    if mass not in DRUG_MASSES:
        raise UnitError(f"dose unit {unit_text!r}: write the drug amount in mcg, mg or g")
    to_canonical = factor(unit, " ".join(canonical_parts))
    return DoseUnit(mass=mass, basis=basis, time=time, to_canonical=to_canonical)


#: A number as regimen reads it (a decimal comma is refused after the match, see split_number); the regimen
#: file schema's patterns are built from it, so an editor accepts the numbers the loader does.
NUMBER_PATTERN = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_NUMBER = re.compile(r"^\s*(" + NUMBER_PATTERN.replace(r"(?:\.", r"(?:[.,]", 1) + r")\s*(.*)$")


def split_number(text: str) -> tuple[Decimal, str] | None:
    """Split '12 mg/m2' into (Decimal('12'), 'mg/m2'); None when it does not start with a number."""
    check_length(text.strip(), repr(text.strip()[:40] + "…"), MAX_VALUE_TEXT)
    match = _NUMBER.match(text)
    if not match:
        return None
    number, rest = match.groups()
    if "," in number:
        return None  # decimal commas are ambiguous with thousands separators: refuse
    try:
        value = Decimal(number)
    except InvalidOperation:  # pragma: no cover - regex guarantees a number
        return None
    return check_decimal(value, repr(text.strip())), rest.strip()


@dataclass(frozen=True, slots=True)
class ParsedDose:
    """A dose as written ("1 g/m²/day"), with its exact canonical amount."""

    text: str
    value: Decimal
    unit: DoseUnit
    #: The amount in mg (or mcg) per kg / m² / day / h as applicable: worked out once, as every dose of every
    #: patient starts from it (issue 15).
    canonical: Fraction = field(init=False, repr=False, compare=False)
    #: The dose as the working shows it ('2,400 mg/m²'), made once with the dose, as ``canonical``.
    display: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "canonical", Fraction(self.value) * self.unit.to_canonical)
        object.__setattr__(self, "display", f"{format_decimal(self.value)} {self.unit.symbol}")


def parse_dose(text: str) -> ParsedDose:
    """Parse a dose such as '0.1 mg/kg/h', '12 mg/m²/day', '375 mg/m**2' or '40 mg'."""
    split = split_number(text)
    if split is None or not split[1]:
        raise UnitError(f"dose {text!r} must be a number followed by a unit, e.g. '12 mg/m²/day'")
    value, unit_text = split
    if not value.is_finite() or value <= 0:
        raise UnitError(f"dose {text!r} must be a positive number")
    return ParsedDose(text=text, value=value, unit=classify_dose_unit(unit_text))


VOLUME_PATTERN = r"^\s*(\d+(?:\.\d+)?)\s*(mL|ml|L|l)\s*$"
_VOLUME = re.compile(VOLUME_PATTERN)


def parse_volume(text: str) -> ParsedDose:
    """The volume of a fluid ('1 L', '500 mL') as a flat 'dose' in mL: a hydration's amount, its rate in mL/h."""
    match = _VOLUME.match(text)
    if match is None:
        raise UnitError(f"volume {text!r} must be a number of mL or L, e.g. '1 L' or '500 mL'")
    value = check_decimal(Decimal(match.group(1)), repr(text))
    if value <= 0:
        raise UnitError(f"volume {text!r} must be positive")
    ml = value * 1000 if match.group(2).lower() == "l" else value  # shown in mL: '1 L' is 1,000 mL
    return ParsedDose(text=text, value=ml, unit=DoseUnit("millilitre", "flat", "none", Fraction(1)))


_FEET_INCHES = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(?:ft|foot|feet|')\s*(?:(\d+(?:\.\d+)?)\s*(?:in|inch|inches|\"|'')?)?\s*$"
)


#: A bare decimal number short enough to be within every limit of :func:`split_number` (size, digits, length).
_PLAIN_NUMBER = re.compile(r"([0-9]{1,6})(?:\.([0-9]{1,6}))?")


def plain_measure(raw: str, default_unit: str, target: str) -> Fraction | None:
    """:func:`parse_measure` of a bare number ('70', '1.82', stripped), read in integers as most callers give it
    (issue 29), or None for any other text. It names no unit: ``default_unit``'s factor to ``target`` applies."""
    plain = _PLAIN_NUMBER.fullmatch(raw)
    if plain is None:
        return None
    whole, places = plain.groups()
    read = Fraction(int(whole + places), 10 ** len(places)) if places else Fraction(int(whole))
    scale = _PLAIN_SCALES.get((default_unit, target))
    if scale is None:
        scale = _PLAIN_SCALES[(default_unit, target)] = factor(default_unit, target)
    return read if scale.numerator == scale.denominator else read * scale  # a factor of 1: the number itself


#: :func:`factor` of each (default unit, target) a bare number was read in, once per process (units are names).
_PLAIN_SCALES: dict[tuple[str, str], Fraction] = {}


def parse_measure(text: str, *, target: str, default_unit: str, what: str, examples: str) -> Fraction:
    """Parse a patient measurement ('154lb', '70 kg', '5ft9in', '70') into ``target`` units exactly.

    A bare number is in ``default_unit``. A unit of the wrong kind (a weight in metres) is an error.
    """
    raw = text.strip()
    read = plain_measure(raw, default_unit, target)
    if read is not None:
        return read
    feet = _FEET_INCHES.match(raw)
    if feet and target == "centimeter":
        inches = Decimal(feet.group(1)) * 12 + Decimal(feet.group(2) or 0)
        return Fraction(inches) * factor("inch", "centimeter")
    try:
        split = split_number(raw)
    except LimitError:
        raise UnitError(
            f"{what} {text!r} is out of range (regimen reads numbers from 1e-{MAX_EXPONENT} to 1e{MAX_EXPONENT}, "
            f"at most {MAX_VALUE_TEXT} characters): give it as e.g. {examples}"
        ) from None
    if split is None:
        raise UnitError(f"{what} {text!r} is not a number: give it as e.g. {examples}")
    value, unit_text = split
    if not value.is_finite():
        raise UnitError(f"{what} {text!r} is not a finite number: give it as e.g. {examples}")
    if not unit_text:
        scale = factor(default_unit, target)
        return Fraction(value) if scale == 1 else Fraction(value) * scale  # the same number, one step fewer
    import_pint()
    import pint

    try:
        # people type KG, Lb, CM: patient units are read case-insensitively (no clash among mass/length units)
        unit = parse_unit(unit_text.replace(" ", "").lower())
    except UnitError:
        raise UnitError(f"{what} {text!r}: unknown unit {unit_text!r}; give it as e.g. {examples}") from None
    reg = registry()
    if unit.dimensionality != reg.Unit(target).dimensionality:
        raise UnitError(f"{what} {text!r} has a unit of the wrong kind ({unit}): give it as e.g. {examples}")
    try:
        return Fraction(value) * factor(unit, target)
    except pint.errors.DimensionalityError as exc:  # pragma: no cover - checked above
        raise UnitError(f"{what} {text!r}: {exc}") from exc


def parse_duration_hours(text: str) -> Fraction:
    """Parse a duration such as '4 days', '96 h', '60 minutes' into exact hours."""
    split = split_number(text)
    if split is None or not split[1]:
        raise UnitError(f"duration {text!r} must be a number and a unit of time, e.g. '4 days' or '60 min'")
    value, unit_text = split
    hours = KNOWN_HOURS.get(unit_text)
    if hours is None:
        unit = parse_unit(unit_text)
        if unit.dimensionality != registry().Unit("hour").dimensionality:
            raise UnitError(f"duration {text!r} is not a time: write e.g. '4 days', '96 h' or '60 min'")
        hours = factor(unit, "hour")
    if value <= 0:
        raise UnitError(f"duration {text!r} must be positive")
    return Fraction(value) * hours
