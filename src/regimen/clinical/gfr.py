"""A kidney value as a dose reads it (:class:`Gfr`), and the GFR a Calvert (carboplatin) dose uses: capped at the run's
cap (FDA 2010: 125 mL/min by default), with the text the working shows, for one plan or, written from integers, for
a cohort's rows (issue 29). The values themselves are worked out by :mod:`regimen.clinical.prepare`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from regimen.clinical.options import DEFAULT_GFR_CAP, ClinicalOptions
from regimen.quantities.exact import decimal_texts, format_fraction, to_decimal


def exact_places(x: float, places: int) -> Fraction:
    """A float formula result as an exact decimal, rounded half up to ``places`` places (a clearance, an eGFR)."""
    return Fraction(to_decimal(Fraction(Decimal(repr(x))), places))


@dataclass(frozen=True, slots=True)
class Gfr:
    ml_min: Fraction  # as estimated or measured, before the cap
    used: Fraction  # after the cap
    text: str  # "GFR 77.78 mL/min (Cockcroft–Gault)"


#: The source of a GFR estimated by Cockcroft–Gault, as the working names it.
COCKCROFT_GAULT = "Cockcroft–Gault"

#: The warning of every AUC-dosed plan when the GFR cap is lifted (--gfr-cap none).
GFR_CAP_LIFTED = (
    "GFR cap lifted (--gfr-cap none): with IDMS-standardised creatinine the FDA (2010) "
    "advises capping the GFR at 125 mL/min for carboplatin dosing"
)


def calvert_gfr(gfr: Fraction, source: str, options: ClinicalOptions) -> Gfr:
    """The GFR a Calvert dose uses: ``gfr`` (``source`` says where it comes from: :data:`COCKCROFT_GAULT`), capped
    at the run's cap, and its text for the working."""
    return _gfr_capped(gfr, f"GFR {format_fraction(gfr)} mL/min ({source})", options)


def calvert_gfrs(hundredths: Sequence[int], source: str, options: ClinicalOptions) -> list[Gfr]:
    """:func:`calvert_gfr` of each GFR given in hundredths of a mL/min (a cohort's estimates): the same values and
    texts (:func:`calvert_gfr_texts`), not from a Fraction's text each."""
    cap = options.gfr_cap
    under = gfr_cap_hundredths(cap)
    out: list[Gfr] = []
    for h, text in zip(hundredths, calvert_gfr_texts(hundredths, source, cap), strict=True):
        gfr = Fraction(h, 100)
        out.append(Gfr(gfr, gfr if cap is None or h <= under else cap, text))
    return out


def gfr_cap_hundredths(cap: Fraction | None) -> int:
    """The most hundredths of a mL/min a GFR has at or under ``cap``: h / 100 <= cap exactly when h <= this (0 for
    no cap)."""
    return 0 if cap is None else cap.numerator * 100 // cap.denominator


def calvert_gfr_texts(hundredths: Sequence[int], source: str, cap: Fraction | None) -> list[str]:
    """The text of :func:`calvert_gfr` (with ``cap`` as the run's :attr:`ClinicalOptions.gfr_cap`) of each GFR
    given in hundredths of a mL/min, the numbers written from the integers (:func:`decimal_texts`): "GFR 130.5
    mL/min (Cockcroft–Gault) capped at 125 mL/min (FDA 2010 default)". A cohort's Calvert rows are written from
    these without a :class:`Gfr` each (issue 29)."""
    under = gfr_cap_hundredths(cap)  # at or under the cap, compared in integers
    plain = f" mL/min ({source})"
    capped = plain + _cap_text(cap) if cap is not None else plain
    return [
        f"GFR {t}{plain if cap is None or h <= under else capped}"
        for h, t in zip(hundredths, decimal_texts(hundredths, 2), strict=True)
    ]


def _gfr_capped(gfr: Fraction, text: str, options: ClinicalOptions) -> Gfr:
    cap = options.gfr_cap
    if cap is None or gfr <= cap:
        return Gfr(ml_min=gfr, used=gfr, text=text)
    return Gfr(ml_min=gfr, used=cap, text=f"{text}{_cap_text(cap)}")


def _cap_text(cap: Fraction) -> str:
    """What a GFR's text says of its cap: " capped at 125 mL/min (FDA 2010 default)"."""
    default = " (FDA 2010 default)" if cap == DEFAULT_GFR_CAP else " (--gfr-cap)"
    return f" capped at {format_fraction(cap)} mL/min{default}"


__all__ = [
    "COCKCROFT_GAULT",
    "GFR_CAP_LIFTED",
    "Gfr",
    "calvert_gfr",
    "calvert_gfr_texts",
    "calvert_gfrs",
    "exact_places",
    "gfr_cap_hundredths",
]
