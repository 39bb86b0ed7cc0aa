"""A plan request (a form or a JSON body) read with the command line's own parsers, and its errors placed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from regimen.clinical.choices import build_options
from regimen.clinical.patient import make_patient
from regimen.engine.expand import expand
from regimen.engine.plan import Plan
from regimen.errors import RegimenError, as_flag, named, option, render
from regimen.model import Regimen
from regimen.protocol.catalog import load
from regimen.quantities.clock import parse_time, zone

#: Every field a plan request may hold, with the label the form shows.
LABELS = {
    "regimen": "Regimen",
    "weight": "Weight",
    "bsa": "BSA",
    "age": "Age",
    "dob": "Date of birth",
    "height": "Height",
    "sex": "Sex",
    "scr": "Serum creatinine",
    "gfr": "Measured GFR",
    "start": "Start date (day 1)",
    "time": "Time of day",
    "tz": "Time zone",
    "cycles": "Cycles",
    "cycle_length": "Cycle length (days)",
    "bsa_formula": "BSA formula",
    "bsa_cap": "BSA cap",
    "dosing_weight": "Dosing weight",
    "dose_level": "Dose level",
    "reduce": "Reduce",
    "label": "Label",
    "paper": "Handout paper",
}
PATIENT = ("weight", "bsa", "age", "dob", "height", "sex", "scr", "gfr")
OPTIONS = ("bsa_formula", "bsa_cap", "dosing_weight", "dose_level", "reduce")
MAX_VALUE = 200  # characters of one value


@lru_cache(maxsize=64)
def regimen_of(regimen_id: str) -> Regimen:
    """A regimen by id, parsed once per server process (restart the server after editing a regimen file)."""
    return load(regimen_id)


def clean(values: Mapping[str, Any]) -> dict[str, str]:
    """Strings only, stripped; empty means not given; unknown fields and over-long values are refused."""
    out: dict[str, str] = {}
    for key, value in values.items():
        if key in ("csrf",):
            continue
        if key not in LABELS:
            raise RegimenError(f"unknown field {key!r}: the fields are {', '.join(LABELS)}")
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise RegimenError(f"{option(key)}: give text or a number")
        text = str(value).strip()
        if len(text) > MAX_VALUE:
            raise RegimenError(f"{option(key)}: at most {MAX_VALUE} characters")
        if text:
            out[key] = text
    return out


def _int(values: Mapping[str, str], key: str) -> int | None:
    if key not in values:
        return None
    try:
        number = int(values[key])
    except ValueError:
        raise RegimenError(f"{option(key)} {values[key]!r}: give a whole number") from None
    if number < 1:
        raise RegimenError(f"{option(key)} {values[key]!r}: at least 1")
    return number


def plan_from(raw: Mapping[str, Any]) -> Plan:
    """The plan a request asks for: the same parsing, checks and expansion as ``regimen expand``."""
    values = clean(raw)
    if "regimen" not in values:
        raise RegimenError(f"{option('regimen')}: choose a regimen (its id, e.g. cenersen-arm3)")
    regimen = regimen_of(values["regimen"])
    start = None
    if "start" in values:
        try:
            start = dt.date.fromisoformat(values["start"])
        except ValueError:
            raise RegimenError(f"{option('start')} {values['start']!r}: give the date as YYYY-MM-DD") from None
    when = parse_time(values["time"]) if "time" in values else None
    tz = values.get("tz")
    if tz is not None:
        zone(tz)
        if when is None:
            raise RegimenError(f"{option('tz')} needs {option('time')}: give the time of day of the first drug")
    options = build_options(
        {
            **{k: values[k] for k in ("bsa_formula", "bsa_cap", "dosing_weight") if k in values},
            "dose_level": (values["dose_level"],) if "dose_level" in values else (),
            "reduce": tuple(x.strip() for x in values["reduce"].split(",")) if "reduce" in values else (),
        }
    )
    patient = make_patient(**{k: values[k] for k in PATIENT if k in values})
    return expand(
        regimen,
        patient,
        start=start,
        cycles=_int(values, "cycles"),
        cycle_length=_int(values, "cycle_length"),
        options=options,
        time=when,
        tz=tz if when is not None else None,
    )


def api_message(exc: RegimenError) -> str:
    """The command line's message for the same input (inputs named as its flags)."""
    return exc.render(as_flag)


def form_errors(exc: RegimenError) -> tuple[str | None, str]:
    """(the field to show the message beside, or None; the message with fields named by their labels)."""
    fields = [n for n in named(exc.message) if n in LABELS]
    text = render(exc.message, lambda n: f"‘{LABELS.get(n, n)}’")
    return (fields[0] if fields else None), text


__all__ = ["LABELS", "api_message", "clean", "form_errors", "plan_from", "regimen_of"]
