"""A plan request (a form or a JSON body) read with the command line's own parsers, and its errors placed.

Every field is an option of ``regimen expand`` under the same name (``bsa_cap`` is ``--bsa-cap``) and goes through
the same parser; the web adds no arithmetic and no parsing of numbers of its own. What it adds is the fence a
server needs: only the fields of the request's kind, values of bounded length, a regimen by its id only (never a
path on the server: the command line's user may read their own files, a web client may not), choices checked
against their lists (the command line's ``click.Choice``), and no anthracycline table but the bundled ones.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from regimen.clinical.anthracycline import bundled_tables
from regimen.clinical.body_size import BSA_FORMULAS
from regimen.clinical.choices import build_options, parse_cycles
from regimen.clinical.dose_change import refuse_old_reduce
from regimen.clinical.options import GFR_METHODS
from regimen.clinical.patient import make_patient
from regimen.clinical.pretreatment import read_dpyd
from regimen.engine.expand import expand
from regimen.engine.plan import Plan
from regimen.errors import RegimenError, UnknownRegimenError, as_flag, named, option, render
from regimen.export.ics import parse_remind
from regimen.model import DOSING_WEIGHTS, Regimen
from regimen.protocol.catalog import load, looks_like_path
from regimen.quantities.clock import local_zone_key, parse_time, zone

#: The fields of a plan, each an option of ``regimen expand`` of the same name, with the label the form shows.
PLAN_LABELS = {
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
    "adjusted_factor": "Adjusted weight factor",
    "gfr_method": "GFR estimate",
    "gfr_cap": "GFR cap",
    "dose_level": "Dose level",
    "dose_percent": "Give % of dose",
    "reduce_by": "Reduce dose by %",
    "confirm": "Confirm a change below 50 % or above 100 %",
    "round": "Round",
    "round_threshold": "Rounding threshold",
    "prior": "Earlier anthracycline",
    "anthracycline_table": "Anthracycline table",
    "anthracycline_limit": "Anthracycline limit",
    "dpyd": "DPYD result",
}
#: Fields of a download beside the plan's: the calendar's and the handout's.
EXTRA_LABELS = {"label": "Label", "remind": "Reminder", "paper": "Handout paper"}
LABELS = {**PLAN_LABELS, **EXTRA_LABELS}
PLAN_FIELDS = frozenset(PLAN_LABELS)
CALENDAR_FIELDS = PLAN_FIELDS | {"label", "remind"}
DOWNLOAD_FIELDS = PLAN_FIELDS | frozenset(EXTRA_LABELS)
#: The fields one patient of a roster gives (the rest is common to the roster).
PATIENT_FIELDS = frozenset({"weight", "bsa", "age", "dob", "height", "sex", "scr", "gfr", "start"})

#: Library input names that the form calls by another name.
ALIASES = {"round_to": "round", "time_": "time"}
#: Fields whose value is one of a list (the command line's click.Choice), and the list.
CHOICES: dict[str, tuple[str, ...]] = {
    "sex": ("female", "male"),
    "bsa_formula": tuple(BSA_FORMULAS),
    "dosing_weight": DOSING_WEIGHTS,
    "gfr_method": GFR_METHODS,
    "anthracycline_table": tuple(bundled_tables()),
    "paper": ("a4", "letter"),
    "confirm": ("yes",),
}
#: The choices checked here, as the command line's click.Choice does before the library sees them (the others, sex
#: and the anthracycline table, are the library's to refuse, in its words).
CHECKED = ("bsa_formula", "dosing_weight", "gfr_method", "paper", "confirm")
#: Fields the command line repeats (--dose-percent a=80% --dose-percent b=75%): here a list, or values separated by
#: , or ;
REPEATED = ("cycles", "dose_level", "dose_percent", "reduce_by", "round", "prior")
PATIENT = ("weight", "bsa", "age", "dob", "height", "sex", "scr", "gfr")
MAX_VALUE = 200  # characters of one value
MAX_ITEMS = 20  # values of one repeated field
_SEPARATORS = re.compile(r"[,;\n]")


@lru_cache(maxsize=64)
def _load(regimen_id: str) -> Regimen:
    return load(regimen_id)


def regimen_of(regimen_id: str) -> Regimen:
    """A regimen by id, parsed once per server process (restart the server after editing a regimen file).

    Never a path: ``regimen expand`` reads the .toml file its user names, but a web client naming a file on the
    server would be reading the server's disk."""
    if looks_like_path(regimen_id):
        raise UnknownRegimenError(
            f"{option('regimen')} {regimen_id!r}: choose a regimen by its id (e.g. cenersen-arm3) from the list; "
            "the web app does not read regimen files by path"
        )
    return _load(regimen_id)


