"""FHIR R4 (4.0.1) out: one patient's plan as a Bundle, and a regimen as a PlanDefinition (issue 14; read back in by
:mod:`regimen.interop.fhir`). Plain JSON dictionaries: no FHIR library at run time.

The plan: a ``RequestGroup`` (intent ``plan``) for the course, with an action for each cycle and a sub-action for each
drug of that cycle; the sub-action carries the core ``timing-daysOfCycle`` extension (R4 defines it on
``PlanDefinition.action`` and ``RequestGroup.action``: the days of the cycle, the cycle being the parent action) and
refers to the drug's ``MedicationRequest`` for that cycle (one per component per cycle, sharing the group's
``groupIdentifier``). Each ``Dosage`` groups the days of the cycle that have the same dose, with a ``Timing`` of the
exact instants (``event``, with the zone's offset; the IANA zone in the core ``tz-code`` extension) or dates and the
bounds, doses and rates as UCUM quantities, the protocol's maximum per administration, and the working in
``text``. How the dose was derived (the dose as written, ``130 mg/m2``, times the patient's ``1.8 m2``) is this
project's ``dose-derivation`` extension; the patient's weight, height, BSA and age are ``Observation``s (LOINC) the
requests cite in ``supportingInformation``. See docs/fhir.md for what follows the HL7 NZ Cancer Control Agency SACT
regimen IG, and where this model differs.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from fractions import Fraction
from typing import Any

from regimen.engine.courses import CourseRow, CourseView
from regimen.engine.courses.describe import what
from regimen.engine.courses.events import Given
from regimen.engine.plan import Plan, exact_sum
from regimen.engine.preparations import grouped
from regimen.engine.timing import wall
from regimen.export.table import DISCLAIMER
from regimen.model import Administration, AucDose, Component, Derivation, Phase, Regimen, Variant, resolve_days
from regimen.protocol.codes import drug_codings, route_codings
from regimen.protocol.describe import describe, describe_component, describe_schedule
from regimen.quantities.clock import tzinfo_for
from regimen.quantities.exact import amount_text, exact_decimal, format_fraction
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


def _id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(str(p) for p in parts)))


def _narrative(text: str) -> dict[str, Any]:
    from html import escape

    paragraphs = "".join(f"<p>{escape(line)}</p>" for line in text.split("\n") if line.strip())
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{paragraphs}</div>'}


def canonical(regimen: Regimen) -> str:
    return f"{BASE}/PlanDefinition/{regimen.id}"


def _days_of_cycle(days: Iterable[int]) -> dict[str, Any]:
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


def _applicability(rules: Sequence[Rule], negate: bool = False) -> dict[str, Any]:
    """An action.condition (kind applicability) that holds when the rules hold (or, ``negate``, when none does)."""
    text = " or ".join(r.text for r in rules)
    expression = " or ".join(f"({fhirpath(r.expr)})" if len(rules) > 1 else fhirpath(r.expr) for r in rules)
    if negate:
        text, expression = f"not ({text})", f"({expression}).not()"
    return {
        "kind": "applicability",
        "expression": {"description": text, "language": "text/fhirpath", "expression": expression},
    }


# ---- one patient's plan ------------------------------------------------------------------------------

#: The patient values a plan's doses and rules are computed from, as Observations: LOINC code, display, unit.
_OBSERVED = (
    ("29463-7", "Body weight", "weight_kg", "kg"),
    ("8302-2", "Body height", "height_cm", "cm"),
    ("8277-6", "Body surface area", "bsa_m2", "m2"),
    ("30525-0", "Age", "age_years", "a"),
)


def _observations(plan: Plan, subject: str, key: str) -> list[tuple[str, tuple[dict[str, Any], str, str, str]]]:
    """The patient's weight, height, BSA and age that the plan used, one Observation each. When each was measured is
    not known here: ``effectiveDateTime`` says so (data-absent-reason ``unknown``) rather than give a date."""
    p = plan.patient
    out = []
    for code, display, attribute, unit in _OBSERVED:
        value = getattr(p, attribute)
        if value is None:
            continue
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": _id(key, "observation", code, value),
            "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
            "subject": {"reference": subject},
            "_effectiveDateTime": {"extension": [{"url": EXT_ABSENT, "valueCode": "unknown"}]},
            "valueQuantity": quantity(value, unit),
            "note": [{"text": "the value the doses and rules of this plan were computed from"}],
        }
        if code != "30525-0":
            obs["category"] = [
                {
                    "coding": [
                        {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}
                    ]
                }
            ]
        out.append((f"urn:uuid:{obs['id']}", (obs, code, attribute, unit)))
    return out


def _instant(plan: Plan, r: Administration) -> str | None:
    if r.start is not None:
        return wall(r.start, tzinfo_for(plan.tz))
    return r.date.isoformat() if r.date is not None else None


def _end(plan: Plan, rows: Sequence[Administration], continuous: bool) -> str | None:
    """When the last of ``rows`` ends: its end instant; its start, for a dose given at once; its date, for a dose
    given at once in a plan without times. None when that is not known (an infusion in a plan without times may end
    after midnight)."""
    last = rows[-1]
    if last.end is not None:
        return wall(last.end, tzinfo_for(plan.tz))
    given_at_once = not continuous and not last.duration_hours
    if not given_at_once:
        return None
    if last.start is not None:
        return wall(last.start, tzinfo_for(plan.tz))
    return last.date.isoformat() if last.date is not None else None


def _doses(rows: Sequence[Administration]) -> list[list[Administration]]:
    """The rows of one component in one cycle grouped into Dosages: a continuous infusion's days are one
    administration; other rows group by the same dose, rate, duration, condition, derivation and dose of the day."""
    groups: dict[tuple[Any, ...], list[Administration]] = {}
    for r in rows:
        if r.infusion is not None:
            key: tuple[Any, ...] = ("infusion", r.infusion.start_course_day, r.infusion.hours, r.condition)
        else:
            key = ("dose", r.dose, r.rate, r.duration_hours, r.condition, r.derivation, r.dose_number)
        groups.setdefault(key, []).append(r)
    return list(groups.values())


def _derivation(
    derivation: Derivation | None, observations: Mapping[tuple[str, Fraction], str]
) -> dict[str, Any] | None:
    """The dose as written and the patient value it was multiplied by, as this project's dose-derivation extension:
    ``dose`` (0.1 mg/kg/h), ``factor`` (70 kg; GFR + 25 mL/min for a target AUC), ``factorText`` when the working
    names the factor ('65.94 kg (ideal body weight, Devine)'), ``observation`` when it is an Observation's value."""
    if derivation is None:
        return None
    dose = derivation.dose
    parts: list[dict[str, Any]] = [{"url": "dose", "valueQuantity": quantity(Fraction(dose.value), dose.unit.symbol)}]
    if derivation.factor is not None and derivation.factor_unit is not None:
        parts.append({"url": "factor", "valueQuantity": quantity(derivation.factor, derivation.factor_unit)})
        if derivation.factor_text:
            parts.append({"url": "factorText", "valueString": derivation.factor_text})
        observed = observations.get((ucum(derivation.factor_unit), derivation.factor))
        if observed is not None:
            parts.append({"url": "observation", "valueReference": {"reference": observed}})
    return {"url": EXT_DERIVATION, "extension": parts}


