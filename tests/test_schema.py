"""The JSON Schema printed by 'regimen schema' accepts every bundled regimen and rejects broken ones."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import jsonschema
import pytest
from tests.conftest import REGIMENS
from tests.helpers import schema_validator

from regimen.protocol.schema import SCHEMA

FILES = sorted(REGIMENS.glob("*.toml"))


def test_the_schema_itself_is_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_bundled_regimens_match_the_schema(path: Any) -> None:
    schema_validator().validate(tomllib.loads(path.read_text()))


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
        schema_validator().validate(data)


def test_the_schema_is_printed_from_the_loaders_field_tables() -> None:
    """The schema's tables are the loader's (regimen.protocol.fields): the same keys and required ones; what the
    loader does with them is probed in tests/test_field_tables.py."""
    from regimen.protocol.fields import TABLES, TOP

    assert set(SCHEMA["properties"]) == TOP.keys and SCHEMA["required"] == list(TOP.required)
    for name, table in TABLES.items():
        if name == "relative_days":
            continue
        assert set(SCHEMA["$defs"][name]["properties"]) == table.keys, name
        assert SCHEMA["$defs"][name]["required"] == list(table.required), name


@pytest.mark.parametrize("level", ["top", "component", "variant"])
def test_a_key_the_loader_refuses_fails_the_schema_too(level: str) -> None:
    from regimen.errors import RegimenFileError
    from regimen.protocol.loader import load_data

    data = copy.deepcopy(_cenersen())
    target = {"top": data, "component": data["component"][0], "variant": data["component"][2]["variant"][0]}[level]
    target["colour"] = "red"
    with pytest.raises(jsonschema.ValidationError):
        schema_validator().validate(data)
    with pytest.raises(RegimenFileError, match="unknown field 'colour'"):
        load_data(data)
