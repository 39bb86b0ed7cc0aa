"""A plan as text: the JSON document and the CSV file, both made from the row records of :mod:`regimen.engine.rows`.

The JSON keys are a contract scripts rely on: add keys, never rename or remove them.
"""

from __future__ import annotations

import csv
import io
import json

from regimen.engine.plan import Plan
from regimen.engine.rows import ROW_FIELDS, csv_record, plan_to_dict
from regimen.export.spreadsheet import safe_text


def plan_to_json(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, ensure_ascii=False) + "\n"


def plan_to_csv(plan: Plan) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=ROW_FIELDS, lineterminator="\n")
    writer.writeheader()
    for r in plan.administrations:
        writer.writerow({k: "" if v is None else safe_text(v) for k, v in csv_record(plan, r).items()})
    return out.getvalue()


__all__ = ["plan_to_csv", "plan_to_json"]
