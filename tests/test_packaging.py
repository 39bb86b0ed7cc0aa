"""The wheel ships the bundled regimens and the example formulary, so 'pip install .' finds them."""

from __future__ import annotations

import doctest
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from tests.conftest import ROOT, SEED_IDS

import regimen


@pytest.mark.slow
def test_wheel_contains_regimens_and_formulary(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    wheel = next(tmp_path.glob("regimen_schedules-*.whl"))  # the distribution name; the import name is regimen
    names = set(zipfile.ZipFile(wheel).namelist())
    for regimen_id in SEED_IDS:
        assert f"regimen/regimens/{regimen_id}.toml" in names
    assert "regimen/formulary/example.toml" in names
    assert "regimen/py.typed" in names
    assert "regimen/clinical/data/anthracycline-esc-2022.toml" in names
    assert "regimen/clinical/data/anthracycline-ighg-2025.toml" in names


def test_docstring_examples_run() -> None:
    failures, tried = doctest.testmod(regimen, verbose=False)
    assert tried > 0 and failures == 0


def test_importing_regimen_stays_light() -> None:
    code = "import sys, regimen; print(sorted(m for m in ('pandas', 'pint', 'icalendar') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
