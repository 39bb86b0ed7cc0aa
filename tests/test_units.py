"""Dose units as protocols write them, and patient measurements as people type them."""

from __future__ import annotations

from fractions import Fraction

import pytest

from regimen.errors import UnitError
from regimen.quantities.units import parse_dose, parse_duration_hours, parse_measure


@pytest.mark.parametrize(
    ("text", "basis", "time", "canonical", "symbol"),
    [
        ("0.1 mg/kg/h", "weight", "hour", Fraction(1, 10), "mg/kg/h"),
        ("0.1 mg/kg/hr", "weight", "hour", Fraction(1, 10), "mg/kg/h"),
        ("2.4 mg/kg/day", "weight", "day", Fraction(12, 5), "mg/kg/day"),
        ("2.4 mg/kg/d", "weight", "day", Fraction(12, 5), "mg/kg/day"),
        ("12 mg/m²/day", "bsa", "day", Fraction(12), "mg/m²/day"),
        ("12 mg/m2/day", "bsa", "day", Fraction(12), "mg/m²/day"),
        ("1 g/m2", "bsa", "none", Fraction(1000), "g/m²"),
        ("1 g/m^2", "bsa", "none", Fraction(1000), "g/m²"),
        ("375 mg/m**2", "bsa", "none", Fraction(375), "mg/m²"),
        ("40 mg", "flat", "none", Fraction(40), "mg"),
        ("1000 mg/m²", "bsa", "none", Fraction(1000), "mg/m²"),
        ("500 mcg", "flat", "none", Fraction(500), "mcg"),
        ("500 µg/m2", "bsa", "none", Fraction(500), "mcg/m²"),
    ],
)
def test_common_dose_spellings(text: str, basis: str, time: str, canonical: Fraction, symbol: str) -> None:
    dose = parse_dose(text)
    assert dose.unit.basis == basis
    assert dose.unit.time == time
    assert dose.canonical == canonical
    assert dose.unit.symbol == symbol


@pytest.mark.parametrize("text", ["1 mg/lb", "1 mg/cm2", "5 mg/ft**2", "12 mg/m²/week", "1 mcg/kg/min", "3 mg/kg/s"])
def test_bases_the_working_cannot_state_are_refused(text: str) -> None:
    """Issue 11.1: 'mg/lb' and 'mg/m²/week' were converted but the working read 'mg/kg' and 'mg/m²/day'.
    The working states the dose as written times kg or m² and hours or days, so only those bases are read."""
    with pytest.raises(UnitError, match="write the dose per kg or per m², and per day or per h"):
        parse_dose(text)


def test_microgram_doses_stay_in_mcg_never_ug() -> None:
    dose = parse_dose("5 ug/kg")
    assert dose.unit.output_unit == "mcg"
    assert "µ" not in dose.display and "ug" not in dose.display


@pytest.mark.parametrize(
    "text",
    ["5 mL/m2", "5 mg*m", "5 kg", "5 m2", "5 mg/kg/m2", "5 widgets", "mg/kg", "", "-1 mg", "0 mg", "5", "5 IU"],
)
def test_doses_that_are_not_a_mass_per_body_per_time_are_refused(text: str) -> None:
    with pytest.raises(UnitError):
        parse_dose(text)


def test_mass_per_body_weight_is_not_treated_as_dimensionless() -> None:
    # pint reduces mg/kg to a dimensionless number; we must not accept it as a flat dose
    assert parse_dose("2 mg/kg").unit.basis == "weight"
    with pytest.raises(UnitError):
        parse_dose("2 percent")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("70", Fraction(70)),
        ("70 kg", Fraction(70)),
        ("70kg", Fraction(70)),
        ("154lb", Fraction("69.85322498")),
        ("154 lb", Fraction("69.85322498")),
        ("70000 g", Fraction(70)),
        ("70 KG", Fraction(70)),
        ("154 LBS", Fraction("69.85322498")),
    ],
)
def test_weights(text: str, expected: Fraction) -> None:
    got = parse_measure(text, target="kilogram", default_unit="kilogram", what="weight", examples="70")
    assert got == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("170", Fraction(170)),
        ("5ft9in", Fraction("175.26")),
        ("5 ft 9 in", Fraction("175.26")),
        ("5'9\"", Fraction("175.26")),
        ("1.75 m", Fraction(175)),
        ("69 in", Fraction("175.26")),
    ],
)
def test_heights(text: str, expected: Fraction) -> None:
    got = parse_measure(text, target="centimeter", default_unit="centimeter", what="height", examples="170")
    assert got == expected


