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


def below(x: Fraction, y: Fraction) -> bool:
    """``x < y``, compared in integers (denominators are positive): a Fraction's own comparison checks the other
    number's type through the numbers ABCs, and a patient's values are held to their bounds in every plan
    (issue 29)."""
    xn, xd = x.as_integer_ratio()  # each pair in one call, not a property call for each number
    yn, yd = y.as_integer_ratio()
    return xn * yd < yn * xd


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
    if d == 1 and 0 < n < _FAST_LIMIT:  # a whole number (most doses, factors and limits): its digits, grouped
        return f"{n:,}" if grouping and n >= 1000 else str(n)
    if 0 < n < _FAST_LIMIT and d < _FAST_LIMIT and max_places >= 0:  # in integers: the same text (see _scaled_text)
        # rounded half up, as _half_up rounds; the usual power of ten read from the table, without a call
        whole, rest = divmod(n * (_TENS[max_places] if max_places < 64 else _power(max_places)), d)
        return _scaled_text(whole + 1 if 2 * rest >= d else whole, max_places, grouping)
    return format_decimal(exact_decimal(x, max_places), grouping=grouping)


def ratio_text(n: int, d: int, max_places: int = 8) -> str:
    """:func:`format_fraction` of ``n / d`` (``d`` > 0), the same text, from the two integers (in lowest terms or
    not: the text depends on the number alone), without a Fraction made for it: a number worked out in integers
    (a rate escalation's rest and minutes) is written as it is."""
    if 0 < n < _FAST_LIMIT and d < _FAST_LIMIT and max_places >= 0:
        whole, rest = divmod(n * (_TENS[max_places] if max_places < 64 else _power(max_places)), d)  # as above
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
    # q's digits written once and cut at the point (every printed number comes through here: string steps, no
    # division): the last ``places`` are the fraction's, with their leading zeros, shown without their trailing
    # zeros (a whole number printed to 8 places had 8)
    digits = str(q)
    if len(digits) > places:
        head, tail = digits[:-places], digits[-places:].rstrip("0")
        if grouping and len(head) > 3:  # a whole part under 1,000 has no group to separate
            head = f"{int(head):,}"
    else:
        head, tail = "0", digits.rjust(places, "0").rstrip("0")
    return f"{head}.{tail}" if tail else head


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
    # (the usual powers of ten read from the table, without a call)
    if exponent >= 0:
        if n < d * (_TENS[exponent] if exponent < 64 else _power(exponent)):
            exponent -= 1
    elif n * (_TENS[-exponent] if exponent > -64 else _power(-exponent)) < d:
        exponent -= 1
    places = digits - 1 - exponent
    if places >= 0:
        scaled = n * (_TENS[places] if places < 64 else _power(places))
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
    if places > 3:
        return [_scaled_text(int(x), places, grouping) for x in q]
    # up to 3 places: the fraction's digits looked up, not written (a cohort's GFRs and Calvert doses, issue 29)
    tails, power = _tails(places), _TENS[places]
    out: list[str] = []
    for x in q:
        whole, frac = divmod(int(x), power)
        out.append((f"{whole:,}" if grouping and whole >= 1000 else str(whole)) + tails[frac])
    return out


@lru_cache(maxsize=4)
def _tails(places: int) -> tuple[str, ...]:
    """The text after the whole part of each fraction f / 10^places (f from 0 to 10^places - 1), as
    :func:`_scaled_text` writes it: "" for none, ".05" for 5 hundredths, ".1" for 10. Made on first use (not at
    import: a thousand texts would cost every command's start-up)."""
    return tuple(f".{str(f + 10**places)[1:].rstrip('0')}" if f else "" for f in range(10**places))


@dataclass(frozen=True)
class DecimalAmounts:
    """Amounts that are exact decimals, as a plan shows each: its :func:`amount_text` and its number rounded for
    display (``decimal_to_json(rounding(x))``, as a float)."""

    texts: list[str]
    rounded: Any  # np.ndarray of float64


def decimal_amounts(q: Any, places: int, unit: str, rounding: Rounding = DEFAULT_ROUNDING) -> DecimalAmounts:
    """:func:`amount_text` and the rounded number of each amount ``q × 10^-places`` (``q``: an int64 array), as the
    scalar functions give them: :func:`fraction_amounts` of ``q / 10^places``."""
    import numpy as np

    if places < 0:
        raise ValueError(f"decimal_amounts: {places} places")
    q = np.asarray(q, dtype=np.int64)
    if places >= len(_POWERS):  # a denominator beyond int64: every amount by the scalar functions
        return _scalar_amounts([Fraction(int(x), 10**places) for x in q.tolist()], unit, rounding)
    return fraction_amounts(q, np.full(len(q), _POWERS[places], dtype=np.int64), unit, rounding)


