"""FHIR R4 (4.0.1) out: one patient's plan as a Bundle, a regimen as a PlanDefinition, and (back in) a regimen file
from such a PlanDefinition (issue 14). Plain JSON dictionaries: no FHIR library at run time.

The plan: a ``RequestGroup`` (intent ``plan``) for the course and one ``MedicationRequest`` per component per cycle,
sharing its ``groupIdentifier``; each ``Dosage`` groups the days of the cycle that have the same dose, with a
``Timing`` that carries the core ``timing-daysOfCycle`` extension (the days of the cycle, as the protocol counts
them), the exact instants (``event``, with the zone's offset; the IANA zone in the core ``tz-code`` extension) and
the bounds, doses and rates as UCUM quantities, and the working (the protocol's dose per kg or m² times the patient's
value) in ``text``. The patient's weight, height and BSA are ``Observation``s (LOINC) the requests cite in
``supportingInformation``; the derivation's basis (``130 mg/m2``) is a Quantity in this project's
``dose-basis`` extension. See docs/fhir.md for what follows the HL7 NZ Cancer Control Agency SACT regimen IG, and
where this model differs.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from regimen.engine.course import CourseView
from regimen.engine.plan import Plan
from regimen.engine.timing import wall
from regimen.export.table import DISCLAIMER
from regimen.model import Administration, AucDose, Component, Phase, Regimen, resolve_days
from regimen.quantities.clock import tzinfo_for
from regimen.quantities.exact import amount_text, exact_decimal

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
BASE = "https://regimen-schedules.github.io/fhir"
EXT_DAYS_OF_CYCLE = "http://hl7.org/fhir/StructureDefinition/timing-daysOfCycle"
EXT_TZ = "http://hl7.org/fhir/StructureDefinition/tz-code"
EXT_BASIS = f"{BASE}/StructureDefinition/dose-basis"
EXT_CONDITION = f"{BASE}/StructureDefinition/dose-condition"
EXT_REGIMEN = f"{BASE}/StructureDefinition/regimen-file-fields"
EXT_CYCLES = f"{BASE}/StructureDefinition/cycles"
NAMESPACE = uuid.UUID("6f1c1f3e-3b9e-5d44-9a57-2f0c6a6b1e20")  # regimen's UUIDv5 namespace for resource ids
#: regimen's unit spellings -> UCUM codes ('units' of activity carry no UCUM atom: an annotation says what they are)
_UNIT = {"mcg": "ug", "µg": "ug", "m²": "m2", "day": "d", "units": "{units}", "unit": "{units}"}


def ucum(unit: str) -> str:
    """A regimen unit ('mg', 'mcg/h', 'mg/m²/day', 'units/m²') as a UCUM code ('mg', 'ug/h', 'mg/m2/d', ...)."""
    parts = [p.strip() for p in unit.replace("·", "/").split("/")]
    return "/".join(_UNIT.get(p, p) for p in parts)


def quantity(value: Fraction, unit: str, digits: int = 6) -> dict[str, Any]:
    """A UCUM Quantity; the value is exact where it has few digits, else rounded to ``digits`` decimals (said in
    the Dosage's text, which keeps the working)."""
    number = exact_decimal(value, digits)
    shown: int | float = int(number) if number == number.to_integral_value() else float(number)
    return {"value": shown, "unit": unit, "system": UCUM, "code": ucum(unit)}


def _id(*parts: object) -> str:
    return str(uuid.uuid5(NAMESPACE, "\x1f".join(str(p) for p in parts)))


def _narrative(text: str) -> dict[str, Any]:
    from html import escape

    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml"><p>{escape(text)}</p></div>'}


def canonical(regimen: Regimen) -> str:
    return f"{BASE}/PlanDefinition/{regimen.id}"


# ---- one patient's plan ------------------------------------------------------------------------------


def _observations(plan: Plan, subject: str, key: str) -> list[tuple[str, dict[str, Any]]]:
    p = plan.patient
    out = []
    for code, display, value, unit in (
        ("29463-7", "Body weight", p.weight_kg, "kg"),
        ("8302-2", "Body height", p.height_cm, "cm"),
        ("8277-6", "Body surface area", p.bsa_m2, "m2"),
    ):
        if value is None:
            continue
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": _id(key, "observation", code),
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "vital-signs",
                        }
                    ]
                }
            ],
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}], "text": display},
            "subject": {"reference": subject},
            "valueQuantity": quantity(value, unit),
            "note": [{"text": "the value the doses of this plan were computed from"}],
        }
        if plan.start is not None:
            obs["effectiveDateTime"] = plan.start.isoformat()
        out.append((f"urn:uuid:{obs['id']}", obs))
    return out


