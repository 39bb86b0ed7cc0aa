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


def test_the_schema_accepts_exactly_the_keys_the_loader_accepts() -> None:
    """The schema is built from the loader's own key tables: at every level the two name the same fields."""
    from regimen.protocol import loader

    defs = SCHEMA["$defs"]
    assert set(SCHEMA["properties"]) == loader.TOP_KEYS
    assert set(defs["component"]["properties"]) == loader.COMPONENT_KEYS
    assert set(defs["variant"]["properties"]) == loader.VARIANT_KEYS
    assert set(defs["phase"]["properties"]) == loader.PHASE_KEYS
    assert set(defs["source"]["properties"]) == loader.SOURCE_KEYS
    assert set(SCHEMA["properties"]["eligibility"]["properties"]) == loader.ELIGIBILITY_KEYS
    relative = next(s for s in defs["component"]["properties"]["days"]["anyOf"] if s.get("type") == "object")
    assert set(relative["properties"]) == loader.RELATIVE_KEYS


@pytest.mark.parametrize("level", ["top", "component", "variant"])
def test_a_key_the_loader_refuses_fails_the_schema_too(level: str) -> None:
    from regimen.errors import RegimenFileError
    from regimen.protocol.loader import load_data

    data = copy.deepcopy(_cenersen())
    target = {"top": data, "component": data["component"][0], "variant": data["component"][2]["variant"][0]}[level]
    target["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, SCHEMA)
    with pytest.raises(RegimenFileError, match="unknown field 'colour'"):
        load_data(data)
