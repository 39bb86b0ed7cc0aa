"""The speed code of :func:`regimen.engine.expand.expand`, in one place: what is remembered or copied to make a plan
fast, why, and what keeps each one right (issue 15: a plan of 37 rows in well under a millisecond).

Three things, each with its invariant and a test (tests/test_fastpath.py, tests/test_fastpath_plan.py,
tests/test_speed.py):

1. :data:`REUSE`: later cycles with the same variants reuse the first such cycle's rows, moved to their own days, and
   each distinct treatment day's dose is worked out once (``_Cycles`` in :mod:`regimen.engine.expand`). Invariant:
   the plan equals the one worked out row by row; tests turn ``REUSE`` off to compare every bundled plan.
2. :class:`IdentityMemo`: a per-process memo keyed by the *identities* of the regimen's frozen objects (a phase, a
   component, the variants chosen), for what depends on them and not on the patient (a component's days in a cycle:
   a sixth of a plan). Keys by identity are cheap where hashing the objects by value is not (they hold tuples of
   tuples). Invariant: an entry is only ever returned for the very objects it was made from. The memo holds those
   objects (a strong reference), so none of them can be freed and its ``id`` reused while the entry lives, and
   :meth:`IdentityMemo.get` checks each by ``is`` all the same; the memo is emptied when full, so it never grows
   beyond ``max_entries``. The memos, each of a value that depends on its key's objects alone: a component's
   layout in a cycle, a flat dose's day and derivation, what a phase without variants chooses in every cycle, and
   what a cycle of a phase is made from, in one entry found by one look-up (its components' layouts, its flat
   doses' rows in a run that adjusts no dose, each plan's rows copies of them, the fields the rows of a component
   that nothing adjusts share but the patient's derivation, the components given with whether the regimen caps or
   rounds each, and their order within a day; no patient value is in them: :mod:`regimen.engine.cycles`; a test
   expands an edited regimen, another start date and a changed dose after them and finds their own rows, and a
   regimen edited to a maximum dose finds its rows capped). A memo's held
   objects are the phase and the variants chosen, not a None for each component that chose none (a variant
   belongs to one component). The text of a stated duration is kept by the duration object, held and checked by
   ``is`` (:func:`regimen.engine.doses.hours_text`; a test edits a regimen's duration and finds its own working).
   What depends on the regimen alone is kept with the regimen object itself
   (:meth:`regimen.model.Regimen.once`, issue 29): its components' notes on what the source leaves unstated and its
   variants' changes in words, and the part of the rate-escalation notes that names the steps and source
   (:mod:`regimen.engine.expand`), the names its rules read (:mod:`regimen.engine.outcomes`), the values its doses
   need (:mod:`regimen.engine.requirements`), its notes on what is needed before the first dose and on its
   emetogenic risk, its anthracyclines (which of its drugs the default table can count), and what the clinical
   layer reads of it for every plan (the values it needs, its components with renal tables, its hepatic note). A
   test expands a changed copy of a regimen after the original and finds its own notes (tests/test_fastpath.py,
   tests/test_fastpath_plan.py). Each rate-escalation row's steps and their text, for every number of whole steps
   a dose can take, with the steps' amounts as integers over one denominator, are kept by the row's identity,
   held and checked by ``is`` (:mod:`regimen.clinical.rate_escalation`): a dose finds its rung by one integer
   bisection and formats only its own rest, in integers; a property test holds the text to the step-by-step
   working (tests/test_rate_escalation.py). An anthracycline table's heading is kept with its drugs, by the table
   object (:mod:`regimen.clinical.anthracycline`); a plan's own doses with no prior exposure are counted straight,
   and a test holds that to the general count line for line.
3. Rows made by writing their fields into ``__dict__`` (:func:`new_row`, :func:`rows_of`, :func:`moved_rows`, and
   :meth:`regimen.model.Administration.moved`, which the model layer holds itself), or by making a dictionary of
   every field the row's ``__dict__`` (:func:`row_of`); :func:`moved_rows` writes the earlier cycle's row's
   fields into the new row's own dictionary in one step in C (``update``) and sets the four fields that change,
   a tenth cheaper than making a copy of them the row's ``__dict__`` (issue 29): a frozen dataclass's ``__init__``
   sets its 28 fields one ``object.__setattr__`` at a time, a third of a plan's time. Invariant: the row is the
   one the constructor (or :func:`dataclasses.replace`) gives; it holds because ``Administration`` has no
   ``__post_init__``, no ``__slots__`` and no field default that is computed, and every field is written, in the
   class's order (tests hold each row's ``__dict__`` to the class's fields, in order, and to the constructor's
   row). A dictionary made a row's ``__dict__`` is that row's alone: never one that another row or the caller
   keeps. A cycle with no dates and no continuous infusion moves each row by its cycle and course day alone. A
   :class:`~regimen.model.Total` and an :class:`~regimen.model.Infusion` (not slotted either, issue 29: a field
   written through its slot's descriptor costs about as much as making the object, and a plan makes a total per
   drug per cycle and an infusion per day of each pump) are made the same way: a dictionary of their fields their
   ``__dict__`` (:func:`new_infusion`, :func:`regimen.engine.plan.new_total`), or an earlier one's fields copied
   and the one that changes set (:func:`moved_infusion`, the totals of a repeated cycle); a
   :class:`~regimen.model.Derivation` is written slot by slot (:func:`new_derivation`). Tests hold each equal to
   the constructor's, its fields in the class's order, in a dictionary of its own (tests/test_fast_records.py,
   tests/test_fastpath_plan.py).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Hashable, Iterable, Sequence
from fractions import Fraction
from operator import is_
from typing import Any, Generic, TypeVar

from regimen.engine.plan import slot_setter
from regimen.model import Administration, Derivation, Dose, Infusion

#: Reuse earlier cycles' rows and each distinct day's dose (see the module's point 1). Only the tests turn it off.
REUSE = True

V = TypeVar("V")


class IdentityMemo(Generic[V]):
    """Values remembered by the identities of the objects they were made from, plus a hashable ``extra`` key (see
    the module's point 2). Not for values that depend on anything but ``held`` and ``extra``."""

    __slots__ = ("_entries", "max_entries")

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._entries: dict[tuple[Hashable, ...], tuple[tuple[object, ...], V]] = {}

    @staticmethod
    def _key(held: tuple[object, ...], extra: tuple[Hashable, ...]) -> tuple[Hashable, ...]:
        return (*map(id, held), *extra)

    def get(self, held: tuple[object, ...], extra: tuple[Hashable, ...] = ()) -> V | None:
        """The value remembered for exactly these objects (by ``is``) and ``extra``, or None (also with REUSE off)."""
        if not REUSE:
            return None
        found = self._entries.get((*map(id, held), *extra))  # _key, written out: a lookup per component of a plan
        # each object by ``is`` (in C: map over operator.is_); the key's length is the number of objects and extras
        if found is None or len(found[0]) != len(held) or not all(map(is_, found[0], held)):
            return None
        return found[1]

    def put(self, held: tuple[object, ...], extra: tuple[Hashable, ...], value: V) -> V:
        """Remember ``value`` for ``held`` and ``extra`` (emptying the memo first when it is full); ``value``."""
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[self._key(held, extra)] = (held, value)
        return value

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def new_row(fields: dict[str, Any]) -> Administration:
    """``Administration(**fields)`` without running the frozen dataclass's ``__init__`` (the module's point 3):
    ``fields`` must name every field of the class, in its order."""
    row = object.__new__(Administration)
    row.__dict__.update(fields)
    return row


def moved_rows(
    template: Sequence[Administration], cycle: int, shift: int, start: dt.date | None, infused: bool = True
) -> list[Administration]:
    """The rows of an earlier cycle with the same variants, as they fall in ``cycle``, ``shift`` course days later.

    :meth:`Administration.moved` written out for the four fields that change: this runs for every row of every
    cycle after the first (238 rows of a CAPOX plan), so the template row's fields are written into the new row's
    own ``__dict__`` in one step in C (``update``, a tenth cheaper than making a copy of them the row's
    ``__dict__``, issue 29) and the four set there (the module's point 3), with no keyword dict and no check of
    their names (issue 15: a third of a plan's time). ``infused=False`` says that no row of ``template`` is a day of
    a continuous infusion: a plan with no dates then moves each row by its cycle and course day alone."""
    out: list[Administration] = []
    append = out.append
    if start is None and not infused:  # the usual plan: no dates, no infusion to move
        for row in template:
            new = _NEW(Administration)
            fields = new.__dict__  # the new row's own
            fields.update(row.__dict__)
            fields["cycle"] = cycle
            fields["course_day"] += shift
            append(new)
        return out
    for row in template:
        new = _NEW(Administration)
        fields = new.__dict__  # the new row's own
        fields.update(row.__dict__)
        course_day = fields["course_day"] + shift
        fields["cycle"] = cycle
        fields["course_day"] = course_day
        if start is not None:  # else the template's date, None like every date of the plan
            fields["date"] = start + dt.timedelta(days=course_day - 1)
        infusion = fields["infusion"]
        if infusion is not None:
            fields["infusion"] = moved_infusion(infusion, shift)
        append(new)
    return out


def moved_row(row: Administration, cycle: int, shift: int, start: dt.date | None) -> Administration:
    """One row of an earlier cycle moved to ``cycle`` (:func:`moved_rows`)."""
    return moved_rows((row,), cycle, shift, start)[0]


def row_of(fields: dict[str, Any]) -> Administration:
    """A row whose ``__dict__`` is ``fields`` itself (a dictionary made for it alone, naming every field of the
    class in its order: the module's point 3)."""
    row = _NEW(Administration)
    _SET_DICT(row, "__dict__", fields)
    return row


def rows_of(every: Iterable[dict[str, Any]]) -> list[Administration]:
    """:func:`new_row` of each dictionary, in one loop (a cycle's flat doses' rows): each row's own ``__dict__``
    written from it, the dictionary itself left as it is."""
    out: list[Administration] = []
    append = out.append
    for fields in every:
        row = _NEW(Administration)
        row.__dict__.update(fields)
        append(row)
    return out


_NEW = object.__new__
_SET_DICT = object.__setattr__  # the frozen dataclass's own __setattr__ refuses every name, __dict__ too


def new_infusion(
    start_course_day: int,
    hours: Fraction,
    day_index: int,
    days: int,
    amount: Fraction | None,
    calculation: str | None,
    amount_calculated: Fraction | None,
) -> Infusion:
    """``Infusion(...)``, a dictionary of its fields (in the class's order, its own) made its ``__dict__`` (the
    module's point 3): the frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, and a
    slot each through its descriptor (issue 29: either is as dear as the rest of making the object). A plan makes
    one per day of each continuous infusion of every cycle (a test holds the two equal)."""
    infusion: Infusion = _NEW(Infusion)
    _SET_DICT(
        infusion,
        "__dict__",
        {
            "start_course_day": start_course_day,
            "hours": hours,
            "day_index": day_index,
            "days": days,
            "amount": amount,
            "calculation": calculation,
            "amount_calculated": amount_calculated,
        },
    )
    return infusion


def moved_infusion(infusion: Infusion, shift: int) -> Infusion:
    """``infusion`` begun ``shift`` course days later: its fields written into the new one's own ``__dict__`` in one
    step, and its first course day set (:func:`moved_rows`; a test holds it equal to the constructor's)."""
    new: Infusion = _NEW(Infusion)
    fields = new.__dict__
    fields.update(infusion.__dict__)
    fields["start_course_day"] += shift
    return new


_DOSE, _FACTOR, _FACTOR_UNIT, _FACTOR_TEXT = (
    slot_setter(Derivation, name) for name in ("dose", "factor", "factor_unit", "factor_text")
)


def new_derivation(
    dose: Dose, factor: Fraction | None, factor_unit: str | None, factor_text: str | None = None
) -> Derivation:
    """``Derivation(...)`` with each field written into its slot, as :func:`new_infusion` makes an infusion: a plan
    makes one for each component dosed by a patient value (a test holds the two equal)."""
    derivation: Derivation = object.__new__(Derivation)
    _DOSE(derivation, dose)
    _FACTOR(derivation, factor)
    _FACTOR_UNIT(derivation, factor_unit)
    _FACTOR_TEXT(derivation, factor_text)
    return derivation


__all__ = [
    "REUSE",
    "IdentityMemo",
    "moved_infusion",
    "moved_row",
    "moved_rows",
    "new_derivation",
    "new_infusion",
    "new_row",
    "row_of",
    "rows_of",
]