def _component(regimen: Regimen, phase: str, component: str) -> Component | None:
    for p in regimen.phases:
        if p.id == phase:
            return next((c for c in p.components if c.id == component), None)
    return None


def _max_doses(comp: Component | None, unit: str) -> dict[str, Any]:
    """The protocol's maximum per administration (a whole continuous infusion is one) and per day, in ``unit``."""
    out: dict[str, Any] = {}
    if comp is None:
        return out
    if comp.max_dose is not None:
        out["maxDosePerAdministration"] = quantity(comp.max_dose.in_unit(unit), unit)
    if comp.max_daily is not None:
        day = {"value": 1, "unit": "d", "system": UCUM, "code": "d"}
        out["maxDosePerPeriod"] = {"numerator": quantity(comp.max_daily.in_unit(unit), unit), "denominator": day}
    return out


def _dosage(
    plan: Plan,
    rows: Sequence[Administration],
    sequence: int,
    comp: Component | None,
    observations: Mapping[tuple[str, Fraction], str],
) -> dict[str, Any]:
    first = rows[0]
    continuous = first.infusion is not None
    days = sorted({r.day for r in rows})
    timing: dict[str, Any] = {}
    events = [_instant(plan, r) for r in (rows[:1] if continuous else rows)]
    shown = [e for e in events if e is not None]
    if shown:
        timing["event"] = shown
        if plan.tz and first.start is not None:
            timing["_event"] = [{"extension": [{"url": EXT_TZ, "valueCode": plan.tz}]} for _ in shown]
    repeat: dict[str, Any] = {}
    start, end = _instant(plan, first), _end(plan, rows, continuous)
    if start is not None:
        repeat["boundsPeriod"] = {"start": start, **({"end": end} if end and end != start else {})}
    hours = first.infusion.hours if continuous and first.infusion is not None else first.duration_hours
    if hours is not None:
        repeat["duration"] = float(exact_decimal(hours, 4)) if hours.denominator != 1 else int(hours)
        repeat["durationUnit"] = "h"
    if not continuous:
        repeat["count"] = len(rows)
    timing["repeat"] = repeat
    amount = sum((r.dose for r in rows), Fraction(0)) if continuous else first.dose
    dose_rate: dict[str, Any] = {
        "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/dose-rate-type", "code": "calculated"}]},
        "doseQuantity": quantity(amount, first.dose_unit),
    }
    if first.rate is not None and first.rate_unit is not None:
        dose_rate["rateQuantity"] = quantity(first.rate, first.rate_unit)
    lines = [f"Day {r.day}: {r.calculation}" for r in (rows if continuous else rows[:1])]
    if continuous and hours is not None:
        lines.insert(0, f"Continuous infusion over {format_fraction(hours)} h, {_amount(amount, first)} in all")
    if not continuous and len(rows) > 1:
        lines[0] = f"Days {', '.join(str(d) for d in days)}: {first.calculation}"
    if first.condition:
        lines.append(f"Only if {first.condition} (the patient value that decides it was not given).")
    lines.extend(f"Warning: {w}" for r in rows for w in r.warnings)
    dosage: dict[str, Any] = {
        "sequence": sequence,
        "text": "; ".join(dict.fromkeys(lines)),
        "timing": timing,
        "doseAndRate": [dose_rate],
        **_max_doses(comp, first.dose_unit),
    }
    extensions = [e for e in (_derivation(first.derivation, observations),) if e is not None]
    if first.condition:
        extensions.append({"url": EXT_CONDITION, "valueString": first.condition})
    if extensions:
        dosage["extension"] = extensions
    if first.route:
        dosage["route"] = route_concept(first.route)
    if first.method:
        dosage["method"] = {"text": str(first.method)}
    return dosage


