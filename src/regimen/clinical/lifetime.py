"""Lifetime totals that are not anthracyclines: bleomycin, in units, against its cited lifetime limit.

A plan with bleomycin always shows the planned course's total against the limit; a total at the limit is "at the
limit" (a warning: any further dose crosses it), never "within". Earlier bleomycin is not taken by the tool, so the
line says it must be added by hand. (Anthracyclines: :mod:`regimen.clinical.anthracycline`.)
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from fractions import Fraction

from regimen.model import Administration
from regimen.quantities.exact import format_fraction

BLEOMYCIN_LIMIT = Fraction(400)  # units
BLEOMYCIN_SOURCE = (
    "bleomycin US prescribing information, boxed warning: pulmonary fibrosis is more frequent above 400 units "
    "total dose"
)


def bleomycin_total(
    rows: Iterable[Administration], drugs: Collection[str] | None = None
) -> tuple[list[str], list[str]]:
    """(notes, warnings) for the planned bleomycin of ``rows``; both empty without bleomycin. ``drugs``: the drugs of
    ``rows``, when the caller knows them without reading every row."""
    rows = tuple(rows)
    if drugs is None:
        drugs = {r.drug for r in rows}
    named = [drug for drug in drugs if drug.lower() == "bleomycin"]  # each drug once, not each row
    if not named:
        return [], []
    doses = [r for r in rows if r.drug in named]
    other = sorted({r.dose_unit for r in doses if r.dose_unit != "units"})
    if other:
        return [], [
            f"bleomycin doses in {', '.join(other)} cannot be held against the lifetime limit of "
            f"{format_fraction(BLEOMYCIN_LIMIT)} units ({BLEOMYCIN_SOURCE}): count them by hand"
        ]
    total = sum((r.dose for r in doses), Fraction(0))
    limit = f"{format_fraction(BLEOMYCIN_LIMIT)} units ({BLEOMYCIN_SOURCE})"
    said = f"bleomycin cumulative (planned): {format_fraction(total)} units; earlier bleomycin is not counted: add it"
    if total > BLEOMYCIN_LIMIT:
        return [said], [f"bleomycin planned {format_fraction(total)} units exceeds the lifetime limit {limit}"]
    if total == BLEOMYCIN_LIMIT:
        return [said], [
            f"bleomycin planned {format_fraction(total)} units is at the lifetime limit {limit}: no further bleomycin "
            "without crossing it"
        ]
    left = format_fraction(BLEOMYCIN_LIMIT - total)
    return [f"{said}; within the lifetime limit {limit}: {left} units below it"], []


__all__ = ["BLEOMYCIN_LIMIT", "bleomycin_total"]
