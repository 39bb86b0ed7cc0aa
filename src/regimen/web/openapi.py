"""The HTTP API's OpenAPI 3.1 description, served at /openapi.json."""

from __future__ import annotations

from typing import Any

from regimen.web.inputs import LABELS

_ERROR = {
    "description": "Bad input: the command line's one-line message for the same input",
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
        }
    },
}


def _request_schema() -> dict[str, Any]:
    properties: dict[str, Any] = {k: {"type": ["string", "number"], "description": v} for k, v in LABELS.items()}
    properties["regimen"] = {"type": "string", "description": "A regimen id from GET /api/regimens"}
    return {"type": "object", "properties": properties, "required": ["regimen"], "additionalProperties": False}


def openapi() -> dict[str, Any]:
    plan_request = {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PlanRequest"}}},
    }
    errors = {"400": _ERROR, "413": _ERROR, "415": _ERROR, "429": _ERROR}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "regimen",
            "version": "1",
            "description": "Oncology regimens expanded into per-patient administration schedules. Research software: "
            "verify every dose against the protocol. Values are text with optional units, as on the command line "
            "('70', '154 lb', '1.8 m2').",
        },
        "paths": {
            "/api/regimens": {
                "get": {
                    "summary": "List the regimens (search by id, name, indication or drug with ?q=)",
                    "parameters": [{"name": "q", "in": "query", "required": False, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "The regimens", "content": {"application/json": {}}}},
                }
            },
            "/api/regimens/{regimen_id}": {
                "get": {
                    "summary": "One regimen, in words and with its sources",
                    "parameters": [
                        {"name": "regimen_id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {
                        "200": {"description": "The regimen", "content": {"application/json": {}}},
                        "404": _ERROR,
                    },
                }
            },
            "/api/plan": {
                "post": {
                    "summary": "Expand a regimen for one patient (the JSON of 'regimen expand --format json')",
                    "requestBody": plan_request,
                    "responses": {"200": {"description": "The plan", "content": {"application/json": {}}}, **errors},
                }
            },
            "/api/calendar": {
                "post": {
                    "summary": "The plan as an iCalendar file (needs start)",
                    "requestBody": plan_request,
                    "responses": {"200": {"description": "text/calendar", "content": {"text/calendar": {}}}, **errors},
                }
            },
            "/api/cohort": {
                "post": {
                    "summary": "Plans for a small roster (at most 500 patients): common fields plus 'patients'",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "allOf": [
                                        {"$ref": "#/components/schemas/PlanRequest"},
                                        {
                                            "type": "object",
                                            "properties": {"patients": {"type": "array", "items": {"type": "object"}}},
                                        },
                                    ]
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {"description": "plans and rejected patients", "content": {"application/json": {}}},
                        **errors,
                    },
                }
            },
            "/api/health": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}},
        },
        "components": {"schemas": {"PlanRequest": _request_schema()}},
    }


__all__ = ["openapi"]