def _amount(value: Fraction, row: Administration) -> str:
    return amount_text(value, row.dose_unit, row.rounding)


def _cycle_action(
    plan: Plan, phase: str, cycle: int, rows: Sequence[Administration], length: int | None, actions: list[Any]
) -> dict[str, Any]:
    """The action of one cycle: its dates (day 1 to its last day, when the length is known) and its drugs."""
    label = f"{'' if phase == 'main' else phase + ', '}cycle {cycle}"
    action: dict[str, Any] = {"title": label[:1].upper() + label[1:], "action": actions}
    first = rows[0]
    if first.date is not None:
        day1 = first.date - dt.timedelta(days=first.day - 1)
        period = {"start": day1.isoformat()}
        if length is not None:
            period["end"] = (day1 + dt.timedelta(days=length - 1)).isoformat()
        action["timingPeriod"] = period
    return action


def _cycle_lengths(plan: Plan) -> dict[str, int]:
    """Each phase's cycle length: as the source states it, else as the plan placed its cycles (--cycle-length)."""
    lengths = {p.id: p.cycle_length for p in plan.regimen.phases if p.cycle_length is not None}
    starts: dict[str, dict[int, int]] = {}
    for r in plan.administrations:
        starts.setdefault(r.phase, {}).setdefault(r.cycle, r.course_day - r.day + 1)
    for phase, by_cycle in starts.items():
        if phase not in lengths and len(by_cycle) > 1:
            (c1, d1), (c2, d2) = sorted(by_cycle.items())[:2]
            lengths[phase] = (d2 - d1) // (c2 - c1)
    return lengths


