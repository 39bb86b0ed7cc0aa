"""Indented JSON is written by orjson (regimen.export.jsontext): the standard library's text, much faster.

Each output is held to ``json.dumps(value, indent=2, ensure_ascii=False) + "\\n"``, the text written before: every
bundled plan, a course's view and a worklist through the command line, and drawn values of the kinds the records hold.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import BUNDLED_IDS
from tests.helpers import CAPOX_FIXTURE, examples

from regimen import expand, load, make_patient
from regimen.cli import cli
from regimen.export.jsontext import indented_json
from regimen.export.records import plan_record, plan_to_json


def standard(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("regimen_id", BUNDLED_IDS)
def test_every_bundled_plan_is_the_standard_librarys_text(regimen_id: str) -> None:
    for patient in (make_patient(weight=70, bsa="1.8", age=45), make_patient(weight="55.5", bsa="1.61")):
        plan = expand(load(regimen_id), patient)
        assert plan_to_json(plan) == standard(plan_record(plan))


def test_a_courses_view_and_the_worklist_are_the_standard_librarys_text(runner, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = str(tmp_path / "c.sqlite3")
    start = ["--weight", "70", "--bsa", "1.8", "--age", "50", "--start", "2026-12-01", "--time", "08:00"]
    for args in (
        ["course", "start", CAPOX_FIXTURE, "--course", "bed4", *start],
        ["course", "delay", "bed4", "--cycle", "2", "--by", "7d", "--reason", "neutrophils 0.9 ×10⁹/L"],
    ):
        assert runner.invoke(cli, [*args, "--db", db]).exit_code == 0
    for args in (["course", "show", "bed4"], ["due", "--from", "2026-12-01"]):
        shown = runner.invoke(cli, [*args, "--format", "json", "--db", db])
        assert shown.exit_code == 0, shown.output
        value = json.loads(shown.stdout)
        assert value and shown.stdout == standard(value)
        assert "×10⁹/L" in shown.stdout or args[0] == "due"  # text as UTF-8, not escaped to ASCII


#: What the records hold: text (any code point but a lone surrogate), whole numbers within 64 bits, booleans, null,
#: and floating-point numbers of doses, rates and hours (0, or from 0.0001 up).
_SCALARS = (
    st.text(st.characters(exclude_categories=("Cs",)))
    | st.integers(-(2**63), 2**63 - 1)
    | st.booleans()
    | st.none()
    | st.floats(min_value=0.0001, max_value=1e300)
    | st.floats(min_value=-1e300, max_value=-0.0001)
    | st.just(0.0)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


@given(_VALUES)
@settings(max_examples=examples(300), deadline=None)
def test_property_drawn_values_are_the_standard_librarys_text(value: Any) -> None:
    assert indented_json(value) == standard(value)


@pytest.mark.parametrize(
    "value",
    [
        {1: "a key that is not text"},
        {"n": 2**70},  # beyond 64 bits
        ["a lone surrogate \ud800"],
    ],
    ids=["int-key", "big-int", "surrogate"],
)
def test_what_orjson_refuses_the_standard_library_writes_as_before(value: Any) -> None:
    assert indented_json(value) == standard(value)


def test_below_0_0001_a_float_is_spelled_otherwise_but_read_as_the_same_number() -> None:
    for x in (1e-05, 5e-324, 0.00009999):
        assert json.loads(indented_json({"dose": x})) == {"dose": x}
    assert indented_json(1e-05) == "0.00001\n" and standard(1e-05) == "1e-05\n"  # the difference the module states


def test_not_a_number_is_null_where_the_standard_library_wrote_nan_which_is_not_json() -> None:
    """The records' numbers come from exact fractions (a float of a Fraction is finite or an OverflowError), so no
    record holds one; were one to, a JSON reader could read null and could not read NaN."""
    assert indented_json({"x": math.nan, "y": math.inf}) == '{\n  "x": null,\n  "y": null\n}\n'
    assert standard({"x": math.nan}) == '{\n  "x": NaN\n}\n'


def test_a_value_neither_writes_is_the_standard_librarys_error() -> None:
    with pytest.raises(TypeError, match="not JSON serializable"):
        indented_json({"dose": object()})
