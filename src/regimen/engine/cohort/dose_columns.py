"""A dose by weight or BSA worked out for many body values at once: the dose fields of a cohort's rows of plain
dosing (:data:`~regimen.engine.rows.DOSE_FIELDS`), in arrays rather than one :func:`~regimen.engine.doses.day_doses`
per distinct value (issue 29: that was a tenth of a 100k-patient run of a regimen with few rows a patient).

Every number of a plain dose's working is a constant times the patient's factor (their weight or BSA): the dose
per kg or m², the whole infusion, its rate, the day's share. :func:`dose_shape` writes the working as
:func:`~regimen.engine.doses.dose_for_day` writes it, as pieces: literal text, the factor's own text, and numbers
``k × factor`` each shown by :func:`~regimen.quantities.exact.amount_text` (or :func:`format_fraction`, a unit
conversion). :func:`dose_columns` then works each number out for every factor at once in exact integer arrays
(:func:`~regimen.quantities.exact.fraction_amounts`: the same texts and rounding as the scalar functions) and joins
the pieces. A dose this does not cover (several doses a day, a target AUC, a pump without a duration) gives None,
and its values are worked out one at a time as before. The property test of every bundled regimen and the run's
sample check hold the rows equal to ``regimen expand``'s; a test holds :func:`dose_shape` to :func:`dose_for_day`.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from itertools import repeat
from typing import TYPE_CHECKING, Any

from regimen.engine.doses import HOURS_PER_DAY, hours_text
from regimen.model import AucDose
from regimen.quantities.exact import (
    Rounding,
    decimal_to_json,
    exact_decimal,
    exact_texts,
    fraction_amounts,
    fraction_texts,
)
from regimen.quantities.units import ParsedDose

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


@dataclass(frozen=True, slots=True)
class Number:
    """A number of the working: ``k × factor``, shown by :func:`amount_text` in ``unit``, or by
    :func:`format_fraction` when ``unit`` is None (a dose converted to the unit it was written in)."""

    k: Fraction
    unit: str | None


#: A piece of the working: literal text, a :class:`Number`, or None: the factor's text (' × 70 kg').
Piece = str | Number | None


@dataclass(frozen=True, slots=True)
class DoseShape:
    """One day's dose of a component for a factor of 1: its working's pieces, the amount and the rate (each a
    constant times the factor) and its unit, and the hours of delivery that day."""

    pieces: tuple[Piece, ...]
    unit: str  # the amount's (the dose's output unit)
    amount: Fraction
    rate: Fraction | None
    hours: Fraction | None


def dose_shape(
    dose: ParsedDose | AucDose,
    continuous: bool,
    duration_hours: Fraction | None,
    hours_today: Fraction,
    infusion_hours: Fraction | None,
    times_per_day: int,
) -> DoseShape | None:
    """The working of :func:`~regimen.engine.doses.dose_for_day` (one dose a day, by weight or BSA) as pieces, step
    by step as it writes it; None for a dose it does not cover."""
    if isinstance(dose, AucDose) or times_per_day != 1 or dose.unit.basis not in ("weight", "bsa"):
        return None
    unit = dose.unit.output_unit
    per = dose.canonical
    head: list[Piece] = [dose.display, None]
    written_mass = dose.unit.symbol.split("/")[0]
    if written_mass != unit:  # e.g. 1 g/m²/day × 1.8 m² = 1.8 g = 1,800 mg
        time = {"day": "/day", "hour": "/h", "none": ""}[dose.unit.time]
        head += [" = ", Number(Fraction(dose.value), None), f" {written_mass}{time}"]
    if continuous:  # infusion_dose(), then share_text()
        whole = infusion_hours if infusion_hours is not None else duration_hours or hours_today
        if dose.unit.time == "none":
            if duration_hours is None:
                return None
            rate = per / duration_hours
            pieces = [
                *head,
                " = ",
                Number(per, unit),
                f" over {hours_text(duration_hours)} = ",
                Number(rate, unit + "/h"),
            ]
        else:
            if dose.unit.time == "hour":
                rate = per
                pieces = [*head, " = ", Number(rate, unit + "/h")]
            else:
                rate = per / HOURS_PER_DAY
                pieces = [*head, " = ", Number(per, unit + "/day"), ", given as ", Number(rate, unit + "/h")]
            pieces += [f" continuously over {hours_text(whole)} = ", Number(rate * whole, unit)]
        share = rate * hours_today
        pieces += [
            "; this day's share: ",
            Number(rate, unit + "/h"),
            f" × {hours_text(hours_today)} = ",
            Number(share, unit),
        ]
        return DoseShape(tuple(pieces), unit, share, rate, hours_today)
    if dose.unit.time == "hour":
        if duration_hours is None:
            return None
        amount = per * duration_hours
        pieces = [*head, " = ", Number(per, unit + "/h"), f"; × {hours_text(duration_hours)} = ", Number(amount, unit)]
        return DoseShape(tuple(pieces), unit, amount, per, duration_hours)
    pieces = [*head, " = ", Number(per, unit)]
    if duration_hours is None:  # _timed(): a rate only over a stated duration
        return DoseShape(tuple(pieces), unit, per, None, None)
    rate = per / duration_hours
    pieces += [f" over {hours_text(duration_hours)} (", Number(rate, unit + "/h"), ")"]
    return DoseShape(tuple(pieces), unit, per, rate, duration_hours)


#: The factor's unit in the working, by the dose's basis (:func:`~regimen.engine.doses.basis_of`).
FACTOR_UNITS = {"weight": "kg", "bsa": "m²"}


def dose_columns(
    shape: DoseShape, basis: str, factors: list[Fraction], rounding: Rounding, added: str | None
) -> dict[str, Any] | None:
    """The dose fields (:data:`~regimen.engine.rows.DOSE_FIELDS`) of ``shape`` for each factor, as
    :func:`~regimen.engine.rows.dose_fields` gives them for one: the rounded numbers as floats, the exact dose's
    numerator and denominator as int64, and its text and the working as lists of str (``added``: the working's last
    step, what is added to the fluid). None when a factor or a product is beyond int64."""
    import numpy as np

    try:
        fn = np.asarray([f.numerator for f in factors], dtype=np.int64)
        fd = np.asarray([f.denominator for f in factors], dtype=np.int64)
    except OverflowError:
        return None
    if len(factors) and (fn.max() >= 2**31 or fd.max() >= 2**31 or fn.min() <= 0):
        return None  # beyond what the products below hold exactly (a measured value never is)
    shown: dict[tuple[Fraction, str | None], Any] = {}

    def times(k: Fraction) -> tuple[np.ndarray, np.ndarray] | None:
        """``k × factor`` for each factor, in lowest terms; None beyond int64."""
        if k <= 0 or k.numerator >= 2**31 or k.denominator >= 2**31:
            return None
        n, d = fn * k.numerator, fd * k.denominator
        g = np.gcd(n, d)
        return n // g, d // g

    def number(piece: Number) -> Any:
        key = (piece.k, piece.unit)
        if key not in shown:
            nd = times(piece.k)
            if nd is None:
                raise OverflowError
            n, d = nd
            shown[key] = fraction_texts(n, d) if piece.unit is None else fraction_amounts(n, d, piece.unit, rounding)
        return shown[key]

    try:
        amount = times(shape.amount)
        if amount is None:
            return None
        parts: list[Any] = []
        for piece in shape.pieces:
            if piece is None:
                parts.append([f" × {t} {FACTOR_UNITS[basis]}" for t in fraction_texts(fn, fd)])
            elif isinstance(piece, str):
                parts.append(repeat(piece))
            else:
                found = number(piece)
                parts.append(found if piece.unit is None else found.texts)
        if added is not None:
            parts.append(repeat(f"; {added}"))
        # the rounded numbers of the amount and the rate: those of their texts in the working
        rounded = number(Number(shape.amount, shape.unit)).rounded
        rate = number(Number(shape.rate, shape.unit + "/h")).rounded if shape.rate is not None else np.nan
    except OverflowError:
        return None
    hours = np.nan if shape.hours is None else float(decimal_to_json(exact_decimal(shape.hours, 6)))
    return {
        "dose": rounded,
        "dose_exact": exact_texts(*amount),
        "rate": rate,
        "duration_h": hours,
        # literal pieces repeat without end; the texts of the values end the rows
        "calculation": ["".join(p) for p in zip(*parts, strict=False)],
        "dose_exact_num": amount[0],
        "dose_exact_den": amount[1],
    }


__all__ = ["FACTOR_UNITS", "DoseShape", "Number", "dose_columns", "dose_shape"]
