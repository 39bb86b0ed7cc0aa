"""A plan as text: the JSON document and the CSV file, both made from the row records of :mod:`regimen.engine.rows`.

The JSON keys are a contract scripts rely on: add keys, never rename or remove them.
"""

from __future__ import annotations

import csv
import io
from pathlib import PurePath
from typing import Any

from regimen.engine.plan import Plan
from regimen.engine.rows import ROW_FIELDS, csv_records, plan_to_dict
from regimen.export.jsontext import indented_json
from regimen.export.spreadsheet import safe_text


def plan_record(plan: Plan, *, paths: bool = True) -> dict[str, Any]:
    """The plan's JSON document as Python values (:func:`~regimen.engine.rows.plan_to_dict`). ``paths=False`` (an
    answer of the web API): the regimen's file (and the bundled file it shadows) by its name only, never where it
    lies on the server's disk."""
    data = plan_to_dict(plan)
    if not paths:
        about = data["regimen"]
        for key in ("file", "shadows"):
            if about.get(key):
                about[key] = PurePath(str(about[key])).name
    return data


def plan_to_json(plan: Plan, *, paths: bool = True) -> str:
    """The plan as JSON, indented (:func:`plan_record`)."""
    return indented_json(plan_record(plan, paths=paths))


def plan_to_csv(plan: Plan) -> str:
    """The plan as CSV: the header is the row schema's fields, each row its :func:`csv_record` in that order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ROW_FIELDS)
    # a record's keys are the schema's fields in order (a test holds them so): its values are written as a list,
    # without csv.DictWriter's check of every row's keys
    writer.writerows(["" if v is None else safe_text(v) for v in record.values()] for record in csv_records(plan))
    return out.getvalue()


__all__ = ["plan_record", "plan_to_csv", "plan_to_json"]
