"""Doses that must never be produced (issue 10): each input below gave a wrong dose under, at most, a warning.

Each case is an error (one line on the command line) or a warning that --strict refuses, never a number.
Expected values are worked out by hand in the comments.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import regimen
from regimen.cli import cli
from regimen.cli.app import cli_message
from regimen.clinical import body_size
from regimen.clinical.options import ClinicalOptions
from regimen.engine.plan import Plan
from regimen.errors import PatientError
from regimen.protocol.loader import load_text

PER_KG = '''id = "per-kg"
name = "A dose per kg"
[[source]]
citation = "test"
[[component]]
drug = "drug-a"
dose = "1 mg/kg"
days = "1"
'''

AUC5 = '''id = "auc5"
name = "Carboplatin AUC 5"
[[source]]
citation = "test"
[[component]]
drug = "carboplatin"
dose = "AUC 5"
days = "1"
'''


MIXED = PER_KG + '[[component]]\ndrug = "drug-b"\ndose = "1 mg/m2"\ndays = "1"\n'


def reg(text: str) -> regimen.Regimen:
    return load_text(text, "<test>")


def plan(r: regimen.Regimen | str, options: ClinicalOptions | None = None, **patient: object) -> Plan:
    rr = regimen.load(r) if isinstance(r, str) else r
    return regimen.expand(rr, regimen.make_patient(**patient), options=options)  # type: ignore[arg-type]


def error_line(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(cli, ["expand", *args])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert result.stdout == ""
    return lines[0]


@pytest.fixture
def per_kg(tmp_path: Path) -> str:
    path = tmp_path / "per-kg.toml"
    path.write_text(PER_KG, encoding="utf-8")
    return str(path)


# ---- 1. a dosing weight outside its formula's range -------------------------------------------------------

def test_ideal_weight_of_a_short_patient_is_an_error_not_a_negative_dose(runner: CliRunner, per_kg: str) -> None:
    # Devine, female, 100 cm = 39.37 in: 45.5 + 2.3 × (39.37 − 60) = −1.95 kg, so "−1.95 mg" before
    line = error_line(runner, per_kg, "--weight", "20", "--height", "100", "--sex", "female", "--dosing-weight",
                      "ideal")
    assert "ideal body weight (Devine)" in line and "152.4 cm (60 in)" in line and "height 100 cm" in line
    assert "Devine BJ" in line and "--dosing-weight actual" in line


@pytest.mark.parametrize("key", ["ideal", "ideal-devine", "ideal-robinson", "ideal-miller", "adjusted"])
def test_every_formula_using_ideal_weight_stops_under_60_inches(key: str) -> None:
    with pytest.raises(PatientError, match=r"defined for adults at least 152\.4 cm \(60 in\) tall") as e:
        plan(reg(PER_KG), ClinicalOptions(dosing_weight=key), weight="45", height="152.3", sex="male")
    assert "dosing_weight actual" in str(e.value) and "--dosing-weight actual" in cli_message(e.value)
    # 152.4 cm is 60 in exactly: the formula's own base value (Devine male 50 kg), no error
    at_60_in = plan(reg(PER_KG), ClinicalOptions(dosing_weight=key), weight="50", height="152.4", sex="male")
    assert at_60_in.administrations[0].dose > 0


def test_ideal_weight_of_a_child_is_an_error() -> None:
    with pytest.raises(PatientError, match=r"defined for adults .* age 12 years"):
        plan(reg(PER_KG), ClinicalOptions(dosing_weight="ideal"), weight="45", height="155", sex="female", age="12")


def test_a_dosing_weight_at_or_below_zero_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # no formula in range gives one today; the guard stays in case a formula or a factor ever does
    monkeypatch.setattr(body_size, "lean_body_weight", lambda *args: -1.0)
    with pytest.raises(PatientError, match="lean body weight -1 kg is not a possible dosing weight"):
        plan(reg(PER_KG), ClinicalOptions(dosing_weight="lean"), weight="70", height="170", sex="male")
