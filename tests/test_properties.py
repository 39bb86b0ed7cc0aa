"""Invariants of the dose arithmetic, checked on random patients (hypothesis)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction as F

from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import SEED_IDS
from tests.helpers import examples

import regimen
from regimen.engine.plan import Plan
from regimen.protocol.loader import load_text

weights = st.decimals(min_value=Decimal("30"), max_value=Decimal("200"), places=2)
bsas = st.decimals(min_value=Decimal("1.00"), max_value=Decimal("3.00"), places=2)
ages = st.integers(min_value=18, max_value=100)
factors = st.integers(min_value=2, max_value=5)
REGIMENS = {rid: regimen.load(rid) for rid in SEED_IDS}


def expand(rid: str, weight: Decimal, bsa: Decimal, age: int, cycles: int | None = None) -> Plan:
    patient = regimen.make_patient(weight=str(weight), bsa=str(bsa), age=str(age))
    return regimen.expand(REGIMENS[rid], patient, cycles=cycles)


@given(st.sampled_from(SEED_IDS), weights, bsas, ages, factors)
def test_doses_are_linear_in_weight_and_bsa(rid: str, w: Decimal, a: Decimal, age: int, k: int) -> None:
    base = expand(rid, w, a, age)
    heavier = expand(rid, w * k, a, age) if w * k <= 650 else None
    larger = expand(rid, w, a * k, age) if a * k <= 5 else None
    for row_index, row in enumerate(base.administrations):
        basis = REGIMENS[rid].phases[[p.id for p in REGIMENS[rid].phases].index(row.phase)].component(row.component)
        kind = basis.dose.unit.basis
        if heavier is not None:
            expected = row.dose * k if kind == "weight" else row.dose
            assert heavier.administrations[row_index].dose == expected
        if larger is not None:
            expected = row.dose * k if kind == "bsa" else row.dose
            assert larger.administrations[row_index].dose == expected


@given(st.decimals(min_value=Decimal("70"), max_value=Decimal("400"), places=1), bsas)
def test_doses_do_not_depend_on_the_weight_unit(pounds: Decimal, a: Decimal) -> None:
    in_pounds = regimen.make_patient(weight=f"{pounds} lb", bsa=str(a))
    in_kg = regimen.make_patient(weight=str(pounds * Decimal("0.45359237")), bsa=str(a))
    reg = REGIMENS["cenersen-fcr"]
    assert [r.dose for r in regimen.expand(reg, in_pounds).administrations] == [
        r.dose for r in regimen.expand(reg, in_kg).administrations
    ]


@given(st.sampled_from(SEED_IDS), weights, bsas, ages)
def test_continuous_rate_times_24_hours_is_the_daily_amount(rid: str, w: Decimal, a: Decimal, age: int) -> None:
    for row in expand(rid, w, a, age).administrations:
        if row.method == "continuous infusion":
            assert row.rate is not None
            assert row.duration_hours == 24  # every seed infusion runs whole days
            assert row.rate * 24 == row.dose


@given(st.sampled_from(SEED_IDS), weights, bsas, ages, st.integers(1, 3))
def test_totals_are_the_sum_of_the_rows(rid: str, w: Decimal, a: Decimal, age: int, cycles: int) -> None:
    placeable = all(p.cycle_length is not None for p in REGIMENS[rid].phases)  # else cycle 2 cannot be placed
    plan = expand(rid, w, a, age, cycles if placeable else None)
    for t in plan.totals:
        matching = [
            r.dose
            for r in plan.administrations
            if r.drug == t.drug and (t.cycle is None or (r.cycle == t.cycle and r.phase == t.phase))
        ]
        assert t.amount == sum(matching, F(0))


@given(weights)
def test_per_day_and_per_hour_spellings_give_the_same_rows(w: Decimal) -> None:
    def one(dose: str) -> list[tuple[F, F | None, str]]:
        reg = load_text(f'''
id = "x"
name = "x"
[[source]]
citation = "c"
[[component]]
drug = "cenersen"
dose = "{dose}"
method = "continuous infusion"
days = "1-4"
''')
        plan = regimen.expand(reg, regimen.make_patient(weight=str(w)))
        return [(r.dose, r.rate, str(r.day)) for r in plan.administrations]

    assert one("2400 ug/kg/day")[0][0] * 1 == one("2.4 mg/kg/day")[0][0] * 1000  # same amount, in mcg
    assert one("2.4 mg/kg/day") == one("0.1 mg/kg/h")


@settings(max_examples=examples(200))
@given(st.integers(min_value=18, max_value=100))  # ages are completed years (issue 9: 60.5 is refused)
def test_age_rule_boundary(age: int) -> None:
    plan = regimen.expand(REGIMENS["cenersen-arm3"], regimen.make_patient(weight="70", bsa="1.8", age=str(age)))
    cytarabine_days = [r.day for r in plan.administrations if r.drug == "cytarabine"]
    assert cytarabine_days == ([2, 3, 4] if age > 60 else [2, 3, 4, 5])


@given(st.integers(1, 8))
def test_per_cycle_variant_boundary(cycles: int) -> None:
    plan = regimen.expand(REGIMENS["oblimersen-mono"], regimen.make_patient(weight="70"), cycles=cycles)
    for c in range(1, cycles + 1):
        n_days = len([r for r in plan.administrations if r.cycle == c])
        assert n_days == (5 if c == 1 else 7)
    assert max(r.course_day for r in plan.administrations) == (cycles - 1) * 21 + (5 if cycles == 1 else 7)


@given(st.sampled_from(SEED_IDS), weights, bsas, ages)
def test_every_row_has_its_working_and_no_float_artefacts(rid: str, w: Decimal, a: Decimal, age: int) -> None:
    plan = expand(rid, w, a, age)
    data = plan.to_dict()
    for rec in data["administrations"]:  # type: ignore[union-attr]
        assert rec["calculation"]
        for key in ("dose", "rate"):
            value = rec[key]
            if value is not None:
                text = repr(value)
                assert "e" not in text and len(text.split(".")[-1]) <= 4, text
