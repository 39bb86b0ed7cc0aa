"""A component's infusion-rate escalation (``[[component.rate_escalation]]``), read and checked.

A drug such as rituximab has no fixed infusion time: its source gives a starting rate, a step every so often if the
infusion is tolerated, and a maximum, one schedule for the first infusion and another for later ones. A row gives
``infusions`` ("first" or "later"), ``start``, ``step`` and ``max`` (rates such as "50 mg/h"), ``every`` (a time
such as "30 min") and ``source`` (README, "Supportive care, requirements, gates and modifications", has an example).

Rates are amounts per hour in the unit of the component's dose (mg for a dose in mg/m²); each is positive, the
maximum is at least the start, and there is one row for ``first`` and at most one for ``later``. The component is an
infusion with no stated duration: its end depends on tolerance (:mod:`regimen.clinical.rate_escalation` works out
the least time it can take).
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from functools import partial
from typing import Any

from regimen.errors import UnitError
from regimen.model import RATE_INFUSIONS, AucDose, Dose, RateEscalation
from regimen.protocol import values
from regimen.protocol.spec import TEXT, Field, Table
from regimen.quantities.units import NUMBER_PATTERN, classify_dose_unit, parse_duration_hours, split_number

#: The longest step the loader accepts: a step of more than a day is no infusion's.
_MAX_STEP_HOURS = Fraction(24)
#: A number and a unit (the loader reads the unit: an amount per hour in the dose's unit).
_RATE: dict[str, Any] = {
    "type": "string",
    "description": "An amount per hour in the dose's unit: '50 mg/h' (or 'mg/hr').",
    "pattern": rf"^\s*{NUMBER_PATTERN}\s*\S.*$",
}


def _rate_text(value: object) -> str:
    """A rate as written; read against the dose's unit by :func:`_rate`."""
    return values.text(value, "rate")


def _every(value: object) -> tuple[Fraction, str]:
    text = values.text(value, "every")
    try:
        hours = parse_duration_hours(text)
    except (UnitError, ValueError) as e:
        raise ValueError(f"every {text!r}: {e}") from None
    if not 0 < hours <= _MAX_STEP_HOURS:
        raise ValueError(f"every {text!r} must be above zero and at most 24 h")
    return hours, text


def _text_of(key: str) -> Callable[[object], str]:
    return partial(values.text, what=key)


#: ``[[component.rate_escalation]]``: the source's infusion-rate escalation, one row for the course's first infusion
#: of the component and at most one for every later one.
RATE_ESCALATION = Table(
    {
        "infusions": Field(
            {
                "enum": list(RATE_INFUSIONS),
                "description": "'first': the course's first infusion of this component; 'later': every later one.",
            },
            partial(values.exact_choice, what="infusions", allowed=RATE_INFUSIONS),
            required=True,
        ),
        "start": Field({**_RATE, "description": "The rate to start at: '50 mg/h'."}, _rate_text, required=True),
        "step": Field(
            {**_RATE, "description": "How much the rate goes up at each step, if tolerated: '50 mg/h'."},
            _rate_text,
            required=True,
        ),
        "every": Field(
            {"type": "string", "pattern": rf"^\s*{NUMBER_PATTERN}\s*\S.*$", "description": "How often: '30 min'."},
            _every,
            required=True,
        ),
        "max": Field({**_RATE, "description": "The highest rate: '400 mg/h'."}, _rate_text, required=True),
        "source": Field(
            {**TEXT, "description": "Short citation of the product information or protocol."},
            _text_of("source"),
            required=True,
        ),
        "url": Field({**TEXT, "description": "Where the source can be read."}, _text_of("url")),
        "note": Field(TEXT, _text_of("note")),
    },
    description="One row of the source's infusion-rate escalation: start, a step every so often, maximum.",
)


