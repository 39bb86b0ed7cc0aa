"""Protocol caps and limits are protocol, per-drug dose levels, and course-length limits (issue 9.5).

Hand-computed: at 1.8 m², oxaliplatin 85 mg/m² = 153 mg; level -1 (65 mg/m²) = 117 mg; fluorouracil 400 mg/m² =
720 mg (no levels named for it, so full dose); vincristine 1.4 mg/m² × 1.8 m² = 2.52 mg, capped at 2 mg.
"""

from __future__ import annotations

from fractions import Fraction as F
from pathlib import Path

import pytest
from click.testing import CliRunner

import regimen
from regimen.cli import cli
from regimen.cli.app import cli_message
from regimen.clinical.options import ClinicalError, ClinicalOptions
from regimen.protocol.loader import load_text

TWO_DRUGS = """id = "two"
name = "two drugs with levels"
cycle_length = 14
[[source]]
citation = "test"
[[component]]
drug = "oxaliplatin"
dose = "85 mg/m²"
days = "1"
levels = { "-1" = "65 mg/m²", "-2" = "50%" }
[[component]]
drug = "fluorouracil"
dose = "400 mg/m²"
days = "1"
levels = { "-1" = "80%" }
[[component]]
drug = "vincristine"
dose = "1.4 mg/m²"
days = "1"
max_dose = "2 mg"
"""


def plan(options: ClinicalOptions | None = None) -> regimen.Plan:
    return regimen.expand(load_text(TWO_DRUGS), regimen.make_patient(bsa="1.8"), options=options)


def dose(p: regimen.Plan, drug: str) -> F:
    return next(r.dose for r in p.administrations if r.drug == drug)


def test_a_dose_level_for_one_drug_leaves_the_others_at_full_dose() -> None:
    p = plan(ClinicalOptions(dose_levels={"oxaliplatin": -1}))
    assert dose(p, "oxaliplatin") == F(117) and dose(p, "fluorouracil") == F(720)
    assert "dose level -1: 65 mg/m² instead of 85 mg/m²" in next(
        r.calculation for r in p.administrations if r.drug == "oxaliplatin"
    )
    both = plan(ClinicalOptions(dose_level=-1, dose_levels={"oxaliplatin": -2}))  # the drug's own level wins
    assert dose(both, "oxaliplatin") == F("76.5") and dose(both, "fluorouracil") == F(576)


def test_an_undefined_level_for_a_drug_is_an_error_naming_it() -> None:
    with pytest.raises(ClinicalError, match="fluorouracil has no dose level -2") as e:
        plan(ClinicalOptions(dose_levels={"fluorouracil": -2}))
    assert cli_message(e.value).startswith("--dose-level fluorouracil=-2")
    with pytest.raises(ClinicalError, match="has no drug or component 'aspirin'"):
        plan(ClinicalOptions(dose_levels={"aspirin": -1}))


def test_per_drug_dose_levels_on_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "two.toml"
    path.write_text(TWO_DRUGS)
    result = CliRunner().invoke(
        cli, ["expand", str(path), "--bsa", "1.8", "--dose-level", "oxaliplatin=-1", "--format", "csv"]
    )
    assert result.exit_code == 0, result.output
    doses = {line.split(",")[5]: line.split(",")[7] for line in result.output.splitlines()[1:]}
    assert doses == {"oxaliplatin": "117", "fluorouracil": "720", "vincristine": "2"}
    bad = CliRunner().invoke(cli, ["expand", str(path), "--bsa", "1.8", "--dose-level", "oxaliplatin=minus"])
    assert bad.exit_code == 1 and "--dose-level 'oxaliplatin=minus': give a whole number" in bad.output


def test_the_protocols_cap_is_no_warning_so_strict_plans_it(tmp_path: Path) -> None:
    p = plan(ClinicalOptions(strict=True))
    assert dose(p, "vincristine") == 2 and p.warnings == ()
    assert any(
        "capped at the regimen maximum 2 mg per administration (calculated 2.52 mg), as the protocol states" in n
        for n in p.notes
    )
    path = tmp_path / "two.toml"
    path.write_text(TWO_DRUGS)
    result = CliRunner().invoke(cli, ["expand", str(path), "--bsa", "1.8", "--strict"])
    assert result.exit_code == 0 and "1.4 mg/m² × 1.8 m² = 2.52 mg; capped at the regimen maximum 2 mg" in result.output


@pytest.mark.parametrize(("cycles", "warned"), [(17, False), (18, True)])
def test_a_course_past_the_sources_length_limit_warns(cycles: int, warned: bool) -> None:
    """oblimersen-dex maintenance: every 21 days, up to 1 year (365.25 days): 17 cycles = 357 days, 18 = 378."""
    p = regimen.expand(
        regimen.load("oblimersen-dex"), regimen.make_patient(weight="70"), cycles={"maintenance": cycles}
    )
    said = [w for w in p.warnings if "limit of 1 year" in w]
    assert bool(said) is warned
    if warned:
        assert said == [
            "maintenance: 18 cycles of 21 days (378 days) run past the source's limit of 1 year (365.25 days)"
        ]
