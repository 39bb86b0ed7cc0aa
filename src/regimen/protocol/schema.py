"""JSON Schema (draft 2020-12) of the regimen file format, for editors (``regimen schema``).

Built from the loader's own field tables (:mod:`regimen.protocol.fields`), so the schema accepts exactly
the keys the loader accepts. Regimen files are TOML; editors with TOML schema support (Taplo, Even Better
TOML) validate them against this. The loader's own checks go further (units, rules, references), so a file
can pass the schema and still be rejected with a precise message by ``regimen validate``.
"""

from __future__ import annotations

import json
from typing import Any

from regimen.protocol.fields import (
    COMPONENT_FIELDS,
    COMPONENT_REQUIRED,
    GATE_FIELDS,
    HEPATIC_FIELDS,
    MODIFICATION_FIELDS,
    ORGAN_REQUIRED,
    PHASE_FIELDS,
    RENAL_FIELDS,
    REQUIREMENT_FIELDS,
    SOURCE_FIELDS,
    TOP_FIELDS,
    TOP_REQUIRED,
    VARIANT_FIELDS,
)


def _object(fields: dict[str, dict[str, Any]], required: tuple[str, ...] = (), **more: Any) -> dict[str, Any]:
    return {"type": "object", "properties": fields, "required": list(required), **more, "additionalProperties": False}


SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://regimen.invalid/schema/regimen-1.json",
    "title": "regimen file",
    "description": "One oncology regimen, cited, as a protocol states it. Encode only what the source says.",
    **_object(
        TOP_FIELDS,
        TOP_REQUIRED,
        oneOf=[
            {"required": ["component"], "not": {"required": ["phase"]}},
            {"required": ["phase"], "not": {"required": ["component"]}},
        ],
    ),
    "$defs": {
        "source": _object(SOURCE_FIELDS, ("citation",)),
        "variant": _object(
            VARIANT_FIELDS,
            ("when",),
            description='A change that applies when a rule holds, e.g. when = "age > 60" or "cycle >= 2".',
            anyOf=[{"required": ["dose"]}, {"required": ["days"]}, {"required": ["duration"]}],
        ),
        "renal": _object(
            RENAL_FIELDS,
            ORGAN_REQUIRED,
            description="One row of the source's dose adjustment by creatinine clearance or GFR (mL/min).",
            anyOf=[{"required": ["min"]}, {"required": ["max"]}, {"required": ["below"]}],
            **{"not": {"required": ["max", "below"]}},
        ),
        "hepatic": _object(
            HEPATIC_FIELDS,
            ("measure", *ORGAN_REQUIRED),
            description="One row of the source's dose adjustment by bilirubin, AST or ALT.",
            anyOf=[{"required": ["min"]}, {"required": ["max"]}, {"required": ["below"]}],
            **{"not": {"required": ["max", "below"]}},
        ),
        "component": _object(
            COMPONENT_FIELDS, COMPONENT_REQUIRED, anyOf=[{"required": ["dose"]}, {"required": ["volume"]}]
        ),
        "requirement": _object(REQUIREMENT_FIELDS, ("id", "test", "before", "source")),
        "gate": _object(GATE_FIELDS, ("require", "source")),
        "modification": _object(MODIFICATION_FIELDS, ("when", "action", "source")),
        "phase": _object(PHASE_FIELDS, ("id", "component")),
    },
}


def schema_json() -> str:
    return json.dumps(SCHEMA, indent=2, ensure_ascii=False) + "\n"


__all__ = ["SCHEMA", "schema_json"]
