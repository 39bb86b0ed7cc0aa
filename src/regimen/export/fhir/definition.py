"""FHIR R4 out: a regimen as a PlanDefinition, its own fields in ``regimen-file-fields`` extensions so that
:mod:`regimen.interop.fhir` reads it back exactly."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from regimen.export.fhir.base import (
    BASE,
    EXT_NZ_DISCLAIMER,
    EXT_NZ_TIMING_OF_DAYS,
    EXT_REGIMEN,
    applicability_condition,
    canonical,
    days_of_cycle,
    drug_concept,
    narrative,
    quantity,
    route_concept,
)
from regimen.export.table import DISCLAIMER
from regimen.model import AucDose, Component, Phase, Regimen, Variant, resolve_days
from regimen.protocol.describe import describe, describe_component, describe_schedule

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
                sub["condition"] = [applicability_condition([v.when for v in comp.variants], negate=True)]
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
        "text": narrative(f"{describe(regimen)}\n{DISCLAIMER}"),
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
    return [days_of_cycle(days), *nz]


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
        "condition": [applicability_condition([variant.when])],
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


__all__ = [
    "definition",
    "iter_resources",
    "plan_definition_json",
]
