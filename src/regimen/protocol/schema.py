"""JSON Schema (draft 2020-12) of the regimen file format, for editors (``regimen schema``).

Built from the loader's own field tables (:mod:`regimen.protocol.fields`), so the schema accepts exactly the
keys the loader accepts, and never a value the loader refuses by its type, pattern or allowed values. Regimen
files are TOML; editors with TOML schema support (Taplo, Even Better TOML) validate them against this. The
loader's own checks go further (units, rules, references), so a file can pass the schema and still be rejected
with a precise message by ``regimen validate``.
"""

from __future__ import annotations

import json
from typing import Any

from regimen.protocol.fields import TABLES, TOP

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://regimen.invalid/schema/regimen-1.json",
    "title": "regimen file",
    **TOP.schema(),
    "$defs": {name: table.schema() for name, table in TABLES.items() if name != "relative_days"},
}


def schema_json() -> str:
    return json.dumps(SCHEMA, indent=2, ensure_ascii=False) + "\n"


__all__ = ["SCHEMA", "schema_json"]