def _instant(plan: Plan, r: Administration) -> str | None:
    if r.start is not None:
        return wall(r.start, tzinfo_for(plan.tz))
    return r.date.isoformat() if r.date is not None else None


def _end(plan: Plan, rows: Sequence[Administration]) -> str | None:
    last = rows[-1]
    if last.end is not None:
        return wall(last.end, tzinfo_for(plan.tz))
    return last.date.isoformat() if last.date is not None else None


def _doses(rows: Sequence[Administration]) -> list[list[Administration]]:
    """The rows of one component in one cycle grouped into Dosages: a continuous infusion's days are one
    administration; other rows group by the same dose, rate, duration, condition and dose of the day."""
    groups: dict[tuple[Any, ...], list[Administration]] = {}
    for r in rows:
        if r.infusion is not None:
            key: tuple[Any, ...] = ("infusion", r.infusion.start_course_day)
        else:
            key = ("dose", r.dose, r.rate, r.duration_hours, r.condition, r.dose_number)
        groups.setdefault(key, []).append(r)
    return list(groups.values())


def _dosage(plan: Plan, rows: Sequence[Administration], sequence: int, basis: Any) -> dict[str, Any]:
    first = rows[0]
    continuous = first.infusion is not None
    days = sorted({r.day for r in rows})
    timing: dict[str, Any] = {
        "extension": [{"url": EXT_DAYS_OF_CYCLE, "extension": [{"url": "day", "valueInteger": d} for d in days]}]
    }
    events = [e for e in (_instant(plan, r) for r in rows[:1] if continuous) if e] if continuous else []
    if not continuous:
        events = [e for e in (_instant(plan, r) for r in rows) if e is not None]
    if events:
        timing["event"] = events
        if plan.tz and first.start is not None:
            timing["_event"] = [{"extension": [{"url": EXT_TZ, "valueCode": plan.tz}]} for _ in events]
    repeat: dict[str, Any] = {}
    start, end = _instant(plan, first), _end(plan, rows)
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
    lines = [f"Day {r.day}: {r.calculation}" for r in (rows[:1] if not continuous else rows)]
    if continuous and hours is not None:
        lines.insert(0, f"Continuous infusion over {float(hours):g} h, {_amount(amount, first)} in all")
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
    }
    extensions = []
    if basis is not None:
        extensions.append(basis)
    if first.condition:
        extensions.append({"url": EXT_CONDITION, "valueString": first.condition})
    if extensions:
        dosage["extension"] = extensions
    if first.route:
        dosage["route"] = {"text": first.route}
    if first.method:
        dosage["method"] = {"text": str(first.method)}
    return dosage


def _amount(value: Fraction, row: Administration) -> str:
    return amount_text(value, row.dose_unit, row.rounding)


def _basis(regimen: Regimen, component: str) -> dict[str, Any] | None:
    """The protocol's dose as written, as a Quantity (130 mg/m2), when the component has one dose (no variants)."""
    for comp in regimen.components():
        if comp.id == component and not comp.variants and not isinstance(comp.dose, AucDose):
            value = Fraction(comp.dose.value)
            return {"url": EXT_BASIS, "valueQuantity": quantity(value, comp.dose.unit.symbol)}
    return None


