"""A row of a component's renal or hepatic dose-adjustment table, as its source states it (issue 24), and what such a
row measures. Frozen, like the rest of :mod:`regimen.model`, which names each of them too."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from regimen.quantities.exact import format_fraction

#: What a renal or hepatic band measures, and its unit. Renal: creatinine clearance by Cockcroft–Gault, or a measured
#: GFR (--gfr), in mL/min, as product information states it. Hepatic: bilirubin, AST or ALT.
ORGAN_MEASURES: dict[str, str] = {
    "crcl": "mL/min",
    "bilirubin_uln": "× ULN",
    "bilirubin_umol_l": "µmol/L",
    "bilirubin_mg_dl": "mg/dL",
    "ast_uln": "× ULN",
    "alt_uln": "× ULN",
}
ORGAN_STOPS = ("avoid", "contraindicated")


@dataclass(frozen=True, slots=True)
class OrganBand:
    """One row of a component's renal or hepatic dose-adjustment table, as its source states it: a range of one
    measure (``min`` ≤ value, value ≤ ``max`` or value < ``below``) and what to do in it: give ``percent`` of the
    dose, or ``stop`` ("avoid" or "contraindicated")."""

    measure: str  # a key of ORGAN_MEASURES
    source: str
    percent: Fraction | None = None
    stop: str | None = None
    min: Fraction | None = None
    max: Fraction | None = None
    below: Fraction | None = None
    note: str | None = None
    url: str | None = None
    # a row that gives a dose of its own ('65 mg/m²' in place of 85): that dose and the full one, as written; its
    # ``percent`` is their exact ratio (1300/17), set by the loader from the component's dose
    dose: str | None = None
    of: str | None = None

    def holds(self, value: Fraction) -> bool:
        return (
            (self.min is None or value >= self.min)
            and (self.max is None or value <= self.max)
            and (self.below is None or value < self.below)
        )

    def range_text(self) -> str:
        """'30–50 mL/min', 'below 30 mL/min', '45 to under 60 mL/min', 'at least 60 mL/min'."""
        unit = ORGAN_MEASURES[self.measure]
        low = format_fraction(self.min) if self.min is not None else None
        if self.max is not None:
            high = format_fraction(self.max)
            return f"{low}–{high} {unit}" if low is not None else f"at most {high} {unit}"
        if self.below is not None:
            high = format_fraction(self.below)
            return f"{low} to under {high} {unit}" if low is not None else f"below {high} {unit}"
        return f"at least {low} {unit}"

    def action_text(self) -> str:
        """'75 % of the dose', '65 mg/m² in place of 85 mg/m² (the dose × 13/17)', 'avoid', 'contraindicated'."""
        if self.dose is not None and self.percent is not None:
            ratio = self.percent / 100
            return f"{self.dose} in place of {self.of} (the dose × {ratio.numerator}/{ratio.denominator})"
        if self.percent is not None:
            return f"{format_fraction(self.percent)} % of the dose"
        return self.stop or ""
