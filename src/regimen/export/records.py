"""A plan as text: the JSON document and the CSV file, both made from the row records of :mod:`regimen.engine.rows`.

The JSON keys are a contract scripts rely on: add keys, never rename or remove them.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import PurePath

from regimen.engine.plan import Plan
from regimen.engine.rows import ROW_FIELDS, csv_record, plan_to_dict
from regimen.export.spreadsheet import safe_text


def plan_to_json(plan: Plan, *, paths: bool = True, compact: bool = False) -> str:
    """The plan as JSON. ``paths=False`` (an answer of the web API): the regimen's file (and the bundled file it
    shadows) by its name only, never where it lies on the server's disk. ``compact`` (the web API's answers): the
    same document without indentation or spaces, written by the standard library's C encoder; indented JSON is
    written by its pure-Python encoder, four times slower (two thirds of an answer's time)."""
    data = plan_to_dict(plan)
    if not paths:
        about = data["regimen"]
        for key in ("file", "shadows"):
            if about.get(key):
                about[key] = PurePath(str(about[key])).name
    if compact:
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def plan_to_csv(plan: Plan) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ROW_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in plan.administrations:
        writer.writerow({k: "" if v is None else safe_text(v) for k, v in csv_record(plan, r).items()})
    return out.getvalue()


__all__ = ["plan_to_csv", "plan_to_json"]
