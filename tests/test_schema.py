"""The JSON Schema printed by 'regimen schema' accepts every bundled regimen and rejects broken ones."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import jsonschema
import pytest
from tests.conftest import REGIMENS

from regimen.protocol.schema import SCHEMA

FILES = sorted(REGIMENS.glob("*.toml"))


def test_the_schema_itself_is_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_bundled_regimens_match_the_schema(path: Any) -> None:
    jsonschema.validate(tomllib.loads(path.read_text()), SCHEMA)


def _cenersen() -> dict[str, Any]:
    return tomllib.loads((REGIMENS / "cenersen-arm3.toml").read_text())


@pytest.mark.parametrize(
    "breakage",
    [
        lambda d: d.pop("source"),
        lambda d: d.update(colour="red"),
        lambda d: d["component"][0].pop("dose"),
        lambda d: d["component"][0].update(method="drip"),
        lambda d: d["component"][0].update(days="0-"),
        lambda d: d["component"][1].update(days={"relative_to": "cenersen"}),
        lambda d: d["component"][2]["variant"][0].pop("when"),
        lambda d: d.update(phase=[{"id": "x", "component": d["component"]}]),
    ],
)
def test_broken_files_fail_the_schema(breakage: Any) -> None:
    data = copy.deepcopy(_cenersen())
    breakage(data)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)
