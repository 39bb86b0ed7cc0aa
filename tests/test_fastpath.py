"""The speed code's seam (:mod:`regimen.engine.fastpath`): the identity memo never answers for another object, even
one that took a freed object's ``id``, and stays bounded; rows written into ``__dict__`` are the constructor's."""

from __future__ import annotations

import dataclasses
import gc
import weakref

import pytest

import regimen
from regimen.engine import fastpath
from regimen.engine.fastpath import IdentityMemo, new_row
from regimen.model import Administration


class _Thing:
    """A stand-in for a regimen's frozen object: compared by identity, and can be weakly referenced."""

    def __init__(self, name: str) -> None:
        self.name = name


def test_an_entry_keeps_its_objects_alive_so_their_ids_are_never_reused() -> None:
    memo: IdentityMemo[str] = IdentityMemo()
    thing = _Thing("cisplatin")
    alive = weakref.ref(thing)
    old_id = id(thing)
    memo.put((thing,), (1,), "days 1-3")
    del thing
    gc.collect()
    # the caller let go of it, but the memo holds it: its id still names it, and no new object can take it
    assert alive() is not None and id(alive()) == old_id
    others = [_Thing("other") for _ in range(10_000)]
    assert old_id not in {id(o) for o in others}
    assert memo.get((alive(),), (1,)) == "days 1-3"  # type: ignore[arg-type]
    assert all(memo.get((o,), (1,)) is None for o in others)
    memo.clear()
    gc.collect()
    assert alive() is None  # emptied: the objects are freed


def test_an_entry_is_never_returned_for_another_object_with_the_same_id() -> None:
    """Even if an id came to name another object (here written in by hand), the entry is not returned for it."""
    memo: IdentityMemo[str] = IdentityMemo()
    first, second = _Thing("a"), _Thing("b")
    memo.put((first,), (), "first's")
    key = (id(second),)
    memo._entries[key] = ((first,), "first's")  # the key of second's id, made from first
    assert memo.get((second,)) is None
    assert memo.get((first,)) == "first's"
    assert memo.get((first,), ("another extra",)) is None  # the extra key is part of the key


def test_the_memo_is_bounded_and_off_when_reuse_is(monkeypatch: pytest.MonkeyPatch) -> None:
    memo: IdentityMemo[int] = IdentityMemo(max_entries=3)
    things = [_Thing(str(i)) for i in range(7)]
    for i, t in enumerate(things):
        memo.put((t,), (), i)
        assert len(memo) <= 3
    assert memo.get((things[-1],)) == 6
    monkeypatch.setattr(fastpath, "REUSE", False)
    assert memo.get((things[-1],)) is None


def test_a_row_written_into_its_dict_is_the_constructors_row() -> None:
    """The precondition of writing ``__dict__``: no ``__post_init__``, no slots; and the row equals the one the
    constructor makes from the same fields, frozen like it."""
    assert not hasattr(Administration, "__post_init__") and not hasattr(Administration, "__slots__")
    plan = regimen.expand(regimen.load("capox"), regimen.make_patient(weight="70", bsa="1.8"))
    row = plan.administrations[0]
    fields = {f.name: getattr(row, f.name) for f in dataclasses.fields(Administration)}
    made = new_row(dict(fields))
    assert made == Administration(**fields) and made is not row
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.cycle = 2  # type: ignore[misc]