def plan_bundle(plan: Plan, key: str | None = None) -> dict[str, Any]:
    """One patient's plan as a FHIR R4 Bundle (type collection); deterministic ids (UUIDv5 of the plan's key)."""
    reg = plan.regimen
    key = key or plan.key or json.dumps([reg.id, str(plan.patient), str(plan.start)])
    patient_id = _id(key, "patient")
    subject = f"urn:uuid:{patient_id}"
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "id": patient_id,
        "text": _narrative("The patient of this plan: no identity is recorded; values are in the Observations."),
    }
    if plan.patient.sex is not None:
        patient["gender"] = str(plan.patient.sex)
    if plan.patient.birth_date is not None:
        patient["birthDate"] = plan.patient.birth_date.isoformat()
    observations = _observations(plan, subject, key)
    group = {"system": f"{BASE}/plan", "value": _id(key, "group")}
    requests: list[tuple[str, dict[str, Any]]] = []
    by_cycle: dict[tuple[str, int, str], list[Administration]] = {}
    for r in plan.administrations:
        by_cycle.setdefault((r.phase, r.cycle, r.component), []).append(r)
    for (phase, cycle, component), rows in by_cycle.items():
        first = rows[0]
        rid = _id(key, "request", phase, cycle, component)
        label = f"{first.drug}, {'' if phase == 'main' else phase + ' '}cycle {cycle}"
        basis = _basis(reg, component)
        request: dict[str, Any] = {
            "resourceType": "MedicationRequest",
            "id": rid,
            "status": "active",
            "intent": "plan",
            "groupIdentifier": group,
            "medicationCodeableConcept": {"text": first.drug},
            "subject": {"reference": subject},
            "instantiatesCanonical": [canonical(reg)],
            "dosageInstruction": [_dosage(plan, g, i, basis) for i, g in enumerate(_doses(rows), start=1)],
        }
        if observations:
            request["supportingInformation"] = [{"reference": url} for url, _ in observations]
        notes = [w for r in rows for w in r.warnings] + [c for r in rows for c in r.caps]
        if notes:
            request["note"] = [{"text": n} for n in dict.fromkeys(notes)]
        request["text"] = _narrative(f"{label}: " + "; ".join(d["text"] for d in request["dosageInstruction"]))
        requests.append((f"urn:uuid:{rid}", request))
    version = f", version {reg.version}" if reg.version else ""
    request_group: dict[str, Any] = {
        "resourceType": "RequestGroup",
        "id": _id(key, "requestgroup"),
        "text": _narrative(f"{reg.name} ({reg.id}{version}) for one patient. {DISCLAIMER}"),
        "instantiatesCanonical": [canonical(reg)],
        "groupIdentifier": group,
        "status": "active",
        "intent": "plan",
        "subject": {"reference": subject},
        "note": [{"text": f"Source: {s}"} for s in reg.sources]
        + [{"text": n} for n in plan.notes]
        + [{"text": f"Warning: {w}"} for w in plan.warnings]
        + [{"text": DISCLAIMER}],
        "action": [
            {
                "title": req["text"]["div"].split("<p>", 1)[1].split(":", 1)[0],
                "resource": {"reference": url},
            }
            for url, req in requests
        ],
    }
    if reg.sources and getattr(reg.sources[0], "url", None):
        request_group["instantiatesUri"] = [s.url for s in reg.sources if getattr(s, "url", None)]
    entries = [
        (f"urn:uuid:{request_group['id']}", request_group),
        (subject, patient),
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


def _component_key(table: Mapping[str, Any], index: int) -> str:
    return str(table.get("id") or table.get("drug") or f"component-{index}")


def definition(regimen: Regimen, data: Mapping[str, Any]) -> dict[str, Any]:
    """The regimen as a PlanDefinition with contained ActivityDefinitions.

    ``data`` is the regimen file as TOML reads it. The standard elements say what FHIR can say (name, version,
    sources, indication, each drug with its dose as written, route, method, duration and days of the cycle, the
    cycle length and count); what it cannot (rules, caps, dose levels, rounding, order within the day) rides in this
    project's ``regimen-file-fields`` extension as the file's own fields, so that the round trip is exact."""
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
            dosage: dict[str, Any] = {"text": f"{comp.drug} {comp.dose.text}"}
            timing: dict[str, Any] = {
                "extension": [
                    {
                        "url": EXT_DAYS_OF_CYCLE,
                        "extension": [{"url": "day", "valueInteger": d} for d in _days(model_phase, comp)],
                    }
                ]
            }
            if comp.duration_hours is not None:
                timing["repeat"] = {"duration": float(comp.duration_hours), "durationUnit": "h"}
            dosage["timing"] = timing
            if comp.route:
                dosage["route"] = {"text": comp.route}
            if comp.method:
                dosage["method"] = {"text": str(comp.method)}
            basis = _basis(regimen, comp.id) if not comp.variants else None
            if basis is not None:
                q = basis["valueQuantity"]
                dosage["doseAndRate"] = [{"doseQuantity" if "/h" not in q["code"] else "rateQuantity": q}]
            contained.append(
                {
                    "resourceType": "ActivityDefinition",
                    "id": ad_id,
                    "extension": [{"url": EXT_REGIMEN, "valueString": json.dumps(table, sort_keys=True)}],
                    "status": "draft",
                    "kind": "MedicationRequest",
                    "productCodeableConcept": {"text": comp.drug},
                    "dosage": [dosage],
                }
            )
            actions.append({"title": comp.drug, "definitionCanonical": f"#{ad_id}"})
        phase_fields = {k: v for k, v in (phase or {}).items() if k != "component"}
        action: dict[str, Any] = {
            "title": model_phase.id,
            "extension": [{"url": EXT_REGIMEN, "valueString": json.dumps(phase_fields, sort_keys=True)}],
            "action": actions,
        }
        if model_phase.cycle_length is not None:
            repeat: dict[str, Any] = {"period": model_phase.cycle_length, "periodUnit": "d"}
            if model_phase.cycles is not None:
                repeat["count"] = model_phase.cycles
            action["timingTiming"] = {"repeat": repeat}
        phase_actions.append(action)
    status = {"research": "draft", "draft": "draft", "retired": "retired"}.get(str(regimen.status or ""), "active")
    plan_definition: dict[str, Any] = {
        "resourceType": "PlanDefinition",
        "id": re.sub(r"[^A-Za-z0-9.-]", "-", regimen.id)[:64],
        "extension": [{"url": EXT_REGIMEN, "valueString": json.dumps(top, sort_keys=True)}],
        "contained": contained,
        "url": canonical(regimen),
        "identifier": [{"system": f"{BASE}/regimen-id", "value": regimen.id}],
        "name": re.sub(r"[^A-Za-z0-9_]", "_", regimen.id),
        "title": regimen.name,
        "type": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/plan-definition-type", "code": "protocol"}]
        },
        "status": status,
        "experimental": regimen.status == "research",
        "relatedArtifact": [{"type": "citation", "citation": str(s)} for s in regimen.sources],
        "action": phase_actions,
    }
    if regimen.version:
        plan_definition["version"] = regimen.version
    if regimen.indication:
        plan_definition["description"] = regimen.indication
    if regimen.notes:
        plan_definition["usage"] = "\n".join(regimen.notes)
    return plan_definition


