"""FHIR R4 out, the parts every resource shares: the extension URLs, UCUM units and quantities, resource ids,
narratives, drug and route codings, and FHIRPath for a rule (see :mod:`regimen.export.fhir`)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from fractions import Fraction
from typing import Any

from regimen.model import Regimen
from regimen.protocol.codes import drug_codings, route_codings
from regimen.quantities.exact import exact_decimal, format_fraction
from regimen.quantities.rules import All, Compare, Expr, Rule

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
BASE = "https://regimen-schedules.github.io/fhir"
EXT_DAYS_OF_CYCLE = "http://hl7.org/fhir/StructureDefinition/timing-daysOfCycle"
EXT_TZ = "http://hl7.org/fhir/StructureDefinition/tz-code"
EXT_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
#: The HL7 NZ Cancer Control Agency IG's extensions regimen also writes on a PlanDefinition (docs/fhir.md)
EXT_NZ_TIMING_OF_DAYS = "http://hl7.org.nz/fhir/StructureDefinition/sact-timing-of-days"
EXT_NZ_DISCLAIMER = "http://hl7.org.nz/fhir/StructureDefinition/sact-disclaimer"
EXT_DERIVATION = f"{BASE}/StructureDefinition/dose-derivation"
EXT_CONDITION = f"{BASE}/StructureDefinition/dose-condition"
EXT_REGIMEN = f"{BASE}/StructureDefinition/regimen-file-fields"
NAMESPACE = uuid.UUID("6f1c1f3e-3b9e-5d44-9a57-2f0c6a6b1e20")  # regimen's UUIDv5 namespace for resource ids
#: regimen's unit spellings -> UCUM codes ('units' of activity carry no UCUM atom: an annotation says what they are)
_UNIT = {"mcg": "ug", "µg": "ug", "m²": "m2", "day": "d", "units": "{units}", "unit": "{units}"}


def ucum(unit: str) -> str:
    """A regimen unit ('mg', 'mcg/h', 'mg/m²/day', 'units/m²', 'mg/mL·min') as a UCUM code ('mg', 'ug/h', 'mg/m2/d',
    '{units}/m2', 'mg/mL.min'). UCUM reads '/' and '.' left to right, as regimen's units are written: 'mg/mL·min' is
    (mg/mL)·min, the unit of a target AUC, and 'mg/mL.min' in UCUM."""
    terms = re.split(r"([/·.])", unit.replace(" ", ""))
    return "".join({"·": ".", ".": ".", "/": "/"}.get(t, _UNIT.get(t, t)) for t in terms)


def quantity(value: Fraction, unit: str, digits: int = 6) -> dict[str, Any]:
    """A UCUM Quantity; the value is exact where it has few digits, else rounded to ``digits`` decimals (the Dosage's
    text keeps the working)."""
    number = exact_decimal(value, digits)
    shown: int | float = int(number) if number == number.to_integral_value() else float(number)
    return {"value": shown, "unit": unit, "system": UCUM, "code": ucum(unit)}


def resource_id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(str(p) for p in parts)))


def narrative(text: str) -> dict[str, Any]:
    from html import escape

    paragraphs = "".join(f"<p>{escape(line)}</p>" for line in text.split("\n") if line.strip())
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{paragraphs}</div>'}


def canonical(regimen: Regimen) -> str:
    return f"{BASE}/PlanDefinition/{regimen.id}"


def days_of_cycle(days: Iterable[int]) -> dict[str, Any]:
    """The core extension timing-daysOfCycle: a ``day`` sub-extension (valueInteger) for each day of the cycle."""
    return {"url": EXT_DAYS_OF_CYCLE, "extension": [{"url": "day", "valueInteger": d} for d in days]}


def drug_concept(drug: str) -> dict[str, Any]:
    """A drug as a CodeableConcept: its name, and its codes where protocol/data/codes.toml lists them (RxNorm)."""
    concept: dict[str, Any] = {"text": drug}
    codings = [{"system": c.system, "code": c.code, "display": c.display} for c in drug_codings(drug)]
    if codings:
        concept = {"coding": codings, **concept}
    return concept


def route_concept(route: str) -> dict[str, Any]:
    """A route as a CodeableConcept: as written, with its SNOMED CT and EDQM codes where listed."""
    codings = [{"system": c.system, "code": c.code, "display": c.display} for c in route_codings(route)]
    return {"coding": codings, "text": route} if codings else {"text": route}


def fhirpath(expr: Expr) -> str:
    """A rule ('age > 60 and sex == female') as a FHIRPath expression over regimen's patient values, given as
    environment variables ('%age > 60 and %sex = 'female''): %age years, %weight kg, %bsa m², %height cm, %cycle."""
    if isinstance(expr, Compare):
        value = f"'{expr.value}'" if isinstance(expr.value, str) else format_fraction(expr.value)
        return f"%{expr.name} {'=' if expr.op == '==' else expr.op} {value}"
    joined = [fhirpath(p) if isinstance(p, Compare) else f"({fhirpath(p)})" for p in expr.parts]
    return (" and " if isinstance(expr, All) else " or ").join(joined)


def applicability_condition(rules: Sequence[Rule], negate: bool = False) -> dict[str, Any]:
    """An action.condition (kind applicability) that holds when the rules hold (or, ``negate``, when none does)."""
    text = " or ".join(r.text for r in rules)
    expression = " or ".join(f"({fhirpath(r.expr)})" if len(rules) > 1 else fhirpath(r.expr) for r in rules)
    if negate:
        text, expression = f"not ({text})", f"({expression}).not()"
    return {
        "kind": "applicability",
        "expression": {"description": text, "language": "text/fhirpath", "expression": expression},
    }


__all__ = [
    "BASE",
    "EXT_ABSENT",
    "EXT_CONDITION",
    "EXT_DAYS_OF_CYCLE",
    "EXT_DERIVATION",
    "EXT_NZ_DISCLAIMER",
    "EXT_NZ_TIMING_OF_DAYS",
    "EXT_REGIMEN",
    "EXT_TZ",
    "LOINC",
    "NAMESPACE",
    "UCUM",
    "applicability_condition",
    "canonical",
    "days_of_cycle",
    "drug_concept",
    "fhirpath",
    "narrative",
    "quantity",
    "resource_id",
    "route_concept",
    "ucum",
]