@pytest.mark.parametrize("text", ["1.7 m", "70 s", "seventy", "70,5"])
def test_weight_of_the_wrong_kind_or_not_a_number(text: str) -> None:
    with pytest.raises(UnitError):
        parse_measure(text, target="kilogram", default_unit="kilogram", what="weight", examples="70")


@pytest.mark.parametrize(
    ("text", "hours"), [("4 days", 96), ("96 h", 96), ("60 min", 1), ("90 minutes", Fraction(3, 2))]
)
def test_durations(text: str, hours: Fraction) -> None:
    assert parse_duration_hours(text) == hours


@pytest.mark.parametrize("text", ["4 mg", "four days", "0 h", "days"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(UnitError):
        parse_duration_hours(text)


def test_an_unknown_patient_unit_is_named_with_the_option_to_use() -> None:
    with pytest.raises(UnitError, match=r"weight '70 stone-ish': unknown unit 'stone-ish'; give it as e.g. --weight"):
        parse_measure("70 stone-ish", target="kilogram", default_unit="kilogram", what="weight", examples="--weight 70")


def test_the_units_known_without_pint_are_what_pint_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dose units, times and factors answered without importing pint (issue 29: the start-up of 'regimen expand')
    are each exactly what pint gives for them: the same tables emptied, pint works each out again."""
    from regimen.quantities import units

    dose_units, hours, factors = dict(units.KNOWN_DOSE_UNITS), dict(units.KNOWN_HOURS), dict(units.KNOWN_FACTORS)
    for table in ("KNOWN_DOSE_UNITS", "KNOWN_HOURS", "KNOWN_FACTORS"):
        monkeypatch.setattr(units, table, {})
    units._named_factor.cache_clear()
    try:
        assert {text: units.classify_dose_unit(text) for text in dose_units} == dose_units
        assert {text: units.parse_duration_hours(f"1 {text}") for text in hours} == hours
        assert {pair: units.factor(*pair) for pair in factors} == factors
    finally:
        units._named_factor.cache_clear()
    assert hours["days"] == 24 and hours["min"] == Fraction(1, 60) and dose_units["g/m²"].to_canonical == 1000


def test_expanding_the_bundled_regimens_does_not_import_pint() -> None:
    """Every bundled regimen and the AUC example expand, from the command line, with units pint need not read: the
    command does not import it (its import cost as much as the rest of 'regimen expand')."""
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "carboplatin-paclitaxel-gog158.toml"
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from regimen.cli.app import cli\n"
        "from regimen.protocol.catalog import regimen_ids\n"
        "for rid in [*regimen_ids(), sys.argv[1]]:\n"
        "    args = ['expand', rid, '--weight', '70', '--bsa', '1.8', '--age', '45', '--scr', '1', '--sex', 'female']\n"
        "    result = CliRunner().invoke(cli, args)\n"
        "    assert result.exit_code == 0, (rid, result.output)\n"
        "    assert 'pint' not in sys.modules, rid\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(example)], capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "ok", done.stdout + done.stderr


def test_a_doses_display_and_its_units_symbols_are_made_with_it_and_follow_a_replaced_value() -> None:
    """A dose's display and its unit's symbol and output unit are worked out once, when it is made (every dose of
    every plan reads them): they are its own after dataclasses.replace and pickling, and play no part in equality."""
    import dataclasses
    import pickle
    from decimal import Decimal

    from regimen.quantities.units import parse_dose

    dose = parse_dose("2400 mg/m2")
    assert (dose.display, dose.unit.symbol, dose.unit.output_unit) == ("2,400 mg/m²", "mg/m²", "mg")
    half = dataclasses.replace(dose, value=Decimal(1200))
    assert half.display == "1,200 mg/m²" and half != dose
    micro = dataclasses.replace(dose.unit, mass="microgram", time="day")
    assert (micro.symbol, micro.output_unit) == ("mcg/m²/day", "mcg")
    assert pickle.loads(pickle.dumps(dose)).display == "2,400 mg/m²"
    assert parse_dose("2400 mg/m2") == dose and "display" not in repr(dose)
