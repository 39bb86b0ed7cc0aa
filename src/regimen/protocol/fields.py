"""Every field of a regimen file, in one place: its JSON Schema and how the loader reads it.

Each table (:class:`~regimen.protocol.spec.Table`) gives every key once: its JSON Schema fragment (type,
pattern or allowed values, with a description for editors), whether it is required, and the reader the loader
checks it with (:mod:`regimen.protocol.values`). The loader accepts exactly these keys (anything else is
"unknown field") and reads each with its reader; :mod:`regimen.protocol.schema` prints the same tables. The
schema is never stricter than the loader (tests/test_schema.py checks a value the schema refuses is refused by
the loader too); the loader goes further (units, rules, references).
"""

from __future__ import annotations

from functools import partial
from typing import Any, cast

from regimen.model import ACTIONS, DOSING_WEIGHTS, ROLES, SUPPORTIVE_KINDS, DayList, Days, Eligibility, RelativeDays
from regimen.protocol import values
from regimen.protocol.organ import HEPATIC, RENAL, bands
from regimen.protocol.rates import RATE_ESCALATION
from regimen.protocol.spec import PERCENT_PATTERN, TEXT, Field, Table, caseless
from regimen.quantities.days import parse_days
from regimen.quantities.units import NUMBER_PATTERN, VOLUME_PATTERN, ParsedDose, parse_dose

_QUANTITY = rf"^\s*{NUMBER_PATTERN}\s*\S.*$"  # a number and a unit; the loader reads the unit

_TEXT = TEXT

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
    "pattern": rf"^\s*({NUMBER_PATTERN}\s*\S.*|[Aa][Uu][Cc]\s*=?\s*\d+(\.\d+)?"
    r"(\s*[Mm][Gg]\s*/\s*[Mm][Ll]\s*[·.*]?\s*[Mm][Ii][Nn])?\s*)$",
}
_AMOUNT: dict[str, Any] = {
    "type": "string",
    "description": "A plain amount: '2 mg', '500 mcg', '1 g'.",
    "pattern": rf"^\s*{NUMBER_PATTERN}\s*[^\s/][^/]*$",  # a unit, not per anything (per kg, m², day)
}
_DOSING_WEIGHT: dict[str, Any] = {
    "anyOf": [{"enum": list(DOSING_WEIGHTS)}, {"type": "string", "pattern": caseless(DOSING_WEIGHTS)}],
    "description": "The body weight the source uses for doses per kg ('ideal' = Devine). A run cannot override it.",
}
_LEVELS: dict[str, Any] = {
    "type": "object",
    "description": 'Dose levels the protocol defines, e.g. { "-1" = "75%", "-2" = "9 mg/m²/day" }; chosen with '
    "dose level (--dose-level).",
    "propertyNames": {"pattern": values.LEVEL_PATTERN.pattern},
    "additionalProperties": {"anyOf": [{"type": "string", "pattern": PERCENT_PATTERN}, _DOSE]},
    "minProperties": 1,
}
_DURATION: dict[str, Any] = {
    "type": "string",
    "description": "Time with a unit: '4 days', '96 h', '60 min'.",
    "pattern": _QUANTITY,
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

_CONTEXT_COMPONENTS = "the regimen's components: it names them"


def _text_field(schema: dict[str, Any], what: str, required: bool = False) -> Field:
    return Field(schema, partial(values.text, what=what), required)


def _id_field(schema: dict[str, Any], what: str, required: bool = False) -> Field:
    return Field(schema, partial(values.ident, what=what), required)


def _count(what: str, schema: dict[str, Any]) -> Field:
    return Field(schema, partial(values.positive_int, what=what))


#: ``{ relative_to = "cenersen", on_day = 2, count = 3 }``: days anchored to another component.
RELATIVE = Table(
    {
        "relative_to": _text_field(
            {**_TEXT, "description": "id of the component these days follow"}, "relative_to", required=True
        ),
        "on_day": _count("on_day", {"type": "integer", "minimum": 1, "description": "start on day N of the other"}),
        "days_before": _count("days_before", {"type": "integer", "minimum": 1, "description": "start N days before"}),
        "count": _count("count", {"type": "integer", "minimum": 1, "default": 1, "description": "consecutive days"}),
    },
    rules={"oneOf": [{"required": ["on_day"]}, {"required": ["days_before"]}]},
    description="Days anchored to another component of the same phase.",
)
_DAYS: dict[str, Any] = {"anyOf": [_DAY_LIST, RELATIVE.schema()]}


def _read_days(value: object) -> Days:
    """A day list ("2-4", "1,8,15", 6, [1, 8]) or days relative to another component, read by :data:`RELATIVE`."""
    if isinstance(value, (str, int, list)):
        return DayList(parse_days(cast("str | int | list[object]", value)))
    if not isinstance(value, dict):
        raise ValueError('days must be a day list ("2-4", "1,8,15") or a table relative to another component')
    extra = set(value) - RELATIVE.keys
    if extra:
        raise ValueError(
            f"unknown key(s) {', '.join(sorted(extra))} in relative days; use relative_to, on_day "
            "or days_before, and count"
        )
    if "relative_to" not in value:
        raise ValueError("relative days need 'relative_to' (the id of the component they follow)")
    if ("on_day" in value) == ("days_before" in value):
        raise ValueError(
            "relative days need exactly one of 'on_day' (day N of the other component) or "
            "'days_before' (N days before it starts)"
        )
    read = {key: RELATIVE.read(key, raw) for key, raw in value.items()}
    return RelativeDays(
        read["relative_to"], read.get("count", 1), on_day=read.get("on_day"), days_before=read.get("days_before")
    )


_ID: dict[str, Any] = {"type": "string", "pattern": values.ID_PATTERN.pattern}

_DOSE_FIELD = Field(_DOSE, values.dose)
_DURATION_FIELD = Field(_DURATION, values.duration)
_NOTE = _text_field(_TEXT, "note")

#: ``[[component.variant]]``: a change that applies when a rule holds.
VARIANT = Table(
    {
        "when": Field(
            {**_TEXT, "description": "Rule over age, weight, bsa, height, cycle, sex; and/or; no code."},
            required=True,
            context="read as a rule, which must be able to hold",
        ),
        "dose": _DOSE_FIELD,
        "days": Field(_DAYS, _read_days),
        "duration": _DURATION_FIELD,
        "note": _NOTE,
    },
    missing='missing: a variant needs a rule, e.g. when = "age > 60"',
    rules={"anyOf": [{"required": ["dose"]}, {"required": ["days"]}, {"required": ["duration"]}]},
    description='A change that applies when a rule holds, e.g. when = "age > 60" or "cycle >= 2".',
)

_METHOD_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"enum": ["bolus", "IV push", "infusion", "continuous infusion", "continuous"]},
        {"type": "string", "pattern": caseless(values.METHOD_ALIASES)},
    ],
    "description": "Leave out if the source does not say (oral, SC and IM drugs need none: the route says it).",
}


