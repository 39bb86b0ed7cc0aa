"""Every field of a regimen file, in one place: the loader's tables of allowed keys and the JSON Schema.

Each table maps a key to its JSON Schema fragment (with a description for editors). The loader accepts
exactly these keys (anything else is "unknown field"), and :mod:`regimen.protocol.schema` builds the schema
from the same tables, so the two cannot drift: a new field is added here once.
"""

from __future__ import annotations

from typing import Any

from regimen.model import SUPPORTIVE_KINDS

_TEXT: dict[str, Any] = {"type": "string", "minLength": 1}

_DAY_LIST: dict[str, Any] = {
    "description": 'Cycle days: "2-4", "1,8,15", "1-7, 15-21", 6, or [1, 8, 15]. Day 1 is the first day of '
    "the first drug. For a continuous infusion, the days it runs.",
    "oneOf": [
        {"type": "string", "pattern": r"^\s*\d+\s*([-–]\s*\d+\s*)?(,\s*\d+\s*([-–]\s*\d+\s*)?)*$"},
        {"type": "integer", "minimum": 1},
        {
            "type": "array",
            "minItems": 1,
            "items": {
                "oneOf": [
                    {"type": "integer", "minimum": 1},
                    {"type": "string", "pattern": r"^\s*\d+\s*([-–]\s*\d+)?\s*$"},
                ]
            },
        },
    ],
}
_DOSE: dict[str, Any] = {
    "type": "string",
    "description": "Number and unit as the protocol writes it: '0.1 mg/kg/h', '2.4 mg/kg/day', '12 mg/m²/day', "
    "'1 g/m2', '375 mg/m**2', '40 mg'. A mass, per kg or per m², optionally per day or per hour. "
    "Or a target AUC for Calvert dosing: 'AUC 5' (mg/mL·min; dose = AUC × (GFR + 25)).",
    "pattern": r"^\s*(\d+(\.\d+)?\s*\S+|[Aa][Uu][Cc]\s*=?\s*\d+(\.\d+)?(\s*mg\s*/\s*mL\s*[·.*]?\s*min)?\s*$)",
}
_AMOUNT: dict[str, Any] = {
    "type": "string",
    "description": "A plain amount: '2 mg', '500 mcg', '1 g'.",
    "pattern": r"^\s*\d+(\.\d+)?\s*(mcg|ug|µg|mg|g)\s*$",
}
_DOSING_WEIGHT: dict[str, Any] = {
    "enum": ["actual", "ideal", "ideal-devine", "ideal-robinson", "ideal-miller", "adjusted", "lean"],
    "description": "The body weight the source uses for doses per kg ('ideal' = Devine). A run cannot override it.",
}
_LEVELS: dict[str, Any] = {
    "type": "object",
    "description": 'Dose levels the protocol defines, e.g. { "-1" = "75%", "-2" = "9 mg/m²/day" }; chosen with '
    "dose level (--dose-level).",
    "propertyNames": {"pattern": r"^[+-]?[1-9]\d*$"},
    "additionalProperties": {"anyOf": [{"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*%\s*$"}, _DOSE]},
    "minProperties": 1,
}
_DURATION: dict[str, Any] = {
    "type": "string",
    "description": "Time with a unit: '4 days', '96 h', '60 min'.",
    "pattern": r"^\s*\d+(\.\d+)?\s*[A-Za-z]+\s*$",
}
_CYCLE_LENGTH: dict[str, Any] = {
    "description": "Days per cycle: 21 or '21 days'. Leave out if the source is silent.",
    "oneOf": [{"type": "integer", "minimum": 1}, _DURATION],
}
_CYCLES: dict[str, Any] = {"type": "integer", "minimum": 1, "description": "The protocol's (maximum) number of cycles."}

_MAX_DURATION: dict[str, Any] = {
    **_DURATION,
    "description": "The longest the source gives this course or phase "
    "('1 year', '52 weeks'); a plan that runs longer carries a warning.",
}

