"""An order verification as a person reads it (the terminal table), as CSV and as JSON."""

from __future__ import annotations

import csv
import io
from fractions import Fraction
from typing import Any

from regimen.engine.plan import Plan
from regimen.engine.rows import exact_text
from regimen.engine.verify import Check, Expected, Verification, signed_percent
from regimen.export.jsontext import indented_json
from regimen.export.table import DISCLAIMER, columns, header_lines
from regimen.quantities.exact import amount_text, decimal_to_json, format_fraction, to_decimal

#: The columns of ``regimen verify --format csv``: one row per order, then one per administration not ordered.
CSV_FIELDS = (
    "order", "drug", "component", "cycle", "day", "ordered", "ordered_dose", "protocol_dose", "unit", "difference",
    "percent", "tolerance_percent", "verdict", "working", "notes", "problems",
)  # fmt: skip


# ---- numbers as people read them -------------------------------------------------------------------------


def signed_amount(x: Fraction, unit: str) -> str:
    text = amount_text(x, unit)
    return f"+{text}" if x > 0 else text


def percent_text(pct: Fraction | None) -> str:
    return "" if pct is None else signed_percent(pct)


def check_record(plan: Plan, c: Check) -> dict[str, Any]:
    """One check as JSON and CSV hold it: the ordered and protocol doses rounded by the plan's rule and exact."""
    e = c.expected
    rnd = plan.rounding
    diff, pct = c.difference, c.percent
    return {
        "order": c.order.source,
        "drug": e.drug if e else c.order.drug,
        "component": e.component if e else None,
        "cycle": e.cycle if e else c.order.cycle,
        "day": e.day if e else c.order.day,
        "ordered": c.order.dose.text,
        "ordered_dose": decimal_to_json(rnd(c.ordered)) if c.ordered is not None else None,
        "ordered_exact": exact_text(c.ordered) if c.ordered is not None else None,
        "protocol_dose": decimal_to_json(rnd(e.dose)) if e else None,
        "protocol_exact": exact_text(e.dose) if e else None,
        "unit": e.unit if e else None,
        "difference": decimal_to_json(rnd(diff)) if diff is not None else None,
        "difference_exact": exact_text(diff) if diff is not None else None,
        "percent": decimal_to_json(to_decimal(pct, 1)) if pct is not None else None,
        "percent_exact": exact_text(pct) if pct is not None else None,
        "tolerance_percent": decimal_to_json(to_decimal(c.tolerance, 6)),
        "verdict": c.verdict,
        "ok": c.ok,
        "working": e.working if e else None,
        "notes": list(c.notes),
        "problems": list(c.problems),
    }


def missing_record(plan: Plan, e: Expected) -> dict[str, Any]:
    return {
        "drug": e.drug,
        "component": e.component,
        "cycle": e.cycle,
        "day": e.day,
        "days": list(e.days),
        "doses": e.repeats,
        "protocol_dose": decimal_to_json(plan.rounding(e.dose)),
        "protocol_exact": exact_text(e.dose),
        "unit": e.unit,
        "working": e.working,
    }


def verification_to_dict(v: Verification) -> dict[str, Any]:
    """The JSON of ``regimen verify --format json`` and of the API's answer."""
    plan = v.plan
    reg = plan.regimen
    return {
        "regimen": {"id": reg.id, "name": reg.name, "version": reg.version},
        "patient": plan.to_dict()["patient"],
        "ok": v.ok,
        "summary": v.summary,
        "tolerance": {
            "default_percent": decimal_to_json(to_decimal(v.tolerance.default, 6)),
            "per_drug": {k: decimal_to_json(to_decimal(p, 6)) for k, p in v.tolerance.per_drug},
            "source": v.tolerance.source,
        },
        "checks": [check_record(plan, c) for c in v.checks],
        "missing": [missing_record(plan, e) for e in v.missing],
        "notes": list(v.notes),
        "warnings": list(plan.warnings),
        "rounding": plan.rounding.rule,
    }


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
    return indented_json(verification_to_dict(v))


__all__ = [
    "CSV_FIELDS",
    "check_record",
    "missing_record",
    "verification_csv",
    "verification_json",
    "verification_table",
    "verification_to_dict",
]
