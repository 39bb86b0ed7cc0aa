"""The one row schema of a plan: the JSON contract, the record of each administration, and the DataFrame.

Every output (JSON, CSV, the terminal table's numbers, pandas, cohort frames, Parquet) is made from the
records built here. Numbers are rounded once, by the plan's rounding rule, and written without float
artefacts; ``dose_exact`` keeps the exact amount as text (a decimal, or a fraction when it does not
terminate). The JSON keys are a contract scripts rely on: add keys, never rename or remove them.

:data:`ROW_SCHEMA` gives each column one typing, used by every frame (``Plan.to_dataframe()``, cohort frames
from pandas and Dask, Parquet) and one CSV spelling, used by every CSV (``regimen expand --format csv`` and cohort
files). Each column is of one kind:

========  ==========================  ================  ===============================================
kind      in a record (JSON, CSV row)  pandas dtype      CSV text
========  ==========================  ================  ===============================================
text      str, or None                object            as is; empty for None
int       int                         int64             digits
count     int, or None                Int64 (nullable)  digits; empty for missing
number    int or float (rounded once)  float64           as ``regimen expand`` writes it: 168, 21.6 (never
                                                        168.0); empty for missing
date      'YYYY-MM-DD', or None        datetime64[s]     YYYY-MM-DD; empty for missing
========  ==========================  ================  ===============================================

``warnings`` and ``plan_warnings`` are text in frames and CSV (joined by '; ') and lists in JSON. A column that is
not in the schema (a cohort's ``patient_id``) is text.

The table :data:`ROW_SCHEMA` is the one place a column is declared, with its kind, unit, nullability and meaning:
the CSV header (:data:`ROW_FIELDS`), the pandas dtypes, the Arrow schema (:func:`arrow_schema`) and the OpenAPI
description of a row (:func:`row_json_schema`) are derived from it, and a test holds :func:`row_record`'s keys
(written out by hand: it runs for every row) to it. The exact dose is ``dose_exact`` (text) and, one type per
column, ``dose_exact_num`` / ``dose_exact_den`` (integers, lowest terms).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from regimen.engine.preparations import Preparation, preparations
from regimen.engine.timing import wall
from regimen.errors import PatientError
from regimen.model import Administration, Regimen, Total
from regimen.quantities.clock import tzinfo_for
from regimen.quantities.exact import (  # exact_text: here too, where the rows have always had it
    Rounding,
    decimal_to_json,
    exact_decimal,
    exact_text,
)
from regimen.quantities.limits import MAX_EXACT_PART

if TYPE_CHECKING:  # pragma: no cover
    from regimen.engine.plan import Plan

#: The pandas dtype of each kind of column.
DTYPES: dict[str, str] = {
    "text": "object",
    "int": "int64",
    "count": "Int64",
    "number": "float64",
    "date": "datetime64[s]",
}


#: The Arrow type of each kind of column, by its alias (``pyarrow.type_for_alias``: pyarrow is imported only when a
#: frame is written).
ARROW_TYPES: dict[str, str] = {
    "text": "string",
    "int": "int64",
    "count": "int64",
    "number": "float64",
    "date": "timestamp[s]",
}
#: The JSON Schema type of each kind of column (the OpenAPI description of a row).
JSON_TYPES: dict[str, str] = {
    "text": "string",
    "int": "integer",
    "count": "integer",
    "number": "number",
    "date": "string",
}


@dataclass(frozen=True, slots=True)
class Field:
    """One column of the row schema: the one place a column is declared. Its CSV header and spelling, its pandas
    dtype, its Arrow type and its OpenAPI description are all derived from these attributes.

    ``kind``: see the module's table. ``unit``: the unit of a number, or the column that names it ('dose_unit').
    ``nullable``: may be missing (None in JSON, empty in CSV). ``listed``: a list of texts in JSON, '; '-joined text
    in CSV and frames. ``format``: the JSON Schema format of a text ('date-time'); ``enum``: its only values."""

    name: str
    kind: str
    description: str
    unit: str | None = None
    nullable: bool = False
    listed: bool = False
    format: str | None = None
    enum: tuple[str, ...] = ()

    @property
    def dtype(self) -> str:
        return DTYPES[self.kind]

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of the column in a row of ``regimen expand --format json`` (the OpenAPI description)."""
        schema: dict[str, Any]
        if self.listed:
            schema = {"type": "array", "items": {"type": "string"}}
        else:
            base = JSON_TYPES[self.kind]
            schema = {"type": [base, "null"] if self.nullable else base}
            fmt = "date" if self.kind == "date" else self.format
            if fmt:
                schema["format"] = fmt
            if self.enum:
                schema["enum"] = list(self.enum)
        schema["description"] = self.description + (f" (unit: {self.unit})" if self.unit else "")
        return schema