#: Keys of relative days: ``{ relative_to = "cenersen", on_day = 2, count = 3 }``.
RELATIVE_FIELDS: dict[str, dict[str, Any]] = {
    "relative_to": {**_TEXT, "description": "id of the component these days follow"},
    "on_day": {"type": "integer", "minimum": 1, "description": "start on day N of the other component"},
    "days_before": {"type": "integer", "minimum": 1, "description": "start N days before the other component"},
    "count": {"type": "integer", "minimum": 1, "default": 1, "description": "number of consecutive days"},
}
_RELATIVE: dict[str, Any] = {
    "type": "object",
    "description": "Days anchored to another component of the same phase.",
    "properties": RELATIVE_FIELDS,
    "required": ["relative_to"],
    "oneOf": [{"required": ["on_day"]}, {"required": ["days_before"]}],
    "additionalProperties": False,
}
_DAYS: dict[str, Any] = {"anyOf": [_DAY_LIST, _RELATIVE]}
_ID: dict[str, Any] = {"type": "string", "pattern": "^[a-z0-9][a-z0-9._-]{0,63}$"}

#: ``[[component.variant]]``: a change that applies when a rule holds.
VARIANT_FIELDS: dict[str, dict[str, Any]] = {
    "when": {**_TEXT, "description": "Rule over age, weight, bsa, height, cycle, sex; and/or; no code."},
    "dose": _DOSE,
    "days": _DAYS,
    "duration": _DURATION,
    "note": _TEXT,
}

_BOUND: dict[str, Any] = {"type": "number", "minimum": 0}
_ACTION: dict[str, Any] = {
    "description": "What the source says to do in this range: give a percentage of the dose ('75%'), or "
    "'avoid', or 'contraindicated' (the drug is then left out of the plan, with a warning).",
    "anyOf": [{"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*%\s*$"}, {"enum": ["avoid", "contraindicated"]}],
}
#: ``[[component.renal]]``: one row of the source's dose adjustment by kidney function.
RENAL_FIELDS: dict[str, dict[str, Any]] = {
    "min": {**_BOUND, "description": "The row holds from this CrCl/GFR (mL/min), inclusive."},
    "max": {**_BOUND, "description": "... up to this CrCl/GFR (mL/min), inclusive."},
    "below": {**_BOUND, "description": "... up to but not including this CrCl/GFR (mL/min)."},
    "action": _ACTION,
    "source": {**_TEXT, "description": "Short citation of the product information or renal-dosing reference."},
    "url": {**_TEXT, "description": "Where the source can be read."},
    "note": _TEXT,
}
#: ``[[component.hepatic]]``: one row of the source's dose adjustment by liver values.
HEPATIC_FIELDS: dict[str, dict[str, Any]] = {
    "measure": {
        "enum": ["bilirubin_uln", "bilirubin_umol_l", "bilirubin_mg_dl", "ast_uln", "alt_uln"],
        "description": "What the row is on: bilirubin (× ULN, µmol/L or mg/dL), AST or ALT (× ULN).",
    },
    **{
        k: {**v, "description": v["description"].replace("CrCl/GFR (mL/min)", "value")}
        for k, v in RENAL_FIELDS.items()
        if k in ("min", "max", "below")
    },
    "action": _ACTION,
    "source": RENAL_FIELDS["source"],
    "url": RENAL_FIELDS["url"],
    "note": _TEXT,
}
ORGAN_REQUIRED = ("action", "source")