def plan_entries(
    plan: Plan, key: str, subject: str, group: dict[str, str]
) -> tuple[list[tuple[str, dict[str, Any]]], list[tuple[str, dict[str, Any]]], list[dict[str, Any]]]:
    """The Observations, the MedicationRequests and the RequestGroup's cycle actions of one plan."""
    reg = plan.regimen
    found = _observations(plan, subject, key)
    observations = [(url, obs) for url, (obs, *_) in found]
    # (UCUM code, exact value) -> the Observation's url, for the derivations that use the value as observed
    observed = {(ucum(unit), getattr(plan.patient, attribute)): url for url, (_, _, attribute, unit) in found}
    lengths = _cycle_lengths(plan)
    by_cycle: dict[tuple[str, int], dict[str, list[Administration]]] = {}
    for r in plan.administrations:
        by_cycle.setdefault((r.phase, r.cycle), {}).setdefault(r.component, []).append(r)
    requests: list[tuple[str, dict[str, Any]]] = []
    cycle_actions = []
    for (phase, cycle), components in by_cycle.items():
        drug_actions = []
        for component, rows in components.items():
            first = rows[0]
            rid = _id(key, "request", phase, cycle, component)
            url = f"urn:uuid:{rid}"
            label = f"{first.drug}, {'' if phase == 'main' else phase + ' '}cycle {cycle}"
            comp = _component(reg, phase, component)
            dosages = [_dosage(plan, g, i, comp, observed) for i, g in enumerate(_doses(rows), start=1)]
            request: dict[str, Any] = {
                "resourceType": "MedicationRequest",
                "id": rid,
                "text": _narrative(f"{label}: " + "; ".join(d["text"] for d in dosages)),
                "status": "active",
                "intent": "plan",
                "groupIdentifier": group,
                "medicationCodeableConcept": drug_concept(first.drug),
                "subject": {"reference": subject},
                "instantiatesCanonical": [canonical(reg)],
                "dosageInstruction": dosages,
            }
            if observations:
                request["supportingInformation"] = [{"reference": u} for u, _ in observations]
            notes = [w for r in rows for w in r.warnings] + [c for r in rows for c in r.caps]
            if notes:
                request["note"] = [{"text": n} for n in dict.fromkeys(notes)]
            requests.append((url, request))
            drug_actions.append(
                {
                    "title": label,
                    "extension": [_days_of_cycle(sorted({r.day for r in rows}))],
                    "resource": {"reference": url},
                }
            )
        first_rows = next(iter(components.values()))
        cycle_actions.append(_cycle_action(plan, phase, cycle, first_rows, lengths.get(phase), drug_actions))
    return observations, requests, cycle_actions


def _bare_patient(patient_id: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "text": _narrative("The patient of this plan: no identity is recorded; values are in the Observations."),
    }


def _patient(plan: Plan, patient_id: str) -> dict[str, Any]:
    patient = _bare_patient(patient_id)
    if plan.patient.sex is not None:
        patient["gender"] = str(plan.patient.sex)
    if plan.patient.birth_date is not None:
        patient["birthDate"] = plan.patient.birth_date.isoformat()
    return patient


def _request_group(
    reg: Regimen,
    key: str,
    subject: str,
    group: dict[str, str],
    actions: list[dict[str, Any]],
    what: str,
    said: tuple[Sequence[str], Sequence[str]],
) -> dict[str, Any]:
    """The RequestGroup of a plan or a course: its sources, notes and warnings (``said``), and its cycle actions."""
    notes, warnings = said
    version = f", version {reg.version}" if reg.version else ""
    request_group: dict[str, Any] = {
        "resourceType": "RequestGroup",
        "id": _id(key, "requestgroup"),
        "text": _narrative(f"{reg.name} ({reg.id}{version}) {what}. {DISCLAIMER}"),
        "instantiatesCanonical": [canonical(reg)],
        "groupIdentifier": group,
        "status": "active",
        "intent": "plan",
        "subject": {"reference": subject},
        "note": [{"text": f"Source: {s}"} for s in reg.sources]
        + [{"text": n} for n in notes]
        + [{"text": f"Warning: {w}"} for w in warnings]
        + [{"text": DISCLAIMER}],
        "action": actions,
    }
    urls = [s.url for s in reg.sources if s.url]
    if urls:
        request_group["instantiatesUri"] = urls
    return request_group