def _amount(what: str, description: str) -> Field:
    return Field({**_AMOUNT, "description": description}, partial(values.amount, what=what))


_ADDITIVE: dict[str, Any] = {
    "type": "object",
    "properties": {"drug": _TEXT, "amount": _TEXT},
    "required": ["drug", "amount"],
    "additionalProperties": False,
}
_DOSING_WEIGHT_FIELD = Field(
    _DOSING_WEIGHT, partial(values.choice, what="dosing_weight", allowed={w: w for w in DOSING_WEIGHTS})
)

#: ``[[component]]``: one drug as the protocol states it.
COMPONENT = Table(
    {
        "id": _id_field({**_ID, "description": "Defaults to the drug name in lower case."}, "component id"),
        "drug": _text_field(_TEXT, "drug", required=True),
        "dose": _DOSE_FIELD,
        "route": _text_field(
            {**_TEXT, "description": "IV, oral, SC... leave out if the source does not say."}, "route"
        ),
        "method": Field(_METHOD_SCHEMA, values.method),
        "after": _id_field(
            {
                **_ID,
                "description": "Id of the component this one follows: it starts when that one's latest "
                "administration ends (e.g. the 5-FU bolus after oxaliplatin).",
            },
            "after",
        ),
        "gap": Field(
            {**_DURATION, "description": "Time between the end of 'after' and the start of this one, e.g. '30 min'."},
            values.duration,
        ),
        "times_per_day": Field(
            {
                "type": "integer",
                "minimum": 1,
                "maximum": 24,
                "description": "Doses a day ('twice daily' = 2): a dose per day is split among them; any "
                "other dose is the amount of each.",
            },
            values.times_per_day,
        ),
        "duration": _DURATION_FIELD,
        "days": Field(_DAYS, _read_days, required=True),
        "note": _NOTE,
        "variant": Field(
            {"type": "array", "items": {"$ref": "#/$defs/variant"}}, context="each read as a variant of this dose"
        ),
        "max_dose": _amount(
            "max_dose", "Maximum per administration, e.g. '2 mg' (a continuous infusion is one administration)."
        ),
        "max_daily": _amount("max_daily", "Maximum per treatment day."),
        "max_per_cycle": _amount("max_per_cycle", "Maximum of all this component's doses in one cycle."),
        "levels": Field(_LEVELS, context="the component's dose: a level is written like it"),
        "dosing_weight": _DOSING_WEIGHT_FIELD,
        "round": _amount(
            "round", "Rounding increment the regimen states, e.g. '1 mg' (within the rounding threshold)."
        ),
        "renal": Field(
            {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/renal"}}, partial(bands, kind="renal")
        ),
        "hepatic": Field(
            {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/hepatic"}}, partial(bands, kind="hepatic")
        ),
        "rate_escalation": Field(
            {
                "type": "array",
                "minItems": 1,
                "maxItems": 2,
                "items": {"$ref": "#/$defs/rate_escalation"},
                "description": "The source's infusion-rate escalation (an infusion without a fixed duration); the plan "
                "states the least time each infusion takes if every step is tolerated, never an end.",
            },
            context="the component's dose, method and duration: rates are in the dose's unit per hour",
        ),
        # supportive care (issue 27): read together, as role, kind, volume and additives go together
        "role": Field(
            {
                "enum": list(ROLES),
                "description": "'supportive' for care given around the anticancer drugs (premedication, antiemetic, "
                "hydration, growth factor, test dose, electrolyte): shown apart and left out of cumulative totals.",
            },
            partial(values.exact_choice, what="role", allowed=ROLES),
        ),
        "kind": Field(
            {"enum": list(SUPPORTIVE_KINDS), "description": "The kind of supportive care (needs role = 'supportive')."},
            partial(values.exact_choice, what="kind", allowed=SUPPORTIVE_KINDS),
        ),
        "before": _id_field(
            {
                **_ID,
                "description": "Id of the component this one precedes: it ends 'gap' before that one starts "
                "('30 min before oxaliplatin': before = 'oxaliplatin', gap = '30 min').",
            },
            "before",
        ),
        "after_last": _id_field(
            {
                **_ID,
                "description": "Id of the component whose last dose of the cycle this one follows, with 'gap' "
                "('24 h after the last dose'); the days are written too and must come after that dose.",
            },
            "after_last",
        ),
        "in_cycles": Field(
            {
                **_DAY_LIST,
                "description": "The cycles of its phase this component is given in, as a list like days: '1' for a "
                "test dose before the first dose of the course. Left out: every cycle.",
            },
            values.cycle_list,
        ),
        "volume": Field(
            {
                "type": "string",
                "description": "Volume of a fluid, e.g. '1 L' or '500 mL': the dose of a hydration "
                "(rate = volume / duration).",
                "pattern": VOLUME_PATTERN,
            },
            context="the role: a volume is a supportive fluid's dose",
        ),
        "additives": Field(
            {
                "description": "What is added to the fluid, as the source writes it, e.g. "
                '[{ drug = "potassium chloride", amount = "20 mmol" }]; shown, not calculated.',
                "anyOf": [{"type": "array", "items": _ADDITIVE}, _ADDITIVE],
            },
            context="the role: additives belong to a supportive fluid",
        ),
    },
    missing="missing: every component needs {}",
    rules={"anyOf": [{"required": ["dose"]}, {"required": ["volume"]}]},
)

_PHASE_COMPONENTS = Field(
    {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/component"}}, context="each read as a component"
)
_CYCLE_LENGTH_FIELD = Field(_CYCLE_LENGTH, values.cycle_length)
_CYCLES_FIELD = _count("cycles", _CYCLES)
_LIMIT = _text_field(_TEXT, "limit")
_MAX_DURATION_FIELD = Field(_MAX_DURATION, values.days_of)

#: ``[[phase]]``: a run of identical cycles (induction, maintenance).
PHASE = Table(
    {
        "id": Field(_ID, required=True, context="the phase's label in messages"),
        "name": _text_field(_TEXT, "name"),
        "cycle_length": _CYCLE_LENGTH_FIELD,
        "cycles": _CYCLES_FIELD,
        "limit": _LIMIT,
        "max_duration": _MAX_DURATION_FIELD,
        "component": Field({**_PHASE_COMPONENTS.schema}, required=True, context="each read as a component"),
    },
)

#: ``[[source]]``: every regimen is cited.
SOURCE = Table(
    {
        "citation": _text_field(_TEXT, "citation", required=True),
        "registry": _text_field(_TEXT, "registry"),
        "url": _text_field(_TEXT, "url"),
        "note": _NOTE,
    },
    missing="{} must be non-empty text",
)

#: ``eligibility``: ages the source treated.
ELIGIBILITY = Table(
    {
        "min_age": Field({"type": "number", "minimum": 0}, partial(values.age, what="eligibility min_age")),
        "max_age": Field({"type": "number", "minimum": 0}, partial(values.age, what="eligibility max_age")),
    },
    rules={"minProperties": 1},
    description="Ages the source treated; the tool warns outside them.",
)


def _eligibility(value: object) -> Eligibility:
    """The ``eligibility`` table, read by :data:`ELIGIBILITY`."""
    if not isinstance(value, dict):
        raise ValueError("eligibility must be a table such as { min_age = 18 }")
    extra = set(value) - ELIGIBILITY.keys
    if extra:
        raise ValueError(f"unknown eligibility field(s) {', '.join(sorted(extra))}; use min_age and/or max_age")
    ages = {key: ELIGIBILITY.read(key, raw) for key, raw in value.items()}
    if not ages:
        raise ValueError("eligibility needs min_age and/or max_age (years)")
    if "min_age" in ages and "max_age" in ages and ages["min_age"] > ages["max_age"]:
        raise ValueError("eligibility min_age is above max_age")
    return Eligibility(min_age=ages.get("min_age"), max_age=ages.get("max_age"))


_CONDITION: dict[str, Any] = {
    "type": "string",
    "description": "A comparison of a pre-cycle value with a threshold in the test's unit: 'anc < 1.5' (×10⁹/L), "
    "'platelets >= 100', 'bilirubin > 1.5 x ULN', 'crcl < 60' (mL/min), 'neuropathy >= 2 persistent' (CTCAE grade "
    "that persists between cycles); several joined by 'and'.",
    "minLength": 1,
}


def _negative_level(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value >= 0:
        raise ValueError(f"level {value!r} must be a dose level below 0, e.g. -1")
    return value


def _plain_dose(value: object) -> ParsedDose:
    return parse_dose(values.text(value, "dose"))


#: A step of a modification (and of its ``then``): what to do.
STEP = Table(
    {
        "action": Field(
            {"enum": list(ACTIONS)},
            partial(values.exact_choice, what="action", allowed=ACTIONS),
            required=True,
        ),
        "drugs": Field(
            {
                "type": "array",
                "items": _TEXT,
                "description": "Components or drugs it applies to; left out: every anticancer drug.",
            },
            context=_CONTEXT_COMPONENTS,
        ),
        "delay": Field({**_DURATION, "description": "How long a delay is: '7 days', '1 week'."}, values.duration),
        "level": Field(
            {"type": "integer", "maximum": -1, "description": "Dose level to give (-1), as the component's levels."},
            _negative_level,
        ),
        "dose_percent": Field(
            {"type": "string", "pattern": PERCENT_PATTERN, "description": "'75%' of the dose."},
            partial(values.percent, what="dose_percent"),
        ),
        "dose": Field({**_DOSE, "description": "A dose of its own: '65 mg/m²'."}, _plain_dose),
    },
    description="What to do instead after 'after_delays' delays for this condition.",
)

#: ``emetogenic_risk``: the regimen's risk as the cited antiemetic guideline classes it.
EMETOGENIC = Table(
    {
        "level": Field(
            {"enum": ["high", "moderate", "low", "minimal"]},
            partial(values.exact_choice, what="level", allowed=("high", "moderate", "low", "minimal")),
            required=True,
        ),
        "source": _text_field(
            {**_TEXT, "description": "The guideline: MASCC/ESMO 2023 or ASCO 2020, and where it says so."},
            "source",
            required=True,
        ),
        "note": _NOTE,
    },
    missing='emetogenic_risk is a table { level = "high", source = "..." }',
    each=False,
    description="Emetogenic risk as the cited guideline classes it; the antiemetics follow it.",
)

_SOURCE_TEXT = _text_field(_TEXT, "source", required=True)

#: ``[[requirement]]``: what must be known before the first dose.
REQUIREMENT = Table(
    {
        "id": _id_field({**_ID, "description": "dpyd, hepatitis-b, lvef, audiometry, or another id."}, "id", True),
        "test": _text_field(
            {**_TEXT, "description": "What must be known, in words: 'DPYD genotype or phenotype'."}, "test", True
        ),
        "before": Field(
            {"type": "array", "items": _TEXT, "minItems": 1, "description": "Components or drugs it precedes."},
            required=True,
            context=_CONTEXT_COMPONENTS,
        ),
        "source": _SOURCE_TEXT,
        "note": _NOTE,
    },
    missing="missing: a requirement needs {}",
    each=False,
)

_PHASES = Field(
    {
        "type": "array",
        "items": _ID,
        "minItems": 1,
        "description": "In a regimen of phases, the ids of the phases whose cycles it applies to (dd-AC's 'ac' or "
        "'paclitaxel'); left out: every cycle of the regimen.",
    },
    context="the regimen's phases: it names them",
)

#: ``[[gate]]``: what must hold before each cycle.
GATE = Table(
    {
        "require": Field(_CONDITION, required=True, context="read as conditions: a gate is one"),
        "phases": _PHASES,
        "source": _SOURCE_TEXT,
        "note": _NOTE,
    },
    missing="missing: a gate needs require (e.g. 'anc >= 1.5') and source",
    each=False,
)

#: ``[[modification]]``: one line of the dose modification table.
MODIFICATION = Table(
    {
        "when": Field(_CONDITION, required=True, context="read as conditions"),
        **{
            k: Field(f.schema, required=f.required, context="read as the step with the others")
            for k, f in STEP.fields.items()
        },
        "then": Field({"$ref": "#/$defs/step"}, context="read as a step after the first"),
        "after_delays": _count("after_delays", {"type": "integer", "minimum": 1}),
        "phases": _PHASES,
        "source": _SOURCE_TEXT,
        "note": _NOTE,
    },
    missing="missing: a modification needs when (e.g. 'anc < 1.5'), an action and source",
    each=False,
)

_LIST_OF = "each read as a table of its kind"

#: The top level of a regimen file.
TOP = Table(
    {
        "id": _id_field(_ID, "regimen id", required=True),
        "name": _text_field(_TEXT, "name", required=True),
        "indication": _text_field(_TEXT, "indication"),
        "status": _text_field(_TEXT, "status"),
        "version": Field({"type": ["string", "integer"]}, values.version),
        "notes": Field({"type": "array", "items": {"type": "string"}}, partial(values.text_list, what="notes")),
        "source": Field(
            {
                "anyOf": [
                    {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/source"}},
                    {"$ref": "#/$defs/source"},
                ]
            },
            required=True,
            context=_LIST_OF,
        ),
        "cycle_length": _CYCLE_LENGTH_FIELD,
        "cycles": _CYCLES_FIELD,
        "limit": _LIMIT,
        "max_duration": _MAX_DURATION_FIELD,
        "component": Field(_PHASE_COMPONENTS.schema, context=_LIST_OF),
        "phase": Field({"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/phase"}}, context=_LIST_OF),
        "dosing_weight": _DOSING_WEIGHT_FIELD,
        "emetogenic_risk": Field({"$ref": "#/$defs/emetogenic_risk"}, context="the table's own fields"),
        "requirement": Field({"type": "array", "items": {"$ref": "#/$defs/requirement"}}, context=_LIST_OF),
        "gate": Field({"type": "array", "items": {"$ref": "#/$defs/gate"}}, context=_LIST_OF),
        "modification": Field({"type": "array", "items": {"$ref": "#/$defs/modification"}}, context=_LIST_OF),
        "eligibility": Field({"$ref": "#/$defs/eligibility"}, _eligibility),
    },
    missing="missing: every regimen needs {}",
    rules={
        "oneOf": [
            {"required": ["component"], "not": {"required": ["phase"]}},
            {"required": ["phase"], "not": {"required": ["component"]}},
        ]
    },
    description="One oncology regimen, cited, as a protocol states it. Encode only what the source says.",
)

#: Every table of the file by its name in the schema's ``$defs`` (the top level apart).
TABLES: dict[str, Table] = {
    "source": SOURCE,
    "variant": VARIANT,
    "renal": RENAL,
    "hepatic": HEPATIC,
    "rate_escalation": RATE_ESCALATION,
    "component": COMPONENT,
    "requirement": REQUIREMENT,
    "gate": GATE,
    "step": STEP,
    "modification": MODIFICATION,
    "phase": PHASE,
    "emetogenic_risk": EMETOGENIC,
    "eligibility": ELIGIBILITY,
    "relative_days": RELATIVE,
}

__all__ = [
    "COMPONENT",
    "ELIGIBILITY",
    "EMETOGENIC",
    "GATE",
    "HEPATIC",
    "MODIFICATION",
    "PHASE",
    "RATE_ESCALATION",
    "RELATIVE",
    "RENAL",
    "REQUIREMENT",
    "SOURCE",
    "STEP",
    "TABLES",
    "TOP",
    "VARIANT",
]