#: ``[[component]]``: one drug as the protocol states it.
COMPONENT_FIELDS: dict[str, dict[str, Any]] = {
    "id": {**_ID, "description": "Defaults to the drug name in lower case."},
    "drug": _TEXT,
    "dose": _DOSE,
    "route": {**_TEXT, "description": "IV, oral, SC... leave out if the source does not say."},
    "method": {
        "enum": ["bolus", "IV push", "infusion", "continuous infusion", "continuous"],
        "description": "Leave out if the source does not say (oral, SC and IM drugs need none: the route says it).",
    },
    "after": {
        **_ID,
        "description": "Id of the component this one follows: it starts when that one's latest administration ends "
        "(e.g. the 5-FU bolus after oxaliplatin).",
    },
    "gap": {**_DURATION, "description": "Time between the end of 'after' and the start of this one, e.g. '30 min'."},
    "times_per_day": {
        "type": "integer",
        "minimum": 1,
        "maximum": 24,
        "description": "Doses a day ('twice daily' = 2): a dose per day is split among them; any "
        "other dose is the amount of each.",
    },
    "duration": _DURATION,
    "days": _DAYS,
    "note": _TEXT,
    "variant": {"type": "array", "items": {"$ref": "#/$defs/variant"}},
    "max_dose": {
        **_AMOUNT,
        "description": "Maximum per administration, e.g. '2 mg' (a continuous infusion is one administration).",
    },
    "max_daily": {**_AMOUNT, "description": "Maximum per treatment day."},
    "max_per_cycle": {**_AMOUNT, "description": "Maximum of all this component's doses in one cycle."},
    "levels": _LEVELS,
    "dosing_weight": _DOSING_WEIGHT,
    "round": {
        **_AMOUNT,
        "description": "Rounding increment the regimen states, e.g. '1 mg' (within the rounding threshold).",
    },
    "renal": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/renal"}},
    "hepatic": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/hepatic"}},
    # supportive care (issue 27)
    "role": {
        "enum": ["anticancer", "supportive"],
        "description": "'supportive' for care given around the anticancer drugs (premedication, antiemetic, "
        "hydration, growth factor, test dose, electrolyte): shown apart and left out of cumulative totals.",
    },
    "kind": {
        "enum": list(SUPPORTIVE_KINDS),
        "description": "The kind of supportive care (needs role = 'supportive').",
    },
    "before": {
        **_ID,
        "description": "Id of the component this one precedes: it ends 'gap' before that one starts "
        "('30 min before oxaliplatin': before = 'oxaliplatin', gap = '30 min').",
    },
    "after_last": {
        **_ID,
        "description": "Id of the component whose last dose of the cycle this one follows, with 'gap' "
        "('24 h after the last dose'); the days are written too and must come after that dose.",
    },
    "in_cycles": {
        **_DAY_LIST,
        "description": "The cycles of its phase this component is given in, as a list like days: '1' for a test "
        "dose before the first dose of the course. Left out: every cycle.",
    },
    "volume": {
        "type": "string",
        "description": "Volume of a fluid, e.g. '1 L' or '500 mL': the dose of a hydration (rate = volume / duration).",
        "pattern": r"^\s*\d+(\.\d+)?\s*(mL|ml|L|l)\s*$",
    },
    "additives": {
        "type": "array",
        "description": "What is added to the fluid, as the source writes it, e.g. "
        '[{ drug = "potassium chloride", amount = "20 mmol" }]; shown, not calculated.',
        "items": {
            "type": "object",
            "properties": {"drug": _TEXT, "amount": _TEXT},
            "required": ["drug", "amount"],
            "additionalProperties": False,
        },
    },
}
COMPONENT_REQUIRED = ("drug", "days")  # and a dose, or the volume of a supportive fluid

#: ``[[phase]]``: a run of identical cycles (induction, maintenance).
PHASE_FIELDS: dict[str, dict[str, Any]] = {
    "id": _ID,
    "name": _TEXT,
    "cycle_length": _CYCLE_LENGTH,
    "cycles": _CYCLES,
    "limit": _TEXT,
    "max_duration": _MAX_DURATION,
    "component": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/component"}},
}

#: ``[[source]]``: every regimen is cited.
SOURCE_FIELDS: dict[str, dict[str, Any]] = {"citation": _TEXT, "registry": _TEXT, "url": _TEXT, "note": _TEXT}

#: ``eligibility``: ages the source treated.
ELIGIBILITY_FIELDS: dict[str, dict[str, Any]] = {
    "min_age": {"type": "number", "minimum": 0},
    "max_age": {"type": "number", "minimum": 0},
}

