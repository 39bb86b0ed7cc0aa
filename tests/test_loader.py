"""Loading regimen files: every problem reported with file, component and field."""

from __future__ import annotations

import textwrap

import pytest

from regimen.errors import RegimenFileError
from regimen.model import DayList, RelativeDays
from regimen.protocol.loader import load_text

TOP = """
id = "test-regimen"
name = "Test regimen"
"""
SOURCE = """
[[source]]
citation = "Test citation"
"""
HEADER = TOP + SOURCE


def regimen_text(components: str, extra: str = "") -> str:
    """A regimen file: top-level keys (``extra``) before the source table, then components."""
    return TOP + extra + SOURCE + textwrap.dedent(components)


def problems(text: str) -> list[str]:
    with pytest.raises(RegimenFileError) as info:
        load_text(text, "test.toml")
    return [str(p) for p in info.value.problems]


def test_minimal_file_loads() -> None:
    reg = load_text(
        regimen_text("""
        [[component]]
        drug = "dexamethasone"
        dose = "40 mg"
        days = "1-4"
    """)
    )
    assert reg.id == "test-regimen"
    comp = reg.phases[0].components[0]
    assert comp.id == "dexamethasone"
    assert comp.days == DayList((1, 2, 3, 4))


def test_relative_days_and_variant() -> None:
    reg = load_text(
        regimen_text("""
        [[component]]
        drug = "A"
        dose = "1 mg/kg/day"
        method = "continuous infusion"
        days = "1-4"
        [[component]]
        drug = "B"
        dose = "1 mg/m2"
        days = { relative_to = "a", on_day = 2, count = 3 }
        [[component.variant]]
        when = "age > 60"
        days = { relative_to = "a", on_day = 2, count = 2 }
    """)
    )
    b = reg.phases[0].components[1]
    assert b.days == RelativeDays("a", 3, on_day=2)
    assert b.variants[0].when.text == "age > 60"


@pytest.mark.parametrize(
    ("component", "where", "says"),
    [
        ('drug = "x"\ndose = "5 widgets"\ndays = "1"', "component 'x', field 'dose'", "unknown unit"),
        ('drug = "x"\ndose = "5 mL/m2"\ndays = "1"', "component 'x', field 'dose'", "not a mass"),
        ('drug = "x"\ndose = "5 mg"\ndays = "0-2"', "component 'x', field 'days'", "numbered from 1"),
        ('drug = "x"\ndose = "5 mg"\ndays = "3-1"', "component 'x', field 'days'", "backwards"),
        ('drug = "x"\ndose = "5 mg"', "component 'x', field 'days'", "missing"),
        ('drug = "x"\ndays = "1"', "component 'x', field 'dose'", "missing"),
        ('dose = "5 mg"\ndays = "1"', "field 'drug'", "missing"),
        ('drug = "x"\ndose = "5 mg"\ndays = "1"\nmethod = "drip"', "field 'method'", "unknown method"),
        ('drug = "x"\ndose = "5 mg"\ndays = "1"\ndoses = "5 mg"', "component 'x'", "unknown field 'doses'"),
        # a total with no duration: the fix is the duration, never another unit (issue 9.2)
        (
            'drug = "x"\ndose = "5 mg"\nmethod = "continuous infusion"\ndays = "1-4"',
            "field 'duration'",
            "needs the time it runs",
        ),
        ('drug = "x"\ndose = "1 mg/kg/h"\ndays = "1"', "field 'dose'", "per hour"),
        ('drug = "x"\ndose = "5 mg"\nmethod = "bolus"\nduration = "1 h"\ndays = "1"', "field 'duration'", "bolus"),
        (
            'drug = "x"\ndose = "1 mg/kg/day"\nmethod = "continuous infusion"\nduration = "4 days"\ndays = "1-5"',
            "field 'days'",
            "do not fit",
        ),
        ('drug = "x"\ndose = "5 mg"\ndays = { relative_to = "nope", on_day = 2 }', "field 'days'", "not a component"),
        (
            'drug = "x"\ndose = "5 mg"\ndays = { relative_to = "x", on_day = 2, days_before = 1 }',
            "field 'days'",
            "exactly one",
        ),
        ('drug = "x"\ndose = "5 mg"\ndays = { relative_to = "x", on_day = 0 }', "field 'days'", "at least 1"),
        ('drug = "x"\ndose = "5 mg"\ndays = "1"\nduration = "5 mg"', "field 'duration'", "not a time"),
    ],
)
def test_component_problems_name_file_component_and_field(component: str, where: str, says: str) -> None:
    found = problems(regimen_text("[[component]]\n" + component + "\n"))
    assert any(p.startswith("test.toml: ") and where in p and says in p for p in found), found


def test_every_problem_is_reported_not_only_the_first() -> None:
    found = problems(
        regimen_text("""
        [[component]]
        drug = "a"
        dose = "5 widgets"
        days = "0"
        [[component]]
        drug = "b"
        dose = "5 mg"
        days = "1"
        route = ""
    """)
    )
    assert len(found) >= 3


