"""Body-size formulas used for dose calculation: BSA, BMI and dosing weights.

Pure functions on plain numbers (float in, float out).  Units are fixed and
part of each function's contract: weight in kg, height in cm, serum
creatinine (SCr) in mg/dL, age in years, GFR / creatinine clearance in
mL/min (Cockcroft-Gault, Calvert) or mL/min/1.73 m² (CKD-EPI).  Every
function validates its inputs and raises ``ValueError`` with a one-line
message naming the problem and the fix.

Sources
-------
Body surface area (m²; W = weight in kg, H = height in cm):

* Mosteller RD. Simplified calculation of body-surface area.
  N Engl J Med 1987;317(17):1098.
* Du Bois D, Du Bois EF. A formula to estimate the approximate surface area
  if height and weight be known. Arch Intern Med 1916;17(6):863-71.
* Haycock GB, Schwartz GJ, Wisotsky DH. Geometric method for measuring body
  surface area: a height-weight formula validated in infants, children, and
  adults. J Pediatr 1978;93(1):62-6.
* Gehan EA, George SL. Estimation of human body surface area from height and
  weight. Cancer Chemother Rep 1970;54(4):225-35.
* Boyd E. The Growth of the Surface Area of the Human Body. Minneapolis:
  University of Minnesota Press; 1935.  Original form with weight in grams.
* Fujimoto S, Watanabe T, Sakamoto A, Yukawa K, Morimoto K. Studies on the
  physical surface area of Japanese. 18. Nippon Eiseigaku Zasshi
  1968;23(5):443-50 (Fujimoto formula; also reports the earlier Takahira
  1925 formula).
* Shuter B, Aslani A. Body surface area: Du Bois and Du Bois revisited.
  Eur J Appl Physiol 2000;82(3):250-4.
* Schlich E, Schumm M, Schlich M. 3-D-Body-Scan als anthropometrisches
  Verfahren zur Bestimmung der spezifischen Körperoberfläche.
  Ernährungs Umschau 2010;57:178-83.

Coefficients cross-checked against the R package ``physiology``
(R/bsa.R, R/bmi.R).

Dosing weights:

* Devine BJ. Gentamicin therapy. Drug Intell Clin Pharm 1974;8:650-5.
* Robinson JD, Lupkiewicz SM, Palenik L, et al. Determination of ideal body
  weight for drug dosage calculations. Am J Hosp Pharm 1983;40(6):1016-9.
* Miller DR, Carlson JD, Loyd BJ, Day BJ. Determining ideal body weight
  (and mass). Am J Hosp Pharm 1983;40(10):1622-5.
* Janmahasatian S, Duffull SB, Ash S, et al. Quantification of lean bodyweight.
  Clin Pharmacokinet 2005;44(10):1051-65.

Renal formulas (Cockcroft–Gault, CKD-EPI 2021, Calvert) live in :mod:`regimen.clinical.renal`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = [
    "BSA_FORMULAS",
    "BsaFormula",
    "adjusted_body_weight",
    "bmi",
    "boyd",
    "bsa",
    "dubois",
    "fujimoto",
    "gehan_george",
    "haycock",
    "ibw_equation",
    "ideal_body_weight",
    "lean_body_weight",
    "mosteller",
    "schlich",
    "shuter_aslani",
    "takahira",
]

CM_PER_INCH = 2.54
VALID_SEXES = ("male", "female")
IBW_METHODS = ("devine", "robinson", "miller")


# --------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------


def positive(name: str, value: float, unit: str) -> float:
    """Return ``value`` as float if it is a finite number > 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        # ValueError (not TypeError) is this module's single bad-input contract.
        raise ValueError(f"{name} must be a number in {unit}, got {value!r}; pass a positive number")
    x = float(value)
    if not math.isfinite(x) or x <= 0:
        raise ValueError(
            f"{name} must be a finite number > 0 {unit}, got {value!r}; check the {name} value and its unit"
        )
    return x