_CONDITION: dict[str, Any] = {
    "type": "string",
    "description": "A comparison of a pre-cycle value with a threshold in the test's unit: 'anc < 1.5' (×10⁹/L), "
    "'platelets >= 100', 'bilirubin > 1.5 x ULN', 'crcl < 60' (mL/min), 'neuropathy >= 2 persistent' (CTCAE grade "
    "that persists between cycles); several joined by 'and'.",
    "minLength": 1,
}
_STEP: dict[str, dict[str, Any]] = {
    "action": {"enum": ["delay", "reduce", "omit", "stop"]},
    "drugs": {
        "type": "array",
        "items": _TEXT,
        "description": "Components or drugs it applies to; left out: every anticancer drug.",
    },
    "delay": {**_DURATION, "description": "How long a delay is: '7 days', '1 week'."},
    "level": {"type": "integer", "maximum": -1, "description": "Dose level to give (-1), as the component's levels."},
    "dose_percent": {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*%\s*$", "description": "'75%' of the dose."},
    "dose": {**_DOSE, "description": "A dose of its own: '65 mg/m²'."},
}

#: ``emetogenic_risk``: the regimen's risk as the cited antiemetic guideline classes it.
EMETOGENIC_FIELDS: dict[str, dict[str, Any]] = {
    "level": {"enum": ["high", "moderate", "low", "minimal"]},
    "source": {**_TEXT, "description": "The guideline: MASCC/ESMO 2023 or ASCO 2020, and where it says so."},
    "note": _TEXT,
}

#: ``[[requirement]]``: what must be known before the first dose.
REQUIREMENT_FIELDS: dict[str, dict[str, Any]] = {
    "id": {**_ID, "description": "dpyd, hepatitis-b, lvef, audiometry, or another id."},
    "test": {**_TEXT, "description": "What must be known, in words: 'DPYD genotype or phenotype'."},
    "before": {"type": "array", "items": _TEXT, "minItems": 1, "description": "Components or drugs it precedes."},
    "source": _TEXT,
    "note": _TEXT,
}

#: ``[[gate]]``: what must hold before each cycle.
GATE_FIELDS: dict[str, dict[str, Any]] = {"require": _CONDITION, "source": _TEXT, "note": _TEXT}

#: ``[[modification]]``: one line of the dose modification table.
MODIFICATION_FIELDS: dict[str, dict[str, Any]] = {
    "when": _CONDITION,
    **_STEP,
    "then": {
        "type": "object",
        "description": "What to do instead after 'after_delays' delays for this condition.",
        "properties": _STEP,
        "required": ["action"],
        "additionalProperties": False,
    },
    "after_delays": {"type": "integer", "minimum": 1},
    "source": _TEXT,
    "note": _TEXT,
}

#: The top level of a regimen file.
TOP_FIELDS: dict[str, dict[str, Any]] = {
    "id": _ID,
    "name": _TEXT,
    "indication": _TEXT,
    "status": _TEXT,
    "version": {"type": ["string", "integer"]},
    "notes": {"type": "array", "items": {"type": "string"}},
    "source": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/source"}},
    "cycle_length": _CYCLE_LENGTH,
    "cycles": _CYCLES,
    "limit": _TEXT,
    "max_duration": _MAX_DURATION,
    "component": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/component"}},
    "phase": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/phase"}},
    "dosing_weight": _DOSING_WEIGHT,
    "emetogenic_risk": {
        "type": "object",
        "description": "Emetogenic risk as the cited guideline classes it; the antiemetics follow it.",
        "properties": EMETOGENIC_FIELDS,
        "required": ["level", "source"],
        "additionalProperties": False,
    },
    "requirement": {"type": "array", "items": {"$ref": "#/$defs/requirement"}},
    "gate": {"type": "array", "items": {"$ref": "#/$defs/gate"}},
    "modification": {"type": "array", "items": {"$ref": "#/$defs/modification"}},
    "eligibility": {
        "type": "object",
        "description": "Ages the source treated; the tool warns outside them.",
        "properties": ELIGIBILITY_FIELDS,
        "minProperties": 1,
        "additionalProperties": False,
    },
}
TOP_REQUIRED = ("id", "name", "source")

__all__ = [
    "COMPONENT_FIELDS",
    "COMPONENT_REQUIRED",
    "ELIGIBILITY_FIELDS",
    "EMETOGENIC_FIELDS",
    "GATE_FIELDS",
    "HEPATIC_FIELDS",
    "MODIFICATION_FIELDS",
    "ORGAN_REQUIRED",
    "PHASE_FIELDS",
    "RELATIVE_FIELDS",
    "RENAL_FIELDS",
    "REQUIREMENT_FIELDS",
    "SOURCE_FIELDS",
    "TOP_FIELDS",
    "TOP_REQUIRED",
    "VARIANT_FIELDS",
]
