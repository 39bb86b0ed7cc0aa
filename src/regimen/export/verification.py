"""An order verification as a person reads it (the terminal table), as CSV and as JSON."""

from __future__ import annotations

import csv
import io
import json

from regimen.engine.verify import (
    Check,
    Verification,
    check_record,
    missing_record,
    percent_text,
    signed_amount,
)
from regimen.export.table import DISCLAIMER, columns, header_lines
from regimen.quantities.exact import amount_text, format_fraction

#: The columns of ``regimen verify --format csv``: one row per order, then one per administration not ordered.
CSV_FIELDS = (
    "order", "drug", "component", "cycle", "day", "ordered", "ordered_dose", "protocol_dose", "unit", "difference",
    "percent", "tolerance_percent", "verdict", "working", "notes", "problems",
)  # fmt: skip


_VERDICTS = {"within": "ok", "outside": "OUTSIDE", "not checked": "NOT CHECKED"}


def _row(c: Check) -> list[str]:
    e = c.expected
    diff = c.difference
    return [
        c.order.source,
        e.component if e else c.order.drug,
        e.when.removeprefix("cycle ").replace(", day ", "/") if e else "",
        c.order.dose.text,
        amount_text(c.ordered, e.unit) if c.ordered is not None and e else "",
        amount_text(e.dose, e.unit) if e else "",
        signed_amount(diff, e.unit) if diff is not None and e else "",
        percent_text(c.percent),
        f"±{format_fraction(c.tolerance)} %",
        _VERDICTS[c.verdict] if c.verdict != "within" or not c.problems else "dose ok, PROBLEM",
    ]


def verification_table(v: Verification) -> str:
    """The terminal's text: the plan's header, one line per order, the working, what is converted or lacking."""
    plan = v.plan
    out = header_lines(plan)
    out.append(f"Tolerance: ±{format_fraction(v.tolerance.default)} % of the protocol's dose ({v.tolerance.source})")
    for key, pct in v.tolerance.per_drug:
        out.append(f"  {key}: ±{format_fraction(pct)} %")
    out.append("")
    headers = ["Order", "Drug", "Cycle/day", "Ordered", "As", "Protocol", "Difference", "%", "Tolerance", "Verdict"]
    out += columns(headers, [_row(c) for c in v.checks]) if v.checks else ["No order given."]
    details = []
    for c in v.checks:
        lines = [f"  working: {c.expected.working}"] if c.expected else []
        lines += [f"  note: {n}" for n in c.notes]
        lines += [f"  PROBLEM: {p}" for p in c.problems]
        if lines:
            drug = c.expected.component if c.expected else c.order.drug
            details += [f"{c.order.source} ({drug}):", *lines]
    if details:
        out += ["", *details]
    if v.missing:
        out += ["", "Not ordered (in the protocol for the cycles ordered):"]
        out += [f"- {e.component}, {e.when}: {amount_text(e.dose, e.unit)} ({e.working})" for e in v.missing]
    if v.notes:
        out += ["", "Notes:", *(f"- {n}" for n in v.notes)]
    if plan.warnings:
        out += ["", "Warnings:", *(f"- {w}" for w in plan.warnings)]
    out += ["", v.summary, plan.rounding.rule, "", DISCLAIMER]
    return "\n".join(out) + "\n"


def verification_csv(v: Verification) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for c in v.checks:
        record = check_record(v.plan, c)
        writer.writerow({**record, "notes": "; ".join(record["notes"]), "problems": "; ".join(record["problems"])})
    for e in v.missing:
        writer.writerow({**missing_record(v.plan, e), "verdict": "missing", "problems": "not ordered"})
    return buffer.getvalue()


def verification_json(v: Verification) -> str:
    return json.dumps(v.to_dict(), indent=2, ensure_ascii=False) + "\n"


__all__ = ["CSV_FIELDS", "verification_csv", "verification_json", "verification_table"]