def weight_value(value: float, name: str = "weight") -> float:
    return positive(name, value, "kg")


def height_value(value: float) -> float:
    return positive("height", value, "cm")


def scr_value(value: float) -> float:
    return positive("serum creatinine", value, "mg/dL")


def age_value(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"age must be a number of years, got {value!r}; pass a number")
    x = float(value)
    if not math.isfinite(x) or x < 0 or x >= 140:
        raise ValueError(
            f"age must be a finite number of years in [0, 140), got {value!r}; check the age value and its unit (years)"
        )
    return x


def sex_value(value: object) -> str:
    if not isinstance(value, str) or value not in VALID_SEXES:
        raise ValueError(f"unknown sex {value!r}; use 'male' or 'female'")
    return value


# --------------------------------------------------------------------------
# Body surface area (m²), weight in kg, height in cm
# --------------------------------------------------------------------------


def mosteller(weight_kg: float, height_cm: float) -> float:
    """Mosteller: √(W·H/3600)."""
    w, h = weight_value(weight_kg), height_value(height_cm)
    return math.sqrt(w * h / 3600.0)


def dubois(weight_kg: float, height_cm: float) -> float:
    """Du Bois & Du Bois: 0.007184·W^0.425·H^0.725 (H in cm, not m)."""
    w, h = weight_value(weight_kg), height_value(height_cm)
    return 0.007184 * math.pow(w, 0.425) * math.pow(h, 0.725)


def haycock(weight_kg: float, height_cm: float) -> float:
    """Haycock: 0.024265·W^0.5378·H^0.3964."""
    w, h = weight_value(weight_kg), height_value(height_cm)
    return 0.024265 * math.pow(w, 0.5378) * math.pow(h, 0.3964)


def gehan_george(weight_kg: float, height_cm: float) -> float:
    """Gehan & George: 0.0235·W^0.51456·H^0.42246."""
    w, h = weight_value(weight_kg), height_value(height_cm)
    return 0.0235 * math.pow(w, 0.51456) * math.pow(h, 0.42246)


def boyd(weight_kg: float, height_cm: float) -> float:
    """Boyd (original gram form): 0.0003207·H^0.3·Wg^(0.7285−0.0188·log10 Wg), Wg = 1000·W."""
    w, h = weight_value(weight_kg), height_value(height_cm)
    wg = 1000.0 * w
    return 0.0003207 * math.pow(h, 0.3) * math.pow(wg, 0.7285 - 0.0188 * math.log10(wg))


def fujimoto(weight_kg: float, height_cm: float) -> float:
    """Fujimoto: 0.008883·W^0.444·H^0.663."""
    w, h = weight_value(weight_kg), height_value(height_cm)
    return 0.008883 * math.pow(w, 0.444) * math.pow(h, 0.663)


def takahira(weight_kg: float, height_cm: float) -> float:
    """Takahira: 0.007241·W^0.425·H^0.725."""
    w, h = weight_value(weight_kg), height_value(height_cm)
    return 0.007241 * math.pow(w, 0.425) * math.pow(h, 0.725)


def shuter_aslani(weight_kg: float, height_cm: float) -> float:
    """Shuter & Aslani: 0.00949·W^0.441·H^0.655."""
    w, h = weight_value(weight_kg), height_value(height_cm)
    return 0.00949 * math.pow(w, 0.441) * math.pow(h, 0.655)


def schlich(weight_kg: float, height_cm: float, sex: str) -> float:
    """Schlich: male 0.000579479·W^0.38·H^1.24; female 0.000975482·W^0.46·H^1.08."""
    w, h, s = weight_value(weight_kg), height_value(height_cm), sex_value(sex)
    if s == "male":
        return 0.000579479 * math.pow(w, 0.38) * math.pow(h, 1.24)
    return 0.000975482 * math.pow(w, 0.46) * math.pow(h, 1.08)


