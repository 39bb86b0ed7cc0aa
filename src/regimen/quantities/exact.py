"""Exact numbers and how they are shown to people.

All dose arithmetic is done on :class:`~fractions.Fraction`. A number is rounded once, when it is
shown, by :class:`Rounding`, whose ``rule`` sentence is printed with every plan. Printed numbers
follow ISMP safe notation: a leading zero (0.5), no trailing zero (5, never 5.0), and thousands
separated for reading (1,800).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Context, Decimal
from fractions import Fraction
from functools import lru_cache
from itertools import repeat
from operator import is_
from typing import Any


def exact_sum(values: Sequence[Fraction]) -> Fraction:
    """The exact sum, kept as a numerator per denominator while adding: a plan's doses share a few denominators, so
    each addition is one integer addition, not a Fraction built and reduced (the sum is the same number). Doses
    that are one object (a day's dose, worked out once and given on every day) are one multiplication."""
    if len(values) == 1 and type(values[0]) is Fraction:  # the number itself (immutable): a cycle's one dose
        return values[0]
    if values and all(map(is_, values, repeat(values[0]))):  # each compared by identity in C
        first = values[0]
        return Fraction(first.numerator * len(values), first.denominator)  # reduced once, as values[0] * n is
    numerators: dict[int, int] = {}
    for v in values:
        d = v.denominator
        numerators[d] = numerators.get(d, 0) + v.numerator
    if len(numerators) == 1:  # the usual case: one Fraction, reduced once
        ((d, n),) = numerators.items()
        return Fraction(n, d)
    return sum((Fraction(n, d) for d, n in numerators.items()), Fraction(0))


def to_decimal(x: Fraction, places: int) -> Decimal:
    """``x`` rounded half up to ``places`` decimal places, computed exactly."""
    return _rounded(*x.as_integer_ratio(), places)


def _rounded(n: int, d: int, places: int) -> Decimal:
    """``n / d`` (``d`` > 0) rounded half up to ``places`` decimal places. Integer arithmetic only: the same
    exact result as with fractions, without building one per step (every printed number comes through here)."""
    if places >= 0:
        n *= 10**places
    else:
        d *= 10**-places
    whole, rest = divmod(n, d)  # floor, and 0 <= rest < d
    if 2 * rest >= d:  # the part dropped is at least one half: up (towards +infinity, as half up is defined here)
        whole += 1
    return Decimal(whole).scaleb(-places)


def round_significant(x: Fraction, digits: int) -> Decimal:
    """``x`` rounded half up to ``digits`` significant figures, computed exactly."""
    # the integers once, compared as integers: Fraction's properties and comparisons are Python code, and every
    # printed amount comes through here (issue 15)
    n, d = x.as_integer_ratio()
    if n == 0:
        return Decimal(0)
    negative = n < 0
    if negative:
        n = -n
    exponent = len(str(n)) - len(str(d))  # floor(log10(n / d)) is this or one less
    if _below_power(n, d, exponent):
        exponent -= 1
    places = digits - 1 - exponent
    if places >= 0:
        out = _rounded(n, d, places)
    else:
        unit: int = 10**-places
        out = _rounded(n, d * unit, 0) * Decimal(unit)
    return out.copy_negate() if negative else out


def _below_power(n: int, d: int, exponent: int) -> bool:
    """``n / d < 10 ** exponent``, exactly."""
    power: int = 10 ** abs(exponent)
    return n < d * power if exponent >= 0 else n * power < d


def _equal(d: Decimal, x: Fraction) -> bool:
    """A (finite) decimal equals a fraction, exactly."""
    p, q = d.as_integer_ratio()
    n, m = x.as_integer_ratio()
    return p * m == q * n


def is_terminating(x: Fraction) -> bool:
    """True when ``x`` has a finite decimal expansion (denominator of the form 2^a·5^b)."""
    d = x.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    return d == 1


def exact_decimal(x: Fraction, max_places: int = 8) -> Decimal:
    """``x`` as a decimal: exact when it terminates within ``max_places``, else rounded to that."""
    n, d = x.as_integer_ratio()
    return _rounded(n, d, max_places).normalize() if n != 0 else Decimal(0)


#: Wide enough that normalising a printed number never rounds it (the default context keeps 28 digits).
_WIDE = Context(prec=50)


def format_decimal(d: Decimal, *, grouping: bool = True) -> str:
    """ISMP-safe text: '0.5', '5', '21.6', '1,800' (no exponent, no trailing zero)."""
    d = d.normalize(_WIDE) if d != 0 else Decimal(0)
    return f"{d:,f}" if grouping else f"{d:f}"


def format_fraction(x: Fraction, max_places: int = 8, *, grouping: bool = True) -> str:
    """An exact value as text: exact if it terminates within ``max_places`` places, else rounded."""
    n, d = x.as_integer_ratio()
    if 0 < n < _FAST_LIMIT and d < _FAST_LIMIT and max_places >= 0:  # in integers: the same text (see _scaled_text)
        whole, rest = divmod(n * _power(max_places), d)  # rounded half up, as _half_up rounds
        return _scaled_text(whole + 1 if 2 * rest >= d else whole, max_places, grouping)
    return format_decimal(exact_decimal(x, max_places), grouping=grouping)


def ratio_text(n: int, d: int, max_places: int = 8) -> str:
    """:func:`format_fraction` of ``n / d`` (``d`` > 0), the same text, from the two integers (in lowest terms or
    not: the text depends on the number alone), without a Fraction made for it: a number worked out in integers
    (a rate escalation's rest and minutes) is written as it is."""
    if 0 < n < _FAST_LIMIT and d < _FAST_LIMIT and max_places >= 0:
        whole, rest = divmod(n * _power(max_places), d)  # as format_fraction
        return _scaled_text(whole + 1 if 2 * rest >= d else whole, max_places, True)
    return format_fraction(Fraction(n, d), max_places)


#: Numerators and denominators below this are shown by the integer path of :func:`format_fraction` and
#: :func:`amount_text` (a dose's are far smaller); others, and zero and negative numbers, by the decimal path. The
#: integer path gives the same text as the decimal one (a test compares them on many numbers), without building a
#: Decimal and normalising it for every number a plan prints (issue 29).
_FAST_LIMIT = 10**18


def _half_up(n: int, d: int) -> int:
    """``n / d`` (both > 0) rounded half up to a whole number."""
    whole, rest = divmod(n, d)
    return whole + 1 if 2 * rest >= d else whole


def _scaled_text(q: int, places: int, grouping: bool = True) -> str:
    """``q × 10^-places`` (``q`` >= 0) as :func:`format_decimal` writes it: no trailing zero, no exponent, the whole
    part in groups of three when ``grouping``."""
    if q == 0:
        return "0"
    if places <= 0:
        whole = q * _power(-places)
        return f"{whole:,}" if grouping and whole >= 1000 else str(whole)
    power = _TENS[places] if places < 64 else _power(places)  # every printed number: no call for the usual power
    whole, frac = divmod(q, power)
    # a whole part under 1,000 has no group to separate: str() writes it, without a format specification to read
    head = f"{whole:,}" if grouping and whole >= 1000 else str(whole)
    if not frac:
        return head
    # the fraction's digits with their leading zeros (frac + 10^places written without its leading 1) and without
    # their trailing zeros: string steps, not a division per zero (a whole number printed to 8 places had 8)
    return f"{head}.{str(frac + power)[1:].rstrip('0')}"


#: 10^0 .. 10^63: the powers of ten a printed number is scaled by, each made once (issue 29: every number a plan
#: prints is scaled so); a larger one is computed.
_TENS: tuple[int, ...] = tuple(10**k for k in range(64))


_TEN_BILLION = 10**10  # the places an amount rounded for display is shown 'from'


def _power(places: int) -> int:
    """10 ** ``places`` (``places`` >= 0)."""
    if places < 64:
        return _TENS[places]
    power: int = 10**places
    return power


@dataclass(frozen=True, slots=True)
class Rounding:
    """How computed amounts are rounded for display. Applied once, at the edge."""

    significant: int = 4

    def __call__(self, x: Fraction) -> Decimal:
        return round_significant(x, self.significant)

    @property
    def rule(self) -> str:
        return _rule(self.significant)


@lru_cache(maxsize=64)
def _rule(significant: int) -> str:
    """:attr:`Rounding.rule`, made once per number of figures: every plan prints it."""
    return (
        f"Amounts are computed exactly and rounded once, for display, to {significant} significant figures (half up)."
    )


DEFAULT_ROUNDING = Rounding()


def amount_text(x: Fraction, unit: str, rounding: Rounding = DEFAULT_ROUNDING) -> str:
    """An amount as a person reads it: '21.6 mg' when exact, '12,350 mg (from 12,345)' when the display rounds,
    and a milligram amount under 1 mg in micrograms ('400 mcg', ISMP), converted exactly before rounding.

    Every printed dose, total and step of the working goes through here, so a rounded number always shows what it
    was rounded from."""
    n, d = x.as_integer_ratio()
    if unit == "mg" and 0 < abs(n) < d:  # 0 < |x| < 1, in integers
        x, unit = x * 1000, "mcg"
        n, d = x.as_integer_ratio()
    if 0 < n < _FAST_LIMIT and d < _FAST_LIMIT and type(rounding) is Rounding:
        return _amount_in_integers(n, d, unit, rounding.significant)
    return _amount_in_decimals(x, unit, rounding)


def amount_ratio_text(n: int, d: int, unit: str, rounding: Rounding = DEFAULT_ROUNDING) -> str:
    """:func:`amount_text` of ``n / d`` (``d`` > 0), the same text, from the two integers (in lowest terms or not, as
    :func:`ratio_text`)."""
    if unit == "mg" and 0 < abs(n) < d:  # 0 < |x| < 1: in micrograms, as amount_text
        n, unit = n * 1000, "mcg"
    if 0 < n < _FAST_LIMIT and d < _FAST_LIMIT and type(rounding) is Rounding:
        return _amount_in_integers(n, d, unit, rounding.significant)
    return amount_text(Fraction(n, d), unit, rounding)


def _significant(n: int, d: int, digits: int) -> tuple[int, int, bool]:
    """``n / d`` (> 0) rounded half up to ``digits`` significant figures, in integers as :func:`round_significant`
    rounds: ``q × 10^-places``, and whether that is ``n / d`` exactly."""
    exponent = len(str(n)) - len(str(d))  # floor(log10(n / d)) is this or one less
    # n / d < 10 ** exponent (_below_power), and each rounding half up (_half_up), written out: every printed amount
    if (n < d * _power(exponent)) if exponent >= 0 else (n * _power(-exponent) < d):
        exponent -= 1
    places = digits - 1 - exponent
    if places >= 0:
        scaled = n * _power(places)
        q, rest = divmod(scaled, d)
        if 2 * rest >= d:
            q += 1
        return q, places, q * d == scaled
    unit_size = _power(-places)
    q, rest = divmod(n, d * unit_size)
    if 2 * rest >= d * unit_size:
        q += 1
    return q, places, q * unit_size * d == n


def significant_text(x: Fraction, digits: int) -> str:
    """``format_decimal(round_significant(x, digits))``, the same text, worked in integers for a positive ``x``
    whose numerator and denominator are not huge (every printed cumulative dose, say)."""
    n, d = x.as_integer_ratio()
    if 0 < n < _FAST_LIMIT and d < _FAST_LIMIT and digits > 0:
        q, places, _ = _significant(n, d, digits)
        return _scaled_text(q, places)
    return format_decimal(round_significant(x, digits))


def _amount_in_integers(n: int, d: int, unit: str, digits: int) -> str:
    """:func:`amount_text` of ``n / d`` (> 0) rounded to ``digits`` significant figures, worked in integers as
    :func:`round_significant` and :func:`exact_decimal` work (the same text as :func:`_amount_in_decimals`)."""
    q, places, exact = _significant(n, d, digits)
    rounded = _scaled_text(q, places)
    if exact:
        return f"{rounded} {unit}"
    scaled = n * _TEN_BILLION
    q = _half_up(scaled, d)
    mark = "" if q * d == scaled else "…"
    return f"{rounded} {unit} (from {_scaled_text(q, 10)}{mark})"


def _amount_in_decimals(x: Fraction, unit: str, rounding: Rounding) -> str:
    """:func:`amount_text` by way of Decimal: for zero, negative and very large numbers, and a rounding of another
    kind."""
    rounded = rounding(x)
    if _equal(rounded, x):
        return f"{format_decimal(rounded)} {unit}"
    exact = exact_decimal(x, 10)
    mark = "" if _equal(exact, x) else "…"
    return f"{format_decimal(rounded)} {unit} (from {format_decimal(exact)}{mark})"


# ---- the same texts and numbers for many exact decimals at once (a cohort's distinct doses) --------------------

#: 10^0 .. 10^18: every power of ten an int64 holds.
_POWERS = tuple(10**k for k in range(19))


def decimal_texts(q: Sequence[int], places: int, *, grouping: bool = True) -> list[str]:
    """:func:`format_fraction` of each ``q × 10^-places`` (``q`` >= 0, ``places`` from 0 to 8): the same text, written
    from the integers (:func:`_scaled_text`) rather than from a Fraction each."""
    if not 0 <= places <= 8:
        raise ValueError(f"decimal_texts: {places} places (0 to 8)")
    return [_scaled_text(int(x), places, grouping) for x in q]


@dataclass(frozen=True)
class DecimalAmounts:
    """Amounts that are exact decimals, as a plan shows each: its :func:`amount_text` and its number rounded for
    display (``decimal_to_json(rounding(x))``, as a float)."""

    texts: list[str]
    rounded: Any  # np.ndarray of float64


def decimal_amounts(q: Any, places: int, unit: str, rounding: Rounding = DEFAULT_ROUNDING) -> DecimalAmounts:
    """:func:`amount_text` and the rounded number of each amount ``q × 10^-places`` (``q``: an int64 array), as the
    scalar functions give them, the rounding worked for all at once in integer arrays: the digits of ``q`` beyond
    the significant ones dropped half up, as :func:`round_significant` drops them. An amount outside what that
    covers (zero or negative, a milligram amount under 1 mg, more than 10 places or 18 digits, a rounding of
    another kind) is given by the scalar functions themselves."""
    import numpy as np

    if places < 0:
        raise ValueError(f"decimal_amounts: {places} places")
    q = np.asarray(q, dtype=np.int64)
    powers = np.asarray(_POWERS, dtype=np.int64)
    texts: list[str] = [""] * len(q)
    rounded = np.empty(len(q), dtype=np.float64)
    fast = (q > 0) & (q < _POWERS[18]) & (places <= 10) & (type(rounding) is Rounding)
    fast &= rounding.significant <= 15  # the digits kept: exact in a float
    if unit == "mg" and places < len(_POWERS):  # under 1 mg: shown in micrograms
        fast &= q >= _POWERS[places]
    for i in np.flatnonzero(~fast).tolist():
        x = Fraction(int(q[i]), 10**places)
        texts[i] = amount_text(x, unit, rounding)
        rounded[i] = float(decimal_to_json(rounding(x)))
    at = np.flatnonzero(fast)
    if len(at):
        v = q[at]
        digits = np.searchsorted(powers, v, side="right")  # powers of ten <= v: its number of digits
        drop = np.maximum(digits - rounding.significant, 0)
        step = powers[drop]
        kept = (v + step // 2) // step  # half up
        exact = kept * step == v
        kept_places = places - drop  # kept × 10^-kept_places; negative: a whole number of tens
        scale = powers[np.abs(kept_places)].astype(np.float64)  # exact in a float up to 10^22
        # one IEEE division or product of two exact floats: the float nearest the decimal, as float(Decimal) gives
        rounded[at] = np.where(kept_places >= 0, kept / scale, kept * scale)
        columns = (at.tolist(), kept.tolist(), kept_places.tolist(), v.tolist(), exact.tolist())
        for i, k, kp, x, same in zip(*columns, strict=True):
            shown = _scaled_text(k, kp)
            texts[i] = f"{shown} {unit}" if same else f"{shown} {unit} (from {_scaled_text(x, places)})"
    return DecimalAmounts(texts, rounded)


def decimal_to_json(d: Decimal) -> int | float:
    """A rounded decimal as a JSON number without artefacts (float repr is shortest round-trip)."""
    if d == d.to_integral_value():
        return int(d)
    return float(d)


def exact_text(x: Fraction) -> str:
    """Exact value as text: '21.817428', or '490/24'-style fraction when it does not terminate."""
    if is_terminating(x):
        return format_decimal(exact_decimal(x, 30), grouping=False)
    return f"{x.numerator}/{x.denominator}"


__all__ = [
    "DEFAULT_ROUNDING",
    "DecimalAmounts",
    "Rounding",
    "amount_ratio_text",
    "amount_text",
    "decimal_amounts",
    "decimal_texts",
    "decimal_to_json",
    "exact_decimal",
    "exact_sum",
    "exact_text",
    "format_decimal",
    "format_fraction",
    "is_terminating",
    "ratio_text",
    "round_significant",
    "significant_text",
    "to_decimal",
]