_TEXTS_NOTE = "a list in JSON; '; '-joined in CSV and frames"

ROW_SCHEMA: tuple[Field, ...] = (
    Field("phase", "text", "the phase of the regimen ('main', 'induction', ...)"),
    Field("cycle", "int", "the cycle, from 1 within its phase"),
    Field("day", "int", "the day of the cycle, from 1"),
    Field("course_day", "int", "the day of the whole course, from 1"),
    Field("date", "date", "the calendar date, when the plan has a start date", nullable=True),
    Field("drug", "text", "the drug's name"),
    Field("component", "text", "the regimen file's component id this row comes from"),
    Field("dose", "number", "the dose, rounded for display as the plan's rounding rule says", unit="dose_unit"),
    Field(
        "dose_exact",
        "text",
        "the exact dose as text: a decimal when it terminates ('805.6'), else a fraction ('290016/115'); "
        "dose_exact_num / dose_exact_den hold it as numbers",
        unit="dose_unit",
    ),
    Field("dose_unit", "text", "the unit of dose, dose_exact and dose_exact_num / dose_exact_den ('mg')"),
    Field("route", "text", "the route ('IV', 'PO', ...)", nullable=True),
    Field("method", "text", "how it is given ('bolus', 'infusion', 'continuous infusion', ...)", nullable=True),
    Field("rate", "number", "the infusion rate, rounded for display", unit="rate_unit", nullable=True),
    Field("rate_unit", "text", "the unit of rate ('mg/h')", nullable=True),
    Field("duration_h", "number", "the hours of drug given on this day", unit="h", nullable=True),
    Field("infusion_day", "count", "a continuous infusion's day: 1 for its first treatment day", nullable=True),
    Field("infusion_days", "count", "the treatment days a continuous infusion spans", nullable=True),
    Field("infusion_hours", "number", "a continuous infusion's whole length", unit="h", nullable=True),
    Field("calculation", "text", "the working, from the protocol's dose to this one"),
    Field("warnings", "text", f"this row's warnings ({_TEXTS_NOTE})", listed=True),
    # added after the first release (keys are added, never renamed or removed):
    Field(
        "condition",
        "text",
        "the outcome of an undecided rule this row belongs to ('age ≤ 60 years'): given only then, in a plan made "
        "without a value a rule needs",
        nullable=True,
    ),
    Field("dose_number", "count", "with several doses a day: which one (1, 2, ...)", nullable=True),
    Field("doses_per_day", "count", "with several doses a day: how many", nullable=True),
    Field(
        "start",
        "text",
        "when it starts, ISO 8601 in the plan's zone with its offset",
        nullable=True,
        format="date-time",
    ),
    Field(
        "end", "text", "when it ends, ISO 8601 in the plan's zone with its offset", nullable=True, format="date-time"
    ),
    Field("time_note", "text", "how the start was found, or why it is not known", nullable=True),
    # on every row so that a CSV file or a cohort's output carries them
    Field("plan_warnings", "text", f"the plan's own warnings, not a row's ({_TEXTS_NOTE})", listed=True),
    Field(
        "role",
        "text",
        "supportive care (premedication, hydration, ...) is apart from the anticancer drugs",
        enum=("anticancer", "supportive"),
    ),
    # the exact dose as two integers, in lowest terms (issue 26): dose_exact_num / dose_exact_den == dose_exact
    Field("dose_exact_num", "int", "the exact dose's numerator, in lowest terms", unit="dose_unit"),
    Field("dose_exact_den", "int", "the exact dose's denominator, in lowest terms (1 for a whole number; >= 1)"),
)
ROW_FIELDS: tuple[str, ...] = tuple(f.name for f in ROW_SCHEMA)
#: The columns that are lists of texts in JSON and '; '-joined text in CSV and frames.
LISTED: tuple[str, ...] = tuple(f.name for f in ROW_SCHEMA if f.listed)
_KIND: dict[str, str] = {f.name: f.kind for f in ROW_SCHEMA}