def plan_bundle(plan: Plan, key: str | None = None) -> dict[str, Any]:
    """One patient's plan as a FHIR R4 Bundle (type collection); deterministic ids (UUIDv5 of the plan's key)."""
    key = key or plan.key or json.dumps([plan.regimen.id, str(plan.patient), str(plan.start)])
    patient_id = _id(key, "patient")
    subject = f"urn:uuid:{patient_id}"
    group = {"system": f"{BASE}/plan", "value": _id(key, "group")}
    observations, requests, actions = plan_entries(plan, key, subject, group)
    said = (plan.notes, plan.warnings)
    request_group = _request_group(plan.regimen, key, subject, group, actions, "for one patient", said)
    entries = [
        (f"urn:uuid:{request_group['id']}", request_group),
        (subject, _patient(plan, patient_id)),
        *observations,
        *requests,
    ]
    return {
        "resourceType": "Bundle",
        "id": _id(key, "bundle"),
        "type": "collection",
        "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
    }


def plan_fhir_json(plan: Plan) -> str:
    return json.dumps(plan_bundle(plan), indent=2, ensure_ascii=False) + "\n"


# ---- the regimen as a PlanDefinition, and back ---------------------------------------------------------

_FIELDS_STANDARD = ("id", "name", "version", "indication")


def _written_dose(comp: Component, dose: Any = None) -> dict[str, Any] | None:
    """The component's dose as the protocol writes it (``dose``: a variant's) as Dosage.doseAndRate: a dose per hour,
    or per day of a continuous infusion, as a rate; any other as the amount of each dose, ``doseQuantity`` (a dose per
    day given once a day is that amount; given n times a day, a dose per day is split: 1000 mg/m²/day twice a day is
    500 mg/m² a dose); None for a target AUC (not a UCUM quantity of drug: said in the text)."""
    dose = comp.dose if dose is None else dose
    if isinstance(dose, AucDose):
        return None
    unit = dose.unit
    if unit.time == "hour" or (unit.time == "day" and comp.method == "continuous infusion"):
        return {"rateQuantity": quantity(Fraction(dose.value), unit.symbol)}
    value, symbol = Fraction(dose.value), unit.symbol
    if unit.time == "day":
        value, symbol = value / comp.times_per_day, symbol.removesuffix("/day")
    return {"doseQuantity": quantity(value, symbol)}


