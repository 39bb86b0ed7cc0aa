"""The one row schema of a plan: the JSON contract, the record of each administration, and the DataFrame.

Every output (JSON, CSV, the terminal table's numbers, pandas, cohort frames, Parquet) is made from the
records built here. Numbers are rounded once, by the plan's rounding rule, and written without float
artefacts; ``dose_exact`` keeps the exact amount as text (a decimal, or a fraction when it does not
terminate). The JSON keys are a contract scripts rely on: add keys, never rename or remove them.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from regimen.model import Administration, Total
from regimen.quantities.exact import decimal_to_json, exact_decimal, format_decimal, is_terminating

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from regimen.engine.plan import Plan

ROW_FIELDS = (
    "phase", "cycle", "day", "course_day", "date", "drug", "component", "dose", "dose_exact", "dose_unit", "route",
    "method", "rate", "rate_unit", "duration_h", "infusion_day", "infusion_days", "infusion_hours", "calculation",
    "warnings",
)


def exact_text(x: Fraction) -> str:
    """Exact value as text: '21.817428', or '490/24'-style fraction when it does not terminate."""
    if is_terminating(x):
        return format_decimal(exact_decimal(x, 30), grouping=False)
    return f"{x.numerator}/{x.denominator}"


def _num(d: Decimal | None) -> int | float | None:
    return None if d is None else decimal_to_json(d)


def row_record(plan: Plan, r: Administration) -> dict[str, Any]:
    rnd = plan.rounding
    return {
        "phase": r.phase,
        "cycle": r.cycle,
        "day": r.day,
        "course_day": r.course_day,
        "date": r.date.isoformat() if r.date else None,
        "drug": r.drug,
        "component": r.component,
        "dose": _num(rnd(r.dose)),
        "dose_exact": exact_text(r.dose),
        "dose_unit": r.dose_unit,
        "route": r.route,
        "method": r.method,
        "rate": _num(rnd(r.rate)) if r.rate is not None else None,
        "rate_unit": r.rate_unit,
        "duration_h": _num(exact_decimal(r.duration_hours, 6)) if r.duration_hours is not None else None,
        "infusion_day": r.infusion.day_index if r.infusion else None,
        "infusion_days": r.infusion.days if r.infusion else None,
        "infusion_hours": _num(exact_decimal(r.infusion.hours, 6)) if r.infusion else None,
        "calculation": r.calculation,
        "warnings": list(r.warnings),
    }


def csv_record(plan: Plan, r: Administration) -> dict[str, Any]:
    """The row as CSV and cohort frames hold it: the record, with its warnings joined by '; '."""
    rec = row_record(plan, r)
    rec["warnings"] = "; ".join(rec["warnings"])
    return rec


def total_record(plan: Plan, t: Total) -> dict[str, Any]:
    return {"drug": t.drug, "phase": t.phase, "cycle": t.cycle, "amount": _num(plan.rounding(t.amount)),
            "amount_exact": exact_text(t.amount), "unit": t.unit,
            # a drug given by several components has a total per component; a plan made without a value a rule
            # needs has a total per outcome
            "component": t.component, "condition": t.condition}


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    reg = plan.regimen
    p = plan.patient
    values = {"weight_kg": p.weight_kg, "bsa_m2": p.bsa_m2, "age_years": p.age_years, "height_cm": p.height_cm}
    return {
        "regimen": {
            "id": reg.id, "name": reg.name, "version": reg.version, "status": reg.status,
            "indication": reg.indication, "file": reg.path,
            "sources": [{"citation": s.citation, "registry": s.registry, "url": s.url} for s in reg.sources],
            "cycles": dict(plan.cycles),
        },
        "patient": {**{k: _num(exact_decimal(v, 8)) if v is not None else None for k, v in values.items()},
                    "sex": p.sex, "working": list(p.working)},
        "start": plan.start.isoformat() if plan.start else None,
        "administrations": [row_record(plan, r) for r in plan.administrations],
        "totals": {
            "by_cycle": [total_record(plan, t) for t in plan.totals if t.cycle is not None],
            "course": [total_record(plan, t) for t in plan.totals if t.cycle is None],
        },
        "notes": list(plan.notes),
        "warnings": list(plan.warnings),
        "rounding": plan.rounding.rule,
    }


def plan_to_dataframe(plan: Plan) -> pd.DataFrame:
    import pandas as pd

    records = [row_record(plan, r) for r in plan.administrations]
    frame = pd.DataFrame.from_records(records, columns=list(ROW_FIELDS))
    if not frame.empty:
        frame["date"] = pd.to_datetime(frame["date"])
    return frame


__all__ = ["ROW_FIELDS", "csv_record", "exact_text", "plan_to_dataframe", "plan_to_dict", "row_record",
           "total_record"]
