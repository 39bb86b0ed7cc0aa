"""A component's renal and hepatic dose-adjustment tables (``[[component.renal]]``, ``[[component.hepatic]]``).

Each row is a range of one measure and what its source says to do there::

    [[component.renal]]
    min = 30
    max = 50
    action = "75%"
    source = "Capecitabine US prescribing information, 2.4"

``min`` is inclusive (≥), ``max`` inclusive (≤), ``below`` exclusive (<); a row has at least one and never both
``max`` and ``below``. Rows of one measure may not overlap: a value falls in at most one row. A value outside every
row gets the full dose (the source states no adjustment there), except below the lowest stated bound, where the
plan warns that the source gives no dose (:mod:`regimen.clinical.renal_adjust`).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from functools import partial
from typing import Any

from regimen.model import ORGAN_STOPS, OrganBand
from regimen.protocol import values
from regimen.protocol.spec import PERCENT_PATTERN, TEXT, Field, Table, caseless
from regimen.quantities.units import NUMBER_PATTERN, ParsedDose, parse_dose

_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")
_TEXT = TEXT

_BOUND: dict[str, Any] = {"type": "number", "minimum": 0}
HEPATIC_MEASURES = ("bilirubin_uln", "bilirubin_umol_l", "bilirubin_mg_dl", "ast_uln", "alt_uln")
_ACTION: dict[str, Any] = {
    "description": "What the source says to do in this range: give a percentage of the dose ('75%'), a dose of its "
    "own in the component's dose unit ('65 mg/m²' where the dose is 85 mg/m²: the dose × 65/85), or 'avoid', or "
    "'contraindicated' (the drug is then left out of the plan, with a warning).",
    "anyOf": [
        {"type": "string", "pattern": PERCENT_PATTERN},
        {"type": "string", "pattern": rf"^\s*{NUMBER_PATTERN}\s*[A-Za-zµμ].*$"},
        {"enum": list(ORGAN_STOPS)},
        {"type": "string", "pattern": caseless(ORGAN_STOPS)},
    ],
}
_RANGE_RULES: dict[str, Any] = {
    "anyOf": [{"required": ["min"]}, {"required": ["max"]}, {"required": ["below"]}],
    "not": {"required": ["max", "below"]},
}


def _bound(key: str) -> Callable[[object], Fraction]:
    def read(value: object) -> Fraction:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{key} must be a number, e.g. {key} = 30")
        number = Fraction(Decimal(str(value)))
        if number < 0:
            raise ValueError(f"{key} {value} must not be negative")
        return number

    return read


def _action(action: object) -> tuple[Fraction | None, str | None, ParsedDose | None]:
    """A row's action: a percentage of the dose (above 0, under 100), a dose of its own ('65 mg/m²': made a share of
    the component's dose by :func:`with_doses`) or a stop ('avoid', 'contraindicated')."""
    match = _PERCENT.match(action) if isinstance(action, str) else None
    if match is not None:
        percent = Fraction(Decimal(match.group(1)))
        if not 0 < percent < 100:
            raise ValueError(f"action {action!r} must be above 0% and under 100% (100% needs no row)")
        return percent, None, None
    if isinstance(action, str) and action.strip().lower() in ORGAN_STOPS:
        return None, action.strip().lower(), None
    if isinstance(action, str) and re.match(rf"^\s*{NUMBER_PATTERN}\s*[A-Za-zµμ]", action):
        try:
            return None, None, parse_dose(action.strip())
        except ValueError as exc:
            raise ValueError(f"action {action!r}: {exc}") from None
    raise ValueError(
        f"action {action!r} must be a percentage such as '75%', a dose such as '65 mg/m²', 'avoid' or 'contraindicated'"
    )


def with_doses(rows: tuple[OrganBand, ...], dose: object, changes: bool, kind: str) -> tuple[OrganBand, ...]:
    """``rows`` with each row that gives a dose of its own made the exact share of the component's ``dose`` it is
    (65 of 85 mg/m²: 1300/17 %). ``changes``: the component's dose changes (a rule's dose, dose levels), so one share
    cannot stand for the row's dose. ValueError names the row."""
    out = []
    for n, row in enumerate(rows, 1):
        if row.dose is None:
            out.append(row)
            continue
        own = parse_dose(row.dose)
        where = f"{kind} row {n}"
        if not isinstance(dose, ParsedDose) or own.unit.symbol != dose.unit.symbol:
            full = getattr(dose, "text", dose)
            raise ValueError(f"{where}: the dose {row.dose!r} must be in the component's dose unit ({full!r})")
        if changes:
            raise ValueError(
                f"{where}: a dose of its own ({row.dose!r}) is read against the component's one dose, and this "
                "component's dose changes (a rule's variant or dose levels): give the row as a percentage"
            )
        percent = own.canonical / dose.canonical * 100
        if not 0 < percent < 100:
            raise ValueError(f"{where}: the dose {row.dose!r} must be under the full dose {dose.text!r}")
        out.append(dataclasses.replace(row, percent=percent, of=dose.text))
    return tuple(out)


def _measure(value: object) -> str:
    found = values.text(value, "measure")
    if value not in HEPATIC_MEASURES:
        raise ValueError(f"measure {found!r} is not one of {', '.join(HEPATIC_MEASURES)}")
    return found


