"""The clinical choices of a run beyond the patient's values: BSA formula and cap, dosing weight, renal
method and cap, dose level, dose changes ("80 % of the dose"), rounding, anthracycline table and limit, strictness.

The defaults change nothing. Limits and sources of the constants are stated beside them (and in the
README's "Clinical inputs and safety").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from regimen.clinical.anthracycline import FactorTable, Prior
from regimen.clinical.body_size import BSA_FORMULAS
from regimen.clinical.dose_change import DoseChange
from regimen.clinical.formulary import Formulary
from regimen.clinical.patient import BSA, GFR
from regimen.clinical.pretreatment import Dpyd
from regimen.errors import RegimenError, option
from regimen.model import DOSING_WEIGHTS, Amount
from regimen.quantities.exact import format_fraction
from regimen.quantities.limits import LimitError, fraction_from

BSA_PLACES = 3
DERIVED_PLACES = 2
DEFAULT_GFR_CAP = Fraction(125)  # mL/min, US FDA carboplatin dosing communication (2010), IDMS creatinine
#: mg/dL: under it a serum creatinine is flagged for AUC (Calvert) dosing, since it inflates the estimated GFR. A
#: project default (the issue that asked for it names 0.7); the US FDA 2010 carboplatin communication names values
#: under 0.8 mg/dL (IDMS), so --scr-floor 0.8 follows it. README "Clinical inputs and safety".
DEFAULT_SCR_FLOOR = Fraction(7, 10)
DEFAULT_THRESHOLD = Fraction(10)  # %, HOPA: Fahrenbruch R et al., J Oncol Pract 2018;14(3):e130-e136
DEFAULT_ADJUSTED_FACTOR = Fraction(2, 5)
BSA_DISAGREEMENT = Fraction(10)  # %, project choice: a given BSA this far from the computed one is queried
GFR_METHODS = ("cockcroft-gault", "ckd-epi-2021")
IDEAL_DEFAULT = "devine"

# (low, high) of the usual range; outside it (but possible) -> warning. Project choice, stated in the README.
ADULT_RANGES: dict[str, tuple[Fraction, Fraction, str]] = {
    "weight": (Fraction(35), Fraction(200), "kg"),
    "height": (Fraction(140), Fraction(210), "cm"),
    "bsa": (Fraction(1, 1), Fraction(3), "m²"),
    "scr": (Fraction(3, 10), Fraction(5), "mg/dL"),
}
CHILD_RANGES: dict[str, tuple[Fraction, Fraction, str]] = {
    "weight": (Fraction(2), Fraction(150), "kg"),
    "height": (Fraction(45), Fraction(200), "cm"),
    "bsa": (Fraction(15, 100), Fraction(5, 2), "m²"),
    "scr": (Fraction(1, 10), Fraction(2), "mg/dL"),
}
AGE_USUAL_MAX = Fraction(100)
ADULT_AGE = Fraction(18)
#: Ideal body weight (and the adjusted weight built on it) is defined for adults at least 60 in tall: each formula
#: is a weight at 5 feet plus a weight per inch over 5 feet (Devine 1974, Robinson 1983, Miller 1983; see
#: regimen.clinical.body_size). Below it, or for a child, the weight is an error, never an extrapolation.
IBW_MIN_HEIGHT_CM = Fraction(1524, 10)


class ClinicalError(RegimenError):
    """A clinical option that cannot be used as given."""


class StrictError(RegimenError):
    """A warning raised as an error by --strict."""


def _exact(value: object, name: str) -> Fraction:
    """An option given as a number (int, float, Decimal, Fraction or text) as the exact decimal it reads as,
    within the limits of :mod:`regimen.quantities.limits` (finite, of a sane size)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal, str, Fraction)):
        raise ClinicalError(f"{option(name)} {value!r} is not a number")
    try:
        return fraction_from(value, f"{option(name)} {value!r}")
    except LimitError as exc:
        raise ClinicalError(exc.message) from None


