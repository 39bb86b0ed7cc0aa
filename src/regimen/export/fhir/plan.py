"""FHIR R4 out: one patient's plan as a Bundle (see :mod:`regimen.export.fhir` for the model)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from regimen.engine.plan import Plan
from regimen.engine.timing import wall
from regimen.export.fhir.base import (
    BASE,
    EXT_ABSENT,
    EXT_CONDITION,
    EXT_DERIVATION,
    EXT_TZ,
    LOINC,
    UCUM,
    canonical,
    days_of_cycle,
    drug_concept,
    narrative,
    quantity,
    resource_id,
    route_concept,
    ucum,
)
from regimen.export.table import DISCLAIMER
from regimen.model import Administration, Component, Derivation, Regimen
from regimen.quantities.clock import tzinfo_for
from regimen.quantities.exact import amount_text, exact_decimal, format_fraction

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
            "id": resource_id(key, "observation", code, value),
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


def supportive_care(row: Administration, comp: Component | None) -> str | None:
    """What a supportive row is, in words ('supportive care: premedication'); None for an anticancer drug. It is the
    MedicationRequest's category (text only: R4's category binding is an example one, with no code for supportive
    care) and part of its narrative, so the request itself says it is not one of the anticancer drugs."""
    if row.role != "supportive":
        return None
    kind = comp.kind if comp is not None else None
    return f"supportive care: {kind}" if kind else "supportive care"


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
            rid = resource_id(key, "request", phase, cycle, component)
            url = f"urn:uuid:{rid}"
            comp = _component(reg, phase, component)
            care = supportive_care(first, comp)
            label = f"{first.drug}{f' ({care})' if care else ''}, {'' if phase == 'main' else phase + ' '}cycle {cycle}"
            dosages = [_dosage(plan, g, i, comp, observed) for i, g in enumerate(_doses(rows), start=1)]
            request: dict[str, Any] = {
                "resourceType": "MedicationRequest",
                "id": rid,
                "text": narrative(f"{label}: " + "; ".join(d["text"] for d in dosages)),
                "status": "active",
                "intent": "plan",
                "groupIdentifier": group,
                "medicationCodeableConcept": drug_concept(first.drug),
                "subject": {"reference": subject},
                "instantiatesCanonical": [canonical(reg)],
                "dosageInstruction": dosages,
            }
            if care:  # the request itself says it is supportive care, apart from the anticancer drugs
                request["category"] = [{"text": care}]
            if observations:
                request["supportingInformation"] = [{"reference": u} for u, _ in observations]
            notes = [w for r in rows for w in r.warnings] + [c for r in rows for c in r.caps]
            if notes:
                request["note"] = [{"text": n} for n in dict.fromkeys(notes)]
            requests.append((url, request))
            drug_actions.append(
                {
                    "title": label,
                    "extension": [days_of_cycle(sorted({r.day for r in rows}))],
                    "resource": {"reference": url},
                }
            )
        first_rows = next(iter(components.values()))
        cycle_actions.append(_cycle_action(plan, phase, cycle, first_rows, lengths.get(phase), drug_actions))
    return observations, requests, cycle_actions


def bare_patient(patient_id: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "text": narrative("The patient of this plan: no identity is recorded; values are in the Observations."),
    }


def patient_resource(plan: Plan, patient_id: str) -> dict[str, Any]:
    patient = bare_patient(patient_id)
    if plan.patient.sex is not None:
        patient["gender"] = str(plan.patient.sex)
    if plan.patient.birth_date is not None:
        patient["birthDate"] = plan.patient.birth_date.isoformat()
    return patient


def request_group_resource(
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
        "id": resource_id(key, "requestgroup"),
        "text": narrative(f"{reg.name} ({reg.id}{version}) {what}. {DISCLAIMER}"),
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
    patient_id = resource_id(key, "patient")
    subject = f"urn:uuid:{patient_id}"
    group = {"system": f"{BASE}/plan", "value": resource_id(key, "group")}
    observations, requests, actions = plan_entries(plan, key, subject, group)
    said = (plan.notes, plan.warnings)
    request_group = request_group_resource(plan.regimen, key, subject, group, actions, "for one patient", said)
    entries = [
        (f"urn:uuid:{request_group['id']}", request_group),
        (subject, patient_resource(plan, patient_id)),
        *observations,
        *requests,
    ]
    return {
        "resourceType": "Bundle",
        "id": resource_id(key, "bundle"),
        "type": "collection",
        "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
    }


def plan_fhir_json(plan: Plan) -> str:
    return json.dumps(plan_bundle(plan), indent=2, ensure_ascii=False) + "\n"


__all__ = [
    "bare_patient",
    "patient_resource",
    "plan_bundle",
    "plan_entries",
    "plan_fhir_json",
    "request_group_resource",
    "supportive_care",
]