def _days(phase: Phase, comp: Component) -> list[int]:
    """The days of the cycle the protocol gives the component (its first variant's, when it has variants)."""
    return sorted(resolve_days(phase, comp.id, lambda c: c.variants[0] if c.variants else None))


def _fields(resource: Mapping[str, Any], what: str) -> dict[str, Any]:
    for ext in resource.get("extension") or []:
        if ext.get("url") == EXT_REGIMEN:
            value = json.loads(ext["valueString"])
            if not isinstance(value, dict):
                break
            return value
    raise ValueError(f"{what} has no {EXT_REGIMEN} extension: it was not written by 'regimen export-definition'")


def regimen_data(plan_definition: Mapping[str, Any]) -> dict[str, Any]:
    """A regimen file's fields (as TOML writes them) from a PlanDefinition written by :func:`definition`."""
    if plan_definition.get("resourceType") != "PlanDefinition":
        raise ValueError(f"expected a PlanDefinition, got {plan_definition.get('resourceType')!r}")
    data: dict[str, Any] = {}
    ident = [i["value"] for i in plan_definition.get("identifier") or [] if i.get("system") == f"{BASE}/regimen-id"]
    if not ident:
        raise ValueError(f"the PlanDefinition has no regimen id (identifier system {BASE}/regimen-id)")
    data["id"] = ident[0]
    data["name"] = plan_definition.get("title") or ident[0]
    if plan_definition.get("description"):
        data["indication"] = plan_definition["description"]
    if plan_definition.get("version"):
        data["version"] = plan_definition["version"]
    data.update(_fields(plan_definition, "the PlanDefinition"))
    contained = {r["id"]: r for r in plan_definition.get("contained") or []}
    phases = []
    for action in plan_definition.get("action") or []:
        fields = _fields(action, f"phase {action.get('title')!r}")
        components = []
        for sub in action.get("action") or []:
            ref = str(sub.get("definitionCanonical", "")).lstrip("#")
            if ref not in contained:
                raise ValueError(
                    f"action {sub.get('title')!r} names {ref!r}, which the PlanDefinition does not contain"
                )
            activity = contained[ref]
            table = _fields(activity, f"ActivityDefinition {ref}")
            drug = (activity.get("productCodeableConcept") or {}).get("text")
            if drug is not None and table.get("drug") != drug:
                raise ValueError(
                    f"ActivityDefinition {ref}: its product ({drug!r}) differs from its regimen fields "
                    f"({table.get('drug')!r}); the definition was edited: fix one or the other"
                )
            components.append(table)
        if fields or len(plan_definition["action"]) > 1:
            phases.append({**fields, "component": components})
        else:
            data["component"] = components
    if phases:
        data["phase"] = phases
    return data