def definition(regimen: Regimen, data: Mapping[str, Any]) -> dict[str, Any]:
    """The regimen as a PlanDefinition with contained ActivityDefinitions, shaped as the HL7 NZ CCA IG shapes a
    regimen: an action per cycle (phase) with its length and count in ``timingTiming``, a sub-action per drug with the
    days of the cycle (the core ``timing-daysOfCycle`` and the IG's ``sact-timing-of-days``) and a reference to the
    drug's ActivityDefinition (dose as written, route, method, duration, maximum per administration).

    ``data`` is the regimen file as TOML reads it. What FHIR has no element for (rules, caps per cycle, dose levels,
    rounding, order within the day, relative days) rides in this project's ``regimen-file-fields`` extension as the
    file's own fields, so that the round trip is exact."""
    top = {k: v for k, v in data.items() if k not in (*_FIELDS_STANDARD, "component", "phase")}
    contained: list[dict[str, Any]] = []
    phase_actions: list[dict[str, Any]] = []
    phases = data.get("phase") or [None]
    for p_index, phase in enumerate(phases):
        tables = (phase or {}).get("component") if phase is not None else data.get("component")
        model_phase = regimen.phases[p_index]
        actions = []
        for c_index, table in enumerate(tables or []):
            comp = model_phase.components[c_index]
            ad_id = f"ad-{p_index}-{c_index}"
            words = " ".join(line.strip() for line in describe_component(model_phase, comp)).removeprefix("- ")
            dosage: dict[str, Any] = {"text": words}
            if comp.duration_hours is not None:
                dosage["timing"] = {"repeat": {"duration": float(comp.duration_hours), "durationUnit": "h"}}
            if comp.route:
                dosage["route"] = route_concept(comp.route)
            if comp.method:
                dosage["method"] = {"text": str(comp.method)}
            written = _written_dose(comp)
            if written is not None:
                dosage["doseAndRate"] = [written]
            if comp.max_dose is not None:
                dosage["maxDosePerAdministration"] = quantity(comp.max_dose.value, comp.max_dose.unit)
            contained.append(
                {
                    "resourceType": "ActivityDefinition",
                    "id": ad_id,
                    "extension": [{"url": EXT_REGIMEN, "valueString": json.dumps(table, sort_keys=True)}],
                    "status": "draft",
                    "kind": "MedicationRequest",
                    "productCodeableConcept": drug_concept(comp.drug),
                    "dosage": [dosage],
                }
            )
            days = _days(model_phase, comp)
            action_id = f"p{p_index}-{comp.id}"
            sub: dict[str, Any] = {
                "id": action_id,
                "extension": _day_extensions(days),
                "title": comp.drug,
                "description": words,
            }
            if comp.variants:  # the protocol's own days and dose: when no variant's rule holds
                sub["condition"] = [_applicability([v.when for v in comp.variants], negate=True)]
            if comp.after is not None:  # the order within the day
                sub["relatedAction"] = [_after(f"p{p_index}-{comp.after}", comp)]
            sub["definitionCanonical"] = f"#{ad_id}"
            actions.append(sub)
            for v_index, variant in enumerate(comp.variants, start=1):
                actions.append(
                    _variant_action(model_phase, comp, variant, f"{action_id}-variant-{v_index}", ad_id, contained)
                )
        phase_fields = {k: v for k, v in (phase or {}).items() if k != "component"}
        action: dict[str, Any] = {
            "extension": [{"url": EXT_REGIMEN, "valueString": json.dumps(phase_fields, sort_keys=True)}],
            "title": model_phase.id,
            "description": describe_schedule(model_phase),
            "selectionBehavior": "all",
            "action": actions,
        }
        if model_phase.cycle_length is not None:
            length = model_phase.cycle_length
            repeat: dict[str, Any] = {"duration": length, "durationUnit": "d", "frequency": 1, "period": length}
            repeat["periodUnit"] = "d"
            if model_phase.cycles is not None:
                repeat["count"] = model_phase.cycles
            action["timingTiming"] = {"repeat": repeat}
        elif model_phase.cycles is not None:
            action["timingTiming"] = {"repeat": {"count": model_phase.cycles}}
        phase_actions.append(action)
    status = {"research": "draft", "draft": "draft", "retired": "retired"}.get(str(regimen.status or ""), "active")
    plan_definition: dict[str, Any] = {
        "resourceType": "PlanDefinition",
        "id": re.sub(r"[^A-Za-z0-9.-]", "-", regimen.id)[:64],
        "text": _narrative(f"{describe(regimen)}\n{DISCLAIMER}"),
        "contained": contained,
        "extension": [
            {"url": EXT_REGIMEN, "valueString": json.dumps(top, sort_keys=True)},
            {"url": EXT_NZ_DISCLAIMER, "valueMarkdown": DISCLAIMER},
        ],
        "url": canonical(regimen),
        "identifier": [{"system": f"{BASE}/regimen-id", "value": regimen.id}],
        "name": re.sub(r"[^A-Za-z0-9_]", "_", regimen.id),
        "title": regimen.name,
        "type": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/plan-definition-type", "code": "clinical-protocol"}
            ]
        },
        "status": status,
        "experimental": regimen.status == "research",
        "relatedArtifact": [_citation(s) for s in regimen.sources],
        "action": phase_actions,
    }
    if regimen.version:
        plan_definition["version"] = regimen.version
    if regimen.indication:
        plan_definition["description"] = regimen.indication
    if regimen.notes:
        plan_definition["usage"] = "\n".join(regimen.notes)
    return plan_definition


def _day_extensions(days: Sequence[int]) -> list[dict[str, Any]]:
    """The days of the cycle as the core timing-daysOfCycle and the NZ IG's sact-timing-of-days."""
    nz = ({"url": EXT_NZ_TIMING_OF_DAYS, "extension": [{"url": "day", "valueInteger": d}]} for d in days)
    return [_days_of_cycle(days), *nz]


def _after(action_id: str, comp: Component) -> dict[str, Any]:
    """relatedAction: this drug starts after the end of the one it follows (with the gap, when the source gives it)."""
    related: dict[str, Any] = {"actionId": action_id, "relationship": "after-end"}
    if comp.gap_hours is not None:
        minutes = comp.gap_hours * 60
        related["offsetDuration"] = (
            quantity(minutes, "min") if minutes.denominator == 1 and minutes < 60 else quantity(comp.gap_hours, "h")
        )
    return related