def test_contradictory_variants() -> None:
    found = problems(
        regimen_text("""
        [[component]]
        drug = "x"
        dose = "5 mg/m2"
        days = "1-4"
        [[component.variant]]
        when = "age > 60"
        days = "1-3"
        [[component.variant]]
        when = "age > 70"
        days = "1-2"
    """)
    )
    assert any("contradictory" in p and "'age > 60'" in p and "'age > 70'" in p for p in found)


def test_a_variant_that_can_never_apply_is_refused() -> None:
    found = problems(
        regimen_text("""
        [[component]]
        drug = "x"
        dose = "5 mg"
        days = "1-4"
        [[component.variant]]
        when = "age > 60 and age < 50"
        days = "1-3"
    """)
    )
    assert any("variant 1, field 'when'" in p and "never hold" in p for p in found)


def test_a_variant_must_change_something_and_parse() -> None:
    found = problems(
        regimen_text("""
        [[component]]
        drug = "x"
        dose = "5 mg"
        days = "1-4"
        [[component.variant]]
        when = "age >> 60"
        [[component.variant]]
        when = "age > 60"
    """)
    )
    assert any("variant 1, field 'when'" in p for p in found)
    assert any("variant 2" in p and "at least one of dose, days or duration" in p for p in found)


def test_relative_days_that_loop_or_fall_before_day_one() -> None:
    loop = problems(
        regimen_text("""
        [[component]]
        drug = "a"
        dose = "5 mg"
        days = { relative_to = "b", on_day = 2 }
        [[component]]
        drug = "b"
        dose = "5 mg"
        days = { relative_to = "a", on_day = 2 }
    """)
    )
    assert any("loop" in p for p in loop)
    early = problems(
        regimen_text("""
        [[component]]
        drug = "a"
        dose = "5 mg"
        days = "2"
        [[component]]
        drug = "b"
        dose = "5 mg"
        days = { relative_to = "a", days_before = 4 }
    """)
    )
    assert any("component 'b', field 'days'" in p and "day -2" in p for p in early)


def test_day_after_end_of_cycle() -> None:
    found = problems(
        regimen_text(
            """
        [[component]]
        drug = "a"
        dose = "5 mg"
        days = "1, 30"
    """,
            extra="cycle_length = 28\n",
        )
    )
    assert any("after the end of the 28-day cycle" in p for p in found)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('id = "x"\nname = "y"\n[[component]]\ndrug="a"\ndose="1 mg"\ndays="1"', "source"),
        ('name = "y"\n[[source]]\ncitation="c"\n[[component]]\ndrug="a"\ndose="1 mg"\ndays="1"', "field 'id'"),
        (
            'id = "Bad Id"\nname = "y"\n[[source]]\ncitation="c"\n[[component]]\ndrug="a"\ndose="1 mg"\ndays="1"',
            "lower-case",
        ),
        ('id = "x"\nname = "y"\n[[source]]\ncitation="c"', "component"),
        ('id = "x"\nname = "y"\nname = "z"', "not valid TOML"),
        (
            'id = "x"\nname = "y"\ncolour = 1\n[[source]]\ncitation="c"\n[[component]]\ndrug="a"\ndose="1 mg"\n'
            'days="1"',
            "unknown field 'colour'",
        ),
        (
            'id = "x"\nname = "y"\ncycles = 0\n[[source]]\ncitation="c"\n[[component]]\ndrug="a"\ndose="1 mg"\n'
            'days="1"',
            "field 'cycles'",
        ),
        (
            'id = "x"\nname = "y"\ncycle_length = "36 h"\n[[source]]\ncitation="c"\n[[component]]\ndrug="a"\n'
            'dose="1 mg"\ndays="1"',
            "whole number of days",
        ),
    ],
)
def test_file_level_problems(text: str, says: str) -> None:
    assert any(says in p for p in problems(text))


def test_phases_load_with_their_own_cycle_lengths() -> None:
    reg = load_text(
        HEADER
        + """
[[phase]]
id = "induction"
cycle_length = 28
cycles = 1
[[phase.component]]
drug = "a"
dose = "1 mg"
days = "1"
[[phase]]
id = "maintenance"
cycle_length = "3 weeks"
[[phase.component]]
drug = "a"
dose = "1 mg"
days = "1"
"""
    )
    assert [(p.id, p.cycle_length, p.cycles) for p in reg.phases] == [("induction", 28, 1), ("maintenance", 21, None)]


def test_phases_and_top_level_components_do_not_mix() -> None:
    found = problems(
        HEADER
        + """
[[component]]
drug = "a"
dose = "1 mg"
days = "1"
[[phase]]
id = "p"
[[phase.component]]
drug = "a"
dose = "1 mg"
days = "1"
"""
    )
    assert any("inside each [[phase]]" in p for p in found)
