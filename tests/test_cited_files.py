"""The documents the bundled regimen files name exist: their comments and notes once cited a ``SOURCES.md`` that
never did (the sources of the reference examples are in docs/reference-sources.md, also a page of the site)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.conftest import REFERENCE_IDS, REGIMENS, ROOT

FILES = sorted(REGIMENS.glob("*.toml"))
DOCUMENT = re.compile(r"[\w./-]+\.md\b")


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_document_a_regimen_file_names_is_in_the_repository(path: Path) -> None:
    for name in DOCUMENT.findall(path.read_text(encoding="utf-8")):
        assert (ROOT / name).is_file(), f"{path.name} names {name}, which is not a file of the repository"


@pytest.mark.parametrize("regimen_id", REFERENCE_IDS)
def test_every_reference_example_points_to_its_sources_and_has_a_section_there(regimen_id: str) -> None:
    text = (REGIMENS / f"{regimen_id}.toml").read_text(encoding="utf-8")
    assert "docs/reference-sources.md" in text
    sources = (ROOT / "docs" / "reference-sources.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \d+\. .*\(`{re.escape(regimen_id)}\.toml`\)", sources, re.M), regimen_id
