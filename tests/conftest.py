"""Shared fixtures: a patient, the CLI runner, and a folder for user regimen files."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import settings

# Property tests run derandomized (a fixed sequence of examples) so that a run of the suite is reproducible and CI
# decides on the code, not on the draw; REGIMEN_HYPOTHESIS=random explores afresh (do so before a release).
settings.register_profile("reproducible", derandomize=True)
settings.register_profile("random", derandomize=False)
settings.load_profile("random" if os.environ.get("REGIMEN_HYPOTHESIS") == "random" else "reproducible")

ROOT = Path(__file__).resolve().parents[1]
REGIMENS = ROOT / "regimens"
SEED_IDS = [
    "cenersen-arm1",
    "cenersen-arm2",
    "cenersen-arm3",
    "cenersen-fcr",
    "oblimersen-fc",
    "oblimersen-dtic",
    "oblimersen-dex",
    "oblimersen-mono",
]
#: Widely used regimens shipped as reference examples (status "reference example"; docs/reference-sources.md).
REFERENCE_IDS = [
    "mfolfox6",
    "folfiri",
    "capox",
    "r-chop-21",
    "dd-ac-t",
    "abvd",
    "7-plus-3",
    "gemcitabine-d1-8-15",
    "cisplatin-etoposide",
    "paclitaxel-weekly",
]
BUNDLED_IDS = SEED_IDS + REFERENCE_IDS


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(autouse=True)
def _no_user_regimen_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the bundled regimens unless they set REGIMEN_PATH themselves."""
    monkeypatch.delenv("REGIMEN_PATH", raising=False)


#: The tests' today: their course dates (day 1 2026-12-01) keep their meaning whenever the suite runs (a course
#: whose day 1 is more than 30 days before today needs --confirm).
TESTS_TODAY = dt.date(2026, 12, 6)


@pytest.fixture(autouse=True, scope="session")
def _course_today() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:  # for the session: fixtures that start courses come first
        patch.setattr("regimen.cli.course._today", lambda: TESTS_TODAY)
        yield
