"""Every printed amount a person can check: a rounded one says what it was rounded from, and an amount under 1 mg
is printed in micrograms (issue 10). Each test failed before its change."""

from __future__ import annotations

from fractions import Fraction as F
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import regimen
from regimen.cli import cli
from regimen.protocol.loader import load_text
from regimen.quantities.exact import DEFAULT_ROUNDING, amount_text

FLAT = """id = "flat"
name = "one flat dose"
[[source]]
citation = "test"
[[component]]
id = "drug-a"
drug = "drug-a"
dose = "{dose}"
route = "oral"
days = "1"
"""


def test_a_dose_the_display_rounds_shows_what_it_was_rounded_from(tmp_path: Path) -> None:
    """12,345 mg was printed as '12,350 mg' with nothing beside it in the Dose column."""
    path = tmp_path / "flat.toml"
    path.write_text(FLAT.format(dose="12345 mg"))
    out = CliRunner().invoke(cli, ["expand", str(path)])
    assert out.exit_code == 0, out.output
    assert "12,350 mg (from 12,345)" in out.output.split("Totals per cycle:")[0]  # the Dose column
    assert "drug-a  12,350 mg (from 12,345)" in out.output.split("Totals per cycle:")[1]  # and the totals
    plan = regimen.expand(load_text(FLAT.format(dose="12345 mg")), regimen.make_patient())
    assert plan.administrations[0].dose_text == "12,350 mg (from 12,345)"


def test_an_amount_under_one_milligram_is_printed_in_micrograms() -> None:
    """0.01 mg/kg × 20 kg was '0.2 mg'; ISMP: micrograms under 1 mg (the exact amount is unchanged)."""
    plan = regimen.expand(load_text(FLAT.format(dose="0.01 mg/kg")), regimen.make_patient(weight="20"))
    row = plan.administrations[0]
    assert row.dose == F(1, 5) and row.dose_unit == "mg"  # the number and its unit in data outputs stay as computed
    assert row.dose_text == "200 mcg"
    assert row.calculation == "0.01 mg/kg × 20 kg = 200 mcg"


def test_row_dose_text_and_rate_text_read_as_the_table_prints_them() -> None:
    plan = regimen.expand(regimen.load("cenersen-arm3"), regimen.make_patient(weight="70.3", bsa="1.8", age="45"))
    first = plan.administrations[0]
    assert first.dose == F(16872, 100) and first.dose_text == "168.7 mg (from 168.72)"
    assert first.rate_text == "7.03 mg/h"
    idarubicin = next(r for r in plan.administrations if r.drug == "idarubicin")
    assert idarubicin.dose_text == "21.6 mg" and idarubicin.rate_text is None


@given(st.fractions(min_value=F(1, 10**6), max_value=F(10**7)))
def test_property_the_text_names_the_exact_amount_whenever_it_rounds(x: F) -> None:
    text = amount_text(x, "mg")
    shown_mcg = x < 1
    value = x * 1000 if shown_mcg else x
    assert text.split(" ")[1] == ("mcg" if shown_mcg else "mg")
    assert ("(from " in text) == (F(DEFAULT_ROUNDING(value)) != value)
