"""Supportive care given for one drug: what it is timed by, and whether it goes where that drug goes.

A regimen file times supportive care before or after a component (``before = "cisplatin"``), or before or after other
supportive care that is (pre-hydration before mannitol before cisplatin). Care of :data:`TIED_KINDS` is given for
the drug it is timed by, so where that drug is not given (a renal table's "avoid", an omission) it is not given
either. Antiemetics and growth factors follow the regimen as a whole (its emetogenic risk, its myelosuppression):
they are never left out with one drug; the plan says they stay, for the prescriber to review.
"""

from __future__ import annotations

from regimen.model import Component, Phase

#: The kinds of supportive care that are given for the drug they are timed by.
TIED_KINDS = ("premedication", "hydration", "test dose", "electrolyte")


def timed_by(phase: Phase, comp: Component) -> str | None:
    """The id of the drug (a component not of supportive care) that ``comp``'s timing leads to in ``phase``, through
    any supportive care it is timed by; None when it is timed by none (by its day alone)."""
    by_id = {c.id: c for c in phase.components}
    seen: set[str] = set()
    anchor = comp.before or comp.after
    while anchor is not None and anchor in by_id and anchor not in seen:
        linked = by_id[anchor]
        if not linked.supportive:
            return anchor
        seen.add(anchor)
        anchor = linked.before or linked.after
    return None


def tied_to(phase: Phase, drug_ids: set[str]) -> dict[str, str]:
    """The supportive care of :data:`TIED_KINDS` in ``phase`` timed by one of ``drug_ids``: its id -> that drug's."""
    out: dict[str, str] = {}
    for comp in phase.components:
        if comp.supportive and comp.kind in TIED_KINDS:
            anchor = timed_by(phase, comp)
            if anchor is not None and anchor in drug_ids:
                out[comp.id] = anchor
    return out


__all__ = ["TIED_KINDS", "tied_to", "timed_by"]
