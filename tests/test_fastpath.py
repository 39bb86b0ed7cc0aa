"""The speed code's seam (:mod:`regimen.engine.fastpath`): the identity memo never answers for another object, even
one that took a freed object's ``id``, and stays bounded; rows written into ``__dict__`` are the constructor's."""

from __future__ import annotations

import dataclasses
import datetime as dt
import gc
import pickle
import weakref
from fractions import Fraction

import pytest

import regimen
from regimen.clinical.dose_change import DoseChange
from regimen.clinical.options import ClinicalOptions
from regimen.engine import fastpath
from regimen.engine.fastpath import IdentityMemo, new_row
from regimen.errors import RegimenError
from regimen.model import Administration, Regimen
from regimen.protocol.loader import load_text


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


def test_each_row_of_a_plan_has_a_dictionary_of_its_own() -> None:
    """Later cycles' rows are copies of the first cycle's dictionaries (fastpath.moved_rows): each row's own, so
    the rows of cycle 1 keep their cycle and days (CAPOX: 8 cycles, 7 of them moved)."""
    plan = regimen.expand(regimen.load("capox"), regimen.make_patient(weight="70", bsa="1.8"))
    rows = plan.administrations
    assert len({id(r.__dict__) for r in rows}) == len(rows)
    first = [r for r in rows if r.cycle == 1]
    assert first and all(r.course_day == r.day for r in first)
    assert [r.cycle for r in rows] == sorted(r.cycle for r in rows) and rows[-1].cycle == 8


def test_a_regimens_notes_are_remembered_for_that_regimen_object_alone() -> None:
    """What a plan's notes say of the regimen alone (a component's note, a rate escalation's steps, what the source
    leaves unstated) is worked out once per regimen object: a changed copy of the regimen, expanded after it, gets
    its own notes, and the first regimen's plan is unchanged."""
    patient = regimen.make_patient(weight="70", bsa="1.8", age="50")
    original = regimen.load("r-chop-21")
    before = regimen.expand(original, patient)
    phase = original.phases[0]
    comps = [
        dataclasses.replace(
            c,
            note="given with food (a test's note)" if c.drug == "prednisone" else c.note,
            rate_escalation=tuple(dataclasses.replace(e, source="a test's source") for e in c.rate_escalation),
        )
        for c in phase.components
    ]
    changed = dataclasses.replace(original, phases=(dataclasses.replace(phase, components=tuple(comps)),))
    after = regimen.expand(changed, patient)
    assert "prednisone: given with food (a test's note)" in after.notes
    assert "prednisone: given with food (a test's note)" not in before.notes
    escalated = [n for n in after.notes if "rate-escalated" in n]
    assert escalated and all("; a test's source): " in n for n in escalated)
    assert regimen.expand(original, patient) == before


def _drug_names(reg: Regimen) -> tuple[str, ...]:
    _WORKED_OUT.append(reg)
    return tuple(c.drug for c in reg.components())


_WORKED_OUT: list[Regimen] = []


def test_what_is_worked_out_from_a_regimen_is_kept_with_that_object_and_is_not_its_value() -> None:
    """``Regimen.once`` works a value out once per regimen object (issue 29): asked again, the same object answers
    without working it out; a copy made by ``dataclasses.replace`` starts with nothing worked out; what is kept is
    no part of the regimen's value (equality, repr) and travels with it through pickle (as a cohort's workers get
    it)."""
    _WORKED_OUT.clear()
    original = dataclasses.replace(regimen.load("r-chop-21"))  # a fresh object: nothing worked out yet
    names = original.once(_drug_names)
    assert names[:5] == ("rituximab", "cyclophosphamide", "doxorubicin", "vincristine", "prednisone")
    assert original.once(_drug_names) is names and _WORKED_OUT == [original]  # once
    renamed = dataclasses.replace(original, phases=(dataclasses.replace(original.phases[0], components=()),))
    assert renamed.once(_drug_names) == () and _WORKED_OUT == [original, renamed]  # its own, worked out again
    assert dataclasses.replace(original) == original and repr(dataclasses.replace(original)) == repr(original)
    copy = pickle.loads(pickle.dumps(original))
    assert copy == original and copy.once(_drug_names) == names and len(_WORKED_OUT) == 2


