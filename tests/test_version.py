"""The version is written once, as ``regimen.__version__``; the metadata and ``regimen --version`` agree with it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.conftest import ROOT

import regimen
from regimen.cli import cli


def test_pyproject_reads_the_version_from_the_package() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["hatch"]["version"]["path"] == "src/regimen/__init__.py"


def test_metadata_version_is_the_package_version() -> None:
    # An editable install records the version when it is installed: after changing __version__, reinstall.
    assert version("regimen-schedules") == regimen.__version__  # the distribution name; the import name is regimen


def test_version_option_prints_the_package_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith(f"version {regimen.__version__}")


@pytest.mark.slow
def test_console_script_prints_the_package_version() -> None:
    script = Path(sys.executable).with_name("regimen")  # the console script pip installed beside this interpreter
    command = [str(script)] if script.exists() else [sys.executable, "-m", "regimen"]
    result = subprocess.run([*command, "--version"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"regimen, version {regimen.__version__}"
