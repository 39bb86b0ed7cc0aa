"""Rounding a calculated dose to something a pharmacy can prepare: an increment or whole vials.

Every rounding is explicit (asked for with ``--round``, a regimen's ``round`` field, or ``--vial-round`` /
``--band`` with a formulary) and stated in the working as calculated → rounded (deviation %).

Rules (a project choice, documented in the README):

* Candidates are the nearest preparable amounts below and above the calculated dose (never 0).
  The nearer one is chosen; on a tie the lower one (less drug).
* A candidate above a maximum dose of the regimen is never chosen.
* If the chosen amount deviates from the calculated dose by more than the threshold (default ±10 %,
  HOPA: Fahrenbruch R et al., J Oncol Pract 2018;14:e130-6; ``--band 6%`` for NHS England dose-banding
  tolerance), the dose is **left unrounded** and the row carries a warning. Nothing is ever rounded
  beyond the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import ceil, floor, gcd, lcm

from regimen.errors import RegimenError, option
from regimen.quantities.exact import format_fraction, to_decimal

#: The most multiples of the smallest common step of a drug's vial sizes that vial rounding (expand --vial-round) and
#: vial packing (supply) search through for one dose: beyond it, a formulary's sizes are too fine for the dose.
MAX_STEPS = 200_000


def check_vial_steps(steps: int, dose: Fraction, unit: str, vials: tuple[Fraction, ...], fix: str) -> None:
    """Refuse, in one line naming ``fix``, a search of ``steps`` > :data:`MAX_STEPS` vial combinations for ``dose``."""
    if steps > MAX_STEPS:
        tail = f" {unit}" if unit else ""
        sizes = ", ".join(f"{format_fraction(v, 30)}{tail}" for v in vials)  # a tiny size shown, not as 0
        raise RegimenError(
            f"whole vials of {sizes} for {format_fraction(dose)}{tail} would take {steps:,} combinations to search "
            f"(at most {MAX_STEPS:,}): {fix}"
        )


@dataclass(frozen=True, slots=True)
class Rounder:
    """One way of rounding a drug's dose: to multiples of an increment, or to sums of whole vials."""

    label: str  # "0.5 mg increments (--round)", "whole vials of 5 mg, 20 mg (formulary example)"
    increment: Fraction | None = None
    vials: tuple[Fraction, ...] = ()

    def candidates(self, x: Fraction) -> tuple[Fraction | None, Fraction | None]:
        """The nearest preparable amounts at or below ``x`` and at or above it (None if none, never 0)."""
        if self.increment is not None:
            lower = floor(x / self.increment) * self.increment
            upper = ceil(x / self.increment) * self.increment
            return (Fraction(lower) if lower > 0 else None), Fraction(upper)
        return _vial_candidates(x, self.vials)


def _vial_candidates(x: Fraction, vials: tuple[Fraction, ...]) -> tuple[Fraction | None, Fraction | None]:
    """Nearest sums of whole vials (any number of each size) at or below and at or above ``x``."""
    scale = lcm(*(v.denominator for v in vials))
    sizes = [int(v * scale) for v in vials]
    step = gcd(*sizes)
    units = [s // step for s in sizes]
    target = x * scale / step
    top = ceil(target) + max(units)
    check_vial_steps(top, x, "", vials, f"use an increment ({option('round_to')} DRUG=AMOUNT) for this drug instead")
    reachable = [False] * (top + 1)
    reachable[0] = True
    for n in range(1, top + 1):
        reachable[n] = any(n >= u and reachable[n - u] for u in units)
    below = [n for n in range(1, min(floor(target), top) + 1) if reachable[n]]
    above = [n for n in range(ceil(target), top + 1) if reachable[n] and n > 0]
    unit = Fraction(step, scale)
    return (below[-1] * unit if below else None), (above[0] * unit if above else None)


@dataclass(frozen=True, slots=True)
class Rounded:
    amount: Fraction  # what is given: the rounded amount, or the calculated one when rounding was refused
    rounded: bool
    text: str  # the working, e.g. "rounded to whole vials ...: 460 mg → 500 mg (+8.7 %, within ±10 % HOPA)"
    warning: str | None = None


def deviation_percent(calculated: Fraction, rounded: Fraction) -> Fraction:
    return (rounded - calculated) / calculated * 100


def signed_percent(p: Fraction) -> str:
    shown = format_fraction(Fraction(to_decimal(abs(p), 2)))
    sign = "+" if p > 0 else ("−" if p < 0 else "±")
    return f"{sign}{shown} %"


def round_dose(
    calculated: Fraction,
    unit: str,
    rounder: Rounder,
    threshold: Fraction,
    threshold_label: str,
    ceiling: Fraction | None = None,
) -> Rounded:
    """Round ``calculated`` (in ``unit``) with ``rounder`` within ±``threshold`` % and never above ``ceiling``."""
    lower, upper = rounder.candidates(calculated)
    options = [c for c in (lower, upper) if c is not None and (ceiling is None or c <= ceiling)]
    limit = f"±{format_fraction(threshold)} %"
    shown = f"{format_fraction(calculated)} {unit}"
    if not options:
        warning = f"not rounded: no amount by {rounder.label} is at or below the regimen maximum"
        return Rounded(calculated, False, f"{warning}; {shown} kept", warning)
    best = min(options, key=lambda c: (abs(c - calculated), c))
    dev = deviation_percent(calculated, best)
    move = f"{shown} → {format_fraction(best)} {unit} ({signed_percent(dev)}"
    if abs(dev) > threshold:
        warning = (
            f"not rounded: the nearest amount by {rounder.label} is {format_fraction(best)} {unit}, "
            f"{signed_percent(dev)} from the calculated {shown}, beyond the {limit} threshold "
            f"({threshold_label})"
        )
        return Rounded(calculated, False, warning + f"; {shown} kept", warning)
    if best == calculated:
        return Rounded(calculated, False, f"{rounder.label}: {shown} needs no rounding")
    return Rounded(best, True, f"rounded to {rounder.label}: {move}; threshold {limit}, {threshold_label})")


__all__ = ["MAX_STEPS", "Rounded", "Rounder", "check_vial_steps", "deviation_percent", "round_dose", "signed_percent"]
