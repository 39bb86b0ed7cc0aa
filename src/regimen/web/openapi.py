"""The HTTP API's OpenAPI 3.1 description, served at /openapi.json.

The request fields are the options of ``regimen expand`` (``bsa_cap`` is ``--bsa-cap``); the plan answered is the
JSON of ``regimen expand --format json``, described here field by field (a test holds every answer to it).
"""

from __future__ import annotations

from typing import Any

from regimen.engine.rows import row_json_schema
from regimen.protocol.catalog import regimen_ids
from regimen.web.inputs import CHOICES, LABELS, MAX_VALUE, PATIENT_FIELDS, PLAN_LABELS, REPEATED

_ERROR = {
    "description": "Refused: one line saying what to change, naming the field (the command line's message, inputs "
    "named by their field)",
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"error": {"type": "string"}},
                "required": ["error"],
                "additionalProperties": False,
            }
        }
    },
}
_TEXT = {"type": ["string", "null"]}
_NUMBER = {"type": ["number", "null"]}
_INT = {"type": ["integer", "null"]}
_TEXTS = {"type": "array", "items": {"type": "string"}}


def _field(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = {"description": LABELS[name]}
    if name in REPEATED:
        one = {"type": "string", "maxLength": MAX_VALUE}
        schema["oneOf"] = [{**one, "description": "values separated by , or ;"}, {"type": "array", "items": one}]
    elif name == "confirm":  # the API's true/false, or the form's "yes"
        schema["oneOf"] = [{"type": "boolean"}, {"type": "string", "enum": list(CHOICES[name])}]
    elif name in CHOICES:
        schema.update(type="string", enum=list(CHOICES[name]))
    elif name in ("start", "dob"):
        schema.update(type="string", format="date")
    elif name == "time":
        schema.update(type="string", pattern="^[0-9]{1,2}:[0-9]{2}$")
    elif name in ("tz", "label", "remind"):
        schema.update(type="string", maxLength=MAX_VALUE)
    else:
        schema.update(type=["string", "number"], maxLength=MAX_VALUE)
    return schema


def _request(names: list[str], regimens: list[str]) -> dict[str, Any]:
    properties = {k: _field(k) for k in names}
    properties["regimen"] = {"type": "string", "enum": regimens, "description": "A regimen id from GET /api/regimens"}
    return {"type": "object", "properties": properties, "required": ["regimen"], "additionalProperties": False}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": sorted(properties), "additionalProperties": False}


#: A row of the plan: derived from the row schema's one field table (:data:`regimen.engine.rows.ROW_SCHEMA`)
_ADMINISTRATION = row_json_schema()
_PREPARATION = _object(
    {
        "phase": {"type": "string"},
        "cycle": {"type": "integer"},
        "days": {"type": "array", "items": {"type": "integer"}, "description": "the cycle days it covers"},
        "date": {**_TEXT, "format": "date"},
        "drug": {"type": "string"},
        "component": {"type": "string"},
        "continuous": {"type": "boolean", "description": "a continuous infusion: one pump or bag over its days"},
        "dose": {"type": "number", "description": "the amount prepared, rounded for display"},
        "dose_exact": {"type": "string", "description": "the exact amount prepared (a whole infusion's total)"},
        "dose_unit": {"type": "string"},
        "rate": _NUMBER,
        "rate_unit": _TEXT,
        "hours": _NUMBER,
        "connect": {**_TEXT, "format": "date-time"},
        "disconnect": {**_TEXT, "format": "date-time"},
        "route": _TEXT,
        "method": _TEXT,
        "dose_number": _INT,
        "condition": _TEXT,
        "calculation": {"type": "string", "description": "the working of what is prepared"},
        "warnings": _TEXTS,
    }
)
_TOTAL = _object(
    {
        "drug": {"type": "string"},
        "phase": _TEXT,
        "cycle": _INT,
        "amount": {"type": "number"},
        "amount_exact": {"type": "string"},
        "unit": {"type": "string"},
        "component": _TEXT,
        "condition": _TEXT,
    }
)
PLAN_SCHEMA = _object(
    {
        "regimen": _object(
            {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "version": _TEXT,
                "status": _TEXT,
                "indication": _TEXT,
                "file": {"type": "string"},
                "shadows": _TEXT,
                "sources": {
                    "type": "array",
                    "items": _object({"citation": {"type": "string"}, "registry": _TEXT, "url": _TEXT}),
                },
                "cycles": {"type": "object", "additionalProperties": {"type": "integer"}},
            }
        ),
        "patient": _object(
            {
                "weight_kg": _NUMBER,
                "bsa_m2": _NUMBER,
                "age_years": _NUMBER,
                "height_cm": _NUMBER,
                "scr_mg_dl": _NUMBER,
                "gfr_ml_min": _NUMBER,
                "sex": _TEXT,
                "working": _TEXTS,
            }
        ),
        "start": {**_TEXT, "format": "date"},
        "administrations": {"type": "array", "items": {"$ref": "#/components/schemas/Administration"}},
        "preparations": {"type": "array", "items": _PREPARATION},
        "totals": _object(
            {
                "by_cycle": {"type": "array", "items": {"$ref": "#/components/schemas/Total"}},
                "course": {"type": "array", "items": {"$ref": "#/components/schemas/Total"}},
            }
        ),
        "notes": _TEXTS,
        "warnings": _TEXTS,
        "rounding": {"type": "string"},
        "protocol": {
            "type": "object",
            "description": "what the protocol states around the doses: emetogenic risk, requirements before the first "
            "dose, pre-cycle gates and the modification table, each with its source",
            "properties": {
                "emetogenic_risk": {"type": ["object", "null"]},
                "requirements": {"type": "array", "items": {"type": "object"}},
                "gates": {"type": "array", "items": {"type": "object"}},
                "modifications": {"type": "array", "items": {"type": "object"}},
            },
        },
    }
)
_REGIMEN_SUMMARY = _object({"id": {"type": "string"}, "name": {"type": "string"}, "indication": _TEXT, "drugs": _TEXTS})
_REGIMEN = _object(
    {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "version": _TEXT,
        "status": _TEXT,
        "indication": _TEXT,
        "sources": {
            "type": "array",
            "items": _object({"citation": {"type": "string"}, "registry": _TEXT, "url": _TEXT}),
        },
        "description": {"type": "string", "description": "the regimen in words, as 'regimen show' says it"},
    }
)
_COHORT = _object(
    {
        "plans": {
            "type": "array",
            "items": _object({"patient_id": {"type": "string"}, "plan": {"$ref": "#/components/schemas/Plan"}}),
        },
        "rejected": {
            "type": "array",
            "items": _object(
                {"patient": {"type": "integer"}, "patient_id": {"type": "string"}, "error": {"type": "string"}}
            ),
        },
    }
)


_ORDER = {
    "oneOf": [
        {"type": "string", "maxLength": MAX_VALUE, "description": "as 'regimen verify --order' spells it"},
        {
            "type": "object",
            "properties": {
                k: {"type": ["string", "number", "null"]}
                for k in ("drug", "cycle", "day", "dose", "unit", "rate", "rate_unit", "duration", "route", "method")
            },
            "required": ["drug", "dose"],
            "additionalProperties": False,
        },
    ]
}
_CHECK_FIELDS = ("order", "drug", "component", "cycle", "day", "ordered", "ordered_dose", "ordered_exact",
                 "protocol_dose", "protocol_exact", "unit", "difference", "difference_exact", "percent",
                 "percent_exact", "tolerance_percent", "verdict", "ok", "working", "notes", "problems")  # fmt: skip
_MISSING_FIELDS = ("drug", "component", "cycle", "day", "days", "doses", "protocol_dose", "protocol_exact", "unit",
                   "working")  # fmt: skip
_ANY = {"type": ["string", "number", "integer", "boolean", "null"]}
_VERIFICATION = _object(
    {
        "regimen": _object({"id": {"type": "string"}, "name": {"type": "string"}, "version": _TEXT}),
        "patient": {"type": "object"},
        "ok": {"type": "boolean", "description": "every order within tolerance, nothing lacking"},
        "summary": {"type": "string"},
        "tolerance": _object(
            {
                "default_percent": {"type": "number"},
                "per_drug": {"type": "object", "additionalProperties": {"type": "number"}},
                "source": {"type": "string"},
            }
        ),
        "checks": {
            "type": "array",
            "items": _object({k: _TEXTS if k in ("notes", "problems") else _ANY for k in _CHECK_FIELDS}),
        },
        "missing": {
            "type": "array",
            "items": _object(
                {k: {"type": "array", "items": {"type": "integer"}} if k == "days" else _ANY for k in _MISSING_FIELDS}
            ),
        },
        "notes": _TEXTS,
        "warnings": _TEXTS,
        "rounding": {"type": "string"},
    }
)


def _json(description: str, ref: str | dict[str, Any]) -> dict[str, Any]:
    schema = {"$ref": f"#/components/schemas/{ref}"} if isinstance(ref, str) else ref
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(ref: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}}