def plan_definition_json(regimen: Regimen, data: Mapping[str, Any]) -> str:
    return json.dumps(definition(regimen, data), indent=2, ensure_ascii=False) + "\n"


def iter_resources(bundle: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    for entry in bundle.get("entry") or []:
        yield entry["resource"]


# ---- a treatment course: what is planned, and what was given -------------------------------------------------


def course_bundle(view: CourseView) -> dict[str, Any]:
    """A treatment course as a FHIR R4 Bundle: the plan as it stands (RequestGroup and MedicationRequests of each
    part of the course, keyed by the course) and a MedicationAdministration for every dose recorded as given (dose,
    time, lot in a contained Medication's batch), citing the MedicationRequest of its cycle."""
    key = f"course:{view.course_id}"
    entries: list[dict[str, Any]] = []
    seen: set[str] = set()
    request_of: dict[tuple[str, int, str], str] = {}
    subject = ""
    for part in view.active_plans():
        bundle = plan_bundle(part, key)
        for entry in bundle["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == "Patient":
                subject = entry["fullUrl"]
            if entry["fullUrl"] in seen:
                continue
            seen.add(entry["fullUrl"])
            entries.append(entry)
        for r in part.administrations:
            request_of[r.phase, r.cycle, r.component] = f"urn:uuid:{_id(key, 'request', r.phase, r.cycle, r.component)}"
    for cr in view.rows:
        given = cr.given
        if given is None:
            continue
        r = cr.row
        aid = _id(key, "administration", given.change)
        administration: dict[str, Any] = {
            "resourceType": "MedicationAdministration",
            "id": aid,
            "status": "completed",
            "medicationCodeableConcept": {"text": r.drug},
            "subject": {"reference": subject},
            "dosage": {
                "text": f"given {given.text}; planned {r.dose_text}: {r.calculation}",
                "dose": quantity(given.dose, given.unit),
            },
            "note": [{"text": f"recorded as change {given.change} of course {view.course_id}"}],
        }
        if r.route:
            administration["dosage"]["route"] = {"text": r.route}
        if given.at is not None:
            administration["effectiveDateTime"] = wall(given.at, tzinfo_for(view.start.tz))
        elif r.date is not None:
            administration["effectiveDateTime"] = r.date.isoformat()
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
    return {"resourceType": "Bundle", "id": _id(key, "bundle"), "type": "collection", "entry": entries}


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
    "regimen_data",
    "ucum",
]
