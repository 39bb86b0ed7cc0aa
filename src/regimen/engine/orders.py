"""Orders to check against a plan: read from the command line's spelling, a CSV file, or a FHIR R4 Bundle.

An :class:`Order` is what a prescriber ordered, as written: the drug (a drug name or a component id), the dose with
its unit, and what the order says of when and how (cycle, day or date, rate, duration, route, method). Nothing is
converted here: :mod:`regimen.engine.verify` compares each order with the plan and says what it converted.

The command line's spelling of one order::

    DRUG[@DAY | @cCYCLEdDAY]=DOSE [over DURATION] [at RATE]

    oxaliplatin=150mg
    fluorouracil-pump@1=4320 mg over 46 h
    oxaliplatin@c2d1=153 mg at 76.5 mg/h
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from regimen.errors import RegimenError
from regimen.quantities.exact import format_fraction
from regimen.quantities.limits import MAX_VALUE_TEXT, LimitError, check_decimal
from regimen.quantities.units import parse_duration_hours, split_number


class OrderError(RegimenError):
    """An order that cannot be read: names the order (its place in its file or on the command line) and the fix."""


@dataclass(frozen=True, slots=True)
class Quantity:
    """An amount as ordered: its exact value, its unit as written (``mg``, ``g``, ``mg/m2``, ``mL/h``)."""

    value: Fraction
    unit: str

    @property
    def text(self) -> str:
        return f"{format_fraction(self.value)} {self.unit}"


@dataclass(frozen=True, slots=True)
class Order:
    """One ordered dose, as the order gives it. ``source`` says where it came from ('--order 2', 'orders.csv line
    3', 'MedicationRequest/mr-1'), so that every finding names the order a person can find."""

    drug: str
    dose: Quantity
    source: str
    cycle: int | None = None
    day: int | None = None
    date: dt.date | None = None
    rate: Quantity | None = None
    duration_hours: Fraction | None = None
    route: str | None = None
    method: str | None = None


_THOUSANDS = re.compile(r"^\s*[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?(?!\d)")


def quantity(text: str, what: str) -> Quantity:
    """'4,320 mg', '0.153g', '85 mg/m2' -> a :class:`Quantity`; thousands separators are read only when they group
    by three (a decimal comma, '1,5 mg', is refused: it is 1.5 or 15 to different readers)."""
    text = text.strip()
    grouped = _THOUSANDS.match(text)
    if grouped is not None:
        text = grouped.group(0).replace(",", "") + text[grouped.end() :]
    try:
        split = split_number(text)
    except LimitError as exc:
        raise OrderError(f"{what}: {exc.message}") from None
    if split is None or not split[1]:
        raise OrderError(f"{what} {text!r}: give a number and its unit, e.g. 150 mg")
    value, unit = split
    if not value.is_finite() or value <= 0:
        raise OrderError(f"{what} {text!r}: give a positive amount")
    return Quantity(Fraction(value), unit)


def _duration(text: str, what: str) -> Fraction:
    try:
        return parse_duration_hours(text.strip())
    except RegimenError as exc:
        raise OrderError(f"{what}: {exc.message}") from None


def _whole(text: str, what: str) -> int:
    text = text.strip()
    if not text.isdigit() or not 1 <= int(text) <= 3_660:
        raise OrderError(f"{what} {text!r}: give a whole number from 1")
    return int(text)


# ---- the command line's spelling ----------------------------------------------------------------------------

_ORDER = re.compile(
    r"^\s*(?P<drug>[^@=]+?)\s*(?:@\s*(?:[cC]\s*(?P<cycle>\d+)\s*)?[dD]?\s*(?P<day>\d+))?\s*=(?P<rest>.+)$"
)
_KEYWORD = re.compile(r"\s+(over|at)\s+", re.IGNORECASE)
SPELLING = "DRUG[@DAY]=DOSE [over DURATION] [at RATE], e.g. oxaliplatin@1=153mg over 2h"


def parse_order(text: str, source: str) -> Order:
    """One order in the command line's spelling (see the module's docstring)."""
    if len(text) > MAX_VALUE_TEXT:
        raise OrderError(f"{source}: at most {MAX_VALUE_TEXT} characters")
    match = _ORDER.match(text)
    if match is None:
        raise OrderError(f"{source} {text!r}: write {SPELLING}")
    parts = _KEYWORD.split(" " + match["rest"].strip())
    dose_text, extra = parts[0], parts[1:]
    given: dict[str, str] = {}
    for keyword, value in zip(extra[::2], extra[1::2], strict=True):
        if keyword.lower() in given or not value.strip():
            raise OrderError(f"{source} {text!r}: write {SPELLING}")
        given[keyword.lower()] = value
    return Order(
        drug=match["drug"].strip(),
        dose=quantity(dose_text, f"{source} dose"),
        source=source,
        cycle=_whole(match["cycle"], f"{source} cycle") if match["cycle"] else None,
        day=_whole(match["day"], f"{source} day") if match["day"] else None,
        rate=quantity(given["at"], f"{source} rate") if "at" in given else None,
        duration_hours=_duration(given["over"], f"{source} duration") if "over" in given else None,
    )


# ---- CSV ----------------------------------------------------------------------------------------------------

#: The columns of an orders CSV file (a header row names them, in any order and case; other columns are ignored).
CSV_COLUMNS = ("drug", "cycle", "day", "dose", "unit", "rate", "rate_unit", "duration", "route", "method")
MAX_ORDERS = 500


def read_orders_csv(text: str, name: str) -> list[Order]:
    """The orders of a CSV file: one per row; ``drug`` and ``dose`` are needed, ``unit`` when ``dose`` has none."""
    reader = csv.DictReader(io.StringIO(text))
    header = {(h or "").strip().lower(): h for h in reader.fieldnames or []}
    lacking = [c for c in ("drug", "dose") if c not in header]
    if lacking:
        raise OrderError(
            f"{name}: no {' or '.join(lacking)} column: the header row names the columns "
            f"({', '.join(CSV_COLUMNS)}; drug and dose are needed)"
        )
    records = []
    for row in reader:
        cell = {c: row.get(header[c]) for c in CSV_COLUMNS if c in header}
        if any((v or "").strip() for v in cell.values()):  # not a blank line
            records.append((f"{name} line {reader.line_num}", cell))
    return [order_from_record(record, where) for where, record in _bounded(records, name)]


def _bounded(items: list[Any], name: str) -> list[Any]:
    if len(items) > MAX_ORDERS:
        raise OrderError(f"{name}: more than {MAX_ORDERS} orders; check one cycle's orders at a time")
    return items


def order_from_record(record: Mapping[str, Any], where: str) -> Order:
    """One order from a record of the CSV columns (a CSV row, or an object of the HTTP API)."""
    extra = sorted(set(record) - set(CSV_COLUMNS))
    if extra:
        raise OrderError(f"{where}: unknown field {extra[0]!r}: an order gives {', '.join(CSV_COLUMNS)}")
    cell: dict[str, str] = {}
    for key, value in record.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise OrderError(f"{where}: {key} is text or a number")
        cell[key] = str(value).strip()
    if not cell.get("drug") or not cell.get("dose"):
        raise OrderError(f"{where}: give the drug and the dose")
    dose = cell["dose"] + (" " + cell["unit"] if cell.get("unit") else "")
    rate = cell.get("rate", "") + (" " + cell["rate_unit"] if cell.get("rate_unit") else "")
    return Order(
        drug=cell["drug"],
        dose=quantity(dose, f"{where} dose"),
        source=where,
        cycle=_whole(cell["cycle"], f"{where} cycle") if cell.get("cycle") else None,
        day=_whole(cell["day"], f"{where} day") if cell.get("day") else None,
        rate=quantity(rate, f"{where} rate") if cell.get("rate") else None,
        duration_hours=_duration(cell["duration"], f"{where} duration") if cell.get("duration") else None,
        route=cell.get("route") or None,
        method=cell.get("method") or None,
    )


def orders_from_json(orders: Any, bundle: Any, name: str = "orders") -> tuple[list[Order], list[str]]:
    """Orders of a JSON request: ``orders``, a list of the command line's spellings or of objects with the CSV
    columns; ``bundle``, a FHIR Bundle of MedicationRequests. Either or both."""
    out: list[Order] = []
    notes: list[str] = []
    if orders is not None:
        if not isinstance(orders, list):
            raise OrderError(f"{name}: a list of orders ('oxaliplatin@1=153mg over 2h', or objects of drug, dose, ...)")
        for n, item in enumerate(_bounded(orders, name), start=1):
            where = f"{name}[{n}]"
            if isinstance(item, str):
                out.append(parse_order(item, where))
            elif isinstance(item, Mapping):
                out.append(order_from_record(item, where))
            else:
                raise OrderError(f"{where}: an order is text or an object of drug, dose, ...")
    if bundle is not None:
        read, notes = read_fhir_orders(bundle, "bundle")
        out += read
    return out, notes


# ---- FHIR R4 ------------------------------------------------------------------------------------------------

#: UCUM codes an ordering system sends, in the spelling regimen reads (others are read as they are: mg, g, mg/h).
UCUM = {"ug": "mcg", "U": "units", "[iU]": "IU", "[IU]": "IU", "mL/h": "mL/h", "m2": "m2"}
#: The time units of ``Timing.repeat.durationUnit`` (UCUM), in hours.
DURATION_UNITS = {"s": Fraction(1, 3600), "min": Fraction(1, 60), "h": Fraction(1), "d": Fraction(24)}
DAYS_OF_CYCLE = "http://hl7.org/fhir/StructureDefinition/timing-daysOfCycle"
#: Statuses of a MedicationRequest that are not an order to give (left out, and said so).
NOT_ORDERS = ("cancelled", "entered-in-error", "stopped", "completed")


def _concept(value: Any) -> str | None:
    """The text of a CodeableConcept: its text, else its first coding's display, else that coding's code."""
    if not isinstance(value, Mapping):
        return None
    if isinstance(value.get("text"), str) and value["text"].strip():
        return str(value["text"]).strip()
    for coding in value.get("coding") or []:
        if isinstance(coding, Mapping):
            for key in ("display", "code"):
                if isinstance(coding.get(key), str) and coding[key].strip():
                    return str(coding[key]).strip()
    return None


def _fhir_quantity(value: Any, what: str) -> Quantity:
    if not isinstance(value, Mapping) or not isinstance(value.get("value"), int | float | str | Decimal):
        raise OrderError(f"{what}: a Quantity with a value and a unit")
    if isinstance(value["value"], bool):
        raise OrderError(f"{what}: a Quantity with a value and a unit")
    code = value.get("code") if value.get("system") == "http://unitsofmeasure.org" else None
    unit = code or value.get("unit")
    if not isinstance(unit, str) or not unit.strip():
        raise OrderError(f"{what}: the Quantity has no unit (give its UCUM code, e.g. mg)")
    unit = UCUM.get(unit.strip(), unit.strip())
    return Quantity(_positive(value["value"], what), unit)


def _positive(raw: Any, what: str) -> Fraction:
    """A positive JSON number, exactly as written (a float's text, never its binary value)."""
    try:
        number = check_decimal(Decimal(str(raw)), what)
    except LimitError as exc:
        raise OrderError(exc.message) from None
    except ArithmeticError:  # decimal's InvalidOperation: not a number
        raise OrderError(f"{what}: {str(raw)[:40]!r} is not a number") from None
    if number <= 0:
        raise OrderError(f"{what}: give a positive amount")
    return Fraction(number)


def _rate(dose_and_rate: Mapping[str, Any], what: str) -> Quantity | None:
    if "rateQuantity" in dose_and_rate:
        return _fhir_quantity(dose_and_rate["rateQuantity"], f"{what} rateQuantity")
    ratio = dose_and_rate.get("rateRatio")
    if isinstance(ratio, Mapping):
        top = _fhir_quantity(ratio.get("numerator"), f"{what} rateRatio.numerator")
        per = _fhir_quantity(ratio.get("denominator"), f"{what} rateRatio.denominator")
        return Quantity(top.value / per.value, f"{top.unit}/{per.unit}")
    return None


def _timing(timing: Any, what: str) -> tuple[int | None, dt.date | None, Fraction | None]:
    """(day of the cycle, date, duration in hours) from a Timing."""
    if not isinstance(timing, Mapping):
        return None, None, None
    day = None
    for ext in timing.get("extension") or []:
        if isinstance(ext, Mapping) and ext.get("url") == DAYS_OF_CYCLE:
            days = [e.get("valueInteger") for e in ext.get("extension") or [] if isinstance(e, Mapping)]
            days = [d for d in days if isinstance(d, int) and not isinstance(d, bool)]
            if len(days) > 1:
                raise OrderError(f"{what}: one order per day of the cycle (this one gives days {days})")
            day = days[0] if days else None
    repeat: Mapping[str, Any] = timing["repeat"] if isinstance(timing.get("repeat"), Mapping) else {}
    hours = None
    if repeat.get("duration") is not None:
        unit = repeat.get("durationUnit")
        if unit not in DURATION_UNITS:
            raise OrderError(f"{what}: timing.repeat.durationUnit {unit!r}: one of s, min, h, d")
        hours = _positive(repeat["duration"], f"{what} timing.repeat.duration") * DURATION_UNITS[unit]
    date = None
    starts = [e for e in timing.get("event") or [] if isinstance(e, str)]
    bounds = repeat.get("boundsPeriod")
    if isinstance(bounds, Mapping) and isinstance(bounds.get("start"), str):
        starts.append(bounds["start"])
    if starts:
        try:
            date = dt.date.fromisoformat(starts[0][:10])
        except ValueError:
            raise OrderError(f"{what}: the date {starts[0]!r} is not YYYY-MM-DD") from None
    return day, date, hours


def read_fhir_orders(bundle: Any, name: str) -> tuple[list[Order], list[str]]:
    """The orders of a FHIR R4 Bundle of MedicationRequests (or of one MedicationRequest), and notes on what was
    left out (a cancelled request). The drug is ``medicationCodeableConcept``'s text (or first coding's display);
    each ``dosageInstruction`` is one order: its ``doseAndRate`` dose (UCUM units) and rate, its timing's day of
    the cycle (the ``timing-daysOfCycle`` extension), date and duration, its route and method."""
    if not isinstance(bundle, Mapping) or bundle.get("resourceType") not in ("Bundle", "MedicationRequest"):
        raise OrderError(f"{name}: not a FHIR Bundle or MedicationRequest (resourceType)")
    resources: list[Any] = (
        [bundle]
        if bundle["resourceType"] == "MedicationRequest"
        else [e.get("resource") for e in bundle.get("entry") or [] if isinstance(e, Mapping)]
    )
    orders: list[Order] = []
    notes: list[str] = []
    for n, res in enumerate(resources, start=1):
        if not isinstance(res, Mapping) or res.get("resourceType") != "MedicationRequest":
            continue  # a Patient, a Medication: not an order
        what = f"{name}: MedicationRequest/{res['id']}" if isinstance(res.get("id"), str) else f"{name}: entry {n}"
        if res.get("status") in NOT_ORDERS:
            notes.append(f"{what}: status {res['status']}, not checked")
            continue
        drug = _concept(res.get("medicationCodeableConcept"))
        if drug is None:
            raise OrderError(f"{what}: no drug: give medicationCodeableConcept with a text or a coding display")
        instructions = [d for d in res.get("dosageInstruction") or [] if isinstance(d, Mapping)]
        if not instructions:
            raise OrderError(f"{what}: no dosageInstruction with a dose")
        for k, dosage in enumerate(instructions, start=1):
            where = what if len(instructions) == 1 else f"{what} dosageInstruction {k}"
            dose_and_rate = [d for d in dosage.get("doseAndRate") or [] if isinstance(d, Mapping)]
            with_dose = [d for d in dose_and_rate if "doseQuantity" in d]
            if not with_dose:
                raise OrderError(f"{where}: no doseAndRate.doseQuantity (a dose range is not an order to check)")
            day, date, hours = _timing(dosage.get("timing"), where)
            orders.append(
                Order(
                    drug=drug,
                    dose=_fhir_quantity(with_dose[0]["doseQuantity"], f"{where} doseQuantity"),
                    source=where.removeprefix(f"{name}: "),
                    day=day,
                    date=date,
                    rate=next((r for r in (_rate(d, where) for d in dose_and_rate) if r is not None), None),
                    duration_hours=hours,
                    route=_concept(dosage.get("route")),
                    method=_concept(dosage.get("method")),
                )
            )
        _bounded(orders, name)
    if not orders and not notes:
        raise OrderError(f"{name}: no MedicationRequest in the Bundle")
    return orders, notes


def read_orders_file(data: bytes, name: str) -> tuple[list[Order], list[str]]:
    """Orders from a file's bytes: a FHIR Bundle (JSON) or a CSV file, told apart by the first character."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise OrderError(f"{name}: not UTF-8 text (a CSV file or a FHIR JSON Bundle)") from None
    if text.lstrip().startswith("{"):
        import json

        try:
            bundle = json.loads(text, parse_float=Decimal)
        except (ValueError, RecursionError):
            raise OrderError(f"{name}: not valid JSON (a FHIR Bundle of MedicationRequests)") from None
        return read_fhir_orders(bundle, name)
    return read_orders_csv(text, name), []


def orders_from_texts(texts: Sequence[str], what: str = "order") -> list[Order]:
    """Orders in the command line's spelling; each named by its place ('order 2')."""
    return [parse_order(t, f"{what} {n}") for n, t in enumerate(texts, start=1)]


__all__ = [
    "CSV_COLUMNS",
    "SPELLING",
    "Order",
    "OrderError",
    "Quantity",
    "order_from_record",
    "orders_from_json",
    "orders_from_texts",
    "parse_order",
    "quantity",
    "read_fhir_orders",
    "read_orders_csv",
    "read_orders_file",
]