def openapi(regimens: list[str] | None = None) -> dict[str, Any]:
    """The document; ``regimens``: the ids the server knows (the plan request's choices), default the bundled ones."""
    if regimens is None:
        regimens = regimen_ids()
    errors = {"400": _ERROR, "413": _ERROR, "415": _ERROR, "429": _ERROR}
    plan_fields = list(PLAN_LABELS)
    patient = {k: _field(k) for k in sorted(PATIENT_FIELDS)}
    patient["patient_id"] = {"type": ["string", "integer"], "maxLength": 100, "description": "The id in the answer"}
    cohort_request = _request(plan_fields, regimens)
    cohort_request["properties"]["patients"] = {
        "type": "array",
        "minItems": 1,
        "maxItems": 500,
        "items": {"type": "object", "properties": patient, "additionalProperties": False},
    }
    cohort_request["required"] = ["regimen", "patients"]
    verify_request = _request(plan_fields, regimens)
    verify_request["properties"].update(
        orders={"type": "array", "maxItems": 500, "items": _ORDER},
        bundle={"type": "object", "description": "A FHIR R4 Bundle of MedicationRequests"},
        tolerance={"oneOf": [{"type": "string"}, {"type": "array", "maxItems": 20, "items": {"type": "string"}}]},
        cycle={"type": "integer", "minimum": 1, "description": "The cycle of the orders that give none (default 1)"},
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "regimen",
            "version": "1",
            "description": "Oncology regimens expanded into per-patient administration schedules. Research software: "
            "verify every dose against the protocol. Values are text with optional units, as on the command line "
            "('70', '154 lb', '1.8 m2'); each field is the option of 'regimen expand' of the same name "
            "(bsa_cap is --bsa-cap).",
        },
        "paths": {
            "/api/regimens": {
                "get": {
                    "summary": "List the regimens (search by id, name, indication or drug with ?q=)",
                    "parameters": [{"name": "q", "in": "query", "required": False, "schema": {"type": "string"}}],
                    "responses": {
                        "200": _json("The regimens", {"type": "array", "items": _REGIMEN_SUMMARY}),
                        "429": _ERROR,
                    },
                }
            },
            "/api/regimens/{regimen_id}": {
                "get": {
                    "summary": "One regimen, in words and with its sources",
                    "parameters": [
                        {"name": "regimen_id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {"200": _json("The regimen", _REGIMEN), "404": _ERROR, "429": _ERROR},
                }
            },
            "/api/plan": {
                "post": {
                    "summary": "Expand a regimen for one patient (the JSON of 'regimen expand --format json')",
                    "requestBody": _body("PlanRequest"),
                    "responses": {"200": _json("The plan", "Plan"), **errors},
                }
            },
            "/api/calendar": {
                "post": {
                    "summary": "The plan as an iCalendar file (needs start), as 'regimen expand --ics' writes it",
                    "requestBody": _body("CalendarRequest"),
                    "responses": {
                        "200": {
                            "description": "text/calendar",
                            "content": {"text/calendar": {"schema": {"type": "string"}}},
                        },
                        **errors,
                    },
                }
            },
            "/api/cohort": {
                "post": {
                    "summary": "Plans for a small roster (at most 500 patients, 20,000 administrations in all): the "
                    "common fields, and 'patients' with each patient's values",
                    "requestBody": _body("CohortRequest"),
                    "responses": {"200": _json("Plans and rejected patients", "Cohort"), **errors},
                }
            },
            "/api/verify": {
                "post": {
                    "summary": "Check ordered doses against the protocol, as 'regimen verify --format json' does: the "
                    "plan's fields, with 'orders' and/or a FHIR 'bundle' of MedicationRequests, 'tolerance' and "
                    "'cycle'. 200 whatever the verdict: 'ok' says it",
                    "requestBody": _body("VerifyRequest"),
                    "responses": {"200": _json("The verification", "Verification"), **errors},
                }
            },
            "/api/health": {
                "get": {
                    "summary": "Liveness",
                    "responses": {"200": _json("ok", _object({"status": {"type": "string", "enum": ["ok"]}}))},
                }
            },
        },
        "components": {
            "schemas": {
                "PlanRequest": _request(plan_fields, regimens),
                "CalendarRequest": _request([*plan_fields, "label", "remind"], regimens),
                "CohortRequest": cohort_request,
                "Plan": PLAN_SCHEMA,
                "Administration": _ADMINISTRATION,
                "Total": _TOTAL,
                "Cohort": _COHORT,
                "VerifyRequest": verify_request,
                "Verification": _VERIFICATION,
            }
        },
    }


def _type(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        shown = [str(v) for v in schema["enum"]]
        return "one of " + ", ".join(shown[:12]) + (f" … ({len(shown)} in all)" if len(shown) > 12 else "")
    if "oneOf" in schema:
        return " or ".join(_type(s) for s in schema["oneOf"])
    kind = schema.get("type", "object")
    text = " or ".join(kind) if isinstance(kind, list) else str(kind)
    return f"{text} ({schema['format']})" if "format" in schema else text


def reference(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The document as the /docs page lists it: per operation, its summary, request fields and answers."""
    schemas = spec.get("components", {}).get("schemas", {})
    out = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            fields = []
            for p in op.get("parameters", []):
                fields.append({"name": p["name"], "where": p["in"], "type": _type(p["schema"]), "about": ""})
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            name = body.get("$ref", "").rsplit("/", 1)[-1]
            request = schemas.get(name, body)
            required = set(request.get("required", []))
            for field, schema in request.get("properties", {}).items():
                about = schema.get("description", "")
                fields.append(
                    {
                        "name": field,
                        "where": "body, required" if field in required else "body",
                        "type": _type(schema),
                        "about": about,
                    }
                )
            answers = [{"code": code, "about": a.get("description", "")} for code, a in op["responses"].items()]
            out.append(
                {"method": method.upper(), "path": path, "summary": op.get("summary", ""), "fields": fields,
                 "answers": answers}
            )  # fmt: skip
    return out


__all__ = ["PLAN_SCHEMA", "openapi", "reference"]