def row_json_schema(schema: Sequence[Field] = ROW_SCHEMA) -> dict[str, Any]:
    """The JSON Schema of one row of ``regimen expand --format json`` (its 'administrations'), from the table."""
    properties = {f.name: f.json_schema() for f in schema}
    return {"type": "object", "properties": properties, "required": sorted(properties), "additionalProperties": False}


def kind_of(name: str) -> str:
    """The kind of a column: its schema kind, or text for a column the schema does not hold (``patient_id``)."""
    return _KIND.get(name, "text")


def dtype_of(name: str) -> str:
    """The pandas dtype of a column (see :func:`kind_of`)."""
    return DTYPES[kind_of(name)]


def exact_parts(dose: Fraction) -> tuple[int, int]:
    """The exact dose's numerator and denominator (lowest terms), or :class:`PatientError` when either is beyond
    :data:`MAX_EXACT_PART`: only values with many more digits than any measurement has (a weight to 20 decimal
    places) give one, and every output of the row then says so in one line rather than the frames alone failing."""
    num, den = dose.numerator, dose.denominator
    if num > MAX_EXACT_PART or -num > MAX_EXACT_PART or den > MAX_EXACT_PART:
        raise PatientError(
            f"the exact dose {num}/{den} has more digits than a row's exact columns hold (64-bit "
            "dose_exact_num / dose_exact_den): give the patient's values with fewer decimal places"
        )
    return num, den


def _num(d: Decimal | None) -> int | float | None:
    return None if d is None else decimal_to_json(d)


#: The fields of a record that come from a row's amount, rate, hours and working (:func:`dose_fields`).
DOSE_FIELDS: tuple[str, ...] = (
    "dose",
    "dose_exact",
    "rate",
    "duration_h",
    "calculation",
    "dose_exact_num",
    "dose_exact_den",
)


def dose_fields(
    rounding: Rounding, dose: Fraction, rate: Fraction | None, hours: Fraction | None, calculation: str
) -> dict[str, Any]:
    """The :data:`DOSE_FIELDS` of a record, as :func:`row_record` writes them."""
    num, den = exact_parts(dose)
    return {
        "dose": _num(rounding(dose)),
        "dose_exact": exact_text(dose),
        "rate": _num(rounding(rate)) if rate is not None else None,
        "duration_h": _num(exact_decimal(hours, 6)) if hours is not None else None,
        "calculation": calculation,
        "dose_exact_num": num,
        "dose_exact_den": den,
    }


class Numbers:
    """The numbers of one plan's records, each worked out once per number: a plan's later cycles hold the first
    cycle's amounts, rates and hours (the same objects), so a plan of 12 cycles of 5 rows has 5 doses to round and
    write, not 60 (a third of an API answer's time). Keyed by the object's identity, and holding it, so that an id
    is never taken for another number's; the same text as :func:`exact_text`, :data:`Rounding` and
    :func:`exact_decimal` give, which a test holds."""

    __slots__ = ("_exact", "_hours", "_rounded", "rounding")

    def __init__(self, rounding: Rounding) -> None:
        self.rounding = rounding
        self._rounded: dict[int, tuple[Fraction, int | float]] = {}
        self._exact: dict[int, tuple[Fraction, str]] = {}
        self._hours: dict[int, tuple[Fraction, int | float]] = {}

    def rounded(self, x: Fraction) -> int | float:
        """``x`` rounded as the plan rounds, as a JSON number."""
        found = self._rounded.get(id(x))
        if found is None:
            found = self._rounded[id(x)] = (x, decimal_to_json(self.rounding(x)))
        return found[1]

    def exact(self, x: Fraction) -> str:
        """``x`` exactly (:func:`exact_text`)."""
        found = self._exact.get(id(x))
        if found is None:
            found = self._exact[id(x)] = (x, exact_text(x))
        return found[1]

    def hours(self, x: Fraction) -> int | float:
        """Hours to 6 places, as a JSON number."""
        found = self._hours.get(id(x))
        if found is None:
            found = self._hours[id(x)] = (x, decimal_to_json(exact_decimal(x, 6)))
        return found[1]