def _rate(text: str, key: str, unit: str) -> Fraction:
    """An amount per hour, in ``unit`` per hour, exact; ValueError says what is wrong."""
    split = split_number(text)
    example = f"e.g. {key} = '50 {unit}/h'"
    if split is None or not split[1]:
        raise ValueError(f"{key} {text!r} must be an amount per hour, {example}")
    number, unit_text = split
    try:
        shape = classify_dose_unit(unit_text)
    except UnitError:
        shape = None
    if shape is None or shape.basis != "flat" or shape.time != "hour" or shape.mass == "unit":
        raise ValueError(f"{key} {text!r} must be an amount per hour, {example}")
    if shape.output_unit != unit:
        raise ValueError(f"{key} {text!r} must be in {unit}/h, the unit of the component's dose")
    rate = Fraction(number) * shape.to_canonical
    if rate <= 0:
        raise ValueError(f"{key} {text!r} must be above zero")
    return rate


def _row(raw: object, n: int, unit: str) -> RateEscalation:
    where = f"rate_escalation row {n}"
    if not isinstance(raw, dict):
        raise ValueError(f"{where} must be a table: [[component.rate_escalation]] with infusions, start, step, ...")
    unknown = sorted(set(raw) - RATE_ESCALATION.keys)
    if unknown:
        allowed = ", ".join(sorted(RATE_ESCALATION.keys))
        raise ValueError(f"{where}: unknown field {unknown[0]!r}; allowed fields are {allowed}")
    for key in RATE_ESCALATION.required:
        if key not in raw:
            raise ValueError(f"{where}: missing {key!r} (a row gives infusions, start, step, every, max and source)")

    def read(key: str) -> Any:
        """The field read by its table's reader; a problem names the row."""
        try:
            found = RATE_ESCALATION.read(key, raw[key])
            return _rate(found, key, unit) if key in ("start", "step", "max") else found
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None

    start, step, maximum = read("start"), read("step"), read("max")
    if maximum < start:
        raise ValueError(f"{where}: max {raw['max']!r} is below the start {raw['start']!r}")
    every_hours, every_text = read("every")
    return RateEscalation(
        infusions=read("infusions"),
        start=start,
        step=step,
        every_hours=every_hours,
        maximum=maximum,
        unit=unit,
        every_text=every_text,
        source=read("source"),
        url=read("url") if "url" in raw else None,
        note=read("note") if "note" in raw else None,
    )


def escalation(value: object, dose: Dose | None, method: str | None, duration: object) -> tuple[RateEscalation, ...]:
    """The rows of ``[[component.rate_escalation]]`` for a component with ``dose``, ``method`` and its written
    ``duration`` (None when unset), checked; ValueError says what is wrong and where."""
    if not isinstance(value, list) or not value:
        raise ValueError("a rate escalation must be [[component.rate_escalation]] tables")
    if method != "infusion":
        raise ValueError(f"a rate escalation is for an infusion: give method = 'infusion' (not {method or 'unset'})")
    if duration is not None:
        raise ValueError(
            f"give a duration ({duration!r}) or a rate escalation, not both: an escalated infusion's time depends "
            "on tolerance"
        )
    if isinstance(dose, AucDose):
        unit = "mg"
    elif dose is not None and dose.unit.mass not in ("unit", "millilitre"):
        unit = dose.unit.output_unit
    else:
        raise ValueError("a rate escalation needs a dose by mass (mg, mcg or g, flat or per kg or m²)")
    rows = tuple(_row(raw, n, unit) for n, raw in enumerate(value, 1))
    seen: set[str] = set()
    for n, row in enumerate(rows, 1):
        if row.infusions in seen:
            raise ValueError(f"rate_escalation row {n}: a second row for infusions = {row.infusions!r}; give one")
        seen.add(row.infusions)
    if "first" not in seen:
        raise ValueError("a rate escalation needs a row for infusions = 'first' (the course's first infusion)")
    return rows


__all__ = ["RATE_ESCALATION", "escalation"]
