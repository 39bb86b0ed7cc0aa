"""Weight and height together: a pair that no patient of the regimen's population has is an error.

Each value alone may be possible (a height of 69 cm, a weight of 70 kg) while the pair is not: BMI 147 in an
adult 69 cm tall. Such a pair is almost always a unit slip (a height in inches or feet typed as a bare number, read
as cm; a weight in pounds read as kg), and it changes every dose (--height 69 with --weight 70 gives a BSA of
1.158 m² instead of 1.85 m²). The message names the slip that makes the pair plausible, if one does.

The limits, with their sources (kept wide: they must never reject a real patient; they catch slips):

* BMI under 100 kg/m², any age. CDC counts a BMI of 100 or more as implausible in its adult surveillance data
  (BRFSS, adult obesity prevalence maps: respondents with BMI < 12 or >= 100 excluded). Children's BMIs run lower
  than adults' (CDC BMI-for-age charts), so the adult limit is kept, loosely, for them. A height in inches read as
  cm multiplies the BMI by 2.54² = 6.45: the slip is caught in anyone whose true BMI is 15.5 or more. A few people
  on record have had a BMI of 100 or more; for such a patient regimen cannot check weight and height, and the dose
  is worked out by hand.
* Adults only: BMI at least 6 kg/m², below the lowest BMIs reported in surviving adults (7.5 in a cohort of
  extreme anorexia nervosa, Gibson D et al., J Eat Disord 2020;8:25; 7.8, Frølich J et al., Nutrition
  2016;32:146-8). No lower limit for children: a newborn at 24 weeks (about 650 g, 31 cm) has a BMI near 7.
* Adults only: height at least 54.6 cm, the shortest adult on record (Chandra Bahadur Dangi, measured by
  Guinness World Records in 2012). Lower limits used for data cleaning (3 ft, 91.44 cm, in BRFSS) would reject
  real adults with severe skeletal dysplasias, so they are not used.

Adults are patients aged 18 or over; when the age is not given, the regimen's population decides (a regimen whose
eligibility starts at 18 or later treats adults; otherwise the limits for any age apply).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction

from regimen.clinical.options import ADULT_AGE
from regimen.clinical.patient import HEIGHT, WEIGHT
from regimen.errors import PatientError, option
from regimen.model import Patient, Regimen
from regimen.quantities.exact import format_decimal, format_fraction, round_significant

BMI_MAX = Fraction(100)  # kg/m², exclusive: CDC BRFSS excludes BMI >= 100 as implausible
BMI_MAX_SOURCE = "which CDC counts as implausible in adult survey data (BRFSS)"
ADULT_BMI_MIN = Fraction(6)  # kg/m²: below the lowest reported in surviving adults (7.5, 7.8)
ADULT_BMI_MIN_SOURCE = (
    "under the lowest BMI reported in a surviving adult (7.5: Gibson D et al., J Eat Disord 2020;8:25)"
)
ADULT_HEIGHT_MIN_CM = Fraction(546, 10)  # the shortest adult on record
ADULT_HEIGHT_MIN_SOURCE = "the shortest adult on record (Chandra Bahadur Dangi, Guinness World Records 2012)"

CM_PER_INCH = Fraction(254, 100)
CM_PER_FOOT = 12 * CM_PER_INCH
KG_PER_LB = Fraction(45359237, 100_000_000)
KG_PER_STONE = 14 * KG_PER_LB


def bmi(weight_kg: Fraction, height_cm: Fraction) -> Fraction:
    """Body-mass index in kg/m², exact: W / (H/100)²."""
    return weight_kg / (height_cm / 100) ** 2


def _adult(patient: Patient, regimen: Regimen) -> tuple[bool, str]:
    """Whether the adult limits apply, and why when the age was not given."""
    if patient.age_years is not None:
        return patient.age_years >= ADULT_AGE, ""
    e = regimen.eligibility
    if e is not None and e.min_age is not None and e.min_age >= ADULT_AGE:
        return True, f" ({regimen.id} treats adults; age not given)"
    return False, ""


def _problem(weight: Fraction, height: Fraction, adult: bool, why: str = "") -> str | None:
    """What is wrong with the pair for the population, or None (``why``: why adult limits apply, if not by age)."""
    b = bmi(weight, height)
    pair = f"height {format_fraction(height)} cm with weight {format_fraction(weight)} kg gives a BMI of {_bmi_text(b)}"
    if b >= BMI_MAX:
        return f"{pair}, at or above {format_fraction(BMI_MAX)} kg/m², {BMI_MAX_SOURCE}"
    if adult and b < ADULT_BMI_MIN:
        return f"{pair}, below {format_fraction(ADULT_BMI_MIN)} kg/m², {ADULT_BMI_MIN_SOURCE}{why}"
    if adult and height < ADULT_HEIGHT_MIN_CM:
        return (
            f"height {format_fraction(height)} cm is below {format_fraction(ADULT_HEIGHT_MIN_CM)} cm, "
            f"{ADULT_HEIGHT_MIN_SOURCE}{why}"
        )
    return None


def _bmi_text(b: Fraction) -> str:
    return format_decimal(round_significant(b, 3))


def _fits(weight: Fraction, height: Fraction, adult: bool) -> bool:
    possible = WEIGHT.low < weight <= WEIGHT.high and HEIGHT.low < height <= HEIGHT.high
    return possible and _problem(weight, height, adult) is None


def _feet_example(height: Fraction) -> str:
    """'5ft9in or height '5.9 ft'' for 5.9 (often meant as 5 ft 9 in); ''6 ft'' for 6."""
    text = format_fraction(height, grouping=False)
    feet, _, inches = text.partition(".")
    quoted = f"{option('height')} '{text} ft'"
    if inches and len(inches) <= 2 and int(inches) < 12:
        return f"{option('height')} {feet}ft{int(inches)}in or {quoted}"
    return quoted


def _feet_and_inches(height: Fraction) -> Fraction:
    """5.9 read as 5 ft 9 in (as often meant), in cm; the decimal-feet reading is tried as well."""
    feet, _, inches = format_fraction(height, grouping=False).partition(".")
    if not inches or len(inches) > 2 or int(inches) >= 12:
        return Fraction(0)
    return int(feet) * CM_PER_FOOT + int(inches) * CM_PER_INCH


def _slip(weight: Fraction, height: Fraction, adult: bool) -> str:
    """The unit slip that makes the pair plausible, as a question and an example; else a plain request."""
    h, w = format_fraction(height, grouping=False), format_fraction(weight, grouping=False)
    readings: list[tuple[str, Callable[[], bool], str]] = [
        ("height in inches", lambda: _fits(weight, height * CM_PER_INCH, adult), f"{option('height')} '{h} in'"),
        (
            "height in feet",
            lambda: _fits(weight, height * CM_PER_FOOT, adult) or _fits(weight, _feet_and_inches(height), adult),
            _feet_example(height),
        ),
        ("height in metres", lambda: _fits(weight, height * 100, adult), f"{option('height')} '{h} m'"),
        ("weight in pounds", lambda: _fits(weight * KG_PER_LB, height, adult), f"{option('weight')} '{w} lb'"),
        ("weight in stone", lambda: _fits(weight * KG_PER_STONE, height, adult), f"{option('weight')} '{w} stone'"),
    ]
    for what, fits, example in readings:
        if fits():
            return f"was the {what}? give e.g. {example}"
    return (
        f"check {option('weight')} and {option('height')}, and give each with its unit (e.g. "
        f"{option('height')} '175 cm', {option('weight')} '70 kg')"
    )


def check_body_pair(patient: Patient, regimen: Regimen) -> None:
    """Raise :class:`PatientError` when weight and height together are outside the population's limits."""
    weight, height = patient.weight_kg, patient.height_cm
    if weight is None or height is None:
        return
    adult, why = _adult(patient, regimen)
    problem = _problem(weight, height, adult, why)
    if problem is not None:
        raise PatientError(f"{problem}: {_slip(weight, height, adult)}")


__all__ = ["ADULT_BMI_MIN", "ADULT_HEIGHT_MIN_CM", "BMI_MAX", "bmi", "check_body_pair"]
