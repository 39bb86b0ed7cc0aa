"""System packages some tests need (installed with apt-get, not pip), and what a test does when one is missing.

Without one, each test that needs it skips with one line naming the ``apt-get install`` that enables it, so the
README's test command passes on a fresh machine. ``REGIMEN_REQUIRE_SYSTEM=1`` (``.ci/run`` sets it) turns those skips
into failures, so CI always runs these tests for real.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

REQUIRE = "REGIMEN_REQUIRE_SYSTEM"


@dataclass(frozen=True)
class SystemPackage:
    what: str  # what is missing, in words
    apt: str  # the Debian packages that provide it

    def missing(self) -> NoReturn:
        """Skip the test with one line naming the install, or fail it when REGIMEN_REQUIRE_SYSTEM is set."""
        message = f"{self.what} not found: apt-get install {self.apt}"
        if os.environ.get(REQUIRE, "") not in ("", "0"):
            pytest.fail(f"{message} ({REQUIRE} is set, so these tests must run)", pytrace=False)
        pytest.skip(message)


POSTGRESQL = SystemPackage("PostgreSQL's server", "postgresql")
CHROMIUM = SystemPackage("Chromium or chromedriver", "chromium chromium-driver")
POPPLER = SystemPackage("pdftoppm, pdftotext or pdfinfo", "poppler-utils")
PANGO = SystemPackage("Pango (WeasyPrint draws the PDF handout with it)", "libpango-1.0-0 libpangoft2-1.0-0")


def postgres_bindir() -> Path:
    """The folder of PostgreSQL's server programs (initdb, pg_ctl); Debian keeps them off PATH."""
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        candidates.append(subprocess.run([pg_config, "--bindir"], capture_output=True, text=True).stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for folder in candidates:
        if folder and (Path(folder) / "initdb").exists() and (Path(folder) / "pg_ctl").exists():
            return Path(folder)
    POSTGRESQL.missing()


def chromium() -> tuple[str, str]:
    """Debian's Chromium and its chromedriver, as paths."""
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver is None:
        CHROMIUM.missing()
    return browser, driver


def poppler() -> None:
    """pdftoppm, pdftotext and pdfinfo, which the tests use to look at PDF pages."""
    if not all(shutil.which(tool) for tool in ("pdftoppm", "pdftotext", "pdfinfo")):
        POPPLER.missing()


def weasyprint() -> None:
    """WeasyPrint importable: its pip package is in the test extra, but it loads Pango from the system."""
    try:
        import weasyprint  # noqa: F401
    except OSError:  # cffi's "cannot load library 'libpango-1.0-0'"
        PANGO.missing()


__all__ = [
    "CHROMIUM",
    "PANGO",
    "POPPLER",
    "POSTGRESQL",
    "REQUIRE",
    "chromium",
    "poppler",
    "postgres_bindir",
    "weasyprint",
]