def _text_of(key: str) -> Callable[[object], str]:
    return partial(values.text, what=key)


#: ``[[component.renal]]``: one row of the source's dose adjustment by kidney function.
RENAL = Table(
    {
        "min": Field({**_BOUND, "description": "The row holds from this CrCl/GFR (mL/min), inclusive."}, _bound("min")),
        "max": Field({**_BOUND, "description": "... up to this CrCl/GFR (mL/min), inclusive."}, _bound("max")),
        "below": Field(
            {**_BOUND, "description": "... up to but not including this CrCl/GFR (mL/min)."}, _bound("below")
        ),
        "action": Field(_ACTION, _action, required=True),
        "source": Field(
            {**_TEXT, "description": "Short citation of the product information or renal-dosing reference."},
            _text_of("source"),
            required=True,
        ),
        "url": Field({**_TEXT, "description": "Where the source can be read."}, _text_of("url")),
        "note": Field(_TEXT, _text_of("note")),
    },
    rules=_RANGE_RULES,
    description="One row of the source's dose adjustment by creatinine clearance or GFR (mL/min).",
)
#: ``[[component.hepatic]]``: one row of the source's dose adjustment by liver values.
HEPATIC = Table(
    {
        "measure": Field(
            {
                "enum": list(HEPATIC_MEASURES),
                "description": "What the row is on: bilirubin (× ULN, µmol/L or mg/dL), AST or ALT (× ULN).",
            },
            _measure,
            required=True,
        ),
        **{
            k: Field({**f.schema, "description": f.schema["description"].replace("CrCl/GFR (mL/min)", "value")}, f.read)
            for k, f in RENAL.fields.items()
            if k in ("min", "max", "below")
        },
        **{k: f for k, f in RENAL.fields.items() if k in ("action", "source", "url", "note")},
    },
    rules=_RANGE_RULES,
    description="One row of the source's dose adjustment by bilirubin, AST or ALT.",
)


def _row(raw: object, kind: str, n: int) -> OrganBand:
    where = f"{kind} row {n}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a table: [[component.{kind}]] with min/max/below, action and source")
    table = RENAL if kind == "renal" else HEPATIC
    unknown = sorted(set(raw) - table.keys)
    if unknown:
        raise ValueError(f"{where}: unknown field {unknown[0]!r}; allowed fields are {', '.join(sorted(table.keys))}")

    def read(key: str) -> Any:
        """The field read by its table's reader; a problem names the row."""
        try:
            return table.read(key, raw.get(key))
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None

    measure = read("measure") if kind == "hepatic" else "crcl"
    for key in RENAL.required:
        if key not in raw:
            raise ValueError(f"{where}: missing {key!r} (every row says what to do and cites its source)")
    bounds: dict[str, Fraction] = {k: read(k) for k in ("min", "max", "below") if k in raw}
    if not bounds:
        raise ValueError(f"{where}: give the range with min (≥), max (≤) or below (<)")
    if "max" in bounds and "below" in bounds:
        raise ValueError(f"{where}: give max (≤) or below (<), not both")
    high = bounds.get("max", bounds.get("below"))
    single = "max" in bounds and high == bounds.get("min")  # min = max: one value
    if "min" in bounds and high is not None and bounds["min"] >= high and not single:
        raise ValueError(f"{where}: min {bounds['min']} must be under the upper bound {high}")
    percent, stop, dose = read("action")
    return OrganBand(
        measure=measure,
        source=read("source"),
        percent=percent,
        stop=stop,
        min=bounds.get("min"),
        max=bounds.get("max"),
        below=bounds.get("below"),
        note=read("note") if "note" in raw else None,
        url=read("url") if "url" in raw else None,
        dose=dose.text if dose is not None else None,
    )


def _overlap(a: OrganBand, b: OrganBand) -> bool:
    """Whether some value lies in both rows (lower bounds are inclusive; upper ones by max or below)."""

    def starts_before_end(low: OrganBand, high: OrganBand) -> bool:
        if low.min is None or (high.max is None and high.below is None):
            return True
        if high.max is not None:
            return low.min <= high.max
        assert high.below is not None
        return low.min < high.below

    return a.measure == b.measure and starts_before_end(a, b) and starts_before_end(b, a)


def bands(value: object, kind: str) -> tuple[OrganBand, ...]:
    """The rows of ``[[component.renal]]`` or ``[[component.hepatic]]``, checked; ValueError names the row."""
    if not isinstance(value, list) or not value:
        raise ValueError(f"{kind} adjustments must be [[component.{kind}]] tables")
    rows = tuple(_row(raw, kind, n) for n, raw in enumerate(value, 1))
    for i, a in enumerate(rows):
        for j in range(i + 1, len(rows)):
            if _overlap(a, rows[j]):
                raise ValueError(
                    f"{kind} rows {i + 1} ({a.range_text()}) and {j + 1} ({rows[j].range_text()}) overlap: "
                    "a value must fall in one row at most"
                )
    return rows


__all__ = ["HEPATIC", "HEPATIC_MEASURES", "RENAL", "bands"]