def test_lifetime_totals_from_the_drugs_the_engine_knows_are_those_read_from_every_row() -> None:
    """expand hands the lifetime totals the drugs of the cycles it expanded (a later cycle repeats one of them)
    rather than have each read every row: ABVD (doxorubicin and bleomycin) gives the same lines either way, and the
    plan's notes hold them."""
    from regimen.clinical.anthracycline import exposure
    from regimen.clinical.lifetime import bleomycin_total

    plan = regimen.expand(regimen.load("abvd"), regimen.make_patient(weight="70", bsa="1.8", age="50"))
    rows = plan.administrations
    drugs = {r.drug for r in rows if r.cycle == 1}
    assert {"doxorubicin", "bleomycin"} <= drugs
    assert bleomycin_total(rows, drugs) == bleomycin_total(rows)
    assert bleomycin_total(rows)[0][0] in plan.notes
    bsa = plan.patient.bsa_m2
    assert exposure(rows, bsa, None, (), None, drugs) == exposure(rows, bsa, None, (), None)
    assert exposure(rows, bsa, None, (), None).lines[-1] in plan.notes


def _two_drugs(prednisone: str) -> Regimen:
    return load_text(
        'id = "flat-memo"\nname = "Flat memo"\ncycle_length = "21 days"\ncycles = 2\n'
        '[[source]]\ncitation = "test"\n'
        '[[component]]\ndrug = "doxorubicin"\ndose = "50 mg/m2"\nroute = "IV"\ndays = "1"\n'
        f'[[component]]\ndrug = "prednisone"\ndose = "{prednisone}"\nroute = "oral"\ndays = "1-5"\n',
        "<test>",
    )


def _doses(plan: regimen.Plan, drug: str) -> list[tuple[int, Fraction]]:
    return [(r.course_day, r.dose) for r in plan.administrations if r.drug == drug]


def test_a_flat_doses_rows_are_remembered_for_the_regimen_object_cycle_start_and_run_alone() -> None:
    """A flat dose's rows in a cycle hold no patient value, so they are worked out once per process and each plan's
    rows copy them (engine.cycles._FLAT_ROWS, issue 29). Once remembered: the dose per m² beside them still follows
    each patient; the same regimen edited (another prednisone dose) gets its own rows; another start date its own
    dates; a run that changes the dose does not take the remembered rows; and each row is the plan's own."""
    reg = _two_drugs("100 mg")
    small = regimen.expand(reg, regimen.make_patient(weight="60", bsa="1.6"))
    large = regimen.expand(reg, regimen.make_patient(weight="90", bsa="2.2"))
    days = [1, 2, 3, 4, 5, 22, 23, 24, 25, 26]
    assert _doses(small, "prednisone") == _doses(large, "prednisone") == [(d, Fraction(100)) for d in days]
    assert {r.calculation for r in large.administrations if r.drug == "prednisone"} == {"100 mg (flat dose)"}
    assert _doses(small, "doxorubicin") == [(1, Fraction(80)), (22, Fraction(80))]  # 50 mg/m² × 1.6 m²
    assert _doses(large, "doxorubicin") == [(1, Fraction(110)), (22, Fraction(110))]  # 50 mg/m² × 2.2 m²
    # the rows of the two plans are equal, but each plan has its own (the course views tell rows by identity)
    assert not {id(r) for r in small.administrations} & {id(r) for r in large.administrations}
    edited = regimen.expand(_two_drugs("60 mg"), regimen.make_patient(weight="90", bsa="2.2"))
    assert _doses(edited, "prednisone") == [(d, Fraction(60)) for d in days]
    dated = regimen.expand(reg, regimen.make_patient(weight="90", bsa="2.2"), start=dt.date(2027, 1, 4))
    assert [r.date for r in dated.administrations if r.drug == "prednisone"][4:6] == [
        dt.date(2027, 1, 8),
        dt.date(2027, 1, 25),
    ]
    halved = regimen.expand(
        reg,
        regimen.make_patient(weight="90", bsa="2.2"),
        options=ClinicalOptions(dose_changes={"prednisone": DoseChange(Fraction(50))}),
    )
    assert _doses(halved, "prednisone") == [(d, Fraction(50)) for d in days]
    assert regimen.expand(reg, regimen.make_patient(weight="60", bsa="1.6")) == small