def row_record(plan: Plan, r: Administration, numbers: Numbers | None = None) -> dict[str, Any]:
    """A row as its record (JSON, CSV): ``numbers``, one plan's numbers worked out once (:class:`Numbers`)."""
    n = numbers if numbers is not None else Numbers(plan.rounding)
    num, den = exact_parts(r.dose)
    infusion, start, end = r.infusion, r.start, r.end
    return {
        "phase": r.phase,
        "cycle": r.cycle,
        "day": r.day,
        "course_day": r.course_day,
        "date": r.date.isoformat() if r.date else None,
        "drug": r.drug,
        "component": r.component,
        "dose": n.rounded(r.dose),
        "dose_exact": n.exact(r.dose),
        "dose_unit": r.dose_unit,
        "route": r.route,
        "method": r.method,
        "rate": n.rounded(r.rate) if r.rate is not None else None,
        "rate_unit": r.rate_unit,
        "duration_h": n.hours(r.duration_hours) if r.duration_hours is not None else None,
        "infusion_day": infusion.day_index if infusion is not None else None,
        "infusion_days": infusion.days if infusion is not None else None,
        "infusion_hours": n.hours(infusion.hours) if infusion is not None else None,
        "calculation": r.calculation,
        "warnings": list(r.warnings),
        "condition": r.condition,
        "dose_number": r.dose_number,
        "doses_per_day": r.doses_per_day,
        "start": _instant(plan, start) if start is not None else None,
        "end": _instant(plan, end) if end is not None else None,
        "time_note": r.time_note,
        "plan_warnings": list(plan.plan_warnings),
        "role": r.role,
        "dose_exact_num": num,
        "dose_exact_den": den,
    }


def _instant(plan: Plan, instant: dt.datetime | None) -> str | None:
    """An instant in the plan's zone, ISO 8601 with its offset (2027-03-28T09:00:00+02:00)."""
    return None if instant is None else wall(instant, tzinfo_for(plan.tz))


def csv_record(plan: Plan, r: Administration, numbers: Numbers | None = None) -> dict[str, Any]:
    """The row as CSV and cohort frames hold it: the record, with its warnings joined by '; '. ``numbers``: as for
    :func:`row_record`."""
    rec = row_record(plan, r, numbers)
    for name in LISTED:
        rec[name] = "; ".join(rec[name])
    return rec


def csv_records(plan: Plan, rows: Iterable[Administration] | None = None) -> list[dict[str, Any]]:
    """:func:`csv_record` of each of ``rows`` (default: every row of the plan), the plan's numbers worked out once
    for them all (:class:`Numbers`): a later cycle's rows hold the first cycle's amounts."""
    numbers = Numbers(plan.rounding)
    return [csv_record(plan, r, numbers) for r in (plan.administrations if rows is None else rows)]


def row_records(plan: Plan, numbers: Numbers | None = None) -> list[dict[str, Any]]:
    """:func:`row_record` of every row of the plan, its numbers worked out once for them all (as
    :func:`csv_records`)."""
    n = numbers if numbers is not None else Numbers(plan.rounding)
    return [row_record(plan, r, n) for r in plan.administrations]


def total_record(plan: Plan, t: Total, numbers: Numbers | None = None) -> dict[str, Any]:
    n = numbers if numbers is not None else Numbers(plan.rounding)
    return {
        "drug": t.drug,
        "phase": t.phase,
        "cycle": t.cycle,
        "amount": n.rounded(t.amount),
        "amount_exact": n.exact(t.amount),
        "unit": t.unit,
        # a drug given by several components has a total per component; a plan made without a value a rule
        # needs has a total per outcome
        "component": t.component,
        "condition": t.condition,
    }


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    reg = plan.regimen
    p = plan.patient
    numbers = Numbers(plan.rounding)
    values = {
        "weight_kg": p.weight_kg,
        "bsa_m2": p.bsa_m2,
        "age_years": p.age_years,
        "height_cm": p.height_cm,
        "scr_mg_dl": p.scr_mg_dl,  # as given (µmol/L converted; the working says where it is rounded)
        "gfr_ml_min": p.gfr_ml_min,  # measured, --gfr
    }
    return {
        "regimen": {
            "id": reg.id,
            "name": reg.name,
            "version": reg.version,
            "status": reg.status,
            "indication": reg.indication,
            "file": reg.path,
            "shadows": reg.shadows,  # the bundled file of the same id that this one hides, if any
            "sources": [{"citation": s.citation, "registry": s.registry, "url": s.url} for s in reg.sources],
            "cycles": dict(plan.cycles),
        },
        "patient": {
            **{k: _num(exact_decimal(v, 8)) if v is not None else None for k, v in values.items()},
            "sex": p.sex,
            "working": list(p.working),
        },
        "start": plan.start.isoformat() if plan.start else None,
        "administrations": row_records(plan, numbers),
        # what is prepared and given: each dose, and each continuous infusion once, whole (issue 24)
        "preparations": _preparations(plan, numbers),
        "totals": {
            "by_cycle": [total_record(plan, t, numbers) for t in plan.totals if t.cycle is not None],
            "course": [total_record(plan, t, numbers) for t in plan.totals if t.cycle is None],
        },
        "notes": list(plan.notes),
        "warnings": list(plan.warnings),
        "rounding": plan.rounding.rule,
        "protocol": protocol_record(reg),
    }


