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

The package: :mod:`~regimen.export.fhir.base` (extension URLs, UCUM quantities, ids, codings), :mod:`.plan` (a
patient's plan), :mod:`.definition` (a regimen as a PlanDefinition) and :mod:`.course` (a treatment course). Reading
FHIR in is :mod:`regimen.interop`'s: a reader is not an export.
"""

from __future__ import annotations

from regimen.export.fhir.base import (
    BASE,
    EXT_DAYS_OF_CYCLE,
    EXT_DERIVATION,
    EXT_NZ_TIMING_OF_DAYS,
    EXT_REGIMEN,
    fhirpath,
    quantity,
    ucum,
)
from regimen.export.fhir.course import course_bundle, course_fhir_json
from regimen.export.fhir.definition import definition, iter_resources, plan_definition_json
from regimen.export.fhir.plan import plan_bundle, plan_fhir_json

__all__ = [
    "BASE",
    "EXT_DAYS_OF_CYCLE",
    "EXT_DERIVATION",
    "EXT_NZ_TIMING_OF_DAYS",
    "EXT_REGIMEN",
    "course_bundle",
    "course_fhir_json",
    "definition",
    "fhirpath",
    "iter_resources",
    "plan_bundle",
    "plan_definition_json",
    "plan_fhir_json",
    "quantity",
    "ucum",
]