def _variant_action(
    phase: Phase, comp: Component, variant: Variant, action_id: str, ad_id: str, contained: list[dict[str, Any]]
) -> dict[str, Any]:
    """A variant as a sub-action that applies when its rule holds (action.condition, FHIRPath): its days, and its own
    ActivityDefinition when it changes the dose or the duration."""
    days = sorted(resolve_days(phase, comp.id, lambda c: variant if c.id == comp.id else None))
    target = ad_id
    if variant.dose is not None or variant.duration_hours is not None:
        base = next(c for c in contained if c["id"] == ad_id)
        dosage = dict(base["dosage"][0])
        dosage.pop("doseAndRate", None)
        written = _written_dose(comp, variant.dose)
        if written is not None:
            dosage["doseAndRate"] = [written]
        if variant.duration_hours is not None:
            dosage["timing"] = {"repeat": {"duration": float(variant.duration_hours), "durationUnit": "h"}}
        target = f"{ad_id}-{action_id.rsplit('-', 1)[-1]}"
        contained.append({k: v for k, v in base.items() if k != "extension"} | {"id": target, "dosage": [dosage]})
    note = f" ({variant.note})" if variant.note else ""
    return {
        "id": action_id,
        "extension": _day_extensions(days),
        "title": f"{comp.drug}, when {variant.when.text}",
        "description": f"{comp.drug} when {variant.when.text}{note}",
        "condition": [_applicability([variant.when])],
        "definitionCanonical": f"#{target}",
    }


def _citation(source: Any) -> dict[str, Any]:
    cited: dict[str, Any] = {"type": "citation", "citation": str(source)}
    if source.url:
        cited["url"] = source.url
    return cited


def _days(phase: Phase, comp: Component) -> list[int]:
    """The days of the cycle the protocol gives the component (without a variant: the variants' days are in the
    sub-action's description and the regimen fields)."""
    return sorted(resolve_days(phase, comp.id, lambda c: None))


def plan_definition_json(regimen: Regimen, data: Mapping[str, Any]) -> str:
    return json.dumps(definition(regimen, data), indent=2, ensure_ascii=False) + "\n"


