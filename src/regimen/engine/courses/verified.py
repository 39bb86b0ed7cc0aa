"""What a pharmacist's verification of a cycle checked (issue 28): each preparation's exact dose figure as then
planned, and which administrations are verified as they are planned now. No I/O here."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from regimen.engine.courses.events import Verification
from regimen.engine.courses.state import CourseRow, CourseState
from regimen.engine.preparations import Preparation, grouped


def dose_key(prep: Preparation) -> str:
    """One preparation of a cycle as a verification names it: 'day 1 oxaliplatin', 'day 1-2 fluorouracil-pump' (a
    pump is verified whole, as it is ordered and prepared), 'dose 2' with several doses a day."""
    days = str(prep.days[0]) if len(prep.days) == 1 else f"{prep.days[0]}-{prep.days[-1]}"
    dose = f" dose {prep.first.dose_number}" if prep.first.dose_number is not None else ""
    return f"day {days} {prep.component}{dose}"


def dose_figure(prep: Preparation) -> str:
    """A planned dose, exact, as a verification records it: '2431/20 mg'."""
    return f"{prep.dose} {prep.dose_unit}"


def planned_doses(state: CourseState, key: tuple[str, int]) -> dict[str, str]:
    """The dose figures of a cycle's preparations still planned, as a pharmacist verifies them (issue 28)."""
    mine = [cr for cr in state.rows if cr.status == "planned" and (cr.row.phase, cr.row.cycle) == key]
    return {dose_key(prep): dose_figure(prep) for prep, _ in grouped(mine, lambda cr: cr.row)}


def verified(rows: list[CourseRow], found: Mapping[tuple[str, int], Sequence[tuple[int, Verification]]]) -> None:
    """Each row of a preparation whose dose, as planned now, a verification of its cycle checked gets that
    verification's number (the last one); a dose changed since (a new weight, a dose change) is unverified until it
    is checked again."""
    for prep, members in grouped(range(len(rows)), lambda n: rows[n].row):
        said = (dose_key(prep), dose_figure(prep))
        seqs = [seq for seq, e in found.get((prep.first.phase, prep.first.cycle), ()) if said in e.doses]
        if seqs:  # few: a cycle is verified once or twice
            for n in members:
                rows[n] = dataclasses.replace(rows[n], verified=seqs[-1])


__all__ = ["dose_figure", "dose_key", "planned_doses", "verified"]