def _no_sex(
    fn: Callable[[float, float], float],
) -> Callable[[float, float, str | None], float]:
    def compute(weight_kg: float, height_cm: float, sex: str | None) -> float:
        # Sex does not enter these formulas and is deliberately ignored.
        return fn(weight_kg, height_cm)

    return compute


def _with_sex(weight_kg: float, height_cm: float, sex: str | None) -> float:
    if sex is None:
        raise ValueError("the Schlich formula needs the patient's sex; pass sex='male' or sex='female'")
    return schlich(weight_kg, height_cm, sex)


@dataclass(frozen=True, slots=True)
class BsaFormula:
    """A named BSA formula with its human-readable equation and citation."""

    name: str
    equation: str
    citation: str
    needs_sex: bool
    _fn: Callable[[float, float, str | None], float] = field(repr=False, compare=False)

    def compute(self, weight_kg: float, height_cm: float, sex: str | None = None) -> float:
        """BSA in m² for weight in kg and height in cm."""
        return self._fn(weight_kg, height_cm, sex)


BSA_FORMULAS: dict[str, BsaFormula] = {
    "mosteller": BsaFormula(
        "Mosteller",
        "√(W·H/3600)",
        "Mosteller RD. N Engl J Med 1987;317:1098",
        False,
        _no_sex(mosteller),
    ),
    "dubois": BsaFormula(
        "Du Bois",
        "0.007184·W^0.425·H^0.725",
        "Du Bois D, Du Bois EF. Arch Intern Med 1916;17:863-71",
        False,
        _no_sex(dubois),
    ),
    "haycock": BsaFormula(
        "Haycock",
        "0.024265·W^0.5378·H^0.3964",
        "Haycock GB et al. J Pediatr 1978;93:62-6",
        False,
        _no_sex(haycock),
    ),
    "gehan-george": BsaFormula(
        "Gehan-George",
        "0.0235·W^0.51456·H^0.42246",
        "Gehan EA, George SL. Cancer Chemother Rep 1970;54:225-35",
        False,
        _no_sex(gehan_george),
    ),
    "boyd": BsaFormula(
        "Boyd",
        "0.0003207·H^0.3·Wg^(0.7285−0.0188·log10 Wg), Wg = weight in g",
        "Boyd E. The Growth of the Surface Area of the Human Body. 1935",
        False,
        _no_sex(boyd),
    ),
    "fujimoto": BsaFormula(
        "Fujimoto",
        "0.008883·W^0.444·H^0.663",
        "Fujimoto S et al. Nippon Eiseigaku Zasshi 1968;23:443-50",
        False,
        _no_sex(fujimoto),
    ),
    "takahira": BsaFormula(
        "Takahira",
        "0.007241·W^0.425·H^0.725",
        "Takahira H. 1925; as reported in Fujimoto S et al. Nippon Eiseigaku Zasshi 1968;23:443-50",
        False,
        _no_sex(takahira),
    ),
    "shuter-aslani": BsaFormula(
        "Shuter-Aslani",
        "0.00949·W^0.441·H^0.655",
        "Shuter B, Aslani A. Eur J Appl Physiol 2000;82:250-4",
        False,
        _no_sex(shuter_aslani),
    ),
    "schlich": BsaFormula(
        "Schlich",
        "male 0.000579479·W^0.38·H^1.24; female 0.000975482·W^0.46·H^1.08",
        "Schlich E et al. Ernährungs Umschau 2010;57:178-83",
        True,
        _with_sex,
    ),
}


def bsa(formula_key: str, weight_kg: float, height_cm: float, sex: str | None = None) -> float:
    """BSA in m² using the formula registered under ``formula_key``."""
    formula = BSA_FORMULAS.get(formula_key)
    if formula is None:
        raise ValueError(f"unknown BSA formula {formula_key!r}; use one of: {', '.join(BSA_FORMULAS)}")
    return formula.compute(weight_kg, height_cm, sex)


# --------------------------------------------------------------------------
# Dosing weights
# --------------------------------------------------------------------------

