"""Without a system package a test needs, the test skips with one line naming the apt-get install that enables it;
with REGIMEN_REQUIRE_SYSTEM=1 (as .ci/run sets it) it fails instead, so CI always runs those tests for real."""

from __future__ import annotations

import importlib.abc
import shutil
import sys
from typing import Any

import pytest
from tests import system


@pytest.fixture
def nothing_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine without PostgreSQL, Chromium or poppler: nothing on PATH, no /usr/lib/postgresql."""
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setattr(system.glob, "glob", lambda pattern: [])
    monkeypatch.delenv(system.REQUIRE, raising=False)


@pytest.mark.parametrize(
    ("find", "line"),
    [
        (system.postgres_bindir, "PostgreSQL's server not found: apt-get install postgresql"),
        (system.chromium, "Chromium or chromedriver not found: apt-get install chromium chromium-driver"),
        (system.poppler, "pdftoppm, pdftotext or pdfinfo not found: apt-get install poppler-utils"),
    ],
)
def test_a_missing_system_package_skips_naming_the_install(nothing_installed: None, find: Any, line: str) -> None:
    with pytest.raises(pytest.skip.Exception) as skipped:
        find()
    assert str(skipped.value) == line


def test_required_system_packages_fail_instead(nothing_installed: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(system.REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        system.postgres_bindir()
    assert str(failed.value) == (
        "PostgreSQL's server not found: apt-get install postgresql (REGIMEN_REQUIRE_SYSTEM is set, so these tests "
        "must run)"
    )
    monkeypatch.setenv(system.REQUIRE, "0")  # 0 or empty: not required
    with pytest.raises(pytest.skip.Exception):
        system.postgres_bindir()


class _NoPango(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> None:
        if name == "weasyprint":  # what cffi raises when WeasyPrint cannot open Pango
            raise OSError("cannot load library 'libpango-1.0-0'")
        return None


def test_weasyprint_without_pango_skips_naming_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(system.REQUIRE, raising=False)
    monkeypatch.delitem(sys.modules, "weasyprint", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_NoPango(), *sys.meta_path])
    with pytest.raises(pytest.skip.Exception) as skipped:
        system.weasyprint()
    assert str(skipped.value) == (
        "Pango (WeasyPrint draws the PDF handout with it) not found: apt-get install libpango-1.0-0 libpangoft2-1.0-0"
    )
