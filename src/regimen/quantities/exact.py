"""Exact numbers and how they are shown to people.

All dose arithmetic is done on :class:`~fractions.Fraction`. A number is rounded once, when it is
shown, by :class:`Rounding`, whose ``rule`` sentence is printed with every plan. Printed numbers
follow ISMP safe notation: a leading zero (0.5), no trailing zero (5, never 5.0), and thousands
separated for reading (1,800).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction


def to_decimal(x: Fraction, places: int) -> Decimal:
    """``x`` rounded half up to ``places`` decimal places, computed exactly."""
    scale = Fraction(10) ** places
    scaled = x * scale
    whole = scaled.numerator // scaled.denominator
    remainder = scaled - whole
    if remainder >= Fraction(1, 2):
        whole += 1
    return Decimal(whole).scaleb(-places)


def round_significant(x: Fraction, digits: int) -> Decimal:
    """``x`` rounded half up to ``digits`` significant figures, computed exactly."""
    if x == 0:
        return Decimal(0)
    sign = -1 if x < 0 else 1
    mag = abs(x)
    exponent = 0  # number of digits before the point, minus one
    while mag >= Fraction(10) ** (exponent + 1):
        exponent += 1
    while mag < Fraction(10) ** exponent:
        exponent -= 1
    places = digits - 1 - exponent
    out = to_decimal(mag, places) if places >= 0 else _round_to_tens(mag, -places)
    return out.copy_negate() if sign < 0 else out


def _round_to_tens(x: Fraction, zeros: int) -> Decimal:
    unit: int = 10**zeros
    return to_decimal(x / unit, 0) * Decimal(unit)


def is_terminating(x: Fraction) -> bool:
    """True when ``x`` has a finite decimal expansion (denominator of the form 2^a·5^b)."""
    d = x.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def exact_decimal(x: Fraction, max_places: int = 8) -> Decimal:
    """``x`` as a decimal: exact when it terminates within ``max_places``, else rounded to that."""
    return to_decimal(x, max_places).normalize() if x != 0 else Decimal(0)


def format_decimal(d: Decimal, *, grouping: bool = True) -> str:
    """ISMP-safe text: '0.5', '5', '21.6', '1,800' (no exponent, no trailing zero)."""
    with localcontext() as ctx:
        ctx.prec = 50
        d = d.normalize() if d != 0 else Decimal(0)
        text = f"{d:,f}" if grouping else f"{d:f}"
    return text


def format_fraction(x: Fraction, max_places: int = 8, *, grouping: bool = True) -> str:
    """An exact value as text: exact if it terminates within ``max_places`` places, else rounded."""
    return format_decimal(exact_decimal(x, max_places), grouping=grouping)


@dataclass(frozen=True, slots=True)
class Rounding:
    """How computed amounts are rounded for display. Applied once, at the edge."""

    significant: int = 4

    def __call__(self, x: Fraction) -> Decimal:
        return round_significant(x, self.significant)

    @property
    def rule(self) -> str:
        return (
            f"Amounts are computed exactly and rounded once, for display, to {self.significant} significant "
            "figures (half up)."
        )


DEFAULT_ROUNDING = Rounding()


def amount_text(x: Fraction, unit: str, rounding: Rounding = DEFAULT_ROUNDING) -> str:
    """An amount as a person reads it: '21.6 mg' when exact, '12,350 mg (from 12,345)' when the display rounds,
    and a milligram amount under 1 mg in micrograms ('400 mcg', ISMP), converted exactly before rounding.

    Every printed dose, total and step of the working goes through here, so a rounded number always shows what it
    was rounded from."""
    if unit == "mg" and 0 < abs(x) < 1:
        x, unit = x * 1000, "mcg"
    rounded = rounding(x)
    if Fraction(rounded) == x:
        return f"{format_decimal(rounded)} {unit}"
    exact = exact_decimal(x, 10)
    mark = "" if Fraction(exact) == x else "…"
    return f"{format_decimal(rounded)} {unit} (from {format_decimal(exact)}{mark})"


def decimal_to_json(d: Decimal) -> int | float:
    """A rounded decimal as a JSON number without artefacts (float repr is shortest round-trip)."""
    if d == d.to_integral_value():
        return int(d)
    return float(d)


__all__ = [
    "DEFAULT_ROUNDING",
    "Rounding",
    "amount_text",
    "decimal_to_json",
    "exact_decimal",
    "format_decimal",
    "format_fraction",
    "is_terminating",
    "round_significant",
    "to_decimal",
]
