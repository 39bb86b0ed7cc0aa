"""Static checks as tests: mypy --strict on the package, ruff on everything (rules in pyproject.toml)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from tests.conftest import ROOT


@pytest.mark.slow
def test_mypy_strict_on_the_package() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "src/regimen"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "src", "tests", "examples", "benchmarks"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_applied() -> None:
    """The tree is formatted by ruff format (settings in pyproject.toml); pre-commit and 'nox -s lint' apply it."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "format",
            "--check",
            "src",
            "tests",
            "examples",
            "benchmarks",
            "docs",
            "noxfile.py",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