_IBW_COEFFS: dict[str, dict[str, tuple[float, float]]] = {
    # method -> sex -> (kg at 60 in, kg per inch over 60 in)
    "devine": {"male": (50.0, 2.3), "female": (45.5, 2.3)},
    "robinson": {"male": (52.0, 1.9), "female": (49.0, 1.7)},
    "miller": {"male": (56.2, 1.41), "female": (53.1, 1.36)},
}

#: The shortest height the ideal-body-weight formulas are stated for: each is a weight at 5 feet plus a weight per
#: inch *over* 5 feet, fitted to adults (Devine 1974; Robinson 1983 and Miller 1983 from the Metropolitan Life
#: tables). Below it they extrapolate, down to 0 kg and less near 1 m (Devine female: 0 kg at 40.2 in, 102 cm).
IBW_MIN_INCHES = 60.0
IBW_MIN_HEIGHT_CM = IBW_MIN_INCHES * CM_PER_INCH  # 152.4
IBW_CITATIONS = {
    "devine": "Devine BJ. Drug Intell Clin Pharm 1974;8:650-5",
    "robinson": "Robinson JD et al. Am J Hosp Pharm 1983;40:1016-9",
    "miller": "Miller DR et al. Am J Hosp Pharm 1983;40:1622-5",
}


def ibw_equation(method: str, sex: str) -> str:
    """The formula in words: '50 kg + 2.3 kg per inch over 60 in'."""
    base, slope = _IBW_COEFFS[method][sex]
    return f"{base:g} kg + {slope:g} kg per inch over 60 in"


def bmi(weight_kg: float, height_cm: float) -> float:
    """Body-mass index in kg/m²: W / (H/100)²."""
    w, h = weight_value(weight_kg), height_value(height_cm)
    return w / (h / 100.0) ** 2


def ideal_body_weight(height_cm: float, sex: str, method: str = "devine") -> float:
    """Ideal body weight in kg: base + slope·(height in inches − 60).

    The formulas are stated for heights of at least 60 in (152.4 cm); below
    that they extrapolate (to 0 kg and less near 1 m), so a shorter height is
    an error, not a number.
    """
    h, s = height_value(height_cm), sex_value(sex)
    coeffs = _IBW_COEFFS.get(method)
    if coeffs is None:
        raise ValueError(f"unknown ideal-body-weight method {method!r}; use one of: {', '.join(IBW_METHODS)}")
    inches = h / CM_PER_INCH
    if inches < IBW_MIN_INCHES - 1e-9:  # 60 * 2.54 is 152.39999999999998 in binary floating point
        raise ValueError(
            f"ideal body weight formulas are stated for heights of at least 60 in "
            f"(152.4 cm), got {height_cm!r} cm; use another dosing weight"
        )
    base, slope = coeffs[s]
    return base + slope * (inches - 60.0)


def adjusted_body_weight(actual_kg: float, ibw_kg: float, factor: float = 0.4) -> float:
    """Adjusted body weight in kg: IBW + factor·(actual − IBW)."""
    a = weight_value(actual_kg, "actual weight")
    i = weight_value(ibw_kg, "ideal body weight")
    if (
        isinstance(factor, bool)
        or not isinstance(factor, (int, float))
        or not (math.isfinite(factor) and 0.0 <= factor <= 1.0)
    ):
        raise ValueError(f"adjustment factor must be a number between 0 and 1, got {factor!r}; use e.g. 0.4")
    return i + float(factor) * (a - i)


def lean_body_weight(weight_kg: float, height_cm: float, sex: str) -> float:
    """Lean body weight in kg (Janmahasatian 2005).

    male 9270·W/(6680 + 216·BMI); female 9270·W/(8780 + 244·BMI).
    """
    w, h, s = weight_value(weight_kg), height_value(height_cm), sex_value(sex)
    b = w / (h / 100.0) ** 2
    if s == "male":
        return 9270.0 * w / (6680.0 + 216.0 * b)
    return 9270.0 * w / (8780.0 + 244.0 * b)
