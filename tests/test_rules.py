"""The variant rule language: parsed, never eval-ed; analysed for contradictions."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from regimen.cli.app import cli_message
from regimen.errors import PatientError
from regimen.quantities.rules import RuleError, overlap, parse_rule, satisfiable


def values(**kw: object) -> dict[str, Fraction | str | None]:
    out: dict[str, Fraction | str | None] = {k: None for k in ("age", "weight", "bsa", "height", "sex", "cycle")}
    for k, v in kw.items():
        out[k] = v if k == "sex" else Fraction(str(v))
    return out


@pytest.mark.parametrize(
    ("rule", "env", "expected"),
    [
        ("age > 60", values(age=61), True),
        ("age > 60", values(age=60), False),
        ("age >= 60", values(age=60), True),
        ("cycle >= 2", values(cycle=1), False),
        ("cycle >= 2", values(cycle=2), True),
        ("sex == female and bsa > 2", values(sex="female", bsa="2.1"), True),
        ("sex == female and bsa > 2", values(sex="male", bsa="2.1"), False),
        ("age < 18 or age > 70", values(age=75), True),
        ("age < 18 or age > 70", values(age=40), False),
        ("(age > 60 or weight < 50) and cycle == 1", values(age=40, weight=45, cycle=1), True),
        ("age != 60", values(age="60.5"), True),
    ],
)
def test_evaluate(rule: str, env: dict[str, Fraction | str | None], expected: bool) -> None:
    assert parse_rule(rule).evaluate(env) is expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "age",
        "age >",
        "age => 60",
        "__import__('os').system('x')",
        "age > sixty",
        "colour == red",
        "sex > female",
        "sex == other",
        "age > 60 and",
        "(age > 60",
        "age > 60 age < 70",
        "age > 60; drop",
    ],
)
def test_bad_rules_are_refused_with_a_reason(text: str) -> None:
    with pytest.raises(RuleError):
        parse_rule(text)


def test_a_missing_patient_value_names_the_option() -> None:
    with pytest.raises(PatientError, match="needs the patient's age: pass age") as e:
        parse_rule("age > 60").evaluate(values())
    assert cli_message(e.value).endswith("pass --age")


@pytest.mark.parametrize(
    ("rule", "possible"),
    [
        ("age > 60", True),
        ("age > 60 and age < 50", False),
        ("cycle > 1 and cycle < 2", False),
        ("cycle >= 1.5 and cycle <= 2", True),
        ("cycle < 1", False),
        ("age < 0", False),
        ("weight <= 0", False),
        ("sex == female and sex == male", False),
        ("age == 60 and age != 60", False),
    ],
)
def test_satisfiable(rule: str, possible: bool) -> None:
    assert satisfiable(parse_rule(rule)) is possible


@pytest.mark.parametrize(
    ("a", "b", "clash"),
    [
        ("age > 60", "age <= 60", False),
        ("age > 60", "age >= 60", True),
        ("cycle >= 2", "cycle == 1", False),
        ("age > 60", "cycle >= 2", True),
        ("sex == female", "sex == male", False),
        ("age > 60", "age > 70", True),
        ("cycle > 1", "cycle < 2", False),
        ("age < 18 or age > 70", "age >= 18 and age <= 70", False),
    ],
)
def test_overlap(a: str, b: str, clash: bool) -> None:
    assert overlap(parse_rule(a), parse_rule(b)) is clash


@given(st.integers(0, 120), st.integers(0, 120))
def test_a_threshold_and_its_complement_never_both_hold(threshold: int, age: int) -> None:
    above, rest = parse_rule(f"age > {threshold}"), parse_rule(f"age <= {threshold}")
    env = values(age=age)
    assert above.evaluate(env) != rest.evaluate(env)
    assert not overlap(above, rest)