def protocol_record(reg: Regimen) -> dict[str, Any]:
    """What the regimen file says beyond the doses: emetogenic risk, requirements before the first dose, pre-cycle
    gates and modification table, each with its source."""
    risk = reg.emetogenic_risk
    return {
        "emetogenic_risk": {"level": risk.level, "source": risk.source} if risk else None,
        "requirements": [
            {"id": r.id, "test": r.test, "before": list(r.drugs), "source": r.source} for r in reg.requirements
        ],
        "gates": [{"require": g.condition.text, "phases": list(g.phases), "source": g.source} for g in reg.gates],
        "modifications": [
            {"when": m.text, "action": m.step.action, "phases": list(m.phases), "source": m.source}
            for m in reg.modifications
        ],
    }


def _preparations(plan: Plan, numbers: Numbers) -> list[dict[str, Any]]:
    return [preparation_record(p, plan.tz, numbers) for p in preparations(plan.administrations)]


def preparation_record(prep: Preparation, tz: str | None, numbers: Numbers | None = None) -> dict[str, Any]:
    """A preparation as JSON (``regimen expand --format json`` 'preparations', a course's JSON): the amount
    prepared, its rate and hours, the instants it is connected and disconnected (ISO 8601 in the zone ``tz``), the
    cycle days it covers and its working."""
    rows = prep.rows
    r = rows[0]  # prep.first, and the fields it shares with the preparation read from it (prep.drug, prep.rate...)
    rounding = r.rounding
    # the plan's numbers when they are rounded alike (by identity first: a plan's rows share its rounding)
    same = numbers is not None and (numbers.rounding is rounding or numbers.rounding == rounding)
    n = numbers if same and numbers is not None else Numbers(rounding)
    connect, disconnect = prep.connect, prep.disconnect
    zone = tzinfo_for(tz) if connect is not None or disconnect is not None else None
    rate = r.rate
    hours = prep.hours
    return {
        "phase": r.phase,
        "cycle": r.cycle,
        "days": [x.day for x in rows],  # prep.days
        "date": r.date.isoformat() if r.date else None,
        "drug": r.drug,
        "component": r.component,
        "continuous": r.infusion is not None,  # prep.continuous
        "dose": n.rounded(prep.dose),
        "dose_exact": n.exact(prep.dose),
        "dose_unit": r.dose_unit,
        "rate": n.rounded(rate) if rate is not None else None,
        "rate_unit": r.rate_unit,
        "hours": n.hours(hours) if hours is not None else None,
        "connect": wall(connect, zone) if connect is not None and zone is not None else None,
        "disconnect": wall(disconnect, zone) if disconnect is not None and zone is not None else None,
        "route": r.route,
        "method": r.method,
        "dose_number": r.dose_number,
        "condition": r.condition,
        "calculation": prep.calculation,
        # prep.warnings: one row's own, or each of an infusion's rows' once
        "warnings": list(r.warnings) if len(rows) == 1 else list(prep.warnings),
    }


__all__ = [
    "ARROW_TYPES",
    "DOSE_FIELDS",
    "DTYPES",
    "JSON_TYPES",
    "LISTED",
    "ROW_FIELDS",
    "ROW_SCHEMA",
    "Field",
    "Numbers",
    "csv_record",
    "csv_records",
    "dose_fields",
    "dtype_of",
    "exact_parts",
    "exact_text",
    "kind_of",
    "plan_to_dict",
    "preparation_record",
    "row_json_schema",
    "row_record",
    "row_records",
    "total_record",
]
