"""Readers and writers of other systems' formats: FHIR PlanDefinitions in (regimen's own and the HL7 NZ SACT IG's),
compact one-line regimen notation in and out. A reader is not an export: it makes regimen files, never a plan."""
