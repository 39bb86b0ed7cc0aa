"""Golden outputs: the table, CSV and JSON for every seed regimen, compared byte for byte.

Regenerate after an intended change with ``REGIMEN_UPDATE_GOLDEN=1 pytest tests/test_golden.py``
and review the diff like code: every changed number must be explained.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.conftest import SEED_IDS

from regimen.cli import cli

GOLDEN = Path(__file__).parent / "golden" / "expand"
PATIENT = ["--weight", "70", "--bsa", "1.8", "--age", "45", "--start", "2026-12-01"]


def normalise(fmt: str, text: str) -> str:
    if fmt != "json":
        return text
    data = json.loads(text)
    data["regimen"]["file"] = Path(data["regimen"]["file"]).name  # absolute path differs between checkouts
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
@pytest.mark.parametrize("regimen_id", SEED_IDS)
def test_golden(regimen_id: str, fmt: str) -> None:
    result = CliRunner().invoke(cli, ["expand", regimen_id, *PATIENT, "--format", fmt])
    assert result.exit_code == 0, result.output
    got = normalise(fmt, result.output)
    path = GOLDEN / f"{regimen_id}.{ {'table': 'txt'}.get(fmt, fmt) }"
    if os.environ.get("REGIMEN_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got, encoding="utf-8")
    assert path.exists(), f"missing golden file {path}: run with REGIMEN_UPDATE_GOLDEN=1 and review it"
    assert got == path.read_text(encoding="utf-8")