def _scalar_amounts(values: Sequence[Fraction], unit: str, rounding: Rounding) -> DecimalAmounts:
    import numpy as np

    texts = [amount_text(x, unit, rounding) for x in values]
    return DecimalAmounts(texts, np.asarray([float(decimal_to_json(rounding(x))) for x in values], dtype=np.float64))


#: The largest integer an int64 column holds whole: a product is worked in the arrays only below it.
_INT64_SAFE = 2**62


def _digits(v: Any) -> Any:
    """The number of decimal digits of each positive int64 of ``v``."""
    import numpy as np

    return np.searchsorted(np.asarray(_POWERS, dtype=np.int64), v, side="right")


def _half_up_array(n: Any, d: Any) -> Any:
    """``n / d`` (int64 arrays, ``n`` >= 0, ``d`` > 0) rounded half up to whole numbers, as :func:`_half_up`."""
    whole, rest = n // d, n % d
    return whole + (2 * rest >= d)


#: The mark of a 'from' value that is not exact at ten places, by whether it is not.
_MARKS = ("", "…")


def fraction_amounts(n: Any, d: Any, unit: str, rounding: Rounding = DEFAULT_ROUNDING) -> DecimalAmounts:
    """:func:`amount_text` and the rounded number (``decimal_to_json(rounding(x))``, as a float) of each amount
    ``n / d`` (int64 arrays): the same texts and numbers as the scalar functions, the rounding worked for all at once
    in integer arrays as :func:`_amount_in_integers` works it for one (the significant figures rounded half up, then
    the 'from' value to 10 places, marked '…' where that is not exact). An amount the arrays do not cover (zero or
    negative, a milligram amount under 1 mg, a product beyond int64, a rounding of another kind) is given by the
    scalar functions themselves."""
    import numpy as np

    n = np.asarray(n, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    powers = np.asarray(_POWERS, dtype=np.int64)
    texts: list[str] = [""] * len(n)
    rounded = np.empty(len(n), dtype=np.float64)
    digits = rounding.significant
    fast = (n > 0) & (d > 0) & (n < _POWERS[18]) & (d < _POWERS[18])
    if type(rounding) is not Rounding or digits > 15:  # the digits kept: exact in a float
        fast[:] = False
    if unit == "mg":  # under 1 mg: shown in micrograms
        fast &= n >= d
    nn, dd = np.where(fast, n, 1), np.where(fast, d, 1)
    exponent = _digits(nn) - _digits(dd)  # floor(log10(n / d)) is this or one less
    e = np.abs(exponent).clip(0, 18)
    big = dd.astype(np.float64) * powers[e].astype(np.float64)  # the products below, in floats: within int64?
    small = nn.astype(np.float64) * powers[e].astype(np.float64)
    fast &= np.where(exponent >= 0, big, small) < _INT64_SAFE
    nn, dd, e = np.where(fast, nn, 1), np.where(fast, dd, 1), np.where(fast, e, 0)
    below = np.where(exponent >= 0, nn < dd * powers[e], nn * powers[e] < dd)
    exponent = exponent - below
    places = digits - 1 - exponent
    shift = np.abs(places).clip(0, 18)
    # n × 10^places (places >= 0), d × 10^-places (places < 0), n × 10^10 (the 'from' value): within int64?
    scaled_f = nn.astype(np.float64) * powers[np.where(places >= 0, shift, 0)].astype(np.float64)
    unit_f = dd.astype(np.float64) * powers[np.where(places < 0, shift, 0)].astype(np.float64)
    fast &= (scaled_f < _INT64_SAFE) & (unit_f < _INT64_SAFE) & (nn.astype(np.float64) * 1e10 < _INT64_SAFE)
    fast &= np.abs(places) < len(_POWERS)
    for i in np.flatnonzero(~fast).tolist():
        x = Fraction(int(n[i]), int(d[i]))
        texts[i] = amount_text(x, unit, rounding)
        rounded[i] = float(decimal_to_json(rounding(x)))
    at = np.flatnonzero(fast)
    if not len(at):
        return DecimalAmounts(texts, rounded)
    nn, dd, places, shift = nn[at], dd[at], places[at], shift[at]
    up = places >= 0
    step = powers[np.where(up, 0, shift)]  # 10^-places when places < 0: whole tens dropped
    scaled = nn * powers[np.where(up, shift, 0)]
    kept = _half_up_array(scaled, dd * step)
    exact = kept * dd * step == scaled
    scale = powers[shift].astype(np.float64)  # exact in a float up to 10^22
    # one IEEE division or product of two exact floats: the float nearest the decimal, as float(Decimal) gives
    rounded[at] = np.where(up, kept / scale, kept * scale)
    tens = nn * _TEN_BILLION
    whole = _half_up_array(tens, dd)
    marked = whole * dd != tens
    columns = (at.tolist(), kept.tolist(), places.tolist(), exact.tolist(), whole.tolist(), marked.tolist())
    for i, k, kp, same, w, mark in zip(*columns, strict=True):
        shown = _scaled_text(k, kp)
        texts[i] = f"{shown} {unit}" if same else f"{shown} {unit} (from {_scaled_text(w, 10)}{_MARKS[mark]})"
    return DecimalAmounts(texts, rounded)


def fraction_texts(n: Any, d: Any, max_places: int = 8) -> list[str]:
    """:func:`format_fraction` of each ``n / d`` (int64 arrays, ``max_places`` from 0 to 8): the same text, rounded
    half up in the arrays; a value they do not cover (zero or negative, a product beyond int64) by the function."""
    import numpy as np

    if not 0 <= max_places <= 8:
        raise ValueError(f"fraction_texts: {max_places} places (0 to 8)")
    n = np.asarray(n, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    fast = (n > 0) & (d > 0) & (n < _INT64_SAFE // _POWERS[max_places])
    q = _half_up_array(np.where(fast, n, 0) * _POWERS[max_places], np.where(fast, d, 1))
    return [
        _scaled_text(x, max_places) if ok else format_fraction(Fraction(int(a), int(b)), max_places)
        for x, ok, a, b in zip(q.tolist(), fast.tolist(), n.tolist(), d.tolist(), strict=True)
    ]


def exact_texts(n: Any, d: Any) -> list[str]:
    """:func:`exact_text` of each ``n / d`` (int64 arrays, in lowest terms, ``d`` > 0): a terminating decimal written
    from the integers (its places: the larger power of 2 or 5 in ``d``), else 'n/d'; a value the arrays do not
    cover (zero or negative, beyond int64) by the function."""
    import numpy as np

    n = np.asarray(n, dtype=np.int64)
    d = np.asarray(d, dtype=np.int64)
    rest = d.copy()
    twos = np.zeros(len(d), dtype=np.int64)
    fives = np.zeros(len(d), dtype=np.int64)
    for p, count in ((2, twos), (5, fives)):
        while True:
            divides = (rest % p == 0) & (rest > 1)
            if not divides.any():
                break
            rest[divides] //= p
            count[divides] += 1
    places = np.maximum(twos, fives)
    terminating = rest == 1
    places_ok = places < len(_POWERS)
    powers = np.asarray(_POWERS, dtype=np.int64)
    multiplier = np.where(terminating & places_ok, powers[np.where(places_ok, places, 0)] // d, 1)
    fast = (n > 0) & ~(terminating & ~places_ok)
    fast &= ~terminating | (n.astype(np.float64) * multiplier.astype(np.float64) < _INT64_SAFE)
    q = np.where(fast, n, 0) * multiplier
    out: list[str] = []
    for x, places_k, term, ok, a, b in zip(
        q.tolist(), places.tolist(), terminating.tolist(), fast.tolist(), n.tolist(), d.tolist(), strict=True
    ):
        if not ok:
            out.append(exact_text(Fraction(a, b)))
        elif term:
            out.append(_scaled_text(x, places_k, grouping=False))
        else:
            out.append(f"{a}/{b}")
    return out


def decimal_to_json(d: Decimal) -> int | float:
    """A rounded decimal as a JSON number without artefacts (float repr is shortest round-trip)."""
    if d == d.to_integral_value():
        return int(d)
    return float(d)


def exact_text(x: Fraction, *, grouping: bool = False) -> str:
    """Exact value as text: '21.817428', or '490/24'-style fraction when it does not terminate; ``grouping``: the
    thousands separated, as a dose is printed for a reader ('4,428'), not stored ('4428')."""
    if is_terminating(x):
        return format_decimal(exact_decimal(x, 30), grouping=grouping)
    return f"{x.numerator}/{x.denominator}"


__all__ = [
    "DEFAULT_ROUNDING",
    "DecimalAmounts",
    "Rounding",
    "amount_ratio_text",
    "amount_text",
    "below",
    "decimal_amounts",
    "decimal_texts",
    "decimal_to_json",
    "exact_decimal",
    "exact_sum",
    "exact_text",
    "exact_texts",
    "format_decimal",
    "format_fraction",
    "fraction_amounts",
    "fraction_texts",
    "is_terminating",
    "ratio_text",
    "round_significant",
    "significant_text",
    "to_decimal",
]