def iter_resources(bundle: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for entry in bundle.get("entry") or []:
        yield entry["resource"]


# ---- a treatment course: what is planned, and what was given -------------------------------------------------


def course_bundle(view: CourseView) -> dict[str, Any]:
    """A treatment course as a FHIR R4 Bundle: the plan as it stands (one RequestGroup for the course, with the
    MedicationRequests of every part of it: a part is the cycles computed with the same patient values, so a new
    weight from cycle 3 on is its own Observation, cited by the requests of cycles 3 on) and a
    MedicationAdministration for every dose recorded as given (dose, time, lot in a contained Medication's batch),
    citing the MedicationRequest of its cycle."""
    key = f"course:{view.course_id}"
    patient_id = _id(key, "patient")
    subject = f"urn:uuid:{patient_id}"
    group = {"system": f"{BASE}/plan", "value": _id(key, "group")}
    parts = view.active_plans()
    observations: dict[str, dict[str, Any]] = {}
    requests: list[tuple[str, dict[str, Any]]] = []
    actions: list[dict[str, Any]] = []
    request_of: dict[tuple[str, int, str], str] = {}
    for part in parts:
        found, part_requests, part_actions = plan_entries(part, key, subject, group)
        observations.update(found)
        requests.extend(part_requests)
        actions.extend(part_actions)
        for r in part.administrations:
            request_of[r.phase, r.cycle, r.component] = f"urn:uuid:{_id(key, 'request', r.phase, r.cycle, r.component)}"
    said = (view.notes, view.warnings)
    request_group = _request_group(view.regimen, key, subject, group, actions, f"as course {view.course_id}", said)
    entries: list[dict[str, Any]] = [
        {"fullUrl": f"urn:uuid:{request_group['id']}", "resource": request_group},
        {"fullUrl": subject, "resource": _patient(parts[0], patient_id) if parts else _bare_patient(patient_id)},
        *({"fullUrl": url, "resource": obs} for url, obs in observations.items()),
        *({"fullUrl": url, "resource": req} for url, req in requests),
    ]
    # one MedicationAdministration per record: a continuous infusion's day shares are one pump, given whole
    for prep, crs in grouped([cr for cr in view.rows if cr.given is not None], _course_row):
        given = crs[0].given
        assert given is not None
        r = prep.first
        amount_given = exact_sum([cr.given.dose for cr in crs if cr.given is not None])
        aid = _id(key, "administration", given.change)
        administration: dict[str, Any] = {
            "resourceType": "MedicationAdministration",
            "id": aid,
            "status": "completed",
            "medicationCodeableConcept": {"text": r.drug},
            "subject": {"reference": subject},
            "dosage": {
                "text": f"given {given.text}; planned {prep.dose_text}: {prep.calculation}",
                "dose": quantity(amount_given, given.unit),
            },
            "note": [{"text": f"recorded as change {given.change} of course {view.course_id}"}],
        }
        if r.route:
            administration["dosage"]["route"] = {"text": r.route}
        if prep.continuous and prep.rate is not None and r.rate_unit is not None and prep.hours:
            # the pump's rate as given: the amount given over the infusion's hours (the planned rate when as planned)
            administration["dosage"]["rateQuantity"] = quantity(amount_given / prep.hours, r.rate_unit)
            administration["dosage"]["text"] += f"; one continuous infusion over {prep.hours_text}"
        if given.at is not None and prep.continuous and prep.hours:
            zone = tzinfo_for(view.start.tz)
            administration["effectivePeriod"] = {
                "start": wall(given.at, zone),
                "end": wall(given.at + dt.timedelta(hours=float(prep.hours)), zone),
            }
        elif given.at is not None:
            administration["effectiveDateTime"] = wall(given.at, tzinfo_for(view.start.tz))
        else:  # recorded without a time: not assumed to be the planned day; it was given before it was recorded
            recorded = next(c.at for c in view.changes if c.seq == given.change)
            administration["effectivePeriod"] = {"end": wall(recorded, tzinfo_for(view.start.tz))}
            planned = f" (planned for {r.date.isoformat()})" if r.date is not None else ""
            administration["note"].append(
                {"text": f"the time it was given was not recorded{planned}; it was given before it was recorded"}
            )
        if given.lot:
            administration["contained"] = [
                {
                    "resourceType": "Medication",
                    "id": "given",
                    "code": {"text": r.drug},
                    "batch": {"lotNumber": given.lot},
                }
            ]
            del administration["medicationCodeableConcept"]
            administration["medicationReference"] = {"reference": "#given"}
        request = request_of.get((r.phase, r.cycle, r.component))
        if request is not None:
            administration["request"] = {"reference": request}
        entries.append({"fullUrl": f"urn:uuid:{aid}", "resource": administration})
    entries.extend(_entered_in_error(view, key, subject))
    return {"resourceType": "Bundle", "id": _id(key, "bundle"), "type": "collection", "entry": entries}


def _entered_in_error(view: CourseView, key: str, subject: str) -> Iterator[dict[str, Any]]:
    """A dose recorded as given and then voided: its MedicationAdministration again (the same id, so a system that
    took the earlier export updates it), with status ``entered-in-error``."""
    zone = tzinfo_for(view.start.tz)
    for change in view.changes:
        e = change.event
        if change.seq not in view.voided or not isinstance(e, Given):
            continue
        aid = _id(key, "administration", change.seq)
        effective = (
            {"effectiveDateTime": wall(e.at, zone)}
            if e.at is not None
            else {"effectivePeriod": {"end": wall(change.at, zone)}}
        )
        yield {
            "fullUrl": f"urn:uuid:{aid}",
            "resource": {
                "resourceType": "MedicationAdministration",
                "id": aid,
                "status": "entered-in-error",
                "medicationCodeableConcept": {"text": e.drug or what(view.regimen, e)},
                "subject": {"reference": subject},
                **effective,
                "dosage": {"text": f"recorded as given {e.dose}: {what(view.regimen, e)}"},
                "note": [
                    {
                        "text": f"recorded as change {change.seq} of course {view.course_id}; entered in error "
                        f"(change {view.voided[change.seq]})"
                    }
                ],
            },
        }


def _course_row(cr: CourseRow) -> Administration:
    return cr.row


def course_fhir_json(view: CourseView) -> str:
    return json.dumps(course_bundle(view), indent=2, ensure_ascii=False) + "\n"


__all__ = [
    "EXT_DAYS_OF_CYCLE",
    "course_bundle",
    "course_fhir_json",
    "definition",
    "iter_resources",
    "plan_bundle",
    "plan_definition_json",
    "plan_fhir_json",
    "quantity",
    "ucum",
]