def _text(key: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise RegimenError(f"{option(key)}: give text or a number")
    text = str(value).strip()
    if len(text) > MAX_VALUE:
        raise RegimenError(f"{option(key)}: at most {MAX_VALUE} characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON): no character, so no text any output can hold
        raise RegimenError(f"{option(key)}: not text (it holds a lone UTF-16 surrogate); send UTF-8 text") from None
    return text


def clean(values: Mapping[str, Any], allowed: Collection[str] = PLAN_FIELDS) -> dict[str, Any]:
    """Text, stripped (a list of texts for the repeated fields); empty means not given; a field not in ``allowed``,
    an over-long value, a choice not in its list and an anthracycline table by path are refused."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if key == "reduce" and "dose_percent" in allowed:
            refuse_old_reduce(value if isinstance(value, list) else [value])  # its name and meaning disagreed
        if key == "confirm" and isinstance(value, bool):  # the API's true/false; the form's select says "yes"
            value = "yes" if value else None
        if key not in allowed:
            fields = ", ".join(k for k in LABELS if k in allowed)
            raise RegimenError(f"unknown field {key!r}: the fields are {fields}")
        if value is None:
            continue
        if key in REPEATED:
            items = value if isinstance(value, list) else _SEPARATORS.split(_text(key, value))
            texts = [t for t in (_text(key, v) for v in items) if t]
            if len(texts) > MAX_ITEMS:
                raise RegimenError(f"{option(key)}: at most {MAX_ITEMS} values")
            if texts:
                out[key] = texts
            continue
        text = _text(key, value)
        if not text:
            continue
        if key in CHECKED and text not in CHOICES[key]:
            raise RegimenError(f"{option(key)} {text!r}: choose one of {', '.join(CHOICES[key])}")
        if key == "anthracycline_table" and (text.endswith(".toml") or "/" in text or "\\" in text):
            raise RegimenError(f"{option(key)} {text!r}: one of the bundled tables ({', '.join(CHOICES[key])})")
        out[key] = text
    return out


def _int(values: Mapping[str, Any], key: str) -> int | None:
    if key not in values:
        return None
    try:
        number = int(values[key])
    except ValueError:
        raise RegimenError(f"{option(key)} {values[key]!r}: give a whole number") from None
    if number < 1:
        raise RegimenError(f"{option(key)} {values[key]!r}: at least 1")
    return number


@dataclass(frozen=True, slots=True)
class Request:
    """A plan request, read: the plan, and the calendar's and handout's own values when the request had them."""

    plan: Plan
    label: str | None = None
    remind: dt.timedelta | None = None
    paper: str = "a4"
    #: what the reading itself says (a time of day without a zone: this machine's zone, or UTC when unknown)
    notes: tuple[str, ...] = ()


def read(raw: Mapping[str, Any], allowed: Collection[str] = PLAN_FIELDS) -> Request:
    """The plan a request asks for: the same parsing, checks and expansion as ``regimen expand``."""
    values = clean(raw, allowed)
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
    notes: list[str] = []
    if tz is not None:
        zone(tz)
        if when is None:
            raise RegimenError(f"{option('tz')} needs {option('time')}: give the time of day of the first drug")
    elif when is not None:  # as the command line does: this machine's zone, said so when it cannot be found
        tz, note = local_zone_key()
        if note:
            notes.append(note)
    names = ("bsa_formula", "bsa_cap", "dosing_weight", "adjusted_factor", "gfr_method", "gfr_cap",
             "round_threshold", "anthracycline_table", "anthracycline_limit")  # fmt: skip
    options = build_options(
        {
            **{k: values[k] for k in names if k in values},
            **{k: tuple(values.get(k, ())) for k in ("dose_level", "dose_percent", "reduce_by", "prior")},
            "confirm": values.get("confirm") == "yes",
            "round_to": tuple(values.get("round", ())),
        }
    )
    if "dpyd" in values:  # as 'regimen expand --dpyd': 50 % of a fluoropyrimidine for an intermediate metabolizer
        options = dataclasses.replace(options, dpyd=read_dpyd(values["dpyd"]))
    patient = make_patient(**{k: values[k] for k in PATIENT if k in values})
    plan = expand(
        regimen,
        patient,
        start=start,
        cycles=parse_cycles(values.get("cycles", ())),
        cycle_length=_int(values, "cycle_length"),
        options=options,
        time=when,
        tz=tz,
    )
    return Request(
        plan=plan,
        label=values.get("label"),
        remind=parse_remind(values["remind"]) if "remind" in values else None,
        paper=values.get("paper", "a4"),
        notes=tuple(notes),
    )


def plan_from(raw: Mapping[str, Any], allowed: Collection[str] = PLAN_FIELDS) -> Plan:
    """The plan of :func:`read`."""
    return read(raw, allowed).plan


def field_of(name: str) -> str:
    """The form's field for a library input name ('round_to' is the field 'round')."""
    return ALIASES.get(name, name)


def api_message(exc: RegimenError) -> str:
    """The library's message for an API client: every input named by its JSON field ('weight', not the command
    line's '--weight'); an input only the command line has stays its flag."""
    return _named(exc.message, lambda field: field)


def _named(text: str, name: Callable[[str], str]) -> str:
    """``text`` with each input (marked, or written as a command-line flag in a note) shown by ``name`` of its field,
    when the request has that field."""
    text = render(text, lambda n: name(field_of(n)) if field_of(n) in LABELS else as_flag(n))
    return re.sub(
        r"--([a-z][a-z-]*)",
        lambda m: name(k) if (k := field_of(m.group(1).replace("-", "_"))) in LABELS else m.group(0),
        text,
    )


def in_words(text: str) -> str:
    """A message for the page: every input named by its field's label. The library's own notes and warnings name
    some inputs as the command line's flags in their text ('Give --age to settle it'); those are put in the form's
    words too, when the form has the field."""
    return _named(text, lambda field: f"‘{LABELS[field]}’")


def form_errors(exc: RegimenError) -> tuple[str | None, str]:
    """(the field to show the message beside, or None; the message with fields named by their labels)."""
    fields = [field_of(n) for n in named(exc.message) if field_of(n) in LABELS]
    return (fields[0] if fields else None), in_words(exc.message)


__all__ = [
    "CALENDAR_FIELDS",
    "CHOICES",
    "DOWNLOAD_FIELDS",
    "LABELS",
    "PATIENT_FIELDS",
    "PLAN_FIELDS",
    "PLAN_LABELS",
    "REPEATED",
    "Request",
    "api_message",
    "clean",
    "field_of",
    "form_errors",
    "in_words",
    "plan_from",
    "read",
    "regimen_of",
]