def _laid_out(doxorubicin_days: str) -> Regimen:
    return load_text(
        'id = "layout-memo"\nname = "Layout memo"\ncycles = 2\n[[source]]\ncitation = "test"\n'
        f'[[component]]\ndrug = "doxorubicin"\ndose = "50 mg/m2"\nroute = "IV"\ndays = "{doxorubicin_days}"\n'
        '[[component]]\ndrug = "filgrastim"\ndose = "5 mcg/kg/day"\nroute = "SC"\ndays = "4-6"\n'
        '[[component.variant]]\nwhen = "age > 60"\ndays = "4-7"\n',
        "<test>",
    )


def test_a_cycles_layouts_are_remembered_for_its_phase_variants_and_days_alone() -> None:
    """The components' days in a cycle are looked up once per cycle expanded (engine.cycles._CYCLE_LAYOUTS, issue
    29), by the phase, the variants chosen and the cycle's first course day and length: once remembered, a patient
    whose rule chooses the other variant gets its days, another cycle length its course days, and the same regimen
    edited (doxorubicin on days 1 and 8) its own days."""
    reg = _laid_out("1")
    younger = regimen.make_patient(weight="70", bsa="1.8", age="50")
    older = regimen.make_patient(weight="70", bsa="1.8", age="70")
    first = regimen.expand(reg, younger, cycle_length=21)
    assert [r.course_day for r in first.administrations if r.drug == "filgrastim"] == [4, 5, 6, 25, 26, 27]
    # age > 60: days 4-7 of each 21-day cycle
    older_plan = regimen.expand(reg, older, cycle_length=21)
    assert [r.course_day for r in older_plan.administrations if r.drug == "filgrastim"] == [4, 5, 6, 7, 25, 26, 27, 28]
    # cycle 2 starts on course day 29 of a 28-day cycle
    longer = regimen.expand(reg, younger, cycle_length=28)
    assert [r.course_day for r in longer.administrations if r.drug == "filgrastim"] == [4, 5, 6, 32, 33, 34]
    assert [r.course_day for r in longer.administrations if r.drug == "doxorubicin"] == [1, 29]
    edited = regimen.expand(_laid_out("1,8"), younger, cycle_length=21)
    assert [r.course_day for r in edited.administrations if r.drug == "doxorubicin"] == [1, 8, 22, 29]
    assert regimen.expand(reg, younger, cycle_length=21) == first
    # a day that fits a 28-day cycle, laid out, and then asked of a 21-day cycle: refused, not taken from the memo
    late = _laid_out("1,25")
    assert len(regimen.expand(late, younger, cycle_length=28).administrations) == 10
    with pytest.raises(RegimenError, match="doxorubicin falls on day 25, after the end of the 21-day cycle"):
        regimen.expand(late, younger, cycle_length=21)


def test_the_drugs_counted_with_a_table_are_that_table_objects_own() -> None:
    """The drugs a plan counts with a factor table are worked out once per table object (issue 29): a table that
    adds a drug, asked after the bundled one, counts it; the bundled table still does not."""
    from regimen.clinical import anthracycline

    bundled = anthracycline.load_table("esc-2022")
    assert "pixantrone" not in anthracycline._known_with(bundled)
    added = dataclasses.replace(bundled, factors={**bundled.factors, "pixantrone": Fraction(1, 2)})
    assert anthracycline._known_with(added) == anthracycline._known_with(bundled) | {"pixantrone"}
    assert "pixantrone" not in anthracycline._known_with(bundled)
    assert anthracycline._known_with(bundled) is anthracycline._known_with(bundled)  # remembered
