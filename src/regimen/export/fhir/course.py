"""FHIR R4 out: a treatment course as a Bundle, what is planned and what was given."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from regimen.engine.courses import CourseRow, CourseView
from regimen.engine.courses.describe import what
from regimen.engine.courses.events import Given
from regimen.engine.plan import exact_sum
from regimen.engine.preparations import grouped
from regimen.engine.timing import wall
from regimen.export.fhir.base import BASE, quantity, resource_id
from regimen.export.fhir.plan import bare_patient, patient_resource, plan_entries, request_group_resource
from regimen.model import Administration
from regimen.quantities.clock import tzinfo_for

# ---- a treatment course: what is planned, and what was given -------------------------------------------------


def course_bundle(view: CourseView) -> dict[str, Any]:
    """A treatment course as a FHIR R4 Bundle: the plan as it stands (one RequestGroup for the course, with the
    MedicationRequests of every part of it: a part is the cycles computed with the same patient values, so a new
    weight from cycle 3 on is its own Observation, cited by the requests of cycles 3 on) and a
    MedicationAdministration for every dose recorded as given (dose, time, lot in a contained Medication's batch),
    citing the MedicationRequest of its cycle."""
    key = f"course:{view.course_id}"
    patient_id = resource_id(key, "patient")
    subject = f"urn:uuid:{patient_id}"
    group = {"system": f"{BASE}/plan", "value": resource_id(key, "group")}
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
            request_of[r.phase, r.cycle, r.component] = (
                f"urn:uuid:{resource_id(key, 'request', r.phase, r.cycle, r.component)}"
            )
    said = (view.notes, view.warnings)
    request_group = request_group_resource(
        view.regimen, key, subject, group, actions, f"as course {view.course_id}", said
    )
    entries: list[dict[str, Any]] = [
        {"fullUrl": f"urn:uuid:{request_group['id']}", "resource": request_group},
        {"fullUrl": subject, "resource": patient_resource(parts[0], patient_id) if parts else bare_patient(patient_id)},
        *({"fullUrl": url, "resource": obs} for url, obs in observations.items()),
        *({"fullUrl": url, "resource": req} for url, req in requests),
    ]
    # one MedicationAdministration per record: a continuous infusion's day shares are one pump, given whole
    for prep, crs in grouped([cr for cr in view.rows if cr.given is not None], _course_row):
        given = crs[0].given
        assert given is not None
        r = prep.first
        amount_given = exact_sum([cr.given.dose for cr in crs if cr.given is not None])
        aid = resource_id(key, "administration", given.change)
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
    return {"resourceType": "Bundle", "id": resource_id(key, "bundle"), "type": "collection", "entry": entries}


def _entered_in_error(view: CourseView, key: str, subject: str) -> Iterator[dict[str, Any]]:
    """A dose recorded as given and then voided: its MedicationAdministration again (the same id, so a system that
    took the earlier export updates it), with status ``entered-in-error``."""
    zone = tzinfo_for(view.start.tz)
    for change in view.changes:
        e = change.event
        if change.seq not in view.voided or not isinstance(e, Given):
            continue
        aid = resource_id(key, "administration", change.seq)
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
    "course_bundle",
    "course_fhir_json",
]