@dataclass(frozen=True, slots=True)
class ClinicalOptions:
    """Everything a run may choose beyond the patient's values. The defaults change nothing."""

    bsa_formula: str = "mosteller"
    bsa_cap: Fraction | None = None
    dosing_weight: str | None = None
    adjusted_factor: Fraction = DEFAULT_ADJUSTED_FACTOR
    gfr_method: str = "cockcroft-gault"
    gfr_cap: Fraction | None = DEFAULT_GFR_CAP
    scr_floor: Fraction = DEFAULT_SCR_FLOOR
    scr_floor_apply: bool = False
    dose_level: int | None = None
    dose_levels: Mapping[str, int] = field(default_factory=dict)  # drug or component id -> level, e.g. oxaliplatin -1
    #: drug or component id -> the percentage of the full dose given, in one reading only (see dose_change)
    dose_changes: Mapping[str, DoseChange] = field(default_factory=dict)
    round_to: Mapping[str, Amount] = field(default_factory=dict)  # drug or component id -> increment
    formulary: Formulary | None = None
    vial_round: bool = False
    threshold: Fraction = DEFAULT_THRESHOLD
    threshold_label: str = "HOPA"
    prior: tuple[Prior, ...] = ()
    anthracycline_table: FactorTable | None = None
    anthracycline_limit: Fraction | None = None
    strict: bool = False
    dpyd: Dpyd | None = None  # a DPYD result: changes the fluoropyrimidine dose as CPIC says (pretreatment)

    def __post_init__(self) -> None:
        # Python callers may give plain numbers (bsa_cap=2.0): each becomes the exact decimal it was written as
        for name in ("bsa_cap", "adjusted_factor", "gfr_cap", "scr_floor", "threshold", "anthracycline_limit"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Fraction):
                object.__setattr__(self, name, _exact(value, name))
        for key, change in self.dose_changes.items():
            if not isinstance(change, DoseChange):
                # a bare number could be "give 80 %" or "reduce by 20 %": a caller says which with a DoseChange
                raise ClinicalError(
                    f"dose_changes {key}={change!r}: give a DoseChange, e.g. dose_percent('80%') (give 80 % of the "
                    "dose) or reduce_by('20%') (give 80 %), from regimen.clinical.dose_change"
                )
        if self.bsa_formula not in BSA_FORMULAS:
            raise ClinicalError(f"unknown BSA formula {self.bsa_formula!r}: use one of {', '.join(BSA_FORMULAS)}")
        if self.dosing_weight is not None and self.dosing_weight not in DOSING_WEIGHTS:
            raise ClinicalError(f"unknown dosing weight {self.dosing_weight!r}: use one of {', '.join(DOSING_WEIGHTS)}")
        if not 0 <= self.adjusted_factor <= 1:
            factor = format_fraction(self.adjusted_factor)
            raise ClinicalError(f"{option('adjusted_factor')} {factor} must be between 0 and 1")
        if self.gfr_method not in GFR_METHODS:
            raise ClinicalError(f"unknown GFR method {self.gfr_method!r}: use one of {', '.join(GFR_METHODS)}")
        if self.bsa_cap is not None and not BSA.low < self.bsa_cap <= BSA.high:  # a patient's BSA limits
            raise ClinicalError(
                f"{option('bsa_cap')} {format_fraction(self.bsa_cap)} m² is not a possible BSA: give e.g. 2"
            )
        if self.gfr_cap is not None and self.gfr_cap <= 0:
            raise ClinicalError(f"{option('gfr_cap')} must be positive (or 'none' to lift the cap)")
        if self.gfr_cap is not None and self.gfr_cap > GFR.high:
            # a cap above any possible GFR caps nothing and hides an impossible estimate: the same limit as --gfr
            raise ClinicalError(
                f"{option('gfr_cap')} {format_fraction(self.gfr_cap, grouping=False)} mL/min is "
                f"above {format_fraction(GFR.high)} mL/min, the highest possible GFR (the limit of a "
                f"measured {option('gfr')}): give e.g. {option('gfr_cap')} 125, or {option('gfr_cap')} "
                "none to lift the cap"
            )
        if not 0 < self.scr_floor <= 2:
            raise ClinicalError(
                f"{option('scr_floor')} {format_fraction(self.scr_floor)} mg/dL must be above 0 and at most 2 mg/dL "
                "(e.g. 0.7 or 0.8)"
            )
        if not 0 < self.threshold <= 50:
            raise ClinicalError(
                f"rounding threshold {format_fraction(self.threshold)} % must be above 0 and at most 50 %"
            )
        if self.anthracycline_limit is not None and self.anthracycline_limit <= 0:
            raise ClinicalError(f"{option('anthracycline_limit')} must be a positive number of mg/m²")


__all__ = [
    "DEFAULT_GFR_CAP",
    "DEFAULT_SCR_FLOOR",
    "DEFAULT_THRESHOLD",
    "GFR_METHODS",
    "ClinicalError",
    "ClinicalOptions",
    "StrictError",
]
